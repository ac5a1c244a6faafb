/**
 * The complementary error function and its scaled form by W. J. Cody's rational Chebyshev
 * approximations ("Rational Chebyshev approximations for the error function", Math. Comp. 23,
 * 1969, pp. 631-638; the CALERF packet of 1990), as used by P. Jäckel's `erf_cody.cpp`.
 *
 * The approximations are good to about 18 significant digits, so in IEEE double precision the
 * results are within a few units in the last place over the whole range, the far tails included.
 * That matters here: option prices far out of the money are differences of normal probabilities
 * of order 1e-100 and smaller, and a low-order formula (Abramowitz & Stegun 7.1.26, absolute error
 * 1.5e-7) loses every significant digit there.
 *
 * Three intervals: |x| <= 0.46875 (erf by a rational in x²), 0.46875 < |x| <= 4 (erfcx by a
 * rational in x) and |x| > 4 (erfcx by a rational in 1/x²). Where `exp(−x²)` is needed it is
 * computed as `exp(−u²)·exp(−(x−u)(x+u))` with u = x truncated to 1/16, which keeps the
 * exponential's argument exact enough not to spoil the relative accuracy.
 */

const THRESHOLD = 0.46875;
/** Below this, x² underflows the useful range and erf(x) = 2x/√π to machine precision. */
const X_SMALL = 1.11e-16;
/** erfc(x) underflows to 0 from here on. */
const X_BIG = 26.543;
/** From here on erfcx(x) = 1/(x·√π) to machine precision. */
const X_HUGE = 6.71e7;
/** erfcx(x) underflows to 0 from here on. */
const X_MAX = 2.53e307;
/** erfcx(x) overflows below this. */
const X_NEG = -26.628;
/** 1/√π. */
const ONE_OVER_SQRT_PI = 0.56418958354775628695;

// erf(x) for |x| <= 0.46875: x·(A0 + A1·x² + …)/(B0 + B1·x² + …).
const A0 = 3.1611237438705656;
const A1 = 113.864154151050156;
const A2 = 377.485237685302021;
const A3 = 3209.37758913846947;
const A4 = 0.185777706184603153;
const B0 = 23.6012909523441209;
const B1 = 244.024637934444173;
const B2 = 1282.61652607737228;
const B3 = 2844.23683343917062;

// erfcx(x) for 0.46875 < x <= 4.
const C0 = 0.564188496988670089;
const C1 = 8.88314979438837594;
const C2 = 66.1191906371416295;
const C3 = 298.635138197400131;
const C4 = 881.95222124176909;
const C5 = 1712.04761263407058;
const C6 = 2051.07837782607147;
const C7 = 1230.33935479799725;
const C8 = 2.15311535474403846e-8;
const D0 = 15.7449261107098347;
const D1 = 117.693950891312499;
const D2 = 537.181101862009858;
const D3 = 1621.38957456669019;
const D4 = 3290.79923573345963;
const D5 = 4362.61909014324716;
const D6 = 3439.36767414372164;
const D7 = 1230.33935480374942;

// erfcx(x) for x > 4, as a rational in 1/x².
const P0 = 0.305326634961232344;
const P1 = 0.360344899949804439;
const P2 = 0.125781726111229246;
const P3 = 0.0160837851487422766;
const P4 = 6.58749161529837803e-4;
const P5 = 0.0163153871373020978;
const Q0 = 2.56852019228982242;
const Q1 = 1.87295284992346047;
const Q2 = 0.527905102951428412;
const Q3 = 0.0605183413124413191;
const Q4 = 0.00233520497626869185;

/**
 * erf(x) for |x| <= 0.46875 only (the central interval of Cody's approximation). Exposed for the
 * normal distribution's centre, where 1/2 + erf(z/√2)/2 is more accurate than a difference.
 */
export function erfCentralInterval(x: number): number {
  const y = Math.abs(x);
  const ysq = y > X_SMALL ? y * y : 0;
  let num = A4 * ysq;
  let den = ysq;
  num = (num + A0) * ysq;
  den = (den + B0) * ysq;
  num = (num + A1) * ysq;
  den = (den + B1) * ysq;
  num = (num + A2) * ysq;
  den = (den + B2) * ysq;
  return (x * (num + A3)) / (den + B3);
}

/** erfcx(y) for 0.46875 < y <= 4. */
function erfcxMiddle(y: number): number {
  let num = C8 * y;
  let den = y;
  num = (num + C0) * y;
  den = (den + D0) * y;
  num = (num + C1) * y;
  den = (den + D1) * y;
  num = (num + C2) * y;
  den = (den + D2) * y;
  num = (num + C3) * y;
  den = (den + D3) * y;
  num = (num + C4) * y;
  den = (den + D4) * y;
  num = (num + C5) * y;
  den = (den + D5) * y;
  num = (num + C6) * y;
  den = (den + D6) * y;
  return (num + C7) / (den + D7);
}

/** erfcx(y) for y > 4. */
function erfcxTail(y: number): number {
  if (y >= X_HUGE) return y >= X_MAX ? 0 : ONE_OVER_SQRT_PI / y;
  const ysq = 1 / (y * y);
  let num = P5 * ysq;
  let den = ysq;
  num = (num + P0) * ysq;
  den = (den + Q0) * ysq;
  num = (num + P1) * ysq;
  den = (den + Q1) * ysq;
  num = (num + P2) * ysq;
  den = (den + Q2) * ysq;
  num = (num + P3) * ysq;
  den = (den + Q3) * ysq;
  const r = (ysq * (num + P4)) / (den + Q4);
  return (ONE_OVER_SQRT_PI - r) / y;
}

/**
 * exp(−y²) for y >= 0. Beyond y = 1 the argument is split (u = y truncated to 1/16, so u² is
 * exact) and the exponential keeps full relative accuracy; below, y² < 1 and its rounding is
 * already below half an ulp of the result, so one exponential suffices.
 */
function expMinusSquare(y: number): number {
  if (y < 1) return Math.exp(-y * y);
  const u = Math.trunc(y * 16) / 16;
  const rest = (y - u) * (y + u);
  return Math.exp(-u * u) * Math.exp(-rest);
}

/** exp(y²) for y >= 0, split like `expMinusSquare`. */
function expSquare(y: number): number {
  if (y < 1) return Math.exp(y * y);
  const u = Math.trunc(y * 16) / 16;
  const rest = (y - u) * (y + u);
  return Math.exp(u * u) * Math.exp(rest);
}

/**
 * erfcx(y) = exp(y²)·erfc(y) for y > 0.46875, the tail form shared by `erfc`, `erfcx` and the
 * normal distribution: a pure rational function, no exponential.
 */
export function erfcxPositiveTail(y: number): number {
  return y <= 4 ? erfcxMiddle(y) : erfcxTail(y);
}

/**
 * The complementary error function erfc(x) = 1 − erf(x), with relative accuracy near machine
 * precision for every x (it underflows to 0 from x ≈ 26.5 and is 2 below x ≈ −6).
 */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= THRESHOLD) return 1 - erfCentralInterval(x);
  const r = y >= X_BIG ? 0 : erfcxPositiveTail(y) * expMinusSquare(y);
  return x < 0 ? 2 - r : r;
}

/**
 * The scaled complementary error function erfcx(x) = exp(x²)·erfc(x). For large positive x it
 * is a smooth ~1/(x·√π) with no underflow, which is what lets the normalised Black function be
 * written with a single exponential.
 */
export function erfcx(x: number): number {
  const y = Math.abs(x);
  if (y <= THRESHOLD) {
    const ysq = y > X_SMALL ? y * y : 0;
    return (1 - erfCentralInterval(x)) * Math.exp(ysq);
  }
  const r = erfcxPositiveTail(y);
  if (x >= 0) return r;
  if (x < X_NEG) return Number.POSITIVE_INFINITY;
  const e = expSquare(y);
  return e + e - r;
}
