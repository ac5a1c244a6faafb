import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { childConfig, serveParent } from './child-process.js';
import { closedLoop, type LoopResult, openLoop } from './load-loops.js';

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

function report(result: LoopResult): HttpLoadReport {
  return {
    latencyUs: encodeIntoCompressedBase64(result.histogramUs),
    throughputPerS: result.throughputPerS,
    failed: result.drops,
  };
}

serveParent<HttpLoadRpc>(
  {
    closed: async ({ calls, count, inFlight }) => report(await closedLoop(count, inFlight, (i) => call(calls, i))),
    paced: async ({ calls, ratePerS, seconds, maxInFlight }) =>
      report(await openLoop(ratePerS, seconds, maxInFlight, (i) => call(calls, i))),
  },
  null,
  async () => {},
);
