import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryBreakerStore } from '../../../shared/adapters/memory/memory-breaker-store.js';
import { loadConfig } from '../../../shared/config.js';
import {
  afterFailure,
  afterSuccess,
  type BreakerTransition,
  CircuitBreaker,
  DEFAULT_BREAKER_POLICY,
  decide,
} from '../../../shared/domain/orders/circuit-breaker.js';
import type { BreakerRecord } from '../../../shared/ports/circuit-breaker-store.js';

const closed: BreakerRecord = {
  key: 'k',
  state: 'CLOSED',
  consecutiveFailures: 0,
  openedAt: null,
  halfOpenCalls: 0,
  version: 3,
};
const policy = DEFAULT_BREAKER_POLICY;

describe('circuit breaker decisions', () => {
  it('TC-REG-042: the thresholds are 5 failures, 60 s recovery and 3 half-open calls, by default and in configuration', () => {
    expect(DEFAULT_BREAKER_POLICY).toEqual({ failureThreshold: 5, recoveryTimeoutSeconds: 60, halfOpenMaxCalls: 3 });
    expect(loadConfig({}).circuitBreaker).toEqual({ ...DEFAULT_BREAKER_POLICY, closedReadTtlMs: 1000 });
  });

  it('lets every call through while CLOSED without writing', () => {
    expect(decide(closed, 0, policy)).toEqual({ allowed: true });
  });

  it('opens on the fifth consecutive failure, recording when', () => {
    let record: BreakerRecord = closed;
    for (let i = 1; i <= 4; i++) {
      const next = afterFailure(record, 1000 * i, policy);
      expect(next).toMatchObject({ state: 'CLOSED', consecutiveFailures: i });
      record = { ...closed, ...next };
    }
    expect(afterFailure(record, 5000, policy)).toEqual({
      key: 'k',
      state: 'OPEN',
      consecutiveFailures: 5,
      openedAt: 5000,
      halfOpenCalls: 0,
    });
  });

  it('refuses while OPEN until the recovery timeout, saying how long is left, then hands out the first test slot', () => {
    const open: BreakerRecord = { ...closed, state: 'OPEN', consecutiveFailures: 5, openedAt: 10_000 };
    expect(decide(open, 10_000, policy)).toEqual({ allowed: false, retryAfterMs: 60_000 });
    expect(decide(open, 69_999, policy)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(decide(open, 70_000, policy)).toEqual({
      allowed: true,
      next: { key: 'k', state: 'HALF_OPEN', consecutiveFailures: 5, openedAt: 10_000, halfOpenCalls: 1 },
    });
    // A late failure of a call made before it opened does not extend the timeout; a late success changes nothing.
    expect(afterFailure(open, 20_000, policy)).toBeUndefined();
    expect(afterSuccess(open)).toBeUndefined();
  });

  it('hands out at most three HALF_OPEN slots, closes on a success and reopens on a failure', () => {
    const half: BreakerRecord = {
      ...closed,
      state: 'HALF_OPEN',
      consecutiveFailures: 5,
      openedAt: 0,
      halfOpenCalls: 2,
    };
    expect(decide(half, 60_500, policy)).toMatchObject({ allowed: true, next: { halfOpenCalls: 3 } });
    expect(decide({ ...half, halfOpenCalls: 3 }, 60_500, policy)).toMatchObject({ allowed: false });
    expect(afterSuccess(half)).toEqual({
      key: 'k',
      state: 'CLOSED',
      consecutiveFailures: 0,
      openedAt: null,
      halfOpenCalls: 0,
    });
    expect(afterFailure(half, 61_000, policy)).toEqual({
      key: 'k',
      state: 'OPEN',
      consecutiveFailures: 6,
      openedAt: 61_000,
      halfOpenCalls: 0,
    });
  });

  it('hands the slots out again when no test call reported back for a whole recovery timeout', () => {
    const stuck: BreakerRecord = {
      ...closed,
      state: 'HALF_OPEN',
      consecutiveFailures: 5,
      openedAt: 0,
      halfOpenCalls: 3,
    };
    expect(decide(stuck, 119_999, policy)).toMatchObject({ allowed: false });
    expect(decide(stuck, 120_000, policy)).toMatchObject({
      allowed: true,
      next: { halfOpenCalls: 1, openedAt: 60_000 },
    });
  });

  it('counts half-open staleness from when the breaker went half-open, however long it sat open', () => {
    const open: BreakerRecord = { ...closed, state: 'OPEN', consecutiveFailures: 5, openedAt: 0 };
    const first = decide(open, 600_000, policy);
    if (!first.allowed || !first.next) throw new Error('expected the first test slot');
    const half = { ...first.next, version: 4 };
    expect(decide(half, 600_001, policy)).toMatchObject({ allowed: true, next: { halfOpenCalls: 2 } });
  });
});

describe('CircuitBreaker', () => {
  it('shares its state through the store: concurrent callers get exactly three half-open slots and one open transition', async () => {
    const clock = new ManualClock(0);
    const store = new MemoryBreakerStore();
    const transitions: BreakerTransition[] = [];
    const breaker = new CircuitBreaker({ store, clock, policy, onTransition: (t) => transitions.push(t) });
    await Promise.all(Array.from({ length: 7 }, () => breaker.recordFailure('orders#A')));
    expect(await store.get('orders#A')).toMatchObject({ state: 'OPEN', consecutiveFailures: 5, openedAt: 0 });
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN']);
    expect(await breaker.acquire('orders#B')).toEqual({ allowed: true });
    clock.advance(60_000);
    const permits = await Promise.all(Array.from({ length: 10 }, () => breaker.acquire('orders#A')));
    expect(permits.filter((p) => p.allowed)).toHaveLength(3);
    await breaker.recordSuccess('orders#A');
    expect(await breaker.state('orders#A')).toMatchObject({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  describe('with a trusted CLOSED read (closedReadTtlMs)', () => {
    /** A memory store that counts its reads. */
    function countingStore() {
      const store = new MemoryBreakerStore();
      let reads = 0;
      return {
        store: {
          get: (key: string) => {
            reads++;
            return store.get(key);
          },
          compareAndSet: store.compareAndSet.bind(store),
        },
        reads: () => reads,
      };
    }

    it('reads a healthy breaker once per TTL, not twice per call', async () => {
      const clock = new ManualClock(0);
      const { store, reads } = countingStore();
      const breaker = new CircuitBreaker({ store, clock, policy, closedReadTtlMs: 1000 });
      for (let i = 0; i < 10; i++) {
        expect(await breaker.acquire('orders#A')).toEqual({ allowed: true });
        await breaker.recordSuccess('orders#A');
        clock.advance(99);
      }
      expect(reads()).toBe(1);
      clock.advance(10);
      await breaker.acquire('orders#A');
      expect(reads()).toBe(2);
    });

    it("sees another worker's opening once the TTL has passed, and its own at once", async () => {
      const clock = new ManualClock(0);
      const shared = new MemoryBreakerStore();
      const worker = new CircuitBreaker({ store: shared, clock, policy, closedReadTtlMs: 1000 });
      const other = new CircuitBreaker({ store: shared, clock, policy });
      expect(await worker.acquire('orders#A')).toEqual({ allowed: true });
      for (let i = 0; i < 5; i++) await other.recordFailure('orders#A');
      clock.advance(999);
      expect(await worker.acquire('orders#A')).toEqual({ allowed: true });
      clock.advance(1);
      expect(await worker.acquire('orders#A')).toMatchObject({ allowed: false });

      const own = new CircuitBreaker({ store: new MemoryBreakerStore(), clock, policy, closedReadTtlMs: 60_000 });
      expect(await own.acquire('orders#B')).toEqual({ allowed: true });
      for (let i = 0; i < 5; i++) await own.recordFailure('orders#B');
      expect(await own.acquire('orders#B')).toMatchObject({ allowed: false });
    });

    it('counts a failure on a stale read against the stored count: the fifth in all opens it once', async () => {
      const clock = new ManualClock(0);
      const shared = new MemoryBreakerStore();
      const transitions: BreakerTransition[] = [];
      const worker = new CircuitBreaker({
        store: shared,
        clock,
        policy,
        closedReadTtlMs: 60_000,
        onTransition: (t) => transitions.push(t),
      });
      const other = new CircuitBreaker({ store: shared, clock, policy });
      await worker.acquire('orders#A');
      for (let i = 0; i < 4; i++) await other.recordFailure('orders#A');
      await worker.recordFailure('orders#A');
      expect(await shared.get('orders#A')).toMatchObject({ state: 'OPEN', consecutiveFailures: 5 });
      expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN']);
    });
  });
});
