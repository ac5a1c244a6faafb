import { describe, expect, it } from 'vitest';
import { normalisedImpliedVolatilityOfOtmCall } from '../../../shared/domain/greeks/lets-be-rational.js';
import {
  normalisedBlackCall,
  normalisedIntrinsicCall,
  normalisedVega,
} from '../../../shared/domain/greeks/normalised-black.js';
import { seededRandom, uniform } from '../../support/random.js';

/** x = ln(F/K) from −316 to 0 and s = σ√T from 1e-4 to 20: every branch and region of the solver. */
function* normalisedGrid(): Generator<{ x: number; s: number }> {
  for (let e = -8; e <= 2.5; e += 0.25) {
    for (let f = -4; f <= 1.3; f += 0.1) yield { x: -(10 ** e), s: 10 ** f };
  }
  for (let f = -4; f <= 1.3; f += 0.1) yield { x: 0, s: 10 ** f };
}

describe('normalisedImpliedVolatilityOfOtmCall (Let’s Be Rational)', () => {
  it('inverts the normalised Black function to a few ulps times the condition number on every branch', () => {
    let solved = 0;
    for (const { x, s } of normalisedGrid()) {
      const bMax = Math.exp(0.5 * x);
      const beta = normalisedBlackCall(x, s);
      if (!(beta > 1e-300) || beta >= bMax) continue;
      const recovered = normalisedImpliedVolatilityOfOtmCall(beta, x, bMax);
      // κ = b/(s·∂b/∂s): b near its maximum e^{x/2} hardly moves with s, so s cannot be sharper.
      const conditionNumber = beta / (s * normalisedVega(x, s));
      expect(Math.abs(recovered - s) / s, `x=${x} s=${s}`).toBeLessThanOrEqual(
        8 * Number.EPSILON * Math.max(1, conditionNumber),
      );
      solved++;
    }
    expect(solved).toBeGreaterThan(1500);
  });

  it('keeps that accuracy where the tabulated guess correction lets a single step suffice', () => {
    // The tables cover √|x| ∈ [1/128, 1] in the two lower branches; sample them densely, with s
    // from far below s_l up to s_c = √(2|x|), and a little beyond both ends of the table.
    const random = seededRandom(2016);
    let solved = 0;
    for (let i = 0; i < 40_000; i++) {
      const rootAbsX = uniform(random, 1 / 256, 1.05);
      const x = -rootAbsX * rootAbsX;
      const s = uniform(random, 0.02, 1.1) * Math.SQRT2 * rootAbsX;
      const bMax = Math.exp(0.5 * x);
      const beta = normalisedBlackCall(x, s);
      if (!(beta > 1e-300) || beta >= bMax) continue;
      const recovered = normalisedImpliedVolatilityOfOtmCall(beta, x, bMax);
      const conditionNumber = beta / (s * normalisedVega(x, s));
      expect(Math.abs(recovered - s) / s, `x=${x} s=${s}`).toBeLessThanOrEqual(
        8 * Number.EPSILON * Math.max(1, conditionNumber),
      );
      solved++;
    }
    expect(solved).toBeGreaterThan(39_000);
  });

  it('returns 0 for a zero price, +∞ at the maximum and NaN for NaN, without iterating', () => {
    expect(normalisedImpliedVolatilityOfOtmCall(0, -0.1, Math.exp(-0.05))).toBe(0);
    expect(normalisedImpliedVolatilityOfOtmCall(Math.exp(-0.05), -0.1, Math.exp(-0.05))).toBe(Number.POSITIVE_INFINITY);
    expect(normalisedImpliedVolatilityOfOtmCall(Number.NaN, -0.1, Math.exp(-0.05))).toBeNaN();
  });
});

describe('normalisedBlackCall', () => {
  it('is the intrinsic value plus the out-of-the-money value in the money (reciprocal-strike symmetry)', () => {
    for (const x of [1e-8, 0.01, 0.3, 2, 20]) {
      for (const s of [0, 0.01, 0.5, 3]) {
        expect(normalisedBlackCall(x, s)).toBe(normalisedIntrinsicCall(x) + normalisedBlackCall(-x, s));
      }
    }
  });

  it('computes the intrinsic value without cancellation: 2·sinh(x/2) to an ulp or two', () => {
    for (const x of [1e-12, 1e-6, 0.05, 0.2, 0.5, 1, 5, 50]) {
      const expected = 2 * Math.sinh(0.5 * x);
      expect(Math.abs(normalisedIntrinsicCall(x) - expected) / expected).toBeLessThanOrEqual(3 * Number.EPSILON);
    }
    expect(normalisedIntrinsicCall(0)).toBe(0);
    expect(normalisedIntrinsicCall(-1)).toBe(0);
  });
});
