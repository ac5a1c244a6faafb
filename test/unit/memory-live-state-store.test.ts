import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { MemoryLiveStateStore } from '../../shared/adapters/memory/memory-live-state-store.js';
import { liveStateStoreContract } from '../support/live-state-store-contract.js';

liveStateStoreContract('memory', () => {
  const clock = new ManualClock();
  return {
    ttlMs: 1000,
    open: async () => new MemoryLiveStateStore({ now: () => clock.now() }),
    elapse: async (ms) => clock.advance(ms),
  };
});

describe('MemoryLiveStateStore', () => {
  it('keeps a heartbeat readable up to the last millisecond of its TTL and drops it at the TTL', async () => {
    const clock = new ManualClock();
    const store = new MemoryLiveStateStore({ now: () => clock.now() });
    await store.putHeartbeat('ingest', 'alive', 5000);
    clock.advance(4999);
    expect(await store.getHeartbeat('ingest')).toBe('alive');
    clock.advance(1);
    expect(await store.getHeartbeat('ingest')).toBeUndefined();
  });

  it('frees a lease at its TTL to the millisecond, measured from the last renewal', async () => {
    const clock = new ManualClock();
    const store = new MemoryLiveStateStore({ now: () => clock.now() });
    expect(await store.acquireLease('ingest', 'task-a', 10_000)).toBe(true);
    clock.advance(9000);
    expect(await store.renewLease('ingest', 'task-a', 10_000)).toBe(true);
    clock.advance(9999);
    expect(await store.acquireLease('ingest', 'task-b', 10_000)).toBe(false);
    clock.advance(1);
    expect(await store.acquireLease('ingest', 'task-b', 10_000)).toBe(true);
  });

  it('measures time on the system clock when given none', async () => {
    const store = new MemoryLiveStateStore();
    await store.putHeartbeat('ingest', 'alive', 60_000);
    expect(await store.getHeartbeat('ingest')).toBe('alive');
    expect(await store.acquireLease('ingest', 'task-a', 60_000)).toBe(true);
    await store.close();
  });
});
