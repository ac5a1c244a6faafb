import { describe, expect, it } from 'vitest';
import { MockFeed } from '../../../ingest-task/feeds/mock-feed.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { istDate } from '../../../shared/domain/market/calendar-dates.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { MockMarket } from '../../../shared/domain/market/mock-market.js';
import { MockMarketData } from '../../../shared/market-data/mock-market-data.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { MOCK_CONFIG, PRICING } from './market-fixtures.js';

const TICK = 0.05;
const HOLIDAYS = ['2026-12-25'];
/** 10:02:17.250 IST on Monday 7 December 2026: inside the session, off every minute and second boundary. */
const START_MS = Date.UTC(2026, 11, 7, 4, 32, 17, 250);
/** 15:30 IST the same day: the session's close. */
const CLOSE_MS = Date.UTC(2026, 11, 7, 10, 0, 0);

/** The live mock (market + feed on a manual clock) and the mock history, configured as the platform wires them. */
function platform(startMs: number) {
  const clock = new ManualClock(startMs);
  const instruments = mockInstruments({ anchorDate: istDate(startMs), strikesEachSide: 10, holidays: HOLIDAYS });
  const market = new MockMarket({
    ...MOCK_CONFIG,
    instruments,
    pricing: { rate: PRICING.rate, dividendYield: PRICING.dividendYield },
    holidays: HOLIDAYS,
  });
  const history = new MockMarketData({
    instruments: async () => instruments,
    seed: MOCK_CONFIG.seed,
    rate: PRICING.rate,
    dividendYield: PRICING.dividendYield,
    holidays: HOLIDAYS,
    now: () => clock.now(),
  });
  const latest = new Map<number, MarketTick>();
  const feed = new MockFeed({
    market,
    clock,
    intervalMs: 1000,
    onTicks: (ticks) => {
      for (const tick of ticks) latest.set(tick.instrumentToken, tick);
    },
  });
  const stop = new AbortController();
  const running = feed.run(stop.signal);
  return {
    clock,
    instruments,
    history,
    latest,
    stop: async () => {
      stop.abort();
      await running;
    },
  };
}

/** Instruments whose candles are checked: both indices, and of every expiry the strikes nearest the live index and the chain's ends. */
function sample(p: ReturnType<typeof platform>): Instrument[] {
  const strikes = new Set<number>();
  for (const spec of [MOCK_UNDERLYINGS.NIFTY, MOCK_UNDERLYINGS.BANKNIFTY]) {
    const level = p.latest.get(spec.indexToken)?.lastPrice ?? spec.spot;
    const listed = p.instruments.filter((i) => i.name === spec.name && i.strike > 0).map((i) => i.strike);
    const nearest = listed.reduce((a, b) => (Math.abs(b - level) < Math.abs(a - level) ? b : a));
    for (const strike of [nearest, Math.min(...listed), Math.max(...listed)]) strikes.add(strike);
  }
  return p.instruments.filter((i) => i.instrumentType === 'INDEX' || strikes.has(i.strike));
}

/** Every difference beyond a tick between the live feed's last prices and what the history gives at the clock's time. */
async function disagreements(p: ReturnType<typeof platform>, candles: readonly Instrument[]): Promise<string[]> {
  const now = p.clock.now();
  const tokens = p.instruments.map((i) => i.instrumentToken);
  const quoted = await p.history.lastPrices(tokens);
  const problems: string[] = [];
  for (const instrument of p.instruments) {
    const live = p.latest.get(instrument.instrumentToken);
    if (live?.exchangeTimestampMs !== now) {
      problems.push(`${instrument.tradingsymbol}: no live tick at ${now}`);
      continue;
    }
    const last = quoted.get(instrument.instrumentToken);
    if (last === undefined || Math.abs(last - live.lastPrice) > TICK / 2) {
      problems.push(`${instrument.tradingsymbol}: lastPrices ${last}, live ${live.lastPrice}`);
    }
  }
  for (const instrument of candles) {
    const live = p.latest.get(instrument.instrumentToken)?.lastPrice;
    for (const interval of ['minute', '5minute', 'day'] as const) {
      const history = await p.history.historical({
        instrumentToken: instrument.instrumentToken,
        from: now - 86_400_000,
        to: now,
        interval,
        oi: false,
      });
      const close = history.at(-1)?.close;
      if (close === undefined || live === undefined || Math.abs(close - live) > TICK / 2) {
        problems.push(`${instrument.tradingsymbol}: last ${interval} close ${close}, live ${live}`);
      }
    }
  }
  return problems;
}

describe('mock live feed and mock history', () => {
  it('agree on every price at the first tick after start, the moment a paper order may fill', async () => {
    const p = platform(START_MS);
    try {
      // Options priced well above a tick (where the history's day close once differed most) are among those checked.
      const checked = sample(p);
      expect(checked.filter((i) => (p.latest.get(i.instrumentToken)?.lastPrice ?? 0) > 20).length).toBeGreaterThan(4);
      expect(await disagreements(p, checked)).toEqual([]);
    } finally {
      await p.stop();
    }
  });

  it('keep agreeing as the feed steps through the session, across minute boundaries', async () => {
    const p = platform(START_MS);
    try {
      const candles = sample(p);
      for (let step = 1; step <= 100; step++) {
        p.clock.advance(1000);
        if (step % 10 !== 3) continue;
        expect(await disagreements(p, candles), `after ${step} s`).toEqual([]);
      }
    } finally {
      await p.stop();
    }
  });

  it('quote the live price outside the session, and end the history on the price streamed at the close', async () => {
    const atClose = platform(CLOSE_MS);
    const evening = platform(CLOSE_MS + 3 * 3_600_000);
    try {
      const quoted = await evening.history.lastPrices(evening.instruments.map((i) => i.instrumentToken));
      for (const instrument of evening.instruments) {
        expect(quoted.get(instrument.instrumentToken)).toBe(evening.latest.get(instrument.instrumentToken)?.lastPrice);
      }
      // The index keeps moving overnight (the dashboard stays alive), while history stops at 15:30.
      const nifty = MOCK_UNDERLYINGS.NIFTY.indexToken;
      expect(evening.latest.get(nifty)?.lastPrice).not.toBe(atClose.latest.get(nifty)?.lastPrice);
      for (const instrument of sample(atClose)) {
        const candles = await evening.history.historical({
          instrumentToken: instrument.instrumentToken,
          from: CLOSE_MS - 3_600_000,
          to: evening.clock.now(),
          interval: 'minute',
          oi: false,
        });
        expect(candles.at(-1)?.date).toBe(CLOSE_MS - 60_000);
        expect(candles.at(-1)?.close).toBe(atClose.latest.get(instrument.instrumentToken)?.lastPrice);
      }
    } finally {
      await atClose.stop();
      await evening.stop();
    }
  });
});
