import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Scenario, ScenarioResult } from './scenario.js';

/**
 * `npm run bench -- [scenario …] [--quick] [--json] [--list]`: runs the named scenarios (all when
 * none is named), prints p50/p95/p99/max and throughput from each result's HDR histogram, and
 * writes the results to `bench/results/<scenario>-<time>.json`. With `--json` it prints one JSON
 * object per result line instead of the table.
 *
 * `npm run bench` starts Node with `--max-semi-space-size=32`: at 100,000+ ticks/s most objects
 * live for a few milliseconds, and a larger nursery lets them die there instead of being copied on
 * every scavenge. The ingest task's image sizes its heap for its memory target instead (see
 * `ingest-task/Dockerfile`); `soak` runs the task with the image's flags, and the in-process
 * scenarios can be run with them as `node <flags> --import tsx bench/run.ts <scenario>`.
 */

const scenariosDir = new URL('./scenarios/', import.meta.url);

async function loadScenarios(): Promise<Scenario[]> {
  const files = readdirSync(scenariosDir)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const loaded: Scenario[] = [];
  for (const file of files) {
    const module = (await import(new URL(file, scenariosDir).href)) as { default?: Scenario };
    if (module.default) loaded.push(module.default);
  }
  return loaded;
}

/** The JSON line of one result, with the fields the benchmark checks read. */
export function resultLine(scenario: Scenario, result: ScenarioResult, quick: boolean): Record<string, unknown> {
  const h = result.histogramUs;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    scenario: result.variant ? `${scenario.name}/${result.variant}` : scenario.name,
    throughput_per_s: Math.round(result.throughputPerS),
    p50_ms: ms(h.getValueAtPercentile(50)),
    p95_ms: ms(h.getValueAtPercentile(95)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    max_ms: ms(h.maxValue),
    samples: h.totalCount,
    drops: result.drops,
    params: { ...result.params, quick },
    ...(result.extra && { extra: result.extra }),
    node: process.version,
    at: new Date().toISOString(),
  };
}

function printTable(lines: Record<string, unknown>[]): void {
  const columns = ['scenario', 'throughput_per_s', 'p50_ms', 'p95_ms', 'p99_ms', 'max_ms', 'drops'] as const;
  const rows = lines.map((line) => columns.map((c) => String(line[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ');
  process.stdout.write(`${format(columns)}\n`);
  for (const row of rows) process.stdout.write(`${format(row)}\n`);
  for (const line of lines) {
    const extra = line.extra ? `  ${JSON.stringify(line.extra)}` : '';
    process.stdout.write(`  ${line.scenario}: ${JSON.stringify(line.params)}${extra}\n`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
  });
  const scenarios = await loadScenarios();
  if (values.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(20)} ${s.summary}\n`);
    return;
  }
  const unknown = positionals.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `Unknown scenario: ${unknown.join(', ')}. Known: ${scenarios.map((s) => s.name).join(', ')}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const chosen = positionals.length > 0 ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios;
  const resultsDir = new URL('./results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  for (const scenario of chosen) {
    if (!values.json)
      process.stdout.write(`\n== ${scenario.name}: ${scenario.summary}${values.quick ? ' (quick)' : ''}\n`);
    const results = await scenario.run({ quick: values.quick });
    const lines = results.map((r) => resultLine(scenario, r, values.quick));
    if (values.json) for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
    else printTable(lines);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(new URL(`${scenario.name}-${stamp}.json`, resultsDir), `${JSON.stringify(lines, null, 2)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
