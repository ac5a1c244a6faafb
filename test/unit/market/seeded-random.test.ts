import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/domain/market/seeded-random.js';
import { boundedTickStep, roundToTick } from '../../../shared/domain/market/tick-rounding.js';
import { onTick } from './market-fixtures.js';

describe('seededRandom', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 50 }, () => random.next());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(seededRandom(42).seed).toBe(42);
  });

  it('draws uniforms in [0, 1), integers in their closed range, and standard normals', () => {
    const random = seededRandom(7);
    const n = 20_000;
    const uniforms = Array.from({ length: n }, () => random.next());
    expect(Math.min(...uniforms)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uniforms)).toBeLessThan(1);
    expect(uniforms.reduce((a, b) => a + b, 0) / n).toBeCloseTo(0.5, 1);
    const integers = new Set(Array.from({ length: 1000 }, () => random.integer(3, 6)));
    expect(integers).toEqual(new Set([3, 4, 5, 6]));
    const normals = Array.from({ length: n }, () => random.normal());
    const mean = normals.reduce((a, b) => a + b, 0) / n;
    const variance = normals.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(normals.every(Number.isFinite)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('rejects a non-finite seed', () => {
    expect(() => seededRandom(Number.NaN)).toThrow(RangeError);
  });
});

describe('boundedTickStep', () => {
  it('lands on the tick grid within the bound of the previous price, never below one tick', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.double({ min: -1e6, max: 1e7 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (previousTicks, target, bound) => {
          const previous = previousTicks / 20;
          const next = boundedTickStep(previous, target, bound, 0.05);
          return (
            onTick(next) && next >= 0.05 && Math.abs(next - previous) <= previous * bound + 1e-9 * Math.max(1, previous)
          );
        },
      ),
    );
  });

  it('moves to the nearest tick of the target when the bound allows, and stays put when it allows no tick', () => {
    expect(boundedTickStep(100, 100.12, 0.01, 0.05)).toBe(100.1);
    expect(boundedTickStep(100, 150, 0.0015, 0.05)).toBe(100.15);
    expect(boundedTickStep(3.15, 3.5, 0.0015, 0.05)).toBe(3.15);
    expect(boundedTickStep(100, Number.NaN, 0.01, 0.05)).toBe(100);
    expect(roundToTick(0.001, 0.05)).toBe(0.05);
    expect(roundToTick(24012.349, 0.05)).toBe(24012.35);
  });
});
