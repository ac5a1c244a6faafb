import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from '../scenario.js';

/** What a load loop measured: latency of the calls that succeeded (µs), their rate, and the failures. */
export interface LoopResult {
  readonly histogramUs: Histogram;
  /** Calls that succeeded per second of the whole run. */
  readonly throughputPerS: number;
  /** Calls that threw or returned false, and (open loop) calls that could not start on time. */
  readonly drops: number;
}

/** A call of a load loop: it fails by throwing or by resolving to `false`. */
export type LoadOperation = (i: number) => Promise<unknown>;

const succeeded = (operation: LoadOperation, i: number) =>
  operation(i).then(
    (result) => result !== false,
    () => false,
  );

const recordSince = (histogram: Histogram, t0: number) =>
  histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));

/** Closed loop: `count` calls with `inFlight` at once, each starting when one ends (the most the server gives). */
export async function closedLoop(count: number, inFlight: number, operation: LoadOperation): Promise<LoopResult> {
  const histogramUs = createLatencyHistogram();
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      if (await succeeded(operation, i)) recordSince(histogramUs, t0);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { histogramUs, throughputPerS: (count - failed) / ((performance.now() - started) / 1000), drops: failed };
}

/**
 * Open loop at a fixed rate: calls start on schedule whatever the latency (at most `maxInFlight`
 * at once; a call that cannot start on time is a drop), so the percentiles are those a caller
 * sees at that rate, not at whatever rate the server happens to keep up with.
 */
export async function openLoop(
  ratePerS: number,
  seconds: number,
  maxInFlight: number,
  operation: LoadOperation,
): Promise<LoopResult> {
  const histogramUs = createLatencyHistogram();
  const total = Math.round(ratePerS * seconds);
  let inFlight = 0;
  let failed = 0;
  let completed = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / ratePerS - performance.now();
    if (wait > 1) await sleep(wait);
    if (inFlight >= maxInFlight) {
      failed++;
      continue;
    }
    inFlight++;
    const t0 = performance.now();
    pending.push(
      succeeded(operation, i).then((ok) => {
        inFlight--;
        if (ok) {
          completed++;
          recordSince(histogramUs, t0);
        } else failed++;
      }),
    );
  }
  await Promise.all(pending);
  return { histogramUs, throughputPerS: completed / ((performance.now() - started) / 1000), drops: failed };
}
