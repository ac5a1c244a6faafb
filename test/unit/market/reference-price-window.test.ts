import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReferencePriceWindow } from '../../../shared/domain/market/reference-price-window.js';

/** 10:00:00.000 IST on a trading day. */
const T0 = Date.UTC(2026, 3, 7, 4, 30, 0);

describe('ReferencePriceWindow', () => {
  it('averages the trade prices of the last 30 s and drops each second once it is 30 s old', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    // One trade a second for a minute, at 100, 101, …, 159 (no volume: LTP mode, every tick a trade).
    for (let s = 0; s < 60; s++) window.record(slot, 100 + s, undefined, T0 + s * 1000 + 500);
    // At 59.9 s the window holds seconds 30…59: prices 130…159.
    expect(window.average(1, T0 + 59_900)).toBe(144.5);
    // A second later second 30 has left it: 131…159.
    expect(window.average(1, T0 + 60_900)).toBe(145);
    // Second 59 is the last to leave, at 89 s.
    expect(window.average(1, T0 + 88_999)).toBe(159);
    expect(window.average(1, T0 + 89_000)).toBeUndefined();
  });

  it('weighs every trade alike, several in one second included', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(7);
    window.record(slot, 100, undefined, T0);
    window.record(slot, 110, undefined, T0 + 10);
    window.record(slot, 120, undefined, T0 + 20);
    window.record(slot, 90, undefined, T0 + 5000);
    expect(window.average(7, T0 + 5000)).toBe(105);
  });

  it('counts a tick as a trade only when the cumulative volume rose since the previous one', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    window.record(slot, 500, 1000, T0); // the first tick: no earlier volume, so no trade seen
    expect(window.average(1, T0)).toBeUndefined();
    window.record(slot, 100, 1065, T0 + 100); // traded
    window.record(slot, 900, 1065, T0 + 200); // depth moved, no trade
    window.record(slot, 120, 1130, T0 + 300); // traded
    window.record(slot, 800, 10, T0 + 400); // the day's volume restarted: not a trade
    window.record(slot, 140, 75, T0 + 500); // traded again from there
    expect(window.average(1, T0 + 600)).toBe(120);
  });

  it('ignores prices that are not positive, as Kite sends 0 for an untraded contract', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    for (const price of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) window.record(slot, price, undefined, T0);
    expect(window.average(1, T0)).toBeUndefined();
    window.record(slot, 42.5, undefined, T0);
    expect(window.average(1, T0)).toBe(42.5);
  });

  it('keeps tokens apart and lists only those that traded', () => {
    const window = new ReferencePriceWindow({ pageSlots: 1 });
    const a = window.slotOf(11);
    const b = window.slotOf(22);
    const c = window.slotOf(33);
    expect(window.slotOf(22)).toBe(b);
    expect(new Set([a, b, c]).size).toBe(3);
    window.record(a, 10, undefined, T0);
    window.record(b, 20, undefined, T0);
    expect(window.averages(T0 + 1000)).toEqual(
      new Map([
        [11, 10],
        [22, 20],
      ]),
    );
    expect(window.average(33, T0)).toBeUndefined();
    expect(window.size).toBe(3);
  });

  it('leaves out buckets from a later second when the clock steps back', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    window.record(slot, 100, undefined, T0 + 10_000);
    expect(window.average(1, T0 + 5000)).toBeUndefined();
  });

  it('counts a trade of an earlier second still in the window when the clock steps back, and restarts after a step of the whole window', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    window.record(slot, 100, undefined, T0 + 10_000);
    window.record(slot, 200, undefined, T0 + 2_000); // 8 s back: that second is still in the ring
    expect(window.average(1, T0 + 10_000)).toBe(150);
    window.record(slot, 50, undefined, T0 - 40_000); // 50 s back: older than all it holds
    expect(window.average(1, T0 - 40_000)).toBe(50);
    expect(window.average(1, T0 + 10_000)).toBeUndefined();
  });

  it('clears the buckets of the seconds a slot skips, and all of them after a gap of a window', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    for (let s = 0; s < 30; s++) window.record(slot, 100, undefined, T0 + s * 1000);
    // 21 s on: the buckets of seconds 30…50 held seconds 0…20, which have left the window.
    window.record(slot, 40, undefined, T0 + 50_000);
    expect(window.average(1, T0 + 50_000)).toBe((9 * 100 + 40) / 10);
    // 45 s on: every bucket is older than the window, whichever one it lands in.
    window.record(slot, 70, undefined, T0 + 95_000);
    expect(window.average(1, T0 + 95_000)).toBe(70);
  });

  it('averages the first 65,535 trades of a second when more arrive in it', () => {
    const window = new ReferencePriceWindow();
    const slot = window.slotOf(1);
    for (let n = 0; n < 70_000; n++) window.record(slot, 100, undefined, T0 + 500);
    window.record(slot, 130, undefined, T0 + 1500);
    expect(window.average(1, T0 + 1500)).toBeCloseTo((65_535 * 100 + 130) / 65_536, 9);
  });

  it('holds 9,000 tokens in under 3 MB of arrays, adding pages without moving what slots hold', () => {
    const window = new ReferencePriceWindow();
    const first = window.slotOf(1);
    window.record(first, 77, undefined, T0);
    for (let token = 2; token <= 9000; token++) window.record(window.slotOf(token), token, undefined, T0);
    expect(window.arrayBytes).toBeLessThan(3 * 1024 * 1024);
    expect(window.average(1, T0)).toBe(77);
    expect(window.average(9000, T0)).toBe(9000);
  });

  it('matches a plain average of the trades of the last 30 whole seconds, for any stream', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            token: fc.integer({ min: 1, max: 5 }),
            gapMs: fc.integer({ min: 0, max: 4000 }),
            price: fc.integer({ min: 5, max: 100_000 }).map((paise) => paise / 100),
          }),
          { maxLength: 300 },
        ),
        fc.integer({ min: 0, max: 40_000 }),
        (ticks, readAfterMs) => {
          const window = new ReferencePriceWindow({ pageSlots: 2 });
          const trades: { token: number; at: number; price: number }[] = [];
          let at = T0;
          for (const tick of ticks) {
            at += tick.gapMs;
            window.record(window.slotOf(tick.token), tick.price, undefined, at);
            trades.push({ token: tick.token, at, price: tick.price });
          }
          const now = at + readAfterMs;
          const second = Math.floor(now / 1000);
          const expected = new Map<number, number>();
          for (const token of new Set(trades.map((t) => t.token))) {
            const inWindow = trades.filter((t) => t.token === token && second - Math.floor(t.at / 1000) < 30);
            if (inWindow.length > 0) {
              expected.set(token, inWindow.reduce((sum, t) => sum + t.price, 0) / inWindow.length);
            }
          }
          const got = window.averages(now);
          expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [token, average] of expected) expect(got.get(token)).toBeCloseTo(average, 9);
        },
      ),
    );
  });

  it('refuses a window that is not a whole number of seconds from 1', () => {
    for (const seconds of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ReferencePriceWindow({ seconds })).toThrow(RangeError);
      expect(() => new ReferencePriceWindow({ pageSlots: seconds })).toThrow(RangeError);
    }
    expect(() => new ReferencePriceWindow({ seconds: 0 })).toThrow('seconds must be a whole number from 1, got 0');
    expect(() => new ReferencePriceWindow({ pageSlots: 1.5 })).toThrow(
      'pageSlots must be a whole number from 1, got 1.5',
    );
    // The smallest window and page are allowed.
    expect(() => new ReferencePriceWindow({ seconds: 1, pageSlots: 1 })).not.toThrow();
  });
});
