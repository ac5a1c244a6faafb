import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  breakerKey,
  isRedelivered,
  type OrderMessageOutcome,
  OrderTaskProcessor,
  type OrderWorkerDependencies,
  readableTaskId,
  samePayload,
} from '../../../functions/orders/order-task-processor.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryBreakerStore } from '../../../shared/adapters/memory/memory-breaker-store.js';
import { MemoryOrderStore } from '../../../shared/adapters/memory/memory-order-store.js';
import { PaperBroker } from '../../../shared/adapters/paper-broker.js';
import type { OrderTask } from '../../../shared/contracts/order.js';
import { CircuitBreaker, DEFAULT_BREAKER_POLICY } from '../../../shared/domain/orders/circuit-breaker.js';
import { ConflictError } from '../../../shared/errors.js';
import { createLogger, type Logger } from '../../../shared/logging.js';
import { type Broker, type BrokerCallContext, BrokerError, type BrokerResult } from '../../../shared/ports/broker.js';
import type { CircuitBreakerStore } from '../../../shared/ports/circuit-breaker-store.js';
import type {
  DeadLetterReason,
  OrderQueueControl,
  QueueMessageRef,
} from '../../../shared/ports/order-queue-control.js';
import type { OrderRecord } from '../../../shared/ports/orders.js';
import { FaultInjectingBroker } from '../../support/fault-injecting-broker.js';
import { captureLogs } from '../../support/log-capture.js';
import { MemoryIdempotencyLayer } from '../../support/memory-idempotency-layer.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

/** What the worker asked of the queue for each message. */
class RecordingQueueControl implements OrderQueueControl {
  readonly delayed: { messageId: string; seconds: number }[] = [];
  readonly requeued: { messageId: string; seconds: number }[] = [];
  readonly deadLettered: { messageId: string; reason: DeadLetterReason }[] = [];
  async delay(message: QueueMessageRef, seconds: number): Promise<void> {
    this.delayed.push({ messageId: message.messageId, seconds });
  }
  async requeue(message: QueueMessageRef, seconds: number): Promise<void> {
    this.requeued.push({ messageId: message.messageId, seconds });
  }
  async deadLetter(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    this.deadLettered.push({ messageId: message.messageId, reason });
  }
}

/** A broker that remembers the context of every call and answers from the paper broker. */
class ContextRecordingBroker implements Broker {
  readonly contexts: BrokerCallContext[] = [];
  constructor(readonly inner: Broker) {}
  execute(task: OrderTask, context: BrokerCallContext = { attempt: 1 }): Promise<BrokerResult> {
    this.contexts.push(context);
    return this.inner.execute(task, context);
  }
  refresh() {
    return Promise.resolve([]);
  }
}

const START_MS = Date.UTC(2025, 0, 8, 3, 45, 0);

/** Enough of a Lambda context for the deadline and for Powertools, which warns in plain text without one. */
const lambdaContext = { getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

function setup(
  options: {
    maxAttempts?: number;
    breakerStore?: CircuitBreakerStore;
    orders?: MemoryOrderStore;
    owner?: string;
    logger?: Logger;
    broker?: Broker;
    validate?: OrderWorkerDependencies['validate'];
  } = {},
) {
  const clock = new ManualClock(START_MS);
  const orders = options.orders ?? new MemoryOrderStore();
  const breakerStore = options.breakerStore ?? new MemoryBreakerStore();
  const breaker = new CircuitBreaker({
    store: breakerStore,
    clock,
    policy: { ...DEFAULT_BREAKER_POLICY, failureThreshold: 2 },
  });
  const paper = new PaperBroker({ lastPrice: async () => 101.5, now: () => clock.now() });
  const recording = new ContextRecordingBroker(paper);
  const broker = new FaultInjectingBroker(recording, () => clock.now());
  const queue = new RecordingQueueControl();
  const changes: OrderRecord[] = [];
  const processor = new OrderTaskProcessor({
    orders,
    breaker,
    brokerFor: () => options.broker ?? broker,
    queue,
    idempotencyStore: new MemoryIdempotencyLayer(),
    clock,
    retry: { maxAttempts: options.maxAttempts ?? 3, retryBaseSeconds: 1, retryMaxSeconds: 30 },
    logger: options.logger ?? createLogger('order-task-processor-test', { logLevel: 'SILENT', environment: 'test' }),
    onOrderChange: (record) => changes.push(record),
    ...(options.owner !== undefined && { defaultOwner: options.owner }),
    ...(options.validate !== undefined && { validate: options.validate }),
  });
  let sequence = 0;
  const message = (body: unknown, extra: Partial<QueueMessageRef> = {}): QueueMessageRef => ({
    messageId: `m-${++sequence}`,
    receiptHandle: `r-${sequence}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    eventSourceArn: 'arn:aws:sqs:ap-south-1:000000000000:orders',
    ...extra,
  });
  return { clock, orders, breaker, broker, recording, queue, processor, message, changes };
}

describe('OrderTaskProcessor on in-memory ports', () => {
  it('places a task once, completes it with the attempt, and tells the owner', async () => {
    const { processor, message, orders, broker, changes, queue } = setup();
    const outcome = await processor.process(message(placeOrderTask('t-ok')));
    expect(outcome.kind).toBe('completed');
    const record = await orders.get('t-ok');
    expect(record?.status).toBe('COMPLETED');
    expect(record?.attempts).toEqual([{ attempt: 1, at: START_MS }]);
    expect(record?.result).toMatchObject({ paper: true });
    expect(broker.calls.map((c) => c.outcome)).toEqual(['ok']);
    expect(changes.map((c) => c.task.task_id)).toEqual(['t-ok']);
    expect(queue.deadLettered).toEqual([]);
    expect(isRedelivered(outcome)).toBe(false);
  });

  it('answers a repeat of a completed task as a duplicate without calling the broker', async () => {
    const { processor, message, broker } = setup();
    await processor.process(message(placeOrderTask('t-dup')));
    const again = await processor.process(message(placeOrderTask('t-dup')));
    expect(again).toEqual({ kind: 'duplicate', taskId: 't-dup' });
    expect(broker.calls).toHaveLength(1);
  });

  it('completes a second task with the same idempotency key from the first result, placing nothing', async () => {
    const { processor, message, orders, broker } = setup();
    await processor.process(message(placeOrderTask('t-first', { idempotency_key: 'shared-key' })));
    const second = await processor.process(message(placeOrderTask('t-second', { idempotency_key: 'shared-key' })));
    expect(second.kind).toBe('completed');
    const first = await orders.get('t-first');
    const repeat = await orders.get('t-second');
    expect(repeat?.status).toBe('COMPLETED');
    expect(repeat?.result?.orderId).toBe(first?.result?.orderId);
    // The repeat made no attempt of its own.
    expect(repeat?.attempts).toEqual([]);
    expect(broker.calls).toHaveLength(1);
  });

  it('retries a retryable failure with a 1 s backoff and records the attempt error', async () => {
    const { processor, message, orders, broker, queue } = setup();
    broker.failNext('network');
    const outcome = await processor.process(message(placeOrderTask('t-retry')));
    expect(outcome).toEqual({ kind: 'retry', taskId: 't-retry', delaySeconds: 1 });
    expect(isRedelivered(outcome)).toBe(true);
    const record = await orders.get('t-retry');
    expect(record?.status).toBe('RETRYING');
    expect(record?.lastError).toBe('[network] Injected network failure');
    expect(record?.attempts[0]?.error).toEqual({
      type: 'network',
      message: 'Injected network failure',
      retryable: true,
    });
    expect(queue.delayed).toEqual([{ messageId: 'm-1', seconds: 1 }]);
  });

  it('dead-letters a retryable failure on the last attempt, saying it gave up', async () => {
    const { processor, message, orders, broker, queue } = setup({ maxAttempts: 2 });
    broker.failNext('timeout', 2);
    const task = placeOrderTask('t-give-up');
    expect((await processor.process(message(task))).kind).toBe('retry');
    const last = await processor.process(message(task));
    expect(last.kind).toBe('dead-lettered');
    const record = await orders.get('t-give-up');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.lastError).toBe('[timeout] Injected timeout failure (gave up after 2 of 2 attempts)');
    expect(record?.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(queue.deadLettered).toEqual([
      {
        messageId: 'm-2',
        reason: { type: 'timeout', message: 'Injected timeout failure (gave up after 2 of 2 attempts)' },
      },
    ]);
  });

  it('dead-letters a non-retryable failure at once', async () => {
    const { processor, message, orders, broker, queue } = setup();
    broker.failNext('margin');
    const outcome = await processor.process(message(placeOrderTask('t-margin')));
    expect(outcome).toEqual({
      kind: 'dead-lettered',
      taskId: 't-margin',
      reason: '[margin] Injected margin failure',
    });
    expect((await orders.get('t-margin'))?.attempts).toHaveLength(1);
    expect(queue.deadLettered[0]?.reason).toEqual({ type: 'margin', message: 'Injected margin failure' });
  });

  it('holds a task without an attempt while the account breaker is open, and calls no broker', async () => {
    const { processor, message, orders, broker, queue, breaker } = setup();
    await breaker.recordFailure(breakerKey('ZX1234'));
    await breaker.recordFailure(breakerKey('ZX1234'));
    const outcome = await processor.process(message(placeOrderTask('t-open')));
    expect(outcome.kind).toBe('circuit-open');
    const recoverySeconds = DEFAULT_BREAKER_POLICY.recoveryTimeoutSeconds;
    expect(outcome).toMatchObject({ delaySeconds: recoverySeconds });
    const record = await orders.get('t-open');
    expect(record?.status).toBe('RETRYING');
    expect(record?.attempts).toEqual([]);
    expect(record?.lastError).toBe(
      `[circuit-open] Circuit breaker open for account ZX1234; next try in ${recoverySeconds} s`,
    );
    expect(queue.requeued).toEqual([{ messageId: 'm-1', seconds: recoverySeconds }]);
    expect(broker.calls).toEqual([]);
  });

  it('trips the breaker only on failures that say the broker is unhealthy', async () => {
    const { processor, message, broker, breaker } = setup();
    broker.failNext('input');
    broker.failNext('server');
    await processor.process(message(placeOrderTask('t-input')));
    expect((await breaker.acquire(breakerKey('ZX1234'))).allowed).toBe(true);
    await processor.process(message(placeOrderTask('t-server-1')));
    broker.failNext('server');
    await processor.process(message(placeOrderTask('t-server-2')));
    expect((await breaker.acquire(breakerKey('ZX1234'))).allowed).toBe(false);
  });

  it('requeues a call its rate budget held back, counting no attempt and telling the breaker nothing', async () => {
    const { processor, message, orders, broker, queue, breaker } = setup();
    broker.holdNext(2_500);
    broker.holdNext(2_500);
    const outcome = await processor.process(message(placeOrderTask('t-held')));
    expect(outcome).toEqual({ kind: 'throttled', taskId: 't-held', delaySeconds: 3 });
    const record = await orders.get('t-held');
    expect(record?.status).toBe('RETRYING');
    expect(record?.attempts).toEqual([]);
    expect(record?.lastError).toBe('[rate-limited] Held back: the rate budget has room in 2500 ms');
    expect(queue.requeued).toEqual([{ messageId: 'm-1', seconds: 3 }]);
    await processor.process(message(placeOrderTask('t-held-2')));
    expect((await breaker.acquire(breakerKey('ZX1234'))).allowed).toBe(true);
  });

  it('dead-letters a body that is not JSON, and one that is not a task, as validation errors', async () => {
    const { processor, message, queue, broker } = setup();
    const notJson = await processor.process(message('{nope'));
    expect(notJson).toMatchObject({ kind: 'dead-lettered', taskId: undefined });
    expect(notJson.kind === 'dead-lettered' && notJson.reason).toMatch(/^\[validation\] Body is not JSON: /);
    const array = await processor.process(message([1, 2]));
    expect(array.kind === 'dead-lettered' && array.reason).toBe(
      '[validation] Not an order task: body: Invalid input: expected object, received array',
    );
    expect(queue.deadLettered.map((d) => d.reason.type)).toEqual(['validation', 'validation']);
    expect(broker.calls).toEqual([]);
  });

  it('gives a poison message with a readable task id a dead-letter record under that id', async () => {
    const { processor, message, orders } = setup();
    const outcome = await processor.process(message({ task_id: 't-poison', operation: 'place_order' }));
    expect(outcome).toMatchObject({ kind: 'dead-lettered', taskId: 't-poison' });
    const record = await orders.get('t-poison');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.lastError).toMatch(/^\[validation\] Not an order task: /);
  });

  it('takes submitted_at from the message and the default owner when the producer left them out', async () => {
    const { processor, message, orders } = setup({ owner: 'desk-1' });
    const { submitted_at: _, ...task } = placeOrderTask('t-defaults');
    const sentMs = Date.UTC(2025, 0, 8, 4, 0, 0);
    await processor.process(message(task, { sentTimestampMs: sentMs }));
    const record = await orders.get('t-defaults');
    expect(record?.task.submitted_at).toBe(new Date(sentMs).toISOString());
    expect(record?.task.owner).toBe('desk-1');
  });

  it('keeps a reused task id with another payload as its own conflict dead letter', async () => {
    const { processor, message, orders, broker, queue } = setup();
    await processor.process(message(placeOrderTask('t-same')));
    const other = placeOrderTask('t-same', { idempotency_key: 'another-key' });
    const outcome = await processor.process(message(other));
    expect(outcome.kind).toBe('dead-lettered');
    const conflictId = outcome.kind === 'dead-lettered' ? outcome.taskId : undefined;
    expect(conflictId).toMatch(/^t-same\.conflict\.[0-9a-f]{12}$/);
    const conflict = await orders.get(conflictId ?? '');
    expect(conflict?.status).toBe('DEAD_LETTER');
    expect(conflict?.lastError).toBe(
      '[conflict] Task id t-same is taken by another order (BUY 65 NIFTY26JAN24000CE MARKET); this one (BUY 65 NIFTY26JAN24000CE MARKET) was not placed',
    );
    expect((await orders.get('t-same'))?.status).toBe('COMPLETED');
    expect(queue.deadLettered.map((d) => d.reason.type)).toEqual(['conflict']);
    expect(broker.calls).toHaveLength(1);
  });

  it('finishes the move to the dead-letter queue for a message of a task already dead-lettered', async () => {
    const { processor, message, orders, broker, queue } = setup();
    const task = placeOrderTask('t-dead');
    await orders.create(task, START_MS);
    await orders.transition('t-dead', 'DEAD_LETTER', { lastError: '[margin] Insufficient funds' }, START_MS);
    const outcome = await processor.process(message(task));
    expect(outcome).toEqual({ kind: 'dead-lettered', taskId: 't-dead', reason: '[margin] Insufficient funds' });
    expect(queue.deadLettered).toEqual([
      { messageId: 'm-1', reason: { type: 'margin', message: '[margin] Insufficient funds' } },
    ]);
    expect(broker.calls).toEqual([]);
  });

  it('dead-letters a task whose attempts of this round are all used, without another call', async () => {
    const { processor, message, orders, broker, queue } = setup({ maxAttempts: 2 });
    const task = placeOrderTask('t-used');
    await orders.create(task, START_MS);
    for (const attempt of [1, 2]) {
      await orders.transition('t-used', 'RUNNING', {}, START_MS);
      await orders.transition(
        't-used',
        'RETRYING',
        {
          attempt: { attempt, at: START_MS, error: { type: 'network', message: 'reset', retryable: true } },
          lastError: '[network] reset',
        },
        START_MS,
      );
    }
    const outcome = await processor.process(message(task));
    expect(outcome).toEqual({
      kind: 'dead-lettered',
      taskId: 't-used',
      reason: '[network] reset (all 2 attempts made)',
    });
    expect((await orders.get('t-used'))?.status).toBe('DEAD_LETTER');
    expect(queue.deadLettered[0]?.reason).toEqual({
      type: 'network',
      message: '[network] reset (all 2 attempts made)',
    });
    expect(broker.calls).toEqual([]);
  });

  it('gives the broker the invocation end less 3 s as its deadline, or 5 s outside Lambda', async () => {
    const { processor, message, recording, clock } = setup();
    await processor.process(message(placeOrderTask('t-local')));
    expect(recording.contexts[0]).toMatchObject({ attempt: 1, deadline: START_MS + 5_000 });
    processor.registerContext({ getRemainingTimeInMillis: () => 20_000 } as unknown as Context);
    clock.advance(1_000);
    await processor.process(message(placeOrderTask('t-lambda')));
    expect(recording.contexts[1]?.deadline).toBe(START_MS + 1_000 + 20_000 - 3_000);
  });

  it('hands a cancel the order it changes and merges the answer into the placing task', async () => {
    const { processor, message, orders, recording, changes } = setup();
    const resting = placeOrderTask('t-place');
    const limit = { ...resting, params: { ...resting.params, order_type: 'LIMIT', price: 90 } } as OrderTask;
    await processor.process(message(limit));
    const placed = await orders.get('t-place');
    expect(placed?.result?.status).toBe('OPEN');
    const orderId = placed?.result?.orderId ?? '';
    const cancel: OrderTask = {
      task_id: 't-cancel',
      idempotency_key: 'key-cancel',
      account_id: 'ZX1234',
      operation: 'cancel_order',
      params: { variety: 'regular', order_id: orderId },
      submitted_at: '2025-01-08T09:16:00+05:30',
    };
    const outcome = await processor.process(message(cancel));
    expect(outcome.kind).toBe('completed');
    expect(recording.contexts[1]?.order?.task.task_id).toBe('t-place');
    expect((await orders.get('t-cancel'))?.result?.status).toBe('CANCELLED');
    expect((await orders.get('t-place'))?.result?.status).toBe('CANCELLED');
    expect(changes.map((c) => [c.task.task_id, c.result?.status])).toEqual([
      ['t-place', 'OPEN'],
      ['t-cancel', 'CANCELLED'],
      ['t-place', 'CANCELLED'],
    ]);
  });

  it('still reports the outcome when the breaker cannot record the call', async () => {
    const failing: CircuitBreakerStore = {
      get: async (key) => ({
        key,
        state: 'CLOSED',
        consecutiveFailures: 0,
        openedAt: null,
        halfOpenCalls: 0,
        version: 0,
      }),
      compareAndSet: async () => {
        throw new Error('breaker table unavailable');
      },
    };
    const { processor, message, orders, broker } = setup({ breakerStore: failing });
    broker.failNext('server');
    const outcome = await processor.process(message(placeOrderTask('t-breaker-down')));
    expect(outcome.kind).toBe('retry');
    expect((await orders.get('t-breaker-down'))?.status).toBe('RETRYING');
  });

  it('rejects when its own store fails, recording an internal error on the task where it can', async () => {
    const orders = new MemoryOrderStore();
    const task = placeOrderTask('t-store-down');
    await orders.create(task, START_MS);
    let failGet = true;
    const get = orders.get.bind(orders);
    orders.get = async (taskId: string) => {
      if (failGet) {
        failGet = false;
        throw new Error('table unavailable');
      }
      return get(taskId);
    };
    const { processor, message } = setup({ orders });
    await expect(processor.process(message(task))).rejects.toThrow('table unavailable');
    const record = await orders.get('t-store-down');
    expect(record?.status).toBe('RETRYING');
    expect(record?.lastError).toBe('[internal] The worker failed: table unavailable');
  });

  it('answers busy while another worker holds the idempotency key', async () => {
    const { processor, message, orders } = setup();
    const task = placeOrderTask('t-busy');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transition = orders.transition.bind(orders);
    let holding = true;
    orders.transition = async (...args: Parameters<MemoryOrderStore['transition']>) => {
      if (holding && args[1] === 'RUNNING') {
        holding = false;
        await gate;
      }
      return transition(...args);
    };
    const first = processor.process(message(task));
    // The first worker is inside its placement (key in progress) once it asks for RUNNING.
    await expect.poll(() => holding).toBe(false);
    const second: OrderMessageOutcome = await processor.process(message(task));
    expect(second).toEqual({ kind: 'busy', taskId: 't-busy', delaySeconds: 1 });
    release();
    expect((await first).kind).toBe('completed');
  });
});

describe('OrderTaskProcessor: rules, owners, races and what it logs', () => {
  it('dead-letters a task the exchange rules refuse, before any broker call or attempt', async () => {
    const { processor, message, orders, broker, queue } = setup({
      validate: async (task) =>
        task.operation === 'place_order' && task.params.quantity % 65 !== 0
          ? [
              { path: 'params.quantity', message: 'not a multiple of the lot size 65' },
              { path: 'params.market_protection', message: 'required' },
            ]
          : [],
    });
    const odd = placeOrderTask('t-odd');
    const outcome = await processor.process(message({ ...odd, params: { ...odd.params, quantity: 64 } }));
    const reason = 'params.quantity: not a multiple of the lot size 65; params.market_protection: required';
    expect(outcome).toEqual({ kind: 'dead-lettered', taskId: 't-odd', reason: `[validation] ${reason}` });
    const record = await orders.get('t-odd');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.lastError).toBe(`[validation] ${reason}`);
    expect(record?.attempts).toEqual([]);
    expect(queue.deadLettered).toEqual([{ messageId: 'm-1', reason: { type: 'validation', message: reason } }]);
    expect(broker.calls).toEqual([]);
    expect((await processor.process(message(placeOrderTask('t-lot')))).kind).toBe('completed');
  });

  it('names owners as REST records them, keeps a producer owner and submitted_at over the defaults', async () => {
    const { processor, message, orders } = setup({ owner: 'desk-1' });
    await processor.process(message(placeOrderTask('t-alice', { owner: 'alice' })));
    await processor.process(message(placeOrderTask('t-key', { owner: 'key-abc' })));
    await processor.process(message(placeOrderTask('t-sub', { owner: 'sub-bob' })));
    await processor.process(message(placeOrderTask('t-kept'), { sentTimestampMs: START_MS + 60_000 }));
    expect((await orders.get('t-alice'))?.task.owner).toBe('sub-alice');
    expect((await orders.get('t-key'))?.task.owner).toBe('key-abc');
    expect((await orders.get('t-sub'))?.task.owner).toBe('sub-bob');
    const kept = await orders.get('t-kept');
    expect(kept?.task.submitted_at).toBe('2025-01-08T09:15:00+05:30');
    // The configured default is already an owner id (the composition root names it).
    expect(kept?.task.owner).toBe('desk-1');
  });

  it('without a default owner leaves an unnamed owner out, and takes the clock when the message has no sent time', async () => {
    const { processor, message, orders, clock } = setup();
    const { submitted_at: _, ...task } = placeOrderTask('t-anon');
    clock.advance(5_000);
    await processor.process(message(task));
    const record = await orders.get('t-anon');
    expect(record?.task.owner).toBeUndefined();
    expect(record?.task.submitted_at).toBe(new Date(START_MS + 5_000).toISOString());
  });

  it('counts a sent call refused with a retry-after as an attempt, not as held back', async () => {
    const refusing: Broker = {
      execute: async () => {
        throw new BrokerError('rate-limited', 'Too many requests', { retryAfterMs: 2_000 });
      },
      refresh: async () => [],
    };
    const { processor, message, orders } = setup({ broker: refusing });
    const outcome = await processor.process(message(placeOrderTask('t-429')));
    expect(outcome).toEqual({ kind: 'retry', taskId: 't-429', delaySeconds: 1 });
    expect((await orders.get('t-429'))?.attempts).toHaveLength(1);
  });

  it('a success resets the breaker count: failures apart never open it', async () => {
    const { processor, message, broker, breaker } = setup();
    broker.failNext('server');
    await processor.process(message(placeOrderTask('t-f1')));
    await processor.process(message(placeOrderTask('t-s1')));
    broker.failNext('server');
    await processor.process(message(placeOrderTask('t-f2')));
    await processor.process(message(placeOrderTask('t-s2')));
    await processor.process(message(placeOrderTask('t-s3')));
    expect((await breaker.acquire(breakerKey('ZX1234'))).allowed).toBe(true);
  });

  it('uses the record another worker created first when its own create loses the race', async () => {
    const orders = new MemoryOrderStore();
    const task = placeOrderTask('t-race');
    const get = orders.get.bind(orders);
    const create = orders.create.bind(orders);
    let hidden = true;
    orders.get = async (taskId: string) => {
      if (hidden) {
        hidden = false;
        // The other worker's create lands between this worker's read and its create.
        await create(task, START_MS);
        return undefined;
      }
      return get(taskId);
    };
    const { processor, message } = setup({ orders });
    expect((await processor.process(message(task))).kind).toBe('completed');
    expect((await orders.get('t-race'))?.status).toBe('COMPLETED');
  });

  it('rejects when a create fails for another reason than a taken id', async () => {
    const orders = new MemoryOrderStore();
    orders.create = async () => {
      throw new Error('throughput exceeded');
    };
    const { processor, message } = setup({ orders });
    await expect(processor.process(message(placeOrderTask('t-throttled-db')))).rejects.toThrow('throughput exceeded');
    orders.create = async () => {
      throw new ConflictError('exists');
    };
    // Taken, yet not there on the second read: the conflict itself is the failure.
    await expect(processor.process(message(placeOrderTask('t-vanished')))).rejects.toThrow('exists');
  });

  it('hands a cancel of an order placed outside the platform no order', async () => {
    const { processor, message, recording } = setup();
    const cancel: OrderTask = {
      task_id: 't-cancel-outside',
      idempotency_key: 'key-cancel-outside',
      account_id: 'ZX1234',
      operation: 'cancel_order',
      params: { variety: 'regular', order_id: '250108000000001' },
      submitted_at: '2025-01-08T09:16:00+05:30',
    };
    await processor.process(message(cancel));
    expect(recording.contexts).toHaveLength(1);
    expect('order' in (recording.contexts[0] ?? {})).toBe(false);
  });

  it('logs a completion with its order, a repeat with the first task, a failure with its task id', async () => {
    const { logs } = await captureLogs(async (logger) => {
      const { processor, message, orders } = setup({ logger });
      processor.registerContext(lambdaContext);
      await processor.process(message(placeOrderTask('t-log-1', { idempotency_key: 'k-log' })));
      await processor.process(message(placeOrderTask('t-log-2', { idempotency_key: 'k-log' })));
      orders.get = async () => {
        throw new Error('table unavailable');
      };
      await processor.process(message(placeOrderTask('t-log-3'))).catch(() => undefined);
    });
    const completed = logs.find((l) => l.message === 'Order task completed');
    expect(completed).toMatchObject({ taskId: 't-log-1', paper: true });
    expect(typeof completed?.orderId).toBe('string');
    expect(logs.find((l) => String(l.message).startsWith('Order task is a repeat'))).toMatchObject({
      taskId: 't-log-2',
      firstTaskId: 't-log-1',
      orderId: completed?.orderId,
    });
    expect(logs.filter((l) => l.message === 'Order task completed')).toHaveLength(1);
    expect(logs.find((l) => String(l.message).startsWith('Order message failed'))).toMatchObject({
      level: 'ERROR',
      taskId: 't-log-3',
      messageId: 'm-3',
      error: 'table unavailable',
    });
  });

  it('logs a breaker it could not write to, and a poison message, with their keys', async () => {
    const failing: CircuitBreakerStore = {
      get: async (key) => ({
        key,
        state: 'CLOSED',
        consecutiveFailures: 0,
        openedAt: null,
        halfOpenCalls: 0,
        version: 0,
      }),
      compareAndSet: async () => {
        throw new Error('breaker table unavailable');
      },
    };
    const { logs } = await captureLogs(async (logger) => {
      const { processor, message, broker } = setup({ breakerStore: failing, logger });
      processor.registerContext(lambdaContext);
      broker.failNext('server');
      await processor.process(message(placeOrderTask('t-log-breaker')));
      await processor.process(message('{nope'));
    });
    expect(logs.find((l) => String(l.message).startsWith('Could not record a call'))).toMatchObject({
      level: 'WARN',
      key: 'orders#ZX1234',
      error: 'breaker table unavailable',
    });
    expect(logs.find((l) => l.message === 'Invalid order message dead-lettered')).toMatchObject({
      level: 'WARN',
      messageId: 'm-2',
    });
  });
});

describe('order message helpers', () => {
  it('reads a task id only when the body is JSON with a valid one', () => {
    expect(readableTaskId('{"task_id":"t-1"}')).toBe('t-1');
    expect(readableTaskId('{"task_id":""}')).toBeUndefined();
    expect(readableTaskId('{"task_id":42}')).toBeUndefined();
    expect(readableTaskId('["t-1"]')).toBeUndefined();
    expect(readableTaskId('not json')).toBeUndefined();
  });

  it('compares what would be placed, not when it was sent or the order of its params', () => {
    const a = placeOrderTask('t', { submitted_at: '2025-01-08T09:15:00+05:30' });
    const reordered = { ...a, submitted_at: '2025-01-08T09:20:00+05:30', params: { ...a.params } };
    const params = Object.fromEntries(Object.entries(a.params).reverse());
    expect(samePayload(a, { ...reordered, params } as OrderTask)).toBe(true);
    expect(samePayload(a, placeOrderTask('t', { account_id: 'OTHER' }))).toBe(false);
    expect(samePayload(a, placeOrderTask('t', { idempotency_key: 'k2' }))).toBe(false);
    expect(samePayload(a, { ...a, params: { ...a.params, quantity: 130 } } as OrderTask)).toBe(false);
  });

  it('keys breakers by account', () => {
    expect(breakerKey('ZX1234')).toBe('orders#ZX1234');
  });
});
