import { Role } from '../shared/auth/roles.js';
import { HealthResponse } from '../shared/contracts/health.js';
import { HistoryResponse } from '../shared/contracts/history.js';
import { InstrumentListResponse, InstrumentResponse } from '../shared/contracts/instrument.js';
import { KiteOrder } from '../shared/contracts/kite-order.js';
import { ChainResponse, QuotesResponse } from '../shared/contracts/market-snapshot.js';
import {
  CreateOrderRequest,
  CreateOrderResponse,
  DeadLetterListResponse,
  OrderResponse,
  RedriveOrderResponse,
} from '../shared/contracts/order-api.js';
import {
  CreateSubscriptionRequest,
  CreateSubscriptionResponse,
  DeleteSubscriptionResponse,
  SubscriptionListResponse,
  SubscriptionResponse,
  UpdateSubscriptionRequest,
} from '../shared/contracts/subscription.js';
import type { Components } from '../shared/wiring.js';
import { asyncApiUseCase } from './api/asyncapi.js';
import { DeadLetterQuery, listDeadLettersUseCase, redriveOrderUseCase } from './api/dead-letters.js';
import { healthUseCase } from './api/health.js';
import { HistoryQuery, historyUseCase } from './api/history.js';
import { getInstrumentUseCase, listInstrumentsUseCase } from './api/instruments.js';
import { kitePostbackUseCase, PostbackResponse } from './api/kite-postback.js';
import { chainUseCase, quotesUseCase } from './api/market-snapshots.js';
import { type DocumentedRoute, openApiUseCase, type RouteDoc } from './api/openapi.js';
import {
  cancelOrderUseCase,
  createOrderUseCase,
  getOrderUseCase,
  ModifyOrderRequest,
  modifyOrderUseCase,
  OrderChangeResponse,
  TaskIdPath,
} from './api/orders.js';
import type { ProtectedUseCase } from './api/protected.js';
import { guarded } from './api/protected.js';
import { ChainQuery, ListInstrumentsQuery, ListSubscriptionsQuery, QuotesQuery, TokenPath } from './api/schemas.js';
import {
  createSubscriptionUseCase,
  deleteSubscriptionUseCase,
  listSubscriptionsUseCase,
  updateSubscriptionUseCase,
} from './api/subscriptions.js';
import type { HttpUseCase } from './http/http-handler.js';

/** What every REST route has, whoever may call it. */
interface RouteBase extends DocumentedRoute {
  /** API Gateway route path, `{name}` for a path parameter. */
  readonly path: string;
  /** The function's module, relative to the project root; it exports `handler`. */
  readonly entry: string;
  /** The route's OpenAPI description (request and response schemas). */
  readonly doc?: RouteDoc;
}

/**
 * One REST route: what API Gateway routes to which function, who may call it, and the use case
 * the local gateway runs. A public route's use case sees no caller; any other's is given the
 * authenticated caller once {@link routeUseCase} has checked its role.
 */
export type HttpRoute =
  | (RouteBase & { readonly access: 'public'; readonly makeUseCase: (components: Components) => HttpUseCase })
  | (RouteBase & { readonly access: Role; readonly makeUseCase: (components: Components) => ProtectedUseCase });

/** A route's key as API Gateway writes it: `GET /orders/{task_id}`. */
export type RouteKey = `${HttpRoute['method']} ${string}`;

/**
 * The REST route table, shared by the CDK app (one function per entry) and the local gateway
 * (same modules, in process), so cloud and local routing cannot drift. `GET /openapi.json` is
 * generated from this table's `doc`s. Each route's `access` is the role it needs (viewer < trader
 * < admin): the table is the one place that says so, and {@link routeUseCase} the one place that
 * enforces it.
 */
export const httpRoutes: readonly HttpRoute[] = [
  {
    method: 'GET',
    path: '/health',
    access: 'public',
    entry: 'functions/http-health.ts',
    makeUseCase: healthUseCase,
    doc: {
      summary: 'Platform health: ok or degraded, with each dependency',
      responses: { 200: { description: 'The health report (TC-REG-004)', schema: HealthResponse } },
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    access: 'public',
    entry: 'functions/http-openapi.ts',
    makeUseCase: () => openApiUseCase(() => httpRoutes),
  },
  {
    method: 'GET',
    path: '/asyncapi.json',
    access: 'public',
    entry: 'functions/http-asyncapi.ts',
    makeUseCase: asyncApiUseCase,
  },
  {
    method: 'POST',
    path: '/subscriptions',
    access: Role.admin,
    entry: 'functions/http-subscriptions-create.ts',
    makeUseCase: createSubscriptionUseCase,
    doc: {
      summary: 'Subscribe to an instrument (upsert: a repeat updates it)',
      body: CreateSubscriptionRequest,
      responses: { 200: { description: 'Subscribed (TC-REG-002)', schema: CreateSubscriptionResponse } },
    },
  },
  {
    method: 'GET',
    path: '/subscriptions',
    access: Role.viewer,
    entry: 'functions/http-subscriptions-list.ts',
    makeUseCase: listSubscriptionsUseCase,
    doc: {
      summary: 'List subscriptions by token, one page at a time',
      description:
        'Pages are served from memory for up to SUBSCRIPTION_LIST_CACHE_MS (1 s by default): a change shows ' +
        "within that time plus the lag of DynamoDB's status index (about a second). A change made through " +
        'the same process (the local platform) drops its cached pages at once.',
      query: ListSubscriptionsQuery,
      responses: { 200: { description: 'One page (TC-REG-001)', schema: SubscriptionListResponse } },
    },
  },
  {
    method: 'PATCH',
    path: '/subscriptions/{token}',
    access: Role.admin,
    entry: 'functions/http-subscriptions-update.ts',
    makeUseCase: updateSubscriptionUseCase,
    doc: {
      summary: "Change a subscription's status, mode or account",
      path: TokenPath,
      body: UpdateSubscriptionRequest,
      responses: { 200: { description: 'The subscription as it now is', schema: SubscriptionResponse } },
    },
  },
  {
    method: 'DELETE',
    path: '/subscriptions/{token}',
    access: Role.admin,
    entry: 'functions/http-subscriptions-delete.ts',
    makeUseCase: deleteSubscriptionUseCase,
    doc: {
      summary: 'Deactivate a subscription (soft delete: the record stays, inactive)',
      path: TokenPath,
      responses: { 200: { description: 'Deactivated', schema: DeleteSubscriptionResponse } },
    },
  },
  {
    method: 'GET',
    path: '/instruments',
    access: Role.viewer,
    entry: 'functions/http-instruments-list.ts',
    makeUseCase: listInstrumentsUseCase,
    doc: {
      summary: 'Search the instrument registry',
      query: ListInstrumentsQuery,
      responses: { 200: { description: 'One page of matches', schema: InstrumentListResponse } },
    },
  },
  {
    method: 'GET',
    path: '/quotes',
    access: Role.viewer,
    entry: 'functions/http-quotes.ts',
    makeUseCase: quotesUseCase,
    doc: {
      summary: 'Latest tick with Greeks and IV of up to 500 tokens, from the live state',
      query: QuotesQuery,
      responses: {
        200: { description: 'The latest ticks, and the tokens that have none yet', schema: QuotesResponse },
      },
    },
  },
  {
    method: 'GET',
    path: '/chain',
    access: Role.viewer,
    entry: 'functions/http-chain.ts',
    makeUseCase: chainUseCase,
    doc: {
      summary: "One expiry's option chain: every strike's call and put with Greeks, IV and OI",
      description:
        'From the live state, as the fan-out last sent each option. Also the underlying price, the forward, the ATM ' +
        'strike and the time to expiry the Greeks were priced on. Without `expiry`, the nearest that has not expired.',
      query: ChainQuery,
      responses: { 200: { description: 'The chain', schema: ChainResponse } },
    },
  },
  {
    method: 'GET',
    path: '/instruments/{token}',
    access: Role.viewer,
    entry: 'functions/http-instruments-get.ts',
    makeUseCase: getInstrumentUseCase,
    doc: {
      summary: 'One instrument of the registry',
      path: TokenPath,
      responses: { 200: { description: 'The instrument', schema: InstrumentResponse } },
    },
  },
  {
    method: 'GET',
    path: '/history',
    access: Role.viewer,
    entry: 'functions/http-history.ts',
    makeUseCase: historyUseCase,
    doc: {
      summary: 'Historical candles, with Greeks on option candles when greeks=true',
      query: HistoryQuery,
      responses: { 200: { description: 'Candles in time order (TC-REG-003)', schema: HistoryResponse } },
    },
  },
  {
    method: 'POST',
    path: '/orders',
    access: Role.trader,
    entry: 'functions/http-orders-create.ts',
    makeUseCase: createOrderUseCase,
    doc: {
      summary: 'Submit an order task: validated, recorded PENDING and queued for the order worker',
      description:
        'task_id (a UUID) and submitted_at (now) are filled in when absent. A task id that exists is a 409: ' +
        'a resubmission never resets a task. Poll GET /orders/{task_id} for its status. ' +
        'A quantity above the freeze quantity is a 400 unless params.slice is true; then it is placed as up to 10 ' +
        'child orders, each shown in result.slices (more than 10 is a 400 on params.slice).',
      body: CreateOrderRequest,
      responses: { 202: { description: 'Accepted and queued (TC-ORD-001)', schema: CreateOrderResponse } },
    },
  },
  // Before /orders/{task_id}: API Gateway prefers the literal path, the local gateway the first match.
  {
    method: 'GET',
    path: '/orders/dead-letter',
    access: Role.admin,
    entry: 'functions/http-orders-dead-letter-list.ts',
    makeUseCase: listDeadLettersUseCase,
    doc: {
      summary: "The caller's dead-lettered order tasks, newest first, optionally of one error type",
      query: DeadLetterQuery,
      responses: {
        200: { description: 'One page, with attempts and errors (TC-ORD-031)', schema: DeadLetterListResponse },
      },
    },
  },
  {
    method: 'POST',
    path: '/orders/dead-letter/{task_id}/redrive',
    access: Role.admin,
    entry: 'functions/http-orders-dead-letter-redrive.ts',
    makeUseCase: redriveOrderUseCase,
    doc: {
      summary: 'Redrive a dead-lettered order task: onto the orders queue, then back to PENDING',
      description:
        'The message is queued first (moved from the dead-letter queue, or sent from the status record), then the ' +
        'task moves DEAD_LETTER → PENDING. 404 for an unknown task or one of another caller; 409 for a task that is not ' +
        'DEAD_LETTER, or one another redrive moved first (its duplicate message is placed at most once); 503 when ' +
        'the queue refused the message, with the task left DEAD_LETTER.',
      path: TaskIdPath,
      responses: { 202: { description: 'Queued again (TC-ORD-030)', schema: RedriveOrderResponse } },
    },
  },
  {
    method: 'GET',
    path: '/orders/{task_id}',
    access: Role.trader,
    entry: 'functions/http-orders-get.ts',
    makeUseCase: getOrderUseCase,
    doc: {
      summary: "An order task's status record: status, attempts, result, last error",
      path: TaskIdPath,
      responses: { 200: { description: 'The status record (TC-ORD-001 to 003)', schema: OrderResponse } },
    },
  },
  {
    method: 'DELETE',
    path: '/orders/{task_id}',
    access: Role.trader,
    entry: 'functions/http-orders-cancel.ts',
    makeUseCase: cancelOrderUseCase,
    doc: {
      summary: "Cancel the caller's placed order: a cancel_order task is queued",
      description:
        "Idempotent: a repeat answers with the same cancel task. 404 for an unknown task or another caller's; " +
        '409 when the order is not placed yet, was never placed, or is finished at the broker. ' +
        "The placing task's result shows CANCELLED once the broker confirms. " +
        'A sliced order: one cancel task per open child, listed in slices.',
      path: TaskIdPath,
      responses: { 202: { description: 'The cancel task is queued', schema: OrderChangeResponse } },
    },
  },
  {
    method: 'PATCH',
    path: '/orders/{task_id}',
    access: Role.trader,
    entry: 'functions/http-orders-modify.ts',
    makeUseCase: modifyOrderUseCase,
    doc: {
      summary: "Modify the caller's placed order (price, quantity, trigger price, type): a modify_order task is queued",
      description:
        "Idempotent for the same body. 404 for an unknown task or another caller's; 409 as for DELETE. " +
        'A sliced order: one modify task per open child; quantity cannot be modified (400 naming quantity).',
      path: TaskIdPath,
      body: ModifyOrderRequest,
      responses: { 202: { description: 'The modify task is queued', schema: OrderChangeResponse } },
    },
  },
  {
    method: 'POST',
    path: '/kite/postback',
    access: 'public',
    entry: 'functions/http-kite-postback.ts',
    makeUseCase: kitePostbackUseCase,
    doc: {
      summary: "Kite's order postback: verified by its checksum and merged into the order's task",
      description:
        "Register this URL as the app's postback URL on Kite. No token: the checksum (SHA-256 of order_id + " +
        'order_timestamp + api_secret of a configured account) authenticates it; a bad one is a 401.',
      body: KiteOrder,
      responses: { 200: { description: 'Accepted', schema: PostbackResponse } },
    },
  },
];

/** The route of `key` (`GET /orders/{task_id}`); throws a `RangeError` for a key the table lacks. */
export function httpRoute(key: RouteKey): HttpRoute {
  const route = httpRoutes.find((r) => `${r.method} ${r.path}` === key);
  if (route === undefined) throw new RangeError(`No REST route ${key} in the route table`);
  return route;
}

/**
 * The use case a gateway runs for `route` (a Lambda of its own, or the local gateway): a public
 * route's as it is, any other's behind {@link guarded}, which authenticates, throttles and checks
 * the route's role before the use case runs.
 */
export function routeUseCase(components: Components, route: HttpRoute): HttpUseCase {
  return route.access === 'public'
    ? route.makeUseCase(components)
    : guarded(components, route.access, route.makeUseCase(components));
}
