import { describe, expect, it } from 'vitest';
import { expiryInstantMs, timeToExpiryYears, yearsUntil } from '../../../shared/domain/greeks/index.js';

const HOUR = 3_600_000;
const YEAR = 365 * 24 * HOUR;

describe('timeToExpiryYears', () => {
  it('counts calendar time to 15:30 IST (10:00 UTC) on the expiry date, in 365-day years', () => {
    // 09:15 IST on expiry day is 03:45 UTC: 6 h 15 min before the close.
    const open = Date.UTC(2024, 0, 25, 3, 45);
    expect(timeToExpiryYears('2024-01-25', open)).toBeCloseTo((6.25 * HOUR) / YEAR, 15);
    expect(timeToExpiryYears('2025-01-30', Date.UTC(2024, 0, 31, 10))).toBe(1);
  });

  it('counts the leap day as a calendar day like any other', () => {
    expect(timeToExpiryYears('2024-03-01', Date.UTC(2024, 1, 28, 10))).toBeCloseTo(2 / 365, 15);
  });

  it('is 0 at and after the close of the expiry day', () => {
    expect(timeToExpiryYears('2024-01-25', Date.UTC(2024, 0, 25, 10))).toBe(0);
    expect(timeToExpiryYears('2024-01-25', Date.UTC(2024, 0, 26))).toBe(0);
  });

  it('rejects malformed or non-existent dates and a non-finite clock with a RangeError', () => {
    expect(() => timeToExpiryYears('25-01-2024', 0)).toThrow(RangeError);
    expect(() => timeToExpiryYears('2025-02-30', 0)).toThrow('expiryDate must be a calendar date, got "2025-02-30"');
    expect(() => timeToExpiryYears('2024-01-25', Number.NaN)).toThrow('nowMs must be a finite number, got NaN');
    expect(() => timeToExpiryYears('2024-01-25T10:00', 0)).toThrow(
      `expiryDate must be 'YYYY-MM-DD', got "2024-01-25T10:00"`,
    );
    expect(() => expiryInstantMs('x2024-01-25')).toThrow(`expiryDate must be 'YYYY-MM-DD'`);
    expect(() => expiryInstantMs('2024-13-01')).toThrow('expiryDate must be a calendar date');
    expect(() => expiryInstantMs('2024-04-31')).toThrow('expiryDate must be a calendar date');
    // Date.UTC reads years 0–99 as 1900–1999: the expiry would silently move a century.
    expect(() => expiryInstantMs('0025-01-30')).toThrow('expiryDate must be a calendar date, got "0025-01-30"');
    expect(() => timeToExpiryYears('2024-01-25', Number.POSITIVE_INFINITY)).toThrow('nowMs must be a finite number');
  });
});

describe('expiryInstantMs and yearsUntil', () => {
  it('split the date parsing from the per-tick subtraction', () => {
    const expiry = expiryInstantMs('2024-01-25');
    expect(expiry).toBe(Date.UTC(2024, 0, 25, 10));
    expect(yearsUntil(expiry, expiry - YEAR / 2)).toBe(0.5);
    expect(yearsUntil(expiry, expiry + 1)).toBe(0);
    expect(yearsUntil(expiry, expiry - 1)).toBe(1 / YEAR);
    expect(yearsUntil(expiry, Number.NaN)).toBeNaN();
  });
});
