import type { KiteMode } from '../../../shared/contracts/tick.js';
import {
  DEPTH_ENTRY_LENGTH,
  DEPTH_LEVELS,
  DEPTH_OFFSET,
  PacketLength,
  priceDivisor,
  Segment,
  segmentOf,
} from './constants.js';

/*
 * The inverse of `parseFrame`: builds Kite binary frames from structured ticks. The service never
 * sends these; the Kite simulator, the benchmarks and the tests do, and having one encoder next to
 * the parser keeps the byte layout written down once.
 */

/** One depth level in rupees, as the parser returns it. */
export interface DepthLevelInput {
  readonly quantity: number;
  readonly price: number;
  readonly orders: number;
}

/**
 * One packet to encode, in the parser's units (rupees, epoch milliseconds). `mode` and the token's
 * segment choose the packet: `ltp` → 8 bytes; `quote` → 44, or 28 for an index (segment 9); `full`
 * → 184, or 32 for an index. Fields the packet has but the input leaves out are written as zero
 * (Kite's "none" for timestamps); fields the packet lacks are ignored. A `MarketTick` is a valid
 * input, so `parseFrame(encodeFrame(ticks))` gives the ticks back.
 */
export interface PacketInput {
  readonly instrumentToken: number;
  readonly mode: KiteMode;
  readonly lastPrice: number;
  readonly lastTradedQuantity?: number | undefined;
  readonly averageTradedPrice?: number | undefined;
  readonly volumeTraded?: number | undefined;
  readonly totalBuyQuantity?: number | undefined;
  readonly totalSellQuantity?: number | undefined;
  readonly ohlc?:
    | { readonly open: number; readonly high: number; readonly low: number; readonly close: number }
    | undefined;
  /**
   * Index packets only: the integer written at offset 24, which readers report as `change` only when
   * the close is zero (otherwise they compute the percent change from the close).
   */
  readonly change?: number | undefined;
  readonly lastTradeTimeMs?: number | undefined;
  readonly oi?: number | undefined;
  readonly oiDayHigh?: number | undefined;
  readonly oiDayLow?: number | undefined;
  readonly exchangeTimestampMs?: number | undefined;
  /** Up to five levels a side; missing levels are written as zeros. */
  readonly depth?: { readonly buy: readonly DepthLevelInput[]; readonly sell: readonly DepthLevelInput[] } | undefined;
}

/** The byte length of the packet `input` encodes to. */
export function packetLengthOf(input: Pick<PacketInput, 'instrumentToken' | 'mode'>): PacketLength {
  const index = segmentOf(input.instrumentToken) === Segment.indices;
  switch (input.mode) {
    case 'ltp':
      return PacketLength.ltp;
    case 'quote':
      return index ? PacketLength.indexQuote : PacketLength.quote;
    case 'full':
      return index ? PacketLength.indexFull : PacketLength.full;
  }
}

/**
 * Encodes `packets` into one binary frame, `[uint16 count]([uint16 length][packet])*` big-endian.
 * Prices are rounded to the segment's resolution (paise, or 1e-7 / 1e-4 rupee for currency
 * derivatives) and timestamps floored to seconds.
 *
 * @throws RangeError when a value does not fit its field (a token outside uint32, a price or
 * quantity outside int32, more than 65535 packets or orders): a silently wrapped number would make
 * the simulator lie.
 */
export function encodeFrame(packets: readonly PacketInput[]): Uint8Array {
  if (packets.length > 0xffff) throw new RangeError(`A frame holds at most 65535 packets, got ${packets.length}`);
  let size = 2;
  for (const packet of packets) size += 2 + packetLengthOf(packet);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, packets.length);
  let offset = 2;
  for (const packet of packets) {
    const length = packetLengthOf(packet);
    view.setUint16(offset, length);
    writePacket(view, offset + 2, length, packet);
    offset += 2 + length;
  }
  return bytes;
}

function writePacket(view: DataView, p: number, length: PacketLength, input: PacketInput): void {
  const token = input.instrumentToken;
  if (!Number.isInteger(token) || token < 0 || token > 0xffff_ffff) {
    throw new RangeError(`instrumentToken must be an unsigned 32-bit integer, got ${token}`);
  }
  const divisor = priceDivisor(segmentOf(token));

  view.setUint32(p, token);
  view.setInt32(p + 4, price(input.lastPrice, divisor, 'lastPrice'));
  if (length === PacketLength.ltp) return;

  const ohlc = input.ohlc;
  if (length === PacketLength.indexQuote || length === PacketLength.indexFull) {
    view.setInt32(p + 8, price(ohlc?.high, divisor, 'ohlc.high'));
    view.setInt32(p + 12, price(ohlc?.low, divisor, 'ohlc.low'));
    view.setInt32(p + 16, price(ohlc?.open, divisor, 'ohlc.open'));
    view.setInt32(p + 20, price(ohlc?.close, divisor, 'ohlc.close'));
    view.setInt32(p + 24, int(input.change === undefined ? 0 : Math.round(input.change), 'change'));
    if (length === PacketLength.indexFull) {
      view.setInt32(p + 28, seconds(input.exchangeTimestampMs, 'exchangeTimestampMs'));
    }
    return;
  }

  view.setInt32(p + 8, int(input.lastTradedQuantity, 'lastTradedQuantity'));
  view.setInt32(p + 12, price(input.averageTradedPrice, divisor, 'averageTradedPrice'));
  view.setInt32(p + 16, int(input.volumeTraded, 'volumeTraded'));
  view.setInt32(p + 20, int(input.totalBuyQuantity, 'totalBuyQuantity'));
  view.setInt32(p + 24, int(input.totalSellQuantity, 'totalSellQuantity'));
  view.setInt32(p + 28, price(ohlc?.open, divisor, 'ohlc.open'));
  view.setInt32(p + 32, price(ohlc?.high, divisor, 'ohlc.high'));
  view.setInt32(p + 36, price(ohlc?.low, divisor, 'ohlc.low'));
  view.setInt32(p + 40, price(ohlc?.close, divisor, 'ohlc.close'));
  if (length === PacketLength.quote) return;

  view.setInt32(p + 44, seconds(input.lastTradeTimeMs, 'lastTradeTimeMs'));
  view.setInt32(p + 48, int(input.oi, 'oi'));
  view.setInt32(p + 52, int(input.oiDayHigh, 'oiDayHigh'));
  view.setInt32(p + 56, int(input.oiDayLow, 'oiDayLow'));
  view.setInt32(p + 60, seconds(input.exchangeTimestampMs, 'exchangeTimestampMs'));
  const sides = [input.depth?.buy ?? [], input.depth?.sell ?? []] as const;
  for (let side = 0; side < 2; side++) {
    const levels = sides[side] ?? [];
    if (levels.length > DEPTH_LEVELS) {
      throw new RangeError(`depth holds at most ${DEPTH_LEVELS} levels a side, got ${levels.length}`);
    }
    for (let i = 0; i < DEPTH_LEVELS; i++) {
      const at = p + DEPTH_OFFSET + (side * DEPTH_LEVELS + i) * DEPTH_ENTRY_LENGTH;
      const level = levels[i];
      const name = `depth.${side === 0 ? 'buy' : 'sell'}[${i}]`;
      view.setInt32(at, int(level?.quantity, `${name}.quantity`));
      view.setInt32(at + 4, price(level?.price, divisor, `${name}.price`));
      view.setUint16(at + 8, uint16(level?.orders ?? 0, `${name}.orders`));
    }
  }
}

function price(value: number | undefined, divisor: number, field: string): number {
  return int32(Math.round((value ?? 0) * divisor), field);
}

function int(value: number | undefined, field: string): number {
  return int32(value ?? 0, field);
}

function seconds(ms: number | undefined, field: string): number {
  return int32(ms === undefined ? 0 : Math.floor(ms / 1000), field);
}

function int32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new RangeError(`${field} does not fit a signed 32-bit field: ${value}`);
  }
  return value;
}

function uint16(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`${field} does not fit an unsigned 16-bit field: ${value}`);
  }
  return value;
}
