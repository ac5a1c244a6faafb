import { describe, expect, it } from 'vitest';
import { ReferencePricePublisher } from '../../../ingest-task/pipeline/reference-price-publisher.js';
import { TickPipeline } from '../../../ingest-task/pipeline/tick-pipeline.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { MOCK_UNDERLYINGS, mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { ReferencePriceWindow } from '../../../shared/domain/market/reference-price-window.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/logging.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { captureLogs } from '../../support/log-capture.js';

const silent = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/** A memory store that lets a test wait for each reference price write, instead of sleeping. */
class WatchedStore extends MemoryLiveStateStore {
  readonly writes: { prices: Map<number, number>; ttlMs: number; at: number }[] = [];
  failNext = 0;
  readonly #waiters: (() => void)[] = [];
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    super({ now: () => clock.now() });
    this.#clock = clock;
  }

  override async putReferencePrices(prices: ReadonlyMap<number, number>, ttlMs: number): Promise<void> {
    try {
      if (this.failNext > 0) {
        this.failNext--;
        throw new DependencyUnavailableError('redis', 'Writing the reference prices failed: connection is closed');
      }
      await super.putReferencePrices(prices, ttlMs);
      this.writes.push({ prices: new Map(prices), ttlMs, at: this.#clock.now() });
    } finally {
      this.#waiters.shift()?.();
    }
  }

  /** Resolves after the next write attempt, succeeded or failed. */
  nextWrite(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * Lets the publisher's pending promise callbacks run (one turn of the event loop, no time passes),
 * so after a write it has set its timer before the test moves the clock.
 */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup() {
  const clock = new ManualClock(Date.UTC(2026, 3, 7, 4, 30, 0));
  const window = new ReferencePriceWindow();
  const store = new WatchedStore(clock);
  return { clock, window, store };
}

describe('ReferencePricePublisher', () => {
  it('writes what the window holds: the 30-s average of every token that traded, with its TTL', async () => {
    const { clock, window, store } = setup();
    const a = window.slotOf(101);
    const b = window.slotOf(202);
    window.slotOf(303); // streamed, never traded: no price
    window.record(a, 100, undefined, clock.now());
    window.record(a, 110, undefined, clock.now() + 400);
    window.record(b, 42.5, undefined, clock.now());
    const publisher = new ReferencePricePublisher({ window, state: store, clock, logger: silent, ttlMs: 4000 });
    await publisher.publish();
    expect(store.writes).toEqual([
      {
        prices: new Map([
          [101, 105],
          [202, 42.5],
        ]),
        ttlMs: 4000,
        at: clock.now(),
      },
    ]);
    expect(await store.getReferencePrices([101, 202, 303])).toEqual(window.averages(clock.now()));
  });

  it('writes at once, then once a second as time passes, and stops when aborted', async () => {
    const { clock, window, store } = setup();
    const slot = window.slotOf(7);
    window.record(slot, 50, undefined, clock.now());
    const publisher = new ReferencePricePublisher({ window, state: store, clock, logger: silent });
    const stop = new AbortController();
    let written = store.nextWrite();
    const running = publisher.run(stop.signal);
    await written;
    await settled();
    expect(store.writes.map((w) => w.prices.get(7))).toEqual([50]);
    expect(clock.pendingTimers).toBe(1);

    window.record(slot, 70, undefined, clock.now() + 500);
    written = store.nextWrite();
    clock.advance(999);
    await settled();
    expect(store.writes).toHaveLength(1);
    clock.advance(1);
    await written;
    const first = store.writes[0]?.at ?? Number.NaN;
    expect(store.writes.map((w) => [w.at - first, w.prices.get(7)])).toEqual([
      [0, 50],
      [1000, 60],
    ]);

    // Both trades fell in the first second: 29 s on they still count, 30 s on they have left.
    for (let s = 0; s < 30; s++) {
      await settled();
      written = store.nextWrite();
      clock.advance(1000);
      await written;
    }
    expect(store.writes).toHaveLength(32);
    expect(store.writes[29]?.prices).toEqual(new Map([[7, 60]]));
    expect(store.writes[30]?.prices).toEqual(new Map());

    await settled();
    stop.abort();
    await running;
    expect(clock.pendingTimers).toBe(0);
  });

  it('logs a failed write once, keeps writing each second, and says when writes succeed again', async () => {
    const { clock, window, store } = setup();
    window.record(window.slotOf(7), 50, undefined, clock.now());
    store.failNext = 3;
    const stop = new AbortController();
    const { logs } = await captureLogs(async (logger) => {
      const publisher = new ReferencePricePublisher({ window, state: store, clock, logger });
      let written = store.nextWrite();
      const running = publisher.run(stop.signal);
      await written;
      for (let i = 0; i < 3; i++) {
        await settled();
        written = store.nextWrite();
        clock.advance(1000);
        await written;
      }
      stop.abort();
      await running;
    });
    expect(store.writes).toHaveLength(1);
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ['WARN', 'Reference prices not written'],
      ['INFO', 'Reference prices written again'],
    ]);
  });
});

describe('tick pipeline with a reference price window', () => {
  const instruments = mockInstruments({ anchorDate: '2025-01-08', strikesEachSide: 1 });
  const option = instruments.find((i) => i.name === 'NIFTY' && i.instrumentType === 'CE') as Instrument;
  const index = MOCK_UNDERLYINGS.NIFTY.indexToken;

  it('records every option tick that shows a trade, and no index tick', () => {
    const { clock, window } = setup();
    const pipeline = new TickPipeline({
      instruments,
      pricing: { model: 'black-scholes', rate: 0.1, dividendYield: 0 },
      sink: { enqueue: () => {} },
      clock,
      logger: silent,
      isMock: () => false,
      referencePrices: window,
    });
    const tick = (token: number, lastPrice: number, volumeTraded?: number): MarketTick => ({
      instrumentToken: token,
      mode: 'full',
      tradable: true,
      lastPrice,
      ...(volumeTraded !== undefined && { volumeTraded }),
      receivedAtMs: clock.now(),
    });
    pipeline.handle([tick(index, 24_000), tick(option.instrumentToken, 120, 1000)]);
    pipeline.handle([tick(option.instrumentToken, 130, 1065), tick(option.instrumentToken, 999, 1065)]);
    clock.advance(1000);
    pipeline.handle([tick(option.instrumentToken, 150, 1130)]);
    expect(window.averages(clock.now())).toEqual(new Map([[option.instrumentToken, 140]]));
  });
});
