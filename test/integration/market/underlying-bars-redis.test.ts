import { afterEach, describe, expect, it } from 'vitest';
import { MockFeed } from '../../../ingest-task/feeds/mock-feed.js';
import { UnderlyingBarPublisher } from '../../../ingest-task/feeds/underlying-bar-publisher.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { RedisTickBus } from '../../../shared/adapters/redis/redis-tick-bus.js';
import { UnderlyingBar } from '../../../shared/contracts/tick.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { MockMarket } from '../../../shared/domain/market/mock-market.js';
import { UnderlyingBarAggregator } from '../../../shared/domain/market/underlying-bars.js';
import { sharedRedisUrl } from '../../support/shared-services.js';
import { waitFor } from '../../support/wait.js';

/** A start time no other test uses, so bars from other suites on the shared server are told apart. */
const START_MS = Date.UTC(2031, 6, 15, 4, 0, 0);

describe('UnderlyingBarPublisher on Redis', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('TC-MATL-022: publishes 60 s of mock underlying bars, one per interval with valid OHLC, to ticker:nifty:underlying', async () => {
    const publisherBus = await RedisTickBus.connect(sharedRedisUrl());
    cleanup.push(() => publisherBus.close());
    const subscriberBus = await RedisTickBus.connect(sharedRedisUrl());
    cleanup.push(() => subscriberBus.close());
    const bars: UnderlyingBar[] = [];
    await subscriberBus.subscribe('ticker:nifty:underlying', (_channel, message) => {
      const bar = UnderlyingBar.parse(JSON.parse(message));
      if (Date.parse(bar.timestamp) >= START_MS) bars.push(bar);
    });

    const instruments = mockInstruments({ anchorDate: '2031-07-15', strikesEachSide: 1 });
    const market = new MockMarket({
      seed: 42,
      instruments,
      priceVariationBps: 15,
      volumeVariation: 0.1,
      pricing: { rate: 0.1, dividendYield: 0 },
    });
    const clock = new ManualClock(START_MS);
    const aggregator = new UnderlyingBarAggregator({
      intervalSeconds: 1,
      instruments: instruments.filter((i) => i.instrumentType === 'INDEX'),
      isMock: true,
    });
    const publisher = new UnderlyingBarPublisher({ aggregator, bus: publisherBus, clock });
    // Two accounts stream the index; their ticks make one bar per interval.
    const feeds = ['account-1', 'account-2'].map(
      (name) => new MockFeed({ name, market, clock, intervalMs: 250, onTicks: publisher.accept }),
    );
    const stop = new AbortController();
    const runs = [publisher.run(stop.signal), ...feeds.map((feed) => feed.run(stop.signal))];
    for (let second = 0; second < 60; second++) {
      clock.advance(1000);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    stop.abort();
    await Promise.all(runs);
    await waitFor(() => bars.length >= 60, { message: '60 bars on ticker:nifty:underlying' });

    expect(bars.map((b) => Date.parse(b.timestamp))).toEqual(Array.from({ length: 60 }, (_, i) => START_MS + i * 1000));
    for (const bar of bars) {
      expect(bar).toMatchObject({ instrument_token: 256265, tradingsymbol: 'NIFTY 50', is_mock: true });
      expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
      expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
      expect(bar.volume).toBeGreaterThan(0);
    }
    expect(clock.pendingTimers).toBe(0);
  });
});
