import type { MarketTick } from '../../../shared/contracts/tick.js';
import {
  DEPTH_ENTRY_LENGTH,
  DEPTH_OFFSET,
  HEARTBEAT_LENGTH,
  PacketLength,
  priceDivisor,
  Segment,
} from './constants.js';

/*
 * Kite's binary tick frames, decoded by hand. The `kiteconnect` package has a parser
 * (`parseBinary`), but it lives inside its module-scoped `KiteTicker`, whose module keeps one socket
 * per process and calls `process.exit(1)` when its reconnects run out, so the service cannot depend
 * on it. Its field semantics are the reference all the same: the unit tests run both parsers on
 * generated frames and compare them field by field.
 *
 * Throughput matters here (tens of thousands of instruments, several ticks a second each): one
 * DataView per frame, no per-packet closures or slices, every tick a fresh object literal of one
 * shape per packet kind, so V8 keeps them in a few hidden classes.
 */

type DepthLevel = NonNullable<MarketTick['depth']>['buy'][number];

/** Why a packet (or the rest of a frame) was skipped. */
export const MalformedReason = {
  /** The frame ends inside a packet, its length field, or the frame header. Parsing stops there. */
  truncated: 'truncated',
  /** The packet's length is none of Kite's packet lengths; the packet is skipped, the next one is read. */
  unknownLength: 'unknown-length',
  /** Bytes remain after the packets the header announced; the ticks read are kept. */
  trailingBytes: 'trailing-bytes',
} as const;
export type MalformedReason = (typeof MalformedReason)[keyof typeof MalformedReason];

/** One problem found in a frame, for logs and counters. */
export interface MalformedPacket {
  readonly reason: MalformedReason;
  /** Byte offset in the frame where the problem starts (a packet's length field, or the header). */
  readonly offset: number;
  /** The packet length the frame declared there (0 when it could not be read). */
  readonly declaredLength: number;
  readonly frameLength: number;
}

/** Receives each problem `parseFrame` finds; called synchronously, only when there is one. */
export type MalformedPacketHandler = (problem: MalformedPacket) => void;

/** What one binary frame held. */
export interface ParsedFrame {
  /** The ticks of every well-formed packet, in frame order. */
  readonly ticks: MarketTick[];
  /** How many problems were found (skipped packets, a truncated end, trailing bytes); 0 for a clean frame. */
  readonly malformed: number;
}

/**
 * Decodes one binary frame, `[uint16 count]([uint16 length][packet])*` big-endian, into ticks.
 *
 * It never throws: a feed that sends one bad frame must not take the stream down. A packet of an
 * unknown length is skipped and the next one read; a frame that ends early keeps the ticks before
 * the break. Each problem is counted in `malformed` and handed to `onMalformed`.
 *
 * A heartbeat (a one-byte frame) gives no ticks and no problem. Field semantics follow the
 * `kiteconnect` package exactly (signed 32-bit values, its `change` computation, zero timestamps
 * meaning none), with one deliberate difference: the instrument token is read unsigned, because a
 * token is an unsigned 32-bit number (the package would turn tokens above 2^31 negative).
 * Timestamps are epoch milliseconds; a zero timestamp is left `undefined`.
 *
 * @param data the frame as `ws` hands it (a Buffer is a Uint8Array) or an ArrayBuffer
 * @param receivedAtMs when the frame arrived, stamped on every tick
 * @param options `depth: false` leaves full-mode packets' market depth undecoded (ten objects
 *   fewer per tick, for consumers that never read it)
 */
export function parseFrame(
  data: Uint8Array | ArrayBuffer,
  receivedAtMs: number,
  onMalformed?: MalformedPacketHandler,
  options?: ParseOptions,
): ParsedFrame {
  const depth = options?.depth ?? true;
  const size = data.byteLength;
  const ticks: MarketTick[] = [];
  if (size < 2) {
    if (size === HEARTBEAT_LENGTH) return { ticks, malformed: 0 };
    onMalformed?.({ reason: MalformedReason.truncated, offset: 0, declaredLength: 0, frameLength: 0 });
    return { ticks, malformed: 1 };
  }
  const view = ArrayBuffer.isView(data) ? new DataView(data.buffer, data.byteOffset, size) : new DataView(data);
  const count = view.getUint16(0);
  let malformed = 0;
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 2 > size) {
      malformed++;
      onMalformed?.({ reason: MalformedReason.truncated, offset, declaredLength: 0, frameLength: size });
      return { ticks, malformed };
    }
    const length = view.getUint16(offset);
    const start = offset + 2;
    if (start + length > size) {
      malformed++;
      onMalformed?.({ reason: MalformedReason.truncated, offset, declaredLength: length, frameLength: size });
      return { ticks, malformed };
    }
    switch (length) {
      case PacketLength.full:
        ticks.push(readFull(view, start, receivedAtMs, depth));
        break;
      case PacketLength.quote:
        ticks.push(readQuote(view, start, receivedAtMs));
        break;
      case PacketLength.ltp:
        ticks.push(readLtp(view, start, receivedAtMs));
        break;
      case PacketLength.indexQuote:
        ticks.push(readIndexQuote(view, start, receivedAtMs));
        break;
      case PacketLength.indexFull:
        ticks.push(readIndexFull(view, start, receivedAtMs));
        break;
      default:
        malformed++;
        onMalformed?.({ reason: MalformedReason.unknownLength, offset, declaredLength: length, frameLength: size });
    }
    offset = start + length;
  }
  if (offset !== size) {
    malformed++;
    onMalformed?.({ reason: MalformedReason.trailingBytes, offset, declaredLength: 0, frameLength: size });
  }
  return { ticks, malformed };
}

/** How {@link parseFrame} decodes. */
export interface ParseOptions {
  /** Decode the market depth of full-mode packets. Default true. */
  readonly depth?: boolean;
}

/** Whether a binary frame is a heartbeat: Kite's keep-alive, one byte, no ticks. */
export function isHeartbeat(data: Uint8Array | ArrayBuffer): boolean {
  return data.byteLength === HEARTBEAT_LENGTH;
}

/** Epoch seconds to milliseconds; 0 (Kite's "no time") becomes undefined, as the package's `null`. */
function secondsToMs(seconds: number): number | undefined {
  return seconds === 0 ? undefined : seconds * 1000;
}

/** The package's `change`: percent from the close, or its fallback when there is no close. */
function changeFrom(lastPrice: number, close: number, fallback: number): number {
  return close !== 0 ? ((lastPrice - close) * 100) / close : fallback;
}

function readLtp(view: DataView, p: number, receivedAtMs: number): MarketTick {
  const instrumentToken = view.getUint32(p);
  const segment = instrumentToken & 0xff;
  return {
    instrumentToken,
    mode: 'ltp',
    tradable: segment !== Segment.indices,
    lastPrice: view.getInt32(p + 4) / priceDivisor(segment),
    receivedAtMs,
  };
}

function readIndexQuote(view: DataView, p: number, receivedAtMs: number): MarketTick {
  const instrumentToken = view.getUint32(p);
  const segment = instrumentToken & 0xff;
  const divisor = priceDivisor(segment);
  const lastPrice = view.getInt32(p + 4) / divisor;
  const close = view.getInt32(p + 20) / divisor;
  return {
    instrumentToken,
    mode: 'quote',
    tradable: segment !== Segment.indices,
    lastPrice,
    // Index packets put high and low before open, unlike quote packets.
    ohlc: {
      open: view.getInt32(p + 16) / divisor,
      high: view.getInt32(p + 8) / divisor,
      low: view.getInt32(p + 12) / divisor,
      close,
    },
    // Without a close the package reports the packet's own field, undivided.
    change: changeFrom(lastPrice, close, view.getInt32(p + 24)),
    receivedAtMs,
  };
}

function readIndexFull(view: DataView, p: number, receivedAtMs: number): MarketTick {
  const instrumentToken = view.getUint32(p);
  const segment = instrumentToken & 0xff;
  const divisor = priceDivisor(segment);
  const lastPrice = view.getInt32(p + 4) / divisor;
  const close = view.getInt32(p + 20) / divisor;
  return {
    instrumentToken,
    mode: 'full',
    tradable: segment !== Segment.indices,
    lastPrice,
    ohlc: {
      open: view.getInt32(p + 16) / divisor,
      high: view.getInt32(p + 8) / divisor,
      low: view.getInt32(p + 12) / divisor,
      close,
    },
    change: changeFrom(lastPrice, close, view.getInt32(p + 24)),
    exchangeTimestampMs: secondsToMs(view.getInt32(p + 28)),
    receivedAtMs,
  };
}

function readQuote(view: DataView, p: number, receivedAtMs: number): MarketTick {
  const instrumentToken = view.getUint32(p);
  const segment = instrumentToken & 0xff;
  const divisor = priceDivisor(segment);
  const lastPrice = view.getInt32(p + 4) / divisor;
  const close = view.getInt32(p + 40) / divisor;
  return {
    instrumentToken,
    mode: 'quote',
    tradable: segment !== Segment.indices,
    lastPrice,
    lastTradedQuantity: view.getInt32(p + 8),
    averageTradedPrice: view.getInt32(p + 12) / divisor,
    volumeTraded: view.getInt32(p + 16),
    totalBuyQuantity: view.getInt32(p + 20),
    totalSellQuantity: view.getInt32(p + 24),
    ohlc: {
      open: view.getInt32(p + 28) / divisor,
      high: view.getInt32(p + 32) / divisor,
      low: view.getInt32(p + 36) / divisor,
      close,
    },
    change: changeFrom(lastPrice, close, 0),
    receivedAtMs,
  };
}

function readFull(view: DataView, p: number, receivedAtMs: number, depth: boolean): MarketTick {
  const instrumentToken = view.getUint32(p);
  const segment = instrumentToken & 0xff;
  const divisor = priceDivisor(segment);
  const lastPrice = view.getInt32(p + 4) / divisor;
  const close = view.getInt32(p + 40) / divisor;
  const tick: MarketTick = {
    instrumentToken,
    mode: 'full',
    tradable: segment !== Segment.indices,
    lastPrice,
    lastTradedQuantity: view.getInt32(p + 8),
    averageTradedPrice: view.getInt32(p + 12) / divisor,
    volumeTraded: view.getInt32(p + 16),
    totalBuyQuantity: view.getInt32(p + 20),
    totalSellQuantity: view.getInt32(p + 24),
    ohlc: {
      open: view.getInt32(p + 28) / divisor,
      high: view.getInt32(p + 32) / divisor,
      low: view.getInt32(p + 36) / divisor,
      close,
    },
    change: changeFrom(lastPrice, close, 0),
    lastTradeTimeMs: secondsToMs(view.getInt32(p + 44)),
    oi: view.getInt32(p + 48),
    oiDayHigh: view.getInt32(p + 52),
    oiDayLow: view.getInt32(p + 56),
    exchangeTimestampMs: secondsToMs(view.getInt32(p + 60)),
    receivedAtMs,
  };
  if (depth) {
    const d = p + DEPTH_OFFSET;
    const e = DEPTH_ENTRY_LENGTH;
    tick.depth = {
      buy: [
        readLevel(view, d, divisor),
        readLevel(view, d + e, divisor),
        readLevel(view, d + 2 * e, divisor),
        readLevel(view, d + 3 * e, divisor),
        readLevel(view, d + 4 * e, divisor),
      ],
      sell: [
        readLevel(view, d + 5 * e, divisor),
        readLevel(view, d + 6 * e, divisor),
        readLevel(view, d + 7 * e, divisor),
        readLevel(view, d + 8 * e, divisor),
        readLevel(view, d + 9 * e, divisor),
      ],
    };
  }
  return tick;
}

function readLevel(view: DataView, at: number, divisor: number): DepthLevel {
  return { quantity: view.getInt32(at), price: view.getInt32(at + 4) / divisor, orders: view.getUint16(at + 8) };
}
