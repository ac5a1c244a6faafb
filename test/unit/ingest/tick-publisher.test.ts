import { describe, expect, it } from 'vitest';
import { BackpressureLevel, TickPublisher } from '../../../ingest-task/pipeline/tick-publisher.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/logging.js';
import type { BusMessageHandler, BusSubscription, EncodedMessage, TickBus } from '../../../shared/ports/tick-bus.js';
import { sleep, waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();

/** The in-memory bus, made slow or unreachable on demand (the Redis cases are in the integration tests). */
class ControllableBus implements TickBus {
  readonly inner = new MemoryTickBus();
  down = false;
  delayMs = 0;
  publishes = 0;
  #line: Promise<unknown> = Promise.resolve();
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  /** Holds every publish on the wire until {@link release}: a bus that has stopped answering. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  /** Publishes go out one at a time, like commands on one connection, each taking `delayMs`. */
  publish(channel: string, message: EncodedMessage): Promise<number> {
    this.publishes++;
    const turn = this.#line.then(async () => {
      if (this.#gate !== undefined) await this.#gate;
      if (this.delayMs > 0) await sleep(this.delayMs);
      if (this.down) throw new DependencyUnavailableError('bus', 'down');
      return this.inner.publish(channel, message);
    });
    this.#line = turn.catch(() => {});
    return turn;
  }
  subscribe(channel: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.inner.subscribe(channel, handler);
  }
  psubscribe(pattern: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.inner.psubscribe(pattern, handler);
  }
  check(): Promise<void> {
    return this.inner.check();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Every tick received on `ticker:*`, flattening array messages, as [channel, token, seq]. */
async function receiver(bus: TickBus) {
  const got: { channel: string; token: number; seq: number }[] = [];
  const messages: string[] = [];
  await bus.psubscribe('ticker:*', (channel, message) => {
    messages.push(message);
    const parsed = JSON.parse(message) as { t: number; s: number } | { t: number; s: number }[];
    for (const tick of Array.isArray(parsed) ? parsed : [parsed]) got.push({ channel, token: tick.t, seq: tick.s });
  });
  return { got, messages };
}

const tick = (t: number, s: number) => JSON.stringify({ t, s });

describe('TickPublisher', () => {
  it('sends everything enqueued in one turn as one message per channel, in order', async () => {
    const bus = new ControllableBus();
    const { got, messages } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger });
    for (let s = 0; s < 3; s++) publisher.enqueue('ticker:nifty:options', 1, tick(1, s), clock.now());
    publisher.enqueue('ticker:banknifty:options', 2, tick(2, 0), clock.now());
    await waitFor(() => got.length === 4);
    expect(messages).toHaveLength(2);
    expect(messages[0]?.startsWith('[')).toBe(true);
    expect(messages[1]).toBe(tick(2, 0));
    expect(got.filter((g) => g.channel === 'ticker:nifty:options').map((g) => g.seq)).toEqual([0, 1, 2]);
    expect(publisher.counters).toMatchObject({ enqueued: 4, published: 4, batches: 2, dropped: 0 });
  });

  it('splits large turns into messages of at most maxBatch ticks', async () => {
    const bus = new ControllableBus();
    const { got, messages } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger, maxBatch: 100 });
    for (let s = 0; s < 250; s++) publisher.enqueue('ticker:nifty:options', s, tick(s, s), clock.now());
    await waitFor(() => got.length === 250);
    expect(messages).toHaveLength(3);
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it('keeps ticks while the bus is away, retries, and delivers all of them in order when it is back', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger, retryDelayMs: { initial: 10, max: 40 } });
    bus.down = true;
    for (let s = 0; s < 50; s++) {
      publisher.enqueue('ticker:nifty:options', s % 5, tick(s % 5, s), clock.now());
      await sleep(2);
    }
    await waitFor(() => publisher.counters.publishFailures >= 2);
    expect(publisher.pending).toBe(50);
    bus.down = false;
    await waitFor(() => got.length === 50);
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(publisher.counters).toMatchObject({ published: 50, dropped: 0 });
    expect(publisher.pending).toBe(0);
  });

  it('after the bus is back, keeps a batch nobody received until a subscriber is back; later counts one nobody heard', async () => {
    const time = new ManualClock();
    const bus = new ControllableBus();
    const publisher = new TickPublisher({ bus, clock: time, logger, retryDelayMs: { initial: 10, max: 40 } });
    const retry = async (ms: number) => {
      time.advance(ms);
      await sleep(5);
    };
    bus.down = true;
    for (let s = 0; s < 10; s++) publisher.enqueue('ticker:nifty:options', s, tick(s, s), time.now());
    await waitFor(() => publisher.counters.publishFailures >= 1);
    bus.down = false;
    // Back, but the subscriber is still reconnecting: what reaches no one is kept, not lost.
    for (let k = 0; k < 5; k++) await retry(60);
    expect(publisher.counters).toMatchObject({ published: 0, unheard: 0, dropped: 0 });
    expect(publisher.pending).toBe(10);
    const { got } = await receiver(bus);
    await retry(60);
    await waitFor(() => got.length === 10);
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(publisher.counters).toMatchObject({ published: 10, unheard: 0, dropped: 0 });

    // Two seconds after the bus came back, nobody listening is how things are: published and counted.
    time.advance(2000);
    const quiet = new TickPublisher({ bus: new ControllableBus(), clock: time, logger });
    quiet.enqueue('ticker:nifty:options', 1, tick(1, 0), time.now());
    await waitFor(() => quiet.counters.published === 1);
    expect(quiet.counters).toMatchObject({ published: 1, unheard: 1, dropped: 0 });
    expect(quiet.pending).toBe(0);
  });

  it('after an outage, sends one batch per channel until subscribers are back, then the rest, in order', async () => {
    const time = new ManualClock();
    const bus = new ControllableBus();
    const publisher = new TickPublisher({
      bus,
      clock: time,
      logger,
      maxBatch: 5,
      retryDelayMs: { initial: 10, max: 40 },
    });
    const step = async () => {
      time.advance(60);
      await sleep(5);
    };
    bus.down = true;
    for (let s = 0; s < 30; s++) publisher.enqueue('ticker:nifty:options', s % 3, tick(s % 3, s), time.now());
    await waitFor(() => publisher.counters.publishFailures >= 1);
    await step();
    // While the bus is away, each retry tries one batch, not all six.
    const before = bus.publishes;
    await step();
    expect(bus.publishes - before).toBe(1);
    const failedPublishes = bus.publishes;
    bus.down = false;
    await step();
    // Back, nobody listening yet: one batch tried, kept, nothing else sent past it.
    expect(bus.publishes - failedPublishes).toBe(1);
    expect(publisher.pending).toBe(30);
    const { got } = await receiver(bus);
    for (let k = 0; k < 10 && got.length < 30; k++) await step();
    await waitFor(() => got.length === 30);
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(publisher.counters).toMatchObject({ published: 30, unheard: 0, dropped: 0 });
  });

  it('past its bound keeps the newest tick per token and counts every tick it drops', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const publisher = new TickPublisher({
      bus,
      clock,
      logger,
      maxPending: 100,
      retryDelayMs: { initial: 10, max: 20 },
    });
    bus.down = true;
    for (let s = 0; s < 1000; s++) publisher.enqueue('ticker:nifty:options', s % 10, tick(s % 10, s), clock.now());
    expect(publisher.pending).toBeLessThanOrEqual(100);
    expect(publisher.level).toBe(BackpressureLevel.overload);
    bus.down = false;
    await waitFor(() => publisher.pending === 0);
    // Every tick is either delivered or counted as dropped; the newest of each token is delivered.
    expect(publisher.counters.published + publisher.counters.dropped).toBe(1000);
    expect(got.length).toBe(publisher.counters.published);
    for (let token = 0; token < 10; token++)
      expect(got.some((g) => g.token === token && g.seq === 990 + token)).toBe(true);
  });

  it('counts only the ticks it really drops when most of the bound is in flight', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger, maxPending: 100 });
    bus.delayMs = 100;
    // A full bound goes out in one flush and stays in flight for 100 ms ...
    for (let token = 0; token < 100; token++)
      publisher.enqueue('ticker:nifty:options', token, tick(token, 0), clock.now());
    await sleep(10);
    // ... while ticks of other tokens arrive: only those still queued can be dropped.
    for (let token = 100; token < 150; token++)
      publisher.enqueue('ticker:nifty:options', token, tick(token, 1), clock.now());
    expect(publisher.pending).toBeGreaterThanOrEqual(0);
    bus.delayMs = 0;
    await waitFor(() => publisher.pending === 0, { timeoutMs: 3000 });
    expect(publisher.counters.published + publisher.counters.dropped).toBe(150);
    expect(got.length).toBe(publisher.counters.published);
  });

  it('TC-PERF-030: escalates HEALTHY → WARNING → CRITICAL under a stalled bus, drops and counts past the bound, and recovers', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger, maxPending: 40, maxBatch: 1 });
    const levels: string[] = [publisher.level];
    let mostPending = 0;
    // The first message goes on the wire and the bus stops answering: 99 more, one per turn of the
    // event loop (so the publisher may flush between them), must queue to the bound and then shed.
    bus.hold();
    publisher.enqueue('ticker:nifty:options', 0, tick(0, 0), clock.now());
    await waitFor(() => bus.publishes === 1, { message: 'the first publish on the wire' });
    for (let s = 1; s < 100; s++) {
      publisher.enqueue('ticker:nifty:options', s, tick(s, s), clock.now());
      mostPending = Math.max(mostPending, publisher.pending);
      if (levels.at(-1) !== publisher.level) levels.push(publisher.level);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(levels).toEqual([
      BackpressureLevel.healthy,
      BackpressureLevel.warning,
      BackpressureLevel.critical,
      BackpressureLevel.overload,
    ]);
    // The queue, the message on the wire included, is held to its bound; what did not fit is counted.
    expect(mostPending).toBe(40);
    expect(bus.publishes).toBe(1);
    expect(publisher.counters.dropped).toBe(60);
    bus.release();
    await waitFor(() => publisher.pending === 0, { timeoutMs: 10_000 });
    expect(publisher.counters.published + publisher.counters.dropped).toBe(100);
    expect(got.length).toBe(publisher.counters.published);
    // What is dropped is the oldest: the one on the wire (counted in the bound), then the newest 39.
    expect(got.map((g) => g.seq)).toEqual([0, ...Array.from({ length: 39 }, (_, i) => 61 + i)]);
    await waitFor(() => publisher.level === BackpressureLevel.healthy, { timeoutMs: 6000 });
  }, 20_000);

  it('drains the queue on shutdown before run resolves', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const publisher = new TickPublisher({ bus, clock, logger, retryDelayMs: { initial: 10, max: 20 } });
    const stop = new AbortController();
    const running = publisher.run(stop.signal);
    bus.down = true;
    for (let s = 0; s < 20; s++) publisher.enqueue('ticker:nifty:options', s, tick(s, s), clock.now());
    await waitFor(() => publisher.counters.publishFailures > 0);
    stop.abort();
    setTimeout(() => {
      bus.down = false;
    }, 100);
    await running;
    await waitFor(() => got.length === 20);
    expect(publisher.counters).toMatchObject({ published: 20, dropped: 0 });
  });

  it('writes the latest tick per token at most once per interval, the newest winning, and all of it on shutdown', async () => {
    const bus = new ControllableBus();
    const writes: Map<number, string>[] = [];
    const store = new MemoryLiveStateStore();
    const state = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'putLatest') {
          return (entries: ReadonlyMap<number, string>) => {
            writes.push(new Map(entries));
            return target.putLatest(entries);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const publisher = new TickPublisher({ bus, state, clock, logger, latestIntervalMs: 150 });
    const stop = new AbortController();
    const running = publisher.run(stop.signal);
    publisher.enqueue('ticker:nifty:options', 1, tick(1, 1), clock.now());
    await waitFor(() => writes.length === 1);
    // Within the interval: published at once, but the store waits and keeps only the newest.
    for (let s = 2; s <= 5; s++) {
      publisher.enqueue('ticker:nifty:options', 1, tick(1, s), clock.now());
      publisher.enqueue('ticker:nifty:options', 2, tick(2, s), clock.now());
      await sleep(10);
    }
    expect(publisher.counters.published).toBe(9);
    expect(writes).toHaveLength(1);
    await waitFor(() => writes.length === 2, { timeoutMs: 1000 });
    expect(writes[1]).toEqual(
      new Map([
        [1, tick(1, 5)],
        [2, tick(2, 5)],
      ]),
    );
    publisher.enqueue('ticker:nifty:options', 3, tick(3, 6), clock.now());
    stop.abort();
    await running;
    expect((await store.getLatest([1, 2, 3])).get(3)).toBe(tick(3, 6));
  });

  it('never holds ticks behind a slow latest-state write, and writes what waited once it is done', async () => {
    const bus = new ControllableBus();
    const { got } = await receiver(bus);
    const store = new MemoryLiveStateStore();
    let release: () => void = () => {};
    const writes: number[] = [];
    const state = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'putLatest') {
          return async (entries: ReadonlyMap<number, string>) => {
            writes.push(entries.size);
            // The first write hangs until released, as a write of thousands of entries can.
            if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
            return target.putLatest(entries);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const publisher = new TickPublisher({ bus, state, clock, logger, latestIntervalMs: 0 });
    const stop = new AbortController();
    const running = publisher.run(stop.signal);
    publisher.enqueue('ticker:nifty:options', 1, tick(1, 1), clock.now());
    await waitFor(() => writes.length === 1);
    for (let s = 2; s <= 20; s++) {
      publisher.enqueue('ticker:nifty:options', s, tick(s, s), clock.now());
      await sleep(2);
    }
    await waitFor(() => got.length === 20);
    expect(writes).toEqual([1]);
    release();
    await waitFor(() => writes.length === 2);
    expect(writes[1]).toBe(19);
    stop.abort();
    await running;
    expect((await store.getLatest([1, 20])).size).toBe(2);
  });
});
