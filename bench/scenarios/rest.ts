import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { Scenario, ScenarioResult, Target } from '../scenario.js';
import { type ChildHandle, startChild } from '../support/child-process.js';
import type { HttpCall, HttpLoadConfig, HttpLoadReport, HttpLoadRpc } from '../support/http-load-process.js';
import type { ListedServer, RestPlatformConfig, RestPlatformReady } from '../support/rest-platform-process.js';

/** Subscriptions in the store while pages are read, and the page size (the issue's figures). */
const RECORDS = 1000;
const PAGE = 100;
const FIRST_TOKEN = 13_000_000;
/** Several callers, as in production: each API key has its own throttle bucket. */
const KEYS = Array.from({ length: 8 }, (_, i) => `bench-key-${i}`);

type Measured = Pick<ScenarioResult, 'histogramUs' | 'throughputPerS' | 'drops'>;

const loadEntry = new URL('../support/http-load-process.ts', import.meta.url);
type Load = ChildHandle<HttpLoadRpc, null>;
const platformEntry = new URL('../support/rest-platform-process.ts', import.meta.url);
type PlatformProcess = ChildHandle<Record<string, never>, RestPlatformReady>;

function measured(report: HttpLoadReport): Measured {
  return {
    histogramUs: decodeFromCompressedBase64(report.latencyUs),
    throughputPerS: report.throughputPerS,
    drops: report.failed,
  };
}

/** Closed loop in the callers' process: `count` calls with `inFlight` at once. */
async function closedLoop(load: Load, count: number, inFlight: number, calls: readonly HttpCall[]): Promise<Measured> {
  return measured(await load.request('closed', { calls, count, inFlight }));
}

/** Open loop in the callers' process at `ratePerS` (at most `maxInFlight` at once; one that cannot start on time is a drop). */
async function paced(
  load: Load,
  ratePerS: number,
  seconds: number,
  maxInFlight: number,
  calls: readonly HttpCall[],
): Promise<Measured> {
  return measured(await load.request('paced', { calls, ratePerS, seconds, maxInFlight }));
}

/** `GET /subscriptions` of each page of `server`'s listing. */
function listCalls(server: ListedServer): HttpCall[] {
  return server.pageStarts.map((cursor) => ({
    url: `${server.url}/subscriptions?limit=${PAGE}${cursor === null ? '' : `&cursor=${cursor}`}`,
  }));
}

/** Tokens per `GET /quotes` call: a trader's watch list. */
const QUOTE_TOKENS = 50;

/** `GET /quotes` of successive windows of `tokens`, and `GET /chain` of the seeded expiry. */
function snapshotCalls(ready: RestPlatformReady): { quotes: HttpCall[]; chain: HttpCall[] } {
  const { url } = ready.platform;
  const tokens = ready.chainTokens;
  const quotes = Array.from({ length: Math.max(1, Math.ceil(tokens.length / QUOTE_TOKENS)) }, (_, i) => ({
    url: `${url}/quotes?tokens=${tokens.slice(i * QUOTE_TOKENS, (i + 1) * QUOTE_TOKENS).join(',')}`,
  }));
  return { quotes, chain: [{ url: `${url}/chain?underlying=NIFTY&expiry=${ready.chainExpiry}` }] };
}

/** `POST /subscriptions` of each of `tokens`. */
function createCalls(base: string, tokens: readonly number[]): HttpCall[] {
  return tokens.map((token) => ({
    url: `${base}/subscriptions`,
    method: 'POST' as const,
    body: JSON.stringify({ instrument_token: token, mode: 'FULL' }),
  }));
}

/** The last weekday before today in IST: a full session of mock minute candles. */
function lastFullSession(): string {
  let day = new Date(Date.now() + 5.5 * 3_600_000);
  do day = new Date(day.getTime() - 86_400_000);
  while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
  return day.toISOString().slice(0, 10);
}

/**
 * The REST issue: subscription pages and creates at 1,000 calls/s with p99 < 10 ms, none failed or
 * late; a history call with Greeks within 5 s (TC-GRK-031). The closed loops and the memory-store
 * variants are reported, not judged.
 */
const targets: readonly Target[] = [
  ...['list-page-1000rps', 'create-1000rps'].flatMap((variant): Target[] => [
    { variant, figure: 'p99_ms', op: '<', value: 10, source: 'REST issue (1,000 calls/s at p99 < 10 ms)' },
    { variant, figure: 'drops', op: '=', value: 0, source: 'REST issue (1,000 calls/s at p99 < 10 ms)' },
  ]),
  { variant: 'history-375-greeks-x1', figure: 'max_ms', op: '<', value: 5000, source: 'TC-GRK-031' },
  ...['quotes-1000rps', 'chain-1000rps'].flatMap((variant): Target[] => [
    { variant, figure: 'p99_ms', op: '<', value: 10, source: 'snapshots issue (1,000 calls/s at p99 < 10 ms)' },
    { variant, figure: 'drops', op: '=', value: 0, source: 'snapshots issue (1,000 calls/s at p99 < 10 ms)' },
  ]),
];

const scenario: Scenario = {
  name: 'rest',
  targets,
  summary: `REST API over HTTP on the local platform: GET /subscriptions (page ${PAGE} of ${RECORDS}), POST /subscriptions, GET /quotes (${QUOTE_TOKENS} tokens), GET /chain (nearest NIFTY expiry), GET /history (375 minute candles with Greeks)`,
  async run({ quick }) {
    const platformProcess: PlatformProcess = await startChild<Record<string, never>, RestPlatformReady>(
      platformEntry,
      {
        tablePrefix: 'bench-rest',
        apiKeys: KEYS,
        records: RECORDS,
        page: PAGE,
        firstToken: FIRST_TOKEN,
      } satisfies RestPlatformConfig,
      120_000,
    );
    const results: ScenarioResult[] = [];
    const load: Load = await startChild<HttpLoadRpc, null>(loadEntry, {
      keys: KEYS,
    } satisfies HttpLoadConfig).catch(async (error: unknown) => {
      await platformProcess.stop();
      throw error;
    });
    try {
      const { platform, uncached, memory, listCacheMs, instrumentTokens, optionTokens } = platformProcess.ready;
      const server = {
        server: 'local platform in a process of its own (Node defaults), dynalite on a worker thread',
        list_cache_ms: listCacheMs,
        records: RECORDS,
        keys: KEYS.length,
      };
      const callers = { callers: 'a process of their own' };
      const seconds = quick ? 1 : 5;
      const warmupSeconds = quick ? 1 : 5;
      /**
       * Calls at 1,000 per second for `warmupSeconds`, unmeasured, then for `seconds`: the issue's
       * figure. A shorter warm-up (200 calls) left the compiler still at work in the measured
       * seconds on these two cores: p99 17 ms in the first five seconds, 7.6 and 6.2 in the next.
       */
      const atIssueRate = async (variant: string, calls: readonly HttpCall[], params: ScenarioResult['params']) => {
        await paced(load, 1000, warmupSeconds, 256, calls);
        const run = await paced(load, 1000, seconds, 256, calls);
        results.push({ variant, ...run, params: { ...params, rate_per_s: 1000, seconds, warmup_s: warmupSeconds } });
      };

      const lists = listCalls(platform);
      await atIssueRate('list-page-1000rps', lists, { ...server, ...callers, page: PAGE, pages: lists.length });
      const listClosed = await closedLoop(load, quick ? 500 : 5000, 16, lists);
      results.push({
        variant: 'list-page-x16',
        ...listClosed,
        params: { ...server, ...callers, page: PAGE, in_flight: 16 },
      });
      // Every page read from DynamoDB: what a page costs when the list cache misses.
      const uncachedRun = await closedLoop(load, quick ? 500 : 3000, 16, listCalls(uncached));
      results.push({
        variant: 'list-page-x16-uncached',
        ...uncachedRun,
        params: { ...server, ...callers, list_cache_ms: 0, page: PAGE, in_flight: 16 },
      });

      const creates = createCalls(platform.url, instrumentTokens);
      await atIssueRate('create-1000rps', creates, { ...server, ...callers });
      const createClosed = await closedLoop(load, quick ? 500 : 5000, 16, creates);
      results.push({ variant: 'create-x16', ...createClosed, params: { ...server, ...callers, in_flight: 16 } });

      const snapshots = snapshotCalls(platformProcess.ready);
      const chainSize = platformProcess.ready.chainTokens.length;
      await atIssueRate('quotes-1000rps', snapshots.quotes, { ...server, ...callers, tokens_per_call: QUOTE_TOKENS });
      await atIssueRate('chain-1000rps', snapshots.chain, { ...server, ...callers, options_in_chain: chainSize });

      const date = lastFullSession();
      const histories = optionTokens.map((token) => ({
        url: `${platform.url}/history?instrument_token=${token}&from=${date}&to=${date}&interval=minute&greeks=true`,
      }));
      await closedLoop(load, 50, 2, histories);
      for (const inFlight of [1, 4]) {
        const historyRun = await closedLoop(load, quick ? 100 : 1000, inFlight, histories);
        results.push({
          variant: `history-375-greeks-x${inFlight}`,
          ...historyRun,
          params: { ...server, ...callers, candles: 375, interval: 'minute', greeks: true, in_flight: inFlight },
        });
      }

      // The same routes and handlers over HTTP on the in-memory store: what the REST layer itself
      // costs (auth, validation, paging, JSON, HTTP), without dynalite's share of the time.
      const memoryServer = { ...server, ...callers, server: 'same handlers, memory store' };
      await atIssueRate('list-page-1000rps-memory-store', listCalls(memory), { ...memoryServer, page: PAGE });
      await atIssueRate('create-1000rps-memory-store', createCalls(memory.url, instrumentTokens), memoryServer);
    } finally {
      await load.stop();
      await platformProcess.stop();
    }
    return results;
  },
};

export default scenario;
