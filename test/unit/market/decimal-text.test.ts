import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalText, priceText, roundTo, TICK_DECIMALS } from '../../../shared/domain/market/decimal-text.js';

const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -100, max: 100, noNaN: true }),
  fc.double({ min: -1e-5, max: 1e-5, noNaN: true }),
  fc.integer({ min: -1e9, max: 1e9 }).map((units) => units / 1e6),
  fc.constantFrom(0, -0, 5e-324, 0.5e-6, -0.5e-6, 1e15, 123.456_785, 2 ** 53),
);
const paise = fc.oneof(fc.integer({ min: -1e7, max: 1e12 }), fc.constantFrom(0, 5, 10, 100, 2_400_050));

describe('decimalText', () => {
  it('is exactly JSON.stringify of the value rounded to the places, for any finite number', () => {
    fc.assert(
      fc.property(finite, fc.integer({ min: 0, max: 9 }), (value, decimals) => {
        expect(decimalText(value, decimals)).toBe(JSON.stringify(roundTo(value, decimals)));
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds to the tick places and prints no more digits than they allow', () => {
    expect(decimalText(0.785_255_838_161_725_2, TICK_DECIMALS.delta)).toBe('0.785256');
    expect(decimalText(-12.345_678_9, TICK_DECIMALS.theta)).toBe('-12.345679');
    expect(decimalText(0.000_123_456_78, TICK_DECIMALS.gamma)).toBe('0.00012346');
    expect(decimalText(0.25, TICK_DECIMALS.iv)).toBe('0.25');
    expect(decimalText(-0.000_000_4, TICK_DECIMALS.delta)).toBe('0');
    expect(decimalText(0.000_000_99, TICK_DECIMALS.gamma)).toBe('9.9e-7');
    expect(roundTo(0.785_255_838_161_725_2, 6)).toBe(0.785_256);
  });
});

describe('priceText', () => {
  it('is exactly JSON.stringify of the price, for prices in whole paise and for any other finite number', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          paise.map((p) => p / 100),
          finite,
        ),
        (price) => {
          expect(priceText(price)).toBe(JSON.stringify(price));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
