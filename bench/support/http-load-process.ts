import { Agent, request } from 'node:http';
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
 *
 * Calls go through `node:http` on a keep-alive agent rather than `fetch`: on this machine `fetch`
 * cost about 600 µs of CPU a call against about 225 µs, and the callers share the server's two
 * cores, so at 1,000 calls a second `fetch` alone took a third of a core from the server.
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

/** Sockets stay open between calls, as a caller's HTTP client keeps them; one per call in flight. */
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

/** Call `i`; resolves with whether it answered 2xx (the body is read so the socket is reused). */
function call(calls: readonly HttpCall[], i: number): Promise<boolean> {
  const { url, method = 'GET', body } = calls[i % calls.length] as HttpCall;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: { 'x-api-key': config.keys[i % config.keys.length] as string, 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          resolve(status >= 200 && status < 300);
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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
