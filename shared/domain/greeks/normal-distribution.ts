import { erfCentralInterval, erfcxPositiveTail } from './erf-cody.js';

/** 1/√(2π). */
export const ONE_OVER_SQRT_TWO_PI = 0.3989422804014326779399460599343818684758586311649;
/** √(2π). */
export const SQRT_TWO_PI = 2.50662827463100050241576528481104525300698674061;
/** 1/√2. */
const ONE_OVER_SQRT_TWO = 0.7071067811865475244008443621048490392848359376887;
/** |z| up to which Φ(z) = ½ + ½·erf(z/√2) uses Cody's central interval (0.46875·√2). */
const CENTRAL_LIMIT = 0.6629126073623883;
/** Veltkamp's splitter 2^27 + 1: splits a double into two halves whose products are exact. */
const SPLITTER = 134217729;

/**
 * exp(−z²/2) with z² formed exactly (Dekker's product: the rounding error of z·z is recovered
 * and applied as a first-order correction). The exponential's relative error is otherwise
 * |z|²·ε, i.e. about 1e-13 at z = 38, where normal tail probabilities are 1e-300.
 */
export function expMinusHalfSquare(z: number): number {
  const hi = z * z;
  const c = SPLITTER * z;
  const zh = c - (c - z);
  const zl = z - zh;
  const lo = zh * zh - hi + 2 * zh * zl + zl * zl;
  return Math.exp(-0.5 * hi) * (1 - 0.5 * lo);
}

/** The standard normal density φ(z) = exp(−z²/2)/√(2π), relatively accurate in the tails. */
export function normPdf(z: number): number {
  return ONE_OVER_SQRT_TWO_PI * expMinusHalfSquare(z);
}

/**
 * The standard normal distribution function Φ(z), with relative accuracy of a few ulps for
 * every z down to the underflow at z ≈ −38.5 (and for 1 − Φ(z) when z > 0 through symmetry).
 *
 * The tail is Φ(−|z|) = ½·erfcx(|z|/√2)·exp(−z²/2): Cody's erfcx is a pure rational function
 * that tolerates the rounding of |z|/√2, and the exponential is taken of the exact square, so no
 * digit is lost to the `|z|²·ε` amplification that limits a plain `erfc(−z/√2)`.
 */
export function normCdf(z: number): number {
  const az = Math.abs(z);
  if (az <= CENTRAL_LIMIT) return 0.5 + 0.5 * erfCentralInterval(z * ONE_OVER_SQRT_TWO);
  const tail = 0.5 * erfcxPositiveTail(az * ONE_OVER_SQRT_TWO) * expMinusHalfSquare(az);
  return z < 0 ? tail : 1 - tail;
}

/**
 * Φ(z) when exp(−z²/2) is already known (the Greeks get it from the exponential they share with
 * the normalised vega), saving the exponential `normCdf` would take. Same accuracy as `normCdf`
 * when `expMinusHalfZSquared` is accurate.
 */
export function normCdfGivenExponential(z: number, expMinusHalfZSquared: number): number {
  const az = Math.abs(z);
  if (az <= CENTRAL_LIMIT) return 0.5 + 0.5 * erfCentralInterval(z * ONE_OVER_SQRT_TWO);
  const tail = 0.5 * erfcxPositiveTail(az * ONE_OVER_SQRT_TWO) * expMinusHalfZSquared;
  return z < 0 ? tail : 1 - tail;
}

// Algorithm AS 241 (M. J. Wichura, Applied Statistics 37, 1988), PPND16: Φ⁻¹ to about 1e-16.
const SPLIT1 = 0.425;
const SPLIT2 = 5;
const CONST1 = 0.180625;
const CONST2 = 1.6;
const IA0 = 3.387132872796366608;
const IA1 = 133.14166789178437745;
const IA2 = 1971.5909503065514427;
const IA3 = 13731.693765509461125;
const IA4 = 45921.953931549871457;
const IA5 = 67265.770927008700853;
const IA6 = 33430.575583588128105;
const IA7 = 2509.0809287301226727;
const IB1 = 42.313330701600911252;
const IB2 = 687.1870074920579083;
const IB3 = 5394.1960214247511077;
const IB4 = 21213.794301586595867;
const IB5 = 39307.89580009271061;
const IB6 = 28729.085735721942674;
const IB7 = 5226.495278852854561;
const IC0 = 1.42343711074968357734;
const IC1 = 4.6303378461565452959;
const IC2 = 5.7694972214606914055;
const IC3 = 3.64784832476320460504;
const IC4 = 1.27045825245236838258;
const IC5 = 0.24178072517745061177;
const IC6 = 0.0227238449892691845833;
const IC7 = 7.7454501427834140764e-4;
const ID1 = 2.05319162663775882187;
const ID2 = 1.6763848301838038494;
const ID3 = 0.68976733498510000455;
const ID4 = 0.14810397642748007459;
const ID5 = 0.0151986665636164571966;
const ID6 = 5.475938084995344946e-4;
const ID7 = 1.05075007164441684324e-9;
const IE0 = 6.6579046435011037772;
const IE1 = 5.4637849111641143699;
const IE2 = 1.7848265399172913358;
const IE3 = 0.29656057182850489123;
const IE4 = 0.026532189526576123093;
const IE5 = 0.0012426609473880784386;
const IE6 = 2.71155556874348757815e-5;
const IE7 = 2.01033439929228813265e-7;
const IF1 = 0.59983220655588793769;
const IF2 = 0.13692988092273580531;
const IF3 = 0.0148753612908506148525;
const IF4 = 7.868691311456132591e-4;
const IF5 = 1.8463183175100546818e-5;
const IF6 = 1.4215117583164458887e-7;
const IF7 = 2.04426310338993978564e-15;

/**
 * The inverse normal distribution Φ⁻¹(u) by Wichura's AS 241 (about 16 digits). Only the initial
 * guesses of the implied-volatility solver use it; −∞ for u <= 0 and +∞ for u >= 1.
 */
export function inverseNormCdf(u: number): number {
  if (u <= 0) return Number.NEGATIVE_INFINITY;
  if (u >= 1) return Number.POSITIVE_INFINITY;
  const q = u - 0.5;
  if (Math.abs(q) <= SPLIT1) {
    const r = CONST1 - q * q;
    return (
      (q * (((((((IA7 * r + IA6) * r + IA5) * r + IA4) * r + IA3) * r + IA2) * r + IA1) * r + IA0)) /
      (((((((IB7 * r + IB6) * r + IB5) * r + IB4) * r + IB3) * r + IB2) * r + IB1) * r + 1)
    );
  }
  let r = Math.sqrt(-Math.log(q < 0 ? u : 1 - u));
  let value: number;
  if (r < SPLIT2) {
    r -= CONST2;
    value =
      (((((((IC7 * r + IC6) * r + IC5) * r + IC4) * r + IC3) * r + IC2) * r + IC1) * r + IC0) /
      (((((((ID7 * r + ID6) * r + ID5) * r + ID4) * r + ID3) * r + ID2) * r + ID1) * r + 1);
  } else {
    r -= SPLIT2;
    value =
      (((((((IE7 * r + IE6) * r + IE5) * r + IE4) * r + IE3) * r + IE2) * r + IE1) * r + IE0) /
      (((((((IF7 * r + IF6) * r + IF5) * r + IF4) * r + IF3) * r + IF2) * r + IF1) * r + 1);
  }
  return q < 0 ? -value : value;
}
