import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyTag, KiteBroker } from '../../shared/adapters/kite/kite-broker.js';
import { KiteApiError, KiteRestClient } from '../../shared/adapters/kite/kite-rest-client.js';
import { MemoryRateBudget } from '../../shared/adapters/memory/memory-rate-budget.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import type { OrderTask } from '../../shared/contracts/order.js';
import { KiteRateLimits } from '../../shared/domain/kite/rate-limiter.js';
import { classifyOrderError } from '../../shared/domain/orders/order-errors.js';
import { createLogger } from '../../shared/logging.js';
import { BrokerError, type BrokerErrorKind } from '../../shared/ports/broker.js';
import {
  FAKE_KITE_LAST_PRICE,
  type KiteRestFault,
  startKiteRestServer,
} from '../support/kite-rest/kite-rest-server.js';
import { placeOrderTask } from '../support/order-fixtures.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const API_KEY = 'brokerKey';
const ACCOUNT = 'ZX1234';
let server: Awaited<ReturnType<typeof startKiteRestServer>>;
/** One budget for the file's clients, as one process shares Kite's limits. */
const budget = new MemoryRateBudget({ budgets: KiteRateLimits });
let taskSeq = 0;

/** A Kite broker over the real kiteconnect client, pointed at the fake; `timeoutMs` is the client's per-request timeout. */
function broker(timeoutMs = 2000): KiteBroker {
  return new KiteBroker({
    client: new KiteRestClient({
      accountId: ACCOUNT,
      apiKey: API_KEY,
      accessToken: 'brokerToken',
      root: server.root,
      timeoutMs,
      clock: new SystemClock(),
      budget,
      logger,
    }),
  });
}

/** A fresh place_order task (its own idempotency key); `params` replace the fixture's. */
function placeTask(params: Partial<Extract<OrderTask, { operation: 'place_order' }>['params']> = {}): OrderTask {
  const base = placeOrderTask(`kite-${++taskSeq}`, { account_id: ACCOUNT });
  if (base.operation !== 'place_order') throw new Error('the fixture is a place_order task');
  return { ...base, params: { ...base.params, ...params } };
}

function changeTask(
  operation: 'modify_order' | 'cancel_order',
  orderId: string,
  extra: { price?: number } = {},
): OrderTask {
  const common = {
    task_id: `kite-${++taskSeq}`,
    idempotency_key: `key-kite-${taskSeq}`,
    account_id: ACCOUNT,
    submitted_at: '2025-01-08T09:15:00+05:30',
  };
  return operation === 'modify_order'
    ? { ...common, operation, params: { variety: 'regular', order_id: orderId, ...extra } }
    : { ...common, operation, params: { variety: 'regular', order_id: orderId } };
}

/** A resting LIMIT buy below the last price, so it stays OPEN for modify and cancel. */
const restingLimit = { order_type: 'LIMIT', price: FAKE_KITE_LAST_PRICE - 10 } as const;

const book = () => server.orders(API_KEY);
const requestsTo = (method: string, path: RegExp, since: number) =>
  server.requests.slice(since).filter((r) => r.method === method && path.test(r.path));

beforeAll(async () => {
  server = await startKiteRestServer({ accounts: { [API_KEY]: 'brokerToken' } });
});
afterAll(async () => {
  await server.stop();
});

describe('KiteBroker', () => {
  it('places an order through kiteconnect, tagged with the idempotency key, and returns Kite’s order id', async () => {
    const task = placeTask();
    const before = server.requests.length;
    const result = await broker().execute(task, { attempt: 1 });
    expect(result).toEqual({ orderId: expect.stringMatching(/^ORD\d+$/), paper: false, status: 'PLACED' });
    expect(requestsTo('POST', /^\/orders\/regular$/, before)).toHaveLength(1);
    // A first attempt places without reading the order book.
    expect(requestsTo('GET', /^\/orders$/, before)).toHaveLength(0);
    const placed = book().find((o) => o.order_id === result.orderId);
    expect(placed).toMatchObject({
      tradingsymbol: 'NIFTY26JAN24000CE',
      exchange: 'NFO',
      transaction_type: 'BUY',
      quantity: 65,
      product: 'NRML',
      order_type: 'MARKET',
      variety: 'regular',
      tag: idempotencyTag(task.idempotency_key),
      status: 'COMPLETE',
    });
    expect(idempotencyTag(task.idempotency_key)).toMatch(/^k[0-9a-f]{19}$/);
  });

  it('uses the task’s own tag when it has one', async () => {
    const result = await broker().execute(placeTask({ tag: 'strategy7' }));
    expect(book().find((o) => o.order_id === result.orderId)?.tag).toBe('strategy7');
  });

  it('modifies an open order with PUT /orders/{variety}/{order_id}', async () => {
    const placed = await broker().execute(placeTask(restingLimit));
    const before = server.requests.length;
    const result = await broker().execute(changeTask('modify_order', placed.orderId, { price: 95.25 }));
    expect(result).toEqual({ orderId: placed.orderId, paper: false, status: 'MODIFIED' });
    expect(requestsTo('PUT', new RegExp(`^/orders/regular/${placed.orderId}$`), before)).toHaveLength(1);
    expect(book().find((o) => o.order_id === placed.orderId)).toMatchObject({ price: 95.25, status: 'OPEN' });
  });

  it('cancels an open order with DELETE /orders/{variety}/{order_id}: an acknowledgement, not yet a status', async () => {
    const placed = await broker().execute(placeTask(restingLimit));
    const before = server.requests.length;
    const result = await broker().execute(changeTask('cancel_order', placed.orderId));
    // Kite answers the id alone; CANCELLED is learnt from the postback, the order frame or the book.
    expect(result).toEqual({ orderId: placed.orderId, paper: false, status: 'CANCEL REQUESTED' });
    expect(requestsTo('DELETE', new RegExp(`^/orders/regular/${placed.orderId}$`), before)).toHaveLength(1);
    expect(book().find((o) => o.order_id === placed.orderId)?.status).toBe('CANCELLED');
  });

  it('answers a change to a finished or unknown order with a non-retryable input error', async () => {
    const filled = await broker().execute(placeTask());
    const modify = await broker()
      .execute(changeTask('modify_order', filled.orderId, { price: 99 }))
      .catch((e: unknown) => e);
    expect(modify).toMatchObject({ name: 'BrokerError', kind: 'input', retryable: false });
    expect((modify as BrokerError).message).toMatch(/OrderException/);
    const unknown = await broker()
      .execute(changeTask('cancel_order', 'ORD-NOPE'))
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ name: 'BrokerError', kind: 'input', retryable: false });
    expect((unknown as BrokerError).message).toMatch(/InputException/);
  });

  it('refuses a task of another account without calling Kite', async () => {
    const before = server.requests.length;
    const error = await broker()
      .execute({ ...placeTask(), account_id: 'OTHER' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'input', retryable: false });
    expect(server.requests.length).toBe(before);
  });

  describe('error classification', () => {
    const kiteError = (errorType: string, message: string) => ({ status: 'error', message, error_type: errorType });
    const cases: readonly {
      readonly name: string;
      readonly fault: KiteRestFault;
      readonly kind: BrokerErrorKind;
      readonly retryable: boolean;
    }[] = [
      {
        name: '403 TokenException',
        fault: {
          kind: 'status',
          status: 403,
          body: kiteError('TokenException', 'Incorrect `api_key` or `access_token`.'),
        },
        kind: 'token',
        retryable: false,
      },
      {
        name: '400 InputException',
        fault: { kind: 'status', status: 400, body: kiteError('InputException', 'Invalid `quantity`.') },
        kind: 'input',
        retryable: false,
      },
      {
        name: '400 OrderException',
        fault: { kind: 'status', status: 400, body: kiteError('OrderException', 'Order rejected by RMS.') },
        kind: 'input',
        retryable: false,
      },
      {
        name: '400 MarginException',
        fault: { kind: 'status', status: 400, body: kiteError('MarginException', 'Insufficient funds.') },
        kind: 'margin',
        retryable: false,
      },
      {
        name: '403 PermissionException',
        fault: { kind: 'status', status: 403, body: kiteError('PermissionException', 'Not allowed for this user.') },
        kind: 'permission',
        retryable: false,
      },
      {
        name: '503 NetworkException',
        fault: { kind: 'status', status: 503, body: kiteError('NetworkException', 'Gateway is unavailable.') },
        kind: 'network',
        retryable: true,
      },
      {
        name: '429 NetworkException (Too many requests)',
        fault: { kind: 'status', status: 429, body: kiteError('NetworkException', 'Too many requests') },
        kind: 'rate-limited',
        retryable: true,
      },
      {
        name: '429 without a Kite body',
        fault: { kind: 'status', status: 429, body: 'slow down' },
        kind: 'rate-limited',
        retryable: true,
      },
      {
        name: '500 GeneralException',
        fault: { kind: 'status', status: 500, body: kiteError('GeneralException', 'Something went wrong.') },
        kind: 'server',
        retryable: true,
      },
      {
        name: '502 without a Kite body',
        fault: { kind: 'status', status: 502, body: '<html>Bad Gateway</html>' },
        kind: 'network',
        retryable: true,
      },
    ];

    for (const c of cases) {
      it(`classifies a ${c.name} on placement as ${c.kind} (${c.retryable ? 'retried' : 'not retried'})`, async () => {
        // A 429 is sent again for up to Kite's second (KiteRestClient); one that lasts is the error.
        server.inject(/^\/orders\/regular$/, c.fault, c.kind === 'rate-limited' ? 11 : 1, API_KEY);
        const before = book().length;
        const error = await broker()
          .execute(placeTask())
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BrokerError);
        expect(error).toMatchObject({ kind: c.kind, retryable: c.retryable });
        expect((error as BrokerError).cause).toBeInstanceOf(KiteApiError);
        // The worker acts on it the same way: retried failures also count toward the breaker.
        expect(classifyOrderError(error)).toMatchObject({
          type: c.kind,
          retryable: c.retryable,
          tripsBreaker: c.retryable,
        });
        expect(book().length).toBe(before);
      });
    }

    it('classifies a request that gets no answer as a retryable timeout', async () => {
      server.inject(/^\/orders\/regular$/, { kind: 'hang' }, 1, API_KEY);
      const error = await broker(200)
        .execute(placeTask())
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'BrokerError', kind: 'timeout', retryable: true });
    });
  });

  describe('the tag check on retry', () => {
    it('finds an order whose placement timed out but reached Kite, and does not place it twice', async () => {
      const task = placeTask();
      const tag = idempotencyTag(task.idempotency_key);
      const before = server.requests.length;
      server.inject(/^\/orders\/regular$/, { kind: 'apply-then-hang' }, 1, API_KEY);
      const first = await broker(200)
        .execute(task, { attempt: 1 })
        .catch((e: unknown) => e);
      expect(first).toMatchObject({ kind: 'timeout', retryable: true });
      const reached = book().filter((o) => o.tag === tag);
      expect(reached).toHaveLength(1);

      const retry = await broker().execute(task, { attempt: 2 });
      expect(retry).toMatchObject({
        orderId: reached[0]?.order_id,
        paper: false,
        status: 'COMPLETE',
        averagePrice: FAKE_KITE_LAST_PRICE,
      });
      expect(requestsTo('POST', /^\/orders\/regular$/, before)).toHaveLength(1);
      expect(requestsTo('GET', /^\/orders$/, before)).toHaveLength(1);
      expect(book().filter((o) => o.tag === tag)).toHaveLength(1);
    });

    it('places on retry when the earlier call never reached Kite', async () => {
      const task = placeTask();
      const tag = idempotencyTag(task.idempotency_key);
      server.inject(/^\/orders\/regular$/, { kind: 'hang' }, 1, API_KEY);
      await expect(broker(200).execute(task, { attempt: 1 })).rejects.toMatchObject({ kind: 'timeout' });
      expect(book().filter((o) => o.tag === tag)).toHaveLength(0);
      const retry = await broker().execute(task, { attempt: 2 });
      expect(
        book()
          .filter((o) => o.tag === tag)
          .map((o) => o.order_id),
      ).toEqual([retry.orderId]);
    });

    it('reports an earlier order Kite rejected as an input error instead of placing another', async () => {
      const task = placeTask();
      const tag = idempotencyTag(task.idempotency_key);
      server.inject(/^\/orders\/regular$/, { kind: 'apply-then-hang' }, 1, API_KEY);
      await expect(broker(200).execute(task, { attempt: 1 })).rejects.toMatchObject({ kind: 'timeout' });
      const earlier = book().find((o) => o.tag === tag);
      if (!earlier) throw new Error('the placement should have reached the fake');
      earlier.status = 'REJECTED';
      const before = server.requests.length;
      await expect(broker().execute(task, { attempt: 2 })).rejects.toMatchObject({ kind: 'input', retryable: false });
      expect(requestsTo('POST', /^\/orders\/regular$/, before)).toHaveLength(0);
    });

    it('finds a cancel that timed out but reached Kite already done, and sends no second DELETE', async () => {
      const placed = await broker().execute(placeTask(restingLimit));
      const task = changeTask('cancel_order', placed.orderId);
      server.inject(new RegExp(`^/orders/regular/${placed.orderId}$`), { kind: 'apply-then-hang' }, 1, API_KEY);
      await expect(broker(200).execute(task, { attempt: 1 })).rejects.toMatchObject({ kind: 'timeout' });
      const before = server.requests.length;
      const retry = await broker().execute(task, { attempt: 2 });
      expect(retry).toEqual({ orderId: placed.orderId, paper: false, status: 'CANCELLED' });
      expect(requestsTo('DELETE', /^\/orders\//, before)).toHaveLength(0);
    });
  });
});
