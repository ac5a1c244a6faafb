import { describe, expect, it } from 'vitest';
import { encodeFrame, PacketLength, packetLengthOf } from '../../../ingest-task/kite/protocol/index.js';

const NIFTY_INDEX = 256_265;
const NIFTY_OPTION = 12_345_602;

describe('encodeFrame', () => {
  it('chooses the packet length from the mode and whether the token is an index', () => {
    expect(packetLengthOf({ instrumentToken: NIFTY_OPTION, mode: 'ltp' })).toBe(PacketLength.ltp);
    expect(packetLengthOf({ instrumentToken: NIFTY_OPTION, mode: 'quote' })).toBe(PacketLength.quote);
    expect(packetLengthOf({ instrumentToken: NIFTY_OPTION, mode: 'full' })).toBe(PacketLength.full);
    expect(packetLengthOf({ instrumentToken: NIFTY_INDEX, mode: 'ltp' })).toBe(PacketLength.ltp);
    expect(packetLengthOf({ instrumentToken: NIFTY_INDEX, mode: 'quote' })).toBe(PacketLength.indexQuote);
    expect(packetLengthOf({ instrumentToken: NIFTY_INDEX, mode: 'full' })).toBe(PacketLength.indexFull);
  });

  it('writes the big-endian header, each length and the packets back to back', () => {
    const frame = encodeFrame([
      { instrumentToken: NIFTY_OPTION, mode: 'ltp', lastPrice: 250.05 },
      { instrumentToken: NIFTY_INDEX, mode: 'quote', lastPrice: 19_000 },
    ]);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    expect(frame.byteLength).toBe(2 + 2 + 8 + 2 + 28);
    expect(view.getUint16(0)).toBe(2);
    expect(view.getUint16(2)).toBe(8);
    expect(view.getUint32(4)).toBe(NIFTY_OPTION);
    expect(view.getInt32(8)).toBe(25_005);
    expect(view.getUint16(12)).toBe(28);
    expect(view.getUint32(14)).toBe(NIFTY_INDEX);
  });

  it('encodes an empty list as a frame announcing zero packets', () => {
    expect([...encodeFrame([])]).toEqual([0, 0]);
  });

  it('rejects values that do not fit their field instead of wrapping them', () => {
    expect(() => encodeFrame([{ instrumentToken: -1, mode: 'ltp', lastPrice: 1 }])).toThrow(RangeError);
    expect(() => encodeFrame([{ instrumentToken: 1.5, mode: 'ltp', lastPrice: 1 }])).toThrow(/instrumentToken/);
    expect(() => encodeFrame([{ instrumentToken: NIFTY_OPTION, mode: 'ltp', lastPrice: 3e7 }])).toThrow(/lastPrice/);
    expect(() =>
      encodeFrame([{ instrumentToken: NIFTY_OPTION, mode: 'quote', lastPrice: 1, volumeTraded: 2 ** 31 }]),
    ).toThrow(/volumeTraded/);
    expect(() =>
      encodeFrame([
        {
          instrumentToken: NIFTY_OPTION,
          mode: 'full',
          lastPrice: 1,
          depth: { buy: [{ quantity: 1, price: 1, orders: 70_000 }], sell: [] },
        },
      ]),
    ).toThrow(/depth\.buy\[0\]\.orders/);
    expect(() =>
      encodeFrame([
        {
          instrumentToken: NIFTY_OPTION,
          mode: 'full',
          lastPrice: 1,
          depth: { buy: Array.from({ length: 6 }, () => ({ quantity: 1, price: 1, orders: 1 })), sell: [] },
        },
      ]),
    ).toThrow(/at most 5 levels/);
  });

  it('rounds prices to paise and floors timestamps to seconds', () => {
    const frame = encodeFrame([
      { instrumentToken: NIFTY_INDEX, mode: 'full', lastPrice: 19_000.004, exchangeTimestampMs: 1_700_000_000_999 },
    ]);
    const view = new DataView(frame.buffer);
    expect(view.getInt32(8)).toBe(1_900_000);
    expect(view.getInt32(4 + 28)).toBe(1_700_000_000);
  });
});
