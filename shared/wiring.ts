import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ApiGatewayConnectionGateway } from './adapters/apigateway/apigateway-connection-gateway.js';
import { CachingSubscriptionStore } from './adapters/caching-subscription-store.js';
import { DynamoDbBreakerStore } from './adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbConnectionStore } from './adapters/dynamodb/dynamodb-connection-store.js';
import { DynamoDbOrderStore } from './adapters/dynamodb/dynamodb-order-store.js';
import { DynamoDbSubscriptionStore } from './adapters/dynamodb/dynamodb-subscription-store.js';
import { IndexedConnectionStore } from './adapters/indexed-connection-store.js';
import { KiteBroker } from './adapters/kite/kite-broker.js';
import { KiteMarketData } from './adapters/kite/kite-market-data.js';
import { KiteRestClient } from './adapters/kite/kite-rest-client.js';
import {
  createLocalOrderQueues,
  LocalOrderQueue,
  LocalOrderQueueControl,
  type LocalOrderQueues,
} from './adapters/local-sqs/local-order-queue.js';
import { MemoryLiveStateStore } from './adapters/memory/memory-live-state-store.js';
import { MemoryRateBudget } from './adapters/memory/memory-rate-budget.js';
import { MemoryTickBus } from './adapters/memory/memory-tick-bus.js';
import { PaperBroker } from './adapters/paper-broker.js';
import { RedisConnectionIndex } from './adapters/redis/redis-connection-index.js';
import { RedisLiveStateStore } from './adapters/redis/redis-live-state-store.js';
import { lazyRedisRateBudget } from './adapters/redis/redis-rate-budget.js';
import { RedisTickBus } from './adapters/redis/redis-tick-bus.js';
import { SqsOrderQueue } from './adapters/sqs/sqs-order-queue.js';
import { SqsOrderQueueControl } from './adapters/sqs/sqs-order-queue-control.js';
import { SystemClock } from './adapters/system-clock.js';
import { type Config, loadConfig } from './config.js';
import { KiteRateLimits } from './domain/kite/rate-limiter.js';
import { istDate } from './domain/market/calendar-dates.js';
import { mockInstruments } from './domain/market/mock-instruments.js';
import { CircuitBreaker } from './domain/orders/circuit-breaker.js';
import { ConfigError, DependencyUnavailableError, describeError } from './errors.js';
import { createLogger, type Logger } from './logging.js';
import { MockMarketData } from './market-data/mock-market-data.js';
import { ORDER_VISIBILITY_TIMEOUT_SECONDS } from './order-queue-settings.js';
import { type Broker, BrokerError } from './ports/broker.js';
import type { CircuitBreakerStore } from './ports/circuit-breaker-store.js';
import type { Clock } from './ports/clock.js';
import type { ConnectionGateway } from './ports/connection-gateway.js';
import type { ConnectionIndex } from './ports/connection-index.js';
import type { ConnectionStore } from './ports/connection-store.js';
import type { LiveStateStore } from './ports/live-state-store.js';
import type { Instrument, MarketData } from './ports/market-data.js';
import type { OrderQueueControl } from './ports/order-queue-control.js';
import type { OrderQueue, OrderStore } from './ports/orders.js';
import type { RateBudget } from './ports/rate-budget.js';
import type { SubscriptionStore } from './ports/subscription-store.js';
import type { TickBus } from './ports/tick-bus.js';
import { physicalTableName, Tables } from './tables.js';

/**
 * The composition root: the one place that reads the environment and chooses adapters. Entry
 * points (the Lambda handlers, the ingest task, the local platform) ask it for what they need and
 * never construct an adapter themselves (dependency-cruiser enforces it).
 */

/** The validated configuration of this process, parsed once from `process.env`. */
export function configFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  return loadConfig(env);
}

/** What every long-running entry point gets. */
export interface Components {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Redis when `REDIS_URL` is set, the in-process bus otherwise. */
  readonly bus: TickBus;
  readonly dynamodb: DynamoDBClient;
  /** Latest ticks, heartbeats and leases: on Redis when `REDIS_URL` is set, in memory otherwise. */
  readonly state: LiveStateStore;
  readonly subscriptions: SubscriptionStore;
  /**
   * The WebSocket connection registry: records in DynamoDB, and with `REDIS_URL` the token →
   * connections index in Redis kept in step.
   */
  readonly connections: ConnectionStore;
  /**
   * The Redis token → connections index behind `connections`, which a fan-out instance loads at
   * start (`snapshot()`); undefined without `REDIS_URL`, where everything runs in one process and
   * the fan-out hears of every connection from the in-process bus.
   */
  readonly connectionIndex?: ConnectionIndex | undefined;
  /** Resolves when DynamoDB answers for the platform's tables. */
  checkDatabase(): Promise<void>;
  /**
   * The instrument registry: the mock NIFTY and BANKNIFTY chains when mock data is on, Kite's
   * instrument master (through the first account) otherwise.
   */
  loadInstruments(): Promise<readonly Instrument[]>;
  /**
   * Historical candles and quotes: Kite REST across the configured accounts, or the deterministic
   * mock history of the mock registry when mock data is on.
   */
  readonly marketData: MarketData;
  /**
   * Kite's REST limits, shared by every process on the same Redis when `REDIS_URL` is set
   * (connected on first use), kept in this process otherwise.
   */
  readonly kiteBudget: RateBudget;
  /** Order task status records (DynamoDB). */
  readonly orders: OrderStore;
  /**
   * Where new and redriven orders go: SQS when `ORDERS_QUEUE_URL` is set, otherwise (development
   * and test only) the in-process {@link localOrderQueues}.
   */
  readonly orderQueue: OrderQueue;
  /**
   * The in-process orders queue and its dead-letter queue when no `ORDERS_QUEUE_URL` is set outside
   * staging and production: the local platform runs the order worker on them and serves them on its
   * SQS endpoint. Undefined when orders go to SQS.
   */
  readonly localOrderQueues?: LocalOrderQueues | undefined;
  /** The SQS client when orders go to SQS (`ORDERS_QUEUE_URL`); `close` destroys it. */
  readonly sqs?: SQSClient | undefined;
  /** Releases every connection; safe to call twice. */
  close(): Promise<void>;
}

/** Builds the components for `config`. Rejects (closing what it opened) when a dependency is unreachable. */
export async function createComponents(
  config: Config,
  serviceName: string,
  options: ComponentOptions = {},
): Promise<Components> {
  const logger = createLogger(serviceName, config);
  const bus = await createTickBus(config, logger, options);
  let state: LiveStateStore;
  try {
    const url = config.redis.url?.reveal();
    state = url === undefined ? new MemoryLiveStateStore() : await RedisLiveStateStore.connect(url);
  } catch (error) {
    await bus.close();
    throw error;
  }
  const clock = new SystemClock();
  let connectionIndex: ConnectionIndex | undefined;
  try {
    const url = config.redis.url?.reveal();
    connectionIndex = url === undefined ? undefined : await RedisConnectionIndex.connect(url, { clock });
  } catch (error) {
    await bus.close();
    await state.close();
    throw error;
  }
  const dynamodb = createDynamoDbClient(config);
  const records = new DynamoDbConnectionStore({ client: dynamodb, tablePrefix: config.dynamodb.tablePrefix, clock });
  const sqs = config.orders.queueUrl === undefined ? undefined : createSqsClient(config);
  const queues = createOrderQueues(config, clock, sqs);
  let closed = false;
  const kiteBudget = createKiteBudget(config, logger);
  const loadInstruments = async (): Promise<readonly Instrument[]> => {
    const account = config.kite.accounts[0];
    if (config.market.mockData || account === undefined) {
      return mockInstruments({ anchorDate: istDate(clock.now()), holidays: config.market.tradingHolidays });
    }
    return kiteRestClient(config, account, clock, logger, kiteBudget).instruments();
  };
  return {
    config,
    logger,
    clock,
    bus,
    dynamodb,
    state,
    subscriptions: subscriptionStore(config, dynamodb, clock),
    connections: connectionIndex === undefined ? records : new IndexedConnectionStore(records, connectionIndex),
    connectionIndex,
    loadInstruments,
    kiteBudget,
    marketData: createMarketData(config, clock, logger, loadInstruments, kiteBudget),
    orders: new DynamoDbOrderStore({ client: dynamodb, tablePrefix: config.dynamodb.tablePrefix }),
    ...queues,
    sqs,
    checkDatabase: async () => {
      const TableName = physicalTableName(config.dynamodb.tablePrefix, Tables.subscriptions);
      await dynamodb.send(new DescribeTableCommand({ TableName }));
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await bus.close();
      await state.close();
      await connectionIndex?.close();
      await kiteBudget.close();
      dynamodb.destroy();
      sqs?.destroy();
      queues.localOrderQueues?.main.close();
      queues.localOrderQueues?.deadLetter.close();
    },
  };
}

/**
 * Receives before the local orders queue dead-letters a message: the redrive policy of the cloud's
 * orders queue (infra/stacks/orders-stack.ts), so retries run out the same way on one machine.
 */
export const LOCAL_ORDER_MAX_RECEIVE_COUNT = 5;

/**
 * The orders queue `config` asks for: SQS at `ORDERS_QUEUE_URL`; without it, the in-process queue
 * in development and test (kept in `LOCAL_DATA_DIR` when set), and in staging or production a queue that refuses every order (an order
 * accepted into a queue no worker reads would be lost).
 */
function createOrderQueues(
  config: Config,
  clock: Clock,
  sqs: SQSClient | undefined,
): Pick<Components, 'orderQueue' | 'localOrderQueues'> {
  const { queueUrl, deadLetterQueueUrl } = config.orders;
  if (queueUrl !== undefined && sqs !== undefined) {
    return {
      orderQueue: new SqsOrderQueue({
        client: sqs,
        queueUrl,
        ...(deadLetterQueueUrl !== undefined && { deadLetterQueueUrl }),
      }),
      localOrderQueues: undefined,
    };
  }
  if (config.environment === 'staging' || config.environment === 'production') {
    const refuse = async (): Promise<never> => {
      throw new DependencyUnavailableError('sqs', 'ORDERS_QUEUE_URL is not set: orders cannot be queued');
    };
    return { orderQueue: { enqueue: refuse, redrive: refuse }, localOrderQueues: undefined };
  }
  const localOrderQueues = createLocalOrderQueues({
    clock,
    maxReceiveCount: LOCAL_ORDER_MAX_RECEIVE_COUNT,
    region: config.awsRegion,
    // Beside dynalite's data: the queues outlive a crash as the status records do.
    ...(config.dynamodb.localDataDir !== undefined && { dataDir: config.dynamodb.localDataDir }),
  });
  return { orderQueue: new LocalOrderQueue(localOrderQueues), localOrderQueues };
}

/**
 * An SQS client for the configured region. A queue URL on this machine (the local platform's SQS
 * endpoint) is signed with the local key pair, which that endpoint verifies.
 */
export function createSqsClient(config: Config): SQSClient {
  const credentials = localEndpointCredentials(config, config.orders.queueUrl);
  return new SQSClient({ region: config.awsRegion, maxAttempts: 3, ...(credentials && { credentials }) });
}

/**
 * The local key pair when `url` points at this machine (the local platform's SQS endpoint or
 * `@connections`), so a laptop needs no AWS profile; undefined for a real AWS endpoint.
 */
export function localEndpointCredentials(
  config: Pick<Config, 'localAws'>,
  url: string | undefined,
): { accessKeyId: string; secretAccessKey: string } | undefined {
  const host = url === undefined ? undefined : new URL(url).hostname;
  const local = host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  return local
    ? { accessKeyId: config.localAws.accessKeyId, secretAccessKey: config.localAws.secretAccessKey.reveal() }
    : undefined;
}

/**
 * The visibility timeout of the orders queue these components send to: the local queue's own, or
 * the cloud queue's as the orders stack sets it. The sweeper's wait is derived from it.
 */
export function orderQueueVisibilityTimeoutSeconds(components: Components): number {
  return components.localOrderQueues?.main.visibilityTimeoutSeconds ?? ORDER_VISIBILITY_TIMEOUT_SECONDS;
}

/** What the order worker runs on, beside the shared {@link Components}. */
export interface OrderComponents {
  /** Circuit-breaker state shared by every worker (DynamoDB `breakers`, conditional writes). */
  readonly breakers: CircuitBreakerStore;
  /** The per-account breakers over `breakers`, with the configured thresholds; transitions are logged. */
  readonly breaker: CircuitBreaker;
  /**
   * The broker of an account: its Kite account when `KITE_ACCOUNTS` names any (an order for an
   * account not configured fails as a non-retryable input error: orders never move to another
   * account), paper trading on the market data's last prices when none is configured.
   */
  brokerFor(accountId: string): Broker;
  /** True when orders are paper-traded (no Kite account configured). */
  readonly paperTrading: boolean;
  /** Powertools idempotency records (DynamoDB `idempotency`). */
  readonly idempotencyStore: BasePersistenceLayer;
  /**
   * Visibility changes and dead-lettering of order messages: on the in-process queues when
   * `localOrderQueues` exist, on SQS (`ORDERS_QUEUE_URL`, `ORDERS_DLQ_URL`) otherwise.
   */
  readonly queueControl: OrderQueueControl;
}

const orderComponentsOf = new WeakMap<Components, OrderComponents>();

/** The order worker's components over `components`, built once per components. */
export function orderComponents(components: Components): OrderComponents {
  const existing = orderComponentsOf.get(components);
  if (existing) return existing;
  const { config, clock, logger, dynamodb, marketData, kiteBudget } = components;
  const breakers = new DynamoDbBreakerStore({ client: dynamodb, tablePrefix: config.dynamodb.tablePrefix });
  const kite = new Map(
    config.kite.accounts.map((account) => [
      account.id,
      new KiteBroker({ client: kiteRestClient(config, account, clock, logger, kiteBudget) }),
    ]),
  );
  const paperTrading = kite.size === 0;
  const paper = new PaperBroker({
    now: () => clock.now(),
    lastPrice: async (exchange, tradingsymbol) => {
      const instrument = (await marketData.instruments()).find(
        (i) => i.exchange === exchange && i.tradingsymbol === tradingsymbol,
      );
      if (!instrument) return undefined;
      // The price clients see: the latest streamed tick, else the market data's quote.
      const streamed = await components.state.getLatest([instrument.instrumentToken]).catch(() => undefined);
      const latest = streamed?.get(instrument.instrumentToken);
      const lastPrice = latest === undefined ? undefined : (JSON.parse(latest) as { last_price?: unknown }).last_price;
      if (typeof lastPrice === 'number' && lastPrice > 0) return lastPrice;
      return (await marketData.lastPrices([instrument.instrumentToken])).get(instrument.instrumentToken);
    },
  });
  const unknownAccount = (accountId: string): Broker => ({
    execute: async () => {
      throw new BrokerError('input', `No Kite account ${accountId} is configured`);
    },
    refresh: async () => [],
  });
  const local = components.localOrderQueues;
  const built: OrderComponents = {
    breakers,
    breaker: new CircuitBreaker({
      store: breakers,
      clock,
      policy: config.circuitBreaker,
      closedReadTtlMs: config.circuitBreaker.closedReadTtlMs,
      onTransition: (t) =>
        logger.warn(`Circuit breaker ${t.from} -> ${t.to}`, {
          breaker: t.key,
          consecutiveFailures: t.consecutiveFailures,
          ...(t.to === 'OPEN' && { metric: 'circuit_breaker_opens' }),
          ...(t.to === 'CLOSED' && { metric: 'circuit_breaker_closes' }),
        }),
    }),
    brokerFor: (accountId) => (paperTrading ? paper : (kite.get(accountId) ?? unknownAccount(accountId))),
    paperTrading,
    idempotencyStore: new DynamoDBPersistenceLayer({
      tableName: physicalTableName(config.dynamodb.tablePrefix, Tables.idempotency),
      awsSdkV3Client: dynamodb,
    }),
    queueControl:
      local !== undefined
        ? new LocalOrderQueueControl(local)
        : new SqsOrderQueueControl({
            client: components.sqs ?? createSqsClient(config),
            queueUrl: config.orders.queueUrl,
            deadLetterQueueUrl: config.orders.deadLetterQueueUrl,
          }),
  };
  orderComponentsOf.set(components, built);
  return built;
}

/** The market-data source `config` asks for: Kite across every account, or the mock history. */
function createMarketData(
  config: Config,
  clock: Clock,
  logger: Logger,
  loadInstruments: () => Promise<readonly Instrument[]>,
  budget: RateBudget,
): MarketData {
  if (config.market.mockData || config.kite.accounts.length === 0) {
    let cached: { date: string; instruments: Promise<readonly Instrument[]> } | undefined;
    return new MockMarketData({
      // The mock registry is anchored on today's date: rebuild it when the day changes.
      instruments: () => {
        const date = istDate(clock.now());
        if (cached?.date !== date) cached = { date, instruments: loadInstruments() };
        return cached.instruments;
      },
      seed: config.market.mockSeed,
      rate: config.pricing.riskFreeRate,
      dividendYield: config.pricing.dividendYield,
      holidays: config.market.tradingHolidays,
      now: () => clock.now(),
    });
  }
  return new KiteMarketData({
    clients: config.kite.accounts.map((account) => kiteRestClient(config, account, clock, logger, budget)),
    logger,
  });
}

/** The Kite REST client of one configured account. */
function kiteRestClient(
  config: Config,
  account: Config['kite']['accounts'][number],
  clock: Clock,
  logger: Logger,
  budget: RateBudget,
): KiteRestClient {
  return new KiteRestClient({
    budget,
    accountId: account.id,
    apiKey: account.apiKey,
    accessToken: account.accessToken.reveal(),
    root: config.kite.apiUrl,
    clock,
    logger,
  });
}

/** Kite's limits: on Redis when `REDIS_URL` is set, so every Lambda and task shares them; in this process otherwise. */
function createKiteBudget(config: Config, logger: Logger): RateBudget {
  const url = config.redis.url?.reveal();
  const options = { budgets: KiteRateLimits, keyPrefix: 'kite-budget' };
  if (url === undefined) return new MemoryRateBudget(options);
  return lazyRedisRateBudget(url, {
    ...options,
    onEvent: (event) => {
      if (event.kind === 'error')
        logger.warn('Redis rate budget connection error', { error: describeError(event.error) });
    },
  });
}

/** The subscriptions table's store, its listing cached for `SUBSCRIPTION_LIST_CACHE_MS` unless that is 0. */
function subscriptionStore(config: Config, client: DynamoDBClient, clock: Clock): SubscriptionStore {
  const store = new DynamoDbSubscriptionStore({ client, tablePrefix: config.dynamodb.tablePrefix });
  const ttlMs = config.dynamodb.subscriptionListCacheMs;
  return ttlMs > 0 ? new CachingSubscriptionStore(store, { ttlMs, clock }) : store;
}

/** A DynamoDB client for the configured region, or for `DYNAMODB_ENDPOINT` (dynalite, LocalStack). */
export function createDynamoDbClient(config: Config): DynamoDBClient {
  const endpoint = config.dynamodb.endpoint;
  return new DynamoDBClient({
    region: config.awsRegion,
    maxAttempts: 3,
    ...(endpoint !== undefined && {
      endpoint,
      // Local endpoints accept any credentials; do not require a real AWS profile on a laptop.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  });
}

/** What a process may ask of its components beyond its configuration. */
export interface ComponentOptions {
  /**
   * Redis auto-pipelining on the bus's publishing connection (default on). The ingest task turns
   * it off: its publisher batches by itself and publishes bytes (see `RedisTickBusOptions`).
   */
  readonly busAutoPipelining?: boolean;
}

/** The tick bus `config` asks for, connected. */
export async function createTickBus(config: Config, logger: Logger, options: ComponentOptions = {}): Promise<TickBus> {
  const onHandlerError = (error: unknown, channel: string) =>
    logger.error('Bus message handler failed', { channel, error: describeError(error) });
  const url = config.redis.url?.reveal();
  if (url === undefined) return new MemoryTickBus({ onHandlerError });
  return RedisTickBus.connect(url, {
    ...(options.busAutoPipelining !== undefined && { autoPipelining: options.busAutoPipelining }),
    onHandlerError,
    onEvent: (event) => {
      if (event.kind === 'error') {
        logger.warn('Redis connection error', { connection: event.connection, error: describeError(event.error) });
      } else logger.info(`Redis connection ${event.kind}`, { connection: event.connection });
    },
  });
}

/**
 * Runs an entry point's `main`, turning a configuration error into one clear message on stderr and
 * exit code 78 (EX_CONFIG), and any other start-up failure into its message and exit code 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    // Exit at once: a half-started process (a reconnecting client, a listening server) must not linger.
    process.stderr.write(`Start-up failed: ${describeError(error)}\n`);
    process.exit(1);
  });
}

let processWide: Promise<Components> | undefined;

/**
 * The components of this process (a Lambda container), built from the environment on first use
 * and shared by every invocation after it. A failed build is not cached: the next invocation tries
 * again (Redis may be back).
 */
export function processComponents(serviceName: string): Promise<Components> {
  processWide ??= createComponents(configFromEnvironment(), serviceName).catch((error: unknown) => {
    processWide = undefined;
    throw error;
  });
  return processWide;
}

/**
 * The gateway the fan-out posts through in the cloud: API Gateway's management API at
 * `WS_MANAGEMENT_ENDPOINT`. Throws a `ConfigError` when it is not set.
 */
export function createConnectionGateway(config: Config): ConnectionGateway {
  const endpoint = config.realtime.managementEndpoint;
  if (endpoint === undefined) {
    throw new ConfigError([{ variable: 'WS_MANAGEMENT_ENDPOINT', message: 'must be set for the fanout role' }]);
  }
  const credentials = localEndpointCredentials(config, endpoint);
  return new ApiGatewayConnectionGateway({ endpoint, region: config.awsRegion, ...(credentials && { credentials }) });
}
