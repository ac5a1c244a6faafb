import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { createLogger } from '../../shared/logging.js';
import { Secret } from '../../shared/secret.js';
import { chainOptionTokens, type IngestChain, sequenceOf, startIngestChain } from '../support/ingest-chain.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/*
 * The whole client path on real parts: Kite simulator → KitePool → TickPipeline → TickPublisher →
 * Redis → Fanout (its own Redis connection, listening on ticker:*) → the local WebSocket gateway
 * (the Lambdas' route handlers behind API Gateway's semantics) → a real `ws` client. The latency of
 * that path (generation → client) is measured by `npm run bench -- fanout-latency`, never here.
 */

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const SECRET = 'end-to-end-delivery-secret-of-at-least-32-characters';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The fan-out and the local WebSocket gateway on `redisUrl`; resolves with the client URL. */
async function startDelivery(redisUrl: string): Promise<{ url: string; fanout: Fanout }> {
  const bus = await RedisTickBus.connect(redisUrl);
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
    // Every token is an option here, and capacity is not checked: the test streams what it publishes.
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
  cleanup.push(async () => {
    await gateway.closeAll();
    server.closeAllConnections();
    server.close();
    stop.abort();
    await running;
    await bus.close();
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`, fanout };
}

describe('end-to-end delivery', () => {
  it('TC-PERF-021: every tick generated after a client subscribes reaches it once, unchanged and in order, through Redis, the fan-out and the gateway', async () => {
    const chain: IngestChain = await startIngestChain({ redisUrl: redis.url, tickIntervalMs: 50, keepPayloads: true });
    cleanup.push(() => chain.close());
    const { url, fanout } = await startDelivery(redis.url);
    const streamed = chainOptionTokens.slice(0, 20);
    const wanted = streamed.slice(0, 5);
    await chain.stream(streamed);

    const jwt = await new SignJWT({ name: 'Latency Client', email: 'client@example.in' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('client-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(jwt)}`);
    cleanup.push(() => ws.terminate());
    const messages: ServerMessage[] = [];
    ws.on('message', (data) => messages.push(ServerMessage.parse(JSON.parse(data.toString()))));
    await once(ws, 'open');
    await waitFor(() => messages.some((m) => m.type === 'connected'), { message: 'the connected greeting' });
    ws.send(JSON.stringify({ action: 'subscribe', tokens: wanted }));
    await waitFor(() => messages.some((m) => m.type === 'subscribed'), { message: 'the subscribed answer' });

    /** The ticks the client got, per token, as the JSON of their `data`. */
    const clientTicks = (token: number) =>
      messages.flatMap((m) => (m.type === 'tick' && m.data.instrument_token === token ? [JSON.stringify(m.data)] : []));
    await waitFor(() => wanted.every((t) => clientTicks(t).length >= 20), {
      timeoutMs: 15_000,
      message: '20 ticks of each subscribed token at the client',
    });
    // Generation stops; everything generated is published, and then delivered.
    await chain.quiesce();
    await waitFor(
      () =>
        wanted.every((t) => {
          const last = clientTicks(t).at(-1);
          return last !== undefined && last === chain.payloads.get(t)?.at(-1);
        }),
      { timeoutMs: 10_000, message: 'the last published tick of each token at the client' },
    );

    for (const token of wanted) {
      const generated = chain.generated.get(token)?.length ?? 0;
      const published = chain.payloads.get(token) ?? [];
      // Each generated tick was published once, in order.
      expect(published.map((p) => sequenceOf((JSON.parse(p) as { last_price: number }).last_price))).toEqual(
        Array.from({ length: generated }, (_, i) => i),
      );
      // From the first tick after its subscription took effect, the client got every one of them,
      // once, in order, exactly as published.
      const received = clientTicks(token);
      const first = published.indexOf(received[0] as string);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(received).toEqual(published.slice(first));
      expect(received.length).toBeGreaterThanOrEqual(20);
    }
    // Nothing for instruments the client did not subscribe to, and nothing dropped or failed on the way.
    const others = messages.filter((m) => m.type === 'tick' && !wanted.includes(m.data.instrument_token));
    expect(others).toEqual([]);
    expect(fanout.counters.dropped).toBe(0);
    expect(fanout.counters.postErrors).toBe(0);
    expect(fanout.counters.malformed).toBe(0);
    expect(messages.filter((m) => m.type === 'error')).toEqual([]);
  });
});
