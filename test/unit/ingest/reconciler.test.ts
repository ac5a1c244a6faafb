import { describe, expect, it } from 'vitest';
import {
  type ApplyResult,
  type DesiredStreams,
  Reconciler,
  ReconcilerStoppedError,
  type StreamTarget,
} from '../../../ingest-task/reconcile/reconciler.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemorySubscriptionStore } from '../../../shared/adapters/memory/memory-subscription-store.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { createLogger } from '../../../shared/logging.js';
import type { Clock } from '../../../shared/ports/clock.js';
import { Channels, RECONCILE_NOW } from '../../../shared/ports/tick-bus.js';

const logger = createLogger('reconciler-test', { logLevel: 'SILENT', environment: 'test' });

/** A target that records every desired set it is given; `hold` keeps an apply pending until released. */
class RecordingTarget implements StreamTarget {
  readonly applied: number[][] = [];
  hold = false;
  readonly #waiting: (() => void)[] = [];

  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    this.applied.push([...desired.keys()].sort((a, b) => a - b));
    if (this.hold) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return { added: desired.size, removed: 0, failed: 0 };
  }

  release(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

async function subscribe(store: MemorySubscriptionStore, token: number, nowMs: number): Promise<void> {
  await store.upsert(
    {
      instrumentToken: token,
      tradingsymbol: `OPT${token}`,
      segment: 'NFO-OPT',
      status: 'active',
      requestedMode: 'FULL',
      accountId: null,
    },
    nowMs,
  );
}

/** A manual clock whose wall time can step back (as NTP may step it); its timers run on elapsed time. */
class SteppingClock implements Clock {
  readonly #elapsed = new ManualClock();
  #offset = 0;

  now(): number {
    return this.#elapsed.now() + this.#offset;
  }

  setTimeout(callback: () => void, ms: number): () => void {
    return this.#elapsed.setTimeout(callback, ms);
  }

  advance(ms: number): void {
    this.#elapsed.advance(ms);
  }

  stepBack(ms: number): void {
    this.#offset -= ms;
  }
}

/** Lets every settled promise's reactions run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function rig<C extends Clock>(minGapMs: number, clock: C) {
  const store = new MemorySubscriptionStore();
  const target = new RecordingTarget();
  const bus = new MemoryTickBus();
  const reconciler = new Reconciler({ store, target, bus, clock, logger, minGapMs, intervalMs: 60_000 });
  return { clock, store, target, bus, reconciler };
}

describe('Reconciler', () => {
  it('starts a reconcile at once after a quiet spell, and one of a burst of triggers only after the gap', async () => {
    const { clock, store, target, reconciler } = rig(250, new ManualClock());
    await subscribe(store, 1, clock.now());
    expect(await reconciler.trigger()).toMatchObject({ added: 1 });
    expect(target.applied).toEqual([[1]]);

    // A change 10 ms after the last reconcile ended: its reconcile waits for the rest of the gap.
    clock.advance(10);
    await subscribe(store, 2, clock.now());
    let done = false;
    const burst = Array.from({ length: 5 }, () => reconciler.trigger());
    void Promise.all(burst).then(() => {
      done = true;
    });
    await settle();
    expect(target.applied).toHaveLength(1);
    clock.advance(239);
    await settle();
    expect(target.applied).toHaveLength(1);
    expect(done).toBe(false);
    clock.advance(1);
    await settle();
    expect(done).toBe(true);
    // Five triggers, one reconcile, which saw the change.
    expect(target.applied).toEqual([[1], [1, 2]]);
    expect((await Promise.all(burst)).every((r) => r.added === 2)).toBe(true);

    // After a quiet spell of the gap, the next trigger is not held.
    clock.advance(250);
    await subscribe(store, 3, clock.now());
    expect(await reconciler.trigger()).toMatchObject({ added: 3 });
    expect(reconciler.counters).toMatchObject({ runs: 3, triggers: 7 });
  });

  it('waits longer after a slow read, so reading takes at most readShare of the time, and never past maxGapMs', async () => {
    const clock = new ManualClock();
    const store = new MemorySubscriptionStore();
    let readMs = 20;
    const slowStore = Object.assign(Object.create(store) as MemorySubscriptionStore, {
      listActive: async () => {
        clock.advance(readMs);
        return store.listActive();
      },
    });
    const target = new RecordingTarget();
    const reconciler = new Reconciler({
      store: slowStore,
      target,
      bus: new MemoryTickBus(),
      clock,
      logger,
      minGapMs: 250,
      readShare: 0.02,
      maxGapMs: 5_000,
      intervalMs: 60_000,
    });
    await subscribe(store, 1, clock.now());
    await reconciler.trigger();
    // A read of 20 ms: the next reconcile starts 49 × 20 = 980 ms after this one ended.
    await subscribe(store, 2, clock.now());
    const second = reconciler.trigger();
    clock.advance(979);
    await settle();
    expect(target.applied).toHaveLength(1);
    clock.advance(1);
    expect(await second).toMatchObject({ added: 2 });
    // A read of 200 ms would ask for 9.8 s: the gap stops at maxGapMs.
    readMs = 200;
    clock.advance(980);
    await reconciler.trigger();
    await subscribe(store, 3, clock.now());
    const fourth = reconciler.trigger();
    clock.advance(4_999);
    await settle();
    expect(target.applied).toHaveLength(3);
    clock.advance(1);
    expect(await fourth).toMatchObject({ added: 3 });
    expect(() => new Reconciler({ store, target, bus: new MemoryTickBus(), clock, logger, readShare: 0 })).toThrow(
      RangeError,
    );
  });

  it('queues at most one reconcile behind a running one, and starts it the gap after that one ends', async () => {
    const { clock, store, target, reconciler } = rig(100, new ManualClock());
    await subscribe(store, 1, clock.now());
    target.hold = true;
    const first = reconciler.trigger();
    await settle();
    await subscribe(store, 2, clock.now());
    const queued = [reconciler.trigger(), reconciler.trigger()];
    clock.advance(500);
    target.hold = false;
    target.release();
    await first;
    await settle();
    expect(target.applied).toHaveLength(1);
    clock.advance(100);
    expect((await Promise.all(queued)).map((r) => r.added)).toEqual([2, 2]);
    expect(target.applied).toEqual([[1], [1, 2]]);
  });

  it('waits no longer than the gap when the wall clock steps back', async () => {
    const { clock, store, target, reconciler } = rig(250, new SteppingClock());
    await reconciler.trigger();
    clock.stepBack(3_600_000);
    await subscribe(store, 1, clock.now());
    const waiting = reconciler.trigger();
    await settle();
    clock.advance(249);
    await settle();
    expect(target.applied).toHaveLength(1);
    clock.advance(1);
    expect(await waiting).toMatchObject({ added: 1 });
    expect(target.applied).toEqual([[], [1]]);
  });

  it('on stop, rejects the trigger waiting for its gap and never runs it', async () => {
    const { clock, store, target, bus, reconciler } = rig(250, new ManualClock());
    await subscribe(store, 1, clock.now());
    const stop = new AbortController();
    const running = reconciler.run(stop.signal);
    await settle();
    expect(target.applied).toEqual([[1]]);
    await bus.publish(Channels.control, RECONCILE_NOW);
    const waiting = reconciler.trigger();
    stop.abort();
    await running;
    await expect(waiting).rejects.toBeInstanceOf(ReconcilerStoppedError);
    await expect(reconciler.trigger()).rejects.toBeInstanceOf(ReconcilerStoppedError);
    clock.advance(1000);
    await settle();
    expect(target.applied).toEqual([[1]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('announces each completed reconcile after the streams changed, with when it read the store and what changed', async () => {
    const { clock, store, target, bus, reconciler } = rig(250, new ManualClock());
    const notices: unknown[] = [];
    let appliedWhenAnnounced: number[][] = [];
    await bus.subscribe(Channels.reconciled, (_channel, message) => {
      appliedWhenAnnounced = [...target.applied];
      notices.push(JSON.parse(message));
    });
    await subscribe(store, 1, clock.now());
    clock.advance(100);
    const startedAt = clock.now();
    target.hold = true;
    const pending = reconciler.trigger();
    await settle();
    clock.advance(30);
    expect(notices).toEqual([]);
    target.release();
    await pending;
    await settle();
    expect(notices).toEqual([
      { started_at_ms: startedAt, ended_at_ms: startedAt + 30, added: 1, removed: 0, failed: 0, active: 1 },
    ]);
    expect(appliedWhenAnnounced).toEqual([[1]]);
    expect(reconciler.lastCompletedAt).toBe(startedAt + 30);
  });

  it('announces nothing for a reconcile that failed', async () => {
    const { store, bus, reconciler } = rig(250, new ManualClock());
    const notices: string[] = [];
    await bus.subscribe(Channels.reconciled, (_channel, message) => notices.push(message));
    store.listActive = () => Promise.reject(new Error('store away'));
    await expect(reconciler.trigger()).rejects.toThrow('store away');
    await settle();
    expect(notices).toEqual([]);
    expect(reconciler.lastCompletedAt).toBeUndefined();
  });
});

describe('Reconciler with client demand', () => {
  const setUp = async (options: { capacity?: number } = {}) => {
    const clock = new ManualClock(Date.UTC(2026, 0, 6, 4, 0, 0));
    const store = new MemorySubscriptionStore();
    await subscribe(store, 1, clock.now());
    await subscribe(store, 2, clock.now());
    const target = new RecordingTarget();
    let demand: number[] = [];
    const streams: number[][] = [];
    const reconciler = new Reconciler({
      store,
      target,
      bus: new MemoryTickBus(),
      clock,
      logger,
      demand: () => demand,
      graceMs: 10_000,
      minGapMs: 0,
      onStreams: (tokens) => streams.push([...tokens].sort((a, b) => a - b)),
      ...options,
    });
    return { clock, target, reconciler, streams, want: (tokens: number[]) => (demand = tokens) };
  };

  it('streams what clients want beside the pinned set, and releases it only after the grace period', async () => {
    const { clock, target, reconciler, streams, want } = await setUp();
    want([7, 2]);
    await reconciler.trigger();
    expect(target.applied.at(-1)).toEqual([1, 2, 7]);
    want([]);
    await reconciler.trigger();
    expect(target.applied.at(-1)).toEqual([1, 2, 7]);
    clock.advance(9_999);
    await reconciler.trigger();
    expect(target.applied.at(-1)).toEqual([1, 2, 7]);
    // The reconcile the grace period's end scheduled releases it, with no trigger from outside.
    const runs = target.applied.length;
    clock.advance(1);
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(target.applied.length).toBe(runs + 1);
    expect(target.applied.at(-1)).toEqual([1, 2]);
    expect(streams.at(-1)).toEqual([1, 2]);
  });

  it('fills only the room the capacity leaves: pinned tokens always stream, those streaming keep their place', async () => {
    const { target, reconciler, want } = await setUp({ capacity: 3 });
    want([7]);
    await reconciler.trigger();
    expect(target.applied.at(-1)).toEqual([1, 2, 7]);
    want([8, 7]);
    await reconciler.trigger();
    expect(target.applied.at(-1)).toEqual([1, 2, 7]);
    const tight = await setUp({ capacity: 1 });
    tight.want([7]);
    await tight.reconciler.trigger();
    expect(tight.target.applied.at(-1)).toEqual([1, 2]);
  });
});
