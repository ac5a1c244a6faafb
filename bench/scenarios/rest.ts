import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpHandler } from '../../functions/http/http-handler.js';
import { httpRoutes } from '../../functions/routes.js';
import { createHttpGateway } from '../../infra/local/http-gateway.js';
import { type LocalPlatform, startLocalPlatform } from '../../infra/local/platform.js';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { loadConfig } from '../../shared/config.js';
import type { Components } from '../../shared/wiring.js';
import { createLatencyHistogram, type Scenario, type ScenarioResult } from '../scenario.js';

/** Subscriptions in the store while pages are read, and the page size (the issue's figures). */
const RECORDS = 1000;
const PAGE = 100;
const FIRST_TOKEN = 13_000_000;
/** Several callers, as in production: each API key has its own throttle bucket. */
const KEYS = Array.from({ length: 8 }, (_, i) => `bench-key-${i}`);

type Measured = Pick<ScenarioResult, 'histogramUs' | 'throughputPerS' | 'drops'>;

/** One HTTP call; resolves with whether it answered 2xx (the body is read so the socket is reused). */
async function call(url: string, i: number, init: RequestInit = {}): Promise<boolean> {
  const response = await fetch(url, {
    ...init,
    headers: { 'x-api-key': KEYS[i % KEYS.length] as string, 'content-type': 'application/json', ...init.headers },
  });
  await response.arrayBuffer();
  return response.ok;
}

/** Closed loop: `count` calls with `window` in flight; latency per call, throughput over the run. */
async function closedLoop(
  count: number,
  window: number,
  operation: (i: number) => Promise<boolean>,
): Promise<Measured> {
  const histogramUs = createLatencyHistogram();
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      const ok = await operation(i).catch(() => false);
      if (ok) histogramUs.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { histogramUs, throughputPerS: (count - failed) / ((performance.now() - started) / 1000), drops: failed };
}

/**
 * Open loop at a fixed rate: calls start on schedule whatever the latency (at most `maxInFlight`
 * at once; a call that cannot start on time counts as a drop), so the percentiles are those a
 * caller sees at that rate, not at whatever rate the server happens to keep up with.
 */
async function paced(
  ratePerS: number,
  seconds: number,
  maxInFlight: number,
  operation: (i: number) => Promise<boolean>,
): Promise<Measured> {
  const histogramUs = createLatencyHistogram();
  const total = Math.round(ratePerS * seconds);
  let inFlight = 0;
  let failed = 0;
  let completed = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    if (inFlight >= maxInFlight) {
      failed++;
      continue;
    }
    inFlight++;
    const t0 = performance.now();
    pending.push(
      operation(i)
        .catch(() => false)
        .then((ok) => {
          inFlight--;
          if (ok) {
            completed++;
            histogramUs.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          } else failed++;
        }),
    );
  }
  await Promise.all(pending);
  return { histogramUs, throughputPerS: completed / ((performance.now() - started) / 1000), drops: failed };
}

/** The cursors that start each page of the full listing (the first page has none). */
async function pageStarts(platform: LocalPlatform): Promise<(string | undefined)[]> {
  const starts: (string | undefined)[] = [undefined];
  let cursor: string | undefined;
  do {
    const page = await platform.components.subscriptions.list({ limit: PAGE, ...(cursor && { cursor }) });
    cursor = page.cursor;
    if (cursor !== undefined) starts.push(cursor);
  } while (cursor !== undefined);
  return starts;
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
  let starts: (string | undefined)[] = [undefined];
  return {
    url: `http://127.0.0.1:${port}`,
    cursorAt: (i: number) => {
      const cursor = starts[i % starts.length];
      return cursor ? `&cursor=${cursor}` : '';
    },
    seed: async () => {
      for (let i = 0; i < RECORDS; i++) {
        await store.upsert(
          {
            instrumentToken: FIRST_TOKEN + i,
            tradingsymbol: `BENCH${i}`,
            segment: 'NFO-OPT',
            status: 'active',
            requestedMode: 'FULL',
            accountId: 'mock',
          },
          base.clock.now(),
        );
      }
      starts = [undefined];
      let cursor: string | undefined;
      do {
        const page = await store.list({ limit: PAGE, ...(cursor && { cursor }) });
        cursor = page.cursor;
        if (cursor !== undefined) starts.push(cursor);
      } while (cursor !== undefined);
    },
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
    try {
      const { subscriptions, clock } = platform.components;
      // The platform seeds the nearest expiry; top the store up to RECORDS.
      const seeded = (await subscriptions.listActive()).length;
      for (let i = 0; i < RECORDS - seeded; i++) {
        await subscriptions.upsert(
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
      const starts = await pageStarts(platform);
      const listUrl = (i: number) => {
        const cursor = starts[i % starts.length];
        return `${platform.url}/subscriptions?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
      };
      const server = { server: 'local platform, dynalite on a worker thread', records: RECORDS, keys: KEYS.length };
      const seconds = quick ? 1 : 5;

      await closedLoop(200, 4, (i) => call(listUrl(i), i));
      const listPaced = await paced(1000, seconds, 256, (i) => call(listUrl(i), i));
      results.push({
        variant: 'list-page-1000rps',
        ...listPaced,
        params: { ...server, page: PAGE, rate_per_s: 1000, seconds, pages: starts.length },
      });
      const listClosed = await closedLoop(quick ? 500 : 5000, 16, (i) => call(listUrl(i), i));
      results.push({ variant: 'list-page-x16', ...listClosed, params: { ...server, page: PAGE, in_flight: 16 } });

      const instruments = await platform.components.loadInstruments();
      const tokens = instruments.map((i) => i.instrumentToken);
      const create = (i: number) =>
        call(`${platform.url}/subscriptions`, i, {
          method: 'POST',
          body: JSON.stringify({ instrument_token: tokens[i % tokens.length], mode: 'FULL' }),
        });
      await closedLoop(200, 4, create);
      const createPaced = await paced(1000, seconds, 256, create);
      results.push({ variant: 'create-1000rps', ...createPaced, params: { ...server, rate_per_s: 1000, seconds } });
      const createClosed = await closedLoop(quick ? 500 : 5000, 16, create);
      results.push({ variant: 'create-x16', ...createClosed, params: { ...server, in_flight: 16 } });

      const date = lastFullSession();
      const options = instruments.filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE');
      const history = (i: number) =>
        call(
          `${platform.url}/history?instrument_token=${options[i % options.length]?.instrumentToken}&from=${date}&to=${date}&interval=minute&greeks=true`,
          i,
        );
      await closedLoop(50, 2, history);
      for (const inFlight of [1, 4]) {
        const historyRun = await closedLoop(quick ? 100 : 1000, inFlight, history);
        results.push({
          variant: `history-375-greeks-x${inFlight}`,
          ...historyRun,
          params: { ...server, candles: 375, interval: 'minute', greeks: true, in_flight: inFlight },
        });
      }

      // The same routes and handlers over HTTP on the in-memory store: what the REST layer itself
      // costs (auth, validation, paging, JSON, HTTP), without dynalite's share of the time.
      const memory = await serveOnMemoryStore(platform.components);
      try {
        const memoryList = (i: number) => call(`${memory.url}/subscriptions?limit=${PAGE}${memory.cursorAt(i)}`, i);
        await memory.seed();
        await closedLoop(200, 4, memoryList);
        const memoryPaced = await paced(1000, seconds, 256, memoryList);
        results.push({
          variant: 'list-page-1000rps-memory-store',
          ...memoryPaced,
          params: { ...server, server: 'same handlers, memory store', page: PAGE, rate_per_s: 1000, seconds },
        });
        const memoryCreate = (i: number) =>
          call(`${memory.url}/subscriptions`, i, {
            method: 'POST',
            body: JSON.stringify({ instrument_token: tokens[i % tokens.length], mode: 'FULL' }),
          });
        await closedLoop(200, 4, memoryCreate);
        const memoryCreated = await paced(1000, seconds, 256, memoryCreate);
        results.push({
          variant: 'create-1000rps-memory-store',
          ...memoryCreated,
          params: { ...server, server: 'same handlers, memory store', rate_per_s: 1000, seconds },
        });
      } finally {
        await memory.close();
      }
    } finally {
      await platform.close();
    }
    return results;
  },
};

export default scenario;
