import { erfCentralInterval, erfcxPositiveTail } from './erf-cody.js';
import {
  inverseNormCdf,
  normCdf,
  normCdfGivenExponential,
  ONE_OVER_SQRT_TWO_PI,
  SQRT_TWO_PI,
} from './normal-distribution.js';
import {
  blackRegisters,
  evaluateOutOfTheMoneyNormalisedBlackCallAndVega,
  evaluateScaledOutOfTheMoneyNormalisedBlackCall,
  outOfTheMoneyNormalisedBlackCallAndVega,
  REGISTER_B,
  REGISTER_H,
  REGISTER_S,
  REGISTER_T,
  REGISTER_VEGA,
  REGISTER_X,
} from './normalised-black.js';
import {
  convexControlParameterToFitSecondDerivativeAtLeftSide,
  convexControlParameterToFitSecondDerivativeAtRightSide,
  MAXIMUM_CONTROL_PARAMETER,
  rationalCubicInterpolation,
} from './rational-cubic.js';

/**
 * Implied normalised volatility by P. Jäckel's "Let's Be Rational" (Wilmott, January 2015; the
 * revised paper of March 2016 and its reference implementation): for an out-of-the-money
 * normalised call price β ∈ (0, e^{x/2}) with x <= 0, find s = σ·√T such that b(x, s) = β.
 *
 * The domain of β is cut into four branches at b(x, s_l), b(x, s_c) and b(x, s_h). On each, a
 * rational cubic (Delbourgo–Gregory) interpolates the inverse function — through a transformation
 * f(β) in the outer branches that makes it nearly linear — giving an initial guess accurate to a
 * few digits. Two Householder iterations of third order on a branch-specific objective function
 * then reach machine precision. The number of iterations is bounded: there is no open-ended
 * loop, so no solve costs more than two evaluations and none can hang on a pathological quote.
 *
 * Where listed options sit (|x| up to 1 in the two lower branches), the inputs of the guess that
 * depend on x alone are interpolated from a table, and the guess itself is corrected by a
 * tabulated factor to within a few 1e-6, after which one step is enough: it stops there when
 * its correction is below 2⁻¹⁶, which with fourth-order convergence leaves an error far below
 * the rounding of the evaluation.
 */

const DBL_EPSILON = Number.EPSILON;
const DBL_MIN = 2.2250738585072014e-308;
const DBL_MAX = Number.MAX_VALUE;
const SQRT_DBL_MAX = Math.sqrt(DBL_MAX);
/** Householder(3) steps after the rational initial guess: two reach machine precision everywhere. */
const ITERATIONS = 2;

const TWO_PI = 6.28318530717958647692528676655900576839433879875;
const SQRT_PI_OVER_TWO = 1.253314137315500251207882642405522626503493370305;
const SQRT_THREE = 1.73205080756887729352744634150587236694280525381;
const SQRT_ONE_OVER_THREE = 0.57735026918962576450914878050195745564760175127;
const TWO_PI_OVER_SQRT_TWENTY_SEVEN = 1.209199576156145233729385505094770488189377498728;
const PI_OVER_SIX = 0.523598775598298873077107230546583814032861566563;
/** Upper end of Cody's central erf interval, where erfcx(y) = (1 − erf(y))·e^{y²}. */
const ERF_CENTRAL_LIMIT = 0.46875;

/** (1 + halley·newton/2) / (1 + newton·(halley + hh3·newton/6)): the Householder(3) correction. */
function householderFactor(newton: number, halley: number, hh3: number): number {
  return (1 + 0.5 * halley * newton) / (1 + newton * (halley + (hh3 * newton) / 6));
}

/**
 * Scratch for the solver's intermediate pairs (a typed array: module-level `let` doubles would be
 * boxed on every write): [b, ∂b/∂s] from `outOfTheMoneyNormalisedBlackCallAndVega`, then f, f′, f″
 * of a map.
 */
const scratch = new Float64Array(5);
const B = 0;
const VEGA = 1;
const F = 2;
const FP = 3;
const FPP = 4;

/** b(x, s) and ∂b/∂s into scratch[B], scratch[VEGA]; returns b. */
function blackAndVega(x: number, s: number): number {
  outOfTheMoneyNormalisedBlackCallAndVega(x, s, scratch);
  return scratch[B] ?? Number.NaN;
}

function vega(): number {
  return scratch[VEGA] ?? Number.NaN;
}

/**
 * The lower map f(β) = 2π/√27·|x|·Φ(−|x|/(√3·s))³ and its first two derivatives with respect to
 * β at s, into scratch[F], scratch[FP], scratch[FPP]. `vega` is ∂b/∂s at s, whose exponential
 * e^{−(h²+t²)/2} turns e^{−y/2} into e^{y + s²/8} with a division instead of a second exponential.
 */
function computeLowerMapAndFirstTwoDerivatives(x: number, s: number, vega: number): void {
  const ax = Math.abs(x);
  const z = (SQRT_ONE_OVER_THREE * ax) / s;
  const y = z * z;
  const s2 = s * s;
  const density = Math.exp(-0.5 * y);
  const phiCdf = normCdfGivenExponential(-z, density);
  const phiPdf = ONE_OVER_SQRT_TWO_PI * density;
  const exponential = vega * SQRT_TWO_PI;
  const growth = exponential > 1e-290 ? density / exponential : Math.exp(y + 0.125 * s2);
  scratch[FPP] =
    ((PI_OVER_SIX * y) / (s2 * s)) *
    phiCdf *
    (8 * SQRT_THREE * s * ax + ((3 * s2 * (s2 - 8) - 8 * x * x) * phiCdf) / phiPdf) *
    (growth * growth);
  const phi2 = phiCdf * phiCdf;
  scratch[FP] = TWO_PI * y * phi2 * growth;
  scratch[F] = TWO_PI_OVER_SQRT_TWENTY_SEVEN * ax * (phi2 * phiCdf);
}

/**
 * The lower anchors of the initial guess, all functions of x alone: b_l = b(x, s_l) and
 * ∂b/∂s there, the lower map f and f′ at b_l, the rational-cubic control parameters of the
 * lowest and the lower middle branch, b_c and s_l. `anchors` holds them in this order, followed
 * by the registers of the table lookups.
 */
const anchors = new Float64Array(14);
const B_L = 0;
const V_L = 1;
const F_L = 2;
const FP_L = 3;
const R_LL = 4;
const R_LM = 5;
/** b_c = b(x, s_c) at the inflexion point s_c = √(2|x|), and s_l = s_c − b_c/(∂b/∂s)(s_c). */
const B_C = 6;
const S_L = 7;
/** Input slot of `interpolateLowerAnchors`: √|x| (a register, so the double is not boxed). */
const ROOT_ABS_X = 8;
/** Input slots of `interpolateGuessCorrection`: the position in its table, in node units. */
const CORRECTION_ROW = 9;
const CORRECTION_COLUMN = 10;
/** Output slot of `interpolateGuessCorrection`. */
const CORRECTION = 11;
/** The uncorrected initial guess and its branch (0 lowest, 1 lower middle, 2 other) of the last solve. */
const RAW_GUESS = 12;
const RAW_GUESS_BRANCH = 13;

/** The lower anchors into `anchors` by their definitions (two normal-distribution evaluations). */
function computeLowerAnchors(x: number, sL: number, sC: number, bC: number, vC: number): void {
  const bL = blackAndVega(x, sL);
  const vL = vega();
  computeLowerMapAndFirstTwoDerivatives(x, sL, vL);
  const fL = scratch[F] ?? Number.NaN;
  const fpL = scratch[FP] ?? Number.NaN;
  const fppL = scratch[FPP] ?? Number.NaN;
  anchors[B_L] = bL;
  anchors[V_L] = vL;
  anchors[F_L] = fL;
  anchors[FP_L] = fpL;
  anchors[R_LL] = convexControlParameterToFitSecondDerivativeAtRightSide(0, bL, 0, fL, 1, fpL, fppL, true);
  anchors[R_LM] = convexControlParameterToFitSecondDerivativeAtRightSide(bL, bC, sL, sC, 1 / vL, 1 / vC, 0, false);
  anchors[B_C] = bC;
  anchors[S_L] = sL;
}

/**
 * b(x, s_c) = ½·e^{x/2}·(1 − erfcx(√|x|)) at the inflexion point s_c = √(2|x|), where h = −t.
 * In Cody's central interval erfcx(y) = (1 − erf(y))·e^{y²} with e^{y²} = e^{|x|} = 1/b_max², so no
 * exponential is taken. Neither that rounding nor the cancellation in 1 − erfcx(√|x|) as x → 0
 * reaches beyond the initial guess; the converged result does not depend on them.
 */
function inflexionPrice(rootAbsX: number, bMax: number): number {
  const erfcxRootAbsX =
    rootAbsX <= ERF_CENTRAL_LIMIT ? (1 - erfCentralInterval(rootAbsX)) / (bMax * bMax) : erfcxPositiveTail(rootAbsX);
  return 0.5 * bMax * (1 - erfcxRootAbsX);
}

/**
 * The lower anchors depend on x alone, and options of a chain sit at |x| of a few tenths at most,
 * so they are tabulated once over u = √|x| ∈ [ANCHOR_U_MIN, ANCHOR_U_MAX] (in u they are smooth
 * down to x = 0, in x they are not) and read back by four-point Lagrange interpolation: some
 * thirty multiplications instead of a normalised Black evaluation, a lower map and two control
 * parameters. The interpolation error (below 1e-9 relative) only moves the initial guess; the
 * Householder steps that follow do not see it. Outside the range the anchors are computed.
 */
const ANCHOR_U_MIN = 1 / 128;
const ANCHOR_U_MAX = 1;
const ANCHOR_INTERVALS = 512;
const ANCHOR_STEP = (ANCHOR_U_MAX - ANCHOR_U_MIN) / ANCHOR_INTERVALS;
const ANCHOR_FIELDS = 8;
/**
 * Relative widening of the brackets at s_l and s_c when the anchors are interpolated, so that an
 * interpolation error can never exclude the solution from a bracket.
 */
const ANCHOR_BRACKET_SLACK = 2 ** -20;
/**
 * Node k (k = 0 … ANCHOR_INTERVALS + 2) at u = ANCHOR_U_MIN + (k − 1)·ANCHOR_STEP, one node beyond
 * each end so every interval has its four-point stencil. b_l, f_l and s_l are stored divided by
 * |x| and b_c by √|x| (the orders in which they vanish as x → 0), which keeps the interpolation
 * relatively accurate.
 */
const anchorTable = new Float64Array((ANCHOR_INTERVALS + 3) * ANCHOR_FIELDS);

/** The lower anchors at u = anchors[ROOT_ABS_X] (within the table's range) into `anchors`, interpolated. */
function interpolateLowerAnchors(): void {
  const rootAbsX = anchors[ROOT_ABS_X] ?? Number.NaN;
  const position = (rootAbsX - ANCHOR_U_MIN) * (1 / ANCHOR_STEP);
  const interval = Math.min(Math.trunc(position), ANCHOR_INTERVALS - 1);
  const p = position - interval;
  const pPlusOne = p + 1;
  const pMinusOne = p - 1;
  const pMinusTwo = p - 2;
  const wm = (-1 / 6) * p * pMinusOne * pMinusTwo;
  const w0 = 0.5 * pPlusOne * pMinusOne * pMinusTwo;
  const w1 = -0.5 * pPlusOne * p * pMinusTwo;
  const w2 = (1 / 6) * pPlusOne * p * pMinusOne;
  const absX = rootAbsX * rootAbsX;
  const t = anchorTable;
  const k = interval * ANCHOR_FIELDS;
  anchors[B_L] = absX * interpolateField(t, k + B_L, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[V_L] = interpolateField(t, k + V_L, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[F_L] = absX * interpolateField(t, k + F_L, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[FP_L] = interpolateField(t, k + FP_L, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[R_LL] = interpolateField(t, k + R_LL, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[R_LM] = interpolateField(t, k + R_LM, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[B_C] = rootAbsX * interpolateField(t, k + B_C, wm, w0, w1, w2, ANCHOR_FIELDS);
  anchors[S_L] = absX * interpolateField(t, k + S_L, wm, w0, w1, w2, ANCHOR_FIELDS);
}

/** Σ wᵢ·table[k + i·stride] over a four-point stencil. */
function interpolateField(
  table: Float64Array,
  k: number,
  wm: number,
  w0: number,
  w1: number,
  w2: number,
  stride: number,
): number {
  return (
    wm * (table[k] ?? 0) +
    w0 * (table[k + stride] ?? 0) +
    w1 * (table[k + 2 * stride] ?? 0) +
    w2 * (table[k + 3 * stride] ?? 0)
  );
}

/**
 * Where the guess correction applies, one Householder(3) step suffices once its correction is
 * below this (relative): the step converges with fourth order, so the error left after it is of
 * the order of (2⁻¹⁶)⁴ ≈ 5e-20, far below the rounding of the last evaluation.
 */
const ONE_STEP_TOLERANCE = 2 ** -16;

/**
 * Correction factors s/s₀ of the rational initial guess s₀ of the two lower branches, tabulated
 * over u = √|x| (the anchor table's range) and the position within the branch: s₀/s_l ∈
 * [LOWEST_GUESS_MIN, 1] in the lowest branch, √((β − b_l)/(b_c − b_l)) ∈ [0, 1] in the lower
 * middle one (the square root resolves the correction's rise near b_l, where it starts
 * quadratically and peaks within a tenth of the branch). The rational guess is a few percent off
 * in the lowest branch and up to a few 1e-3 in the middle one, which is why Jäckel needs two
 * steps; both errors are smooth functions of these two coordinates, and the corrected guess is
 * within a few 1e-6, close enough for one step. Whether one step was enough is decided on its
 * size (`ONE_STEP_TOLERANCE`), not assumed.
 */
const CORRECTION_U_INTERVALS = 64;
const CORRECTION_U_STEP = (ANCHOR_U_MAX - ANCHOR_U_MIN) / CORRECTION_U_INTERVALS;
const LOWEST_GUESS_MIN = 0.125;
const LOWEST_INTERVALS = 56;
const LOWEST_STEP = (1 - LOWEST_GUESS_MIN) / LOWEST_INTERVALS;
const MIDDLE_INTERVALS = 32;
const lowestCorrection = new Float64Array((CORRECTION_U_INTERVALS + 1) * (LOWEST_INTERVALS + 1));
const middleCorrection = new Float64Array((CORRECTION_U_INTERVALS + 1) * (MIDDLE_INTERVALS + 1));
/** Set once the first solve has started building the tables. */
let tablesBuilt = false;
/** Off while the correction tables are being built from uncorrected solves. */
let guessCorrectionReady = false;
/**
 * The step size below which the iterations stop before they start: DBL_EPSILON (none skipped),
 * except while the lowest branch's correction table is built, which only needs the raw guess.
 */
let initialTolerance = DBL_EPSILON;

/** First node of the four-point stencil around `position` (in node units) on nodes 0 … last. */
function stencilStart(position: number, last: number): number {
  return Math.max(0, Math.min(Math.trunc(position) - 1, last - 3));
}

/**
 * Bicubic Lagrange interpolation of `table` (rows of `columns` values) at the position in
 * anchors[CORRECTION_ROW], anchors[CORRECTION_COLUMN] (node units), into anchors[CORRECTION].
 * Stencils are shifted inwards at the edges.
 */
function interpolateGuessCorrection(table: Float64Array, rows: number, columns: number): void {
  const row = anchors[CORRECTION_ROW] ?? Number.NaN;
  const column = anchors[CORRECTION_COLUMN] ?? Number.NaN;
  const i0 = stencilStart(row, rows - 1);
  const j0 = stencilStart(column, columns - 1);
  const p = row - i0;
  const q = column - j0;
  const pw0 = (-1 / 6) * (p - 1) * (p - 2) * (p - 3);
  const pw1 = 0.5 * p * (p - 2) * (p - 3);
  const pw2 = -0.5 * p * (p - 1) * (p - 3);
  const pw3 = (1 / 6) * p * (p - 1) * (p - 2);
  const qw0 = (-1 / 6) * (q - 1) * (q - 2) * (q - 3);
  const qw1 = 0.5 * q * (q - 2) * (q - 3);
  const qw2 = -0.5 * q * (q - 1) * (q - 3);
  const qw3 = (1 / 6) * q * (q - 1) * (q - 2);
  let k = i0 * columns + j0;
  let sum = pw0 * interpolateField(table, k, qw0, qw1, qw2, qw3, 1);
  k += columns;
  sum += pw1 * interpolateField(table, k, qw0, qw1, qw2, qw3, 1);
  k += columns;
  sum += pw2 * interpolateField(table, k, qw0, qw1, qw2, qw3, 1);
  k += columns;
  sum += pw3 * interpolateField(table, k, qw0, qw1, qw2, qw3, 1);
  anchors[CORRECTION] = sum;
}

/**
 * The upper map f(β) = Φ(−s/2) and its first two derivatives with respect to β at s, into
 * scratch[F], scratch[FP], scratch[FPP].
 */
function computeUpperMapAndFirstTwoDerivatives(x: number, s: number): void {
  scratch[F] = normCdf(-0.5 * s);
  const w = (x / s) * (x / s);
  scratch[FP] = -0.5 * Math.exp(0.5 * w);
  scratch[FPP] = (SQRT_PI_OVER_TWO * Math.exp(w + 0.125 * s * s) * w) / s;
}

function inverseUpperMap(f: number): number {
  return -2 * inverseNormCdf(f);
}

/**
 * The normalised implied volatility s = σ·√T of an out-of-the-money normalised call:
 * b(x, s) = beta with x <= 0 and 0 < beta < e^{x/2}. In-the-money calls and puts are mapped here
 * by the caller (subtract the normalised intrinsic value; a put at x is a call at −x).
 *
 * `bMax` must be e^{x/2}, the supremum of b(x, ·); callers have it at hand, so it is passed in.
 * Returns 0 for beta <= 0 and +∞ for beta >= bMax; never throws and never iterates more than
 * twice. NaN inputs give NaN.
 */
export function normalisedImpliedVolatilityOfOtmCall(beta: number, x: number, bMax: number): number {
  if (!tablesBuilt) buildTables();
  if (!(beta > 0)) return beta === 0 ? 0 : Number.NaN;
  if (beta >= bMax) return Number.POSITIVE_INFINITY;
  let iterations = 0;
  let directionReversalCount = 0;
  let f = -DBL_MAX;
  let s = -DBL_MAX;
  let ds = s;
  let dsPrevious = 0;
  let sLeft = DBL_MIN;
  let sRight = DBL_MAX;
  let tolerance = initialTolerance;
  let corrected = false;
  anchors[RAW_GUESS_BRANCH] = 2;
  // At the inflexion point s_c = √(2|x|), h = −t, so b(x, s_c) needs one erfcx instead of a
  // full evaluation and ∂b/∂s = e^{x/2}/√(2π). Within the table's range b_c and s_l come
  // interpolated with the other anchors, and the brackets at s_l and s_c are widened by
  // ANCHOR_BRACKET_SLACK so that no interpolation error can exclude the solution.
  const rootAbsX = Math.sqrt(Math.abs(x));
  const sC = Math.SQRT2 * rootAbsX;
  const vC = ONE_OVER_SQRT_TWO_PI * bMax;
  const tabulated = rootAbsX >= ANCHOR_U_MIN && rootAbsX <= ANCHOR_U_MAX;
  let bC: number;
  if (tabulated) {
    anchors[ROOT_ABS_X] = rootAbsX;
    interpolateLowerAnchors();
    bC = anchors[B_C] ?? Number.NaN;
  } else {
    bC = inflexionPrice(rootAbsX, bMax);
  }
  const bracketSlack = tabulated ? ANCHOR_BRACKET_SLACK : 0;
  if (beta < bC) {
    let sL: number;
    if (tabulated) {
      sL = anchors[S_L] ?? Number.NaN;
    } else {
      sL = sC - bC / vC;
      computeLowerAnchors(x, sL, sC, bC, vC);
    }
    const bL = anchors[B_L] ?? Number.NaN;
    const vL = anchors[V_L] ?? Number.NaN;
    if (beta < bL) {
      // Lowest branch: interpolate the lower map.
      const fL = anchors[F_L] ?? Number.NaN;
      const fpL = anchors[FP_L] ?? Number.NaN;
      // The rational cubic through (0, 0) and (b_l, f_l) with slopes 1 and f′_l, written out.
      const rLl = anchors[R_LL] ?? Number.NaN;
      const u = beta / bL;
      const v = 1 - u;
      f =
        rLl < MAXIMUM_CONTROL_PARAMETER
          ? (u * (fL * u * u + (rLl * fL - bL * fpL) * u * v + bL * v * v)) / (1 + (rLl - 3) * u * v)
          : fL * u;
      if (!(f > 0)) {
        // Round-off for extreme |x|: fall back to the quadratic with f(0) = 0, f(b_l) and f'(0) = 1.
        const t = beta / bL;
        f = (fL * t + bL * (1 - t)) * t;
      }
      s = Math.abs(x / (SQRT_THREE * inverseNormCdf(Math.cbrt(f / (TWO_PI_OVER_SQRT_TWENTY_SEVEN * Math.abs(x))))));
      anchors[RAW_GUESS] = s;
      anchors[RAW_GUESS_BRANCH] = 0;
      const position = (s / sL - LOWEST_GUESS_MIN) * (1 / LOWEST_STEP);
      if (guessCorrectionReady && tabulated && position >= 0 && position <= LOWEST_INTERVALS) {
        anchors[CORRECTION_ROW] = (rootAbsX - ANCHOR_U_MIN) * (1 / CORRECTION_U_STEP);
        anchors[CORRECTION_COLUMN] = position;
        interpolateGuessCorrection(lowestCorrection, CORRECTION_U_INTERVALS + 1, LOWEST_INTERVALS + 1);
        s *= anchors[CORRECTION] ?? Number.NaN;
        tolerance = ONE_STEP_TOLERANCE;
        corrected = true;
      }
      sRight = sL * (1 + bracketSlack);
    }
    if (beta < bL && !corrected) {
      // Uncorrected guess (a few percent off): the lowest branch's own objective,
      // g(s) = 1/ln(b(s)) − 1/ln(β), converges from there in two steps. A corrected guess is
      // close enough for b(s) − β below, which needs an exponential instead of two logarithms.
      const lnBeta = Math.log(beta);
      const oneOverLnBeta = 1 / lnBeta;
      for (; iterations < ITERATIONS && Math.abs(ds) > tolerance * s; iterations++) {
        if (ds * dsPrevious < 0) directionReversalCount++;
        if (iterations > 0 && (directionReversalCount === 3 || !(s > sLeft && s < sRight))) {
          // The step left the bracket: bisect instead (only for extreme |x|).
          s = 0.5 * (sLeft + sRight);
          if (sRight - sLeft <= DBL_EPSILON * s) break;
          directionReversalCount = 0;
          ds = 0;
        }
        dsPrevious = ds;
        // ln b and (∂b/∂s)/b from the scaled b = b·e^{(h²+t²)/2}: the exponential cancels out.
        const h = x / s;
        const t = 0.5 * s;
        let lnB: number;
        let bOverBp: number;
        const registers = blackRegisters;
        registers[REGISTER_X] = x;
        registers[REGISTER_S] = s;
        registers[REGISTER_H] = h;
        registers[REGISTER_T] = t;
        evaluateScaledOutOfTheMoneyNormalisedBlackCall();
        const scaled = registers[REGISTER_B] ?? Number.NaN;
        if (scaled >= 0) {
          lnB = Math.log(scaled) - 0.5 * (h * h + t * t);
          bOverBp = SQRT_TWO_PI * scaled;
        } else {
          const b = blackAndVega(x, s);
          lnB = Math.log(b);
          bOverBp = b / vega();
        }
        const bpob = 1 / bOverBp;
        if (lnB > lnBeta && s < sRight) sRight = s;
        else if (lnB < lnBeta && s > sLeft) sLeft = s;
        if (!(lnB < 0 && bpob > 0 && bpob < Number.POSITIVE_INFINITY)) {
          ds = 0.5 * (sLeft + sRight) - s;
        } else {
          const oneOverS = 1 / s;
          const oneOverLnB = 1 / lnB;
          const hOverS = h * oneOverS;
          const bHalley = h * hOverS - 0.25 * s;
          const newton = (lnBeta - lnB) * lnB * oneOverLnBeta * bOverBp;
          const twoOverLnB = 2 * oneOverLnB;
          const halley = bHalley - bpob * (1 + twoOverLnB);
          const bHh3 = bHalley * bHalley - 3 * hOverS * hOverS - 0.25;
          const hh3 =
            bHh3 + 2 * bpob * bpob * (1 + 3 * oneOverLnB * (1 + oneOverLnB)) - 3 * bHalley * bpob * (1 + twoOverLnB);
          // The Householder(3) correction, written out (see `householderFactor`).
          ds = (newton * (1 + 0.5 * halley * newton)) / (1 + newton * (halley + (hh3 * newton) / 6));
        }
        ds = Math.max(-0.5 * s, ds);
        s += ds;
      }
      return s;
    }
    if (!(beta < bL)) {
      // The rational cubic through (b_l, s_l) and (b_c, s_c) with slopes 1/v_l and 1/v_c, written out.
      const rLm = anchors[R_LM] ?? Number.NaN;
      const width = bC - bL;
      const u = (beta - bL) / width;
      const v = 1 - u;
      s =
        rLm < MAXIMUM_CONTROL_PARAMETER
          ? (sC * u * u * u +
              (rLm * sC - width / vC) * u * u * v +
              (rLm * sL + width / vL) * u * v * v +
              sL * v * v * v) /
            (1 + (rLm - 3) * u * v)
          : sC * u + sL * v;
      anchors[RAW_GUESS] = s;
      anchors[RAW_GUESS_BRANCH] = 1;
      if (guessCorrectionReady && tabulated && u >= 0 && u <= 1) {
        anchors[CORRECTION_ROW] = (rootAbsX - ANCHOR_U_MIN) * (1 / CORRECTION_U_STEP);
        anchors[CORRECTION_COLUMN] = Math.sqrt(u) * MIDDLE_INTERVALS;
        interpolateGuessCorrection(middleCorrection, CORRECTION_U_INTERVALS + 1, MIDDLE_INTERVALS + 1);
        s *= anchors[CORRECTION] ?? Number.NaN;
        tolerance = ONE_STEP_TOLERANCE;
      }
      sLeft = sL * (1 - bracketSlack);
      sRight = sC * (1 + bracketSlack);
    }
  } else {
    const sH = vC > DBL_MIN ? sC + (bMax - bC) / vC : sC;
    const bH = blackAndVega(x, sH);
    if (beta <= bH) {
      const vH = vega();
      const rHm = convexControlParameterToFitSecondDerivativeAtLeftSide(bC, bH, sC, sH, 1 / vC, 1 / vH, 0, false);
      s = rationalCubicInterpolation(beta, bC, bH, sC, sH, 1 / vC, 1 / vH, rHm);
      sLeft = sC * (1 - bracketSlack);
      sRight = sH;
    } else {
      // Highest branch: interpolate the upper map, then iterate on g(s) = ln((b_max − β)/(b_max − b(s))).
      computeUpperMapAndFirstTwoDerivatives(x, sH);
      const fH = scratch[F] ?? Number.NaN;
      const fpH = scratch[FP] ?? Number.NaN;
      const fppH = scratch[FPP] ?? Number.NaN;
      if (fppH > -SQRT_DBL_MAX && fppH < SQRT_DBL_MAX) {
        const rHh = convexControlParameterToFitSecondDerivativeAtLeftSide(bH, bMax, fH, 0, fpH, -0.5, fppH, true);
        f = rationalCubicInterpolation(beta, bH, bMax, fH, 0, fpH, -0.5, rHh);
      }
      if (f <= 0) {
        // Quadratic with f(b_h), f(b_max) = 0 and f'(b_max) = −1/2.
        const h = bMax - bH;
        const t = (beta - bH) / h;
        f = (fH * (1 - t) + 0.5 * h * t) * (1 - t);
      }
      s = inverseUpperMap(f);
      sLeft = sH;
      if (beta > 0.5 * bMax) {
        for (; iterations < ITERATIONS && Math.abs(ds) > DBL_EPSILON * s; iterations++) {
          if (ds * dsPrevious < 0) directionReversalCount++;
          if (iterations > 0 && (directionReversalCount === 3 || !(s > sLeft && s < sRight))) {
            s = 0.5 * (sLeft + sRight);
            if (sRight - sLeft <= DBL_EPSILON * s) break;
            directionReversalCount = 0;
            ds = 0;
          }
          dsPrevious = ds;
          const b = blackAndVega(x, s);
          const bp = vega();
          if (b > beta && s < sRight) sRight = s;
          else if (b < beta && s > sLeft) sLeft = s;
          if (b >= bMax || bp <= DBL_MIN) {
            ds = 0.5 * (sLeft + sRight) - s;
          } else {
            const bMaxMinusB = bMax - b;
            const g = Math.log((bMax - beta) / bMaxMinusB);
            const gp = bp / bMaxMinusB;
            const bHalley = ((x / s) * (x / s)) / s - s / 4;
            const bHh3 = bHalley * bHalley - 3 * (x / (s * s)) * (x / (s * s)) - 0.25;
            const newton = -g / gp;
            const halley = bHalley + gp;
            const hh3 = bHh3 + gp * (2 * gp + 3 * bHalley);
            ds = newton * householderFactor(newton, halley, hh3);
          }
          ds = Math.max(-0.5 * s, ds);
          s += ds;
        }
        return s;
      }
    }
  }
  // The two middle branches (and the upper one below b_max/2): iterate on g(s) = b(s) − β.
  for (; iterations < ITERATIONS && Math.abs(ds) > tolerance * s; iterations++) {
    if (ds * dsPrevious < 0) directionReversalCount++;
    if (iterations > 0 && (directionReversalCount === 3 || !(s > sLeft && s < sRight))) {
      s = 0.5 * (sLeft + sRight);
      if (sRight - sLeft <= DBL_EPSILON * s) break;
      directionReversalCount = 0;
      ds = 0;
    }
    dsPrevious = ds;
    const registers = blackRegisters;
    registers[REGISTER_X] = x;
    registers[REGISTER_S] = s;
    evaluateOutOfTheMoneyNormalisedBlackCallAndVega();
    const b = registers[REGISTER_B] ?? Number.NaN;
    const bp = registers[REGISTER_VEGA] ?? Number.NaN;
    if (b > beta && s < sRight) sRight = s;
    else if (b < beta && s > sLeft) sLeft = s;
    const newton = (beta - b) / bp;
    const oneOverS = 1 / s;
    const h = x * oneOverS;
    const hOverS = h * oneOverS;
    const halley = h * hOverS - 0.25 * s;
    const hh3 = halley * halley - 3 * hOverS * hOverS - 0.25;
    ds = Math.max(-0.5 * s, (newton * (1 + 0.5 * halley * newton)) / (1 + newton * (halley + (hh3 * newton) / 6)));
    s += ds;
  }
  return s;
}

/** Fills `anchorTable` from the definitions, once (a few milliseconds). */
function buildAnchorTable(): void {
  for (let k = 0; k < ANCHOR_INTERVALS + 3; k++) {
    const rootAbsX = ANCHOR_U_MIN + (k - 1) * ANCHOR_STEP;
    const absX = rootAbsX * rootAbsX;
    const x = -absX;
    const bMax = Math.exp(0.5 * x);
    const sC = Math.SQRT2 * rootAbsX;
    const bC = inflexionPrice(rootAbsX, bMax);
    const vC = ONE_OVER_SQRT_TWO_PI * bMax;
    computeLowerAnchors(x, sC - bC / vC, sC, bC, vC);
    for (let field = 0; field < ANCHOR_FIELDS; field++) {
      const value = anchors[field] ?? Number.NaN;
      anchorTable[k * ANCHOR_FIELDS + field] =
        field === B_L || field === F_L || field === S_L ? value / absX : field === B_C ? value / rootAbsX : value;
    }
  }
}

/**
 * A table entry as computed, or 1 (no correction, so the size check asks for the second step)
 * should a node ever come out implausible: the tables must not be able to turn a solve into NaN.
 */
function plausibleCorrection(correction: number): number {
  return correction > 0.5 && correction < 2 ? correction : 1;
}

/** Times the uncorrected guess is matched to its table node when building the lowest branch's table. */
const LOWEST_NODE_MATCHING_ROUNDS = 3;

/**
 * Fills the guess-correction tables, once, after `anchorTable` (some 30 ms): at each
 * node, s/s₀ with s₀ the raw guess. The lowest branch's nodes are in s₀, which depends on β only
 * through the guess, so β = b(x, s) is found by matching s₀ to the node with a few fixed-point
 * rounds in s (each shrinks the mismatch by the guess's relative error, a few percent), and s is
 * known exactly. The middle branch's nodes are in β, solved (uncorrected, two steps) for s.
 */
function buildGuessCorrectionTables(): void {
  const pair = new Float64Array(2);
  for (let i = 0; i <= CORRECTION_U_INTERVALS; i++) {
    const rootAbsX = ANCHOR_U_MIN + i * CORRECTION_U_STEP;
    const x = -rootAbsX * rootAbsX;
    const bMax = Math.exp(0.5 * x);
    anchors[ROOT_ABS_X] = rootAbsX;
    interpolateLowerAnchors();
    const bL = anchors[B_L] ?? Number.NaN;
    const bC = anchors[B_C] ?? Number.NaN;
    const sL = anchors[S_L] ?? Number.NaN;
    let previousCorrection = 1;
    for (let j = 0; j <= LOWEST_INTERVALS; j++) {
      const target = LOWEST_GUESS_MIN + j * LOWEST_STEP;
      // Adjacent nodes have nearly equal corrections, so the previous one starts the match.
      let ratio = target * previousCorrection;
      let correction = 1;
      initialTolerance = Number.POSITIVE_INFINITY;
      for (let round = 0; round <= LOWEST_NODE_MATCHING_ROUNDS; round++) {
        const s = Math.min(ratio * sL, sL * (1 - ANCHOR_BRACKET_SLACK));
        outOfTheMoneyNormalisedBlackCallAndVega(x, s, pair);
        normalisedImpliedVolatilityOfOtmCall(pair[0] ?? Number.NaN, x, bMax);
        const guess = anchors[RAW_GUESS] ?? Number.NaN;
        correction = s / guess;
        if (round < LOWEST_NODE_MATCHING_ROUNDS) ratio = (s / sL) * (target / (guess / sL));
      }
      initialTolerance = DBL_EPSILON;
      lowestCorrection[i * (LOWEST_INTERVALS + 1) + j] = plausibleCorrection(correction);
      previousCorrection = correction;
    }
    for (let j = 0; j <= MIDDLE_INTERVALS; j++) {
      const position = (j / MIDDLE_INTERVALS) * (j / MIDDLE_INTERVALS);
      const beta = Math.min(bL + position * (bC - bL), bC * (1 - 4 * DBL_EPSILON));
      const s = normalisedImpliedVolatilityOfOtmCall(beta, x, bMax);
      middleCorrection[i * (MIDDLE_INTERVALS + 1) + j] = plausibleCorrection(s / (anchors[RAW_GUESS] ?? Number.NaN));
    }
  }
  guessCorrectionReady = true;
}

/**
 * Builds the tables on the first solve rather than at import (some 30 ms), so that code which
 * only prices never pays for them.
 */
function buildTables(): void {
  tablesBuilt = true;
  buildAnchorTable();
  buildGuessCorrectionTables();
}
