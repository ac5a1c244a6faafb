import { describe, expect, it } from 'vitest';
import type { ApplyResult, DesiredStreams, StreamTarget } from '../../../ingest-task/reconcile/reconciler.js';
import { MarketHoursTarget, MockFeedTarget } from '../../../ingest-task/reconcile/stream-targets.js';

/** A target that remembers what it streams, as the Kite pool target would. */
class SetTarget implements StreamTarget {
  streaming = new Set<number>();
  async apply(desired: DesiredStreams): Promise<ApplyResult> {
    const next = new Set(desired.keys());
    const added = [...next].filter((t) => !this.streaming.has(t)).length;
    const removed = [...this.streaming].filter((t) => !next.has(t)).length;
    this.streaming = next;
    return { added, removed, failed: 0 };
  }
}

const desired = (tokens: number[]): DesiredStreams =>
  new Map(tokens.map((t) => [t, { mode: 'full', accountId: null }]));

describe('MarketHoursTarget', () => {
  it('streams from Kite while open and from the mock feed while closed, never both', async () => {
    const live = new SetTarget();
    const mock = new MockFeedTarget();
    const target = new MarketHoursTarget(live, mock, true);
    await target.apply(desired([1, 2, 3]));
    expect([...live.streaming]).toEqual([1, 2, 3]);
    expect(mock.tokens().size).toBe(0);

    expect(await target.setOpen(false)).toMatchObject({ added: 3 });
    expect(live.streaming.size).toBe(0);
    expect([...mock.tokens()]).toEqual([1, 2, 3]);

    await target.apply(desired([2, 3, 4]));
    expect([...mock.tokens()]).toEqual([2, 3, 4]);
    expect(live.streaming.size).toBe(0);

    expect(await target.setOpen(false)).toBeUndefined();
    await target.setOpen(true);
    expect([...live.streaming]).toEqual([2, 3, 4]);
    expect(mock.tokens().size).toBe(0);
  });
});
