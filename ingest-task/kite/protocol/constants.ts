/**
 * Numbers of Kite's streaming protocol (Kite Connect v3 WebSocket), in one place so the parser,
 * the encoder, the simulator and the tests cannot disagree about them.
 */

/**
 * Byte length of each packet kind. Kite sends no mode field: the length of a packet is how a reader
 * knows what it holds, so these five numbers are the whole of the format's type system.
 */
export const PacketLength = {
  /** Token and last price. */
  ltp: 8,
  /** An index (segment 9) in quote mode: last price, high, low, open, close, change. */
  indexQuote: 28,
  /** An index in full mode: the quote packet plus the exchange timestamp. */
  indexFull: 32,
  /** A tradable instrument in quote mode: prices, quantities and open/high/low/close. */
  quote: 44,
  /** A tradable instrument in full mode: the quote packet, times, open interest and five levels of depth. */
  full: 184,
} as const;
export type PacketLength = (typeof PacketLength)[keyof typeof PacketLength];

/**
 * Exchange segments, the low byte of an instrument token. The segment decides the price divisor
 * and whether the instrument can be traded at all (indices cannot).
 */
export const Segment = {
  nseCm: 1,
  nseFo: 2,
  /** NSE currency derivatives: prices carry seven decimals. */
  nseCd: 3,
  bseCm: 4,
  bseFo: 5,
  /** BSE currency derivatives: prices carry four decimals. */
  bseCd: 6,
  mcxFo: 7,
  mcxSx: 8,
  /** Indices: streamed in the short index packets and never tradable. */
  indices: 9,
} as const;
export type Segment = (typeof Segment)[keyof typeof Segment];

/** Bytes of one market depth entry in a full packet: int32 quantity, int32 price, uint16 orders, 2 padding. */
export const DEPTH_ENTRY_LENGTH = 12;

/** Offset of the first depth entry inside a full packet. */
export const DEPTH_OFFSET = 64;

/** Depth levels per side in a full packet (five buy entries, then five sell entries). */
export const DEPTH_LEVELS = 5;

/** Length of a heartbeat frame: Kite sends one byte about every second when there is nothing else to send. */
export const HEARTBEAT_LENGTH = 1;

/** The exchange segment of an instrument token. */
export function segmentOf(instrumentToken: number): number {
  return instrumentToken & 0xff;
}

/**
 * What the integers of a packet's prices are divided by: Kite sends prices as integers in paise
 * (÷100), except currency derivatives, whose quotes need more decimals (NSE ÷1e7, BSE ÷1e4).
 */
export function priceDivisor(segment: number): number {
  if (segment === Segment.nseCd) return 10_000_000;
  if (segment === Segment.bseCd) return 10_000;
  return 100;
}
