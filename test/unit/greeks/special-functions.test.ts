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

  it('keeps that accuracy between the reference grid’s points, which all fall on sixteenths', () => {
    // x, erfc(x), erfcx(x) to 17 digits (mpmath, 40 digits, at the double nearest each x). On a
    // multiple of 1/16 the exp(±x²) split is exact, so only points off that grid test it.
    const offGrid: readonly (readonly [number, number, number])[] = [
      [-5.3, 1.9999999999999339, 3.1649145747493398e12],
      [-4.71, 1.9999999999727929, 8.6191057983112366e9],
      [-3.7, 1.9999998328489421, 1.7640927560908963e6],
      [-2.2, 1.9981371537020181, 2.5270311049655115e2],
      [-1.3, 1.9340079449406524, 1.0481318741176323e1],
      [-0.61, 1.6116812188758803, 2.3381917389154327],
      [0.3, 6.7137324054087258e-1, 7.3459933456765515e-1],
      [0.77, 2.761783860351407e-1, 4.9966955160947584e-1],
      [1.3, 6.5992055059347554e-2, 3.5764266908609031e-1],
      [2.2, 1.8628462979818899e-3, 2.3559296367861403e-1],
      [3.7, 1.6715105790914598e-7, 1.4743499753718507e-1],
      [4.3, 1.1934717937220432e-9, 1.2791372014976288e-1],
      [5.3, 6.6130818503408109e-14, 1.0464919566077328e-1],
      [6.17, 2.6454454856441989e-18, 9.0284254982458665e-2],
      [9.9, 1.5431200214053075e-44, 5.6702456938832268e-2],
      [13.3, 6.3680064047232235e-79, 4.2301366342046009e-2],
      [18.7, 4.0787521328518848e-154, 3.0127610683304075e-2],
      [25.9, 1.0202833184732667e-293, 2.1767181150738213e-2],
    ];
    for (const [x, expectedErfc, expectedErfcx] of offGrid) {
      expect(relativeError(erfc(x), expectedErfc), `erfc(${x})`).toBeLessThanOrEqual(8 * ULP);
      expect(relativeError(erfcx(x), expectedErfcx), `erfcx(${x})`).toBeLessThanOrEqual(8 * ULP);
    }
    const negativeErfcx: readonly (readonly [number, number])[] = [
      [-7.3, 2.7834468719969185e23],
      [-12.6, 1.7767320748966036e69],
      [-20.3, 1.8597006513264722e179],
      [-25.9, 4.2668895505045057e291],
    ];
    for (const [x, expected] of negativeErfcx) {
      expect(relativeError(erfcx(x), expected), `erfcx(${x})`).toBeLessThanOrEqual(8 * ULP);
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
