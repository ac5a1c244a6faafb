import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The repository stands alone: its map (docs/architecture.md) and its test-plan index
 * (docs/test-plan-index.md) name only files that exist, every case the index lists is named by a
 * test, and no source or doc cites a file outside the repository.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return filesUnder(path, keep);
    return keep(path) ? [path] : [];
  });
}

/** Code spans that look like a repository path: `dir/…/file.ext`, or `dir/` for a folder. */
function namedPaths(markdown: string): string[] {
  const spans = [...markdown.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] ?? '');
  return spans.filter((s) => /^[a-z.][\w.-]*\/[\w./-]*$/.test(s) && !s.startsWith('/'));
}

const testTitles = filesUnder('test', (p) => p.endsWith('.ts')).flatMap((file) =>
  [...read(file).matchAll(/\b(?:it|test|describe)(?:\.\w+)*\(\s*(['"`])((?:(?!\1).)*?)\1/gs)].map((m) => ({
    file,
    title: m[2] ?? '',
  })),
);

describe('the repository map and the test-plan index', () => {
  it.each(['docs/architecture.md', 'docs/test-plan-index.md'])('%s names only paths that exist', (doc) => {
    const paths = namedPaths(read(doc));
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });

  it('lists 131 cases, each named by a test in the file the index gives', () => {
    const rows = [...read('docs/test-plan-index.md').matchAll(/^\| (TC-[A-Z]+-\d+) \| [^|]+\| (.+) \|$/gm)];
    expect(new Set(rows.map((r) => r[1])).size).toBe(131);
    const unheld = rows.filter(([, id, held]) => {
      const files = [...(held ?? '').matchAll(/`(test\/[^`]+)`/g)].map((m) => m[1]);
      return !testTitles.some((t) => files.includes(t.file) && new RegExp(`${id}\\b`).test(t.title));
    });
    expect(unheld.map((r) => r[1])).toEqual([]);
  });

  it('cites no design document or test plan outside the repository', () => {
    const sources = ['shared', 'functions', 'ingest-task', 'infra', 'test', 'bench', 'docs'].flatMap((dir) =>
      filesUnder(dir, (p) => /\.(ts|md|cjs)$/.test(p)),
    );
    const outside = /DESIGN(\.md)? ?§|DESIGN\.md|spec\/test-plan|plan §|seed §/;
    const self = relative(root, fileURLToPath(import.meta.url));
    const citing = [...sources, 'README.md', '.dependency-cruiser.cjs'].filter(
      // The index is where the plan's sections are kept; it names them on purpose.
      (p) => p !== self && p !== 'docs/test-plan-index.md' && outside.test(read(p)),
    );
    expect(citing).toEqual([]);
  });
});
