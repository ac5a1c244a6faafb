import { KitePool, type KitePoolOptions, type SubscribeResult } from '../../ingest-task/kite/kite-pool.js';
import { TickPipeline } from '../../ingest-task/pipeline/tick-pipeline.js';
import { TickPublisher } from '../../ingest-task/pipeline/tick-publisher.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { type KiteMode, TickPayload } from '../../shared/contracts/tick.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../shared/domain/market/mock-instruments.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { BusSubscription, TickBus } from '../../shared/ports/tick-bus.js';
import { type KiteSimulator, startKiteSimulator } from './kite/simulator.js';
import { waitFor } from './wait.js';

/*
 * The ingest chain on real parts, for the load, soak and latency cases: the Kite simulator (one api
 * key per account) → the real KitePool → TickPipeline → TickPublisher → a real Redis → a separate
 * Redis subscriber that checks what it reads. Every option price the simulator generates encodes
 * its sequence number (₹50.00, 50.05, 50.10, … per token), so the subscriber can tell, tick by tick,
 * whether a tick arrived once, in order, and which generation it was.
 */

const silent = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/** NIFTY and BANKNIFTY chains with 3,216 options in all: enough for 3,000 subscriptions. */
export const chainInstruments = mockInstruments({
  anchorDate: new Date().toISOString().slice(0, 10),
  strikesEachSide: 100,
});
const byToken = new Map(chainInstruments.map((i) => [i.instrumentToken, i]));

/** Option tokens of the chains, NIFTY's first. */
export const chainOptionTokens: readonly number[] = chainInstruments
  .filter((i) => i.instrumentType === 'CE' || i.instrumentType === 'PE')
  .map((i) => i.instrumentToken);

/** The index tokens the options price against; streamed with every set of options. */
export const INDEX_TOKENS: readonly number[] = [
  MOCK_UNDERLYINGS.NIFTY.indexToken,
  MOCK_UNDERLYINGS.BANKNIFTY.indexToken,
];

/** Price of the n-th generated tick of an option (n from 0), in rupees. */
export const SEQUENCE_BASE_PRICE = 50;
const sequencePrice = (n: number) => SEQUENCE_BASE_PRICE + n * 0.05;
/** The sequence number a received option price encodes. */
export const sequenceOf = (lastPrice: number) => Math.round((lastPrice - SEQUENCE_BASE_PRICE) * 20);

/** What the subscriber read of one option token. */
export interface TokenTrace {
  /** Ticks received. */
  count: number;
  /** Sequence number of the last tick received; -1 before the first. */
  last: number;
  /** Ticks whose sequence number was not exactly one more than the previous one's (a gap, a repeat, a reorder). */
  outOfSequence: number;
  /** Ticks whose sequence number was not above the previous one's (a repeat or a reorder; gaps excluded). */
  regressions: number;
}

export interface IngestChainOptions {
  readonly redisUrl: string;
  /** Kite accounts (api keys), 1–3. Default 1. */
  readonly accounts?: number;
  /** How often the simulator ticks every subscribed instrument. */
  readonly tickIntervalMs: number;
  readonly logger?: Logger;
  /** The publisher's clock (default the system clock): the soak and stress cases scale its time. */
  readonly publisherClock?: Clock;
  readonly maxPending?: number;
  /** Wraps the publisher's bus, e.g. to make it slow. */
  readonly wrapBus?: (bus: TickBus) => TickBus;
  readonly pool?: Partial<Pick<KitePoolOptions, 'maxTokensPerConnection' | 'maxConnectionsPerAccount'>>;
  /** The connections' watchdog. Default 10 s: longer than any drain, so quiescing never trips it. */
  readonly watchdogMs?: number;
  /** Keep every received tick's JSON per token (for cases that compare payloads). */
  readonly keepPayloads?: boolean;
}

/** A running chain. */
export interface IngestChain {
  readonly sim: KiteSimulator;
  readonly pool: KitePool;
  readonly pipeline: TickPipeline;
  readonly publisher: TickPublisher;
  /** Account ids, `account-1` … */
  readonly accountIds: readonly string[];
  /** Simulator-side generation times (epoch ms) of every tick of every token, in order. */
  readonly generated: ReadonlyMap<number, readonly number[]>;
  /** What the subscriber read, per option token. */
  readonly traces: ReadonlyMap<number, TokenTrace>;
  /** Raw JSON of every tick the subscriber read, per token (only with `keepPayloads`). */
  readonly payloads: ReadonlyMap<number, readonly string[]>;
  /** Option ticks the subscriber read, in all. */
  received(): number;
  /** First ticks of a token (one per token) that did not match the client tick schema. */
  invalid(): number;
  /** Ticks the pool handed to the pipeline, per account. */
  readonly ticksByAccount: ReadonlyMap<string, number>;
  /** Ticks generated for option tokens, in all. */
  generatedOptionTicks(): number;
  /** Subscribes the indices, then `tokens` (full mode unless said), and fails on any token not placed. */
  stream(
    tokens: readonly number[],
    options?: { mode?: KiteMode; preferredAccount?: (token: number) => string | undefined },
  ): Promise<SubscribeResult>;
  /**
   * Silences the simulator (sockets stay open) and waits until everything it sent is through:
   * decoded, processed, published or dropped, and read by the subscriber.
   */
  quiesce(timeoutMs?: number): Promise<void>;
  /** Ends a `quiesce`: the simulator streams again. */
  resume(): void;
  close(): Promise<void>;
}

/** Starts a chain; `close` it (or let the caller's cleanup do it). */
export async function startIngestChain(options: IngestChainOptions): Promise<IngestChain> {
  const logger = options.logger ?? silent;
  const accountCount = options.accounts ?? 1;
  const keys = Array.from({ length: accountCount }, (_, i) => `key-${i + 1}`);
  const generated = new Map<number, number[]>();
  let generatedOptionTicks = 0;
  const sim = await startKiteSimulator({
    accounts: keys.map((apiKey) => ({ apiKey, accessToken: `token-${apiKey}` })),
    tickIntervalMs: options.tickIntervalMs,
    heartbeatIntervalMs: 200,
    price: (token, nowMs) => {
      let times = generated.get(token);
      if (!times) {
        times = [];
        generated.set(token, times);
      }
      const n = times.length;
      times.push(nowMs);
      const instrument = byToken.get(token);
      if (instrument?.instrumentType === 'INDEX') {
        return instrument.name === 'NIFTY' ? MOCK_UNDERLYINGS.NIFTY.spot : MOCK_UNDERLYINGS.BANKNIFTY.spot;
      }
      generatedOptionTicks++;
      return sequencePrice(n);
    },
  });
  const clock = new SystemClock();
  const publishBus = await RedisTickBus.connect(options.redisUrl);
  const listenerBus = await RedisTickBus.connect(options.redisUrl);
  const traces = new Map<number, TokenTrace>();
  const payloads = new Map<number, string[]>();
  let received = 0;
  let invalid = 0;
  const ticksByAccount = new Map<string, number>();
  const keep = options.keepPayloads === true;
  const subscription: BusSubscription = await listenerBus.psubscribe('ticker:*', (_channel, message) => {
    const parsed = JSON.parse(message) as
      | { instrument_token: number; last_price: number }[]
      | { instrument_token: number; last_price: number };
    const ticks = Array.isArray(parsed) ? parsed : [parsed];
    for (const tick of ticks) {
      received++;
      const token = tick.instrument_token;
      let trace = traces.get(token);
      if (!trace) {
        trace = { count: 0, last: -1, outOfSequence: 0, regressions: 0 };
        traces.set(token, trace);
        if (!TickPayload.safeParse(tick).success) invalid++;
      }
      const sequence = sequenceOf(tick.last_price);
      if (trace.count > 0 && sequence !== trace.last + 1) trace.outOfSequence++;
      if (trace.count > 0 && sequence <= trace.last) trace.regressions++;
      trace.count++;
      trace.last = sequence;
    }
    if (keep) {
      for (const tick of ticks) {
        const list = payloads.get(tick.instrument_token) ?? [];
        list.push(JSON.stringify(tick));
        payloads.set(tick.instrument_token, list);
      }
    }
  });
  const publisher = new TickPublisher({
    bus: options.wrapBus ? options.wrapBus(publishBus) : publishBus,
    clock: options.publisherClock ?? clock,
    logger,
    retryDelayMs: { initial: 20, max: 200 },
    ...(options.maxPending !== undefined && { maxPending: options.maxPending }),
  });
  const pipeline = new TickPipeline({
    instruments: chainInstruments,
    pricing: { model: 'black-scholes', rate: 0.1, dividendYield: 0 },
    sink: publisher,
    clock,
    logger,
    isMock: () => false,
  });
  const accountIds = keys.map((_, i) => `account-${i + 1}`);
  const pool = new KitePool({
    url: sim.url,
    accounts: keys.map((apiKey, i) => ({
      id: accountIds[i] as string,
      apiKey,
      accessToken: () => `token-${apiKey}`,
    })),
    logger,
    onTicks: (account, ticks) => {
      ticksByAccount.set(account, (ticksByAccount.get(account) ?? 0) + ticks.length);
      pipeline.handle(ticks, account);
    },
    connection: {
      watchdogMs: options.watchdogMs ?? 10_000,
      reconnectDelayMs: { initial: 50, max: 300 },
      decodeDepth: false,
    },
    ...options.pool,
  });
  const stop = new AbortController();
  const publishing = publisher.run(stop.signal);
  let closed = false;

  return {
    sim,
    pool,
    pipeline,
    publisher,
    accountIds,
    generated,
    traces,
    payloads,
    received: () => received,
    invalid: () => invalid,
    ticksByAccount,
    generatedOptionTicks: () => generatedOptionTicks,
    async stream(tokens, { mode = 'full', preferredAccount } = {}) {
      const indices = await pool.subscribe(INDEX_TOKENS, mode, preferredAccount);
      const result = await pool.subscribe(tokens, mode, preferredAccount);
      const failed = [...indices.failed, ...result.failed];
      if (failed.length > 0) throw new Error(`${failed.length} tokens not subscribed: ${failed[0]?.error.message}`);
      return result;
    },
    async quiesce(timeoutMs = 20_000) {
      sim.stall();
      await waitFor(
        () =>
          pipeline.counters.ticksIn === sim.counters().packetsSent &&
          publisher.pending === 0 &&
          received === publisher.counters.published,
        { timeoutMs, intervalMs: 25, message: 'everything the simulator sent to be processed and read back' },
      );
    },
    resume() {
      sim.resume();
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.close();
      stop.abort();
      await publishing;
      await subscription.unsubscribe().catch(() => {});
      await publishBus.close();
      await listenerBus.close();
      await sim.stop();
    },
  };
}

/** A bus whose publishes each take `delayMs` longer: Redis under strain, deterministically. */
export function slowBus(bus: TickBus, delayMs: number): TickBus {
  return {
    publish: async (channel, message) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return bus.publish(channel, message);
    },
    subscribe: (channel, handler) => bus.subscribe(channel, handler),
    psubscribe: (pattern, handler) => bus.psubscribe(pattern, handler),
    check: () => bus.check(),
    close: () => bus.close(),
  };
}

/** A clock that can be moved ahead of the real one (timers still run in real time): scaled waits. */
export class SkewedClock implements Clock {
  readonly #system = new SystemClock();
  #skewMs = 0;

  now(): number {
    return this.#system.now() + this.#skewMs;
  }

  setTimeout(callback: () => void, ms: number): () => void {
    return this.#system.setTimeout(callback, ms);
  }

  /** Moves this clock `ms` ahead. */
  advance(ms: number): void {
    this.#skewMs += ms;
  }
}
