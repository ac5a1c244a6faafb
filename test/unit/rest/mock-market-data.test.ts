import { describe, expect, it } from 'vitest';
import { impliedVolatility, timeToExpiryYears } from '../../../shared/domain/greeks/index.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { MockMarketData, SESSION_MINUTES } from '../../../shared/market-data/mock-market-data.js';

const instruments = mockInstruments({ anchorDate: '2025-01-06' });
const data = (now = Date.UTC(2025, 0, 31)) =>
  new MockMarketData({ instruments: async () => instruments, seed: 7, rate: 0.1, dividendYield: 0, now: () => now });
const NIFTY = 256_265;
const IST = 5.5 * 3_600_000;
const day = (date: string) => Date.parse(`${date}T00:00:00Z`) - IST;

describe('MockMarketData', () => {
  it('gives 375 minute candles a trading day, 09:15 to 15:29 IST, and none on a weekend', async () => {
    const candles = await data().historical({
      instrumentToken: NIFTY,
      from: day('2025-01-10'),
      to: day('2025-01-13') - 1,
      interval: 'minute',
      oi: false,
    });
    expect(candles).toHaveLength(SESSION_MINUTES);
    expect(new Date((candles[0]?.date ?? 0) + IST).toISOString()).toBe('2025-01-10T09:15:00.000Z');
    expect(new Date((candles.at(-1)?.date ?? 0) + IST).toISOString()).toBe('2025-01-10T15:29:00.000Z');
    for (const c of candles)
      expect(c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close)).toBe(true);
  });

  it('gives the same candles for the minutes two different ranges share, on every instance', async () => {
    const wide = await data().historical({
      instrumentToken: NIFTY,
      from: day('2025-01-08'),
      to: day('2025-01-10'),
      interval: 'minute',
      oi: false,
    });
    const narrowFrom = day('2025-01-09') + 10 * 3_600_000;
    const narrow = await data().historical({
      instrumentToken: NIFTY,
      from: narrowFrom,
      to: narrowFrom + 3_600_000,
      interval: 'minute',
      oi: false,
    });
    expect(narrow).toHaveLength(61);
    expect(narrow).toEqual(wide.filter((c) => c.date >= narrowFrom && c.date <= narrowFrom + 3_600_000));
  });

  it('builds every interval from the same minutes: a day is its minutes summed up, for the index and an option', async () => {
    const option = instruments.find(
      (i) => i.name === 'NIFTY' && i.instrumentType === 'CE' && (i.expiry ?? '') > '2025-01-10',
    ) as (typeof instruments)[0];
    for (const token of [NIFTY, option.instrumentToken]) {
      const ask = (interval: 'minute' | '15minute' | 'day') =>
        data().historical({
          instrumentToken: token,
          from: day('2025-01-10'),
          to: day('2025-01-11') - 1,
          interval,
          oi: false,
        });
      const [minutes, quarters, days] = [await ask('minute'), await ask('15minute'), await ask('day')];
      expect(days).toHaveLength(1);
      expect(quarters).toHaveLength(25);
      for (const [candles, size] of [
        [days, SESSION_MINUTES],
        [quarters, 15],
      ] as const) {
        candles.forEach((c, n) => {
          const group = minutes.slice(n * size, (n + 1) * size);
          expect(c.open).toBe(group[0]?.open);
          expect(c.close).toBe(group.at(-1)?.close);
          expect(c.volume).toBe(group.reduce((sum, m) => sum + m.volume, 0));
          if (token === NIFTY) {
            expect(c.high).toBe(Math.max(...group.map((m) => m.high)));
            expect(c.low).toBe(Math.min(...group.map((m) => m.low)));
          } else {
            // An option is priced at the candle's extreme index levels, not minute by minute.
            expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
            expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close));
          }
        });
      }
    }
  });

  it('prices options on the smile from the index, so their closes imply sensible volatilities', async () => {
    const option = instruments.find(
      (i) => i.instrumentType === 'PE' && i.name === 'NIFTY' && i.strike === 24_000 && i.expiry === '2025-01-14',
    );
    if (!option) throw new Error('no option');
    const query = { from: day('2025-01-07'), to: day('2025-01-08') - 1, interval: '15minute', oi: true } as const;
    const [candles, index] = await Promise.all([
      data().historical({ ...query, instrumentToken: option.instrumentToken }),
      data().historical({ ...query, instrumentToken: NIFTY }),
    ]);
    expect(candles).toHaveLength(25);
    for (const [i, c] of candles.entries()) {
      expect(c.oi).toBeGreaterThan(0);
      const { volatility, status } = impliedVolatility({
        kind: 'PE',
        model: 'black-scholes',
        underlying: index[i]?.close ?? 0,
        strike: 24_000,
        timeToExpiryYears: timeToExpiryYears('2025-01-14', c.date + 15 * 60_000),
        rate: 0.1,
        price: c.close,
      });
      expect(status).toBe('ok');
      expect(volatility).toBeGreaterThan(0.05);
      expect(volatility).toBeLessThan(0.4);
    }
  });

  it('has nothing after now, after an option expires, or for unknown tokens', async () => {
    const now = day('2025-01-09') + 12 * 3_600_000;
    const candles = await data(now).historical({
      instrumentToken: NIFTY,
      from: day('2025-01-09'),
      to: day('2025-01-10'),
      interval: 'minute',
      oi: false,
    });
    expect(candles.every((c) => c.date <= now)).toBe(true);
    expect(candles.length).toBeGreaterThan(0);
    const expiring = instruments.find((i) => i.instrumentType === 'CE' && i.expiry === '2025-01-07');
    expect(expiring).toBeDefined();
    const after = await data().historical({
      instrumentToken: expiring?.instrumentToken ?? 0,
      from: day('2025-01-09'),
      to: day('2025-01-20'),
      interval: 'day',
      oi: true,
    });
    expect(after).toEqual([]);
    expect(await data().historical({ instrumentToken: 1, from: 0, to: now, interval: 'day', oi: false })).toEqual([]);
    const daily = await data().historical({
      instrumentToken: NIFTY,
      from: day('2025-01-06'),
      to: day('2025-01-11'),
      interval: 'day',
      oi: false,
    });
    expect(daily.map((c) => new Date(c.date + IST).toISOString().slice(0, 10))).toEqual([
      '2025-01-06',
      '2025-01-07',
      '2025-01-08',
      '2025-01-09',
      '2025-01-10',
    ]);
  });
});
