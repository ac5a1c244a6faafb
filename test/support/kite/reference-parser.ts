import { KiteTicker } from 'kiteconnect';
import type { MarketTick } from '../../../shared/contracts/tick.js';

/**
 * The `kiteconnect` package's own binary parser, the reference our parser is tested and benchmarked
 * against. The package does not export `parseBinary`; a `KiteTicker` instance forwards to it. Making
 * one is safe: the constructor only records its parameters and reconnect settings (module state, no
 * socket, no timer); `connect()`, which we never call, is what opens a socket and can end the
 * process.
 */

/** A tick as the package returns it: snake_case fields, `Date` timestamps, `null` for none. */
export interface ReferenceTick {
  readonly tradable: boolean;
  readonly mode: string;
  readonly instrument_token: number;
  readonly last_price: number;
  readonly last_traded_quantity?: number;
  readonly average_traded_price?: number;
  readonly volume_traded?: number;
  readonly total_buy_quantity?: number;
  readonly total_sell_quantity?: number;
  readonly ohlc?: { readonly open: number; readonly high: number; readonly low: number; readonly close: number };
  readonly change?: number;
  readonly last_trade_time?: Date | null;
  readonly exchange_timestamp?: Date | null;
  readonly oi?: number;
  readonly oi_day_high?: number;
  readonly oi_day_low?: number;
  readonly depth?: {
    readonly buy: readonly { quantity: number; price: number; orders: number }[];
    readonly sell: readonly { quantity: number; price: number; orders: number }[];
  };
}

/** Parses one binary frame with the package's `parseBinary`. */
export type ReferenceParser = (frame: ArrayBuffer) => ReferenceTick[];

/** Loads the package's parser; fails loudly if a new version stops exposing it. */
export function loadReferenceParser(): ReferenceParser {
  const ticker = new KiteTicker({ api_key: 'reference', access_token: 'reference', reconnect: false });
  const parseBinary = (ticker as unknown as { parseBinary?: unknown }).parseBinary;
  if (typeof parseBinary !== 'function') {
    throw new TypeError('kiteconnect no longer exposes KiteTicker#parseBinary; the differential tests need it');
  }
  return (frame) => parseBinary.call(ticker, frame) as ReferenceTick[];
}

/** The bytes of `frame` as a standalone ArrayBuffer, which is what the package's parser reads. */
export function toArrayBuffer(frame: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(frame.byteLength);
  copy.set(frame);
  return copy.buffer;
}

const FIELDS: Readonly<Record<string, keyof MarketTick>> = {
  tradable: 'tradable',
  mode: 'mode',
  instrument_token: 'instrumentToken',
  last_price: 'lastPrice',
  last_traded_quantity: 'lastTradedQuantity',
  average_traded_price: 'averageTradedPrice',
  volume_traded: 'volumeTraded',
  total_buy_quantity: 'totalBuyQuantity',
  total_sell_quantity: 'totalSellQuantity',
  ohlc: 'ohlc',
  change: 'change',
  last_trade_time: 'lastTradeTimeMs',
  exchange_timestamp: 'exchangeTimestampMs',
  oi: 'oi',
  oi_day_high: 'oiDayHigh',
  oi_day_low: 'oiDayLow',
  depth: 'depth',
};

/**
 * A package tick in our shape: camelCase names, `Date` → epoch ms, `null` → absent, and the token
 * read unsigned (the package reads it as a signed int32; ours deliberately does not). Throws on a
 * field it does not know, so a package upgrade that adds one fails the differential test instead
 * of passing it unchecked.
 */
export function referenceToMarketTick(tick: ReferenceTick, receivedAtMs: number): MarketTick {
  const out: Record<string, unknown> = { receivedAtMs };
  for (const [key, value] of Object.entries(tick)) {
    const name = FIELDS[key];
    if (name === undefined) throw new Error(`kiteconnect tick has an unmapped field: ${key}`);
    if (value === null) continue;
    if (value instanceof Date) out[name] = value.getTime();
    else if (name === 'instrumentToken') out[name] = (value as number) >>> 0;
    else out[name] = value;
  }
  return out as MarketTick;
}
