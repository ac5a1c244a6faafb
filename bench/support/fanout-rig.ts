import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { SignJWT } from 'jose';
import { wsRoutes } from '../../functions/ws/ws-routes.js';
import { LocalWsGateway } from '../../infra/local/ws-gateway.js';
import { ConnectionEvents } from '../../ingest-task/fanout/connection-events.js';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { MemoryConnectionStore } from '../../shared/adapters/memory/memory-connection-store.js';
import { MemoryLiveStateStore } from '../../shared/adapters/memory/memory-live-state-store.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { JwtVerifier } from '../../shared/auth/jwt-verifier.js';
import { createLogger } from '../../shared/logging.js';
import { Secret } from '../../shared/secret.js';
import { startRedisServer } from '../../test/support/redis-server.js';
import { createLatencyHistogram } from '../scenario.js';
import { type ChildHandle, startChild } from './child-process.js';
import type { GeneratorProcessConfig, GeneratorRpc } from './tick-generator-process.js';
import type { ClientSpec, ClientsProcessConfig, ClientsReport, ClientsRpc } from './ws-clients-process.js';

/*
 * The fan-out benchmark's rig, on real parts in three processes:
 *
 *   tick generator (child) → Redis (throwaway redis-server) → this process: Fanout + the local
 *   WebSocket gateway (the same route handlers as the Lambdas, API Gateway's behaviour) → the
 *   clients (child, real WebSocket connections)
 *
 * Only the fan-out and the gateway run here, so this process's CPU time is theirs.
 */

const logger = createLogger('bench-fanout', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const SECRET = 'fanout-benchmark-secret-of-at-least-32-characters';
export const FIRST_TOKEN = 9_000_001;
const generatorEntry = new URL('./tick-generator-process.ts', import.meta.url);
const clientsEntry = new URL('./ws-clients-process.ts', import.meta.url);

/** One measured window: what was published, what arrived, what the fan-out did, and CPU. */
export interface FanoutWindow {
  readonly seconds: number;
  readonly published: number;
  readonly report: ClientsReport;
  readonly latency: Histogram;
  readonly posts: number;
  readonly deliveries: number;
  readonly dropped: number;
  /** CPU of this process (fan-out + gateway) and of the clients, % of one core. */
  readonly fanoutCpuPct: number;
  readonly clientsCpuPct: number;
}

export class FanoutRig {
  readonly fanout: Fanout;
  readonly #generator: ChildHandle<GeneratorRpc, null>;
  readonly #url: string;
  readonly #token: string;
  readonly #close: () => Promise<void>;
  #clients: ChildHandle<ClientsRpc, null> | undefined;

  private constructor(
    fanout: Fanout,
    generator: ChildHandle<GeneratorRpc, null>,
    url: string,
    token: string,
    close: () => Promise<void>,
  ) {
    this.fanout = fanout;
    this.#generator = generator;
    this.#url = url;
    this.#token = token;
    this.#close = close;
  }

  static async start(instruments: number): Promise<FanoutRig> {
    const redis = await startRedisServer();
    const bus = await RedisTickBus.connect(redis.url);
    const routes = wsRoutes({
      config: {
        realtime: {
          managementEndpoint: undefined,
          batchIntervalMs: 250,
          maxTokensPerClient: 1000,
          demandGraceSeconds: 60,
          streamCapacity: 9000,
        },
      },
      // Every token is an option here, and capacity is not checked: the rig streams what it publishes.
      instruments: { get: async () => ({ instrumentType: 'CE' }) },
      streaming: async () => undefined,
      verifier: new JwtVerifier({ secret: new Secret(SECRET) }),
      connections: new MemoryConnectionStore(),
      bus,
      clock,
      logger,
    });
    const gateway = new LocalWsGateway(routes, logger);
    const fanout = new Fanout({ bus, gateway, clock, logger });
    const events = new ConnectionEvents({ bus, fanout, gateway, state: new MemoryLiveStateStore(), clock, logger });
    const stop = new AbortController();
    const running = supervise([fanout, events], stop.signal, logger);
    const server = createServer((_, response) => response.writeHead(404).end());
    server.on('upgrade', (request, socket, head) => void gateway.upgrade(request, socket, head));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const generator = await startChild<GeneratorRpc, null>(generatorEntry, {
      redisUrl: redis.url,
      firstToken: FIRST_TOKEN,
      instruments,
      stepMs: 2,
    } satisfies GeneratorProcessConfig);
    const token = await new SignJWT({ name: 'Bench Client', email: 'bench@example.com' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(SECRET));
    return new FanoutRig(fanout, generator, url, token, async () => {
      await generator.stop();
      await gateway.closeAll();
      server.close();
      server.closeAllConnections();
      stop.abort();
      await running;
      await bus.close();
      await redis.stop();
    });
  }

  /** Replaces the clients with a fresh set (a new process), connected, greeted and subscribed. */
  async openClients(clients: readonly ClientSpec[]): Promise<void> {
    await this.closeClients();
    this.#clients = await startChild<ClientsRpc, null>(clientsEntry, {
      url: this.#url,
      token: this.#token,
    } satisfies ClientsProcessConfig);
    const opened = await this.#clients.request('open', { clients });
    if (opened !== clients.length) throw new Error(`only ${opened} of ${clients.length} clients opened`);
    // Subscriptions reach the fan-out through the bus: give the last ones a moment.
    await sleep(300);
  }

  async closeClients(): Promise<void> {
    if (!this.#clients) return;
    await this.#clients.request('close', null).catch(() => null);
    await this.#clients.stop();
    this.#clients = undefined;
  }

  /**
   * Offers `ticksPerS` for `seconds` after `warmupS`, then stops the generator and lets everything
   * in flight arrive, so what was published and what was received compare exactly.
   */
  async window(ticksPerS: number, warmupS: number, seconds: number): Promise<FanoutWindow> {
    const clients = this.#clients;
    if (!clients) throw new Error('no clients open');
    await this.#generator.request('rate', { ticksPerS });
    await sleep(warmupS * 1000);
    await this.#generator.request('rate', { ticksPerS: 0 });
    await sleep(500);
    const startPublished = await this.#generator.request('rate', { ticksPerS: 0 });
    const startCounters = { ...this.fanout.counters };
    await clients.request('reset', null);
    const before = await clients.request('report', null);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await this.#generator.request('rate', { ticksPerS });
    await sleep(seconds * 1000);
    const endPublished = await this.#generator.request('rate', { ticksPerS: 0 });
    const elapsedS = (performance.now() - started) / 1000;
    await sleep(1000);
    const cpu = process.cpuUsage(cpuBefore);
    const wallS = (performance.now() - started) / 1000;
    const report = await clients.request('report', null);
    const latency = createLatencyHistogram();
    latency.add(decodeFromCompressedBase64(report.latencyUs));
    return {
      seconds: elapsedS,
      published: endPublished - startPublished,
      report,
      latency,
      posts: this.fanout.counters.posts - startCounters.posts,
      deliveries: this.fanout.counters.deliveries - startCounters.deliveries,
      dropped: this.fanout.counters.dropped - startCounters.dropped,
      fanoutCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (wallS * 1000)) * 1000) / 10,
      clientsCpuPct:
        Math.round(((report.usage.cpuMs - before.usage.cpuMs) / (report.windowMs || wallS * 1000)) * 1000) / 10,
    };
  }

  async close(): Promise<void> {
    await this.closeClients();
    await this.#close();
  }
}

/** Runs `use` on a started rig and always tears it down. */
export async function withFanoutRig<T>(instruments: number, use: (rig: FanoutRig) => Promise<T>): Promise<T> {
  const rig = await FanoutRig.start(instruments);
  try {
    return await use(rig);
  } finally {
    await rig.close();
  }
}

/** `count` clients, client `k` subscribed to `perClient` consecutive tokens of `instruments` from `k × perClient`. */
export function clientSpecs(
  count: number,
  perClient: number,
  instruments: number,
  delivery: ClientSpec['delivery'] = 'tick',
  intervalMs?: number,
): ClientSpec[] {
  return Array.from({ length: count }, (_, k) => ({
    tokens: Array.from({ length: perClient }, (_, j) => FIRST_TOKEN + ((k * perClient + j) % instruments)),
    delivery,
    ...(intervalMs !== undefined && { intervalMs }),
  }));
}

/** The percentiles of a histogram in ms, for a result's extra figures. */
export function percentilesMs(prefix: string, histogram: Histogram): Record<string, number> {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    [`${prefix}_p50_ms`]: ms(histogram.getValueAtPercentile(50)),
    [`${prefix}_p99_ms`]: ms(histogram.getValueAtPercentile(99)),
    [`${prefix}_max_ms`]: ms(histogram.maxValue),
  };
}
