import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { listDeadLettersUseCase, redriveOrderUseCase } from '../../../functions/api/dead-letters.js';
import { createOrderUseCase, getOrderUseCase } from '../../../functions/api/orders.js';
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
import { call, fakeComponents, listedOption, principalOfApiKey, routed } from './fake-components.js';

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
  return call(routed(createOrderUseCase, components), {
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
    // The caller's own order (what REST records as its owner), so its dead-letter listing shows it.
    const owner = `key-${createHash('sha256').update('test-key').digest('hex').slice(0, 16)}`;
    const response = await post(failing, { ...PLACE, task_id: 'unqueued', owner });
    expect(response.status).toBe(503);
    const record = await orders.get('unqueued');
    expect(record?.status).toBe('DEAD_LETTER');
    const listed = await call(routed(listDeadLettersUseCase, components), {
      query: { error_type: 'queue-unavailable' },
    });
    expect(DeadLetterListResponse.parse(listed.body).dead_letters.map((d) => d.task_id)).toEqual(['unqueued']);
    // Once the queue is back, a redrive queues it from its status record.
    const redriven = await call(routed(redriveOrderUseCase, components), {
      method: 'POST',
      pathParameters: { task_id: 'unqueued' },
    });
    expect(RedriveOrderResponse.parse(redriven.body).source).toBe('status-record');
    expect(orderQueues.main.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['unqueued']);
  });

  it('refuses callers without credentials', async () => {
    const { components } = fakeComponents();
    const response = await call(routed(createOrderUseCase, components), {
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
    const response = await call(routed(getOrderUseCase, components), { pathParameters: { task_id: 'failed-1' } });
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
    const get = routed(getOrderUseCase, components);
    expect((await call(get, { pathParameters: { task_id: 'nope' } })).status).toBe(404);
    expect((await call(get, { pathParameters: { task_id: 'a b' } })).status).toBe(400);
  });
});
