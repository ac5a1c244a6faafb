import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRestGateway, startLocalPlatform } from '../../infra/local/platform.js';
import { DynamoDbSubscriptionStore } from '../../shared/adapters/dynamodb/dynamodb-subscription-store.js';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { loadConfig } from '../../shared/config.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { SubscriptionStore } from '../../shared/ports/subscription-store.js';
import type { Components } from '../../shared/wiring.js';
import { childConfig, serveParent } from './child-process.js';

/*
 * The server the REST benchmark calls: the local platform as `npm start` runs it, in a process of
 * its own with Node's default flags (the benchmark's own process runs with a larger young
 * generation for the ingest scenarios, which is not what `npm start` gets). Beside it, on the same
 * components, two more gateways with the same routes and handlers: one whose subscriptions are
 * read from DynamoDB on every call (what a page costs when the list cache misses) and one on the
 * in-memory store (what the REST layer itself costs).
 */

/** What the parent passes. */
export interface RestPlatformConfig {
  readonly tablePrefix: string;
  readonly apiKeys: readonly string[];
  /** Subscriptions each store holds while pages are read. */
  readonly records: number;
  /** Page size of the listings whose cursors are reported. */
  readonly page: number;
  /** Tokens the filled subscriptions start from. */
  readonly firstToken: number;
}

/** A server and the cursors that start each page of its full listing (the first page has none). */
export interface ListedServer {
  readonly url: string;
  readonly pageStarts: readonly (string | null)[];
}

/** What the child reports once everything is up and filled. */
export interface RestPlatformReady {
  /** The platform: DynamoDB (dynalite) with the list cache as configured. */
  readonly platform: ListedServer;
  readonly listCacheMs: number;
  /** The same routes with every page read from DynamoDB. */
  readonly uncached: ListedServer;
  /** The same routes on the in-memory store. */
  readonly memory: ListedServer;
  /** Every token of the instrument registry, and those that are options. */
  readonly instrumentTokens: readonly number[];
  readonly optionTokens: readonly number[];
  /** The nearest NIFTY expiry, whose every option has a latest tick in the live state. */
  readonly chainExpiry: string;
  /** Those options' tokens. */
  readonly chainTokens: readonly number[];
}

const config = childConfig<RestPlatformConfig>();

/** Upserts active subscriptions into `store` until it holds `count` (tokens from `firstToken`). */
async function fill(store: SubscriptionStore, count: number, clock: Clock): Promise<void> {
  const have = (await store.listActive()).length;
  for (let i = 0; i < count - have; i++) {
    await store.upsert(
      {
        instrumentToken: config.firstToken + i,
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

/** The cursor that starts each page of `store`'s full listing. */
async function pageStarts(store: SubscriptionStore): Promise<(string | null)[]> {
  const starts: (string | null)[] = [null];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: config.page, ...(cursor && { cursor }) });
    cursor = page.cursor;
    if (cursor !== undefined) starts.push(cursor);
  } while (cursor !== undefined);
  return starts;
}

/** The REST routes on a gateway of their own whose components use `store` for subscriptions. */
async function serveOnStore(base: Components, store: SubscriptionStore) {
  const gateway = createRestGateway({ ...base, subscriptions: store });
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
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

/**
 * A latest tick, as the ingest task writes it, for every option of the nearest NIFTY expiry: the
 * snapshot routes then read a full chain whatever the hour (the mock feed follows market hours).
 */
async function seedChain(instruments: readonly Instrument[]): Promise<{ expiry: string; tokens: number[] }> {
  const options = instruments.filter(
    (i) => i.name === 'NIFTY' && (i.instrumentType === 'CE' || i.instrumentType === 'PE') && i.expiry !== null,
  );
  const expiry = options.map((i) => i.expiry as string).sort()[0];
  if (expiry === undefined) throw new Error('The mock registry lists no NIFTY option');
  const chain = options.filter((i) => i.expiry === expiry);
  const now = new Date().toISOString();
  const ticks = new Map<number, string>(
    chain.map((i) => [
      i.instrumentToken,
      JSON.stringify({
        instrument_token: i.instrumentToken,
        tradingsymbol: i.tradingsymbol,
        last_price: 101.35,
        volume: 1_234_500,
        oi: 5_678_900,
        delta: 0.512345,
        gamma: 0.00123456,
        theta: -12.345678,
        vega: 8.765432,
        timestamp: now,
        is_mock: true,
        rho: 1.234567,
        iv: 0.1345,
        iv_status: 'ok',
        underlying: 'NIFTY',
        underlying_price: 24_512.3,
        strike: i.strike,
        expiry,
        option_type: i.instrumentType,
        received_at_ms: Date.now(),
      }),
    ]),
  );
  await components.state.putLatest(ticks);
  return { expiry, tokens: chain.map((i) => i.instrumentToken) };
}

const platform = await startLocalPlatform(
  loadConfig({ PORT: '0', LOG_LEVEL: 'SILENT', TABLE_PREFIX: config.tablePrefix, API_KEYS: config.apiKeys.join(',') }),
);
const { components } = platform;
const direct = new DynamoDbSubscriptionStore({ client: components.dynamodb, tablePrefix: config.tablePrefix });
const memoryStore = new MemorySubscriptionStore();
// The platform seeds the nearest expiry; both stores are topped up to the same count.
await fill(components.subscriptions, config.records, components.clock);
await fill(memoryStore, config.records, components.clock);
const uncached = await serveOnStore(components, direct);
const memory = await serveOnStore(components, memoryStore);
const instruments = await components.loadInstruments();

const directStarts = await pageStarts(direct);
const chain = await seedChain(instruments);

serveParent<Record<string, never>>(
  {},
  {
    platform: { url: platform.url, pageStarts: directStarts },
    listCacheMs: components.config.dynamodb.subscriptionListCacheMs,
    uncached: { url: uncached.url, pageStarts: directStarts },
    memory: { url: memory.url, pageStarts: await pageStarts(memoryStore) },
    instrumentTokens: instruments.map((i) => i.instrumentToken),
    optionTokens: instruments
      .filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE')
      .map((i) => i.instrumentToken),
    chainExpiry: chain.expiry,
    chainTokens: chain.tokens,
  } satisfies RestPlatformReady,
  async () => {
    uncached.close();
    memory.close();
    await platform.close();
  },
);
