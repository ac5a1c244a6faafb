import { z } from 'zod';
import { InstrumentToken, IsoTimestamp } from './common.js';

/**
 * An option tick as clients receive it inside `{"type":"tick","data":…}` and as it travels on the
 * `ticker:<underlying>:options` channel. The first eleven fields are frozen by TC-REG-031; the rest
 * are additions (fields may be added, none removed or renamed). The fan-out forwards the bus bytes
 * unchanged, which is why the bus and the client share this one shape. The Greeks and `iv` are
 * rounded to 6 decimal places, gamma to 8 (`TICK_DECIMALS`; `iv` is a fraction, 0.1234 = 12.34 %).
 */
export const TickPayload = z.object({
  instrument_token: InstrumentToken,
  tradingsymbol: z.string(),
  last_price: z.number(),
  volume: z.int().nonnegative(),
  oi: z.int().nonnegative(),
  delta: z.number(),
  gamma: z.number(),
  theta: z.number(),
  vega: z.number(),
  timestamp: IsoTimestamp,
  is_mock: z.boolean(),
  rho: z.number().optional(),
  iv: z.number().nullable().optional(),
  iv_status: z.enum(['ok', 'expired', 'below-intrinsic', 'no-time-value', 'above-maximum', 'invalid']).optional(),
  underlying: z.string().optional(),
  underlying_price: z.number().optional(),
  strike: z.number().optional(),
  expiry: z.iso.date().optional(),
  option_type: z.enum(['CE', 'PE']).optional(),
  /** Milliseconds since the epoch when the platform received the tick from the exchange. */
  received_at_ms: z.number().optional(),
});
export type TickPayload = z.infer<typeof TickPayload>;

/** One bar of the underlying, published on `ticker:<underlying>:underlying`. */
export const UnderlyingBar = z.object({
  instrument_token: InstrumentToken,
  tradingsymbol: z.string(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.int().nonnegative(),
  timestamp: IsoTimestamp,
  is_mock: z.boolean(),
});
export type UnderlyingBar = z.infer<typeof UnderlyingBar>;

/** Kite's streaming modes in the wire protocol's spelling. */
export const KiteMode = z.enum(['ltp', 'quote', 'full']);
export type KiteMode = z.infer<typeof KiteMode>;

/** One level of market depth. */
export const DepthLevel = z.object({ quantity: z.int(), price: z.number(), orders: z.int() });

/**
 * The internal tick: what the Kite connection (or the mock feed) hands the pipeline, already
 * decoded from the binary frame and divided to rupees. Fields beyond `mode`'s packet are absent.
 * Internal, not frozen; timestamps are epoch milliseconds so the hot path never formats dates.
 */
export const MarketTick = z.object({
  instrumentToken: InstrumentToken,
  mode: KiteMode,
  tradable: z.boolean(),
  lastPrice: z.number(),
  lastTradedQuantity: z.number().optional(),
  averageTradedPrice: z.number().optional(),
  volumeTraded: z.number().optional(),
  totalBuyQuantity: z.number().optional(),
  totalSellQuantity: z.number().optional(),
  ohlc: z.object({ open: z.number(), high: z.number(), low: z.number(), close: z.number() }).optional(),
  change: z.number().optional(),
  lastTradeTimeMs: z.number().optional(),
  oi: z.number().optional(),
  oiDayHigh: z.number().optional(),
  oiDayLow: z.number().optional(),
  exchangeTimestampMs: z.number().optional(),
  depth: z.object({ buy: z.array(DepthLevel), sell: z.array(DepthLevel) }).optional(),
  /** When the platform received the frame, epoch milliseconds. */
  receivedAtMs: z.number(),
});
export type MarketTick = z.infer<typeof MarketTick>;
