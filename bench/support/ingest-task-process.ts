import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/*
 * The ingest task as its container image runs it, as a child process of a benchmark. The bundle is
 * built by the Dockerfile's own esbuild command and started with the `node` flags and environment
 * of the image's start command, all read from `ingest-task/Dockerfile`, so what is measured cannot
 * drift from what ships. Nothing is added to the process: the benchmark learns about it from
 * outside, as an operator would, through `/health` and `/metrics` on its ops port, `/proc/<pid>`
 * for memory and CPU, and (when started with it) the V8 inspector.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = 'ingest-task/Dockerfile';
const run = promisify(execFile);

/** How the image builds and starts the ingest task, as its Dockerfile says. */
export interface IngestImageRecipe {
  /** The esbuild command's arguments after `node`, run from the project root. */
  readonly buildArgs: readonly string[];
  /** The `node` flags of the image's start command, e.g. `--max-semi-space-size=16`. */
  readonly nodeFlags: readonly string[];
  /** The `ENV` of the image's final stage. */
  readonly env: Readonly<Record<string, string>>;
}

/** Splits a shell command line into words: whitespace, single and double quotes, backslash escapes. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && '"\\$`'.includes(line.charAt(i + 1))) word += line.charAt(++i);
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c === '\\' ? line.charAt(++i) : c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new Error(`Unterminated quote in: ${line}`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Reads the build command, the start command's `node` flags and the final stage's `ENV` from the
 * ingest task's Dockerfile. Rejects when one of them is not where it is expected, so a change to
 * the Dockerfile fails the benchmark instead of silently measuring something else.
 */
export async function readIngestImageRecipe(): Promise<IngestImageRecipe> {
  const text = (await readFile(join(root, DOCKERFILE), 'utf8')).replace(/\\\r?\n/g, ' ');
  const instructions = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const finalStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')));

  const build = instructions.find((line) => /^RUN node \S*esbuild\S* /.test(line));
  if (!build) throw new Error(`${DOCKERFILE}: no RUN step that runs esbuild`);
  const buildArgs = shellWords(build.slice('RUN '.length)).slice(1);
  if (!buildArgs.some((arg) => arg.startsWith('--outfile='))) {
    throw new Error(`${DOCKERFILE}: the esbuild step has no --outfile=`);
  }

  const cmd = finalStage.find((line) => line.startsWith('CMD '));
  const command = cmd ? (JSON.parse(cmd.slice('CMD '.length)) as unknown) : undefined;
  const script = Array.isArray(command)
    ? command.find((part) => typeof part === 'string' && part.includes('node '))
    : '';
  const start = /exec node((?:\s+--\S+)*)\s+\S+\.mjs/.exec(typeof script === 'string' ? script : '');
  if (!start) throw new Error(`${DOCKERFILE}: no start command of the form "exec node [--flags] <bundle>.mjs"`);
  const nodeFlags = (start[1] ?? '').split(/\s+/).filter(Boolean);

  const env: Record<string, string> = {};
  for (const line of finalStage.filter((l) => l.startsWith('ENV '))) {
    for (const pair of shellWords(line.slice('ENV '.length))) {
      const at = pair.indexOf('=');
      if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return { buildArgs, nodeFlags, env };
}

/** The entry point the image's esbuild command bundles. */
const IMAGE_ENTRY = 'ingest-task/main.ts';

/**
 * Runs the Dockerfile's esbuild command with its output in `outDir`; resolves with the bundle's
 * path. With `entry` (a path from the project root) it bundles that file instead of the task's
 * `main.ts`, with the same flags. The image installs with `--ignore-scripts`, which keeps esbuild's
 * JavaScript launcher at `bin/esbuild`; an install that ran esbuild's install script has the
 * native binary there instead, which is then run directly, with the same arguments.
 */
export async function buildIngestBundle(
  recipe: IngestImageRecipe,
  outDir: string,
  entry: string = IMAGE_ENTRY,
): Promise<string> {
  if (!recipe.buildArgs.includes(IMAGE_ENTRY))
    throw new Error(`${DOCKERFILE}: the esbuild step does not bundle ${IMAGE_ENTRY}`);
  const name = entry === IMAGE_ENTRY ? 'main' : basename(entry).replace(/\.ts$/, '');
  const bundle = join(outDir, `${name}.mjs`);
  const [launcher = '', ...rest] = recipe.buildArgs.map((arg) => {
    if (arg.startsWith('--outfile=')) return `--outfile=${bundle}`;
    return arg === IMAGE_ENTRY ? entry : arg;
  });
  const file = await open(join(root, launcher));
  const head = await file.read(Buffer.alloc(4), 0, 4, 0).finally(() => file.close());
  if (head.buffer.toString('latin1') === '\x7fELF') await run(join(root, launcher), rest, { cwd: root });
  else await run(process.execPath, [launcher, ...rest], { cwd: root });
  return bundle;
}

/** A running ingest task process. */
export interface IngestTaskProcess {
  readonly pid: number;
  /** `http://127.0.0.1:<PORT>`: `/health` and `/metrics`. */
  readonly opsUrl: string;
  /** The inspector's WebSocket URL, when started with `inspect`. */
  readonly inspectorUrl: string | undefined;
  /** The `node` command line it was started with (the bundle as `main.mjs`). */
  readonly commandLine: string;
  readonly exited: boolean;
  /** The last lines it wrote on stdout and stderr, for error messages. */
  output(): string;
  /**
   * SIGTERM (the orchestrator's stop), then SIGKILL after `graceMs`; resolves with the exit code,
   * or the signal that ended it. Idempotent.
   */
  stop(graceMs?: number): Promise<number | string>;
}

/** How to start the ingest task. */
export interface IngestTaskOptions {
  readonly recipe: IngestImageRecipe;
  readonly bundle: string;
  /** The task's configuration (`shared/config.ts` names); `PORT` is required. */
  readonly env: Readonly<Record<string, string>>;
  /** Adds `--inspect=127.0.0.1:0`, which the image does not have, for forced-GC heap figures. */
  readonly inspect: boolean;
}

const OUTPUT_LINES = 40;

/**
 * Starts the bundle with the image's `node` flags and its environment plus `options.env` (nothing
 * inherited from this process but `PATH`). Resolves once the process runs and, with `inspect`,
 * its inspector listens; rejects, leaving nothing running, if it exits first. The process is also
 * killed if this one exits without stopping it.
 */
export async function startIngestTask(options: IngestTaskOptions): Promise<IngestTaskProcess> {
  const port = options.env.PORT;
  if (port === undefined) throw new Error('startIngestTask: env.PORT is required');
  const flags = [...options.recipe.nodeFlags, ...(options.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const child: ChildProcess = spawn(process.execPath, [...flags, options.bundle], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...options.recipe.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let inspectorUrl: string | undefined;
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
      lines.push(line);
      if (lines.length > OUTPUT_LINES) lines.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exitedWith: number | string | undefined;
  const exit = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = code ?? String(signal);
      process.off('exit', killOnExit);
      resolve(exitedWith);
    });
  });
  const killOnExit = () => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const output = () => lines.join('\n');

  const stop = async (graceMs = 30_000): Promise<number | string> => {
    if (exitedWith !== undefined) return exitedWith;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await exit;
    clearTimeout(timer);
    return result;
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const poll = setInterval(() => {
        const failure =
          exitedWith !== undefined
            ? `The ingest task exited (${exitedWith}) on start`
            : options.inspect && inspectorUrl === undefined && Date.now() > deadline
              ? `The ingest task's inspector did not start`
              : undefined;
        if (failure === undefined && options.inspect && inspectorUrl === undefined) return;
        clearInterval(poll);
        if (failure === undefined) resolve();
        else reject(new Error(`${failure}:\n${output()}`));
      }, 10);
      child.once('error', (error) => {
        clearInterval(poll);
        reject(error);
      });
    });
  } catch (error) {
    await stop(1000);
    throw error;
  }

  return {
    pid: child.pid ?? -1,
    opsUrl: `http://127.0.0.1:${port}`,
    inspectorUrl,
    commandLine: ['node', ...flags, 'main.mjs'].join(' '),
    get exited() {
      return exitedWith !== undefined;
    },
    output,
    stop,
  };
}

/** `/health` as JSON (served with 200 when `ok` and 503 when `degraded`), or undefined while it does not answer. */
export async function fetchHealth(opsUrl: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`${opsUrl}/health`, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * `/metrics`, each metric name with the sum of its series (labels summed over); histogram series
 * keep their `_bucket`, `_sum` and `_count` names.
 */
export async function fetchMetrics(opsUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${opsUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
  const metrics = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match?.[1]) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) metrics.set(match[1], (metrics.get(match[1]) ?? 0) + value);
  }
  return metrics;
}

/** A process's resident memory now and its peak since it started, from `/proc/<pid>/status`. */
export interface ResidentMemory {
  /** `VmRSS`. */
  readonly rssBytes: number;
  /** `VmHWM`: the highest RSS since the process started, between samples included. */
  readonly peakRssBytes: number;
}

/** {@link ResidentMemory} of `pid` (Linux). */
export async function residentMemory(pid: number): Promise<ResidentMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kib('VmRSS') * 1024, peakRssBytes: kib('VmHWM') * 1024 };
}

/** CPU time (user + system) of `pid` since it started, ms, from `/proc/<pid>/stat` (clock ticks of 10 ms). */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
