import type { Scenario, Target } from '../scenario.js';

/*
 * Judging results against their scenario's targets, for the runner's verdicts and `--check`, and the
 * README's table of targets (`npm run bench -- --targets` prints it).
 */

/** One target applied to one run's results. */
export interface Verdict {
  readonly scenario: string;
  readonly target: Target;
  /** The measured figure; undefined when no result of that variant, or no such numeric field, came back. */
  readonly actual: number | undefined;
  readonly pass: boolean;
}

/** Whether `actual` reaches `target`. */
export function meets(actual: number, target: Pick<Target, 'op' | 'value'>): boolean {
  switch (target.op) {
    case '<':
      return actual < target.value;
    case '<=':
      return actual <= target.value;
    case '>=':
      return actual >= target.value;
    case '=':
      return actual === target.value;
  }
}

/** The figure named `figure` in a result line: a numeric field of the line, else of its `extra`. */
function figureOf(line: Readonly<Record<string, unknown>>, figure: string): number | undefined {
  const direct = line[figure];
  if (typeof direct === 'number') return direct;
  const extra = line.extra as Readonly<Record<string, unknown>> | undefined;
  const nested = extra?.[figure];
  return typeof nested === 'number' ? nested : undefined;
}

/**
 * Every target of `scenario` against the result lines of one run (see `resultLine`). A target whose
 * variant did not run, or whose figure is missing or not a finite number, fails: a check that
 * cannot measure must not pass.
 */
export function judge(
  scenario: Pick<Scenario, 'name' | 'targets'>,
  lines: readonly Readonly<Record<string, unknown>>[],
): Verdict[] {
  return scenario.targets.map((target) => {
    const line = lines.find((l) => l.scenario === `${scenario.name}/${target.variant}`);
    const actual = line && figureOf(line, target.figure);
    const measured = actual !== undefined && Number.isFinite(actual);
    return { scenario: scenario.name, target, actual, pass: measured && meets(actual, target) };
  });
}

/** One line per verdict: `PASS tick-bus/redis-paced p99_ms 3.1 (target < 10; TC-WSS-041)`. */
export function formatVerdict(verdict: Verdict): string {
  const { target } = verdict;
  const state = verdict.pass ? 'PASS' : verdict.actual === undefined ? 'NOT MEASURED' : 'MISS';
  const actual = verdict.actual === undefined ? '' : ` ${verdict.actual}`;
  return `${state} ${verdict.scenario}/${target.variant} ${target.figure}${actual} (target ${target.op} ${target.value}; ${target.source})`;
}

/** The README's table of targets: one row per target, in the scenarios' order. */
export function targetsTable(scenarios: readonly Pick<Scenario, 'name' | 'targets'>[]): string {
  const rows = scenarios.flatMap((s) =>
    s.targets.map(
      (t) =>
        `| \`${s.name}/${t.variant}\` | \`${t.figure}\` | ${t.op} ${t.value.toLocaleString('en-US')} | ${t.source} |`,
    ),
  );
  return ['| scenario | figure | target | source |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
