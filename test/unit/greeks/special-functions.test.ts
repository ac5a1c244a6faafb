import { describe, expect, it } from 'vitest';
import { erfc, erfcx } from '../../../shared/domain/greeks/erf-cody.js';
import { inverseNormCdf, normCdf, normPdf } from '../../../shared/domain/greeks/normal-distribution.js';
import { relativeError, specialFunctionReferences } from './reference-fixtures.js';

const references = specialFunctionReferences();
const ULP = Number.EPSILON;

describe('erfc and erfcx (Cody)', () => {
  it('match the 40-digit values to a few ulps over the whole range, the far tail included', () => {
    for (const { x, erfc: expectedErfc, erfcx: expectedErfcx } of references.erfc) {
      // Below 1e-300 the values are subnormal (fewer digits), and Cody's erfc flushes them to 0.
      if (expectedErfc > 1e-300) {
        expect(relativeError(erfc(x), expectedErfc), `erfc(${x})`).toBeLessThanOrEqual(8 * ULP);
      } else {
        expect(erfc(x)).toBeLessThan(1e-300);
      }
      if (Number.isFinite(expectedErfcx)) {
        expect(relativeError(erfcx(x), expectedErfcx), `erfcx(${x})`).toBeLessThanOrEqual(8 * ULP);
      }
    }
  });

  it('keeps relative accuracy where a low-order formula (A&S 7.1.26) has none: erfc(10) ≈ 2.088e-45', () => {
    expect(relativeError(erfc(10), 2.088487583762545e-45)).toBeLessThanOrEqual(8 * ULP);
    expect(erfcx(1e8)).toBeCloseTo(1 / (1e8 * Math.sqrt(Math.PI)), 20);
    expect(erfcx(-27)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('normal distribution', () => {
  it('Φ and φ match the 40-digit values to a few ulps down to z = −38.5', () => {
    for (const { z, cdf, pdf } of references.normal) {
      if (cdf > 1e-300) expect(relativeError(normCdf(z), cdf), `Φ(${z})`).toBeLessThanOrEqual(8 * ULP);
      else expect(normCdf(z)).toBeLessThan(1e-300);
      if (pdf > 1e-300) expect(relativeError(normPdf(z), pdf), `φ(${z})`).toBeLessThanOrEqual(4 * ULP);
    }
  });

  it('Φ is monotone and symmetric: Φ(z) + Φ(−z) = 1', () => {
    let previous = 0;
    for (let z = -40; z <= 10; z += 0.01) {
      const value = normCdf(z);
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
      if (Math.abs(z) < 8) expect(value + normCdf(-z)).toBeCloseTo(1, 15);
    }
  });

  it('Φ⁻¹ (AS 241) inverts Φ to about 1e-15 and maps 0 and 1 to ∓∞', () => {
    for (const u of [1e-300, 1e-100, 1e-20, 1e-8, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.999999]) {
      const z = inverseNormCdf(u);
      expect(relativeError(normCdf(z), u), `u=${u}`).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(z)));
    }
    expect(inverseNormCdf(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(inverseNormCdf(1)).toBe(Number.POSITIVE_INFINITY);
  });
});
