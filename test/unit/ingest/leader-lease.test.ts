import { describe, expect, it } from 'vitest';
import { LeaderLease } from '../../../ingest-task/leader-lease.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { createLogger } from '../../../shared/logging.js';
import { sleep, waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

describe('LeaderLease', () => {
  it('keeps one ingest instance active; the standby takes over when the active one stops', async () => {
    const state = new MemoryLiveStateStore();
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
    // Well past the lease time: renewals keep the first one active and the second waiting.
    await sleep(500);
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
    const state = new MemoryLiveStateStore();
    await state.acquireLease('ingest', 'someone', 10_000);
    const lease = new LeaderLease({ state, logger, renewEveryMs: 20 });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    expect(await lease.acquire(stop.signal)).toBe(false);
  });
});
