import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../shared/config.js';
import type { MarketTick } from '../shared/contracts/tick.js';
import { isMarketOpen } from '../shared/domain/market/market-hours.js';
import { MOCK_UNDERLYINGS } from '../shared/domain/market/mock-instruments.js';
import { MockMarket } from '../shared/domain/market/mock-market.js';
import { ReferencePriceWindow } from '../shared/domain/market/reference-price-window.js';
import { UnderlyingBarAggregator } from '../shared/domain/market/underlying-bars.js';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logging.js';
import type { Clock } from '../shared/ports/clock.js';
import type { ConnectionIndex } from '../shared/ports/connection-index.js';
import { Heartbeats, type LiveStateStore } from '../shared/ports/live-state-store.js';
import type { Instrument } from '../shared/ports/market-data.js';
import type { SubscriptionStore } from '../shared/ports/subscription-store.js';
import type { TickBus } from '../shared/ports/tick-bus.js';
import { MockFeed } from './feeds/mock-feed.js';
import { UnderlyingBarPublisher } from './feeds/underlying-bar-publisher.js';
import { KitePool } from './kite/kite-pool.js';
import { ReferencePricePublisher } from './pipeline/reference-price-publisher.js';
import { TickPipeline } from './pipeline/tick-pipeline.js';
import { type BackpressureLevel, TickPublisher, type TickPublisherOptions } from './pipeline/tick-publisher.js';
import { type DesiredStreams, Reconciler, type StreamTarget } from './reconcile/reconciler.js';
import { KitePoolTarget, MarketHoursTarget, MockFeedTarget } from './reconcile/stream-targets.js';
import type { Service } from './supervisor.js';

/** What the ingest role needs; the composition root provides it. */
export interface IngestDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly bus: TickBus;
  readonly state: LiveStateStore;
  readonly subscriptions: SubscriptionStore;
  /** The instrument registry (mock chains, or Kite's instrument master). */
  readonly instruments: readonly Instrument[];
  /** Receives the receive → publish latency of every published tick (the metrics' histogram). */
  readonly onPublished?: TickPublisherOptions['onPublished'];
  /**
   * Receives every `{"type":"order"}` frame Kite sends on the ticker sockets (an order of the
   * account changed): one of the three sources of order updates, with postbacks and the poll.
   */
  readonly onOrderFrame?: (accountId: string, order: Readonly<Record<string, unknown>>) => void;
  /**
   * The tokens connected clients want, streamed beside the pinned set (see {@link indexedDemand});
   * none when absent.
   */
  readonly demand?: () => Promise<Iterable<number>> | Iterable<number>;
}

/** The demand of every live connection in the connection index: where the cloud keeps what each wants. */
export function indexedDemand(index: Pick<ConnectionIndex, 'snapshot'>): () => Promise<Set<number>> {
  return async () => {
    const tokens = new Set<number>();
    for (const connection of await index.snapshot()) for (const token of connection.tokens) tokens.add(token);
    return tokens;
  };
}

/** The ingest task's state as the heartbeat reports it to `/health`. */
export interface IngestStatus {
  readonly running: boolean;
  readonly source: 'kite' | 'mock';
  readonly active_subscriptions: number;
  readonly accounts: Record<string, unknown>;
  readonly backpressure: BackpressureLevel;
  readonly ticks_in: number;
  readonly ticks_published: number;
  readonly ticks_dropped: number;
  readonly at: string;
}

/**
 * Each Kite account's pool metrics plus how many of its connections are open: an account whose
 * sockets are all reconnecting is still `ok` to the pool (nothing refused it) but streams nothing,
 * and `/health` names it.
 */
function accountsWithOpenConnections(pool: KitePool): Record<string, unknown> {
  const metrics = pool.metrics();
  return Object.fromEntries(
    Object.entries(metrics.accounts).map(([id, account]) => [
      id,
      { ...account, open: metrics.perConnection.filter((c) => c.accountId === id && c.state === 'open').length },
    ]),
  );
}

/** The running pieces of the ingest role, for tests and metrics. */
export interface IngestRole {
  readonly services: readonly Service[];
  readonly pipeline: TickPipeline;
  readonly publisher: TickPublisher;
  /** Writes the 30-s average trade prices the pipeline records, once a second. */
  readonly referencePrices: ReferencePricePublisher;
  readonly reconciler: Reconciler;
  readonly pool: KitePool | undefined;
  status(): IngestStatus;
}

/**
 * Assembles the ingest role: the source (the Kite pool, or the mock feed when mock data is on),
 * the pipeline that prices ticks, the publisher onto the bus, the underlying bars, the reference
 * prices (the exchange's 30-s average trade price, for order checks), the reconciler that keeps
 * streams equal to the active subscriptions, and a heartbeat. Every piece is a
 * `Service`, so the supervisor starts them together and stops them together.
 */
export function ingestRole(deps: IngestDependencies): IngestRole {
  const { config, logger, clock, bus, state, subscriptions, instruments } = deps;
  const mock = config.market.mockData;
  const pricing = {
    model: config.pricing.model,
    rate: config.pricing.riskFreeRate,
    dividendYield: config.pricing.dividendYield,
  };
  const publisher = new TickPublisher({
    bus,
    state,
    clock,
    logger,
    ...(deps.onPublished !== undefined && { onPublished: deps.onPublished }),
  });
  const mockSource = 'mock-feed';
  const window = new ReferencePriceWindow();
  const referencePrices = new ReferencePricePublisher({ window, state, clock, logger });
  const pipeline = new TickPipeline({
    instruments,
    pricing,
    sink: publisher,
    clock,
    logger,
    isMock: (source) => mock || source === mockSource,
    referencePrices: window,
  });
  const aggregator = new UnderlyingBarAggregator({
    intervalSeconds: config.market.streamIntervalSeconds,
    instruments: instruments.filter((i) => i.instrumentType === 'INDEX'),
    isMock: mock,
    graceMs: 250,
  });
  const bars = new UnderlyingBarPublisher({
    aggregator,
    bus,
    clock,
    onPublishError: (error) => logger.warn('Underlying bar not published', { error: describeError(error) }),
  });
  const onTicks = (ticks: readonly MarketTick[], source: string): void => {
    bars.accept(ticks, source);
    pipeline.handle(ticks, source);
  };

  const baseline: DesiredStreams = new Map(
    instruments
      .filter((i) => i.instrumentType === 'INDEX')
      .map((i) => [i.instrumentToken, { mode: 'full', accountId: null }] as const),
  );
  // The mock market always exists: it is the source in mock mode, and outside market hours otherwise.
  const mockTarget = new MockFeedTarget();
  const market = new MockMarket({
    seed: config.market.mockSeed,
    instruments,
    underlyings: Object.values(MOCK_UNDERLYINGS),
    priceVariationBps: config.market.mockPriceVariationBps,
    volumeVariation: config.market.mockVolumeVariation,
    pricing: { rate: pricing.rate, dividendYield: pricing.dividendYield },
    // The mock history gets the same holidays, so both read one price path.
    holidays: config.market.tradingHolidays,
  });
  const services: Service[] = [
    publisher,
    referencePrices,
    bars,
    new MockFeed({
      name: mockSource,
      market,
      clock,
      intervalMs: config.market.streamIntervalSeconds * 1000,
      tokens: mockTarget.tokens,
      onTicks,
    }),
  ];
  let pool: KitePool | undefined;
  let target: StreamTarget = mockTarget;
  let hours: MarketHoursTarget | undefined;
  if (!mock) {
    const kitePool = new KitePool({
      url: config.kite.tickerUrl,
      accounts: config.kite.accounts.map((a) => ({
        id: a.id,
        apiKey: a.apiKey,
        accessToken: () => a.accessToken.reveal(),
      })),
      logger,
      maxTokensPerConnection: config.kite.maxTokensPerConnection,
      maxConnectionsPerAccount: config.kite.maxConnectionsPerAccount,
      onTicks: (accountId, ticks) => onTicks(ticks, accountId),
      onText: (accountId, message) => {
        if (message.type === 'order') deps.onOrderFrame?.(accountId, message.data);
      },
      // The client tick carries no market depth, so full-mode packets are decoded without it.
      connection: { decodeDepth: false },
    });
    pool = kitePool;
    const holidays = config.market.tradingHolidays;
    const live = new KitePoolTarget(kitePool);
    hours = config.market.followMarketHours
      ? new MarketHoursTarget(live, mockTarget, isMarketOpen(clock.now(), holidays))
      : undefined;
    target = hours ?? live;
    const switcher = hours;
    services.push({
      name: 'kite-pool',
      run: async (signal) => {
        let cancel: (() => void) | undefined;
        const check = () => {
          cancel = clock.setTimeout(() => {
            const open = isMarketOpen(clock.now(), holidays);
            void switcher
              ?.setOpen(open)
              .then((moved) => {
                if (moved)
                  logger.info(open ? 'Market open: streaming from Kite' : 'Market closed: streaming the mock market');
              })
              .catch((error: unknown) => logger.error('Source switch failed', { error: describeError(error) }))
              .finally(() => {
                if (!signal.aborted) check();
              });
          }, 30_000);
        };
        if (switcher) check();
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        cancel?.();
        await kitePool.close();
      },
    });
  }
  const reconciler = new Reconciler({
    store: subscriptions,
    target,
    bus,
    clock,
    logger,
    baseline,
    ...(deps.demand !== undefined && { demand: deps.demand }),
    graceMs: config.realtime.demandGraceSeconds * 1000,
    // A client's new demand must stream within 2 s: a change waits at most 1 s behind the last
    // reconcile, however slow its read was (docs/decisions.md, "Demand-driven streaming").
    maxGapMs: 1000,
    capacity: config.realtime.streamCapacity,
    // Outlives a missed periodic reconcile or two; gone when the ingest task is.
    onStreams: (tokens) =>
      void state
        .putHeartbeat(Heartbeats.streams, JSON.stringify(tokens), 180_000)
        .catch((error: unknown) => logger.warn('Stream set not written', { error: describeError(error) })),
  });
  services.push(reconciler);

  let running = false;
  const status = (): IngestStatus => ({
    running,
    source: mock || hours?.open === false ? 'mock' : 'kite',
    active_subscriptions: (pool?.metrics().subscribedTokens ?? 0) + mockTarget.tokens().size,
    accounts: pool ? accountsWithOpenConnections(pool) : { mock: { status: 'ok' } },
    backpressure: publisher.level,
    ticks_in: pipeline.counters.ticksIn,
    ticks_published: publisher.counters.published,
    ticks_dropped: publisher.counters.dropped,
    at: new Date(clock.now()).toISOString(),
  });
  services.push({
    name: 'heartbeat',
    run: async (signal) => {
      running = true;
      while (!signal.aborted) {
        await state
          .putHeartbeat(Heartbeats.ingest, JSON.stringify(status()), 15_000)
          .catch((error: unknown) => logger.warn('Heartbeat not written', { error: describeError(error) }));
        await sleep(5000, undefined, { signal }).catch(() => {});
      }
      running = false;
      await state.putHeartbeat(Heartbeats.ingest, JSON.stringify(status()), 15_000).catch(() => {});
    },
  });

  return { services, pipeline, publisher, referencePrices, reconciler, pool, status };
}
