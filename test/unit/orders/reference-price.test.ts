import { describe, expect, it } from 'vitest';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { referencePriceOf } from '../../../shared/market-data/reference-price.js';

describe('referencePriceOf', () => {
  it('is the 30-s average when the ingest task has written one', async () => {
    const state = new MemoryLiveStateStore();
    await state.putReferencePrices(new Map([[101, 98.4]]), 5000);
    await state.putLatest(new Map([[101, '{"instrument_token":101,"last_price":120}']]));
    expect(await referencePriceOf(state, 101)).toBe(98.4);
  });

  it("falls back to the latest tick's last price when there is no average", async () => {
    const state = new MemoryLiveStateStore();
    await state.putReferencePrices(new Map([[999, 1]]), 5000);
    await state.putLatest(new Map([[101, '{"instrument_token":101,"last_price":120.35,"volume":10}']]));
    expect(await referencePriceOf(state, 101)).toBe(120.35);
  });

  it('falls back to the latest tick once the averages have expired', async () => {
    let now = 0;
    const state = new MemoryLiveStateStore({ now: () => now });
    await state.putReferencePrices(new Map([[101, 98.4]]), 5000);
    await state.putLatest(new Map([[101, '{"instrument_token":101,"last_price":120}']]));
    now = 5000;
    expect(await referencePriceOf(state, 101)).toBe(120);
  });

  it('is undefined for a token with neither, or whose latest tick has no usable price', async () => {
    const state = new MemoryLiveStateStore();
    await state.putLatest(
      new Map([
        [1, '{"instrument_token":1,"last_price":0}'],
        [2, '{"instrument_token":2}'],
        [3, 'not json'],
        [4, '{"instrument_token":4,"last_price":"12"}'],
      ]),
    );
    for (const token of [1, 2, 3, 4, 5]) expect(await referencePriceOf(state, token), String(token)).toBeUndefined();
  });
});
