import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { PaperBroker } from '../../../shared/adapters/paper-broker.js';
import type { Broker } from '../../../shared/ports/broker.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { HARNESS_START_MS, startOrderWorker } from '../../support/order-worker-harness.js';
import { waitFor } from '../../support/wait.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

const attr = (m: { messageAttributes: Readonly<Record<string, { StringValue?: string }>> }, name: string) =>
  m.messageAttributes[name]?.StringValue;

describe('order worker: task lifecycle', () => {
  it('TC-ORD-001: a queued PENDING task runs at once, PENDING → RUNNING → COMPLETED, with order id and status', async () => {
    const w = await startOrderWorker(client);
    const task = placeOrderTask('ord-001');
    // POST /orders creates the record, then enqueues.
    expect((await w.orders.create(task, w.clock.now())).status).toBe('PENDING');
    w.send(task);
    const started = performance.now();
    const { received, response } = await w.deliver();
    const elapsedMs = performance.now() - started;

    expect(received).toBe(1);
    expect(response?.batchItemFailures).toEqual([]);
    expect(w.orders.path('ord-001')).toEqual(['RUNNING', 'COMPLETED']);
    const record = await w.orders.get('ord-001');
    expect(record).toMatchObject({
      status: 'COMPLETED',
      result: { paper: true, status: 'COMPLETE', averagePrice: 101.5 },
      attempts: [{ attempt: 1, at: HARNESS_START_MS }],
    });
    expect(record?.result?.orderId).toMatch(/^PAPER-[0-9a-f]{16}$/);
    // Ran on the first delivery, with no time passing on the clock, well within 5 s.
    expect(w.clock.now()).toBe(HARNESS_START_MS);
    expect(elapsedMs).toBeLessThan(5000);
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('creates the PENDING record itself when a producer put the task straight on the queue', async () => {
    const w = await startOrderWorker(client);
    w.send(placeOrderTask('direct'));
    await w.deliver();
    expect(w.orders.path('direct')).toEqual(['RUNNING', 'COMPLETED']);
    expect((await w.orders.get('direct'))?.createdAt).toBe(HARNESS_START_MS);
  });

  it('TC-ORD-002: a transient failure makes the task RETRYING with a 1 s backoff, and the second attempt completes it', async () => {
    const w = await startOrderWorker(client);
    w.broker.failNext('network');
    w.send(placeOrderTask('ord-002'));
    const first = await w.deliver();
    expect(first.response?.batchItemFailures).toHaveLength(1);
    const retrying = await w.orders.get('ord-002');
    expect(retrying).toMatchObject({
      status: 'RETRYING',
      lastError: '[network] Injected network failure',
      attempts: [{ attempt: 1, error: { type: 'network', message: 'Injected network failure', retryable: true } }],
    });
    expect(w.outcomes.at(-1)?.outcome).toEqual({ kind: 'retry', taskId: 'ord-002', delaySeconds: 1 });

    // The message stays hidden for the backoff, then comes back.
    w.clock.advance(999);
    expect((await w.deliver()).received).toBe(0);
    w.clock.advance(1);
    expect((await w.deliver()).received).toBe(1);

    expect(w.orders.path('ord-002')).toEqual(['RUNNING', 'RETRYING', 'RUNNING', 'COMPLETED']);
    const done = await w.orders.get('ord-002');
    expect(done?.status).toBe('COMPLETED');
    expect(done?.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(done?.attempts[1]?.at).toBe(HARNESS_START_MS + 1000);
    expect(w.broker.calls.map((c) => [c.attempt, c.outcome])).toEqual([
      [1, 'network'],
      [2, 'ok'],
    ]);
    expect(w.broker.placements().get('key-ord-002')).toBe(1);
  });

  it('TC-ORD-003: a task that always fails is tried exactly 3 times, then DEAD_LETTER with every error and off the queue', async () => {
    const w = await startOrderWorker(client);
    w.broker.failAlways('server');
    w.send(placeOrderTask('ord-003'));
    await w.drain();

    expect(w.broker.calls.filter((c) => c.taskId === 'ord-003')).toHaveLength(3);
    const record = await w.orders.get('ord-003');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.attempts.map((a) => [a.attempt, a.error?.type, a.error?.retryable])).toEqual([
      [1, 'server', true],
      [2, 'server', true],
      [3, 'server', true],
    ]);
    expect(record?.lastError).toBe('[server] Injected server failure (gave up after 3 of 3 attempts)');
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const dead = await w.deadLetters();
    expect(dead).toHaveLength(1);
    expect(attr(dead[0] ?? { messageAttributes: {} }, 'error_type')).toBe('server');
  });

  it('TC-ORD-004: a second task with the same idempotency key returns the first result and places nothing', async () => {
    const w = await startOrderWorker(client);
    const first = placeOrderTask('ord-004a', { idempotency_key: 'key1' });
    w.send(first);
    await w.deliver();
    const placed = await w.orders.get('ord-004a');
    expect(placed?.status).toBe('COMPLETED');

    const second = placeOrderTask('ord-004b', { idempotency_key: 'key1' });
    w.send(second);
    // The same message delivered twice (SQS at-least-once) is harmless too.
    w.send(first);
    await w.deliver();

    const repeat = await w.orders.get('ord-004b');
    expect(repeat?.status).toBe('COMPLETED');
    expect(repeat?.result).toEqual(placed?.result);
    expect(repeat?.attempts).toEqual([]);
    expect(w.outcomes.map((o) => o.outcome.kind)).toEqual(['completed', 'completed', 'duplicate']);
    expect(w.broker.calls).toHaveLength(1);
    expect(w.broker.placements().get('key1')).toBe(1);
  });
});

describe('order worker: batches', () => {
  it("runs a batch's accounts at the same time and each account's records in the order delivered", async () => {
    const paper = new PaperBroker({ lastPrice: async () => 101.5, now: () => Date.now() });
    const events: string[] = [];
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const broker: Broker = {
      refresh: async () => [],
      async execute(task, context) {
        events.push(`start ${task.task_id}`);
        // The first order of A is held until B's order has started: only a worker running the
        // accounts at the same time gets there.
        if (task.task_id === 'a1') await firstHeld;
        if (task.task_id === 'b1') releaseFirst();
        const result = await paper.execute(task, context);
        events.push(`end ${task.task_id}`);
        return result;
      },
    };
    const w = await startOrderWorker(client, { broker });
    for (const [id, account] of [
      ['a1', 'ACC-A'],
      ['a2', 'ACC-A'],
      ['b1', 'ACC-B'],
      ['a3', 'ACC-A'],
    ] as const) {
      w.send(placeOrderTask(id, { account_id: account }));
    }
    const delivered = w.deliver();
    await waitFor(() => events.includes('start b1'), {
      timeoutMs: 10_000,
      message: "B's order to start while A's is held",
    });
    const { received, response } = await delivered;

    expect(received).toBe(4);
    expect(response?.batchItemFailures).toEqual([]);
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
    // A's orders one after another, in order: each starts after the one before it ended.
    expect(events.filter((e) => e.endsWith('a1') || e.endsWith('a2') || e.endsWith('a3'))).toEqual([
      'start a1',
      'end a1',
      'start a2',
      'end a2',
      'start a3',
      'end a3',
    ]);
    for (const id of ['a1', 'a2', 'a3', 'b1']) expect((await w.orders.get(id))?.status).toBe('COMPLETED');
  });
});

describe('order worker: store calls', () => {
  it('reads a queued task once and writes it twice (RUNNING, COMPLETED) on its way to COMPLETED', async () => {
    const w = await startOrderWorker(client);
    const gets = vi.spyOn(w.orders, 'get');
    const transitions = vi.spyOn(w.orders, 'transition');
    w.send(placeOrderTask('calls'));
    await w.deliver();
    // One read, that says the task is not finished; two moves, each conditioned on the status.
    expect(gets).toHaveBeenCalledTimes(1);
    expect(transitions.mock.calls.map((c) => c[1])).toEqual(['RUNNING', 'COMPLETED']);
    expect((await w.orders.get('calls'))?.status).toBe('COMPLETED');
  });
});

describe('order worker: circuit breaker', () => {
  const ACCOUNT_BREAKER = 'orders#ZX1234';

  it('TC-ORD-010: ten successes keep the breaker CLOSED with no failures, no delays and no breaker writes', async () => {
    const w = await startOrderWorker(client);
    for (let i = 0; i < 10; i++) w.send(placeOrderTask(`ok-${i}`));
    await w.deliver();
    expect(w.broker.calls).toHaveLength(10);
    expect(w.outcomes.every((o) => o.outcome.kind === 'completed' && o.at === HARNESS_START_MS)).toBe(true);
    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({
      state: 'CLOSED',
      consecutiveFailures: 0,
      version: 0,
    });

    // A failure counts, and the next success resets the count.
    w.broker.failNext('timeout');
    w.send(placeOrderTask('fails-once'));
    await w.deliver();
    expect((await w.breakers.get(ACCOUNT_BREAKER)).consecutiveFailures).toBe(1);
    w.send(placeOrderTask('ok-10'));
    await w.deliver();
    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('TC-ORD-011: five consecutive 429s open the breaker once, with the open time recorded', async () => {
    const w = await startOrderWorker(client);
    w.broker.failAlways('rate-limited');
    for (let i = 0; i < 5; i++) w.send(placeOrderTask(`rl-${i}`));
    await w.deliver();

    expect(w.broker.calls.map((c) => c.outcome)).toEqual(Array(5).fill('rate-limited'));
    for (let i = 0; i < 5; i++) expect((await w.orders.get(`rl-${i}`))?.status).toBe('RETRYING');
    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({
      state: 'OPEN',
      consecutiveFailures: 5,
      openedAt: HARNESS_START_MS,
    });
    // circuit_breaker_opens += 1
    expect(w.breakerTransitions).toEqual([
      { key: ACCOUNT_BREAKER, from: 'CLOSED', to: 'OPEN', atMs: HARNESS_START_MS, consecutiveFailures: 5 },
    ]);
  });

  /** A worker whose account breaker has just opened (five 429s), with the broker healthy again. */
  async function withOpenBreaker() {
    const w = await startOrderWorker(client, { retry: { maxAttempts: 10 } });
    w.broker.failAlways('rate-limited');
    for (let i = 0; i < 5; i++) w.send(placeOrderTask(`rl-${i}`));
    await w.deliver();
    w.broker.heal();
    return w;
  }

  it('TC-ORD-012: an OPEN breaker holds a new task RETRYING until the recovery timeout, without calling the broker', async () => {
    const w = await withOpenBreaker();
    w.clock.advance(10_000);
    const task = placeOrderTask('held');
    w.send(task);
    const calls = w.broker.calls.length;
    const { response } = await w.deliver();

    // The new task and the five whose retries came due: all held, none reached the broker. A hold
    // is not an attempt: each goes back as a delayed copy whose receive count starts again (so
    // holds never use up the queue's redrive limit), and the originals leave the queue.
    expect(w.broker.calls).toHaveLength(calls);
    expect(response?.batchItemFailures).toEqual([]);
    expect(w.outcomes.slice(-6).every((o) => o.outcome.kind === 'circuit-open')).toBe(true);
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 6 });
    expect(w.queues.main.peek().map((m) => m.receiveCount)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(w.outcomes.find((o) => o.taskId === 'held')?.outcome).toEqual({
      kind: 'circuit-open',
      taskId: 'held',
      delaySeconds: 50,
    });
    const record = await w.orders.get('held');
    expect(record?.status).toBe('RETRYING');
    expect(record?.lastError).toMatch(/^\[circuit-open\] Circuit breaker open/);
    // A rejection is not an attempt.
    expect(record?.attempts).toEqual([]);
    expect((await w.breakers.get(ACCOUNT_BREAKER)).state).toBe('OPEN');
  });

  it('TC-ORD-013: after 60 s the breaker goes HALF_OPEN and lets at most 3 test calls through', async () => {
    const w = await withOpenBreaker();
    w.clock.advance(59_999);
    expect(await w.breaker.acquire(ACCOUNT_BREAKER)).toEqual({ allowed: false, retryAfterMs: 1 });
    w.clock.advance(1);
    // Five workers ask at once: the shared state hands out exactly three slots.
    const permits = await Promise.all(Array.from({ length: 5 }, () => w.breaker.acquire(ACCOUNT_BREAKER)));
    expect(permits.filter((p) => p.allowed)).toHaveLength(3);
    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({ state: 'HALF_OPEN', halfOpenCalls: 3 });
    expect(w.breakerTransitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN']);
  });

  it('TC-ORD-014: a successful test call in HALF_OPEN closes the breaker and resets the failure count', async () => {
    const w = await withOpenBreaker();
    w.clock.advance(60_000);
    w.send(placeOrderTask('probe-ok'));
    await w.deliver();

    expect((await w.orders.get('probe-ok'))?.status).toBe('COMPLETED');
    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({
      state: 'CLOSED',
      consecutiveFailures: 0,
      openedAt: null,
    });
    // circuit_breaker_closes += 1, and normal operation resumes.
    expect(w.breakerTransitions.map((t) => `${t.from}>${t.to}`)).toEqual([
      'CLOSED>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>CLOSED',
    ]);
    await w.drain();
    for (let i = 0; i < 5; i++) expect((await w.orders.get(`rl-${i}`))?.status).toBe('COMPLETED');
  });

  it('TC-ORD-015: a failed test call in HALF_OPEN reopens the breaker with a new 60 s timeout', async () => {
    const w = await withOpenBreaker();
    w.clock.advance(60_000);
    w.broker.failNext('server');
    w.send(placeOrderTask('probe-fails'));
    await w.deliver();
    const reopenedAt = w.clock.now();

    expect(await w.breakers.get(ACCOUNT_BREAKER)).toMatchObject({ state: 'OPEN', openedAt: reopenedAt });
    expect(w.breakerTransitions.map((t) => `${t.from}>${t.to}`)).toEqual([
      'CLOSED>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>OPEN',
    ]);
    w.clock.advance(59_000);
    expect(await w.breaker.acquire(ACCOUNT_BREAKER)).toEqual({ allowed: false, retryAfterMs: 1000 });
    w.send(placeOrderTask('after-reopen'));
    const calls = w.broker.calls.length;
    await w.deliver();
    expect(w.broker.calls).toHaveLength(calls);
    expect((await w.orders.get('after-reopen'))?.status).toBe('RETRYING');
  });
});

describe('order worker: retries and dead letters', () => {
  it('TC-ORD-020: retries back off 1, 2, 4, 8, 16 s and then stay at the 30 s cap', async () => {
    const w = await startOrderWorker(client, { retry: { maxAttempts: 8 }, policy: { failureThreshold: 100 } });
    w.broker.failAlways('timeout');
    w.send(placeOrderTask('ord-020'));
    await w.drain();

    const delays = w.outcomes
      .filter((o) => o.outcome.kind === 'retry')
      .map((o) => ('delaySeconds' in o.outcome ? o.outcome.delaySeconds : -1));
    expect(delays).toEqual([1, 2, 4, 8, 16, 30, 30]);
    // Each retry reached the broker exactly when its backoff ended.
    const at = w.broker.calls.map((c) => (c.at - HARNESS_START_MS) / 1000);
    expect(at).toEqual([0, 1, 3, 7, 15, 31, 61, 91]);
    expect((await w.orders.get('ord-020'))?.status).toBe('DEAD_LETTER');
  });

  it('TC-ORD-021: a non-retryable broker error dead-letters at once, with a clear error and no retry', async () => {
    const w = await startOrderWorker(client);
    w.broker.failNext('input');
    w.send(placeOrderTask('ord-021'));
    const { response } = await w.deliver();

    expect(response?.batchItemFailures).toEqual([]);
    expect(w.broker.calls).toHaveLength(1);
    const record = await w.orders.get('ord-021');
    expect(record?.status).toBe('DEAD_LETTER');
    expect(record?.lastError).toBe('[input] Injected input failure');
    expect(record?.attempts).toEqual([
      {
        attempt: 1,
        at: HARNESS_START_MS,
        error: { type: 'input', message: 'Injected input failure', retryable: false },
      },
    ]);
    expect(w.orders.path('ord-021')).toEqual(['RUNNING', 'DEAD_LETTER']);
    w.clock.advance(120_000);
    await w.drain();
    expect(w.broker.calls).toHaveLength(1);
    const dead = await w.deadLetters();
    expect(dead.map((m) => attr(m, 'error_type'))).toEqual(['input']);
  });

  it('TC-ORD-021: invalid messages are dead-lettered at once with the validation error, never retried, while the rest of the batch completes', async () => {
    const w = await startOrderWorker(client);
    const { params: _params, ...withoutParams } = placeOrderTask('no-params');
    w.send('{"task_id": "broken"');
    w.send(JSON.stringify(withoutParams));
    w.send(placeOrderTask('valid'));
    const { received, response } = await w.deliver();

    expect(received).toBe(3);
    expect(response?.batchItemFailures).toEqual([]);
    expect((await w.orders.get('valid'))?.status).toBe('COMPLETED');
    expect(w.broker.calls.map((c) => c.taskId)).toEqual(['valid']);
    const dead = await w.deadLetters();
    expect(dead.map((m) => attr(m, 'error_type'))).toEqual(['validation', 'validation']);
    expect(attr(dead[0] ?? { messageAttributes: {} }, 'error_message')).toMatch(/^Body is not JSON/);
    expect(attr(dead[1] ?? { messageAttributes: {} }, 'error_message')).toMatch(/params/);
    expect(w.queues.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('TC-ORD-030: after max attempts the task is in the dead-letter queue with its metadata and every attempt, and can be redriven', async () => {
    const w = await startOrderWorker(client);
    const task = placeOrderTask('ord-030', { account_id: 'AB0001' });
    w.broker.failAlways('network');
    w.send(task);
    await w.drain();

    const dead = await w.deadLetters();
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]?.body ?? '')).toEqual(task);
    expect(attr(dead[0] ?? { messageAttributes: {} }, 'error_type')).toBe('network');
    const listed = await w.orders.listDeadLetters({ errorType: 'network', limit: 10 });
    expect(listed.items.map((r) => r.task)).toEqual([task]);
    const record = listed.items[0];
    expect(record?.attempts.map((a) => [a.attempt, (a.at - HARNESS_START_MS) / 1000, a.error?.type])).toEqual([
      [1, 0, 'network'],
      [2, 1, 'network'],
      [3, 3, 'network'],
    ]);

    // Manual retry: the operator redrives it once Kite is back; the new round has its own attempts.
    w.broker.heal();
    expect((await w.orders.transition('ord-030', 'PENDING', {}, w.clock.now()))?.status).toBe('PENDING');
    w.queues.deadLetter.changeVisibility(dead[0]?.receiptHandle ?? '', 0);
    expect(w.queues.deadLetter.moveTo(w.queues.main, () => true)).toBe(1);
    await w.drain();
    const redriven = await w.orders.get('ord-030');
    expect(redriven?.status).toBe('COMPLETED');
    expect(redriven?.attempts).toHaveLength(4);
    expect(w.broker.placements().get(task.idempotency_key)).toBe(1);
  });
});
