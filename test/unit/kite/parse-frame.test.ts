import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  isHeartbeat,
  type MalformedPacket,
  MalformedReason,
  PacketLength,
  parseFrame,
} from '../../../ingest-task/kite/protocol/index.js';
import { rawFrame } from '../../support/kite/raw-frame.js';

const AT = 1_718_176_569_500;

/** The two ticks of the package's own documentation example (RELIANCE full, NIFTY 50 index full). */
const RELIANCE_FULL = encodeFrame([
  {
    instrumentToken: 738_561,
    mode: 'full',
    lastPrice: 2940.7,
    lastTradedQuantity: 1,
    averageTradedPrice: 2933.55,
    volumeTraded: 2_827_705,
    totalBuyQuantity: 213_779,
    totalSellQuantity: 425_119,
    ohlc: { open: 2915, high: 2949, low: 2910.35, close: 2913.35 },
    lastTradeTimeMs: 1_718_176_569_000,
    exchangeTimestampMs: 1_718_176_569_000,
    depth: {
      buy: [{ quantity: 10, price: 2940.65, orders: 2 }],
      sell: [{ quantity: 7, price: 2940.8, orders: 1 }],
    },
  },
  {
    instrumentToken: 256_265,
    mode: 'full',
    lastPrice: 23_406.85,
    ohlc: { open: 23_344.45, high: 23_441.95, low: 23_295.95, close: 23_264.85 },
    exchangeTimestampMs: 1_718_176_569_000,
  },
]);

function collect(): { problems: MalformedPacket[]; onMalformed: (p: MalformedPacket) => void } {
  const problems: MalformedPacket[] = [];
  return { problems, onMalformed: (p) => problems.push(p) };
}

describe('parseFrame', () => {
  it('decodes a full equity packet and a full index packet as the package documents them', () => {
    const { ticks, malformed } = parseFrame(RELIANCE_FULL, AT);
    expect(malformed).toBe(0);
    expect(ticks).toHaveLength(2);
    const [equity, index] = ticks;
    expect(equity).toMatchObject({
      instrumentToken: 738_561,
      mode: 'full',
      tradable: true,
      lastPrice: 2940.7,
      volumeTraded: 2_827_705,
      change: 0.9387818147493404,
      lastTradeTimeMs: 1_718_176_569_000,
      oi: 0,
      receivedAtMs: AT,
    });
    expect(equity?.depth?.buy[0]).toEqual({ quantity: 10, price: 2940.65, orders: 2 });
    expect(equity?.depth?.sell[0]).toEqual({ quantity: 7, price: 2940.8, orders: 1 });
    expect(equity?.depth?.buy).toHaveLength(5);
    expect(index).toEqual({
      instrumentToken: 256_265,
      mode: 'full',
      tradable: false,
      lastPrice: 23_406.85,
      ohlc: { open: 23_344.45, high: 23_441.95, low: 23_295.95, close: 23_264.85 },
      change: 0.6103628435171514,
      exchangeTimestampMs: 1_718_176_569_000,
      receivedAtMs: AT,
    });
  });

  it('divides currency derivative prices by 1e7 (NSE) and 1e4 (BSE)', () => {
    const frame = rawFrame([ltpPacket(0x0103, 832_500_000), ltpPacket(0x0106, 832_500)]);
    expect(parseFrame(frame, AT).ticks.map((t) => t.lastPrice)).toEqual([83.25, 83.25]);
  });

  it('reads the header and packets at the view offset of a Buffer slice', () => {
    const padded = Buffer.concat([Buffer.from([9, 9, 9]), RELIANCE_FULL]).subarray(3);
    expect(parseFrame(padded, AT)).toEqual(parseFrame(RELIANCE_FULL, AT));
    expect(parseFrame(RELIANCE_FULL.slice().buffer, AT)).toEqual(parseFrame(RELIANCE_FULL, AT));
  });

  it('returns no ticks and no problem for a one-byte heartbeat frame', () => {
    const { problems, onMalformed } = collect();
    const heartbeat = new Uint8Array([0]);
    expect(isHeartbeat(heartbeat)).toBe(true);
    expect(parseFrame(heartbeat, AT, onMalformed)).toEqual({ ticks: [], malformed: 0 });
    expect(problems).toEqual([]);
  });

  it('returns nothing for a frame that announces zero packets', () => {
    expect(parseFrame(new Uint8Array([0, 0]), AT)).toEqual({ ticks: [], malformed: 0 });
  });

  it('reports an empty frame as truncated', () => {
    const { problems, onMalformed } = collect();
    expect(parseFrame(new Uint8Array(0), AT, onMalformed)).toEqual({ ticks: [], malformed: 1 });
    expect(problems).toEqual([{ reason: MalformedReason.truncated, offset: 0, declaredLength: 0, frameLength: 0 }]);
  });

  it('skips a packet of unknown length, reports it and keeps reading the packets after it', () => {
    const { problems, onMalformed } = collect();
    const frame = rawFrame([ltpPacket(0x0101, 100), new Uint8Array(13), ltpPacket(0x0201, 250)]);
    const { ticks, malformed } = parseFrame(frame, AT, onMalformed);
    expect(ticks.map((t) => t.lastPrice)).toEqual([1, 2.5]);
    expect(malformed).toBe(1);
    expect(problems).toEqual([
      { reason: MalformedReason.unknownLength, offset: 12, declaredLength: 13, frameLength: frame.byteLength },
    ]);
  });

  it('keeps the ticks before a truncated packet and reports the truncation', () => {
    const { problems, onMalformed } = collect();
    const full = encodeFrame([{ instrumentToken: 0x0102, mode: 'full', lastPrice: 5 }]).subarray(4);
    const frame = rawFrame([ltpPacket(0x0101, 100), full], { truncateBy: 50 });
    const { ticks, malformed } = parseFrame(frame, AT, onMalformed);
    expect(ticks).toHaveLength(1);
    expect(malformed).toBe(1);
    expect(problems[0]).toMatchObject({
      reason: MalformedReason.truncated,
      offset: 12,
      declaredLength: PacketLength.full,
    });
  });

  it('reports a header that promises more packets than the frame holds', () => {
    const { problems, onMalformed } = collect();
    const frame = rawFrame([ltpPacket(0x0101, 100)], { count: 3 });
    expect(parseFrame(frame, AT, onMalformed)).toMatchObject({ malformed: 1 });
    expect(parseFrame(frame, AT).ticks).toHaveLength(1);
    expect(problems).toEqual([{ reason: MalformedReason.truncated, offset: 12, declaredLength: 0, frameLength: 12 }]);
  });

  it('reports bytes left after the announced packets but keeps the ticks', () => {
    const { problems, onMalformed } = collect();
    const frame = rawFrame([ltpPacket(0x0101, 100), ltpPacket(0x0101, 200)], { count: 1 });
    const { ticks, malformed } = parseFrame(frame, AT, onMalformed);
    expect(ticks).toHaveLength(1);
    expect(malformed).toBe(1);
    expect(problems[0]?.reason).toBe(MalformedReason.trailingBytes);
  });

  it('never throws on arbitrary bytes and counts every problem it reports', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const { problems, onMalformed } = collect();
        const { malformed, ticks } = parseFrame(bytes, AT, onMalformed);
        expect(malformed).toBe(problems.length);
        expect(Array.isArray(ticks)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves zero timestamps undefined rather than the epoch', () => {
    const frame = encodeFrame([{ instrumentToken: 0x0102, mode: 'full', lastPrice: 5 }]);
    const [tick] = parseFrame(frame, AT).ticks;
    expect(tick?.lastTradeTimeMs).toBeUndefined();
    expect(tick?.exchangeTimestampMs).toBeUndefined();
  });
});

function ltpPacket(token: number, rawPrice: number): Uint8Array {
  const packet = new Uint8Array(PacketLength.ltp);
  const view = new DataView(packet.buffer);
  view.setUint32(0, token);
  view.setInt32(4, rawPrice);
  return packet;
}
