import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { IngestStatus } from '../ingest-role.js';
import type { AccountStatus, KitePool } from '../kite/kite-pool.js';
import { ConnectionState } from '../kite/ticker-connection.js';
import type { PipelineCounters } from '../pipeline/tick-pipeline.js';
import { BackpressureLevel, type TickPublisher } from '../pipeline/tick-publisher.js';
import type { Reconciler } from '../reconcile/reconciler.js';

/**
 * Every metric name the ingest task exports, in one place so dashboards, alerts and tests refer
 * to the same strings. `_total` names are Prometheus counters; the rest are gauges, except
 * `publishLatency`, a histogram in seconds.
 */
export const IngestMetric = {
  ticksReceived: 'ingest_ticks_received_total',
  optionTicks: 'ingest_option_ticks_total',
  underlyingTicks: 'ingest_underlying_ticks_total',
  unknownInstrumentTicks: 'ingest_unknown_instrument_ticks_total',
  pipelineErrors: 'ingest_pipeline_errors_total',
  ticksEnqueued: 'ingest_ticks_enqueued_total',
  ticksPublished: 'ingest_ticks_published_total',
  ticksDropped: 'ingest_ticks_dropped_total',
  ticksUnheard: 'ingest_ticks_unheard_total',
  publishBatches: 'ingest_publish_batches_total',
  publishFailures: 'ingest_publish_failures_total',
  publisherPending: 'ingest_publisher_pending_ticks',
  backpressureLevel: 'ingest_backpressure_level',
  backpressureState: 'ingest_backpressure_state',
  publishLatency: 'ingest_publish_latency_seconds',
  running: 'ingest_running',
  activeSubscriptions: 'ingest_active_subscriptions',
  reconcileRuns: 'ingest_reconcile_runs_total',
  reconcileFailures: 'ingest_reconcile_failures_total',
  reconcileTriggers: 'ingest_reconcile_triggers_total',
  reconcileLastCompleted: 'ingest_reconcile_last_completed_timestamp_seconds',
  kiteConnections: 'ingest_kite_connections',
  kiteSubscribedTokens: 'ingest_kite_subscribed_tokens',
  kiteCapacityTokens: 'ingest_kite_capacity_tokens',
  kiteAccountTokens: 'ingest_kite_account_tokens',
  kiteAccountConnections: 'ingest_kite_account_connections',
  kiteAccountStatus: 'ingest_kite_account_status',
  kiteConnectionTokens: 'ingest_kite_connection_tokens',
  kiteConnectionState: 'ingest_kite_connection_state',
  kiteTicks: 'ingest_kite_ticks_total',
  kiteReconnects: 'ingest_kite_reconnects_total',
  kiteMalformedPackets: 'ingest_kite_malformed_packets_total',
  kiteSubscribes: 'ingest_kite_subscribes_total',
  kiteUnsubscribes: 'ingest_kite_unsubscribes_total',
  kiteSubscriptionErrors: 'ingest_kite_subscription_errors_total',
} as const;
export type IngestMetric = (typeof IngestMetric)[keyof typeof IngestMetric];

/**
 * The backpressure level as a number, so it can be graphed and alerted on (`>= 3` is OVERLOAD);
 * the order is the publisher's own, from an empty queue to dropping ticks.
 */
export const BackpressureSeverity = {
  [BackpressureLevel.healthy]: 0,
  [BackpressureLevel.warning]: 1,
  [BackpressureLevel.critical]: 2,
  [BackpressureLevel.overload]: 3,
} as const satisfies Record<BackpressureLevel, number>;

/**
 * Publish-latency buckets in seconds, 0.1 ms to 1 s: a tick normally leaves within the event-loop
 * turn it arrived in plus one Redis round trip (well under a millisecond in-region), ticks queued
 * behind a slow or retrying bus take tens to hundreds of milliseconds, and anything slower than a
 * second lands in `+Inf`, worth an alert on its own.
 */
export const PUBLISH_LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * What the metrics read from the ingest role; {@link IngestRole} is one. Narrower than the role so
 * the metrics can be checked against hand-made state (a Kite pool with accounts, say) without
 * running the role.
 */
export interface IngestMetricsSource {
  readonly pipeline: { readonly counters: Readonly<PipelineCounters> };
  readonly publisher: Pick<TickPublisher, 'counters' | 'pending' | 'level'>;
  readonly reconciler: {
    readonly counters: Readonly<Reconciler['counters']>;
    readonly lastCompletedAt?: number | undefined;
  };
  readonly pool: Pick<KitePool, 'metrics'> | undefined;
  status(): Pick<IngestStatus, 'running' | 'active_subscriptions'>;
}

/** Every account status, so the status state set always has one series per status (0 or 1). */
const ACCOUNT_STATUSES = Object.keys({
  ok: true,
  'rate-limited': true,
  'auth-failed': true,
} satisfies Record<AccountStatus, true>) as AccountStatus[];

/**
 * A registry of its own for the ingest task (not prom-client's global one, which every importer
 * shares and tests would pollute), with the Node process metrics (CPU, memory, event-loop lag,
 * GC) unless `processMetrics` is false: on Fargate they are the first thing to look at when ticks
 * slow down.
 */
export function createMetricsRegistry({ processMetrics = true }: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Registers the publish-latency histogram and returns the callback the wiring hands to the
 * publisher as `onPublished`. It is separate from {@link registerIngestMetrics} because the
 * publisher needs the callback before the role it belongs to exists. Latencies arrive in
 * milliseconds (receive → publish, per tick) and are observed in seconds, the Prometheus base
 * unit; a negative one (the wall clock stepped back) counts as zero.
 */
export function publishLatencyRecorder(registry: Registry): (latenciesMs: readonly number[]) => void {
  const histogram = new Histogram({
    name: IngestMetric.publishLatency,
    help: 'Time from receiving a tick to publishing it on the bus, per tick.',
    buckets: [...PUBLISH_LATENCY_BUCKETS],
    registers: [registry],
  });
  return (latenciesMs) => {
    for (const ms of latenciesMs) histogram.observe(ms > 0 ? ms / 1000 : 0);
  };
}

/**
 * A counter that mirrors one of the role's own counters. The role's counters only grow and are
 * the truth, so the Prometheus counter is advanced by the growth since the last scrape, at scrape
 * time: it equals the live value on every scrape without a second increment on the hot path. It
 * is a `counter`, not a gauge named `_total`, because the type is what tells Prometheus and its
 * users to read it with `rate()`/`increase()` (which treat a drop, i.e. a restart, as a reset);
 * OpenMetrics reserves `_total` for counters and `promtool check metrics` flags a gauge so named.
 */
export function mirrorCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  const counter = new Counter({
    name,
    help,
    registers: [],
    collect() {
      const value = read();
      if (value > seen) {
        this.inc(value - seen);
        seen = value;
      }
    },
  });
  registry.registerMetric(counter);
}

/** A gauge set from the live state at scrape time, so it is never stale and never kept twice. */
function liveGauge(registry: Registry, name: string, help: string, read: () => number): void {
  const gauge = new Gauge({
    name,
    help,
    registers: [],
    collect() {
      this.set(read());
    },
  });
  registry.registerMetric(gauge);
}

/**
 * A labelled gauge rebuilt from the live state at every scrape: series of accounts or connections
 * that went away disappear instead of keeping their last value.
 */
function labelledGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<readonly [Partial<Record<L, string>>, number]>,
): void {
  const gauge = new Gauge({
    name,
    help,
    labelNames,
    registers: [],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
  registry.registerMetric(gauge);
}

/**
 * Registers the ingest role's metrics on `registry`. Nothing is counted twice: every value is read
 * from the role's live objects when Prometheus scrapes (pipeline, publisher, reconciler counters;
 * pending ticks and backpressure; the Kite pool's accounts and connections), so `/metrics` always
 * agrees with `/health` and the heartbeat. Without a Kite pool (mock data) the Kite gauges and
 * counters stay at zero and the per-account and per-connection series are absent.
 *
 * The backpressure level is exported twice: as a number 0–3 for thresholds, and as a state set
 * (`ingest_backpressure_state{level="…"}`, 1 for the current level, 0 for the others) so a
 * dashboard can show the name without a value mapping and `changes()` counts transitions.
 * Connections are labelled by account and slot (their position within the account), since Kite
 * connections have no identity of their own.
 */
export function registerIngestMetrics(registry: Registry, source: IngestMetricsSource): void {
  const { pipeline, publisher, reconciler } = source;
  const kite = () => source.pool?.metrics();
  const counters: readonly (readonly [name: IngestMetric, help: string, read: () => number])[] = [
    [IngestMetric.ticksReceived, 'Ticks received from the source (Kite or mock).', () => pipeline.counters.ticksIn],
    [IngestMetric.optionTicks, 'Option ticks priced and enqueued.', () => pipeline.counters.optionTicks],
    [IngestMetric.underlyingTicks, 'Index and futures ticks received.', () => pipeline.counters.underlyingTicks],
    [
      IngestMetric.unknownInstrumentTicks,
      'Ticks of tokens missing from the instrument registry (skipped).',
      () => pipeline.counters.unknownInstrument,
    ],
    [IngestMetric.pipelineErrors, 'Ticks that failed in the pipeline (skipped).', () => pipeline.counters.errors],
    [IngestMetric.ticksEnqueued, 'Ticks handed to the publisher.', () => publisher.counters.enqueued],
    [IngestMetric.ticksPublished, 'Ticks published on the bus.', () => publisher.counters.published],
    [
      IngestMetric.ticksDropped,
      'Ticks never published: superseded while the bus was away, or left at shutdown.',
      () => publisher.counters.dropped,
    ],
    [
      IngestMetric.ticksUnheard,
      'Ticks published when no subscriber was listening (counted as published too): delivered to no one.',
      () => publisher.counters.unheard,
    ],
    [IngestMetric.publishBatches, 'Bus messages published (batches of ticks).', () => publisher.counters.batches],
    [IngestMetric.publishFailures, 'Bus publishes that failed (retried).', () => publisher.counters.publishFailures],
    [IngestMetric.reconcileRuns, 'Reconciles completed.', () => reconciler.counters.runs],
    [IngestMetric.reconcileFailures, 'Reconciles that failed.', () => reconciler.counters.failures],
    [IngestMetric.reconcileTriggers, 'Reconciles requested.', () => reconciler.counters.triggers],
    [IngestMetric.kiteTicks, 'Ticks received on Kite connections.', () => kite()?.counters.ticks ?? 0],
    [IngestMetric.kiteReconnects, 'Kite reconnects.', () => kite()?.counters.reconnects ?? 0],
    [
      IngestMetric.kiteMalformedPackets,
      'Kite packets that could not be parsed.',
      () => kite()?.counters.malformedPackets ?? 0,
    ],
    [IngestMetric.kiteSubscribes, 'Token subscriptions made on Kite.', () => kite()?.counters.subscribes ?? 0],
    [IngestMetric.kiteUnsubscribes, 'Token unsubscriptions made on Kite.', () => kite()?.counters.unsubscribes ?? 0],
    [
      IngestMetric.kiteSubscriptionErrors,
      'Kite subscribes in which at least one token failed.',
      () => kite()?.counters.subscriptionErrors ?? 0,
    ],
  ];
  const gauges: readonly (readonly [name: IngestMetric, help: string, read: () => number])[] = [
    [IngestMetric.publisherPending, 'Ticks waiting in the publisher queue.', () => publisher.pending],
    [
      IngestMetric.backpressureLevel,
      'Publisher backpressure: 0 healthy, 1 warning, 2 critical, 3 overload (dropping ticks).',
      () => BackpressureSeverity[publisher.level],
    ],
    [IngestMetric.running, '1 while the ingest role runs.', () => (source.status().running ? 1 : 0)],
    [
      IngestMetric.activeSubscriptions,
      'Tokens being streamed, indices included.',
      () => source.status().active_subscriptions,
    ],
    [
      IngestMetric.reconcileLastCompleted,
      'When the last reconcile completed (Unix seconds; 0 before the first): how stale the streams may be.',
      () => (reconciler.lastCompletedAt ?? 0) / 1000,
    ],
    [IngestMetric.kiteConnections, 'Open Kite connections.', () => kite()?.connections ?? 0],
    [IngestMetric.kiteSubscribedTokens, 'Tokens subscribed on Kite.', () => kite()?.subscribedTokens ?? 0],
    [IngestMetric.kiteCapacityTokens, 'Tokens the Kite accounts can stream in all.', () => kite()?.capacity ?? 0],
  ];
  for (const [name, help, read] of counters) mirrorCounter(registry, name, help, read);
  for (const [name, help, read] of gauges) liveGauge(registry, name, help, read);

  labelledGauge(
    registry,
    IngestMetric.backpressureState,
    'Publisher backpressure level as a state set: 1 for the current level.',
    ['level'],
    () => {
      const current = publisher.level;
      return Object.values(BackpressureLevel).map((level) => [{ level }, level === current ? 1 : 0] as const);
    },
  );
  const accounts = () => Object.entries(kite()?.accounts ?? {});
  labelledGauge(registry, IngestMetric.kiteAccountTokens, 'Tokens subscribed per Kite account.', ['account'], () =>
    accounts().map(([account, a]) => [{ account }, a.tokens] as const),
  );
  labelledGauge(registry, IngestMetric.kiteAccountConnections, 'Open connections per Kite account.', ['account'], () =>
    accounts().map(([account, a]) => [{ account }, a.connections] as const),
  );
  labelledGauge(
    registry,
    IngestMetric.kiteAccountStatus,
    'Kite account status as a state set: 1 for the current status.',
    ['account', 'status'],
    () =>
      accounts().flatMap(([account, a]) =>
        ACCOUNT_STATUSES.map((status) => [{ account, status }, a.status === status ? 1 : 0] as const),
      ),
  );
  const connections = () => {
    const slots = new Map<string, number>();
    return (kite()?.perConnection ?? []).map((c) => {
      const slot = slots.get(c.accountId) ?? 0;
      slots.set(c.accountId, slot + 1);
      return { account: c.accountId, connection: String(slot), state: c.state, tokens: c.tokens };
    });
  };
  labelledGauge(
    registry,
    IngestMetric.kiteConnectionTokens,
    'Tokens subscribed per Kite connection.',
    ['account', 'connection'],
    () => connections().map((c) => [{ account: c.account, connection: c.connection }, c.tokens] as const),
  );
  labelledGauge(
    registry,
    IngestMetric.kiteConnectionState,
    'Kite connection state as a state set: 1 for the current state.',
    ['account', 'connection', 'state'],
    () =>
      connections().flatMap((c) =>
        Object.values(ConnectionState).map(
          (state) => [{ account: c.account, connection: c.connection, state }, c.state === state ? 1 : 0] as const,
        ),
      ),
  );
}
