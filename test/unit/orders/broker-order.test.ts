import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BrokerOrderState, mergeBrokerOrder } from '../../../shared/domain/orders/broker-order.js';

/** The life of one order as the exchange reports it, step by step. */
const LIFE: readonly BrokerOrderState[] = [
  { orderId: 'O1', status: 'PLACED' },
  {
    orderId: 'O1',
    status: 'OPEN PENDING',
    orderTimestamp: '2026-12-07 10:00:00',
    exchangeUpdateTimestamp: '2026-12-07 10:00:00',
  },
  {
    orderId: 'O1',
    status: 'OPEN',
    filledQuantity: 0,
    pendingQuantity: 130,
    exchangeUpdateTimestamp: '2026-12-07 10:00:00',
  },
  {
    orderId: 'O1',
    status: 'OPEN',
    filledQuantity: 65,
    pendingQuantity: 65,
    averagePrice: 99.5,
    exchangeUpdateTimestamp: '2026-12-07 10:00:02',
  },
  {
    orderId: 'O1',
    status: 'COMPLETE',
    filledQuantity: 130,
    pendingQuantity: 0,
    averagePrice: 99.75,
    exchangeUpdateTimestamp: '2026-12-07 10:00:05',
  },
];

const fold = (updates: readonly BrokerOrderState[]) =>
  updates.reduce<BrokerOrderState | undefined>((state, u) => mergeBrokerOrder(state, u) ?? state, undefined);

describe('mergeBrokerOrder', () => {
  it('ends on the final state whatever the order of arrival and however often each update repeats', () => {
    const final = fold(LIFE);
    expect(final).toMatchObject({ status: 'COMPLETE', filledQuantity: 130, averagePrice: 99.75 });
    const arrivals = fc.array(fc.integer({ min: 0, max: LIFE.length - 1 }), { maxLength: 15 }).chain((repeats) => {
      // Every update at least once, some again, in any order.
      const all = [...LIFE, ...repeats.map((i) => LIFE[i] as BrokerOrderState)];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });
    fc.assert(
      fc.property(arrivals, (updates) => {
        const end = fold(updates);
        // What the order came to; details only an earlier report carried may be missing.
        expect(end).toMatchObject({
          status: 'COMPLETE',
          filledQuantity: 130,
          pendingQuantity: 0,
          averagePrice: 99.75,
          exchangeUpdateTimestamp: '2026-12-07 10:00:05',
        });
      }),
      { seed: 20_261_207, numRuns: 300 },
    );
  });

  it('ignores an update older by exchange time than what it knows', () => {
    const partial = LIFE[3] as BrokerOrderState;
    const older = { ...(LIFE[2] as BrokerOrderState), pendingQuantity: 130, filledQuantity: 0 };
    expect(mergeBrokerOrder(partial, older)).toBeUndefined();
    // The same news a second later is taken.
    const later = { ...partial, exchangeUpdateTimestamp: '2026-12-07 10:00:03', price: 101 };
    expect(mergeBrokerOrder(partial, later)).toMatchObject({ price: 101 });
  });

  it('keeps a finished order finished, and never lowers the filled quantity', () => {
    const done = LIFE[4] as BrokerOrderState;
    expect(
      mergeBrokerOrder(done, { orderId: 'O1', status: 'OPEN', exchangeUpdateTimestamp: '2026-12-07 10:00:09' }),
    ).toBeUndefined();
    expect(mergeBrokerOrder(done, { ...done, status: 'CANCELLED' })).toBeUndefined();
    expect(mergeBrokerOrder(done, { ...done, filledQuantity: 65 })).toBeUndefined();
    expect(mergeBrokerOrder(done, done)).toBeUndefined();
    expect(mergeBrokerOrder(done, { orderId: 'O2', status: 'OPEN' })).toBeUndefined();
  });

  it('at the same second takes the update further along, and a fill over none', () => {
    const open = LIFE[2] as BrokerOrderState;
    const cancelled = { orderId: 'O1', status: 'CANCELLED', exchangeUpdateTimestamp: '2026-12-07 10:00:00' };
    expect(mergeBrokerOrder(open, cancelled)?.status).toBe('CANCELLED');
    expect(mergeBrokerOrder(cancelled, open)).toBeUndefined();
    const partly = { ...open, filledQuantity: 65, pendingQuantity: 65 };
    expect(mergeBrokerOrder(open, partly)?.filledQuantity).toBe(65);
    expect(mergeBrokerOrder(partly, open)).toBeUndefined();
  });
});
