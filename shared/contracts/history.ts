import { z } from 'zod';
import { IsoTimestamp } from './common.js';

/** The Greeks attached to a historical candle; `null` on the candle when they cannot be computed. */
export const CandleGreeks = z.object({
  delta: z.number(),
  gamma: z.number(),
  theta: z.number(),
  vega: z.number(),
});
export type CandleGreeks = z.infer<typeof CandleGreeks>;

/** One candle of `GET /history`. Frozen by TC-REG-003. */
export const HistoryCandle = z.object({
  date: IsoTimestamp,
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.int().nonnegative(),
  oi: z.int().nonnegative().nullable(),
  greeks: CandleGreeks.nullable(),
});
export type HistoryCandle = z.infer<typeof HistoryCandle>;

/** `GET /history` body (TC-REG-003). */
export const HistoryResponse = z.object({ candles: z.array(HistoryCandle) });
export type HistoryResponse = z.infer<typeof HistoryResponse>;
