import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundTo, TICK_DECIMALS } from '../../../shared/domain/market/decimal-places.js';
import { JsonBytes } from '../../../shared/domain/market/json-bytes.js';

const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -100, max: 100, noNaN: true }),
  fc.double({ min: -1e-5, max: 1e-5, noNaN: true }),
  fc.integer({ min: -1e9, max: 1e9 }).map((units) => units / 1e6),
  fc.constantFrom(0, -0, 5e-324, 0.5e-6, -0.5e-6, 1e15, 123.456_785, 2 ** 53),
);
const paise = fc.oneof(fc.integer({ min: -1e7, max: 1e12 }), fc.constantFrom(0, 5, 10, 100, 2_400_050));
const text = new TextDecoder();

/** What one run of `write` puts out, as text. */
function written(write: (out: JsonBytes) => void, chunkSize?: number): string {
  const out = new JsonBytes(chunkSize);
  out.start(64);
  write(out);
  return text.decode(out.take());
}

describe('JsonBytes', () => {
  it('writes exactly JSON.stringify of the value rounded to the places, for any finite number', () => {
    fc.assert(
      fc.property(finite, fc.integer({ min: 0, max: 9 }), (value, decimals) => {
        expect(written((out) => out.decimal(value, decimals))).toBe(JSON.stringify(roundTo(value, decimals)));
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds to the tick places and writes no more digits than they allow', () => {
    expect(written((out) => out.decimal(0.785_255_838_161_725_2, TICK_DECIMALS.delta))).toBe('0.785256');
    expect(written((out) => out.decimal(-12.345_678_9, TICK_DECIMALS.theta))).toBe('-12.345679');
    expect(written((out) => out.decimal(0.000_123_456_78, TICK_DECIMALS.gamma))).toBe('0.00012346');
    expect(written((out) => out.decimal(0.25, TICK_DECIMALS.iv))).toBe('0.25');
    expect(written((out) => out.decimal(-0.000_000_4, TICK_DECIMALS.delta))).toBe('0');
    expect(written((out) => out.decimal(0.000_000_99, TICK_DECIMALS.gamma))).toBe('9.9e-7');
    expect(roundTo(0.785_255_838_161_725_2, 6)).toBe(0.785_256);
  });

  it('writes exactly JSON.stringify of a price, in whole paise or not', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          paise.map((p) => p / 100),
          finite,
        ),
        (price) => {
          expect(written((out) => out.price(price))).toBe(JSON.stringify(price));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('writes exactly JSON.stringify of a whole number of at least 0', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 2 ** 31 }),
          fc.maxSafeNat(),
          fc.constantFrom(0, 9, 10, 2 ** 53, 2 ** 60, 1e300),
        ),
        (value) => {
          expect(written((out) => out.whole(value))).toBe(JSON.stringify(value));
        },
      ),
    );
  });

  it('keeps a run in one chunk and never writes over a run it handed out', () => {
    const out = new JsonBytes(16);
    const runs: Uint8Array[] = [];
    for (let k = 0; k < 50; k++) {
      out.start(12);
      out.ascii(`{"k":${k}}`);
      runs.push(out.take());
    }
    expect(runs.map((run) => text.decode(run))).toEqual(Array.from({ length: 50 }, (_, k) => `{"k":${k}}`));
    // A run longer than a chunk gets a chunk of its own.
    out.start(40);
    out.ascii('x'.repeat(40));
    expect(text.decode(out.take())).toBe('x'.repeat(40));
  });
});
