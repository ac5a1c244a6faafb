import { afterEach, describe, expect, it } from 'vitest';
import { aggregateSlices } from '../../shared/domain/orders/sliced-order.js';
import { ConflictError, ValidationError } from '../../shared/errors.js';
import type { OrderRecord, OrderStore } from '../../shared/ports/orders.js';
import type { KnownLimitations } from './known-limitations.js';
import { placeOrderTask } from './order-fixtures.js';

/** A store that starts empty for one test, and how to remove what it leaves behind. */
export interface OpenedOrderStore {
  readonly store: OrderStore;
  dispose?(): Promise<void>;
}

const T0 = Date.UTC(2025, 0, 8, 3, 45, 0);

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/**
 * The one contract every {@link OrderStore} adapter passes (docs/architecture.md): each adapter's test file
 * calls it with a factory that opens a fresh, empty store, and the target's known limitations if it
 * is an emulator of DynamoDB.
 */
export function orderStoreContract(
  adapter: string,
  factory: () => Promise<OpenedOrderStore>,
  limitations: KnownLimitations = {},
): void {
  describe(`OrderStore contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    const open = async (): Promise<OrderStore> => {
      const opened = await factory();
      if (opened.dispose) teardown.push(() => opened.dispose?.() ?? Promise.resolve());
      return opened.store;
    };

    it('creates a PENDING record with no attempts and reads it back', async () => {
      const store = await open();
      const created = await store.create(placeOrderTask('t1'), T0);
      expect(created).toEqual({
        task: placeOrderTask('t1'),
        status: 'PENDING',
        attempts: [],
        createdAt: T0,
        updatedAt: T0,
      });
      expect(await store.get('t1')).toEqual(created);
      expect(await store.get('missing')).toBeUndefined();
    });

    it("keeps a poison message's raw body through transitions and in the dead-letter listing", async () => {
      const store = await open();
      const rawBody = '{"task_id":"raw-1","quantity":"lots"}';
      expect((await store.create(placeOrderTask('raw-1'), T0, { rawBody })).rawBody).toBe(rawBody);
      await store.transition('raw-1', 'DEAD_LETTER', { lastError: '[validation] not an order task' }, T0 + 1);
      expect((await store.get('raw-1'))?.rawBody).toBe(rawBody);
      const listed = await store.listDeadLetters({ errorType: 'validation', limit: 10 });
      expect(listed.items.map((r) => r.rawBody)).toEqual([rawBody]);
      expect((await store.create(placeOrderTask('plain-1'), T0)).rawBody).toBeUndefined();
    });

    it('refuses to create a task id twice and leaves the first record as it was', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      await store.transition('t1', 'RUNNING', {}, T0 + 1);
      const error = await rejectionOf(store.create(placeOrderTask('t1', { idempotency_key: 'other' }), T0 + 2));
      expect(error).toBeInstanceOf(ConflictError);
      expect((await store.get('t1'))?.status).toBe('RUNNING');
      expect((await store.get('t1'))?.task.idempotency_key).toBe('key-t1');
    });

    it('rejects a task that breaks the contract before writing anything', async () => {
      const store = await open();
      const bad = { ...placeOrderTask('t1'), account_id: '' };
      expect(await rejectionOf(store.create(bad, T0))).toBeInstanceOf(ValidationError);
      expect(await store.get('t1')).toBeUndefined();
    });

    it('walks PENDING → RUNNING → RETRYING → RUNNING → COMPLETED, appending attempts and keeping the result', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      expect((await store.transition('t1', 'RUNNING', {}, T0 + 1))?.status).toBe('RUNNING');
      const error = { type: 'timeout', message: 'Kite timed out', retryable: true };
      const retrying = await store.transition(
        't1',
        'RETRYING',
        { attempt: { attempt: 1, at: T0 + 2, error }, lastError: '[timeout] Kite timed out' },
        T0 + 3,
      );
      expect(retrying).toMatchObject({ status: 'RETRYING', lastError: '[timeout] Kite timed out', updatedAt: T0 + 3 });
      await store.transition('t1', 'RUNNING', {}, T0 + 4);
      const done = await store.transition(
        't1',
        'COMPLETED',
        {
          attempt: { attempt: 2, at: T0 + 5 },
          result: { orderId: 'ORD1', paper: true, status: 'COMPLETE', averagePrice: 101.5 },
        },
        T0 + 6,
      );
      const expected: OrderRecord = {
        task: placeOrderTask('t1'),
        status: 'COMPLETED',
        attempts: [
          { attempt: 1, at: T0 + 2, error },
          { attempt: 2, at: T0 + 5 },
        ],
        result: { orderId: 'ORD1', paper: true, status: 'COMPLETE', averagePrice: 101.5 },
        lastError: '[timeout] Kite timed out',
        createdAt: T0,
        updatedAt: T0 + 6,
      };
      expect(done).toEqual(expected);
      expect(await store.get('t1')).toEqual(expected);
    });

    it('refuses transitions the plan does not allow and changes nothing', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      expect(
        await store.transition(
          't1',
          'COMPLETED',
          { result: { orderId: 'x', paper: true, status: 'COMPLETE' } },
          T0 + 1,
        ),
      ).toBeUndefined();
      await store.transition('t1', 'RUNNING', {}, T0 + 1);
      await store.transition(
        't1',
        'COMPLETED',
        { result: { orderId: 'ORD1', paper: true, status: 'COMPLETE' } },
        T0 + 2,
      );
      for (const to of ['PENDING', 'RUNNING', 'RETRYING', 'DEAD_LETTER', 'COMPLETED'] as const) {
        expect(await store.transition('t1', to, { lastError: '[input] late' }, T0 + 3)).toBeUndefined();
      }
      const record = await store.get('t1');
      expect(record).toMatchObject({ status: 'COMPLETED', updatedAt: T0 + 2, result: { orderId: 'ORD1' } });
      expect(record?.lastError).toBeUndefined();
      expect(await store.transition('missing', 'RUNNING', {}, T0)).toBeUndefined();
    });

    it('lets only one of two racing workers take a task', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      await store.transition('t1', 'RUNNING', {}, T0 + 1);
      const results = await Promise.all([
        store.transition(
          't1',
          'COMPLETED',
          { attempt: { attempt: 1, at: T0 + 2 }, result: { orderId: 'A', paper: true, status: 'COMPLETE' } },
          T0 + 2,
        ),
        store.transition(
          't1',
          'COMPLETED',
          { attempt: { attempt: 1, at: T0 + 2 }, result: { orderId: 'B', paper: true, status: 'COMPLETE' } },
          T0 + 2,
        ),
      ]);
      const winners = results.filter((r) => r !== undefined);
      if (limitations.racyConditionalWrites) {
        // Both may pass the condition there (KnownLimitations.racyConditionalWrites); one must.
        expect(winners.length).toBeGreaterThanOrEqual(1);
        expect((await store.get('t1'))?.status).toBe('COMPLETED');
        return;
      }
      expect(winners).toHaveLength(1);
      expect((await store.get('t1'))?.attempts).toHaveLength(1);
    });

    it('redrives a dead letter to PENDING, stamping redrivenAt and keeping the attempt history', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      await store.transition('t1', 'RUNNING', {}, T0 + 1);
      const error = { type: 'input', message: 'bad symbol', retryable: false };
      await store.transition(
        't1',
        'DEAD_LETTER',
        { attempt: { attempt: 1, at: T0 + 1, error }, lastError: '[input] bad symbol' },
        T0 + 2,
      );
      const redriven = await store.transition('t1', 'PENDING', {}, T0 + 10);
      expect(redriven).toMatchObject({ status: 'PENDING', redrivenAt: T0 + 10, attempts: [{ attempt: 1, error }] });
    });

    it('TC-ORD-031: lists every dead letter newest first with ids, errors and times, filtered by error type and paged', async () => {
      const store = await open();
      const kinds = ['input', 'timeout', 'input', 'margin', 'input'] as const;
      for (const [i, kind] of kinds.entries()) {
        const id = `dl${i}`;
        await store.create(placeOrderTask(id), T0);
        await store.transition(id, 'RUNNING', {}, T0 + 1);
        await store.transition(
          id,
          'DEAD_LETTER',
          {
            attempt: {
              attempt: 1,
              at: T0 + 1,
              error: { type: kind, message: `${kind} failure`, retryable: kind === 'timeout' },
            },
            lastError: `[${kind}] ${kind} failure`,
          },
          T0 + 100 + i,
        );
      }
      await store.create(placeOrderTask('alive'), T0);
      await store.create(placeOrderTask('done'), T0);
      await store.transition('done', 'RUNNING', {}, T0);
      await store.transition(
        'done',
        'COMPLETED',
        { result: { orderId: 'x', paper: true, status: 'COMPLETE' } },
        T0 + 500,
      );

      const all = await store.listDeadLetters({ limit: 10 });
      expect(all.items.map((r) => r.task.task_id)).toEqual(['dl4', 'dl3', 'dl2', 'dl1', 'dl0']);
      expect(all.cursor).toBeUndefined();
      expect(all.items[0]).toMatchObject({
        status: 'DEAD_LETTER',
        lastError: '[input] input failure',
        updatedAt: T0 + 104,
        createdAt: T0,
      });
      expect(all.items[0]?.attempts[0]?.error).toEqual({ type: 'input', message: 'input failure', retryable: false });

      const inputs = await store.listDeadLetters({ errorType: 'input', limit: 2 });
      expect(inputs.items.map((r) => r.task.task_id)).toEqual(['dl4', 'dl2']);
      expect(inputs.cursor).toBeDefined();
      const rest = await store.listDeadLetters({
        errorType: 'input',
        limit: 2,
        ...(inputs.cursor && { cursor: inputs.cursor }),
      });
      expect(rest.items.map((r) => r.task.task_id)).toEqual(['dl0']);
      expect(rest.cursor).toBeUndefined();
      expect(
        (await store.listDeadLetters({ errorType: 'timeout', limit: 5 })).items.map((r) => r.task.task_id),
      ).toEqual(['dl1']);
      expect((await store.listDeadLetters({ errorType: 'network', limit: 5 })).items).toEqual([]);

      // A cursor is bound to its filter, and a page size outside 1-1000 is refused.
      const cursor = inputs.cursor ?? '';
      expect(await rejectionOf(store.listDeadLetters({ errorType: 'margin', limit: 2, cursor }))).toBeInstanceOf(
        ValidationError,
      );
      expect(await rejectionOf(store.listDeadLetters({ limit: 2, cursor: 'not-a-cursor!' }))).toBeInstanceOf(
        ValidationError,
      );
      expect(await rejectionOf(store.listDeadLetters({ limit: 0 }))).toBeInstanceOf(ValidationError);
    });

    it('lists only the dead letters of one owner when asked', async () => {
      const store = await open();
      for (const [id, owner] of [
        ['a1', 'alice'],
        ['b1', 'bob'],
        ['a2', 'alice'],
      ] as const) {
        await store.create(placeOrderTask(id, { owner }), T0);
        await store.transition(id, 'DEAD_LETTER', { lastError: '[input] no' }, T0 + id.length + (id === 'a2' ? 5 : 0));
      }
      const alices = await store.listDeadLetters({ owner: 'alice', limit: 10 });
      expect(alices.items.map((r) => r.task.task_id).sort()).toEqual(['a1', 'a2']);
      expect((await store.listDeadLetters({ owner: 'carol', limit: 10 })).items).toEqual([]);
      expect((await store.listDeadLetters({ owner: 'bob', errorType: 'input', limit: 10 })).items).toHaveLength(1);
    });

    it('merges broker updates monotonically: a late or repeated update never moves the order back', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      await store.transition('t1', 'RUNNING', {}, T0 + 1);
      await store.transition('t1', 'COMPLETED', { result: { orderId: 'O1', paper: false, status: 'PLACED' } }, T0 + 2);
      const open1 = {
        orderId: 'O1',
        status: 'OPEN',
        filledQuantity: 0,
        pendingQuantity: 65,
        exchangeUpdateTimestamp: '2026-12-07 10:00:01',
      };
      const filled = {
        orderId: 'O1',
        status: 'COMPLETE',
        filledQuantity: 65,
        pendingQuantity: 0,
        averagePrice: 101.5,
        exchangeUpdateTimestamp: '2026-12-07 10:00:03',
      };
      expect((await store.applyBrokerUpdate('t1', open1, T0 + 3))?.changed).toBe(true);
      expect((await store.applyBrokerUpdate('t1', open1, T0 + 4))?.changed).toBe(false);
      const done = await store.applyBrokerUpdate('t1', filled, T0 + 5);
      expect(done?.changed).toBe(true);
      expect(done?.record.result).toEqual({ ...filled, paper: false });
      // The OPEN arriving again, late, changes nothing.
      expect((await store.applyBrokerUpdate('t1', open1, T0 + 6))?.changed).toBe(false);
      expect((await store.get('t1'))?.result).toEqual({ ...filled, paper: false });
      expect((await store.get('t1'))?.status).toBe('COMPLETED');
      // A task without a result has nothing to merge into.
      await store.create(placeOrderTask('t2'), T0);
      expect(await store.applyBrokerUpdate('t2', open1, T0 + 7)).toBeUndefined();
      expect(await store.applyBrokerUpdate('nope', open1, T0 + 7)).toBeUndefined();
    });

    it('keeps a sliced result, lands each child update on its child, and drops it from open orders when all finish', async () => {
      const store = await open();
      await store.create(placeOrderTask('s1'), T0);
      await store.transition('s1', 'RUNNING', {}, T0 + 1);
      const child = (orderId: string, status: string) => ({
        orderId,
        status,
        quantity: 65,
        exchangeUpdateTimestamp: '2026-12-07 10:00:01',
      });
      const slices = [
        { index: 1, quantity: 65, order: child('C1', 'OPEN') },
        { index: 2, quantity: 65, order: child('C2', 'OPEN') },
        { index: 3, quantity: 65, error: '[margin] Insufficient funds' },
      ];
      // Progress of a task still RUNNING is kept as it is written.
      const progress = await store.transition(
        's1',
        'RUNNING',
        { result: { ...aggregateSlices(slices), paper: true } },
        T0 + 2,
      );
      expect(progress?.result?.slices).toEqual(slices);
      await store.transition('s1', 'COMPLETED', {}, T0 + 3);
      const done = { ...child('C2', 'COMPLETE'), filledQuantity: 65, exchangeUpdateTimestamp: '2026-12-07 10:00:03' };
      const applied = await store.applyBrokerUpdate('s1', done, T0 + 4);
      expect(applied?.changed).toBe(true);
      expect(applied?.record.result?.slices?.map((s) => s.order?.status)).toEqual(['OPEN', 'COMPLETE', undefined]);
      expect(applied?.record.result).toMatchObject({ orderId: 'C1', status: 'OPEN', filledQuantity: 65, paper: true });
      expect((await store.applyBrokerUpdate('s1', done, T0 + 5))?.changed).toBe(false);
      await expect
        .poll(async () => (await store.listOpenOrders({ limit: 10 })).items.map((r) => r.task.task_id))
        .toEqual(['s1']);
      await store.applyBrokerUpdate(
        's1',
        { ...child('C1', 'CANCELLED'), exchangeUpdateTimestamp: '2026-12-07 10:00:04' },
        T0 + 6,
      );
      const read = await store.get('s1');
      expect(read?.result?.status).toBe('COMPLETE');
      expect(read?.result?.slices?.[2]?.error).toBe('[margin] Insufficient funds');
      await expect.poll(async () => (await store.listOpenOrders({ limit: 10 })).items).toEqual([]);
    });

    it('holds updates for an order not linked yet and hands them to the link; later ones find the task', async () => {
      const store = await open();
      const early = { orderId: 'O9', status: 'OPEN', exchangeUpdateTimestamp: '2026-12-07 10:00:01' };
      expect(await store.holdBrokerUpdate(early)).toBeUndefined();
      expect(await store.holdBrokerUpdate({ ...early, status: 'COMPLETE' })).toBeUndefined();
      expect(await store.linkBrokerOrder('O9', 't9')).toEqual([early, { ...early, status: 'COMPLETE' }]);
      expect(await store.holdBrokerUpdate(early)).toBe('t9');
      // Linking again (a redelivered placement) finds nothing more held.
      expect(await store.linkBrokerOrder('O9', 't9')).toEqual([]);
    });

    it('lists the tasks whose broker order is still open, and drops them when it finishes', async () => {
      const store = await open();
      for (const [id, status] of [
        ['o1', 'OPEN'],
        ['o2', 'COMPLETE'],
        ['o3', 'TRIGGER PENDING'],
      ] as const) {
        await store.create(placeOrderTask(id), T0);
        await store.transition(id, 'RUNNING', {}, T0 + 1);
        await store.transition(id, 'COMPLETED', { result: { orderId: `X${id}`, paper: true, status } }, T0 + 2);
      }
      const openIds = async () => {
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listOpenOrders({ limit: 1, ...(cursor !== undefined && { cursor }) });
          ids.push(...page.items.map((r) => r.task.task_id));
          cursor = page.cursor;
        } while (cursor !== undefined);
        return ids.sort();
      };
      await expect.poll(openIds).toEqual(['o1', 'o3']);
      await store.applyBrokerUpdate('o1', { orderId: 'Xo1', status: 'CANCELLED' }, T0 + 3);
      await expect.poll(openIds).toEqual(['o3']);
    });

    it('lists records of the given statuses changed before a time, oldest first, up to the limit', async () => {
      const store = await open();
      await store.create(placeOrderTask('pending-old'), T0);
      await store.create(placeOrderTask('running'), T0);
      await store.transition('running', 'RUNNING', {}, T0 + 20);
      await store.create(placeOrderTask('retrying'), T0);
      await store.transition('retrying', 'RETRYING', { lastError: '[circuit_open] open' }, T0 + 10);
      await store.create(placeOrderTask('pending-new'), T0 + 100);
      await store.create(placeOrderTask('done'), T0);
      await store.transition('done', 'RUNNING', {}, T0 + 1);
      await store.transition(
        'done',
        'COMPLETED',
        { result: { orderId: 'x', paper: true, status: 'COMPLETE' } },
        T0 + 2,
      );
      await store.create(placeOrderTask('dead'), T0);
      await store.transition('dead', 'DEAD_LETTER', { lastError: '[input] bad' }, T0 + 3);

      const statuses = ['PENDING', 'RUNNING', 'RETRYING'] as const;
      const stale = await store.listStale({ statuses, updatedBefore: T0 + 100, limit: 10 });
      expect(stale.map((r) => [r.task.task_id, r.status, r.updatedAt])).toEqual([
        ['pending-old', 'PENDING', T0],
        ['retrying', 'RETRYING', T0 + 10],
        ['running', 'RUNNING', T0 + 20],
      ]);
      expect(stale[0]).toEqual(await store.get('pending-old'));
      expect(
        (await store.listStale({ statuses, updatedBefore: T0 + 100, limit: 2 })).map((r) => r.task.task_id),
      ).toEqual(['pending-old', 'retrying']);
      expect(
        (await store.listStale({ statuses: ['RUNNING'], updatedBefore: T0 + 20, limit: 10 })).map(
          (r) => r.task.task_id,
        ),
      ).toEqual([]);
      expect(await rejectionOf(store.listStale({ statuses, updatedBefore: T0, limit: 0 }))).toBeInstanceOf(
        ValidationError,
      );
      expect(await rejectionOf(store.listStale({ statuses: [], updatedBefore: T0, limit: 1 }))).toBeInstanceOf(
        ValidationError,
      );
    });

    it('touches a record only while it has the status and updatedAt the caller read', async () => {
      const store = await open();
      await store.create(placeOrderTask('t1'), T0);
      const touched = await store.touch('t1', { status: 'PENDING', updatedAt: T0 }, T0 + 50);
      expect(touched).toEqual({ ...(await store.get('t1')), updatedAt: T0 + 50 });
      expect(touched).toMatchObject({ status: 'PENDING', createdAt: T0, attempts: [] });
      // Read before that touch: it changed since, so a second sweeper does nothing.
      expect(await store.touch('t1', { status: 'PENDING', updatedAt: T0 }, T0 + 60)).toBeUndefined();
      // A worker moved it meanwhile: its progress wins.
      await store.transition('t1', 'RUNNING', {}, T0 + 70);
      expect(await store.touch('t1', { status: 'PENDING', updatedAt: T0 + 50 }, T0 + 80)).toBeUndefined();
      expect(await store.touch('t1', { status: 'PENDING', updatedAt: T0 + 70 }, T0 + 80)).toBeUndefined();
      expect(await store.get('t1')).toMatchObject({ status: 'RUNNING', updatedAt: T0 + 70 });
      expect(await store.touch('missing', { status: 'PENDING', updatedAt: T0 }, T0)).toBeUndefined();
      // A touched record leaves the stale list until it is stale again.
      await store.touch('t1', { status: 'RUNNING', updatedAt: T0 + 70 }, T0 + 200);
      expect(await store.listStale({ statuses: ['RUNNING'], updatedBefore: T0 + 100, limit: 10 })).toEqual([]);
    });
  });
}
