import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { listDeadLettersUseCase, redriveOrderUseCase } from '../../../functions/api/dead-letters.js';
import { invalidMessageTask } from '../../../functions/orders/dead-letter-records.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { OrderTask } from '../../../shared/contracts/order.js';
import { DeadLetterListResponse, RedriveOrderResponse } from '../../../shared/contracts/order-api.js';
import { tagError } from '../../../shared/domain/orders/order-status.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { OrderQueue, OrderStore } from '../../../shared/ports/orders.js';
import { orderTask } from '../../support/order-queue-contract.js';
import { call, fakeComponents, routed } from './fake-components.js';

/** The owner id REST gives the caller of the fake components' API key `test-key`. */
const ME = `key-${createHash('sha256').update('test-key').digest('hex').slice(0, 16)}`;

/** Moves a task of `owner` through the worker's transitions to DEAD_LETTER with an error of `type`. */
async function deadLetter(store: OrderStore, taskId: string, type: string, at: number, owner = ME) {
  await store.create(orderTask(taskId, { owner }), at);
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

const redriveOf = (taskId: string) => ({ method: 'POST', pathParameters: { task_id: taskId } });

describe('GET /orders/dead-letter', () => {
  it('TC-ORD-031: returns every dead-lettered task with ids, errors and timestamps, newest first, filtered by error type', async () => {
    const { components, orders } = fakeComponents();
    const t0 = Date.UTC(2025, 0, 8, 4);
    await deadLetter(orders, 'dl-timeout-1', 'timeout', t0);
    await deadLetter(orders, 'dl-input-1', 'input', t0 + 1000);
    await deadLetter(orders, 'dl-timeout-2', 'timeout', t0 + 2000);
    await deadLetter(orders, 'dl-margin-1', 'margin', t0 + 3000);
    await orders.create(orderTask('still-pending', { owner: ME }), t0);
    const list = routed(listDeadLettersUseCase, components);

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
      expect(d.raw_body).toBeNull();
    }

    const timeouts = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'timeout' } })).body);
    expect(timeouts.dead_letters.map((d) => d.task_id)).toEqual(['dl-timeout-2', 'dl-timeout-1']);
    expect(timeouts.dead_letters.every((d) => d.error_type === 'timeout')).toBe(true);
    const none = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'token' } })).body);
    expect(none.dead_letters).toEqual([]);
  });

  it("lists every caller's dead letters: the route is an admin's", async () => {
    const { components, orders } = fakeComponents();
    const t0 = Date.UTC(2025, 0, 8, 4);
    await deadLetter(orders, 'mine', 'max_receives', t0);
    await deadLetter(orders, 'theirs', 'max_receives', t0 + 1, 'sub-someone-else');
    const list = routed(listDeadLettersUseCase, components);
    const page = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'max_receives' } })).body);
    expect(page.dead_letters.map((d) => d.task_id)).toEqual(['theirs', 'mine']);
  });

  it('lists a poison message under validation with its raw body and a stand-in task', async () => {
    const { components, orders } = fakeComponents();
    const rawBody = JSON.stringify({
      task_id: 'poison-1',
      owner: ME,
      operation: 'place_order',
      params: { quantity: -1 },
    });
    const task = invalidMessageTask(rawBody, 'poison-1', { sentMs: components.clock.now() });
    await orders.create(task, components.clock.now(), { rawBody });
    await orders.transition('poison-1', 'DEAD_LETTER', { lastError: tagError('validation', 'bad') }, 1);
    const list = routed(listDeadLettersUseCase, components);
    const page = DeadLetterListResponse.parse((await call(list, { query: { error_type: 'validation' } })).body);
    expect(page.dead_letters).toHaveLength(1);
    expect(page.dead_letters[0]).toMatchObject({
      task_id: 'poison-1',
      error_type: 'validation',
      raw_body: rawBody,
      operation: 'cancel_order',
      task: { owner: ME, params: { order_id: 'invalid-message' } },
    });
  });

  it('TC-ORD-031: pages with limit and cursor without losing or repeating a dead letter', async () => {
    const { components, orders } = fakeComponents();
    const t0 = Date.UTC(2025, 0, 8, 4);
    for (let i = 0; i < 7; i++) await deadLetter(orders, `page-${i}`, i % 2 === 0 ? 'network' : 'input', t0 + i * 100);
    const list = routed(listDeadLettersUseCase, components);
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
    const list = routed(listDeadLettersUseCase, components);
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
  it('moves the message from the dead-letter queue to the orders queue, then the task to PENDING', async () => {
    const { components, orders, orderQueues, clock } = fakeComponents();
    await deadLetter(orders, 'redrive-1', 'network', clock.now());
    orderQueues.deadLetter.send(JSON.stringify(orderTask('other')));
    orderQueues.deadLetter.send(JSON.stringify(orderTask('redrive-1')));
    clock.advance(60_000);
    const redrive = routed(redriveOrderUseCase, components);
    const response = await call(redrive, redriveOf('redrive-1'));
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
    const again = await call(redrive, redriveOf('redrive-1'));
    expect(again.status).toBe(409);
    expect(orderQueues.main.peek()).toHaveLength(1);
  });

  it("sends a poison message's raw body, never its stand-in task", async () => {
    const { components, orders, orderQueues, clock } = fakeComponents();
    const rawBody = JSON.stringify({ task_id: 'poison-2', owner: ME, params: 'nonsense' });
    await orders.create(invalidMessageTask(rawBody, 'poison-2', { sentMs: clock.now() }), clock.now(), { rawBody });
    await orders.transition('poison-2', 'DEAD_LETTER', { lastError: tagError('validation', 'bad') }, clock.now());
    const response = await call(routed(redriveOrderUseCase, components), redriveOf('poison-2'));
    expect(RedriveOrderResponse.parse(response.body).source).toBe('status-record');
    expect(orderQueues.main.peek().map((m) => m.body)).toEqual([rawBody]);
  });

  it('changes nothing when the send fails: 503 and the task stays DEAD_LETTER', async () => {
    const { components, orders } = fakeComponents();
    await deadLetter(orders, 'unsent-1', 'network', components.clock.now());
    const down = (): Promise<never> => Promise.reject(new DependencyUnavailableError('sqs', 'SQS is unavailable'));
    const failing = { ...components, orderQueue: { enqueue: down, redrive: async () => false } };
    const response = await call(routed(redriveOrderUseCase, failing), redriveOf('unsent-1'));
    expect(response.status).toBe(503);
    const record = await orders.get('unsent-1');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.redrivenAt).toBeUndefined();
  });

  it('answers 409 saying so when a concurrent redrive moved the task between its send and its write', async () => {
    const { components, orders } = fakeComponents();
    await deadLetter(orders, 'raced-1', 'network', components.clock.now());
    const sent: string[] = [];
    // The other redrive's write lands while this one is sending.
    const racing: OrderQueue = {
      redrive: async () => false,
      enqueue: async (task) => {
        sent.push(task.task_id);
        await orders.transition(task.task_id, 'PENDING', {}, components.clock.now());
      },
    };
    const response = await call(
      routed(redriveOrderUseCase, { ...components, orderQueue: racing }),
      redriveOf('raced-1'),
    );
    expect(response.status).toBe(409);
    expect(ApiErrorResponse.parse(response.body).error.message).toContain('duplicate');
    expect(sent).toEqual(['raced-1']);
    expect((await orders.get('raced-1'))?.status).toBe('PENDING');
  });

  it("answers 404 for an unknown task, redrives anyone's for an admin, and 409 for one that is not dead-lettered", async () => {
    const { components, orders, orderQueues } = fakeComponents();
    await orders.create(orderTask('pending-1', { owner: ME }), components.clock.now());
    await deadLetter(orders, 'theirs-1', 'network', components.clock.now(), 'sub-someone-else');
    const redrive = routed(redriveOrderUseCase, components);
    expect((await call(redrive, redriveOf('nope'))).status).toBe(404);
    expect((await call(redrive, redriveOf('theirs-1'))).status).toBe(202);
    expect((await orders.get('theirs-1'))?.status).toBe('PENDING');
    const pending = await call(redrive, redriveOf('pending-1'));
    expect(pending.status).toBe(409);
    expect(ApiErrorResponse.parse(pending.body).error.message).toContain('PENDING');
    // Only the redriven task was queued; the refused ones sent nothing.
    expect(orderQueues.main.peek().map((m) => OrderTask.parse(JSON.parse(m.body)).task_id)).toEqual(['theirs-1']);
  });
});
