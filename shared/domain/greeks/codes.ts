import type { IvStatus, OptionKind, PricingModel } from './types.js';

/**
 * Numeric codes for `OptionKind` in typed arrays. The batch API stores a whole chain in
 * `Uint8Array`/`Float64Array` columns, so strings are replaced by these small integers.
 */
export const OPTION_KIND_CODE = { CE: 0, PE: 1 } as const satisfies Record<OptionKind, number>;

/** Numeric code of an option kind, as stored in a batch's `kind` column. */
export type OptionKindCode = (typeof OPTION_KIND_CODE)[OptionKind];

/** Numeric codes for `PricingModel`, used by the allocation-free kernels. */
export const PRICING_MODEL_CODE = { 'black-scholes': 0, 'black-76': 1 } as const satisfies Record<PricingModel, number>;

/** Numeric code of a pricing model. */
export type PricingModelCode = (typeof PRICING_MODEL_CODE)[PricingModel];

/**
 * Numeric codes for `IvStatus`, written to the optional `Uint8Array` of the batch solver so a
 * chain of thousands of quotes reports its failures without allocating a string per item.
 */
export const IV_STATUS_CODE = {
  ok: 0,
  expired: 1,
  'below-intrinsic': 2,
  'no-time-value': 3,
  'above-maximum': 4,
  invalid: 5,
} as const satisfies Record<IvStatus, number>;

/** Numeric code of an implied-volatility status. */
export type IvStatusCode = (typeof IV_STATUS_CODE)[IvStatus];

/** The inverse of `IV_STATUS_CODE`: `IV_STATUS_BY_CODE[code]` is the status name. */
export const IV_STATUS_BY_CODE: readonly IvStatus[] = [
  'ok',
  'expired',
  'below-intrinsic',
  'no-time-value',
  'above-maximum',
  'invalid',
] as const;

/** The status name for a code read from a batch's status column (`invalid` for unknown codes). */
export function ivStatusFromCode(code: number): IvStatus {
  return IV_STATUS_BY_CODE[code] ?? 'invalid';
}
