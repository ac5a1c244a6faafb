import { once } from 'node:events';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type IngestRole, ingestRole } from '../../ingest-task/ingest-role.js';
import { ingestHealth, type OpsHealth, standbyHealth } from '../../ingest-task/ops/ingest-health.js';
import {
  BackpressureSeverity,
  createMetricsRegistry,
  IngestMetric,
  publishLatencyRecorder,
  registerIngestMetrics,
} from '../../ingest-task/ops/ingest-metrics.js';
import { OpsServer } from '../../ingest-task/ops/ops-server.js';
import { BackpressureLevel } from '../../ingest-task/pipeline/tick-publisher.js';
import { type SupervisorOutcome, supervise } from '../../ingest-task/supervisor.js';
import { MemoryLiveStateStore } from '../../shared/adapters/memory/memory-live-state-store.js';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { MemoryTickBus } from '../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { loadConfig } from '../../shared/config.js';
import { mockInstruments } from '../../shared/domain/market/mock-instruments.js';
import { createLogger } from '../../shared/logging.js';
import type { BusMessageHandler, BusSubscription, EncodedMessage, TickBus } from '../../shared/ports/tick-bus.js';
import { waitFor } from '../support/wait.js';

/*
 * The ops server in front of a running ingest role on mock data (in-memory bus, state and
 * subscriptions), scraped over real HTTP: what it serves must be the role's live state.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const instruments = mockInstruments({ anchorDate: new Date().toISOString().slice(0, 10) });

/** The in-memory bus, able to stall: while stalled, publishes wait until it resumes, as over a hung connection. */
class StallableBus implements TickBus {
  readonly #inner = new MemoryTickBus();
  #stalled: { promise: Promise<void>; resume: () => void } | undefined;

  stall(): void {
    if (this.#stalled) return;
    let resume = () => {};
    const promise = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.#stalled = { promise, resume };
  }

  resume(): void {
    this.#stalled?.resume();
    this.#stalled = undefined;
  }

  async publish(channel: string, message: EncodedMessage): Promise<number> {
    await this.#stalled?.promise;
    return this.#inner.publish(channel, message);
  }
  subscribe(channel: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.#inner.subscribe(channel, handler);
  }
  psubscribe(pattern: string, handler: BusMessageHandler): Promise<BusSubscription> {
    return this.#inner.psubscribe(pattern, handler);
  }
  check(): Promise<void> {
    return this.#inner.check();
  }
  close(): Promise<void> {
    this.resume();
    return this.#inner.close();
  }
}

interface Running {
  readonly role: IngestRole;
  readonly bus: StallableBus;
  readonly ops: OpsServer;
  readonly port: number;
  readonly supervised: Promise<SupervisorOutcome>;
  stop(): Promise<SupervisorOutcome>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function start(): Promise<Running> {
  const config = loadConfig({ ENABLE_MOCK_DATA: 'true', STREAM_INTERVAL_SECONDS: '0.1', LOG_LEVEL: 'SILENT' });
  const subscriptions = new MemorySubscriptionStore();
  const options = instruments.filter((i) => i.name === 'NIFTY' && i.instrumentType === 'CE').slice(0, 3);
  for (const i of options) {
    await subscriptions.upsert(
      {
        instrumentToken: i.instrumentToken,
        tradingsymbol: i.tradingsymbol,
        segment: i.segment,
        status: 'active',
        requestedMode: 'FULL',
        accountId: null,
      },
      Date.now(),
    );
  }
  const bus = new StallableBus();
  const role = ingestRole({
    config,
    logger,
    clock: new SystemClock(),
    bus,
    state: new MemoryLiveStateStore(),
    subscriptions,
    instruments,
  });
  const registry = createMetricsRegistry();
  // The role does not take an `onPublished` callback, so the histogram is registered but not fed
  // here; the unit tests feed it from a publisher.
  publishLatencyRecorder(registry);
  registerIngestMetrics(registry, role);
  const ops = new OpsServer({
    port: 0,
    host: '127.0.0.1',
    registry,
    health: () => ingestHealth(role.status()),
    logger,
  });
  const shutdown = new AbortController();
  const supervised = supervise([...role.services, ops], shutdown.signal, logger);
  const port = await ops.listening;
  const r: Running = {
    role,
    bus,
    ops,
    port,
    supervised,
    stop: async () => {
      bus.resume();
      shutdown.abort();
      const outcome = await supervised;
      await bus.close();
      return outcome;
    },
  };
  running.push(r);
  return r;
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly socket: Socket;
}

function get(port: number, path: string, { method = 'GET', agent }: { method?: string; agent?: Agent } = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ...(agent && { agent }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          socket: req.socket as Socket,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample in Prometheus text format; `undefined` when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const wanted = Object.entries(labels);
    if (wanted.length !== Object.keys(found).length || wanted.some(([k, v]) => found[k] !== v)) continue;
    return Number(match[3]);
  }
  return undefined;
}

/** The role's counters as they are now, under the metric that exports each. */
function liveCounters(role: IngestRole): Record<string, number> {
  return {
    [IngestMetric.ticksReceived]: role.pipeline.counters.ticksIn,
    [IngestMetric.optionTicks]: role.pipeline.counters.optionTicks,
    [IngestMetric.underlyingTicks]: role.pipeline.counters.underlyingTicks,
    [IngestMetric.ticksEnqueued]: role.publisher.counters.enqueued,
    [IngestMetric.ticksPublished]: role.publisher.counters.published,
    [IngestMetric.ticksDropped]: role.publisher.counters.dropped,
    [IngestMetric.publishBatches]: role.publisher.counters.batches,
    [IngestMetric.reconcileRuns]: role.reconciler.counters.runs,
  };
}

/**
 * Scrapes `/metrics` until `read` gives the same value just before and just after the scrape, and
 * returns both: for a value that only moves one way, that is the value the scrape saw.
 */
async function scrapeSteady(r: Running, read: () => number): Promise<{ body: string; value: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const before = read();
    const reply = await get(r.port, '/metrics');
    if (read() === before) return { body: reply.body, value: before };
  }
  throw new Error('The value never held still across a scrape');
}

describe('OpsServer', () => {
  it('serves the live counters of a running ingest role as Prometheus metrics', async () => {
    const r = await start();
    await waitFor(() => r.role.publisher.counters.published > 20, { message: 'ticks to be published' });
    for (let scrape = 0; scrape < 3; scrape++) {
      // Ticks keep flowing while the scrape runs, so each value must lie between the counts just
      // before and just after it.
      const before = liveCounters(r.role);
      const reply = await get(r.port, '/metrics');
      const after = liveCounters(r.role);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      for (const [name, value] of Object.entries(before)) {
        const scraped = sample(reply.body, name);
        expect(scraped, name).toBeGreaterThanOrEqual(value);
        expect(scraped, name).toBeLessThanOrEqual(after[name] as number);
      }
      expect(sample(reply.body, IngestMetric.ticksPublished)).toBeGreaterThan(20);
      expect(reply.body).toContain(`# TYPE ${IngestMetric.ticksPublished} counter`);
      expect(reply.body).toContain(`# TYPE ${IngestMetric.publisherPending} gauge`);
      expect(sample(reply.body, IngestMetric.unknownInstrumentTicks)).toBe(0);
      expect(sample(reply.body, IngestMetric.pipelineErrors)).toBe(0);
      expect(sample(reply.body, IngestMetric.publishFailures)).toBe(0);
      expect(sample(reply.body, IngestMetric.publisherPending)).toBeGreaterThanOrEqual(0);
      expect(sample(reply.body, IngestMetric.publisherPending)).toBeLessThanOrEqual(r.role.publisher.counters.enqueued);
      expect(sample(reply.body, IngestMetric.backpressureLevel)).toBe(0);
      expect(sample(reply.body, IngestMetric.backpressureState, { level: 'HEALTHY' })).toBe(1);
      expect(sample(reply.body, IngestMetric.backpressureState, { level: 'OVERLOAD' })).toBe(0);
      expect(sample(reply.body, IngestMetric.running)).toBe(1);
      // Three options and the two indices.
      expect(sample(reply.body, IngestMetric.activeSubscriptions)).toBe(r.role.status().active_subscriptions);
      expect(sample(reply.body, IngestMetric.activeSubscriptions)).toBe(5);
      // Mock data: no Kite connection, so no per-account series.
      expect(sample(reply.body, IngestMetric.kiteConnections)).toBe(0);
      expect(reply.body).not.toContain(`${IngestMetric.kiteAccountTokens}{`);
      expect(sample(reply.body, `${IngestMetric.publishLatency}_count`)).toBe(0);
      expect(reply.body).toContain(`# TYPE ${IngestMetric.publishLatency} histogram`);
      expect(sample(reply.body, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    }
  });

  it('exposes pending ticks, drops and the backpressure level exactly as the publisher reports them', async () => {
    const r = await start();
    await waitFor(() => r.role.publisher.counters.published > 0, { message: 'ticks to be published' });

    // A stalled bus: the queue only grows, at the feed's steps, so a scrape between two unchanged
    // readings saw exactly that value.
    r.bus.stall();
    await waitFor(() => r.role.publisher.pending > 0, { message: 'ticks to queue up' });
    const stalled = await scrapeSteady(r, () => r.role.publisher.pending);
    expect(sample(stalled.body, IngestMetric.publisherPending)).toBe(stalled.value);
    expect(stalled.value).toBeGreaterThan(0);
    expect(sample(stalled.body, IngestMetric.backpressureLevel)).toBe(BackpressureSeverity.HEALTHY);

    // One synchronous burst past the publisher's bound (100,000 ticks): it sheds the superseded
    // ticks and reports OVERLOAD for the next 5 s.
    const token = instruments[0]?.instrumentToken as number;
    const droppedBefore = r.role.publisher.counters.dropped;
    for (let i = 0; i <= 100_000; i++) r.role.publisher.enqueue('ticker:ops:options', token, `{"i":${i}}`, Date.now());
    expect(r.role.publisher.level).toBe(BackpressureLevel.overload);
    expect(r.role.publisher.counters.dropped - droppedBefore).toBeGreaterThan(90_000);
    const overloaded = await scrapeSteady(r, () => r.role.publisher.pending);
    expect(sample(overloaded.body, IngestMetric.publisherPending)).toBe(overloaded.value);
    expect(sample(overloaded.body, IngestMetric.ticksDropped)).toBe(r.role.publisher.counters.dropped);
    expect(sample(overloaded.body, IngestMetric.backpressureLevel)).toBe(BackpressureSeverity.OVERLOAD);
    expect(sample(overloaded.body, IngestMetric.backpressureState, { level: 'OVERLOAD' })).toBe(1);
    expect(sample(overloaded.body, IngestMetric.backpressureState, { level: 'HEALTHY' })).toBe(0);

    // Back again: the queue drains and every published tick is counted.
    r.bus.resume();
    await waitFor(() => r.role.publisher.pending === 0, { message: 'the queue to drain' });
    const drained = await scrapeSteady(r, () => r.role.publisher.counters.published);
    expect(sample(drained.body, IngestMetric.ticksPublished)).toBe(drained.value);
    expect(sample(drained.body, IngestMetric.ticksDropped)).toBe(r.role.publisher.counters.dropped);
  });

  it('answers /health with 200 while the role runs and 503 once the publisher is in OVERLOAD', async () => {
    const r = await start();
    await waitFor(() => r.role.status().running, { message: 'the role to run' });
    const healthy = await get(r.port, '/health');
    expect(healthy.status).toBe(200);
    expect(healthy.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(healthy.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(healthy.body)).toMatchObject({
      status: 'ok',
      running: true,
      source: 'mock',
      backpressure: 'HEALTHY',
      active_subscriptions: 5,
    });
    expect(JSON.parse(healthy.body)).not.toHaveProperty('reasons');

    const token = instruments[0]?.instrumentToken as number;
    for (let i = 0; i <= 100_000; i++) r.role.publisher.enqueue('ticker:OPS:options', token, `{"i":${i}}`, Date.now());
    const overloaded = await get(r.port, '/health');
    expect(overloaded.status).toBe(503);
    expect(JSON.parse(overloaded.body)).toMatchObject({
      status: 'degraded',
      running: true,
      backpressure: 'OVERLOAD',
      reasons: ['publisher overloaded: ticks are being dropped'],
    });
  });

  it('answers unknown paths with 404 JSON and other methods with 405', async () => {
    const r = await start();
    const missing = await get(r.port, '/nope?x=1');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(missing.body)).toEqual({ error: 'Not found', path: '/nope' });
    const post = await get(r.port, '/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get(r.port, '/health', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const withQuery = await get(r.port, '/metrics?name[]=x');
    expect(withQuery.status).toBe(200);
  });

  it('stops promptly on abort, closing keep-alive connections and leaving nothing listening', async () => {
    const r = await start();
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const first = await get(r.port, '/health', { agent });
    const second = await get(r.port, '/metrics', { agent });
    expect(second.socket).toBe(first.socket);
    const socketClosed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));

    const began = Date.now();
    const outcome = await r.stop();
    expect(outcome).toEqual({ unfinished: [] });
    expect(Date.now() - began).toBeLessThan(2000);
    await socketClosed;
    expect(first.socket.destroyed).toBe(true);
    await expect(get(r.port, '/health')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    agent.destroy();
  });

  it('fails its run when the port is taken, so the supervisor stops the task', async () => {
    const r = await start();
    const clash = new OpsServer({
      port: r.port,
      host: '127.0.0.1',
      registry: createMetricsRegistry({ processMetrics: false }),
      health: () => ({ status: 'ok' }),
      logger,
    });
    const waiting = { name: 'waiting', run: (signal: AbortSignal) => once(signal, 'abort').then(() => {}) };
    const outcome = await supervise([clash, waiting], new AbortController().signal, logger);
    expect(outcome.failure?.service).toBe('ops-server');
    expect(String(outcome.failure?.error)).toMatch(/could not listen on port .*EADDRINUSE/);
    expect(outcome.unfinished).toEqual([]);
    await expect(clash.listening).rejects.toThrow(/could not listen/);
  });
});

describe('OpsServer on its own', () => {
  async function serve(
    health: () => OpsHealth | Promise<OpsHealth>,
    timing: { closeGraceMs?: number; healthTimeoutMs?: number } = {},
  ) {
    const ops = new OpsServer({
      port: 0,
      host: '127.0.0.1',
      registry: createMetricsRegistry({ processMetrics: false }),
      health,
      logger,
      ...timing,
    });
    const shutdown = new AbortController();
    const run = ops.run(shutdown.signal);
    return { port: await ops.listening, run, stop: () => shutdown.abort() };
  }

  it('answers 503 when the health check itself fails', async () => {
    const server = await serve(() => {
      throw new Error('status unreadable');
    });
    const reply = await get(server.port, '/health');
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({
      status: 'degraded',
      reasons: ['health could not be assessed: status unreadable'],
    });
    server.stop();
    await server.run;
  });

  it('answers 503 when the health check does not answer in time', async () => {
    const server = await serve(() => new Promise<OpsHealth>(() => {}), { healthTimeoutMs: 50 });
    const reply = await get(server.port, '/health');
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({
      status: 'degraded',
      reasons: ['health could not be assessed: no answer within 50 ms'],
    });
    server.stop();
    await server.run;
  });

  it('answers 200 for a standby waiting for the lease', async () => {
    const server = await serve(standbyHealth);
    const reply = await get(server.port, '/health');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ status: 'ok', role: 'standby' });
    server.stop();
    await server.run;
  });

  it('cuts a request still running when the grace period after abort ends', async () => {
    let asked = false;
    const server = await serve(
      () => {
        asked = true;
        return new Promise<OpsHealth>(() => {});
      },
      { closeGraceMs: 100 },
    );
    const hanging = get(server.port, '/health');
    await waitFor(() => asked, { message: 'the request to reach the health check' });
    const began = Date.now();
    server.stop();
    await server.run;
    expect(Date.now() - began).toBeLessThan(1000);
    await expect(hanging).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('does not listen at all when aborted before it runs', async () => {
    const ops = new OpsServer({
      port: 0,
      registry: createMetricsRegistry({ processMetrics: false }),
      health: standbyHealth,
      logger,
    });
    await ops.run(AbortSignal.abort());
    await expect(ops.listening).rejects.toThrow(/stopped before it listened/);
  });
});
