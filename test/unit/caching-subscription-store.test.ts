import { describe, expect, it } from 'vitest';
import { CachingSubscriptionStore } from '../../shared/adapters/caching-subscription-store.js';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { subscription, subscriptionStoreContract } from '../support/subscription-store-contract.js';

// With a TTL longer than any test, the contract holds only if writes through the cache drop its pages.
subscriptionStoreContract(
  'caching, in front of memory',
  async () => ({
    store: new CachingSubscriptionStore(new MemorySubscriptionStore(), { ttlMs: 3_600_000, clock: new ManualClock() }),
  }),
  { propertyRuns: 200 },
);

/** A memory store that counts the listings it serves and can hold the next one until released. */
class CountingStore extends MemorySubscriptionStore {
  lists = 0;
  failNext = false;
  #held: Promise<void> | undefined;

  /** Holds the next `list` until the returned function is called. */
  hold(): () => void {
    let release = () => {};
    this.#held = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  override async list(query: Parameters<MemorySubscriptionStore['list']>[0]) {
    this.lists++;
    const held = this.#held;
    this.#held = undefined;
    const page = super.list(query);
    if (held) await held;
    if (this.failNext) {
      this.failNext = false;
      throw new DependencyUnavailableError('dynamodb', 'store unavailable');
    }
    return page;
  }
}

function setUp(ttlMs = 1_000, maxPages?: number) {
  const inner = new CountingStore();
  const clock = new ManualClock();
  const store = new CachingSubscriptionStore(inner, { ttlMs, clock, ...(maxPages !== undefined && { maxPages }) });
  return { inner, clock, store };
}

const tokensOf = (page: { items: readonly { instrumentToken: number }[] }) => page.items.map((i) => i.instrumentToken);

describe('CachingSubscriptionStore', () => {
  it('serves a page from memory for the first half of its TTL without reading the store', async () => {
    const { inner, clock, store } = setUp(1_000);
    await inner.upsert(subscription(101), 0);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    await inner.upsert(subscription(102), 1);
    clock.advance(499);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(inner.lists).toBe(1);
  });

  it('past half its TTL serves the page and reads its replacement, which later calls get without waiting', async () => {
    const { inner, clock, store } = setUp(1_000);
    await inner.upsert(subscription(101), 0);
    await store.list({ limit: 10 });
    await inner.upsert(subscription(102), 1);
    clock.advance(500);
    const release = inner.hold();
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(inner.lists).toBe(2);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101, 102]);
    expect(inner.lists).toBe(2);
    // The replacement's TTL counts from when its read began.
    clock.advance(499);
    await store.list({ limit: 10 });
    expect(inner.lists).toBe(2);
    clock.advance(1);
    await store.list({ limit: 10 });
    expect(inner.lists).toBe(3);
  });

  it('reads one replacement at a time, leaving other pages to a later call', async () => {
    const { inner, clock, store } = setUp(1_000);
    await inner.upsert(subscription(101), 0);
    await store.list({ limit: 1 });
    await store.list({ limit: 2 });
    clock.advance(600);
    const release = inner.hold();
    await store.list({ limit: 1 });
    await store.list({ limit: 2 });
    expect(inner.lists).toBe(3);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    await store.list({ limit: 2 });
    expect(inner.lists).toBe(4);
  });

  it('reads again when the clock has stepped back past a page read', async () => {
    const { inner, clock, store } = setUp(1_000);
    await store.list({ limit: 10 });
    await inner.upsert(subscription(101), 0);
    clock.advance(-60_000);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(inner.lists).toBe(2);
  });

  it('starts another replacement once one has hung for a whole TTL', async () => {
    const { inner, clock, store } = setUp(1_000);
    await store.list({ limit: 1 });
    clock.advance(500);
    inner.hold();
    await store.list({ limit: 1 });
    expect(inner.lists).toBe(2);
    clock.advance(400);
    await store.list({ limit: 2 });
    expect(inner.lists).toBe(3);
    // The page of limit 2 is past half its TTL, but the hung replacement began 900 ms ago.
    clock.advance(500);
    await store.list({ limit: 2 });
    expect(inner.lists).toBe(3);
    // Now it began 1,000 ms ago: it no longer holds the next one back.
    clock.advance(100);
    await store.list({ limit: 2 });
    expect(inner.lists).toBe(4);
  });

  it('keeps serving a page whose replacement failed until the TTL, then reads again', async () => {
    const { inner, clock, store } = setUp(1_000);
    await inner.upsert(subscription(101), 0);
    await store.list({ limit: 10 });
    clock.advance(600);
    inner.failNext = true;
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(inner.lists).toBe(3);
    clock.advance(400);
    await inner.upsert(subscription(102), 1);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101, 102]);
    expect(inner.lists).toBe(4);
  });

  it('reads again, and the caller waits for it, once a page is past its TTL', async () => {
    const { inner, clock, store } = setUp(1_000);
    await inner.upsert(subscription(101), 0);
    await store.list({ limit: 10 });
    await inner.upsert(subscription(102), 1);
    clock.advance(1_000);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101, 102]);
    expect(inner.lists).toBe(2);
  });

  it('keeps pages apart by status, limit and cursor', async () => {
    const { inner, store } = setUp();
    for (const token of [101, 102, 103]) await inner.upsert(subscription(token), 0);
    await inner.deactivate(102, 1);
    const first = await store.list({ limit: 1 });
    expect(tokensOf(first)).toEqual([101]);
    expect(tokensOf(await store.list({ limit: 1, ...(first.cursor && { cursor: first.cursor }) }))).toEqual([102]);
    expect(tokensOf(await store.list({ limit: 2 }))).toEqual([101, 102]);
    expect(tokensOf(await store.list({ limit: 2, status: 'active' }))).toEqual([101, 103]);
    expect(tokensOf(await store.list({ limit: 2, status: 'inactive' }))).toEqual([102]);
    expect(inner.lists).toBe(5);
  });

  it('shows a write made through it to the next list at once, within the TTL', async () => {
    const { inner, store } = setUp(3_600_000);
    await store.upsert(subscription(101), 0);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    await store.upsert(subscription(102), 1);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101, 102]);
    await store.deactivate(101, 2);
    expect(tokensOf(await store.list({ limit: 10, status: 'active' }))).toEqual([102]);
    await store.update(102, { requestedMode: 'LTP' }, 3);
    expect((await store.list({ limit: 10 })).items.map((i) => i.requestedMode)).toEqual(['FULL', 'LTP']);
    expect(inner.lists).toBe(4);
  });

  it('shows a write made to the store behind it (another instance) once the TTL has passed', async () => {
    const { inner, clock, store } = setUp(1_000);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([]);
    await inner.upsert(subscription(101), 0);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([]);
    clock.advance(1_000);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
  });

  it('shares one read among calls that miss together', async () => {
    const { inner, store } = setUp();
    await inner.upsert(subscription(101), 0);
    const release = inner.hold();
    const pages = Array.from({ length: 20 }, () => store.list({ limit: 10 }));
    release();
    for (const page of await Promise.all(pages)) expect(tokensOf(page)).toEqual([101]);
    expect(inner.lists).toBe(1);
  });

  it('does not serve a read that was in flight during a write to a list that starts after the write', async () => {
    const { inner, store } = setUp(3_600_000);
    await inner.upsert(subscription(101), 0);
    const release = inner.hold();
    const before = store.list({ limit: 10 });
    await store.upsert(subscription(102), 1);
    const after = store.list({ limit: 10 });
    release();
    expect(tokensOf(await after)).toEqual([101, 102]);
    expect(tokensOf(await before)).toEqual([101]);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101, 102]);
    expect(inner.lists).toBe(2);
  });

  it('drops its pages after a write that failed, which may still have landed', async () => {
    const inner = new CountingStore();
    const store = new CachingSubscriptionStore(inner, { ttlMs: 3_600_000, clock: new ManualClock() });
    await store.list({ limit: 10 });
    await expect(store.upsert({ ...subscription(101), tradingsymbol: '' }, 0)).rejects.toThrow(/tradingsymbol/);
    await store.list({ limit: 10 });
    expect(inner.lists).toBe(2);
  });

  it('does not keep a failed read: the next call reads again', async () => {
    const { inner, store } = setUp();
    await inner.upsert(subscription(101), 0);
    inner.failNext = true;
    await expect(store.list({ limit: 10 })).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(tokensOf(await store.list({ limit: 10 }))).toEqual([101]);
    expect(inner.lists).toBe(2);
  });

  it('passes bad input to the store to reject, and caches nothing for it', async () => {
    const { inner, store } = setUp();
    await expect(store.list({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(store.list({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(store.list({ limit: 10, cursor: 'not-a-cursor!' })).rejects.toThrow(/cursor/);
    expect(inner.lists).toBe(3);
  });

  it('keeps at most maxPages pages, dropping the oldest read', async () => {
    const { inner, store } = setUp(3_600_000, 3);
    for (const limit of [1, 2, 3, 4]) await store.list({ limit });
    expect(inner.lists).toBe(4);
    for (const limit of [2, 3, 4]) await store.list({ limit });
    expect(inner.lists).toBe(4);
    await store.list({ limit: 1 });
    expect(inner.lists).toBe(5);
  });

  it('hands out frozen pages, so no caller can change what another is served', async () => {
    const { inner, store } = setUp();
    await inner.upsert(subscription(101), 0);
    const page = await store.list({ limit: 10 });
    expect(() => {
      (page.items[0] as { status: string }).status = 'inactive';
    }).toThrow(TypeError);
    expect((await store.list({ limit: 10 })).items[0]?.status).toBe('active');
  });

  it('passes get and listActive through to the store', async () => {
    const { inner, store } = setUp(3_600_000);
    expect(await store.listActive()).toEqual([]);
    await inner.upsert(subscription(101), 0);
    expect((await store.listActive()).map((s) => s.instrumentToken)).toEqual([101]);
    expect(await store.get(101)).toMatchObject({ instrumentToken: 101 });
    expect(inner.lists).toBe(0);
  });

  it('refuses a TTL that is not above zero', () => {
    expect(
      () => new CachingSubscriptionStore(new MemorySubscriptionStore(), { ttlMs: 0, clock: new ManualClock() }),
    ).toThrow(RangeError);
  });
});
