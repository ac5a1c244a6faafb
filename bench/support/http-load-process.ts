import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from '../scenario.js';
import { childConfig, type ProcessUsage, processUsage, serveParent } from './child-process.js';

/*
 * The REST benchmark's callers, in a process of their own so that making requests and reading
 * responses is not charged to the server being measured (with the callers on the server's event
 * loop, a third of its time was theirs). Two ways to load it: a closed loop (a fixed number of
 * calls in flight, each starting when one ends: the most the server gives) and an open loop at a
 * fixed rate (calls start on schedule whatever the latency, so the percentiles are those a caller
 * sees at that rate, with no coordinated omission).
 */

/** What the parent passes. */
export interface HttpLoadConfig {
  /** API keys the calls rotate through (each has its own throttle bucket). */
  readonly keys: readonly string[];
}

/** One request; the `i`-th call of a run is `calls[i % calls.length]`. */
export interface HttpCall {
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly body?: string;
}

export interface HttpLoadReport {
  /** Latency of the calls answered 2xx, µs, compressed base64 HDR histogram. */
  readonly latencyUs: string;
  readonly throughputPerS: number;
  /** Calls that failed, answered other than 2xx, or (open loop) could not start on time. */
  readonly failed: number;
  readonly usage: ProcessUsage;
}

/** Requests the callers' process answers. */
export type HttpLoadRpc = {
  closed: {
    arg: { readonly calls: readonly HttpCall[]; readonly count: number; readonly inFlight: number };
    reply: HttpLoadReport;
  };
  paced: {
    arg: {
      readonly calls: readonly HttpCall[];
      readonly ratePerS: number;
      readonly seconds: number;
      readonly maxInFlight: number;
    };
    reply: HttpLoadReport;
  };
};

const config = childConfig<HttpLoadConfig>();

/** Call `i`; resolves with whether it answered 2xx (the body is read so the socket is reused). */
async function call(calls: readonly HttpCall[], i: number): Promise<boolean> {
  const { url, method = 'GET', body } = calls[i % calls.length] as HttpCall;
  const response = await fetch(url, {
    method,
    ...(body !== undefined && { body }),
    headers: { 'x-api-key': config.keys[i % config.keys.length] as string, 'content-type': 'application/json' },
  });
  await response.arrayBuffer();
  return response.ok;
}

function report(histogram: Histogram, completed: number, failed: number, startedMs: number): HttpLoadReport {
  return {
    latencyUs: encodeIntoCompressedBase64(histogram),
    throughputPerS: completed / ((performance.now() - startedMs) / 1000),
    failed,
    usage: processUsage(),
  };
}

const record = (histogram: Histogram, t0: number) =>
  histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));

serveParent<HttpLoadRpc>(
  {
    closed: async ({ calls, count, inFlight }) => {
      const histogram = createLatencyHistogram();
      let next = 0;
      let failed = 0;
      const started = performance.now();
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const t0 = performance.now();
          if (await call(calls, i).catch(() => false)) record(histogram, t0);
          else failed++;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      return report(histogram, count - failed, failed, started);
    },
    paced: async ({ calls, ratePerS, seconds, maxInFlight }) => {
      const histogram = createLatencyHistogram();
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
          call(calls, i)
            .catch(() => false)
            .then((ok) => {
              inFlight--;
              if (ok) {
                completed++;
                record(histogram, t0);
              } else failed++;
            }),
        );
      }
      await Promise.all(pending);
      return report(histogram, completed, failed, started);
    },
  },
  null,
  async () => {},
);
