import { afterEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { LiveStateStore } from '../../shared/ports/live-state-store.js';

/** What the contract needs from one adapter for one test. */
export interface LiveStateStoreHarness {
  /** The TTL the contract writes heartbeats and leases with: short when time is real. */
  readonly ttlMs: number;
  /** Opens a store that starts empty for this test; the contract closes it. */
  open(): Promise<LiveStateStore>;
  /** Lets `ms` pass on the store's clock: a manual clock is moved, real time is waited out. */
  elapse(ms: number): Promise<void>;
  /** Removes what the test left behind (keys in a shared Redis), after the store is closed. */
  dispose?(): Promise<void>;
}

/** Builds a fresh harness for each test. */
export type LiveStateStoreFactory = () => LiveStateStoreHarness;

/**
 * The one contract every {@link LiveStateStore} adapter passes (docs/architecture.md): each adapter's test
 * file calls this with its factory. Waits are fractions of the harness TTL with wide margins on
 * both sides, so real-time stores pass on a busy machine too.
 */
export function liveStateStoreContract(adapter: string, factory: LiveStateStoreFactory): void {
  describe(`LiveStateStore contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });

    const setup = async () => {
      const harness = factory();
      if (harness.dispose) teardown.push(() => harness.dispose?.() ?? Promise.resolve());
      const store = await harness.open();
      teardown.push(() => store.close());
      const ttl = harness.ttlMs;
      return { store, ttl, elapse: (fraction: number) => harness.elapse(Math.round(ttl * fraction)) };
    };

    describe('latest ticks', () => {
      it('returns the stored value of each token asked for and leaves out tokens it does not have', async () => {
        const { store } = await setup();
        await store.putLatest(
          new Map([
            [256265, '{"instrument_token":256265,"last_price":24150.5}'],
            [260105, '{"instrument_token":260105,"last_price":51200.25}'],
          ]),
        );
        const got = await store.getLatest([256265, 999_999, 260105]);
        expect(got).toEqual(
          new Map([
            [256265, '{"instrument_token":256265,"last_price":24150.5}'],
            [260105, '{"instrument_token":260105,"last_price":51200.25}'],
          ]),
        );
        expect(got.has(999_999)).toBe(false);
        expect(await store.getLatest([1, 2, 3])).toEqual(new Map());
      });

      it('replaces the value of a token written again and keeps the other tokens', async () => {
        const { store } = await setup();
        await store.putLatest(
          new Map([
            [1, 'one@1'],
            [2, 'two@1'],
          ]),
        );
        await store.putLatest(
          new Map([
            [2, 'two@2'],
            [3, 'three@2'],
          ]),
        );
        expect(await store.getLatest([1, 2, 3])).toEqual(
          new Map([
            [1, 'one@1'],
            [2, 'two@2'],
            [3, 'three@2'],
          ]),
        );
      });

      it('keeps values byte for byte, empty and non-ASCII ones included', async () => {
        const { store } = await setup();
        const values = new Map([
          [11, ''],
          [12, 'NIFTY₹ "quoted" \\ back\nslash'],
          [13, '🙂'.repeat(1000)],
        ]);
        await store.putLatest(values);
        expect(await store.getLatest([11, 12, 13])).toEqual(values);
      });

      it('writes and reads 5,000 ticks in one call each', async () => {
        const { store } = await setup();
        const entries = new Map<number, string>();
        for (let i = 0; i < 5000; i++) {
          const token = 10_000_000 + i * 256 + 3;
          entries.set(token, JSON.stringify({ instrument_token: token, last_price: 100 + i / 100, oi: i }));
        }
        await store.putLatest(entries);
        const got = await store.getLatest([...entries.keys()]);
        expect(got.size).toBe(5000);
        expect(got).toEqual(entries);
      });

      it('reads back as text the ticks written as UTF-8 bytes, views into a larger buffer included', async () => {
        const { store } = await setup();
        const texts = new Map([
          [256265, JSON.stringify({ instrument_token: 256265, tradingsymbol: 'NIFTY₹', last_price: 250.05 })],
          [260105, JSON.stringify({ instrument_token: 260105, last_price: 51_200 })],
        ]);
        const arena = new Uint8Array(1024);
        let at = 3;
        const bytes = new Map<number, Uint8Array>();
        for (const [token, text] of texts) {
          const encoded = new TextEncoder().encode(text);
          arena.set(encoded, at);
          bytes.set(token, arena.subarray(at, at + encoded.length));
          at += encoded.length + 5;
        }
        await store.putLatest(bytes);
        expect(await store.getLatest([...texts.keys()])).toEqual(texts);
      });

      it('accepts an empty write and an empty read', async () => {
        const { store } = await setup();
        await expect(store.putLatest(new Map())).resolves.toBeUndefined();
        expect(await store.getLatest([])).toEqual(new Map());
      });
    });

    describe('reference prices', () => {
      it('returns the price of each token asked for, exactly as written, and leaves out tokens it does not have', async () => {
        const { store, ttl } = await setup();
        const prices = new Map([
          [12_345_602, 101.35],
          [12_345_858, 0.05],
          [12_346_114, 1 / 3],
          [12_346_370, 24_150.123456789013],
        ]);
        await store.putReferencePrices(prices, ttl);
        expect(await store.getReferencePrices([...prices.keys(), 999_999])).toEqual(prices);
        expect(await store.getReferencePrices([1, 2])).toEqual(new Map());
        expect(await store.getReferencePrices([])).toEqual(new Map());
      });

      it('replaces the whole set: a token left out of a write has no price afterwards', async () => {
        const { store, ttl } = await setup();
        await store.putReferencePrices(
          new Map([
            [1, 10],
            [2, 20],
          ]),
          ttl,
        );
        await store.putReferencePrices(
          new Map([
            [2, 21],
            [3, 30],
          ]),
          ttl,
        );
        expect(await store.getReferencePrices([1, 2, 3])).toEqual(
          new Map([
            [2, 21],
            [3, 30],
          ]),
        );
        await store.putReferencePrices(new Map(), ttl);
        expect(await store.getReferencePrices([1, 2, 3])).toEqual(new Map());
      });

      it('shows a set until its TTL has passed, then nothing; a new write starts a new TTL', async () => {
        const { store, ttl, elapse } = await setup();
        await store.putReferencePrices(new Map([[1, 10]]), ttl);
        await elapse(0.6);
        await store.putReferencePrices(new Map([[1, 11]]), ttl);
        await elapse(0.6);
        expect(await store.getReferencePrices([1])).toEqual(new Map([[1, 11]]));
        await elapse(0.7);
        expect(await store.getReferencePrices([1])).toEqual(new Map());
      });

      it('writes and reads 9,000 prices in one call each', async () => {
        const { store, ttl } = await setup();
        const prices = new Map<number, number>();
        for (let i = 0; i < 9000; i++) prices.set(10_000_000 + i * 256 + 3, 50 + i / 20);
        await store.putReferencePrices(prices, ttl);
        expect(await store.getReferencePrices([...prices.keys()])).toEqual(prices);
      });

      it('never shows a mix of two sets to a reader that reads during a write', async () => {
        const { store, ttl } = await setup();
        const set = (price: number) => new Map(Array.from({ length: 2000 }, (_, i) => [i + 1, price] as const));
        await store.putReferencePrices(set(1), ttl);
        const tokens = [...set(0).keys()];
        const writing = store.putReferencePrices(set(2), ttl);
        const reads: Map<number, number>[] = [];
        let done = false;
        void writing.finally(() => {
          done = true;
        });
        while (!done) reads.push(await store.getReferencePrices(tokens));
        await writing;
        reads.push(await store.getReferencePrices(tokens));
        // The old set may also have run out its (short) TTL on a busy machine: none is not a mix.
        for (const read of reads) {
          expect([0, 2000]).toContain(read.size);
          expect(new Set(read.values()).size).toBeLessThanOrEqual(1);
        }
        expect(reads.at(-1)?.get(1)).toBe(2);
      });

      it('refuses a price that is not a finite number with a RangeError and keeps the set it had', async () => {
        const { store, ttl } = await setup();
        await store.putReferencePrices(new Map([[1, 10]]), ttl);
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.putReferencePrices(new Map([[1, bad]]), ttl)).rejects.toBeInstanceOf(RangeError);
        }
        expect(await store.getReferencePrices([1])).toEqual(new Map([[1, 10]]));
      });
    });

    describe('heartbeats', () => {
      it('shows a heartbeat until its TTL has passed, then nothing', async () => {
        const { store, ttl, elapse } = await setup();
        await store.putHeartbeat('ingest', '{"at":1}', ttl);
        expect(await store.getHeartbeat('ingest')).toBe('{"at":1}');
        await elapse(0.4);
        expect(await store.getHeartbeat('ingest')).toBe('{"at":1}');
        await elapse(0.9);
        expect(await store.getHeartbeat('ingest')).toBeUndefined();
      });

      it('replaces a heartbeat written again and restarts its TTL', async () => {
        const { store, ttl, elapse } = await setup();
        await store.putHeartbeat('ingest', 'first', ttl);
        await elapse(0.6);
        await store.putHeartbeat('ingest', 'second', ttl);
        expect(await store.getHeartbeat('ingest')).toBe('second');
        await elapse(0.6);
        expect(await store.getHeartbeat('ingest')).toBe('second');
        await elapse(0.7);
        expect(await store.getHeartbeat('ingest')).toBeUndefined();
      });

      it('keeps heartbeats of different names apart and has none that was never written', async () => {
        const { store, ttl } = await setup();
        await store.putHeartbeat('ingest', 'i', ttl);
        await store.putHeartbeat('fanout-0', 'f', ttl);
        expect(await store.getHeartbeat('ingest')).toBe('i');
        expect(await store.getHeartbeat('fanout-0')).toBe('f');
        expect(await store.getHeartbeat('never')).toBeUndefined();
      });
    });

    describe('groups', () => {
      it('lists every live member sorted, renews a member that joins again, and drops one not renewed', async () => {
        const { store, ttl, elapse } = await setup();
        expect(await store.joinGroup('fanout', 'b', ttl)).toEqual(['b']);
        expect(await store.joinGroup('fanout', 'a', ttl)).toEqual(['a', 'b']);
        expect(await store.joinGroup('other', 'c', ttl)).toEqual(['c']);
        await elapse(0.6);
        // `a` renews; `b` does not, and is gone once its TTL has passed.
        expect(await store.joinGroup('fanout', 'a', ttl)).toEqual(['a', 'b']);
        await elapse(0.6);
        expect(await store.joinGroup('fanout', 'a', ttl)).toEqual(['a']);
      });

      it('removes a member that leaves at once, and leaving twice is harmless', async () => {
        const { store, ttl } = await setup();
        await store.joinGroup('fanout', 'a', ttl);
        await store.joinGroup('fanout', 'b', ttl);
        await store.leaveGroup('fanout', 'b');
        await store.leaveGroup('fanout', 'b');
        expect(await store.joinGroup('fanout', 'a', ttl)).toEqual(['a']);
      });
    });

    describe('leases', () => {
      it('gives a free lease to one owner and refuses it to another while it is held', async () => {
        const { store, ttl } = await setup();
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(false);
        expect(await store.acquireLease('other', 'task-b', ttl)).toBe(true);
      });

      it('lets the holder acquire again, which extends the lease', async () => {
        const { store, ttl, elapse } = await setup();
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        await elapse(0.6);
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        await elapse(0.6);
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(false);
      });

      it('renews only for the current owner and only before expiry', async () => {
        const { store, ttl, elapse } = await setup();
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(false);
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        expect(await store.renewLease('ingest', 'task-b', ttl)).toBe(false);
        await elapse(0.6);
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(true);
        await elapse(0.6);
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(false);
        await elapse(0.7);
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(false);
      });

      it('lets another owner take a lease that expired, after which the old owner can neither renew nor retake it', async () => {
        const { store, ttl, elapse } = await setup();
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        await elapse(1.3);
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(true);
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(false);
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(false);
      });

      it('ignores a release by an owner that does not hold the lease', async () => {
        const { store, ttl } = await setup();
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        await store.releaseLease('ingest', 'task-b');
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(false);
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(true);
        await expect(store.releaseLease('free', 'task-b')).resolves.toBeUndefined();
      });

      it('frees the lease when its owner releases it', async () => {
        const { store, ttl } = await setup();
        expect(await store.acquireLease('ingest', 'task-a', ttl)).toBe(true);
        await store.releaseLease('ingest', 'task-a');
        expect(await store.renewLease('ingest', 'task-a', ttl)).toBe(false);
        expect(await store.acquireLease('ingest', 'task-b', ttl)).toBe(true);
      });

      it('gives a contested lease to exactly one of 10 owners acquiring at once', async () => {
        const { store, ttl } = await setup();
        const owners = Array.from({ length: 10 }, (_, i) => `task-${i}`);
        const results = await Promise.all(owners.map((owner) => store.acquireLease('ingest', owner, ttl)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = owners[results.indexOf(true)] ?? '';
        const renewals = await Promise.all(owners.map((owner) => store.renewLease('ingest', owner, ttl)));
        expect(renewals).toEqual(owners.map((owner) => owner === winner));
      });
    });

    it('rejects a TTL that is not a positive whole number of milliseconds with a RangeError', async () => {
      const { store } = await setup();
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(store.putHeartbeat('ingest', 'x', bad)).rejects.toBeInstanceOf(RangeError);
        await expect(store.acquireLease('ingest', 'task-a', bad)).rejects.toBeInstanceOf(RangeError);
        await expect(store.renewLease('ingest', 'task-a', bad)).rejects.toBeInstanceOf(RangeError);
        await expect(store.putReferencePrices(new Map([[1, 10]]), bad)).rejects.toBeInstanceOf(RangeError);
      }
      expect(await store.getReferencePrices([1])).toEqual(new Map());
      expect(await store.getHeartbeat('ingest')).toBeUndefined();
    });

    it('rejects every call after close with DependencyUnavailableError, and closes twice without harm', async () => {
      const { store, ttl } = await setup();
      await store.putLatest(new Map([[1, 'x']]));
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['putLatest', () => store.putLatest(new Map([[1, 'y']]))],
        ['putLatest (empty)', () => store.putLatest(new Map())],
        ['getLatest', () => store.getLatest([1])],
        ['putReferencePrices', () => store.putReferencePrices(new Map([[1, 10]]), ttl)],
        ['getReferencePrices', () => store.getReferencePrices([1])],
        ['putHeartbeat', () => store.putHeartbeat('ingest', 'x', ttl)],
        ['getHeartbeat', () => store.getHeartbeat('ingest')],
        ['acquireLease', () => store.acquireLease('ingest', 'task-a', ttl)],
        ['renewLease', () => store.renewLease('ingest', 'task-a', ttl)],
        ['releaseLease', () => store.releaseLease('ingest', 'task-a')],
      ];
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toBeInstanceOf(DependencyUnavailableError);
      }
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
