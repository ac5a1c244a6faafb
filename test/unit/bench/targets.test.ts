import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../../bench/scenario.js';
import { loadScenarios } from '../../../bench/support/load-scenarios.js';
import { formatVerdict, judge, targetsTable } from '../../../bench/support/targets.js';

const target = (overrides: Partial<Target> = {}): Target => ({
  variant: 'redis-paced',
  figure: 'p99_ms',
  op: '<',
  value: 10,
  source: 'TC-WSS-041',
  ...overrides,
});

const line = (variant: string, fields: Record<string, unknown>) => ({ scenario: `tick-bus/${variant}`, ...fields });

describe('judge', () => {
  it('passes a figure within its bound and misses one beyond it, for each comparison', () => {
    const cases: [Target['op'], number, number, boolean][] = [
      ['<', 10, 9.99, true],
      ['<', 10, 10, false],
      ['<=', 10, 10, true],
      ['<=', 10, 10.01, false],
      ['>=', 150_000, 150_000, true],
      ['>=', 150_000, 149_999, false],
      ['=', 0, 0, true],
      ['=', 0, 1, false],
    ];
    for (const [op, value, actual, pass] of cases) {
      const [verdict] = judge({ name: 'tick-bus', targets: [target({ op, value })] }, [
        line('redis-paced', { p99_ms: actual }),
      ]);
      expect({ op, value, actual, pass: verdict?.pass }).toEqual({ op, value, actual, pass });
    }
  });

  it('reads a figure from the result line, else from its extra', () => {
    const verdicts = judge(
      {
        name: 'tick-bus',
        targets: [target(), target({ figure: 'missing', op: '=', value: 0 })],
      },
      [line('redis-paced', { p99_ms: 3, extra: { p99_ms: 50, missing: 0 } })],
    );
    expect(verdicts.map((v) => [v.actual, v.pass])).toEqual([
      [3, true],
      [0, true],
    ]);
  });

  it('fails a target whose variant did not run, or whose figure is absent or not a finite number', () => {
    const verdicts = judge(
      {
        name: 'tick-bus',
        targets: [
          target({ variant: 'memory-paced' }),
          target({ figure: 'p95_ms' }),
          target({ figure: 'speedup', op: '>=', value: 1 }),
          target({ figure: 'label', op: '>=', value: 0 }),
        ],
      },
      [line('redis-paced', { p99_ms: 3, extra: { speedup: Number.POSITIVE_INFINITY, label: 'yes' } })],
    );
    expect(verdicts.map((v) => v.pass)).toEqual([false, false, false, false]);
    expect(formatVerdict(verdicts[0] as (typeof verdicts)[number])).toBe(
      'NOT MEASURED tick-bus/memory-paced p99_ms (target < 10; TC-WSS-041)',
    );
  });

  it('matches a result by scenario and variant, not by a prefix of the variant', () => {
    const [verdict] = judge({ name: 'tick-bus', targets: [target({ variant: 'redis' })] }, [
      line('redis-paced', { p99_ms: 1 }),
    ]);
    expect(verdict?.pass).toBe(false);
  });

  it('names the figure, the measured value, the bound and the source', () => {
    const [miss] = judge({ name: 'tick-bus', targets: [target()] }, [line('redis-paced', { p99_ms: 12.5 })]);
    expect(formatVerdict(miss as NonNullable<typeof miss>)).toBe(
      'MISS tick-bus/redis-paced p99_ms 12.5 (target < 10; TC-WSS-041)',
    );
  });
});

describe('the targets', () => {
  // Importing every scenario module (and what each imports) takes seconds on a busy machine.
  it('give every scenario at least one target, each with a source', async () => {
    const scenarios = await loadScenarios();
    expect(scenarios.length).toBeGreaterThan(0);
    for (const s of scenarios) {
      expect({ scenario: s.name, targets: s.targets.length > 0 }).toEqual({ scenario: s.name, targets: true });
      for (const t of s.targets) expect(t.source.trim()).not.toBe('');
    }
  }, 60_000);

  it('are the table the README lists', async () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(targetsTable(await loadScenarios()));
  });
});
