/**
 * Option side as the exchange names it: `CE` is a call (European), `PE` a put. NSE instrument
 * masters use these codes, so the calculator takes them as they arrive instead of translating.
 */
export type OptionKind = 'CE' | 'PE';

/**
 * Which Black-type model prices the option.
 *
 * - `black-scholes`: `underlying` is the spot; the forward is `spot · e^{(rate − dividendYield)·T}`.
 *   This is the NSE convention for index options priced off the index.
 * - `black-76`: `underlying` is the forward (a future or a synthetic forward), so no carry is applied
 *   and `dividendYield` does not exist; the premium is still discounted at `rate`.
 */
export type PricingModel = 'black-scholes' | 'black-76';

/**
 * Everything the pricer needs for one European option, in annualised units: `timeToExpiryYears`
 * in calendar years (see `timeToExpiryYears()`), `volatility`, `rate` and `dividendYield` as
 * decimals with continuous compounding (0.15 is 15 %).
 */
export interface OptionInput {
  readonly kind: OptionKind;
  readonly model: PricingModel;
  /** Spot for `black-scholes`, forward for `black-76`. Must be > 0. */
  readonly underlying: number;
  /** Must be > 0. */
  readonly strike: number;
  /** Must be >= 0; 0 means the option is at expiry and worth its intrinsic value. */
  readonly timeToExpiryYears: number;
  /** Must be >= 0; 0 prices the option as the discounted intrinsic value of the forward. */
  readonly volatility: number;
  /** Continuously compounded risk-free rate; any finite value. */
  readonly rate: number;
  /** Continuous dividend yield, `black-scholes` only (defaults to 0). Rejected for `black-76`. */
  readonly dividendYield?: number;
}

/**
 * First-order sensitivities in the units traders quote (the py_vollib conventions), so numbers
 * can be compared with broker terminals and with the earlier Python service:
 *
 * - `delta`: ∂V/∂underlying (spot for Black-Scholes, forward for Black-76).
 * - `gamma`: ∂²V/∂underlying².
 * - `theta`: change of value per calendar day, −(∂V/∂T)/365; negative for a long option that
 *   loses time value.
 * - `vega`: change of value per one volatility point, (∂V/∂σ)/100.
 * - `rho`: change of value per one percentage point of rate, (∂V/∂r)/100. For Black-76 the
 *   forward is held fixed, so rho is −T·V/100 (as py_vollib's `black` model).
 */
export interface Greeks {
  readonly delta: number;
  readonly gamma: number;
  readonly theta: number;
  readonly vega: number;
  readonly rho: number;
}

/** Input of the implied-volatility solver: an option without volatility, plus its premium. */
export type ImpliedVolatilityInput = Omit<OptionInput, 'volatility'> & { readonly price: number };

/**
 * Outcome of an implied-volatility solve. Only `ok` carries a positive volatility; a caller that
 * enriches ticks decides per status what to publish instead of guessing from NaN.
 *
 * - `ok`: solved to machine precision.
 * - `expired`: time to expiry is 0, where every volatility gives the same (intrinsic) value.
 * - `below-intrinsic`: the premium is below the discounted forward intrinsic value, so no
 *   volatility reproduces it (common for stale quotes on deep in-the-money options).
 * - `no-time-value`: the premium equals the intrinsic value (within rounding), e.g. a zero
 *   premium on an out-of-the-money option; the implied volatility is exactly 0.
 * - `above-maximum`: the premium reaches the no-arbitrage ceiling (a call at the discounted
 *   forward, a put at the discounted strike), which only an infinite volatility attains.
 * - `invalid`: non-finite input, non-positive underlying or strike, negative time or premium.
 */
export type IvStatus = 'ok' | 'expired' | 'below-intrinsic' | 'no-time-value' | 'above-maximum' | 'invalid';

/**
 * Result of an implied-volatility solve. `volatility` is the annualised implied volatility for
 * `ok`, 0 for `no-time-value` (the exact answer), and NaN for every other status.
 */
export interface ImpliedVolatilityResult {
  readonly volatility: number;
  readonly status: IvStatus;
}
