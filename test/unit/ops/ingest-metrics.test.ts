import { register as globalRegistry, type Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { IngestStatus } from '../../../ingest-task/ingest-role.js';
import type { PoolMetrics } from '../../../ingest-task/kite/kite-pool.js';
import { ingestHealth, standbyHealth } from '../../../ingest-task/ops/ingest-health.js';
import {
  createMetricsRegistry,
  IngestMetric,
  type IngestMetricsSource,
  PUBLISH_LATENCY_BUCKETS,
  publishLatencyRecorder,
  registerIngestMetrics,
} from '../../../ingest-task/ops/ingest-metrics.js';
import { type BackpressureLevel, TickPublisher } from '../../../ingest-task/pipeline/tick-publisher.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { createLogger } from '../../../shared/logging.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/** A hand-made role state: plain objects the test changes between scrapes. */
function fakeSource() {
  const pipeline = { counters: { ticksIn: 0, optionTicks: 0, underlyingTicks: 0, unknownInstrument: 0, errors: 0 } };
  const publisher = {
    counters: { enqueued: 0, published: 0, dropped: 0, batches: 0, publishFailures: 0, unheard: 0 },
    pending: 0,
    level: 'HEALTHY' as BackpressureLevel,
  };
  const reconciler = { counters: { runs: 0, failures: 0, triggers: 0 } };
  const kite: { metrics: PoolMetrics | undefined } = { metrics: undefined };
  const state = { running: true, active_subscriptions: 0 };
  const source: IngestMetricsSource = {
    pipeline,
    publisher,
    reconciler,
    get pool() {
      const metrics = kite.metrics;
      return metrics ? { metrics: () => metrics } : undefined;
    },
    status: () => state,
  };
  return { source, pipeline, publisher, reconciler, kite, state };
}

/** Every sample of `name` as `labels → value`, read the way a scrape reads them. */
async function samples(registry: Registry, name: string): Promise<Map<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  return new Map(metric.values.map((v) => [JSON.stringify(v.labels), v.value]));
}

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return (await samples(registry, name)).get(JSON.stringify(labels));
}

function pool(overrides: Partial<PoolMetrics> = {}): PoolMetrics {
  return {
    connections: 0,
    subscribedTokens: 0,
    capacity: 9000,
    utilization: 0,
    accounts: {},
    perConnection: [],
    counters: {
      subscribes: 0,
      unsubscribes: 0,
      duplicates: 0,
      subscriptionErrors: 0,
      reconnects: 0,
      ticks: 0,
      malformedPackets: 0,
    },
    ...overrides,
  };
}

describe('registerIngestMetrics', () => {
  it('exports each counter as a Prometheus counter equal to the live value at every scrape', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const fake = fakeSource();
    fake.pipeline.counters.ticksIn = 7;
    registerIngestMetrics(registry, fake.source);
    expect(await value(registry, IngestMetric.ticksReceived)).toBe(7);
    fake.pipeline.counters.ticksIn = 1000;
    fake.pipeline.counters.unknownInstrument = 3;
    fake.publisher.counters.published = 990;
    fake.publisher.counters.dropped = 4;
    fake.publisher.counters.publishFailures = 2;
    fake.publisher.counters.unheard = 6;
    fake.reconciler.counters.runs = 5;
    fake.reconciler.counters.failures = 1;
    expect(await value(registry, IngestMetric.ticksReceived)).toBe(1000);
    expect(await value(registry, IngestMetric.unknownInstrumentTicks)).toBe(3);
    expect(await value(registry, IngestMetric.ticksPublished)).toBe(990);
    expect(await value(registry, IngestMetric.ticksDropped)).toBe(4);
    expect(await value(registry, IngestMetric.publishFailures)).toBe(2);
    expect(await value(registry, IngestMetric.ticksUnheard)).toBe(6);
    expect(await value(registry, IngestMetric.reconcileRuns)).toBe(5);
    expect(await value(registry, IngestMetric.reconcileFailures)).toBe(1);
    // Scraping again without change neither double-counts nor resets.
    expect(await value(registry, IngestMetric.ticksReceived)).toBe(1000);
    const text = await registry.metrics();
    for (const name of Object.values(IngestMetric).filter((n) => n.endsWith('_total'))) {
      expect(text).toContain(`# TYPE ${name} counter`);
    }
  });

  it('reads pending, the backpressure level and running state from the live objects', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const fake = fakeSource();
    registerIngestMetrics(registry, fake.source);
    fake.publisher.pending = 42;
    fake.publisher.level = 'CRITICAL';
    fake.state.active_subscriptions = 12;
    expect(await value(registry, IngestMetric.publisherPending)).toBe(42);
    expect(await value(registry, IngestMetric.backpressureLevel)).toBe(2);
    expect(await samples(registry, IngestMetric.backpressureState)).toEqual(
      new Map([
        ['{"level":"HEALTHY"}', 0],
        ['{"level":"WARNING"}', 0],
        ['{"level":"CRITICAL"}', 1],
        ['{"level":"OVERLOAD"}', 0],
      ]),
    );
    expect(await value(registry, IngestMetric.running)).toBe(1);
    expect(await value(registry, IngestMetric.activeSubscriptions)).toBe(12);
    fake.publisher.pending = 0;
    fake.publisher.level = 'OVERLOAD';
    fake.state.running = false;
    expect(await value(registry, IngestMetric.publisherPending)).toBe(0);
    expect(await value(registry, IngestMetric.backpressureLevel)).toBe(3);
    expect(await value(registry, IngestMetric.backpressureState, { level: 'OVERLOAD' })).toBe(1);
    expect(await value(registry, IngestMetric.running)).toBe(0);
  });

  it('exports the Kite pool per account and per connection, dropping series that went away', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const fake = fakeSource();
    registerIngestMetrics(registry, fake.source);
    expect(await value(registry, IngestMetric.kiteConnections)).toBe(0);
    expect((await samples(registry, IngestMetric.kiteAccountTokens)).size).toBe(0);

    fake.kite.metrics = pool({
      connections: 3,
      subscribedTokens: 3500,
      accounts: {
        a: { status: 'ok', connections: 2, tokens: 3200 },
        b: { status: 'rate-limited', connections: 1, tokens: 300, lastError: '429' },
      },
      perConnection: [
        { accountId: 'a', state: 'open', tokens: 3000 },
        { accountId: 'a', state: 'reconnecting', tokens: 200 },
        { accountId: 'b', state: 'open', tokens: 300 },
      ],
      counters: { ...pool().counters, reconnects: 4, malformedPackets: 2, ticks: 10_000, subscribes: 3500 },
    });
    expect(await value(registry, IngestMetric.kiteConnections)).toBe(3);
    expect(await value(registry, IngestMetric.kiteSubscribedTokens)).toBe(3500);
    expect(await value(registry, IngestMetric.kiteCapacityTokens)).toBe(9000);
    expect(await samples(registry, IngestMetric.kiteAccountTokens)).toEqual(
      new Map([
        ['{"account":"a"}', 3200],
        ['{"account":"b"}', 300],
      ]),
    );
    expect(await value(registry, IngestMetric.kiteAccountConnections, { account: 'a' })).toBe(2);
    expect(await value(registry, IngestMetric.kiteAccountStatus, { account: 'b', status: 'rate-limited' })).toBe(1);
    expect(await value(registry, IngestMetric.kiteAccountStatus, { account: 'b', status: 'ok' })).toBe(0);
    expect(await samples(registry, IngestMetric.kiteConnectionTokens)).toEqual(
      new Map([
        ['{"account":"a","connection":"0"}', 3000],
        ['{"account":"a","connection":"1"}', 200],
        ['{"account":"b","connection":"0"}', 300],
      ]),
    );
    const states = await samples(registry, IngestMetric.kiteConnectionState);
    expect(states.get('{"account":"a","connection":"1","state":"reconnecting"}')).toBe(1);
    expect(states.get('{"account":"a","connection":"1","state":"open"}')).toBe(0);
    expect([...states.values()].reduce((sum, v) => sum + v, 0)).toBe(3);
    expect(await value(registry, IngestMetric.kiteReconnects)).toBe(4);
    expect(await value(registry, IngestMetric.kiteMalformedPackets)).toBe(2);
    expect(await value(registry, IngestMetric.kiteTicks)).toBe(10_000);

    fake.kite.metrics = pool({
      connections: 1,
      accounts: { a: { status: 'ok', connections: 1, tokens: 3000 } },
      perConnection: [{ accountId: 'a', state: 'open', tokens: 3000 }],
      counters: { ...pool().counters, reconnects: 5, malformedPackets: 2, ticks: 12_000, subscribes: 3500 },
    });
    expect([...(await samples(registry, IngestMetric.kiteConnectionTokens)).keys()]).toEqual([
      '{"account":"a","connection":"0"}',
    ]);
    expect((await samples(registry, IngestMetric.kiteAccountTokens)).has('{"account":"b"}')).toBe(false);
    expect(await value(registry, IngestMetric.kiteReconnects)).toBe(5);
  });

  it('keeps its metrics out of the global registry', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    registerIngestMetrics(registry, fakeSource().source);
    publishLatencyRecorder(registry);
    expect(globalRegistry.getSingleMetric(IngestMetric.ticksReceived)).toBeUndefined();
    expect(globalRegistry.getSingleMetric(IngestMetric.publishLatency)).toBeUndefined();
    expect(registry.getSingleMetric(IngestMetric.ticksReceived)).toBeDefined();
  });
});

describe('publishLatencyRecorder', () => {
  it('observes every published tick in seconds, fed as the publisher’s onPublished', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const bus = new MemoryTickBus();
    const clock = new SystemClock();
    const publisher = new TickPublisher({ bus, clock, logger, onPublished: publishLatencyRecorder(registry) });
    const receivedAt = clock.now() - 50;
    for (let token = 1; token <= 10; token++)
      publisher.enqueue('ticker:nifty:options', token, `{"t":${token}}`, receivedAt);
    await publisher.flush();
    expect(publisher.counters.published).toBe(10);
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === IngestMetric.publishLatency);
    const count = metric?.values.find(
      (v) => 'metricName' in v && v.metricName === `${IngestMetric.publishLatency}_count`,
    );
    const sum = metric?.values.find((v) => 'metricName' in v && v.metricName === `${IngestMetric.publishLatency}_sum`);
    expect(count?.value).toBe(10);
    expect(sum?.value).toBeGreaterThan(0.499);
    expect(sum?.value).toBeLessThan(10);
    await bus.close();
  });

  it('uses buckets from 0.1 ms to 1 s and counts a negative latency as zero', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const record = publishLatencyRecorder(registry);
    record([-5, 0.05, 0.3, 2, 700, 5000]);
    const text = await registry.metrics();
    const bucket = (le: string) => {
      const series = `${IngestMetric.publishLatency}_bucket{le="${le}"} `;
      const line = text.split('\n').find((l) => l.startsWith(series));
      return line === undefined ? undefined : Number(line.slice(series.length));
    };
    expect(PUBLISH_LATENCY_BUCKETS[0]).toBe(0.0001);
    expect(PUBLISH_LATENCY_BUCKETS.at(-1)).toBe(1);
    expect(bucket('0.0001')).toBe(2);
    expect(bucket('0.0005')).toBe(3);
    expect(bucket('0.0025')).toBe(4);
    expect(bucket('1')).toBe(5);
    expect(bucket('+Inf')).toBe(6);
  });
});

describe('ingestHealth', () => {
  const status: IngestStatus = {
    running: true,
    source: 'mock',
    active_subscriptions: 2,
    accounts: { mock: { status: 'ok' } },
    backpressure: 'HEALTHY',
    ticks_in: 10,
    ticks_published: 9,
    ticks_dropped: 0,
    at: '2026-01-01T00:00:00.000Z',
  };

  it('is ok while the role runs below OVERLOAD, with the role status alongside', () => {
    expect(ingestHealth(status)).toEqual({ status: 'ok', ...status });
    expect(ingestHealth({ ...status, backpressure: 'CRITICAL' }).status).toBe('ok');
  });

  it('is degraded, saying why, when the role is not running or the publisher is in OVERLOAD', () => {
    expect(ingestHealth({ ...status, running: false })).toMatchObject({
      status: 'degraded',
      reasons: ['ingest role not running'],
    });
    expect(ingestHealth({ ...status, running: false, backpressure: 'OVERLOAD' }).reasons).toEqual([
      'ingest role not running',
      'publisher overloaded: ticks are being dropped',
    ]);
  });

  it('is ok for a standby waiting for the lease', () => {
    expect(standbyHealth()).toEqual({ status: 'ok', role: 'standby' });
  });
});
