import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Scenario, ScenarioResult } from './scenario.js';
import { loadScenarios } from './support/load-scenarios.js';
import { formatVerdict, judge, targetsTable, type Verdict } from './support/targets.js';

/**
 * `npm run bench -- [scenario …] [--quick] [--check] [--json] [--list] [--targets]`: runs the named
 * scenarios (all when none is named), prints p50/p95/p99/max and throughput from each result's HDR
 * histogram and each target's verdict, and writes the results to `bench/results/<scenario>-<time>.json`.
 * With `--json` it prints one JSON object per result line instead of the table.
 *
 * `--check` runs the scenarios at their `--quick` sizes, goes on past a scenario that fails, and
 * exits 1 when any target is missed or could not be measured. `--targets` prints the table of
 * targets the README carries.
 *
 * `npm run bench` starts Node with `--max-semi-space-size=32`: at 100,000+ ticks/s most objects
 * live for a few milliseconds, and a larger nursery lets them die there instead of being copied on
 * every scavenge. The ingest task's image sizes its heap for its memory target instead (see
 * `ingest-task/Dockerfile`); `soak` runs the task with the image's flags, and the in-process
 * scenarios can be run with them as `node <flags> --import tsx bench/run.ts <scenario>`.
 */

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

const seconds = (ms: number) => Math.round(ms / 100) / 10;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      targets: { type: 'boolean', default: false },
    },
  });
  const scenarios = await loadScenarios();
  if (values.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(20)} ${s.summary}\n`);
    return;
  }
  if (values.targets) {
    process.stdout.write(`${targetsTable(scenarios)}\n`);
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
  const quick = values.quick || values.check;
  const chosen = positionals.length > 0 ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios;
  const resultsDir = new URL('./results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const verdicts: Verdict[] = [];
  const timings: string[] = [];
  const started = performance.now();
  for (const scenario of chosen) {
    if (!values.json) process.stdout.write(`\n== ${scenario.name}: ${scenario.summary}${quick ? ' (quick)' : ''}\n`);
    const scenarioStarted = performance.now();
    let results: ScenarioResult[] = [];
    try {
      results = await scenario.run({ quick });
    } catch (error) {
      // Without --check one failure ends the run; with it the other scenarios are still judged.
      if (!values.check) throw error;
      process.exitCode = 1;
      process.stderr.write(
        `${scenario.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    timings.push(`${scenario.name} ${seconds(performance.now() - scenarioStarted)} s`);
    const lines = results.map((r) => resultLine(scenario, r, quick));
    const judged = judge(scenario, lines);
    verdicts.push(...judged);
    if (values.json) {
      for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
      for (const v of judged) process.stdout.write(`${JSON.stringify(verdictLine(v))}\n`);
    } else {
      printTable(lines);
      for (const v of judged) process.stdout.write(`${formatVerdict(v)}\n`);
    }
    if (lines.length > 0) {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      writeFileSync(new URL(`${scenario.name}-${stamp}.json`, resultsDir), `${JSON.stringify(lines, null, 2)}\n`);
    }
  }
  if (!values.check) return;
  const missed = verdicts.filter((v) => !v.pass);
  const out = values.json ? process.stderr : process.stdout;
  out.write(
    `\n== check: ${verdicts.length - missed.length} of ${verdicts.length} targets met in ${seconds(performance.now() - started)} s (${timings.join(', ')})\n`,
  );
  for (const v of missed) out.write(`${formatVerdict(v)}\n`);
  if (missed.length > 0) process.exitCode = 1;
}

/** A verdict as a JSON line (`--json`). */
function verdictLine(v: Verdict): Record<string, unknown> {
  const { variant, figure, op, value, source } = v.target;
  return {
    check: `${v.scenario}/${variant}`,
    figure,
    actual: v.actual ?? null,
    op,
    target: value,
    source,
    pass: v.pass,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
