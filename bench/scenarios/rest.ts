import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { httpHandler } from '../../functions/http/http-handler.js';
import { httpRoutes } from '../../functions/routes.js';
import { createHttpGateway } from '../../infra/local/http-gateway.js';
import { startLocalPlatform } from '../../infra/local/platform.js';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { loadConfig } from '../../shared/config.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { SubscriptionStore } from '../../shared/ports/subscription-store.js';
import type { Components } from '../../shared/wiring.js';
import type { Scenario, ScenarioResult } from '../scenario.js';
import { type ChildHandle, startChild } from '../support/child-process.js';
import type { HttpCall, HttpLoadConfig, HttpLoadReport, HttpLoadRpc } from '../support/http-load-process.js';

/** Subscriptions in the store while pages are read, and the page size (the issue's figures). */
const RECORDS = 1000;
const PAGE = 100;
const FIRST_TOKEN = 13_000_000;
/** Several callers, as in production: each API key has its own throttle bucket. */
const KEYS = Array.from({ length: 8 }, (_, i) => `bench-key-${i}`);

type Measured = Pick<ScenarioResult, 'histogramUs' | 'throughputPerS' | 'drops'>;

const loadEntry = new URL('../support/http-load-process.ts', import.meta.url);
type Load = ChildHandle<HttpLoadRpc, null>;

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

/** `GET /subscriptions`, one page of `PAGE` from `cursor` (the first page without). */
function listPageUrl(base: string, cursor: string | undefined): string {
  return `${base}/subscriptions?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
}

/** `POST /subscriptions` of each of `tokens`. */
function createCalls(base: string, tokens: readonly number[]): HttpCall[] {
  return tokens.map((token) => ({
    url: `${base}/subscriptions`,
    method: 'POST' as const,
    body: JSON.stringify({ instrument_token: token, mode: 'FULL' }),
  }));
}

/** Upserts `count` active subscriptions (tokens from FIRST_TOKEN). */
async function fill(store: SubscriptionStore, count: number, clock: Clock): Promise<void> {
  for (let i = 0; i < count; i++) {
    await store.upsert(
      {
        instrumentToken: FIRST_TOKEN + i,
        tradingsymbol: `BENCH${i}`,
        segment: 'NFO-OPT',
        status: 'active',
        requestedMode: 'FULL',
        accountId: 'mock',
      },
      clock.now(),
    );
  }
}

/** A `GET /subscriptions` call per page of the store's full listing, on the server at `base`. */
async function listCalls(store: SubscriptionStore, base: string): Promise<HttpCall[]> {
  const starts: (string | undefined)[] = [undefined];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: PAGE, ...(cursor && { cursor }) });
    cursor = page.cursor;
    if (cursor !== undefined) starts.push(cursor);
  } while (cursor !== undefined);
  return starts.map((start) => ({ url: listPageUrl(base, start) }));
}

/** The REST routes on a second local gateway whose components use the in-memory subscription store. */
async function serveOnMemoryStore(base: Components) {
  const store = new MemorySubscriptionStore();
  const components: Components = { ...base, subscriptions: store };
  const gateway = createHttpGateway(
    httpRoutes.map((route) => ({
      method: route.method,
      path: route.path,
      handler: httpHandler(components.logger, route.makeUseCase(components)),
    })),
  );
  const server = createServer((req, res) => {
    void gateway(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    close: async () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

/** The last weekday before today in IST: a full session of mock minute candles. */
function lastFullSession(): string {
  let day = new Date(Date.now() + 5.5 * 3_600_000);
  do day = new Date(day.getTime() - 86_400_000);
  while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
  return day.toISOString().slice(0, 10);
}

const scenario: Scenario = {
  name: 'rest',
  summary: `REST API over HTTP on the local platform: GET /subscriptions (page ${PAGE} of ${RECORDS}), POST /subscriptions, GET /history (375 minute candles with Greeks)`,
  async run({ quick }) {
    const platform = await startLocalPlatform(
      loadConfig({ PORT: '0', LOG_LEVEL: 'SILENT', TABLE_PREFIX: 'bench-rest', API_KEYS: KEYS.join(',') }),
    );
    const results: ScenarioResult[] = [];
    const load: Load = await startChild<HttpLoadRpc, null>(loadEntry, {
      keys: KEYS,
    } satisfies HttpLoadConfig).catch(async (error: unknown) => {
      await platform.close();
      throw error;
    });
    try {
      const { subscriptions, clock } = platform.components;
      // The platform seeds the nearest expiry; top the store up to RECORDS.
      await fill(subscriptions, RECORDS - (await subscriptions.listActive()).length, clock);
      const lists = await listCalls(subscriptions, platform.url);
      const server = { server: 'local platform, dynalite on a worker thread', records: RECORDS, keys: KEYS.length };
      const callers = { callers: 'a process of their own' };
      const seconds = quick ? 1 : 5;
      /** Warms up, then calls at 1,000 per second for `seconds`: the issue's figure. */
      const atIssueRate = async (variant: string, calls: readonly HttpCall[], params: ScenarioResult['params']) => {
        await closedLoop(load, 200, 4, calls);
        const run = await paced(load, 1000, seconds, 256, calls);
        results.push({ variant, ...run, params: { ...params, rate_per_s: 1000, seconds } });
      };

      await atIssueRate('list-page-1000rps', lists, { ...server, ...callers, page: PAGE, pages: lists.length });
      const listClosed = await closedLoop(load, quick ? 500 : 5000, 16, lists);
      results.push({
        variant: 'list-page-x16',
        ...listClosed,
        params: { ...server, ...callers, page: PAGE, in_flight: 16 },
      });

      const instruments = await platform.components.loadInstruments();
      const tokens = instruments.map((i) => i.instrumentToken);
      const creates = createCalls(platform.url, tokens);
      await atIssueRate('create-1000rps', creates, { ...server, ...callers });
      const createClosed = await closedLoop(load, quick ? 500 : 5000, 16, creates);
      results.push({ variant: 'create-x16', ...createClosed, params: { ...server, ...callers, in_flight: 16 } });

      const date = lastFullSession();
      const histories = instruments
        .filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE')
        .map((option) => ({
          url: `${platform.url}/history?instrument_token=${option.instrumentToken}&from=${date}&to=${date}&interval=minute&greeks=true`,
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
      const memory = await serveOnMemoryStore(platform.components);
      try {
        await fill(memory.store, RECORDS, clock);
        const memoryServer = { ...server, ...callers, server: 'same handlers, memory store' };
        await atIssueRate('list-page-1000rps-memory-store', await listCalls(memory.store, memory.url), {
          ...memoryServer,
          page: PAGE,
        });
        await atIssueRate('create-1000rps-memory-store', createCalls(memory.url, tokens), memoryServer);
      } finally {
        await memory.close();
      }
    } finally {
      await load.stop();
      await platform.close();
    }
    return results;
  },
};

export default scenario;
