import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DepthLevelInput,
  encodeFrame,
  type PacketInput,
  PacketLength,
  parseFrame,
  priceDivisor,
  Segment,
} from '../../../ingest-task/kite/protocol/index.js';
import type { KiteMode } from '../../../shared/contracts/tick.js';
import { rawFrame } from '../../support/kite/raw-frame.js';
import { loadReferenceParser, referenceToMarketTick, toArrayBuffer } from '../../support/kite/reference-parser.js';

/*
 * Our parser against the kiteconnect package's own `parseBinary`, on generated frames: every packet
 * kind, tokens in every segment (currency derivatives and indices included), values across the whole
 * int32 range, zero closes and zero timestamps (the branches where the package's semantics differ).
 */

const reference = loadReferenceParser();
const RECEIVED_AT = 1_718_176_569_123;
const RUNS = 1500;

const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...Object.values(Segment)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const token = fc.tuple(fc.integer({ min: 0, max: 0xff_ffff }), segment).map(([high, low]) => ((high << 8) | low) >>> 0);
/** Zero often: a zero close and a zero timestamp take their own paths in both parsers. */
const maybeZero = (arbitrary: fc.Arbitrary<number>) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 3, arbitrary });

/** Offsets of fields the generator zeroes on demand, per packet length. */
const CLOSE_OFFSET: Readonly<Record<number, number>> = { 28: 20, 32: 20, 44: 40, 184: 40 };
const TIME_OFFSETS: Readonly<Record<number, readonly number[]>> = { 32: [28], 184: [44, 60] };

/** A packet of random bytes of a known length, with the token's segment and some zero fields chosen. */
const rawPacket = fc
  .record({
    length: fc.constantFrom(...Object.values(PacketLength)),
    bytes: fc.uint8Array({ minLength: 184, maxLength: 184 }),
    segment,
    zeroClose: fc.boolean(),
    zeroTimes: fc.boolean(),
  })
  .map(({ length, bytes, segment, zeroClose, zeroTimes }) => {
    const packet = bytes.slice(0, length);
    const view = new DataView(packet.buffer);
    packet[3] = segment;
    const close = CLOSE_OFFSET[length];
    if (zeroClose && close !== undefined) view.setInt32(close, 0);
    if (zeroTimes) for (const at of TIME_OFFSETS[length] ?? []) view.setInt32(at, 0);
    return packet;
  });

const depthLevel = (divisor: number): fc.Arbitrary<DepthLevelInput> =>
  fc.record({
    quantity: int32,
    price: int32.map((raw) => raw / divisor),
    orders: fc.integer({ min: 0, max: 0xffff }),
  });

/** Structured input built from raw integers, so every value survives encoding exactly. */
const packetInput: fc.Arbitrary<PacketInput> = fc
  .record({ instrumentToken: token, mode: fc.constantFrom<KiteMode>('ltp', 'quote', 'full') })
  .chain(({ instrumentToken, mode }) => {
    const divisor = priceDivisor(instrumentToken & 0xff);
    const price = int32.map((raw) => raw / divisor);
    const timeMs = maybeZero(int32).map((s) => (s === 0 ? undefined : s * 1000));
    return fc.record({
      instrumentToken: fc.constant(instrumentToken),
      mode: fc.constant(mode),
      lastPrice: price,
      lastTradedQuantity: int32,
      averageTradedPrice: price,
      volumeTraded: int32,
      totalBuyQuantity: int32,
      totalSellQuantity: int32,
      ohlc: fc.record({ open: price, high: price, low: price, close: maybeZero(int32).map((raw) => raw / divisor) }),
      change: int32,
      lastTradeTimeMs: timeMs,
      oi: int32,
      oiDayHigh: int32,
      oiDayLow: int32,
      exchangeTimestampMs: timeMs,
      depth: fc.record({
        buy: fc.array(depthLevel(divisor), { minLength: 5, maxLength: 5 }),
        sell: fc.array(depthLevel(divisor), { minLength: 5, maxLength: 5 }),
      }),
    });
  });

function referenceTicks(frame: Uint8Array) {
  return reference(toArrayBuffer(frame)).map((tick) => referenceToMarketTick(tick, RECEIVED_AT));
}

describe('parseFrame against kiteconnect parseBinary', () => {
  it('agrees field by field on frames of random packets of every length', () => {
    let packets = 0;
    fc.assert(
      fc.property(fc.array(rawPacket, { minLength: 1, maxLength: 12 }), (raw) => {
        const frame = rawFrame(raw);
        const ours = parseFrame(frame, RECEIVED_AT);
        expect(ours.malformed).toBe(0);
        expect(ours.ticks).toEqual(referenceTicks(frame));
        packets += raw.length;
      }),
      { numRuns: RUNS },
    );
    expect(packets).toBeGreaterThan(5000);
  });

  it('without depth decoding, agrees on every field but the depth it leaves out', () => {
    fc.assert(
      fc.property(fc.array(rawPacket, { minLength: 1, maxLength: 12 }), (raw) => {
        const frame = rawFrame(raw);
        const ours = parseFrame(frame, RECEIVED_AT, undefined, { depth: false });
        for (const tick of ours.ticks) expect(tick).not.toHaveProperty('depth');
        expect(ours.ticks).toEqual(referenceTicks(frame).map(({ depth: _, ...rest }) => rest));
      }),
      { numRuns: 200 },
    );
  });

  it('agrees on frames the encoder builds from structured ticks in every mode and segment', () => {
    fc.assert(
      fc.property(fc.array(packetInput, { minLength: 1, maxLength: 8 }), (inputs) => {
        const frame = encodeFrame(inputs);
        expect(parseFrame(frame, RECEIVED_AT).ticks).toEqual(referenceTicks(frame));
      }),
      { numRuns: RUNS },
    );
  });

  it('reads tokens above 2^31 unsigned where the package turns them negative', () => {
    const frame = encodeFrame([{ instrumentToken: 0x8000_0102, mode: 'ltp', lastPrice: 1.5 }]);
    const [theirs] = reference(toArrayBuffer(frame));
    expect(theirs?.instrument_token).toBe(0x8000_0102 | 0);
    expect(parseFrame(frame, RECEIVED_AT).ticks[0]?.instrumentToken).toBe(0x8000_0102);
  });
});

describe('encodeFrame', () => {
  it('is inverted by parseFrame: every field written comes back unchanged', () => {
    fc.assert(
      fc.property(fc.array(packetInput, { minLength: 1, maxLength: 8 }), (inputs) => {
        const { ticks, malformed } = parseFrame(encodeFrame(inputs), RECEIVED_AT);
        expect(malformed).toBe(0);
        expect(ticks).toHaveLength(inputs.length);
        ticks.forEach((tick, i) => {
          const input = inputs[i];
          if (!input) throw new Error('missing input');
          expect(tick.instrumentToken).toBe(input.instrumentToken);
          expect(tick.mode).toBe(input.mode);
          expect(tick.lastPrice).toBe(input.lastPrice);
          if (tick.mode === 'ltp') return;
          const index = (input.instrumentToken & 0xff) === Segment.indices;
          expect(tick.ohlc).toEqual(input.ohlc);
          if (index) {
            if (input.ohlc?.close === 0) expect(tick.change).toBe(input.change);
            if (tick.mode === 'full') expect(tick.exchangeTimestampMs).toBe(input.exchangeTimestampMs);
            return;
          }
          expect(tick).toMatchObject({
            lastTradedQuantity: input.lastTradedQuantity,
            averageTradedPrice: input.averageTradedPrice,
            volumeTraded: input.volumeTraded,
            totalBuyQuantity: input.totalBuyQuantity,
            totalSellQuantity: input.totalSellQuantity,
          });
          if (tick.mode === 'full') {
            expect(tick).toMatchObject({ oi: input.oi, oiDayHigh: input.oiDayHigh, oiDayLow: input.oiDayLow });
            expect(tick.lastTradeTimeMs).toBe(input.lastTradeTimeMs);
            expect(tick.exchangeTimestampMs).toBe(input.exchangeTimestampMs);
            expect(tick.depth).toEqual(input.depth);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});
