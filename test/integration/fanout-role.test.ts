import { afterEach, describe, expect, it } from 'vitest';
import { ownerOf } from '../../ingest-task/fanout/shard.js';
import { type FanoutRole, fanoutRole } from '../../ingest-task/fanout-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryConnectionStore } from '../../shared/adapters/memory/memory-connection-store.js';
import { RedisConnectionIndex } from '../../shared/adapters/redis/redis-connection-index.js';
import { RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { DependencyUnavailableError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { sampleOptionSnapshot } from '../support/fixtures.js';
import { startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const TOKEN = sampleOptionSnapshot().instrument_token;

describe('ownerOf', () => {
  it('spreads connections evenly, agrees everywhere, and moves only the joining member’s share', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `${i}-${(i * 7919).toString(36)}=`);
    const three = ['a', 'b', 'c'];
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(ownerOf(id, three) as string, (counts.get(ownerOf(id, three) as string) ?? 0) + 1);
    for (const member of three) expect(Math.abs((counts.get(member) ?? 0) - 20_000 / 3)).toBeLessThan(600);
    // Order of the list does not matter; a fourth member takes connections only for itself.
    const moved = ids.filter((id) => ownerOf(id, three) !== ownerOf(id, [...three, 'd']));
    expect(moved.every((id) => ownerOf(id, ['d', 'c', 'b', 'a']) === 'd')).toBe(true);
    expect(moved.length / ids.length).toBeGreaterThan(0.2);
    expect(moved.length / ids.length).toBeLessThan(0.3);
    expect(ownerOf('x', [])).toBeUndefined();
  });
});

describe('the fanout role on Redis', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('splits connections between live instances, each tick once per client, and takes over when one leaves', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const publisher = await RedisTickBus.connect(server.url);
    const index = await RedisConnectionIndex.connect(server.url);
    cleanup.push(async () => {
      await publisher.close();
      await index.close();
    });
    const ids = Array.from({ length: 20 }, (_, i) => `conn-${i}`);
    const expiresAt = Math.floor(clock.now() / 1000) + 3600;
    for (const connectionId of ids) {
      await index.put({
        connectionId,
        userId: `user-${connectionId}`,
        tokens: [TOKEN],
        delivery: 'tick',
        batchIntervalMs: null,
        expiresAt,
      });
    }
    const gateway = new MemoryConnectionGateway();
    for (const id of ids) gateway.connect(id);

    /** The instances running now. */
    const live: FanoutRole[] = [];
    async function instance(
      instanceId: string,
      renewals: { failing: boolean } = { failing: false },
    ): Promise<{ role: FanoutRole; stop: () => Promise<void> }> {
      const bus = await RedisTickBus.connect(server.url);
      const redisState = await RedisLiveStateStore.connect(server.url);
      // Its membership renewals can be made to fail while its bus keeps working (a stalled command connection).
      const state = new Proxy(redisState, {
        get(target, key, receiver) {
          if (key === 'joinGroup' && renewals.failing) {
            return () => Promise.reject(new DependencyUnavailableError('redis', 'Command timed out'));
          }
          const value: unknown = Reflect.get(target, key, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
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
      const abort = new AbortController();
      const running = supervise(role.services, abort.signal, logger);
      live.push(role);
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        live.splice(live.indexOf(role), 1);
        abort.abort();
        await running;
        await bus.close();
        await redisState.close();
      };
      cleanup.push(stop);
      return { role, stop };
    }

    const ticksOf = (id: string) =>
      gateway
        .received(id)
        .map((m) => ServerMessage.parse(JSON.parse(m)))
        .flatMap((m) => (m.type === 'tick' ? [m.data.last_price] : []));
    /** Publishes ticks with fresh prices until every client has the first; returns the prices sent. */
    async function round(first: number, count: number): Promise<number[]> {
      const prices = Array.from({ length: count }, (_, i) => first + i);
      const before = live.map((role) => ({ ...role.fanout.counters }));
      let published = 0;
      await waitFor(
        async () => {
          await publisher.publish(
            Channels.options('NIFTY'),
            JSON.stringify(sampleOptionSnapshot({ last_price: first })),
          );
          published++;
          return ids.every((id) => ticksOf(id).includes(first));
        },
        { intervalMs: 50, message: 'every client to get a tick' },
      );
      for (const price of prices.slice(1)) {
        await publisher.publish(Channels.options('NIFTY'), JSON.stringify(sampleOptionSnapshot({ last_price: price })));
        published++;
      }
      await waitFor(() => ids.every((id) => ticksOf(id).includes(prices.at(-1) as number)));
      // Duplicates are looked for only once every instance has heard every tick of the round and
      // posted everything it queued for them.
      await waitFor(
        () =>
          live.every((role, i) => {
            const now = role.fanout.counters;
            const then = before[i] as typeof now;
            return (
              now.messagesIn - then.messagesIn === published &&
              now.posts - then.posts === now.deliveries - then.deliveries
            );
          }),
        { message: 'every instance to have delivered the round' },
      );
      return prices.slice(1);
    }
    const once = (prices: number[]) => {
      for (const id of ids) {
        const got = ticksOf(id);
        for (const price of prices)
          expect(
            got.filter((p) => p === price),
            `${id} ${price}`,
          ).toHaveLength(1);
      }
    };

    const a = await instance('fanout-a');
    expect(a.role.members()).toEqual(['fanout-a']);
    expect(a.role.fanout.connections).toBe(20);
    const bRenewals = { failing: false };
    const b = await instance('fanout-b', bRenewals);
    expect(b.role.members()).toEqual(['fanout-a', 'fanout-b']);
    await waitFor(() => a.role.members().length === 2, { message: 'the first instance to see the second' });
    const servedByB = ids.filter((id) => ownerOf(id, ['fanout-a', 'fanout-b']) === 'fanout-b');
    expect(servedByB.length).toBeGreaterThan(0);
    expect(servedByB.length).toBeLessThan(20);
    expect(a.role.fanout.connectionIds().sort()).toEqual(ids.filter((id) => !servedByB.includes(id)).sort());
    expect(b.role.fanout.connectionIds().sort()).toEqual([...servedByB].sort());
    once(await round(100, 5));

    // The second instance can no longer renew its membership: once it has lapsed, it serves no
    // one (the first has taken over), so no client gets a tick twice.
    bRenewals.failing = true;
    await waitFor(() => a.role.fanout.connections === 20 && b.role.fanout.connections === 0, {
      message: 'the lapsed instance to let go and the other to take over',
    });
    expect(b.role.members()).toEqual([]);
    once(await round(300, 5));
    bRenewals.failing = false;
    await waitFor(() => b.role.fanout.connections > 0, { message: 'the renewed instance to serve again' });
    await waitFor(() => a.role.fanout.connections + b.role.fanout.connections === 20);

    // The second instance stops: the first serves everyone again within a heartbeat or two.
    await b.stop();
    await waitFor(() => a.role.fanout.connections === 20, { message: 'the first instance to take over' });
    expect(a.role.members()).toEqual(['fanout-a']);
    once(await round(200, 5));
  });

  it('does not let a snapshot read before an unsubscribe bring the token back', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const publisher = await RedisTickBus.connect(server.url);
    const bus = await RedisTickBus.connect(server.url);
    const state = await RedisLiveStateStore.connect(server.url);
    const index = await RedisConnectionIndex.connect(server.url);
    cleanup.push(async () => {
      await publisher.close();
      await bus.close();
      await state.close();
      await index.close();
    });
    const OTHER = TOKEN + 256;
    const expiresAt = Math.floor(clock.now() / 1000) + 3600;
    const registry = new MemoryConnectionStore();
    let rereads = 0;
    const get = registry.get.bind(registry);
    registry.get = async (id) => {
      const record = await get(id);
      rereads++;
      return record;
    };
    await registry.put({
      connectionId: 'x',
      userId: 'u',
      email: null,
      name: null,
      tokens: [TOKEN, OTHER],
      delivery: 'tick',
      batchIntervalMs: null,
      connectedAt: clock.now(),
      expiresAt,
    });
    await index.put({
      connectionId: 'x',
      userId: 'u',
      tokens: [TOKEN, OTHER],
      delivery: 'tick',
      batchIntervalMs: null,
      expiresAt,
    });
    // The second snapshot (the load after start-up) is read at once but handed over only on release.
    let snapshots = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const slowIndex = new Proxy(index, {
      get(target, key, receiver) {
        if (key === 'snapshot') {
          return async () => {
            const taken = await target.snapshot();
            if (++snapshots === 2) await released;
            return taken;
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const gateway = new MemoryConnectionGateway();
    gateway.connect('x');
    const role = fanoutRole({
      config: loadConfig({}),
      bus,
      state,
      connections: registry,
      connectionIndex: slowIndex,
      clock,
      logger,
      gateway,
      instanceId: 'solo',
      heartbeatMs: 100,
    });
    await role.restore();
    const abort = new AbortController();
    const running = supervise(role.services, abort.signal, logger);
    cleanup.push(async () => {
      abort.abort();
      await running;
    });
    await waitFor(() => snapshots === 2, { message: 'the load after start-up' });
    // The client unsubscribes while that (older) snapshot is on its way.
    let unsubscribed = 0;
    const unsubscribe = role.fanout.unsubscribe.bind(role.fanout);
    role.fanout.unsubscribe = (id, tokens) => {
      unsubscribed++;
      return unsubscribe(id, tokens);
    };
    await registry.removeTokens('x', [OTHER]);
    await index.removeTokens('x', [OTHER]);
    await publisher.publish(
      Channels.connections,
      JSON.stringify({ type: 'unsubscribed', connection_id: 'x', tokens: [OTHER] }),
    );
    await waitFor(() => unsubscribed === 1, { message: 'the unsubscribe to reach the fan-out' });
    release();
    // The load ends by reading the touched connection again from the registry.
    await waitFor(() => rereads === 1, { message: 'the load to read the unsubscribed connection again' });
    const prices = () =>
      gateway
        .received('x')
        .map((m) => ServerMessage.parse(JSON.parse(m)))
        .flatMap((m) => (m.type === 'tick' ? [m.data.instrument_token] : []));
    await waitFor(
      async () => {
        await publisher.publish(
          Channels.options('NIFTY'),
          JSON.stringify([sampleOptionSnapshot({ instrument_token: OTHER }), sampleOptionSnapshot()]),
        );
        return prices().includes(TOKEN);
      },
      { intervalMs: 50, message: 'a tick of the token still subscribed' },
    );
    expect(prices()).not.toContain(OTHER);
  });
});
