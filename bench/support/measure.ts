import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from '../scenario.js';

/*
 * Small helpers the multi-process scenarios share: rounding and percentiles for their `extra`
 * figures, waiting on another process, and closing what a run opened.
 */

/** `value` rounded to `digits` decimals. */
export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

const ms = (us: number) => Math.round(us) / 1000;

/** p50/p95/p99/max in milliseconds and the sample count of `histogram` (µs), named `<prefix>_…`. */
export function percentiles(prefix: string, histogram: Histogram): Record<string, number> {
  if (histogram.totalCount === 0) return { [`${prefix}_samples`]: 0 };
  return {
    [`${prefix}_p50_ms`]: ms(histogram.getValueAtPercentile(50)),
    [`${prefix}_p95_ms`]: ms(histogram.getValueAtPercentile(95)),
    [`${prefix}_p99_ms`]: ms(histogram.getValueAtPercentile(99)),
    [`${prefix}_max_ms`]: ms(histogram.maxValue),
    [`${prefix}_samples`]: histogram.totalCount,
  };
}

/** A latency histogram another process sent as compressed base64. */
export function decodeHistogram(base64: string): Histogram {
  const histogram = createLatencyHistogram();
  histogram.add(decodeFromCompressedBase64(base64));
  return histogram;
}

/** Polls `predicate` every 20 ms; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Closes what was opened, newest first, every step attempted even when one fails. */
export class Closer {
  readonly #steps: (() => Promise<void>)[] = [];

  add(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  async close(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) await step().catch(() => {});
  }
}

/** Least-squares slope of `values` over `times` (ms), per minute. */
export function slopePerMinute(times: readonly number[], values: readonly number[]): number {
  const n = times.length;
  if (n < 2) return 0;
  const meanT = times.reduce((a, b) => a + b, 0) / n;
  const meanV = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dt = (times[i] ?? 0) - meanT;
    num += dt * ((values[i] ?? 0) - meanV);
    den += dt * dt;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

/** The machine's 1, 5 and 15-minute load averages, for reading a run's figures against other work on the machine. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => round(l, 2))
    .join(' ');
}
