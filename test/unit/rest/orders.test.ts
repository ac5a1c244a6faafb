import { describe, expect, it } from 'vitest';
import {
  createOrderUseCase,
  getOrderUseCase,
  listDeadLettersUseCase,
  redriveOrderUseCase,
} from '../../../functions/api/orders.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { OrderTask } from '../../../shared/contracts/order.js';
import {
  CreateOrderResponse,
  DeadLetterListResponse,
  OrderResponse,
  RedriveOrderResponse,
} from '../../../shared/contracts/order-api.js';
import { tagError } from '../../../shared/domain/orders/order-status.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { OrderStore } from '../../../shared/ports/orders.js';
import { orderTask } from '../../support/order-queue-contract.js';
import { call, fakeComponents, listedOption, principalOfApiKey } from './fake-components.js';

/** A NIFTY call the mock registry lists on the fake clock's day (lot 65). */
const OPTION = listedOption('NIFTY', 'CE');

/** Who `call` authenticates as (its default API key): the owner of every order these tests place. */
const CALLER = principalOfApiKey('test-key');

const PLACE = {
  idempotency_key: 'key-1',
  account_id: 'paper',
  operation: 'place_order',
  params: {
    exchange: 'NFO',
    tradingsymbol: OPTION.tradingsymbol,
    transaction_type: 'BUY',
    quantity: OPTION.lotSize,
    product: 'NRML',
    order_type: 'MARKET',
  },
};

function post(components: ReturnType<typeof fakeComponents>['components'], body: unknown) {
  return call(createOrderUseCase(components), {
    method: 'POST',
    path: '/orders',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * Moves a task of the caller through the worker's transitions to DEAD_LETTER with an error of
 * `type`, as the worker records it.
 */
async function deadLetter(store: OrderStore, taskId: string, type: string, at: number) {
  await store.create(orderTask(taskId, { owner: CALLER }), at);
  await store.transition(taskId, 'RUNNING', {}, at + 1);
  await store.transition(
    taskId,
    'DEAD_LETTER',
    {
      attempt: { attempt: 1, at: at + 2, error: { type, message: `${type} failure`, retryable: false } },
      lastError: tagError(type, `${type} failure`),
    },
    at + 3,
  );
}

describe('POST /orders', () => {
  it('TC-ORD-001: records the task PENDING, queues it and answers 202 with a generated task_id', async () => {
    const { components, clock, orders, orderQueues } = fakeComponents();
    const response = await post(components, PLACE);
    expect(response.status).toBe(202);
    const body = CreateOrderResponse.parse(response.body);
    expect(body).toMatchObject({ message: 'Order accepted', status: 'PENDING', paper: true });
    expect(body.task_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.location).toBe(`/orders/${body.task_id}`);

    const record = await orders.get(body.task_id);
    expect(record?.status).toBe('PENDING');
    expect(record?.task.submitted_at).toBe(new Date(clock.now()).toISOString());
    const queued = orderQueues.main.peek();
    expect(queued).toHaveLength(1);
    expect(OrderTask.parse(JSON.parse(queued[0]?.body ?? ''))).toEqual(record?.task);
    // The caller owns it, whatever the body says.
    expect(record?.task.owner).toBe(CALLER);
  });

  it('takes the owner from the caller, never from the body', async () => {
    const { components, orders } = fakeComponents();
    const response = await post(components, { ...PLACE, task_id: 'owned-1', owner: 'someone-else' });
    expect(response.status).toBe(202);
    expect((await orders.get('owned-1'))?.task.owner).toBe(CALLER);
  });

  it('keeps a given task_id and submitted_at', async () => {
    const { components, orders } = fakeComponents();
    const response = await post(components, { ...PLACE, task_id: 'ord-1', submitted_at: '2025-01-08T03:45:00.000Z' });
    expect(response.status).toBe(202);
    expect(response.body.task_id).toBe('ord-1');
    expect((await orders.get('ord-1'))?.task.submitted_at).toBe('2025-01-08T03:45:00.000Z');
  });

  it('answers 400 naming the field for input the order contract refuses, and queues nothing', async () => {
    const { components, orderQueues } = fakeComponents();
    const cases: [unknown, string][] = [
      [{ ...PLACE, params: { ...PLACE.params, quantity: 0 } }, 'params.quantity'],
      [{ ...PLACE, params: { ...PLACE.params, order_type: 'LIMIT' } }, 'params.price'],
      [{ ...PLACE, operation: 'launch_rocket' }, 'operation'],
      [{ ...PLACE, idempotency_key: undefined }, 'idempotency_key'],
      [{ ...PLACE, task_id: 'has/slash' }, 'task_id'],
      [{ ...PLACE, submitted_at: 'yesterday' }, 'submitted_at'],
      ['{"operation":', '(body)'],
      ['[1,2]', '(body)'],
    ];
    for (const [body, path] of cases) {
      const response = await post(components, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = ApiErrorResponse.parse(response.body).error;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details?.map((d) => d.path)).toContain(path);
    }
    expect(orderQueues.main.peek()).toEqual([]);
  });

  it('answers 409 for a task_id that exists, without resetting the task or queueing it again', async () => {
    const { components, orders, orderQueues } = fakeComponents();
    expect((await post(components, { ...PLACE, task_id: 'dup-1' })).status).toBe(202);
    await orders.transition('dup-1', 'RUNNING', {}, components.clock.now());
    const again = await post(components, { ...PLACE, task_id: 'dup-1', idempotency_key: 'other' });
    expect(again.status).toBe(409);
    expect(ApiErrorResponse.parse(again.body).error.code).toBe('CONFLICT');
    expect((await orders.get('dup-1'))?.status).toBe('RUNNING');
    expect(orderQueues.main.peek()).toHaveLength(1);
  });

  it('pins orders to a configured Kite account: another account is a 400, and responses say live, not paper', async () => {
    const { components } = fakeComponents({ env: { KITE_ACCOUNTS: 'acc1:key1:token1', ENABLE_MOCK_DATA: 'true' } });
    const unknown = await post(components, { ...PLACE, account_id: 'acc2' });
    expect(unknown.status).toBe(400);
    expect(ApiErrorResponse.parse(unknown.body).error.details?.[0]?.path).toBe('account_id');
    const known = await post(components, { ...PLACE, account_id: 'acc1' });
    expect(known.status).toBe(202);
    expect(known.body.paper).toBe(false);
  });

  it('dead-letters a task the queue refused (503), so it is listed and can be redriven, never lost', async () => {
    const { components, orders, orderQueues } = fakeComponents();
    const failing = {
      ...components,
      orderQueue: {
        enqueue: () => Promise.reject(new DependencyUnavailableError('sqs', 'SQS is unavailable')),
        redrive: () => Promise.reject(new DependencyUnavailableError('sqs', 'SQS is unavailable')),
      },
    };
    const response = await post(failing, { ...PLACE, task_id: 'unqueued' });
    expect(response.status).toBe(503);
    const record = await orders.get('unqueued');
    expect(record?.status).toBe('DEAD_LETTER');
    const listed = await call(listDeadLettersUseCase(components), { query: { error_type: 'queue-unavailable' } });
    expect(DeadLetterListResponse.parse(listed.body).dead_letters.map((d) => d.task_id)).toEqual(['unqueued']);
    // Once the queue is back, a redrive queues it from its status record.
    const redriven = await call(redriveOrderUseCase(components), {
      method: 'POST',
      pathParameters: { task_id: 'unqueued' },
    });
    expect(RedriveOrderResponse.parse(redriven.body).source).toBe('status-record');
    expect(orderQueues.main.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['unqueued']);
  });

  it('refuses callers without credentials', async () => {
    const { components } = fakeComponents();
    const response = await call(createOrderUseCase(components), {
      method: 'POST',
      headers: { 'x-api-key': '' },
      body: JSON.stringify(PLACE),
    });
    expect(response.status).toBe(401);
  });
});

describe('GET /orders/{task_id}', () => {
  it('answers the status record with attempts, errors and timestamps', async () => {
    const { components, orders } = fakeComponents();
    await deadLetter(orders, 'failed-1', 'timeout', Date.UTC(2025, 0, 8, 4));
    const response = await call(getOrderUseCase(components), { pathParameters: { task_id: 'failed-1' } });
    expect(response.status).toBe(200);
    const { order } = OrderResponse.parse(response.body);
    expect(order).toMatchObject({
      task_id: 'failed-1',
      status: 'DEAD_LETTER',
      operation: 'place_order',
      account_id: 'paper',
      error_type: 'timeout',
      last_error: '[timeout] timeout failure',
      result: null,
      created_at: '2025-01-08T04:00:00.000Z',
      updated_at: '2025-01-08T04:00:00.003Z',
      paper: true,
    });
    expect(order.attempts).toEqual([
      {
        attempt: 1,
        at: '2025-01-08T04:00:00.002Z',
        error: { type: 'timeout', message: 'timeout failure', retryable: false },
      },
    ]);
  });

  it('answers 404 for an unknown task and 400 for an id that cannot be one', async () => {
    const { components } = fakeComponents();
    const get = getOrderUseCase(components);
    expect((await call(get, { pathParameters: { task_id: 'nope' } })).status).toBe(404);
    expect((await call(get, { pathParameters: { task_id: 'a b' } })).status).toBe(400);
  });
});

describe('GET /orders/dead-letter', () => {
  it('TC-ORD-031: returns every dead-lettered task with ids, errors and timestamps, newest first, filtered by error type', async () => {
    const { components, orders } = fakeComponents();
    const t0 = Date.UTC(2025, 0, 8, 4);
    await deadLetter(orders, 'dl-timeout-1', 'timeout', t0);
    await deadLetter(orders, 'dl-input-1', 'input', t0 + 1000);
    await deadLetter(orders, 'dl-timeout-2', 'timeout', t0 + 2000);
    await deadLetter(orders, 'dl-margin-1', 'margin', t0 + 3000);
    await orders.create(orderTask('still-pending', { owner: CALLER }), t0);
    const list = listDeadLettersUseCase(components);

    const all = DeadLetterListResponse.parse((await call(list)).body);
    expect(all.dead_letters.map((d) => d.task_id)).toEqual([
      'dl-margin-1',
      'dl-timeout-2',
      'dl-input-1',
      'dl-timeout-1',
    ]);
    expect(all.next_cursor).toBeNull();
    for (const d of all.dead_letters) {
      expect(d.status).toBe('DEAD_LETTER');
      expect(d.last_error).toMatch(/^\[\w+\] /);
      expect(d.attempts.at(-1)?.error?.type).toBe(d.error_type);
      expect(Date.parse(d.updated_at)).toBeGreaterThan(Date.parse(d.created_at));
    }

    const timeouts = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'timeout' } })).body);
    expect(timeouts.dead_letters.map((d) => d.task_id)).toEqual(['dl-timeout-2', 'dl-timeout-1']);
    expect(timeouts.dead_letters.every((d) => d.error_type === 'timeout')).toBe(true);
    const none = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'token' } })).body);
    expect(none.dead_letters).toEqual([]);
  });

  it('TC-ORD-031: pages with limit and cursor without losing or repeating a dead letter', async () => {
    const { components, orders } = fakeComponents();
    const t0 = Date.UTC(2025, 0, 8, 4);
    for (let i = 0; i < 7; i++) await deadLetter(orders, `page-${i}`, i % 2 === 0 ? 'network' : 'input', t0 + i * 100);
    const list = listDeadLettersUseCase(components);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: '3', ...(cursor !== null && { cursor }) };
      const page = DeadLetterListResponse.parse((await call(list, { query })).body);
      expect(page.dead_letters.length).toBeLessThanOrEqual(3);
      seen.push(...page.dead_letters.map((d) => d.task_id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(['page-6', 'page-5', 'page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
  });

  it('answers 400 for a bad limit, error type or cursor', async () => {
    const { components } = fakeComponents();
    const list = listDeadLettersUseCase(components);
    for (const query of [
      { limit: '0' },
      { limit: '1001' },
      { limit: 'ten' },
      { error_type: 'NOT A TYPE' },
      { cursor: 'forged' },
    ] as Record<string, string>[]) {
      const response = await call(list, { query });
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(ApiErrorResponse.parse(response.body).error.details?.[0]?.path).toBe(Object.keys(query)[0]);
    }
  });
});

describe('POST /orders/dead-letter/{task_id}/redrive', () => {
  it('moves the task back to PENDING and its message from the dead-letter queue to the orders queue', async () => {
    const { components, orders, orderQueues, clock } = fakeComponents();
    await deadLetter(orders, 'redrive-1', 'network', clock.now());
    orderQueues.deadLetter.send(JSON.stringify(orderTask('other')));
    orderQueues.deadLetter.send(JSON.stringify(orderTask('redrive-1')));
    clock.advance(60_000);
    const redrive = redriveOrderUseCase(components);
    const response = await call(redrive, { method: 'POST', pathParameters: { task_id: 'redrive-1' } });
    expect(response.status).toBe(202);
    expect(RedriveOrderResponse.parse(response.body)).toEqual({
      message: 'Order redriven',
      task_id: 'redrive-1',
      status: 'PENDING',
      source: 'dead-letter-queue',
    });
    const record = await orders.get('redrive-1');
    expect(record?.status).toBe('PENDING');
    expect(record?.redrivenAt).toBe(clock.now());
    expect(record?.attempts).toHaveLength(1);
    expect(orderQueues.main.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['redrive-1']);
    expect(orderQueues.deadLetter.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['other']);

    // A second redrive finds it PENDING: 409, and nothing is queued twice.
    const again = await call(redrive, { method: 'POST', pathParameters: { task_id: 'redrive-1' } });
    expect(again.status).toBe(409);
    expect(orderQueues.main.peek()).toHaveLength(1);
  });

  it('answers 404 for an unknown task and 409 for one that is not dead-lettered', async () => {
    const { components, orders } = fakeComponents();
    await orders.create(orderTask('pending-1', { owner: CALLER }), components.clock.now());
    const redrive = redriveOrderUseCase(components);
    expect((await call(redrive, { method: 'POST', pathParameters: { task_id: 'nope' } })).status).toBe(404);
    const pending = await call(redrive, { method: 'POST', pathParameters: { task_id: 'pending-1' } });
    expect(pending.status).toBe(409);
    expect(ApiErrorResponse.parse(pending.body).error.message).toContain('PENDING');
  });
});
