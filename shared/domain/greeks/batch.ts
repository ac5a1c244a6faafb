import { OPTION_KIND_CODE } from './codes.js';
import { CALL, greeksKernel, impliedVolatilityKernel, PUT, priceKernel } from './kernels.js';
import { modelCode } from './option-pricing.js';
import type { PricingModel } from './types.js';

/**
 * Typed-array (column) API: a whole option chain or candle series goes in as `Float64Array`
 * columns and comes out the same way, with one kernel call per item and no allocation per
 * item. Items are independent; an invalid item yields NaN (and the `invalid` status) without
 * affecting the others, and nothing throws once the column shapes are right.
 */

/** Model and market parameters shared by every item of a batch. */
export interface BatchParameters {
  readonly model: PricingModel;
  /** Continuously compounded risk-free rate. */
  readonly rate: number;
  /** Continuous dividend yield, `black-scholes` only (defaults to 0). */
  readonly dividendYield?: number;
}

/** The per-item columns every batch has. All columns must hold at least `kind.length` items. */
export interface OptionColumns {
  /** `OPTION_KIND_CODE` per item: 0 for CE, 1 for PE. */
  readonly kind: Uint8Array;
  /** Spot (Black-Scholes) or forward (Black-76) per item. */
  readonly underlying: Float64Array;
  readonly strike: Float64Array;
  /** Calendar years per item (see `timeToExpiryYears`). */
  readonly timeToExpiryYears: Float64Array;
}

/** Columns for pricing: the option columns plus a volatility per item. */
export interface PricingColumns extends OptionColumns {
  readonly volatility: Float64Array;
}

/** Columns for implied volatility: the option columns plus a premium per item. */
export interface PremiumColumns extends OptionColumns {
  readonly price: Float64Array;
}

/** Output columns of `greeksBatch` (same units as `Greeks`); each needs `kind.length` slots. */
export interface GreeksColumns {
  readonly price: Float64Array;
  readonly delta: Float64Array;
  readonly gamma: Float64Array;
  readonly theta: Float64Array;
  readonly vega: Float64Array;
  readonly rho: Float64Array;
}

function requireLength(field: string, column: ArrayLike<number>, length: number): void {
  if (column.length < length) {
    throw new RangeError(`${field} must have at least ${length} items, got ${column.length}`);
  }
}

function requireOptionColumns(columns: OptionColumns): number {
  const n = columns.kind.length;
  requireLength('underlying', columns.underlying, n);
  requireLength('strike', columns.strike, n);
  requireLength('timeToExpiryYears', columns.timeToExpiryYears, n);
  return n;
}

function signOf(code: number | undefined): number {
  return code === OPTION_KIND_CODE.CE ? CALL : code === OPTION_KIND_CODE.PE ? PUT : Number.NaN;
}

/**
 * Premium per item into `out`. Throws a `RangeError` only when a column is shorter than `kind`;
 * invalid items give NaN.
 */
export function priceBatch(parameters: BatchParameters, columns: PricingColumns, out: Float64Array): void {
  const n = requireOptionColumns(columns);
  requireLength('volatility', columns.volatility, n);
  requireLength('out', out, n);
  const model = modelCode(parameters.model);
  const rate = parameters.rate;
  const dividendYield = parameters.dividendYield ?? 0;
  const { kind, underlying, strike, timeToExpiryYears, volatility } = columns;
  for (let i = 0; i < n; i++) {
    out[i] = priceKernel(
      signOf(kind[i]),
      model,
      underlying,
      strike,
      timeToExpiryYears,
      volatility,
      i,
      rate,
      dividendYield,
    );
  }
}

/**
 * Premium and the five Greeks per item into the output columns. Throws a `RangeError` only when
 * a column is shorter than `kind`; invalid items give NaN in every output column.
 */
export function greeksBatch(parameters: BatchParameters, columns: PricingColumns, out: GreeksColumns): void {
  const n = requireOptionColumns(columns);
  requireLength('volatility', columns.volatility, n);
  requireLength('price', out.price, n);
  requireLength('delta', out.delta, n);
  requireLength('gamma', out.gamma, n);
  requireLength('theta', out.theta, n);
  requireLength('vega', out.vega, n);
  requireLength('rho', out.rho, n);
  const model = modelCode(parameters.model);
  const rate = parameters.rate;
  const dividendYield = parameters.dividendYield ?? 0;
  const { kind, underlying, strike, timeToExpiryYears, volatility } = columns;
  const { price, delta, gamma, theta, vega, rho } = out;
  for (let i = 0; i < n; i++) {
    greeksKernel(
      signOf(kind[i]),
      model,
      underlying,
      strike,
      timeToExpiryYears,
      volatility,
      i,
      rate,
      dividendYield,
      price,
      delta,
      gamma,
      theta,
      vega,
      rho,
    );
  }
}

const statusScratch = new Uint8Array(1);

/**
 * Implied volatility per item into `out`, and its `IV_STATUS_CODE` into `status` when given
 * (decode with `ivStatusFromCode`). Volatility is NaN for every status but `ok` and
 * `no-time-value` (0). Throws a `RangeError` only when a column is shorter than `kind`.
 */
export function impliedVolatilityBatch(
  parameters: BatchParameters,
  columns: PremiumColumns,
  out: Float64Array,
  status?: Uint8Array,
): void {
  const n = requireOptionColumns(columns);
  requireLength('price', columns.price, n);
  requireLength('out', out, n);
  if (status !== undefined) requireLength('status', status, n);
  const statusOut = status ?? statusScratch;
  const model = modelCode(parameters.model);
  const rate = parameters.rate;
  const dividendYield = parameters.dividendYield ?? 0;
  const { kind, underlying, strike, timeToExpiryYears, price } = columns;
  const stride = status === undefined ? 0 : 1;
  for (let i = 0; i < n; i++) {
    out[i] = impliedVolatilityKernel(
      signOf(kind[i]),
      model,
      underlying,
      strike,
      timeToExpiryYears,
      price,
      i,
      rate,
      dividendYield,
      statusOut,
      i * stride,
    );
  }
}
