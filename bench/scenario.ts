import { build, type Histogram } from 'hdr-histogram-js';

/** Options every scenario receives from the runner. */
export interface ScenarioOptions {
  /** A short run for smoke checks (`--quick`): same code paths, fewer iterations. */
  readonly quick: boolean;
}

/**
 * One measured variant of a scenario (a scenario may run several, e.g. the memory and the Redis
 * bus). Latencies are recorded in microseconds in an HDR histogram so percentiles are exact to
 * three significant digits whatever the distribution.
 */
export interface ScenarioResult {
  /** Variant label appended to the scenario name, e.g. `memory`. */
  readonly variant?: string;
  readonly histogramUs: Histogram;
  readonly throughputPerS: number;
  /** Messages or operations that were lost or dropped; a scenario that cannot drop reports 0. */
  readonly drops: number;
  /** The parameters it ran with (sizes, rates, durations). */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Further figures worth printing (e.g. the reference implementation's throughput). */
  readonly extra?: Readonly<Record<string, string | number>>;
}

/**
 * A figure one result must reach. `npm run bench` prints each target's verdict under the table, and
 * `npm run bench -- --check` exits non-zero when one misses. Targets come from the test plan's cases
 * and the issues, never from what a run measured.
 */
export interface Target {
  /** The variant of the result it judges (the part after `<scenario>/`). */
  readonly variant: string;
  /**
   * A numeric field of the result's JSON line: `p50_ms`, `p95_ms`, `p99_ms`, `max_ms`,
   * `throughput_per_s`, `drops`, `samples`, or a field of its `extra`.
   */
  readonly figure: string;
  readonly op: '<' | '<=' | '>=' | '=';
  readonly value: number;
  /** Where the target comes from: a plan case (`TC-PERF-020`) or the issue or document that set it. */
  readonly source: string;
}

/** A named benchmark the runner can execute: `npm run bench -- <name>`. */
export interface Scenario {
  readonly name: string;
  readonly summary: string;
  /** What its results must reach; a variant without a target is reported, not judged. */
  readonly targets: readonly Target[];
  run(options: ScenarioOptions): Promise<ScenarioResult[]>;
}

/** A latency histogram in microseconds, 1 µs to 1 h, three significant digits. */
export function createLatencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}
