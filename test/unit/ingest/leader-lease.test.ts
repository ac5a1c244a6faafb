import { describe, expect, it } from 'vitest';
import { LeaderLease } from '../../../ingest-task/leader-lease.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { createLogger } from '../../../shared/logging.js';
import { waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/** The memory store, counting lease calls per owner so a test can wait for the Nth one. */
class CountingStore extends MemoryLiveStateStore {
  readonly acquires = new Map<string, number>();
  override async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.acquires.set(owner, (this.acquires.get(owner) ?? 0) + 1);
    return super.acquireLease(name, owner, ttlMs);
  }
}

describe('LeaderLease', () => {
  it('keeps one ingest instance active; the standby takes over when the active one stops', async () => {
    const state = new CountingStore();
    const options = { state, logger, ttlMs: 200, renewEveryMs: 40 };
    const first = new LeaderLease(options);
    const second = new LeaderLease(options);
    const stopFirst = new AbortController();
    expect(await first.acquire(stopFirst.signal)).toBe(true);
    const firstRunning = first.run(stopFirst.signal);

    const stopSecond = new AbortController();
    let secondActive = false;
    const standby = second.acquire(stopSecond.signal).then((won) => {
      secondActive = won;
    });
    // The standby's 7th try is at least 6 × 40 ms after its first, past the 200 ms lease: only
    // the first one's renewals can have kept it out.
    const tries = () => state.acquires.get(second.owner) ?? 0;
    await waitFor(() => tries() >= 7 || secondActive, { message: 'seven tries of the standby' });
    expect(secondActive).toBe(false);

    stopFirst.abort();
    await firstRunning;
    await waitFor(() => secondActive, { message: 'the standby to take over' });
    await standby;
    stopSecond.abort();
  });

  it('fails its run, stopping the role, when another instance holds the lease', async () => {
    const state = new MemoryLiveStateStore();
    const lease = new LeaderLease({ state, logger, ttlMs: 100, renewEveryMs: 20 });
    const stop = new AbortController();
    expect(await lease.acquire(stop.signal)).toBe(true);
    const running = lease.run(stop.signal);
    await state.releaseLease('ingest', lease.owner);
    expect(await state.acquireLease('ingest', 'intruder', 10_000)).toBe(true);
    await expect(running).rejects.toThrow('Lost the ingest lease');
  });

  it('gives up waiting when its signal aborts', async () => {
    const state = new CountingStore();
    await state.acquireLease('ingest', 'someone', 10_000);
    const lease = new LeaderLease({ state, logger, renewEveryMs: 20 });
    const stop = new AbortController();
    const acquired = lease.acquire(stop.signal);
    // Aborted once it is waiting as a standby, refused twice.
    await waitFor(() => (state.acquires.get(lease.owner) ?? 0) >= 2);
    stop.abort();
    expect(await acquired).toBe(false);
  });
});
