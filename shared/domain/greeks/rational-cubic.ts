/**
 * Shape-preserving rational cubic interpolation (R. Delbourgo and J. A. Gregory, "Shape preserving
 * piecewise rational interpolation", SIAM J. Sci. Stat. Comput. 6, 1985), the building block of
 * the initial guesses in Jäckel's "Let's Be Rational": on each branch the inverse of the
 * normalised Black function is interpolated by a rational cubic whose control parameter is
 * chosen to match a second derivative while keeping the interpolant monotone and convex, so
 * the guess is already within a few digits and two Householder steps reach machine precision.
 */

const DBL_EPSILON = Number.EPSILON;
const DBL_MIN = 2.2250738585072014e-308;
const DBL_MAX = Number.MAX_VALUE;
/** The control parameter must stay above −1; this is the smallest value used. */
const MINIMUM_CONTROL_PARAMETER = -(1 - Math.sqrt(DBL_EPSILON));
/** A control parameter this large makes the interpolant linear. */
export const MAXIMUM_CONTROL_PARAMETER = 2 / (DBL_EPSILON * DBL_EPSILON);

function isZero(x: number): boolean {
  return Math.abs(x) < DBL_MIN;
}

/**
 * The rational cubic through (xl, yl) and (xr, yr) with end slopes dl and dr and control
 * parameter r (r → ∞ is linear, r = 3 the ordinary cubic Hermite interpolant), evaluated at x.
 */
export function rationalCubicInterpolation(
  x: number,
  xl: number,
  xr: number,
  yl: number,
  yr: number,
  dl: number,
  dr: number,
  r: number,
): number {
  const h = xr - xl;
  if (Math.abs(h) <= 0) return 0.5 * (yl + yr);
  const t = (x - xl) / h;
  if (!(r >= MAXIMUM_CONTROL_PARAMETER)) {
    const omt = 1 - t;
    const t2 = t * t;
    const omt2 = omt * omt;
    return (
      (yr * t2 * t + (r * yr - h * dr) * t2 * omt + (r * yl + h * dl) * t * omt2 + yl * omt2 * omt) /
      (1 + (r - 3) * t * omt)
    );
  }
  return yr * t + yl * (1 - t);
}

function controlParameterToFitSecondDerivativeAtLeftSide(
  xl: number,
  xr: number,
  yl: number,
  yr: number,
  dl: number,
  dr: number,
  secondDerivativeL: number,
): number {
  const h = xr - xl;
  const numerator = 0.5 * h * secondDerivativeL + (dr - dl);
  if (isZero(numerator)) return 0;
  const denominator = (yr - yl) / h - dl;
  if (isZero(denominator)) return numerator > 0 ? MAXIMUM_CONTROL_PARAMETER : MINIMUM_CONTROL_PARAMETER;
  return numerator / denominator;
}

function controlParameterToFitSecondDerivativeAtRightSide(
  xl: number,
  xr: number,
  yl: number,
  yr: number,
  dl: number,
  dr: number,
  secondDerivativeR: number,
): number {
  const h = xr - xl;
  const numerator = 0.5 * h * secondDerivativeR + (dr - dl);
  if (isZero(numerator)) return 0;
  const denominator = dr - (yr - yl) / h;
  if (isZero(denominator)) return numerator > 0 ? MAXIMUM_CONTROL_PARAMETER : MINIMUM_CONTROL_PARAMETER;
  return numerator / denominator;
}

/**
 * The smallest control parameter that keeps the interpolant monotone (Delbourgo–Gregory 3.8) and
 * convex or concave (3.18) given the end slopes dl, dr and the secant slope s.
 */
function minimumControlParameter(dl: number, dr: number, s: number, preferShapePreservation: boolean): number {
  const monotonic = dl * s >= 0 && dr * s >= 0;
  const convex = dl <= s && s <= dr;
  const concave = dl >= s && s >= dr;
  if (!monotonic && !convex && !concave) return MINIMUM_CONTROL_PARAMETER;
  const drMinusDl = dr - dl;
  const drMinusS = dr - s;
  const sMinusDl = s - dl;
  let r1 = -DBL_MAX;
  let r2 = -DBL_MAX;
  if (monotonic) {
    if (!isZero(s)) r1 = (dr + dl) / s;
    else if (preferShapePreservation) r1 = MAXIMUM_CONTROL_PARAMETER;
  }
  if (convex || concave) {
    if (!(isZero(sMinusDl) || isZero(drMinusS))) {
      r2 = Math.max(Math.abs(drMinusDl / drMinusS), Math.abs(drMinusDl / sMinusDl));
    } else if (preferShapePreservation) {
      r2 = MAXIMUM_CONTROL_PARAMETER;
    }
  } else if (monotonic && preferShapePreservation) {
    r2 = MAXIMUM_CONTROL_PARAMETER;
  }
  return Math.max(MINIMUM_CONTROL_PARAMETER, r1, r2);
}

/**
 * Control parameter that matches the second derivative at the left end, raised if needed to the
 * minimum that preserves monotonicity and convexity.
 */
export function convexControlParameterToFitSecondDerivativeAtLeftSide(
  xl: number,
  xr: number,
  yl: number,
  yr: number,
  dl: number,
  dr: number,
  secondDerivativeL: number,
  preferShapePreservation: boolean,
): number {
  const r = controlParameterToFitSecondDerivativeAtLeftSide(xl, xr, yl, yr, dl, dr, secondDerivativeL);
  const rMin = minimumControlParameter(dl, dr, (yr - yl) / (xr - xl), preferShapePreservation);
  return Math.max(r, rMin);
}

/**
 * Control parameter that matches the second derivative at the right end, raised if needed to the
 * minimum that preserves monotonicity and convexity.
 */
export function convexControlParameterToFitSecondDerivativeAtRightSide(
  xl: number,
  xr: number,
  yl: number,
  yr: number,
  dl: number,
  dr: number,
  secondDerivativeR: number,
  preferShapePreservation: boolean,
): number {
  const r = controlParameterToFitSecondDerivativeAtRightSide(xl, xr, yl, yr, dl, dr, secondDerivativeR);
  const rMin = minimumControlParameter(dl, dr, (yr - yl) / (xr - xl), preferShapePreservation);
  return Math.max(r, rMin);
}
