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
    // x, erfc(x), erfcx(x): mpmath at 40 digits for the double x, rounded to the nearest double. On a
    // multiple of 1/16 the exp(±x²) split is exact, so only points off that grid test it.
    const offGrid: readonly (readonly [number, number, number])[] = [
      [-5.3, 1.9999999999999338, 3164914574749.34],
      [-4.71, 1.9999999999727929, 8619105798.311237],
      [-3.7, 1.9999998328489421, 1764092.7560908962],
      [-2.2, 1.998137153702018, 252.70311049655115],
      [-1.3, 1.9340079449406524, 10.481318741176324],
      [-0.61, 1.6116812188758802, 2.3381917389154325],
      [0.3, 0.6713732405408726, 0.7345993345676551],
      [0.77, 0.2761783860351407, 0.49966955160947585],
      [1.3, 0.06599205505934755, 0.3576426690860903],
      [2.2, 0.0018628462979818898, 0.23559296367861401],
      [3.7, 1.6715105790914599e-7, 0.1474349975371851],
      [4.3, 1.1934717937220432e-9, 0.12791372014976288],
      [5.3, 6.613081850340811e-14, 0.10464919566077328],
      [6.17, 2.645445485644199e-18, 0.09028425498245866],
      [9.9, 1.5431200214053075e-44, 0.05670245693883227],
      [13.3, 6.368006404723223e-79, 0.04230136634204601],
      [18.7, 4.078752132851885e-154, 0.030127610683304076],
      [25.9, 1.0202833184732667e-293, 0.021767181150738214],
    ];
    for (const [x, expectedErfc, expectedErfcx] of offGrid) {
      expect(relativeError(erfc(x), expectedErfc), `erfc(${x})`).toBeLessThanOrEqual(8 * ULP);
      expect(relativeError(erfcx(x), expectedErfcx), `erfcx(${x})`).toBeLessThanOrEqual(8 * ULP);
    }
    const negativeErfcx: readonly (readonly [number, number])[] = [
      [-7.3, 2.7834468719969184e23],
      [-12.6, 1.7767320748966037e69],
      [-20.3, 1.859700651326472e179],
      [-25.9, 4.2668895505045055e291],
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
