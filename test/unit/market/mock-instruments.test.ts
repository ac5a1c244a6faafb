import { describe, expect, it } from 'vitest';
import { addDays, epochDay, istDate } from '../../../shared/domain/market/calendar-dates.js';
import {
  kiteOptionSymbol,
  MOCK_UNDERLYINGS,
  mockExpiries,
  mockInstruments,
  mockOptionToken,
} from '../../../shared/domain/market/mock-instruments.js';

/** Day of the week of a `YYYY-MM-DD` date, 0 = Sunday. */
function weekdayOf(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

describe('mockInstruments', () => {
  /** Monday 7 December 2026: the Tuesday after is a weekly expiry, the 29th the monthly one. */
  const anchorDate = '2026-12-07';

  it('lists the NIFTY 50 and NIFTY BANK indices with the tokens Kite uses', () => {
    const indices = mockInstruments({ anchorDate }).filter((i) => i.instrumentType === 'INDEX');
    expect(indices).toEqual([
      expect.objectContaining({ instrumentToken: 256265, tradingsymbol: 'NIFTY 50', name: 'NIFTY', expiry: null }),
      expect.objectContaining({
        instrumentToken: 260105,
        tradingsymbol: 'NIFTY BANK',
        name: 'BANKNIFTY',
        expiry: null,
      }),
    ]);
    for (const index of indices) expect(index.instrumentToken & 0xff).toBe(9);
  });

  it('lists CE and PE on strikes around spot for every expiry, with 2026 lot sizes, steps and tick size 0.05', () => {
    const instruments = mockInstruments({ anchorDate, strikesEachSide: 3 });
    const nifty = instruments.filter((i) => i.name === 'NIFTY' && i.instrumentType !== 'INDEX');
    const bank = instruments.filter((i) => i.name === 'BANKNIFTY' && i.instrumentType !== 'INDEX');
    // NIFTY: four weekly expiries (the fourth is December's monthly) and January's monthly; BANKNIFTY: two monthlies.
    expect(nifty).toHaveLength(5 * 7 * 2);
    expect(bank).toHaveLength(2 * 7 * 2);
    expect([...new Set(nifty.map((i) => i.strike))]).toEqual([23850, 23900, 23950, 24000, 24050, 24100, 24150]);
    expect([...new Set(bank.map((i) => i.strike))]).toEqual([51700, 51800, 51900, 52000, 52100, 52200, 52300]);
    expect(new Set(nifty.map((i) => i.lotSize))).toEqual(new Set([65]));
    expect(new Set(bank.map((i) => i.lotSize))).toEqual(new Set([30]));
    for (const option of [...nifty, ...bank]) {
      expect(option).toMatchObject({ exchange: 'NFO', segment: 'NFO-OPT', tickSize: 0.05 });
      expect(['CE', 'PE']).toContain(option.instrumentType);
      expect(option.instrumentToken & 0xff).toBe(2);
      expect(option.instrumentToken).toBeLessThan(2 ** 31);
    }
  });

  it('lists NIFTY weekly expiries on Tuesdays plus the monthlies, and BANKNIFTY monthly expiries only', () => {
    const instruments = mockInstruments({ anchorDate, strikesEachSide: 0 });
    const expiriesOf = (name: string) => [
      ...new Set(instruments.flatMap((i) => (i.name === name && i.expiry ? [i.expiry] : []))),
    ];
    expect(expiriesOf('NIFTY')).toEqual(['2026-12-08', '2026-12-15', '2026-12-22', '2026-12-29', '2027-01-26']);
    expect(expiriesOf('BANKNIFTY')).toEqual(['2026-12-29', '2027-01-26']);
    for (const expiry of [...expiriesOf('NIFTY'), ...expiriesOf('BANKNIFTY')]) expect(weekdayOf(expiry)).toBe(2);
  });

  it('lists the anchor day’s own expiry, and monthlies as the last Tuesday of each month', () => {
    expect(mockExpiries(MOCK_UNDERLYINGS.NIFTY, { anchorDate: '2026-01-06', weeklyExpiries: 2 })).toEqual([
      { date: '2026-01-06', monthly: false },
      { date: '2026-01-13', monthly: false },
      { date: '2026-01-27', monthly: true },
      { date: '2026-02-24', monthly: true },
    ]);
    // After the month's last Tuesday, the next monthly is next month's.
    expect(mockExpiries(MOCK_UNDERLYINGS.BANKNIFTY, { anchorDate: '2026-03-31', monthlyExpiries: 3 })).toEqual([
      { date: '2026-03-31', monthly: true },
      { date: '2026-04-28', monthly: true },
      { date: '2026-05-26', monthly: true },
    ]);
    expect(mockExpiries(MOCK_UNDERLYINGS.BANKNIFTY, { anchorDate: '2026-04-01', monthlyExpiries: 1 })).toEqual([
      { date: '2026-04-28', monthly: true },
    ]);
  });

  it('moves an expiry on a trading holiday to the previous trading day', () => {
    // Tuesday 15 December closed: Monday 14th. Monday 28 and Tuesday 29 December closed: the monthly on Friday 25th.
    const expiries = mockExpiries(MOCK_UNDERLYINGS.NIFTY, {
      anchorDate,
      holidays: ['2026-12-15', '2026-12-29', '2026-12-28'],
      monthlyExpiries: 1,
    });
    expect(expiries).toEqual([
      { date: '2026-12-08', monthly: false },
      { date: '2026-12-14', monthly: false },
      { date: '2026-12-22', monthly: false },
      { date: '2026-12-25', monthly: true },
    ]);
    const symbols = mockInstruments({ anchorDate, strikesEachSide: 0, holidays: ['2026-12-15'] }).map(
      (i) => i.tradingsymbol,
    );
    expect(symbols).toContain('NIFTY26D1424000CE');
    expect(symbols).not.toContain('NIFTY26D1524000CE');
  });

  it('writes tradingsymbols in Kite format: YYMMM for monthly, YY + month code + DD for weekly', () => {
    const symbols = new Set(mockInstruments({ anchorDate, strikesEachSide: 0 }).map((i) => i.tradingsymbol));
    expect(symbols).toContain('NIFTY26D0824000CE');
    expect(symbols).toContain('NIFTY26D1524000PE');
    expect(symbols).toContain('NIFTY26D2224000CE');
    expect(symbols).toContain('NIFTY26DEC24000CE');
    expect(symbols).not.toContain('NIFTY26D2924000CE');
    expect(symbols).toContain('NIFTY27JAN24000PE');
    expect(symbols).toContain('BANKNIFTY26DEC52000PE');
    expect(symbols).toContain('BANKNIFTY27JAN52000CE');
    expect([...symbols].filter((s) => /^BANKNIFTY\d\d[1-9OND]\d\d/.test(s))).toEqual([]);
    expect(kiteOptionSymbol('NIFTY', '2026-01-13', false, 25000, 'CE')).toBe('NIFTY2611325000CE');
    expect(kiteOptionSymbol('NIFTY', '2025-10-07', false, 25000, 'CE')).toBe('NIFTY25O0725000CE');
    expect(kiteOptionSymbol('NIFTY', '2025-11-04', false, 25000, 'PE')).toBe('NIFTY25N0425000PE');
    expect(kiteOptionSymbol('NIFTY', '2025-12-30', true, 26000, 'CE')).toBe('NIFTY25DEC26000CE');
  });

  it('gives every instrument its own token', () => {
    const instruments = mockInstruments({ anchorDate, strikesEachSide: 40 });
    expect(new Set(instruments.map((i) => i.instrumentToken)).size).toBe(instruments.length);
    expect(new Set(instruments.map((i) => i.tradingsymbol)).size).toBe(instruments.length);
  });

  it('gives the same tokens for the same inputs on every call', () => {
    const first = mockInstruments({ anchorDate });
    const second = mockInstruments({ anchorDate });
    expect(second).toEqual(first);
  });

  it('keeps a contract’s token when the chain is laid out differently (tokens come from the contract, not the order)', () => {
    const narrow = mockInstruments({ anchorDate, strikesEachSide: 2, underlyings: [MOCK_UNDERLYINGS.NIFTY] });
    const wide = mockInstruments({
      anchorDate,
      strikesEachSide: 12,
      underlyings: [MOCK_UNDERLYINGS.BANKNIFTY, MOCK_UNDERLYINGS.NIFTY],
    });
    const wideTokens = new Map(wide.map((i) => [i.tradingsymbol, i.instrumentToken]));
    for (const instrument of narrow) expect(wideTokens.get(instrument.tradingsymbol)).toBe(instrument.instrumentToken);
    expect(mockOptionToken(MOCK_UNDERLYINGS.NIFTY, '2025-01-30', 24000, 'CE')).toBe(
      mockOptionToken(MOCK_UNDERLYINGS.NIFTY, '2025-01-30', 24000, 'CE'),
    );
  });

  it('rejects layouts it cannot encode into unique tokens', () => {
    expect(() => mockOptionToken(MOCK_UNDERLYINGS.NIFTY, '2025-01-30', 24010, 'CE')).toThrow(RangeError);
    expect(() => mockOptionToken(MOCK_UNDERLYINGS.NIFTY, '2025-01-30', 50 * 4096, 'CE')).toThrow(RangeError);
    expect(() => mockInstruments({ anchorDate, monthlyExpiries: 10 })).toThrow(/span fewer than 256 days/);
    expect(() => mockInstruments({ anchorDate, weeklyExpiries: 1.5 })).toThrow(/weeklyExpiries/);
    expect(() => mockInstruments({ anchorDate: '2025-02-30' })).toThrow(/anchorDate must be a calendar date/);
    expect(() =>
      mockInstruments({
        anchorDate,
        underlyings: [MOCK_UNDERLYINGS.NIFTY, { ...MOCK_UNDERLYINGS.BANKNIFTY, tokenCode: 0 }],
      }),
    ).toThrow(/tokenCode/);
  });
});

describe('calendar dates', () => {
  it('adds days across month and year ends in UTC', () => {
    expect(addDays('2024-12-30', 3)).toBe('2025-01-02');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(epochDay('1970-01-02')).toBe(1);
    expect(addDays('2025-03-01', -1)).toBe('2025-02-28');
  });

  it('rejects a malformed or non-existent date, naming the field', () => {
    expect(() => epochDay('2025-1-08', 'anchorDate')).toThrow('anchorDate must be \'YYYY-MM-DD\', got "2025-1-08"');
    expect(() => epochDay(' 2025-01-08')).toThrow("date must be 'YYYY-MM-DD'");
    expect(() => epochDay('2025-01-08x')).toThrow("date must be 'YYYY-MM-DD'");
    expect(() => epochDay('2025-02-29', 'expiry')).toThrow('expiry must be a calendar date, got "2025-02-29"');
    expect(() => epochDay('2025-13-01')).toThrow('date must be a calendar date');
    expect(() => epochDay('2025-04-31')).toThrow('date must be a calendar date');
    expect(epochDay('2024-02-29')).toBe(19_782);
    // Date.UTC reads years 0–99 as 1900–1999: such a year would silently become another century.
    expect(() => epochDay('0025-01-30', 'expiry')).toThrow('expiry must be a calendar date, got "0025-01-30"');
  });

  it('takes the trading date in IST, which runs 5:30 ahead of UTC', () => {
    expect(istDate(Date.UTC(2025, 0, 7, 18, 29, 59))).toBe('2025-01-07');
    expect(istDate(Date.UTC(2025, 0, 7, 18, 30, 0))).toBe('2025-01-08');
  });
});
