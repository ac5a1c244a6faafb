import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { HttpUseCase } from '../../../functions/http/http-handler.js';
import { httpHandler } from '../../../functions/http/http-handler.js';
import { type HttpRoute, httpRoutes, routeUseCase } from '../../../functions/routes.js';
import { createLocalOrderQueues, LocalOrderQueue } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryConnectionStore } from '../../../shared/adapters/memory/memory-connection-store.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { MemoryOrderStore } from '../../../shared/adapters/memory/memory-order-store.js';
import { MemoryRateBudget } from '../../../shared/adapters/memory/memory-rate-budget.js';
import { MemorySubscriptionStore } from '../../../shared/adapters/memory/memory-subscription-store.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { ApiKeyVerifier, apiKeyDigest } from '../../../shared/auth/api-keys.js';
import { ownerIdOfSubject } from '../../../shared/auth/owner.js';
import { loadConfig } from '../../../shared/config.js';
import { KiteRateLimits } from '../../../shared/domain/kite/rate-limiter.js';
import { istDate } from '../../../shared/domain/market/calendar-dates.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { createLogger } from '../../../shared/logging.js';
import { MockMarketData } from '../../../shared/market-data/mock-market-data.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import type { Components } from '../../../shared/wiring.js';

/** Where the fake clock starts: a weekday session, 2025-01-08 11:30 IST. */
export const FAKE_CLOCK_START_MS = Date.UTC(2025, 0, 8, 6, 0, 0);

/**
 * An option the mock registry lists on the fake clock's day (its contracts roll with the date, so a
 * fixed symbol would stop being listed and POST /orders would refuse it): the nearest expiry's
 * contract of `name` at `strike`.
 */
export function listedOption(
  name: 'NIFTY' | 'BANKNIFTY' = 'NIFTY',
  kind: 'CE' | 'PE' = 'CE',
  strike?: number,
): Instrument {
  const chain = mockInstruments({ anchorDate: istDate(FAKE_CLOCK_START_MS) })
    .filter((i) => i.name === name && i.instrumentType === kind)
    .sort((a, b) => (a.expiry ?? '').localeCompare(b.expiry ?? ''));
  const wanted = strike ?? (name === 'NIFTY' ? 24_000 : 52_000);
  const option = chain.find((i) => i.strike === wanted);
  if (option === undefined) throw new RangeError(`The mock registry lists no ${name} ${wanted} ${kind}`);
  return option;
}

/** The principal id (and so the order owner) of a caller using API key `key`. */
export function principalOfApiKey(key: string): string {
  const match = new ApiKeyVerifier([{ sha256: apiKeyDigest(key), role: 'admin' }]).verify(key);
  if (match === undefined) throw new Error('an API key always verifies against itself');
  return match.id;
}

/**
 * The use case `makeUseCase` builds, as its route of the route table serves it: behind the same
 * guard (authentication, throttling, the route's role) as every gateway puts it.
 */
export function routed(makeUseCase: HttpRoute['makeUseCase'], components: Components): HttpUseCase {
  const route = httpRoutes.find((r) => r.makeUseCase === makeUseCase);
  if (route === undefined) throw new RangeError('no route of the route table builds this use case');
  return routeUseCase(components, route);
}

/** The principal id (and so the order owner) of a caller whose JWT has subject `subject`. */
export function principalOfSubject(subject: string): string {
  return ownerIdOfSubject(subject);
}

/** Components on memory adapters and a manual clock (a weekday session: 2025-01-08 11:30 IST). */
export function fakeComponents(
  options: { env?: Record<string, string>; loadInstruments?: () => Promise<readonly Instrument[]> } = {},
) {
  const config = loadConfig({ LOG_LEVEL: 'SILENT', API_KEYS: 'test-key', ...options.env });
  const clock = new ManualClock(FAKE_CLOCK_START_MS);
  const bus = new MemoryTickBus();
  const state = new MemoryLiveStateStore();
  const subscriptions = new MemorySubscriptionStore();
  const orders = new MemoryOrderStore();
  const orderQueues = createLocalOrderQueues({ clock, maxReceiveCount: 5 });
  const loadInstruments =
    options.loadInstruments ?? (async () => mockInstruments({ anchorDate: istDate(clock.now()) }));
  const components: Components = {
    config,
    logger: createLogger('test', config),
    clock,
    bus,
    state,
    subscriptions,
    connections: new MemoryConnectionStore({ clock }),
    dynamodb: undefined as unknown as DynamoDBClient,
    checkDatabase: async () => {},
    loadInstruments,
    kiteBudget: new MemoryRateBudget({ budgets: KiteRateLimits }),
    marketData: new MockMarketData({
      instruments: loadInstruments,
      seed: 42,
      rate: 0.1,
      dividendYield: 0,
      now: () => clock.now(),
    }),
    orders,
    orderQueue: new LocalOrderQueue(orderQueues),
    localOrderQueues: orderQueues,
    close: async () => {},
  };
  return { components, clock, bus, state, subscriptions, orders, orderQueues };
}

/** Calls `useCase` as API Gateway would, returning status, headers and the parsed body. */
export async function call(
  useCase: HttpUseCase,
  request: {
    method?: string;
    path?: string;
    query?: Record<string, string>;
    pathParameters?: Record<string, string>;
    headers?: Record<string, string>;
    body?: string;
  } = {},
) {
  const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
  const event = {
    version: '2.0',
    routeKey: `${request.method ?? 'GET'} ${request.path ?? '/'}`,
    rawPath: request.path ?? '/',
    rawQueryString: '',
    headers: { 'x-api-key': 'test-key', ...request.headers },
    ...(request.query && { queryStringParameters: request.query }),
    ...(request.pathParameters && { pathParameters: request.pathParameters }),
    ...(request.body !== undefined && { body: request.body }),
    isBase64Encoded: false,
    requestContext: { requestId: 'req', http: { method: request.method ?? 'GET', path: request.path ?? '/' } },
  } as unknown as APIGatewayProxyEventV2;
  const result = await httpHandler(logger, useCase)(event, { awsRequestId: 'req' } as Context);
  return { status: result.statusCode ?? 0, headers: result.headers ?? {}, body: JSON.parse(result.body ?? 'null') };
}
