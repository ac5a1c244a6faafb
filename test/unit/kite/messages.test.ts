import { describe, expect, it } from 'vitest';
import {
  encodeTextMessage,
  InvalidClientReason,
  InvalidTextReason,
  modeMessage,
  parseClientMessage,
  parseTextMessage,
  subscribeMessage,
  unsubscribeMessage,
} from '../../../ingest-task/kite/protocol/index.js';

describe('parseTextMessage', () => {
  it('decodes an order postback with its data object', () => {
    const text = '{"type":"order","data":{"order_id":"151220000000000","status":"COMPLETE","filled_quantity":50}}';
    expect(parseTextMessage(text)).toEqual({
      type: 'order',
      data: { order_id: '151220000000000', status: 'COMPLETE', filled_quantity: 50 },
    });
  });

  it('decodes error and broker message frames with their text', () => {
    expect(parseTextMessage('{"type":"error","data":"Invalid token"}')).toEqual({
      type: 'error',
      data: 'Invalid token',
    });
    expect(parseTextMessage('{"type":"message","data":"Market closes early"}')).toEqual({
      type: 'message',
      data: 'Market closes early',
    });
  });

  it('keeps non-string error data as its JSON text so the error still reaches the log', () => {
    expect(parseTextMessage('{"type":"error","data":{"code":42}}')).toEqual({ type: 'error', data: '{"code":42}' });
    expect(parseTextMessage('{"type":"message"}')).toEqual({ type: 'message', data: '' });
  });

  it('accepts the bytes of a text frame as well as a string', () => {
    expect(parseTextMessage(new TextEncoder().encode('{"type":"error","data":"x"}'))).toEqual({
      type: 'error',
      data: 'x',
    });
  });

  it.each([
    ['not json', 'nope{', InvalidTextReason.notJson],
    ['a JSON array', '[1,2]', InvalidTextReason.notAnObject],
    ['JSON null', 'null', InvalidTextReason.notAnObject],
    ['an unknown type', '{"type":"tick","data":1}', InvalidTextReason.unknownType],
    ['no type', '{"data":"x"}', InvalidTextReason.unknownType],
    ['an order without an object', '{"type":"order","data":"x"}', InvalidTextReason.badData],
    ['an order with an array', '{"type":"order","data":[]}', InvalidTextReason.badData],
  ])('returns an invalid result for %s, never throwing', (_, text, reason) => {
    expect(parseTextMessage(text)).toEqual({ type: 'invalid', reason, text });
  });

  it('reads what encodeTextMessage writes', () => {
    const message = { type: 'order', data: { order_id: '1' } } as const;
    expect(parseTextMessage(encodeTextMessage(message))).toEqual(message);
  });
});

describe('client message encoders', () => {
  it('encode subscribe, unsubscribe and mode with tokens as JSON numbers', () => {
    expect(subscribeMessage([256_265, 260_105])).toBe('{"a":"subscribe","v":[256265,260105]}');
    expect(unsubscribeMessage([256_265])).toBe('{"a":"unsubscribe","v":[256265]}');
    expect(modeMessage('full', [256_265, 1])).toBe('{"a":"mode","v":["full",[256265,1]]}');
  });

  it('refuse tokens JSON would send as null or as a fraction', () => {
    expect(() => subscribeMessage([Number.NaN])).toThrow(RangeError);
    expect(() => unsubscribeMessage([1.5])).toThrow(RangeError);
    expect(() => modeMessage('ltp', [-1])).toThrow(RangeError);
  });

  it('refuse a mode Kite does not know', () => {
    expect(() => modeMessage('depth' as 'full', [1])).toThrow(/Unknown Kite mode/);
  });
});

describe('parseClientMessage', () => {
  it('reads back every encoder', () => {
    expect(parseClientMessage(subscribeMessage([1, 2]))).toEqual({ action: 'subscribe', tokens: [1, 2] });
    expect(parseClientMessage(unsubscribeMessage([3]))).toEqual({ action: 'unsubscribe', tokens: [3] });
    expect(parseClientMessage(modeMessage('ltp', [4]))).toEqual({ action: 'mode', mode: 'ltp', tokens: [4] });
  });

  it.each([
    ['not json', '{', InvalidClientReason.notJson],
    ['an unknown action', '{"a":"ping"}', InvalidClientReason.unknownAction],
    ['a scalar', '42', InvalidClientReason.unknownAction],
    ['tokens as strings', '{"a":"subscribe","v":["256265"]}', InvalidClientReason.badTokens],
    ['tokens that are not a list', '{"a":"unsubscribe","v":5}', InvalidClientReason.badTokens],
    ['an unknown mode', '{"a":"mode","v":["depth",[1]]}', InvalidClientReason.badMode],
    ['a mode without tokens', '{"a":"mode","v":["full"]}', InvalidClientReason.badMode],
    ['mode tokens as strings', '{"a":"mode","v":["full",["1"]]}', InvalidClientReason.badTokens],
  ])('returns an invalid result for %s', (_, text, reason) => {
    expect(parseClientMessage(text)).toEqual({ action: 'invalid', reason, text });
  });
});
