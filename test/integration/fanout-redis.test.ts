import { afterEach, describe, expect, it } from 'vitest';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { ownerOf } from '../../ingest-task/fanout/shard.js';
import { type FanoutRole, fanoutRole } from '../../ingest-task/fanout-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryConnectionStore } from '../../shared/adapters/memory/memory-connection-store.js';
import { RedisConnectionIndex } from '../../shared/adapters/redis/redis-connection-index.js';
import { RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { ownerIdOfSubject } from '../../shared/auth/owner.js';
import { loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { createLogger } from '../../shared/logging.js';
import { orderUpdateOf, publishOrderUpdate } from '../../shared/order-updates.js';
import { Channels, type TickBus } from '../../shared/ports/tick-bus.js';
import { createTickBus } from '../../shared/wiring.js';
import { sampleOptionSnapshot } from '../support/fixtures.js';
import { captureLogs } from '../support/log-capture.js';
import { orderRecordOf } from '../support/order-update-fixtures.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/*
 * The fan-out listening on a real Redis. Each test has a redis-server of its own: other test files
 * publish mock ticks on the same channel names.
 */
describe('Fanout on Redis', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** A fan-out on `server` with one client subscribed to 256265; `listener` replaces its bus. */
  async function running(server: RedisServer, listener?: TickBus) {
    const listenerBus = listener ?? (await RedisTickBus.connect(server.url));
    const publisher = await RedisTickBus.connect(server.url);
    const gateway = new MemoryConnectionGateway();
    const fanout = new Fanout({ bus: listenerBus, gateway, clock: new SystemClock(), logger });
    const stop = new AbortController();
    const run = fanout.run(stop.signal);
    cleanup.push(async () => {
      stop.abort();
      await run;
      await listenerBus.close();
      await publisher.close();
    });
    gateway.connect('client');
    fanout.addConnection('client');
    fanout.subscribe('client', [256265]);
    const messages = () => gateway.received('client').map((m) => ServerMessage.parse(JSON.parse(m)));
    const ticks = () => messages().flatMap((m) => (m.type === 'tick' ? [m.data] : []));
    return { fanout, publisher, ticks, messages };
  }

  it('TC-WSS-040, TC-WSS-041: listens on ticker:* from start-up and delivers a ticker:nifty:options message', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const { fanout, publisher, ticks, messages } = await running(server);
    const sent = sampleOptionSnapshot({ last_price: 251.5 });
    // The pattern subscription is in place once the listener is running: publish until it answers.
    await waitFor(
      async () => {
        await publisher.publish(Channels.options('NIFTY'), JSON.stringify(sent));
        return ticks().length > 0;
      },
      { intervalMs: 50, message: 'the listener to receive' },
    );
    expect(ticks()[0]).toEqual(sent);
    // Underlying bars on `ticker:nifty:underlying` reach subscribers of the index token as `bar` messages.
    const bar = {
      instrument_token: 256265,
      tradingsymbol: 'NIFTY 50',
      open: 24_000,
      high: 24_010,
      low: 23_990,
      close: 24_005,
      volume: 1200,
      timestamp: '2025-01-08T09:15:01.000Z',
      is_mock: true,
    };
    await publisher.publish(Channels.underlying('NIFTY'), JSON.stringify(bar));
    await waitFor(() => messages().some((m) => m.type === 'bar'));
    expect(messages().find((m) => m.type === 'bar')).toEqual({ type: 'bar', data: bar });
    // The listener holds the pattern, not a list of channels: the other underlying's channel,
    // never published to before, is heard as well.
    fanout.subscribe('client', [260105]);
    const bank = sampleOptionSnapshot({ instrument_token: 260105, tradingsymbol: 'BANKNIFTY25JAN48000CE' });
    await publisher.publish(Channels.options('BANKNIFTY'), JSON.stringify(bank));
    await waitFor(() => ticks().some((t) => t.instrument_token === 260105), { message: 'the BANKNIFTY tick' });
    expect(fanout.counters.malformed).toBe(0);
  });

  it("delivers an order update on orders:<owner> to the owner's connection only", async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const { fanout, publisher, messages } = await running(server);
    fanout.addConnection('client', { mode: 'tick' }, ownerIdOfSubject('asha'));
    const probe = orderRecordOf('probe', 'nobody', { status: 'OPEN' });
    await waitFor(async () => (await publishOrderUpdate(publisher, probe)) > 0, { message: 'the listener' });
    const balus = orderRecordOf('t-balu', ownerIdOfSubject('balu'), { status: 'OPEN' });
    const ashas = orderRecordOf('t-asha', ownerIdOfSubject('asha'), { status: 'COMPLETE', averagePrice: 99.5 });
    await publishOrderUpdate(publisher, balus);
    await publishOrderUpdate(publisher, ashas);
    // Balu's went out first on the same connection: had it been delivered, it would be first here.
    await waitFor(() => messages().length > 0);
    expect(messages()).toEqual([{ type: 'order', data: orderUpdateOf(ashas) }]);
  });

  it("shards: every fan-out instance hears an update and posts it to the owner's connections it serves", async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const clock = new SystemClock();
    const publisher = await RedisTickBus.connect(server.url);
    const index = await RedisConnectionIndex.connect(server.url);
    cleanup.push(async () => {
      await publisher.close();
      await index.close();
    });
    // Asha has a connection on each of two instances (rendezvous hashing decides which), Balu one.
    const members = ['fanout-a', 'fanout-b'];
    const ids = Array.from({ length: 40 }, (_, i) => `conn-${i}`);
    const onA = ids.find((id) => ownerOf(id, members) === 'fanout-a') as string;
    const onB = ids.find((id) => ownerOf(id, members) === 'fanout-b') as string;
    const balusConnection = ids.find((id) => id !== onA && id !== onB) as string;
    const users = new Map([
      [onA, 'asha'],
      [onB, 'asha'],
      [balusConnection, 'balu'],
    ]);
    const expiresAt = Math.floor(clock.now() / 1000) + 3600;
    const gateway = new MemoryConnectionGateway();
    for (const [connectionId, userId] of users) {
      // Loaded from the index: the instances never hear these connections' `connected` events.
      await index.put({ connectionId, userId, tokens: [], delivery: 'tick', batchIntervalMs: null, expiresAt });
      gateway.connect(connectionId);
    }
    const state = await RedisLiveStateStore.connect(server.url);
    cleanup.push(() => state.close());
    const roles: FanoutRole[] = [];
    for (const instanceId of members) {
      const bus = await RedisTickBus.connect(server.url);
      const role = fanoutRole({
        config: loadConfig({}),
        bus,
        state,
        connections: new MemoryConnectionStore(),
        connectionIndex: index,
        clock,
        logger,
        gateway,
        instanceId,
        heartbeatMs: 100,
        membershipTtlMs: 400,
      });
      await role.restore();
      const stop = new AbortController();
      const run = supervise(role.services, stop.signal, logger);
      cleanup.push(async () => {
        stop.abort();
        await run;
        await bus.close();
      });
      roles.push(role);
    }
    // Once each sees the other, each has dropped what the other serves (the first loaded all three).
    await waitFor(() => roles.every((role) => role.members().join() === members.join()), { message: 'both members' });
    expect(roles.map((role) => role.fanout.connectionIds().sort())).toEqual([
      [onA, ...(ownerOf(balusConnection, members) === 'fanout-a' ? [balusConnection] : [])].sort(),
      [onB, ...(ownerOf(balusConnection, members) === 'fanout-b' ? [balusConnection] : [])].sort(),
    ]);
    const probe = orderRecordOf('probe', 'nobody', { status: 'OPEN' });
    await waitFor(async () => (await publishOrderUpdate(publisher, probe)) === 2, { message: 'both listeners' });
    const ashas = orderRecordOf('t-asha', ownerIdOfSubject('asha'), { status: 'OPEN', pendingQuantity: 75 });
    const balus = orderRecordOf('t-balu', ownerIdOfSubject('balu'), { status: 'OPEN', pendingQuantity: 75 });
    await publishOrderUpdate(publisher, ashas);
    await publishOrderUpdate(publisher, balus);
    const orders = (id: string) => gateway.received(id).map((m) => ServerMessage.parse(JSON.parse(m)));
    await waitFor(() => [onA, onB, balusConnection].every((id) => orders(id).length > 0), {
      message: 'an update on every connection',
    });
    expect(orders(onA)).toEqual([{ type: 'order', data: orderUpdateOf(ashas) }]);
    expect(orders(onB)).toEqual([{ type: 'order', data: orderUpdateOf(ashas) }]);
    expect(orders(balusConnection)).toEqual([{ type: 'order', data: orderUpdateOf(balus) }]);
  });

  it('TC-WSS-042: detects Redis going away, logs its reconnection attempts, and recovers without intervention', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const { logs } = await captureLogs(async (captured, live) => {
      // The listener's bus as the processes build it, so what it logs is what operators see.
      const listener = await createTickBus(loadConfig({ REDIS_URL: server.url }), captured);
      const { publisher, ticks } = await running(server, listener);
      await waitFor(async () => {
        await publisher.publish(Channels.options('NIFTY'), JSON.stringify(sampleOptionSnapshot({ last_price: 1 })));
        return ticks().length > 0;
      });
      const subscriberLogs = (message: string) =>
        live.filter((l) => l.message === message && l.connection === 'subscriber').length;
      await server.stop();
      await waitFor(() => subscriberLogs('Redis connection reconnecting') >= 2, {
        message: 'the listener to detect the loss and retry',
      });
      const readyBefore = subscriberLogs('Redis connection ready');
      await server.start();
      await waitFor(
        async () => {
          await publisher
            .publish(Channels.options('NIFTY'), JSON.stringify(sampleOptionSnapshot({ last_price: 2 })))
            .catch(() => {});
          return ticks().some((t) => t.last_price === 2);
        },
        { timeoutMs: 10_000, intervalMs: 50, message: 'delivery after the restart' },
      );
      expect(subscriberLogs('Redis connection ready')).toBeGreaterThan(readyBefore);
    });
    expect(logs.some((l) => l.level === 'WARN' && l.message === 'Redis connection error')).toBe(true);
  });
});
