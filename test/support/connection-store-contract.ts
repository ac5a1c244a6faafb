import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConnectionRecord, ConnectionStore } from '../../shared/ports/connection-store.js';
import type { KnownLimitations } from './known-limitations.js';

/** A store that starts empty for one test, and how to remove what it leaves behind. */
export interface OpenedConnectionStore {
  readonly store: ConnectionStore;
  dispose?(): Promise<void>;
}

/**
 * Opens a fresh, empty store that reads time from `clock` (to decide expiry); called once per test
 * and once per property run.
 */
export type ConnectionStoreFactory = (clock: Clock) => Promise<OpenedConnectionStore>;

/** How hard the contract pushes an adapter. */
export interface ConnectionStoreContractOptions {
  /** Random operation sequences the model property checks: many in memory, fewer over a network. */
  readonly propertyRuns?: number;
  /** What the target is known to do otherwise than AWS (moto): only the assertions it breaks are left out. */
  readonly limitations?: KnownLimitations;
}

const START_MS = Date.UTC(2025, 0, 8, 3, 45, 0);
/** API Gateway's 2-hour connection limit plus the margin the handlers add. */
const LIFETIME_S = 2 * 3600 + 300;

/** A connection record, connected at `nowMs` and expiring a little past 2 h later. */
function connection(connectionId: string, nowMs: number, overrides: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    connectionId,
    userId: `user-${connectionId}`,
    email: `${connectionId}@example.com`,
    name: 'Asha Rao',
    tokens: [],
    delivery: 'tick',
    batchIntervalMs: null,
    connectedAt: nowMs,
    expiresAt: Math.floor(nowMs / 1000) + LIFETIME_S,
    ...overrides,
  };
}

const sorted = (values: Iterable<number>) => [...new Set(values)].sort((a, b) => a - b);
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/**
 * The one contract every {@link ConnectionStore} adapter passes (docs/architecture.md): each adapter's
 * test file calls this with its factory. Time is a {@link ManualClock} the tests move, so expiry is
 * checked without waiting.
 */
export function connectionStoreContract(
  adapter: string,
  factory: ConnectionStoreFactory,
  options: ConnectionStoreContractOptions = {},
): void {
  describe(`ConnectionStore contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    const open = async (): Promise<{ store: ConnectionStore; clock: ManualClock }> => {
      const clock = new ManualClock(START_MS);
      const opened = await factory(clock);
      if (opened.dispose) teardown.push(() => opened.dispose?.() ?? Promise.resolve());
      return { store: opened.store, clock };
    };

    describe('records', () => {
      it('returns what was put, with tokens ascending and without repeats', async () => {
        const { store } = await open();
        const record = connection('c1', START_MS, {
          tokens: [260_105, 256_265, 260_105],
          delivery: 'batch',
          batchIntervalMs: 250,
          email: null,
          name: null,
        });
        await store.put(record);
        expect(await store.get('c1')).toEqual({ ...record, tokens: [256_265, 260_105] });
      });

      it('returns undefined for a connection that was never put', async () => {
        const { store } = await open();
        expect(await store.get('nobody')).toBeUndefined();
      });

      it('replaces the whole record on a second put, tokens included', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [1, 2] }));
        const replacement = connection('c1', START_MS + 5_000, { tokens: [2, 3], userId: 'someone-else' });
        await store.put(replacement);
        expect(await store.get('c1')).toEqual(replacement);
      });

      it('hands out copies: changing a returned record or token list does not change the store', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [1] }));
        const got = await store.get('c1');
        (got?.tokens as number[] | undefined)?.push(99);
        const tokens = await store.addTokens('c1', [2]);
        (tokens as number[]).push(100);
        expect((await store.get('c1'))?.tokens).toEqual([1, 2]);
      });
    });

    describe('tokens', () => {
      it('returns the full token list from addTokens and removeTokens, and the record follows', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [10] }));
        await store.put(connection('c2', START_MS, { tokens: [10, 20] }));
        expect(await store.addTokens('c1', [30, 20, 30])).toEqual([10, 20, 30]);
        expect(await store.addTokens('c1', [20])).toEqual([10, 20, 30]);
        expect(await store.get('c1')).toMatchObject({ tokens: [10, 20, 30] });
        expect(await store.removeTokens('c1', [10, 40])).toEqual([20, 30]);
        expect(await store.get('c1')).toMatchObject({ tokens: [20, 30] });
        expect(await store.removeTokens('c1', [20, 30])).toEqual([]);
        expect(await store.get('c1')).toMatchObject({ tokens: [] });
        expect(await store.get('c2')).toMatchObject({ tokens: [10, 20] });
        expect(await store.addTokens('c1', [])).toEqual([]);
      });

      it('rejects token changes on a connection that is not there with NotFoundError, creating nothing', async () => {
        const { store } = await open();
        await store.put(connection('gone', START_MS, { tokens: [7] }));
        await store.remove('gone');
        for (const id of ['never', 'gone']) {
          expect(await rejectionOf(store.addTokens(id, [7]))).toBeInstanceOf(NotFoundError);
          expect(await rejectionOf(store.removeTokens(id, [7]))).toBeInstanceOf(NotFoundError);
          expect(await rejectionOf(store.setDelivery(id, 'batch', 500))).toBeInstanceOf(NotFoundError);
          expect(await store.get(id)).toBeUndefined();
        }
      });

      it('loses none of 20 concurrent addTokens on one connection', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [1] }));
        const batches = range(0, 20).map((i) => [100 + i, 200 + (i % 5)]);
        const results = await Promise.all(batches.map((tokens) => store.addTokens('c1', tokens)));
        const expected = sorted([1, ...batches.flat()]);
        for (const [i, result] of results.entries()) {
          // Each call sees at least its own tokens, and nothing that was never added.
          expect(result).toEqual(expect.arrayContaining(batches[i] ?? []));
          expect(expected).toEqual(expect.arrayContaining([...result]));
        }
        expect((await store.get('c1'))?.tokens).toEqual(expected);
      });

      it('applies every add and remove when they race on one connection', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: range(1, 10) }));
        await Promise.all([
          ...range(1, 5).map((t) => store.removeTokens('c1', [t])),
          ...range(11, 10).map((t) => store.addTokens('c1', [t])),
        ]);
        const expected = [...range(6, 5), ...range(11, 10)];
        expect((await store.get('c1'))?.tokens).toEqual(expected);
      });

      // Concurrent conditional writes to one item are the case moto serves racily (KnownLimitations).
      it.skipIf(options.limitations?.racyConditionalWrites)(
        'changeTokens: concurrent stamped actions leave what the latest action on each token asked for',
        async () => {
          const action = fc.record({
            action: fc.constantFrom('add' as const, 'remove' as const),
            tokens: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
          });
          const { store } = await open();
          let run = 0;
          await fc.assert(
            fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), fc.nat(), async (actions, seed) => {
              const id = `ordered-${run++}`;
              await store.put(connection(id, START_MS, { tokens: [6] }));
              const stamped = actions.map((a, i) => ({ ...a, stamp: i + 1 }));
              // Applied all at once, started in an order the seed shuffles.
              const order = [...stamped].sort(
                (a, b) => ((a.stamp * 7919 + seed) % 13) - ((b.stamp * 7919 + seed) % 13),
              );
              const results = await Promise.all(order.map((a) => store.changeTokens(id, a)));
              const wanted = new Set([6]);
              for (const a of stamped) for (const t of a.tokens) a.action === 'add' ? wanted.add(t) : wanted.delete(t);
              expect((await store.get(id))?.tokens).toEqual(sorted(wanted));
              // Every change got a version of its own, and the last one holds the final list.
              const versions = results.map((r) => r.version);
              expect(new Set(versions).size).toBe(actions.length);
              const last = results.find((r) => r.version === Math.max(...versions));
              expect(last?.tokens).toEqual(sorted(wanted));
            }),
            { numRuns: Math.min(options.propertyRuns ?? 50, 10) },
          );
        },
      );

      it('changeTokens: refuses an add past maxTokens and changes nothing', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [1, 2] }));
        const refused = await store.changeTokens('c1', { action: 'add', tokens: [3, 4], stamp: 1, maxTokens: 3 });
        expect(refused).toMatchObject({ accepted: false, tokens: [1, 2] });
        const accepted = await store.changeTokens('c1', { action: 'add', tokens: [2, 3], stamp: 2, maxTokens: 3 });
        expect(accepted).toMatchObject({ accepted: true, tokens: [1, 2, 3] });
        expect(accepted.version).toBeGreaterThan(refused.version);
        expect(await rejectionOf(store.changeTokens('never', { action: 'add', tokens: [1], stamp: 1 }))).toBeInstanceOf(
          NotFoundError,
        );
      });

      it('keeps many connections apart', async () => {
        const { store } = await open();
        const ids = range(0, 30).map((i) => `conn-${String(i).padStart(2, '0')}`);
        await Promise.all(
          ids.map((id, i) => store.put(connection(id, START_MS, { tokens: i % 3 === 0 ? [5, 6] : [6] }))),
        );
        for (const [i, id] of ids.entries()) {
          expect((await store.get(id))?.tokens, id).toEqual(i % 3 === 0 ? [5, 6] : [6]);
        }
      });
    });

    describe('removal and expiry', () => {
      it('removes the record; a second remove, or one of an unknown id, is a no-op', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [10, 20] }));
        await store.put(connection('c2', START_MS, { tokens: [20] }));
        await store.addTokens('c1', [30]);
        await store.remove('c1');
        expect(await store.get('c1')).toBeUndefined();
        await store.remove('c1');
        await store.remove('never-connected');
        expect(await store.get('c2')).toMatchObject({ tokens: [20] });
      });

      it('can put a connection again after removing it', async () => {
        const { store } = await open();
        await store.put(connection('c1', START_MS, { tokens: [10, 20] }));
        await store.remove('c1');
        const again = connection('c1', START_MS + 1_000, { tokens: [20, 30] });
        await store.put(again);
        expect(await store.get('c1')).toEqual(again);
        expect(await store.addTokens('c1', [40])).toEqual([20, 30, 40]);
      });

      it('treats a record past expiresAt as gone everywhere, before anything deletes it', async () => {
        const { store, clock } = await open();
        await store.put(connection('short', START_MS, { tokens: [10], expiresAt: START_MS / 1000 + 60 }));
        await store.put(connection('long', START_MS, { tokens: [10] }));
        clock.advance(59_999);
        expect(await store.get('short')).toBeDefined();
        clock.advance(1);
        expect(await store.get('short')).toBeUndefined();
        expect(await store.get('long')).toBeDefined();
        expect(await rejectionOf(store.addTokens('short', [11]))).toBeInstanceOf(NotFoundError);
        expect(await store.get('short')).toBeUndefined();
        await store.remove('short');
        clock.advance(LIFETIME_S * 1000);
        expect(await store.get('long')).toBeUndefined();
      });

      it('brings an expired connection back when it is put again with a later expiry', async () => {
        const { store, clock } = await open();
        await store.put(connection('c1', START_MS, { tokens: [10], expiresAt: START_MS / 1000 + 60 }));
        clock.advance(120_000);
        expect(await store.get('c1')).toBeUndefined();
        await store.put(connection('c1', clock.now(), { tokens: [20] }));
        expect(await store.get('c1')).toMatchObject({ tokens: [20] });
      });
    });

    describe('delivery', () => {
      it('sets the delivery mode and interval and leaves the rest of the record alone', async () => {
        const { store } = await open();
        const record = connection('c1', START_MS, { tokens: [10] });
        await store.put(record);
        await store.setDelivery('c1', 'batch', 500);
        expect(await store.get('c1')).toEqual({ ...record, delivery: 'batch', batchIntervalMs: 500 });
        await store.setDelivery('c1', 'tick', null);
        expect(await store.get('c1')).toEqual(record);
      });
    });

    it('rejects bad input with a ValidationError naming the field, and stores nothing', async () => {
      const { store } = await open();
      await store.put(connection('c1', START_MS));
      const bad: [string, () => Promise<unknown>][] = [
        ['connectionId', () => store.get('')],
        ['connectionId', () => store.remove('')],
        ['tokens', () => store.addTokens('c1', [0])],
        ['tokens', () => store.addTokens('c1', [1.5])],
        ['tokens', () => store.removeTokens('c1', [-3])],
        ['delivery', () => store.setDelivery('c1', 'stream' as 'tick', null)],
        ['batchIntervalMs', () => store.setDelivery('c1', 'batch', 0)],
        ['userId', () => store.put(connection('c2', START_MS, { userId: '' }))],
        ['tokens', () => store.put(connection('c2', START_MS, { tokens: [Number.NaN] }))],
        ['expiresAt', () => store.put(connection('c2', START_MS, { expiresAt: Number.NaN }))],
        // Reserved: earlier DynamoDB stores kept token index items under this prefix.
        ['connectionId', () => store.get('token#5#c1')],
        ['connectionId', () => store.put(connection('token#5', START_MS))],
        ['userId', () => store.put(connection('c2', START_MS, { userId: 'token#5' }))],
      ];
      for (const [field, attempt] of bad) {
        const error = await rejectionOf(attempt());
        expect(error, field).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).details.map((d) => d.path).join(' '), field).toContain(field);
      }
      expect(await store.get('c2')).toBeUndefined();
      expect(await store.get('c1')).toEqual(connection('c1', START_MS));
    });

    it('behaves like a map of records over random operation sequences', async () => {
      const idArb = fc.constantFrom('a', 'b', 'c', 'd');
      const tokenArb = fc.integer({ min: 1, max: 6 });
      const tokensArb = fc.array(tokenArb, { maxLength: 4 });
      const opArb = fc.oneof(
        fc.record({
          kind: fc.constant('put' as const),
          id: idArb,
          tokens: tokensArb,
          lifetimeS: fc.integer({ min: 1, max: 100 }),
        }),
        fc.record({ kind: fc.constant('add' as const), id: idArb, tokens: tokensArb }),
        fc.record({ kind: fc.constant('removeTokens' as const), id: idArb, tokens: tokensArb }),
        fc.record({ kind: fc.constant('remove' as const), id: idArb }),
        fc.record({
          kind: fc.constant('delivery' as const),
          id: idArb,
          batch: fc.boolean(),
        }),
        fc.record({ kind: fc.constant('get' as const), id: idArb }),
        fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60_000 }) }),
      );

      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
          const clock = new ManualClock(START_MS);
          const opened = await factory(clock);
          try {
            const { store } = opened;
            const model = new Map<string, ConnectionRecord>();
            const live = (id: string) => {
              const record = model.get(id);
              return record && clock.now() < record.expiresAt * 1000 ? record : undefined;
            };
            for (const op of ops) {
              switch (op.kind) {
                case 'put': {
                  const record = connection(op.id, clock.now(), {
                    tokens: op.tokens,
                    expiresAt: Math.ceil(clock.now() / 1000) + op.lifetimeS,
                  });
                  await store.put(record);
                  model.set(op.id, { ...record, tokens: sorted(op.tokens) });
                  break;
                }
                case 'add':
                case 'removeTokens': {
                  const before = live(op.id);
                  const call =
                    op.kind === 'add' ? store.addTokens(op.id, op.tokens) : store.removeTokens(op.id, op.tokens);
                  if (!before) {
                    expect(await rejectionOf(call)).toBeInstanceOf(NotFoundError);
                    break;
                  }
                  const tokens =
                    op.kind === 'add'
                      ? sorted([...before.tokens, ...op.tokens])
                      : before.tokens.filter((t) => !op.tokens.includes(t));
                  model.set(op.id, { ...before, tokens });
                  expect(await call).toEqual(tokens);
                  break;
                }
                case 'remove':
                  model.delete(op.id);
                  await store.remove(op.id);
                  break;
                case 'delivery': {
                  const before = live(op.id);
                  const [delivery, interval] = op.batch ? (['batch', 250] as const) : (['tick', null] as const);
                  const call = store.setDelivery(op.id, delivery, interval);
                  if (!before) {
                    expect(await rejectionOf(call)).toBeInstanceOf(NotFoundError);
                    break;
                  }
                  await call;
                  model.set(op.id, { ...before, delivery, batchIntervalMs: interval });
                  break;
                }
                case 'get':
                  expect(await store.get(op.id)).toEqual(live(op.id));
                  break;
                case 'advance':
                  clock.advance(op.ms);
                  break;
              }
            }
            for (const id of ['a', 'b', 'c', 'd']) expect(await store.get(id), id).toEqual(live(id));
          } finally {
            await opened.dispose?.();
          }
        }),
        { numRuns: options.propertyRuns ?? 100 },
      );
    }, 120_000);
  });
}
