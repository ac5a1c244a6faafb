import { describe, expect, it } from 'vitest';
import { isMarketOpen } from '../../shared/domain/market/market-hours.js';

/** An instant given as IST wall-clock time. */
const ist = (text: string) => Date.parse(`${text}+05:30`);

describe('isMarketOpen', () => {
  it('is open from 09:15 to 15:30 IST on a weekday', () => {
    expect(isMarketOpen(ist('2025-01-08T09:14:59'), [])).toBe(false);
    expect(isMarketOpen(ist('2025-01-08T09:15:00'), [])).toBe(true);
    expect(isMarketOpen(ist('2025-01-08T15:29:59'), [])).toBe(true);
    expect(isMarketOpen(ist('2025-01-08T15:30:00'), [])).toBe(false);
  });

  it('is closed at weekends and on configured holidays, judged by the IST date', () => {
    expect(isMarketOpen(ist('2025-01-11T10:00:00'), [])).toBe(false);
    expect(isMarketOpen(ist('2025-01-12T10:00:00'), [])).toBe(false);
    expect(isMarketOpen(ist('2025-01-08T10:00:00'), ['2025-01-08'])).toBe(false);
    expect(isMarketOpen(ist('2025-01-08T10:00:00'), ['2025-01-09'])).toBe(true);
    // 09:30 IST on Monday is still Sunday in UTC: the IST date decides.
    expect(isMarketOpen(Date.parse('2025-01-13T04:00:00Z'), [])).toBe(true);
  });
});
