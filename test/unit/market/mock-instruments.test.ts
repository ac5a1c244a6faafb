import { describe, expect, it } from 'vitest';
import { addDays, epochDay, istDate } from '../../../shared/domain/market/calendar-dates.js';
import {
  kiteOptionSymbol,
  MOCK_UNDERLYINGS,
  mockInstruments,
  mockOptionToken,
} from '../../../shared/domain/market/mock-instruments.js';

describe('mockInstruments', () => {
  const anchorDate = '2025-01-08';

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

  it('lists CE and PE on strikes around spot for every expiry, with lot sizes, steps and tick size 0.05', () => {
    const instruments = mockInstruments({ anchorDate, strikesEachSide: 3 });
    const nifty = instruments.filter((i) => i.name === 'NIFTY' && i.instrumentType !== 'INDEX');
    const bank = instruments.filter((i) => i.name === 'BANKNIFTY' && i.instrumentType !== 'INDEX');
    expect(nifty).toHaveLength(4 * 7 * 2);
    expect(bank).toHaveLength(4 * 7 * 2);
    expect([...new Set(nifty.map((i) => i.strike))]).toEqual([23850, 23900, 23950, 24000, 24050, 24100, 24150]);
    expect([...new Set(bank.map((i) => i.strike))]).toEqual([51700, 51800, 51900, 52000, 52100, 52200, 52300]);
    expect(new Set(nifty.map((i) => i.lotSize))).toEqual(new Set([75]));
    expect(new Set(bank.map((i) => i.lotSize))).toEqual(new Set([35]));
    for (const option of [...nifty, ...bank]) {
      expect(option).toMatchObject({ exchange: 'NFO', segment: 'NFO-OPT', tickSize: 0.05 });
      expect(['CE', 'PE']).toContain(option.instrumentType);
      expect(option.instrumentToken & 0xff).toBe(2);
      expect(option.instrumentToken).toBeLessThan(2 ** 31);
    }
  });

  it('places weekly and monthly expiries at day offsets from the anchor date, not on weekday rules', () => {
    const instruments = mockInstruments({ anchorDate, weeklyExpiryOffsetsDays: [1, 8], monthlyExpiryOffsetDays: 20 });
    const expiries = [...new Set(instruments.flatMap((i) => (i.expiry ? [i.expiry] : [])))];
    expect(expiries).toEqual(['2025-01-09', '2025-01-16', '2025-01-28']);
  });

  it('writes tradingsymbols in Kite format: YYMMM for monthly, YY + month code + DD for weekly', () => {
    const symbols = new Set(mockInstruments({ anchorDate, strikesEachSide: 0 }).map((i) => i.tradingsymbol));
    expect(symbols).toContain('NIFTY2511024000CE');
    expect(symbols).toContain('NIFTY2511724000PE');
    expect(symbols).toContain('NIFTY25JAN24000CE');
    expect(symbols).toContain('BANKNIFTY25JAN52000PE');
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
    expect(() => mockInstruments({ anchorDate, monthlyExpiryOffsetDays: 300 })).toThrow(/expiry offsets/);
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
  });

  it('takes the trading date in IST, which runs 5:30 ahead of UTC', () => {
    expect(istDate(Date.UTC(2025, 0, 7, 18, 29, 59))).toBe('2025-01-07');
    expect(istDate(Date.UTC(2025, 0, 7, 18, 30, 0))).toBe('2025-01-08');
  });
});
