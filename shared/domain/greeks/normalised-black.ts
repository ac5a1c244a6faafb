import { erfCentralInterval, erfcx, erfcxPositiveTail } from './erf-cody.js';
import { normCdf, ONE_OVER_SQRT_TWO_PI } from './normal-distribution.js';

/**
 * The normalised Black function of P. Jäckel ("Let's Be Rational", Wilmott, January 2015):
 *
 *     b(x, s) = Φ(x/s + s/2)·e^{x/2} − Φ(x/s − s/2)·e^{−x/2},   x = ln(F/K),  s = σ·√T,
 *
 * the undiscounted call price divided by √(F·K). A Black or Black-Scholes price is
 * `e^{−rT}·√(F·K)·b(±x, s)` (+ for calls, − for puts). Every branch below exists to keep b's
 * relative accuracy near machine precision where the textbook difference of two products would
 * cancel: far out of the money (b of order 1e-300 is still correct to ~14 digits), at tiny s,
 * and close to the maximum e^{x/2}.
 */

const ONE_OVER_SQRT_TWO = 0.7071067811865475244008443621048490392848359376887;
const SIXTEENTH_ROOT_DBL_EPSILON = Number.EPSILON ** (1 / 16);
const SQRT_PI_OVER_TWO = 1.253314137315500251207882642405522626503493370305;
/** η: below h = x/s = η the asymptotic expansion is accurate to machine precision. */
const ASYMPTOTIC_EXPANSION_ACCURACY_THRESHOLD = -10;
/** τ: below t = s/2 = τ the small-t expansion is accurate to machine precision. */
const SMALL_T_EXPANSION_THRESHOLD = 2 * SIXTEENTH_ROOT_DBL_EPSILON;

/**
 * The normalised intrinsic value of a call, e^{x/2} − e^{−x/2} = 2·sinh(x/2), for x > 0 (0
 * otherwise). Written as m + m/(1 + m) with m = e^{x/2} − 1 from `expm1`: two positive terms, so
 * no digits cancel at any x (the difference of exponentials loses three bits near x = 0.2).
 */
export function normalisedIntrinsicCall(x: number): number {
  if (!(x > 0)) return 0;
  const m = Math.expm1(0.5 * x);
  return m + m / (1 + m);
}

/** Upper end of Cody's central erf interval. */
const ERF_CENTRAL_LIMIT = 0.46875;

/** erfcx(y) = (1 − erf(y))·e^{y²} for 0 <= y <= 0.46875 (exactly as `erfcx` forms it there). */
function erfcxCentral(y: number): number {
  return (1 - erfCentralInterval(y)) * Math.exp(y > 1.11e-16 ? y * y : 0);
}

/** Order of the asymptotic expansion: enough for relative accuracy 1.64e-16 when h <= η = −10. */
const ASYMPTOTIC_EXPANSION_ORDER = 17;

/**
 * Coefficients of the asymptotic expansion, row k (k = 1…17) holding the polynomial
 * P_k(e) = (−1)^k · 2 · Σ_{j=0..k} C(2k+1, 2j+1) · e^j, stored from the highest power down so
 * Horner's scheme can walk each row forwards. Integers below 2^53, hence exact.
 */
const ASYMPTOTIC_EXPANSION_COEFFICIENTS: Float64Array = (() => {
  const rows = new Float64Array(ASYMPTOTIC_EXPANSION_ORDER * (ASYMPTOTIC_EXPANSION_ORDER + 1));
  for (let k = 1; k <= ASYMPTOTIC_EXPANSION_ORDER; k++) {
    const n = 2 * k + 1;
    const sign = k % 2 === 0 ? 2 : -2;
    let binomial = n; // C(n, 1)
    for (let j = 0; j <= k; j++) {
      rows[(k - 1) * (ASYMPTOTIC_EXPANSION_ORDER + 1) + (k - j)] = sign * binomial;
      binomial = (binomial * (n - 2 * j - 1) * (n - 2 * j - 2)) / ((2 * j + 2) * (2 * j + 3));
    }
  }
  return rows;
})();

/**
 * Asymptotic expansion (Abramowitz & Stegun 26.2.12) of b for h = x/s < −10 and t well below |h|:
 *
 *     b = e^{−(h²+t²)/2}/√(2π) · (t/r) · A,   r = (h+t)(h−t),
 *     A = 2 + q·S₁,  S_k = P_k(e) + (2k+1)·q·S_{k+1},  S₁₇ = P₁₇(e),  q = (h/r)²,  e = (t/h)²,
 *
 * a single exponential instead of the four of the plain formula, which is where the plain
 * formula loses its last digits.
 */
function asymptoticExpansionOverExponential(h: number, t: number): number {
  const e = (t / h) * (t / h);
  const r = (h + t) * (h - t);
  const q = (h / r) * (h / r);
  const stride = ASYMPTOTIC_EXPANSION_ORDER + 1;
  let sum = 0;
  for (let k = ASYMPTOTIC_EXPANSION_ORDER; k >= 1; k--) {
    const row = (k - 1) * stride;
    let p = 0;
    for (let j = 0; j <= k; j++) p = p * e + (ASYMPTOTIC_EXPANSION_COEFFICIENTS[row + j] ?? 0);
    sum = k === ASYMPTOTIC_EXPANSION_ORDER ? p : p + (2 * k + 1) * q * sum;
  }
  sum = 2 + q * sum;
  return ONE_OVER_SQRT_TWO_PI * (t / r) * sum;
}

/**
 * Registers through which the implied-volatility solver calls the two `evaluate…` functions
 * below. V8 passes doubles to a function it does not inline (and returns them) as freshly
 * allocated heap numbers; the solver evaluates b several times per solve and is too large for all
 * its callees to be inlined, so the numbers travel unboxed in this typed array instead.
 */
export const blackRegisters = new Float64Array(6);
/** Input slots of `blackRegisters`: x <= 0, s > 0, h = x/s and t = s/2. */
export const REGISTER_X = 0;
export const REGISTER_S = 1;
export const REGISTER_H = 2;
export const REGISTER_T = 3;
/** Output slots of `blackRegisters`: b (or the scaled b) and ∂b/∂s. */
export const REGISTER_B = 4;
export const REGISTER_VEGA = 5;

/**
 * Below t = SHORT_SMALL_T_EXPANSION_T and |h·t| = |x|/2 = SHORT_SMALL_T_EXPANSION_HALF_X (where
 * listed options sit: s = σ√T of a tenth or less, strikes within a third of the forward) the
 * terms of the small-t expansion beyond t⁸ contribute less than 1e-17 relative, so the expansion
 * stops there and skips the two costliest coefficients.
 */
const SHORT_SMALL_T_EXPANSION_T = 0.05;
const SHORT_SMALL_T_EXPANSION_HALF_X = 0.15;

/**
 * In and out slots of `evaluateSmallTExpansion`: h, t and the result. The expansion is too large
 * for V8 to inline into its callers, and doubles passed to or returned from a call that is not
 * inlined are boxed (allocated), so they travel through this typed array instead.
 */
const expansionRegisters = new Float64Array(3);

/**
 * Expansion of b for small t = s/2 (< τ ≈ 0.21) to twelfth order in t, accurate to machine
 * precision for h <= 0; a := 1 + h·Φ(h)/φ(h) is formed with erfcx to avoid cancellation.
 * Reads h and t from `expansionRegisters` and writes b·e^{(h²+t²)/2}, the factor of the shared
 * exponential, after them.
 */
function evaluateSmallTExpansion(): void {
  const h = expansionRegisters[0] ?? Number.NaN;
  const t = expansionRegisters[1] ?? Number.NaN;
  // erfcx of the non-negative −h/√2 by its two positive-argument forms.
  const y = -ONE_OVER_SQRT_TWO * h;
  const a = 1 + h * SQRT_PI_OVER_TWO * (y > ERF_CENTRAL_LIMIT ? erfcxPositiveTail(y) : erfcxCentral(y));
  const w = t * t;
  const h2 = h * h;
  const c1 = (-1 + 3 * a + a * h2) * (1 / 6);
  const c2 = (-7 + 15 * a + h2 * (-1 + 10 * a + a * h2)) * (1 / 120);
  const c3 = (-57 + 105 * a + h2 * (-18 + 105 * a + h2 * (-1 + 21 * a + a * h2))) * (1 / 5040);
  const c4 =
    (-561 + 945 * a + h2 * (-285 + 1260 * a + h2 * (-33 + 378 * a + h2 * (-1 + 36 * a + a * h2)))) * (1 / 362880);
  const tail =
    t < SHORT_SMALL_T_EXPANSION_T && -h * t < SHORT_SMALL_T_EXPANSION_HALF_X ? 0 : smallTExpansionTail(a, h2, w);
  expansionRegisters[2] = ONE_OVER_SQRT_TWO_PI * 2 * t * (a + w * (c1 + w * (c2 + w * (c3 + w * (c4 + w * tail)))));
}

/**
 * c₅ + c₆·t² of the small-t expansion, apart so that the common short expansion stays small
 * enough for V8 to inline.
 */
function smallTExpansionTail(a: number, h2: number, w: number): number {
  const c5 =
    (-6555 +
      10395 * a +
      h2 * (-4680 + 17325 * a + h2 * (-840 + 6930 * a + h2 * (-52 + 990 * a + h2 * (-1 + 55 * a + a * h2))))) *
    (1 / 39916800);
  const c6 =
    (-89055 +
      135135 * a +
      h2 *
        (-82845 +
          270270 * a +
          h2 *
            (-20370 + 135135 * a + h2 * (-1926 + 25740 * a + h2 * (-75 + 2145 * a + h2 * (-1 + 78 * a + a * h2)))))) *
    (1 / 6227020800);
  return c5 + w * c6;
}

/** b by the plain formula, used where the first term dominates (h + t > 0.85). */
function normalisedBlackCallUsingNormCdf(x: number, h: number, t: number): number {
  const bMax = Math.exp(0.5 * x);
  return normCdf(h + t) * bMax - normCdf(h - t) / bMax;
}

/**
 * b = ½·e^{−(h²+t²)/2}·[erfcx(−(h+t)/√2) − erfcx(−(h−t)/√2)]: one exponential and a difference
 * of two rational functions, which keeps nearly all digits in the remaining region. Returns the
 * factor of the exponential.
 */
function erfcxDifferenceOverExponential(h: number, t: number): number {
  return 0.5 * (erfcx(-ONE_OVER_SQRT_TWO * (h + t)) - erfcx(-ONE_OVER_SQRT_TWO * (h - t)));
}

/**
 * b(x, s) for x <= 0 and s > 0, given h = x/s, t = s/2 and the exponential e^{−(h²+t²)/2} that
 * all but region 3 share with the normalised vega.
 */
function outOfTheMoneyNormalisedBlackCall(x: number, s: number, h: number, t: number, exponential: number): number {
  // Region 3: h + t > 0.85, where b is mostly its first term (tested without dividing by s).
  if (x + 0.5 * s * s > s * 0.85) {
    const b = normalisedBlackCallUsingNormCdf(x, h, t);
    return b > 0 ? b : 0;
  }
  if (!(exponential > 0)) return 0;
  let factor: number;
  if (
    x < s * ASYMPTOTIC_EXPANSION_ACCURACY_THRESHOLD &&
    0.5 * s * s + x < s * (SMALL_T_EXPANSION_THRESHOLD + ASYMPTOTIC_EXPANSION_ACCURACY_THRESHOLD)
  ) {
    // Region 1: h < η and t < τ + |h| − |η|, tested without dividing by s.
    factor = asymptoticExpansionOverExponential(h, t);
  } else if (0.5 * s < SMALL_T_EXPANSION_THRESHOLD) {
    // Region 2: small t.
    expansionRegisters[0] = h;
    expansionRegisters[1] = t;
    evaluateSmallTExpansion();
    factor = expansionRegisters[2] ?? Number.NaN;
  } else {
    // Region 4.
    factor = erfcxDifferenceOverExponential(h, t);
  }
  const b = exponential * factor;
  return b > 0 ? b : 0;
}

/**
 * `scaledOutOfTheMoneyNormalisedBlackCall` from and into `blackRegisters` (x, s, h, t in; the
 * scaled b out).
 */
export function evaluateScaledOutOfTheMoneyNormalisedBlackCall(): void {
  const r = blackRegisters;
  r[REGISTER_B] = scaledOutOfTheMoneyNormalisedBlackCall(
    r[REGISTER_X] ?? Number.NaN,
    r[REGISTER_S] ?? Number.NaN,
    r[REGISTER_H] ?? Number.NaN,
    r[REGISTER_T] ?? Number.NaN,
  );
}

/**
 * `outOfTheMoneyNormalisedBlackCallAndVega` from and into `blackRegisters` (x, s in; b and ∂b/∂s
 * out).
 */
export function evaluateOutOfTheMoneyNormalisedBlackCallAndVega(): void {
  const r = blackRegisters;
  const x = r[REGISTER_X] ?? Number.NaN;
  const s = r[REGISTER_S] ?? Number.NaN;
  const h = x / s;
  const t = 0.5 * s;
  const exponential = Math.exp(-0.5 * (h * h + t * t));
  r[REGISTER_B] = outOfTheMoneyNormalisedBlackCall(x, s, h, t, exponential);
  r[REGISTER_VEGA] = ONE_OVER_SQRT_TWO_PI * exponential;
}

/**
 * The scaled normalised Black call b(x, s)·e^{(h²+t²)/2} = b/(√(2π)·∂b/∂s) for x <= 0 and s > 0,
 * given h = x/s and t = s/2; NaN in region 3 (h + t > 0.85), where b is not formed that way.
 *
 * The solver's lowest branch iterates on ln b and (∂b/∂s)/b, which are ln(factor) − (h²+t²)/2
 * and 1/(√(2π)·factor): no exponential at all, and no underflow of b far out of the money.
 */
export function scaledOutOfTheMoneyNormalisedBlackCall(x: number, s: number, h: number, t: number): number {
  if (x + 0.5 * s * s > s * 0.85) return Number.NaN;
  if (
    x < s * ASYMPTOTIC_EXPANSION_ACCURACY_THRESHOLD &&
    0.5 * s * s + x < s * (SMALL_T_EXPANSION_THRESHOLD + ASYMPTOTIC_EXPANSION_ACCURACY_THRESHOLD)
  ) {
    return asymptoticExpansionOverExponential(h, t);
  }
  if (0.5 * s < SMALL_T_EXPANSION_THRESHOLD) {
    expansionRegisters[0] = h;
    expansionRegisters[1] = t;
    evaluateSmallTExpansion();
    return expansionRegisters[2] ?? Number.NaN;
  }
  return erfcxDifferenceOverExponential(h, t);
}

/**
 * The normalised Black call b(x, s) for any x and s >= 0 (a put is b(−x, s)). In the money
 * (x > 0) it is the normalised intrinsic value plus the out-of-the-money b(−x, s), so time value
 * never cancels against intrinsic value. At s = 0 it is the intrinsic value.
 */
export function normalisedBlackCall(x: number, s: number): number {
  const intrinsic = normalisedIntrinsicCall(x);
  if (!(s > 0)) return s === 0 ? intrinsic : Number.NaN;
  const otm = -Math.abs(x);
  const h = otm / s;
  const t = 0.5 * s;
  return intrinsic + outOfTheMoneyNormalisedBlackCall(otm, s, h, t, Math.exp(-0.5 * (h * h + t * t)));
}

/**
 * b(x, s) into `out[0]` and the normalised vega ∂b/∂s into `out[1]`, sharing the exponential
 * both are made of: the solver and the Greeks always need the pair.
 */
export function normalisedBlackCallAndVega(x: number, s: number, out: Float64Array): void {
  if (!(s > 0)) {
    out[0] = s === 0 ? normalisedIntrinsicCall(x) : Number.NaN;
    out[1] = s === 0 ? (x === 0 ? ONE_OVER_SQRT_TWO_PI : 0) : Number.NaN;
    return;
  }
  outOfTheMoneyNormalisedBlackCallAndVega(-Math.abs(x), s, out);
  if (x > 0) out[0] = (out[0] ?? Number.NaN) + normalisedIntrinsicCall(x);
}

/**
 * `normalisedBlackCallAndVega` for x <= 0 and s > 0 only, the case the implied-volatility solver
 * evaluates over and over (it maps every option to an out-of-the-money call first).
 */
export function outOfTheMoneyNormalisedBlackCallAndVega(x: number, s: number, out: Float64Array): void {
  const h = x / s;
  const t = 0.5 * s;
  const exponential = Math.exp(-0.5 * (h * h + t * t));
  out[0] = outOfTheMoneyNormalisedBlackCall(x, s, h, t, exponential);
  out[1] = ONE_OVER_SQRT_TWO_PI * exponential;
}

/**
 * ∂b/∂s = φ(h + t)·e^{x/2} = e^{−(h²+t²)/2}/√(2π): the normalised vega. It underflows to 0
 * where s is far below |x|, which callers test for instead of dividing by it.
 */
export function normalisedVega(x: number, s: number): number {
  if (!(s > 0)) return s === 0 ? (x === 0 ? ONE_OVER_SQRT_TWO_PI : 0) : Number.NaN;
  const h = x / s;
  const t = 0.5 * s;
  return ONE_OVER_SQRT_TWO_PI * Math.exp(-0.5 * (h * h + t * t));
}
