import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonArrayElements } from '../../../ingest-task/fanout/json-elements.js';

describe('jsonArrayElements', () => {
  it('gives back the text of every element of any JSON array, strings with brackets and escapes included', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), fc.boolean(), (values, spaced) => {
        const text = spaced ? JSON.stringify(values, null, 2) : JSON.stringify(values);
        const elements = jsonArrayElements(text);
        expect(elements?.map((e) => JSON.parse(e))).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))));
        if (!spaced) expect(elements).toEqual(values.map((v) => JSON.stringify(v)));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps each tick byte for byte, and answers undefined for a value that is not an array', () => {
    const ticks = ['{"instrument_token":1,"tradingsymbol":"A]\\"},[","last_price":1.5}', '{"instrument_token":2}'];
    expect(jsonArrayElements(`[${ticks.join(',')}]`)).toEqual(ticks);
    expect(jsonArrayElements(' [ ] ')).toEqual([]);
    expect(jsonArrayElements(ticks[0] as string)).toBeUndefined();
    expect(jsonArrayElements('42')).toBeUndefined();
  });
});
