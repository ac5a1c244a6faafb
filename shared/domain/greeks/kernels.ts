import { IV_STATUS_CODE, type IvStatusCode, PRICING_MODEL_CODE } from './codes.js';
import { normalisedImpliedVolatilityOfOtmCall } from './lets-be-rational.js';
import {
  expMinusHalfSquare,
  normCdfGivenExponential,
  ONE_OVER_SQRT_TWO_PI,
  SQRT_TWO_PI,
} from './normal-distribution.js';
import {
  blackRegisters,
  evaluateOutOfTheMoneyNormalisedBlackCallAndVega,
  REGISTER_B,
  REGISTER_S,
  REGISTER_VEGA,
  REGISTER_X,
} from './normalised-black.js';

/**
 * The numeric core: pricing, Greeks and implied volatility on plain numbers, with no objects, no
 * strings and no allocation, so the object API, the typed-array batch API and the benchmark all
 * run the same monomorphic code. Inputs are validated by cheap comparisons and an invalid input
 * yields NaN (and the `invalid` status), never an exception.
 *
 * Everything is expressed through the normalised Black function: with the forward F, the
 * discount factor D = e^{−rT}, x = ln(F/K), s = σ√T, h = x/s and t = s/2,
 *
 *     V = N·b(θx, s),   N = D·√(F·K) = K·e^{x/2}·e^{−rT},   θ = +1 for calls, −1 for puts,
 *
 * and the Greeks use d₁ = h + t, d₂ = h − t and the identity F·φ(d₁) = K·φ(d₂) = √(F·K)·ν, where
 * ν = e^{−(h²+t²)/2}/√(2π) is the normalised vega. Each Greek is then a product of factors that
 * are each relatively accurate (Φ from Cody's erfcx, exponentials of well-conditioned arguments),
 * so the relative accuracy holds far into the tails, where prices are 1e-100 and smaller.
 */

/** Option sign: +1 for a call, −1 for a put. */
export const CALL = 1;
/** Option sign: −1 for a put. */
export const PUT = -1;

const BLACK_SCHOLES = PRICING_MODEL_CODE['black-scholes'];
const BLACK_76 = PRICING_MODEL_CODE['black-76'];
const DAYS_PER_YEAR = 365;
/**
 * A premium this close (relatively) below the intrinsic value counts as equal to it: the discounted
 * intrinsic value is itself computed to a few ulps, so a difference this small is rounding.
 */
const INTRINSIC_TOLERANCE = 16 * Number.EPSILON;

/**
 * ln(a/b) with relative accuracy: near the money a − b is exact (Sterbenz), so log1p of
 * (a − b)/b keeps the digits that ln of the rounded ratio would lose. Log-moneyness feeds
 * every exponent of the formulas, so its relative error is what sets the accuracy of far
 * out-of-the-money values.
 */
function logRatio(a: number, b: number): number {
  return a >= 0.5 * b && a <= 2 * b ? Math.log1p((a - b) / b) : Math.log(a / b);
}

/**
 * N = D·√(F·K) = K·e^{x/2}·e^{−rT}, the factor between a premium and the normalised Black price.
 * Pricing and implied volatility form it with the same arithmetic, so a premium the pricer
 * produced maps back to exactly the normalised price it came from.
 */
function normaliser(strike: number, halfMoneyness: number, discount: number): number {
  return strike * halfMoneyness * discount;
}

/** The payoff max(θ·(S − K), 0), exactly: the value at expiry, where spot and forward coincide. */
function expiredValue(sign: number, underlying: number, strike: number): number {
  const payoff = sign * (underlying - strike);
  return payoff > 0 ? payoff : 0;
}

/** True when the numbers describe an option the formulas are defined for. */
function isPricable(
  sign: number,
  model: number,
  underlying: number,
  strike: number,
  time: number,
  volatility: number,
  rate: number,
  dividendYield: number,
): boolean {
  return (
    (sign === CALL || sign === PUT) &&
    (model === BLACK_SCHOLES || (model === BLACK_76 && dividendYield === 0)) &&
    underlying > 0 &&
    underlying < Number.POSITIVE_INFINITY &&
    strike > 0 &&
    strike < Number.POSITIVE_INFINITY &&
    time >= 0 &&
    time < Number.POSITIVE_INFINITY &&
    volatility >= 0 &&
    volatility < Number.POSITIVE_INFINITY &&
    Number.isFinite(rate) &&
    Number.isFinite(dividendYield)
  );
}

/** ln(F/K): log-moneyness of the forward, with the carry (r − q)·T for Black-Scholes. */
function logForwardMoneyness(
  model: number,
  underlying: number,
  strike: number,
  time: number,
  rate: number,
  dividendYield: number,
): number {
  const x = logRatio(underlying, strike);
  return model === BLACK_SCHOLES ? x + (rate - dividendYield) * time : x;
}

/**
 * Premium of item `index` of the columns; NaN for invalid input. `sign` is `CALL` or `PUT`,
 * `model` a `PRICING_MODEL_CODE`.
 *
 * The kernels read their per-item numbers from typed-array columns instead of taking them as
 * arguments: V8 hands doubles to a function it does not inline as freshly allocated heap
 * numbers, and these kernels are too large to inline, so column reads keep the batch loops free
 * of allocation. The object API passes one-element columns.
 */
export function priceKernel(
  sign: number,
  model: number,
  underlyings: Float64Array,
  strikes: Float64Array,
  times: Float64Array,
  volatilities: Float64Array,
  index: number,
  rate: number,
  dividendYield: number,
): number {
  const underlying = underlyings[index] ?? Number.NaN;
  const strike = strikes[index] ?? Number.NaN;
  const time = times[index] ?? Number.NaN;
  const volatility = volatilities[index] ?? Number.NaN;
  if (!isPricable(sign, model, underlying, strike, time, volatility, rate, dividendYield)) return Number.NaN;
  if (time === 0) return expiredValue(sign, underlying, strike);
  const x = logForwardMoneyness(model, underlying, strike, time, rate, dividendYield);
  const s = volatility * Math.sqrt(time);
  // One expm1 gives both e^{|x|/2} = 1 + m and the intrinsic value m + m/(1 + m) (as
  // `normalisedIntrinsicCall` forms it, so pricer and solver agree to the bit). Written out in
  // every kernel: doubles passed to a function V8 does not inline are boxed.
  const m = Math.expm1(0.5 * Math.abs(x));
  const root = 1 + m;
  const intrinsic = sign * x > 0 ? m + m / root : 0;
  let b = intrinsic;
  if (s > 0) {
    blackRegisters[REGISTER_X] = -Math.abs(x);
    blackRegisters[REGISTER_S] = s;
    evaluateOutOfTheMoneyNormalisedBlackCallAndVega();
    b += blackRegisters[REGISTER_B] ?? Number.NaN;
  }
  return normaliser(strike, x >= 0 ? root : 1 / root, Math.exp(-rate * time)) * b;
}

/**
 * Premium and the five Greeks (py_vollib units, see `Greeks`) of item `index` of the columns,
 * written to the same index of the six output columns; all NaN for invalid input.
 *
 * With no time value left to model (T = 0, or σ = 0), the option is its (discounted forward)
 * intrinsic value: delta is the probability-one exercise indicator (±1 in the money, 0 out of
 * it, ±0.5 exactly at the money, the limit of the smooth delta and the value that keeps
 * call − put delta parity), gamma is 0 (the point mass at the strike is not representable),
 * and at T = 0 theta, vega and rho are 0.
 */
export function greeksKernel(
  sign: number,
  model: number,
  underlyings: Float64Array,
  strikes: Float64Array,
  times: Float64Array,
  volatilities: Float64Array,
  index: number,
  rate: number,
  dividendYield: number,
  prices: Float64Array,
  deltas: Float64Array,
  gammas: Float64Array,
  thetas: Float64Array,
  vegas: Float64Array,
  rhos: Float64Array,
): void {
  const underlying = underlyings[index] ?? Number.NaN;
  const strike = strikes[index] ?? Number.NaN;
  const time = times[index] ?? Number.NaN;
  const volatility = volatilities[index] ?? Number.NaN;
  if (!isPricable(sign, model, underlying, strike, time, volatility, rate, dividendYield)) {
    prices[index] = Number.NaN;
    deltas[index] = Number.NaN;
    gammas[index] = Number.NaN;
    thetas[index] = Number.NaN;
    vegas[index] = Number.NaN;
    rhos[index] = Number.NaN;
    return;
  }
  const isBlackScholes = model === BLACK_SCHOLES;
  const x = logForwardMoneyness(model, underlying, strike, time, rate, dividendYield);
  const sqrtT = Math.sqrt(time);
  const s = volatility * sqrtT;
  // One expm1 gives both e^{|x|/2} = 1 + m and the intrinsic value m + m/(1 + m) (as
  // `normalisedIntrinsicCall` forms it, so pricer and solver agree to the bit). Written out in
  // every kernel: doubles passed to a function V8 does not inline are boxed.
  const m = Math.expm1(0.5 * Math.abs(x));
  const root = 1 + m;
  const intrinsic = sign * x > 0 ? m + m / root : 0;
  const halfMoneyness = x >= 0 ? root : 1 / root;
  const discount = Math.exp(-rate * time);
  const scale = normaliser(strike, halfMoneyness, discount);
  // ∂F/∂S·D: e^{−qT} for Black-Scholes, D for Black-76 (where the underlying is the forward).
  const carryDiscount = isBlackScholes ? (dividendYield === 0 ? 1 : Math.exp(-dividendYield * time)) : discount;
  // b(θx, s) = intrinsic + b(−|x|, s), and ν = ∂b/∂s, which is even in x.
  let b = intrinsic;
  let normalisedVega: number;
  if (s > 0) {
    blackRegisters[REGISTER_X] = -Math.abs(x);
    blackRegisters[REGISTER_S] = s;
    evaluateOutOfTheMoneyNormalisedBlackCallAndVega();
    b += blackRegisters[REGISTER_B] ?? Number.NaN;
    normalisedVega = blackRegisters[REGISTER_VEGA] ?? Number.NaN;
  } else {
    normalisedVega = s === 0 ? (x === 0 ? ONE_OVER_SQRT_TWO_PI : 0) : Number.NaN;
  }
  const price = scale * b;
  const scaledVega = scale * normalisedVega;
  let exercise1: number;
  let exercise2: number;
  let gamma = 0;
  let decay = 0;
  if (s > 0) {
    const h = x / s;
    const t = 0.5 * s;
    // e^{−d₁²/2} = e^{−(h²+t²)/2}·e^{−x/2} and e^{−d₂²/2} = e^{−(h²+t²)/2}·e^{x/2}, from the vega's
    // exponential; exact formulas where that would overflow or underflow (|x| in the hundreds).
    const exponential = normalisedVega * SQRT_TWO_PI;
    let e1 = exponential / halfMoneyness;
    const e2 = exponential * halfMoneyness;
    const exact = e1 > 0 && e1 <= 1 && e2 > 0 && e2 <= 1;
    if (!exact) e1 = expMinusHalfSquare(h + t);
    exercise1 = normCdfGivenExponential(sign * (h + t), e1);
    // b = θ·(e^{x/2}·Φ(θd₁) − e^{−x/2}·Φ(θd₂)) gives Φ(θd₂) = e^{x/2}·(e^{x/2}·Φ(θd₁) − θ·b) without
    // a second Φ: for a put the two terms add, for a call b is at most half the first (checked)
    // so at most one bit is lost. Black-76 does not use Φ(θd₂).
    const first = halfMoneyness * exercise1;
    exercise2 = Number.NaN;
    if (isBlackScholes) {
      if (exact && (sign === PUT || b <= 0.5 * first)) exercise2 = halfMoneyness * (first - sign * b);
      if (!(exercise2 >= 0 && exercise2 <= 1)) {
        exercise2 = normCdfGivenExponential(sign * (h - t), exact ? e2 : expMinusHalfSquare(h - t));
      }
    }
    gamma = scaledVega / (underlying * underlying * s);
    decay = (-scaledVega * volatility) / (2 * sqrtT);
  } else {
    const moneyness = sign * x;
    exercise1 = moneyness > 0 ? 1 : moneyness < 0 ? 0 : 0.5;
    exercise2 = exercise1;
  }
  const vegaAnnual = time > 0 ? scaledVega * sqrtT : 0;
  let thetaAnnual: number;
  let rhoPercent: number;
  if (time === 0) {
    thetaAnnual = 0;
    rhoPercent = 0;
  } else if (isBlackScholes) {
    const strikeDiscounted = strike * discount;
    thetaAnnual =
      decay -
      sign * rate * strikeDiscounted * exercise2 +
      sign * dividendYield * underlying * carryDiscount * exercise1;
    rhoPercent = sign * strikeDiscounted * time * exercise2 * 0.01;
  } else {
    thetaAnnual = decay + rate * price;
    rhoPercent = -time * price * 0.01;
  }
  // `+ 0` turns the −0 of a put's vanishing delta or rho into 0, which is what consumers compare to.
  prices[index] = time === 0 ? expiredValue(sign, underlying, strike) : price;
  deltas[index] = sign * carryDiscount * exercise1 + 0;
  gammas[index] = gamma;
  thetas[index] = thetaAnnual * (1 / DAYS_PER_YEAR) + 0;
  vegas[index] = vegaAnnual * 0.01;
  rhos[index] = rhoPercent + 0;
}

/**
 * Implied volatility of the premium of item `index` of the columns; the status code is written
 * to `status[statusIndex]`. The volatility is the solution for `ok`, 0 for `no-time-value` and
 * NaN otherwise (see `IvStatus`).
 *
 * The premium is normalised by N = D·√(F·K) with the same arithmetic as `priceKernel`, so a
 * premium the pricer produced round-trips to its volatility to within the conditioning of the
 * problem (a few ulps where the option has time value).
 */
export function impliedVolatilityKernel(
  sign: number,
  model: number,
  underlyings: Float64Array,
  strikes: Float64Array,
  times: Float64Array,
  premiums: Float64Array,
  index: number,
  rate: number,
  dividendYield: number,
  status: Uint8Array,
  statusIndex: number,
): number {
  const underlying = underlyings[index] ?? Number.NaN;
  const strike = strikes[index] ?? Number.NaN;
  const time = times[index] ?? Number.NaN;
  const premium = premiums[index] ?? Number.NaN;
  if (
    !isPricable(sign, model, underlying, strike, time, 0, rate, dividendYield) ||
    !(premium >= 0 && premium < Number.POSITIVE_INFINITY)
  ) {
    return fail(status, statusIndex, IV_STATUS_CODE.invalid);
  }
  if (time === 0) return fail(status, statusIndex, IV_STATUS_CODE.expired);
  const x = logForwardMoneyness(model, underlying, strike, time, rate, dividendYield);
  // One expm1 gives both e^{|x|/2} = 1 + m and the intrinsic value m + m/(1 + m) (as
  // `normalisedIntrinsicCall` forms it, so pricer and solver agree to the bit). Written out in
  // every kernel: doubles passed to a function V8 does not inline are boxed.
  const m = Math.expm1(0.5 * Math.abs(x));
  const root = 1 + m;
  const intrinsic = sign * x > 0 ? m + m / root : 0;
  const beta = premium / normaliser(strike, x >= 0 ? root : 1 / root, Math.exp(-rate * time));
  // The normalised price lies in [intrinsic, e^{θx/2}). The intrinsic value comes from the
  // function the pricer adds it with, so a premium without time value leaves exactly none here.
  const ceiling = sign * x >= 0 ? root : 1 / root;
  if (beta >= ceiling) return fail(status, statusIndex, IV_STATUS_CODE['above-maximum']);
  const timeValue = beta - intrinsic;
  if (!(timeValue > 0)) {
    if (timeValue < -INTRINSIC_TOLERANCE * intrinsic)
      return fail(status, statusIndex, IV_STATUS_CODE['below-intrinsic']);
    status[statusIndex] = IV_STATUS_CODE['no-time-value'];
    return 0;
  }
  // Solved as the out-of-the-money call at −|x|, whose ceiling is e^{−|x|/2}.
  const s = normalisedImpliedVolatilityOfOtmCall(timeValue, -Math.abs(x), 1 / root);
  if (s === Number.POSITIVE_INFINITY) return fail(status, statusIndex, IV_STATUS_CODE['above-maximum']);
  if (!(s > 0)) {
    // A positive time value below what double precision can resolve (subnormal).
    status[statusIndex] = IV_STATUS_CODE['no-time-value'];
    return 0;
  }
  status[statusIndex] = IV_STATUS_CODE.ok;
  return s / Math.sqrt(time);
}

function fail(status: Uint8Array, index: number, code: IvStatusCode): number {
  status[index] = code;
  return Number.NaN;
}
