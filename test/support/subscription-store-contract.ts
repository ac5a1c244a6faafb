import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LIST_LIMIT } from '../../shared/adapters/subscription-store-input.js';
import type { SubscriptionMode, SubscriptionStatus } from '../../shared/contracts/common.js';
import { ValidationError } from '../../shared/errors.js';
import type { StoredSubscription, SubscriptionStore } from '../../shared/ports/subscription-store.js';
import type { KnownLimitations } from './known-limitations.js';

/** A store that starts empty for one test, and how to remove what it leaves behind. */
export interface OpenedSubscriptionStore {
  readonly store: SubscriptionStore;
  dispose?(): Promise<void>;
}

/** Opens a fresh, empty store; called once per test and once per property run. */
export type SubscriptionStoreFactory = () => Promise<OpenedSubscriptionStore>;

/** How hard the contract pushes an adapter. */
export interface SubscriptionStoreContractOptions {
  /** Random operation sequences the model property checks: many in memory, fewer over a network. */
  readonly propertyRuns?: number;
  /** What the target (an emulator of DynamoDB) is known to do otherwise than AWS. */
  readonly limitations?: KnownLimitations;
}

type Input = Parameters<SubscriptionStore['upsert']>[0];

/** A subscription to upsert, an NFO option unless `overrides` say otherwise. */
export function subscription(instrumentToken: number, overrides: Partial<Input> = {}): Input {
  return {
    instrumentToken,
    tradingsymbol: `NIFTY25JAN${instrumentToken}CE`,
    segment: 'NFO-OPT',
    status: 'active',
    requestedMode: 'FULL',
    accountId: null,
    ...overrides,
  };
}

/** Every record `list` returns for `status`, following cursors; checks each page on the way. */
async function listAll(
  store: SubscriptionStore,
  limit: number,
  status?: SubscriptionStatus,
): Promise<{ items: StoredSubscription[]; pages: number }> {
  const items: StoredSubscription[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ limit, ...(status && { status }), ...(cursor !== undefined && { cursor }) });
    pages++;
    expect(page.items.length).toBeLessThanOrEqual(limit);
    // A page that is followed by another is full; the last one carries no cursor.
    if (page.cursor !== undefined) expect(page.items.length).toBe(limit);
    items.push(...page.items);
    cursor = page.cursor;
    if (pages > 10_000) throw new Error('listing does not end');
  } while (cursor !== undefined);
  return { items, pages };
}

/** Upserts in parallel batches: quick against a server, and still many writes in flight. */
async function upsertAll(store: SubscriptionStore, inputs: readonly Input[], nowMs: number): Promise<void> {
  for (let i = 0; i < inputs.length; i += 25) {
    await Promise.all(inputs.slice(i, i + 25).map((input) => store.upsert(input, nowMs)));
  }
}

/** `values` in a reproducible shuffled order, so stores never see writes in token order only. */
function shuffled<T>(values: readonly T[]): T[] {
  const out = [...values];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const tokensOf = (records: readonly StoredSubscription[]) => records.map((r) => r.instrumentToken);
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/**
 * The one contract every {@link SubscriptionStore} adapter passes (docs/architecture.md): each adapter's
 * test file calls this with its factory. Every test gets an empty store, so listings can be
 * compared with exactly what the test wrote.
 */
export function subscriptionStoreContract(
  adapter: string,
  factory: SubscriptionStoreFactory,
  options: SubscriptionStoreContractOptions = {},
): void {
  describe(`SubscriptionStore contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    const open = async (): Promise<SubscriptionStore> => {
      const opened = await factory();
      if (opened.dispose) teardown.push(() => opened.dispose?.() ?? Promise.resolve());
      return opened.store;
    };

    describe('writes', () => {
      it('creates a record on first upsert with createdAt and updatedAt at the given time', async () => {
        const store = await open();
        const created = await store.upsert(subscription(12_345_602, { accountId: 'primary' }), 1_000);
        expect(created).toEqual({
          ...subscription(12_345_602, { accountId: 'primary' }),
          createdAt: 1_000,
          updatedAt: 1_000,
        });
        expect(await store.get(12_345_602)).toEqual(created);
      });

      it('keeps one record on a repeat upsert: createdAt unchanged, updatedAt advanced, changes applied', async () => {
        const store = await open();
        await store.upsert(subscription(12_345_602), 1_000);
        const again = await store.upsert(subscription(12_345_602, { requestedMode: 'LTP' }), 2_000);
        expect(again).toEqual({
          ...subscription(12_345_602, { requestedMode: 'LTP' }),
          createdAt: 1_000,
          updatedAt: 2_000,
        });
        expect(await store.get(12_345_602)).toEqual(again);
        const { items } = await listAll(store, 10);
        expect(items).toEqual([again]);
      });

      it('keeps the account across upserts that name none, and changes it only when told', async () => {
        const store = await open();
        await store.upsert(subscription(500_001, { accountId: 'primary' }), 1_000);
        expect((await store.upsert(subscription(500_001), 2_000)).accountId).toBe('primary');
        expect((await store.get(500_001))?.accountId).toBe('primary');
        expect((await store.upsert(subscription(500_001, { accountId: 'secondary' }), 3_000)).accountId).toBe(
          'secondary',
        );
        expect((await store.update(500_001, { requestedMode: 'QUOTE' }, 4_000))?.accountId).toBe('secondary');
        expect((await store.update(500_001, { accountId: null }, 5_000))?.accountId).toBeNull();
        expect((await store.get(500_001))?.accountId).toBeNull();
      });

      it('writes a kept field only where the record has none: a new record, or an account where none is assigned', async () => {
        const store = await open();
        const keepBoth = { keep: ['requestedMode', 'accountId'] as const };
        const created = await store.upsert(
          subscription(600_001, { requestedMode: 'LTP', accountId: 'primary', ...keepBoth }),
          1_000,
        );
        expect(created).toEqual({
          ...subscription(600_001, { requestedMode: 'LTP', accountId: 'primary' }),
          createdAt: 1_000,
          updatedAt: 1_000,
        });
        const again = await store.upsert(
          subscription(600_001, { requestedMode: 'QUOTE', accountId: 'secondary', status: 'inactive', ...keepBoth }),
          2_000,
        );
        expect(again).toEqual({
          ...subscription(600_001, { requestedMode: 'LTP', accountId: 'primary', status: 'inactive' }),
          createdAt: 1_000,
          updatedAt: 2_000,
        });
        expect(await store.get(600_001)).toEqual(again);
        // Keeping only the account: the mode given is written.
        const modeChanged = await store.upsert(
          subscription(600_001, { requestedMode: 'QUOTE', accountId: 'secondary', keep: ['accountId'] }),
          3_000,
        );
        expect(modeChanged).toMatchObject({ requestedMode: 'QUOTE', accountId: 'primary', updatedAt: 3_000 });
        // Once the account is cleared, a kept account is assigned again.
        await store.update(600_001, { accountId: null }, 4_000);
        const reassigned = await store.upsert(subscription(600_001, { accountId: 'secondary', ...keepBoth }), 5_000);
        expect(reassigned).toMatchObject({ requestedMode: 'QUOTE', accountId: 'secondary', createdAt: 1_000 });
        expect(await store.get(600_001)).toEqual(reassigned);
        // A record created with no account takes a kept one later.
        await store.upsert(subscription(600_002), 6_000);
        expect(
          (await store.upsert(subscription(600_002, { accountId: 'primary', ...keepBoth }), 7_000)).accountId,
        ).toBe('primary');
      });

      it('updates only the fields given and stamps updatedAt', async () => {
        const store = await open();
        await store.upsert(subscription(700_001, { accountId: 'primary' }), 1_000);
        const updated = await store.update(700_001, { requestedMode: 'QUOTE', status: undefined }, 1_500);
        expect(updated).toEqual({
          ...subscription(700_001, { accountId: 'primary', requestedMode: 'QUOTE' }),
          createdAt: 1_000,
          updatedAt: 1_500,
        });
        expect(await store.get(700_001)).toEqual(updated);
      });

      it('returns undefined from get, update and deactivate for a token with no record, and creates none', async () => {
        const store = await open();
        expect(await store.get(404)).toBeUndefined();
        expect(await store.update(404, { status: 'active' }, 1_000)).toBeUndefined();
        expect(await store.deactivate(404, 1_000)).toBeUndefined();
        expect(await store.get(404)).toBeUndefined();
        expect(await store.list({ limit: 10 })).toEqual({ items: [] });
      });

      it('deactivates softly: the record stays, inactive, and a later upsert reactivates it', async () => {
        const store = await open();
        await store.upsert(subscription(256_265, { accountId: 'primary' }), 1_000);
        const inactive = await store.deactivate(256_265, 2_000);
        expect(inactive).toEqual({
          ...subscription(256_265, { accountId: 'primary', status: 'inactive' }),
          createdAt: 1_000,
          updatedAt: 2_000,
        });
        expect(await store.get(256_265)).toEqual(inactive);
        expect(await store.listActive()).toEqual([]);
        expect((await store.list({ status: 'inactive', limit: 10 })).items).toEqual([inactive]);
        const back = await store.upsert(subscription(256_265), 3_000);
        expect(back).toMatchObject({ status: 'active', accountId: 'primary', createdAt: 1_000, updatedAt: 3_000 });
      });

      it('lands every one of 50 concurrent upserts of distinct tokens', async () => {
        const store = await open();
        const tokens = range(900_000, 50);
        const results = await Promise.all(tokens.map((t) => store.upsert(subscription(t), 1_000)));
        expect(tokensOf(results).sort((a, b) => a - b)).toEqual(tokens);
        const { items } = await listAll(store, 100);
        expect(tokensOf(items)).toEqual(tokens);
      });

      it('keeps one record when concurrent upserts race on one token', async () => {
        const store = await open();
        const nows = range(1_000, 20);
        await Promise.all(nows.map((now) => store.upsert(subscription(77_777), now)));
        const { items } = await listAll(store, 100);
        expect(items).toHaveLength(1);
        expect(nows).toContain(items[0]?.createdAt);
        expect(nows).toContain(items[0]?.updatedAt);
      });

      it('rejects bad input with a ValidationError naming the field, and stores nothing', async () => {
        const store = await open();
        const bad: [string, () => Promise<unknown>][] = [
          ['instrumentToken', () => store.upsert(subscription(0), 1_000)],
          ['instrumentToken', () => store.upsert(subscription(1.5), 1_000)],
          ['tradingsymbol', () => store.upsert(subscription(1, { tradingsymbol: '' }), 1_000)],
          ['requestedMode', () => store.upsert(subscription(1, { requestedMode: 'DEPTH' as SubscriptionMode }), 1_000)],
          ['status', () => store.update(1, { status: 'deleted' as SubscriptionStatus }, 1_000)],
          ['nowMs', () => store.upsert(subscription(1), Number.NaN)],
          ['instrumentToken', () => store.get(-5)],
          ['limit', () => store.list({ limit: 0 })],
          ['limit', () => store.list({ limit: MAX_LIST_LIMIT + 1 })],
        ];
        for (const [field, attempt] of bad) {
          const error = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, field).toBeInstanceOf(ValidationError);
          expect(
            (error as ValidationError).details.map((d) => d.path),
            field,
          ).toContain(field);
        }
        expect(await store.list({ limit: 10 })).toEqual({ items: [] });
      });
    });

    describe('listing', () => {
      it('filters by status, in token order', async () => {
        const store = await open();
        const tokens = shuffled(range(1_000, 20));
        await upsertAll(
          store,
          tokens.map((t) => subscription(t, { status: t % 3 === 0 ? 'inactive' : 'active' })),
          1_000,
        );
        const active = (await store.list({ status: 'active', limit: 100 })).items;
        const inactive = (await store.list({ status: 'inactive', limit: 100 })).items;
        const all = (await store.list({ limit: 100 })).items;
        const sorted = range(1_000, 20);
        expect(tokensOf(active)).toEqual(sorted.filter((t) => t % 3 !== 0));
        expect(tokensOf(inactive)).toEqual(sorted.filter((t) => t % 3 === 0));
        expect(tokensOf(all)).toEqual(sorted);
        expect(active.every((r) => r.status === 'active')).toBe(true);
        expect(inactive.every((r) => r.status === 'inactive')).toBe(true);
      });

      // Fewer records there, the same three pages (KnownLimitations.slowBulkWrites).
      const [count, limit] = options.limitations?.slowBulkWrites ? [50, 20] : [250, 100];
      it(`pages through ${count} records with limit ${limit}: each exactly once, in token order, no cursor at the end`, async () => {
        const store = await open();
        const tokens = range(2_000_001, count).map((t) => t * 7);
        await upsertAll(
          store,
          shuffled(tokens).map((t, i) => subscription(t, { status: i % 4 === 0 ? 'inactive' : 'active' })),
          1_000,
        );
        const all = await listAll(store, limit);
        expect(all.pages).toBe(3);
        expect(tokensOf(all.items)).toEqual(tokens);
        const active = await listAll(store, limit, 'active');
        const inactive = await listAll(store, limit, 'inactive');
        expect(active.items.length + inactive.items.length).toBe(count);
        expect(tokensOf(active.items)).toEqual(tokensOf(all.items.filter((r) => r.status === 'active')));
        expect(tokensOf(inactive.items)).toEqual(tokensOf(all.items.filter((r) => r.status === 'inactive')));
      });

      it('ends without an empty page when the records fill the last page exactly', async () => {
        const store = await open();
        await upsertAll(
          store,
          range(10, 20).map((t) => subscription(t)),
          1_000,
        );
        const first = await store.list({ limit: 10 });
        expect(first.cursor).toBeDefined();
        const second = await store.list({ limit: 10, ...(first.cursor !== undefined && { cursor: first.cursor }) });
        expect(tokensOf(second.items)).toEqual(range(20, 10));
        expect(second.cursor).toBeUndefined();
      });

      it('rejects a cursor from another filter with a ValidationError naming cursor', async () => {
        const store = await open();
        await upsertAll(
          store,
          range(100, 5).map((t) => subscription(t)),
          1_000,
        );
        const fromActive = (await store.list({ status: 'active', limit: 2 })).cursor;
        const fromAll = (await store.list({ limit: 2 })).cursor;
        expect(fromActive).toBeDefined();
        expect(fromAll).toBeDefined();
        const misuse = [
          () => store.list({ limit: 2, cursor: fromActive ?? '' }),
          () => store.list({ status: 'inactive', limit: 2, cursor: fromActive ?? '' }),
          () => store.list({ status: 'active', limit: 2, cursor: fromAll ?? '' }),
        ];
        for (const attempt of misuse) {
          const error = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).message).toMatch(/cursor/);
          expect((error as ValidationError).details.map((d) => d.path)).toEqual(['cursor']);
        }
        // The same cursor still works with the filter that issued it, with another limit too.
        const next = await store.list({ status: 'active', limit: 10, cursor: fromActive ?? '' });
        expect(tokensOf(next.items)).toEqual([102, 103, 104]);
      });

      it('rejects a malformed cursor with a ValidationError naming cursor', async () => {
        const store = await open();
        const valid = Buffer.from(JSON.stringify({ f: 'all', t: 5 })).toString('base64url');
        await expect(store.list({ limit: 1, cursor: valid })).resolves.toEqual({ items: [] });
        const malformed = [
          '',
          'not a cursor!',
          Buffer.from('{"f":"all"').toString('base64url'),
          Buffer.from(JSON.stringify({ f: 'all', t: -1 })).toString('base64url'),
          Buffer.from(JSON.stringify({ f: 'deleted', t: 5 })).toString('base64url'),
          Buffer.from(JSON.stringify({ f: 'all', t: 5, x: 1 })).toString('base64url'),
          Buffer.from(JSON.stringify([5])).toString('base64url'),
          `${valid}=`,
        ];
        for (const cursor of malformed) {
          const error = await store.list({ limit: 1, cursor }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, cursor).toBeInstanceOf(ValidationError);
          expect(
            (error as ValidationError).details.map((d) => d.path),
            cursor,
          ).toEqual(['cursor']);
        }
      });

      // Paging is checked on fewer records there (KnownLimitations.slowBulkWrites).
      it.skipIf(options.limitations?.slowBulkWrites)(
        'returns every active record from listActive, more than the largest page, in token order',
        async () => {
          const store = await open();
          const count = MAX_LIST_LIMIT + 200;
          const tokens = range(3_000_000, count);
          await upsertAll(
            store,
            shuffled(tokens).map((t) => subscription(t, { status: t % 10 === 0 ? 'inactive' : 'active' })),
            1_000,
          );
          const active = await store.listActive();
          expect(tokensOf(active)).toEqual(tokens.filter((t) => t % 10 !== 0));
          expect(active.length).toBeGreaterThan(MAX_LIST_LIMIT);
          expect(active.every((r) => r.status === 'active')).toBe(true);
        },
        60_000,
      );
    });

    it('behaves like a map of records over random operation sequences', async () => {
      const tokenArb = fc.integer({ min: 1, max: 12 }).map((n) => 40_000 + n * 256 + 3);
      const accountArb = fc.constantFrom<string | null>(null, 'primary', 'secondary');
      const statusArb = fc.constantFrom<SubscriptionStatus>('active', 'inactive');
      const modeArb = fc.constantFrom<SubscriptionMode>('FULL', 'QUOTE', 'LTP');
      const opArb = fc.oneof(
        fc.record({
          kind: fc.constant('upsert' as const),
          token: tokenArb,
          status: statusArb,
          mode: modeArb,
          account: accountArb,
          keep: fc.subarray(['requestedMode', 'accountId'] as const),
          symbol: fc.constantFrom('A', 'B'),
        }),
        fc.record({
          kind: fc.constant('update' as const),
          token: tokenArb,
          changes: fc.record(
            { status: statusArb, requestedMode: modeArb, accountId: accountArb },
            { requiredKeys: [] },
          ),
        }),
        fc.record({ kind: fc.constant('deactivate' as const), token: tokenArb }),
        fc.record({ kind: fc.constant('get' as const), token: tokenArb }),
        fc.record({
          kind: fc.constant('list' as const),
          status: fc.option(statusArb, { nil: undefined }),
          limit: fc.integer({ min: 1, max: 5 }),
        }),
      );

      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
          const opened = await factory();
          try {
            const { store } = opened;
            const model = new Map<number, StoredSubscription>();
            let now = 1_000;
            for (const op of ops) {
              now += 10;
              switch (op.kind) {
                case 'upsert': {
                  const input = subscription(op.token, {
                    status: op.status,
                    requestedMode: op.mode,
                    accountId: op.account,
                    tradingsymbol: `${op.symbol}${op.token}`,
                    keep: op.keep,
                  });
                  const before = model.get(op.token);
                  const keepAccount = op.account === null || op.keep.includes('accountId');
                  const { keep: _, ...fields } = input;
                  const expected: StoredSubscription = {
                    ...fields,
                    requestedMode: (op.keep.includes('requestedMode') && before?.requestedMode) || op.mode,
                    accountId: keepAccount ? (before?.accountId ?? op.account) : op.account,
                    createdAt: before?.createdAt ?? now,
                    updatedAt: now,
                  };
                  model.set(op.token, expected);
                  expect(await store.upsert(input, now)).toEqual(expected);
                  break;
                }
                case 'update':
                case 'deactivate': {
                  const changes = op.kind === 'update' ? op.changes : { status: 'inactive' as const };
                  const before = model.get(op.token);
                  const expected = before && { ...before, ...changes, updatedAt: now };
                  if (expected) model.set(op.token, expected);
                  const got =
                    op.kind === 'update'
                      ? await store.update(op.token, op.changes, now)
                      : await store.deactivate(op.token, now);
                  expect(got).toEqual(expected);
                  break;
                }
                case 'get':
                  expect(await store.get(op.token)).toEqual(model.get(op.token));
                  break;
                case 'list': {
                  const expected = [...model.values()]
                    .filter((r) => op.status === undefined || r.status === op.status)
                    .sort((a, b) => a.instrumentToken - b.instrumentToken);
                  const { items, pages } = await listAll(store, op.limit, op.status);
                  expect(items).toEqual(expected);
                  expect(pages).toBe(Math.max(1, Math.ceil(expected.length / op.limit)));
                  break;
                }
              }
            }
            const active = [...model.values()]
              .filter((r) => r.status === 'active')
              .sort((a, b) => a.instrumentToken - b.instrumentToken);
            expect(await store.listActive()).toEqual(active);
          } finally {
            await opened.dispose?.();
          }
        }),
        { numRuns: options.propertyRuns ?? 100 },
      );
    }, 120_000);
  });
}
