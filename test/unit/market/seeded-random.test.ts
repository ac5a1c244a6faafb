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

  it('rejects a non-finite seed, naming it', () => {
    expect(() => seededRandom(Number.NaN)).toThrow(new RangeError('seed must be a finite number, got NaN'));
  });

  it('keeps its sequence across releases: a configured seed replays the same mock market', () => {
    const random = seededRandom(42);
    expect(Array.from({ length: 4 }, () => random.next())).toEqual([
      0.6606157226487994, 0.12688010395504534, 0.11170196393504739, 0.8149394164793193,
    ]);
  });

  it('draws uniforms over the range it is given', () => {
    const random = seededRandom(11);
    const draws = Array.from({ length: 5000 }, () => random.uniform(-1, 3));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...draws)).toBeLessThan(3);
    expect(Math.min(...draws)).toBeLessThan(-0.9);
    expect(Math.max(...draws)).toBeGreaterThan(2.9);
    expect(draws.reduce((a, b) => a + b, 0) / draws.length).toBeCloseTo(1, 1);
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

  it('moves down as far as the bound allows, and no further', () => {
    expect(boundedTickStep(100, 50, 0.01, 0.05)).toBe(99);
    expect(boundedTickStep(100, 99.42, 0.01, 0.05)).toBe(99.4);
    // A bound that lands exactly on a tick may be reached, in both directions.
    expect(boundedTickStep(100, 0, 0.5, 0.05)).toBe(50);
    expect(boundedTickStep(100, 1000, 0.5, 0.05)).toBe(150);
  });

  it('keeps inside the bound as computed in doubles, where the nearest tick is a rounding error outside it', () => {
    // 62 × 0.9 is 55.800000000000004 in doubles: the tick 55.8 would be a step past the bound.
    const down = boundedTickStep(62, 0, 0.1, 0.05);
    expect(down).toBe(55.85);
    expect(down).toBeGreaterThanOrEqual(62 * (1 - 0.1));
    // 3800 × 1.003 is 3811.3999999999996: the tick 3811.4 would be past it.
    const up = boundedTickStep(3800, 1e9, 0.003, 0.05);
    expect(up).toBe(3811.35);
    expect(up).toBeLessThanOrEqual(3800 * (1 + 0.003));
  });
});
