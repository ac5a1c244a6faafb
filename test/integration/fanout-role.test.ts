import { afterEach, describe, expect, it } from 'vitest';
import { ownsConnection, shardOf } from '../../ingest-task/fanout/shard.js';
import { fanoutRole } from '../../ingest-task/fanout-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryConnectionStore } from '../../shared/adapters/memory/memory-connection-store.js';
import { MemoryLiveStateStore } from '../../shared/adapters/memory/memory-live-state-store.js';
import { RedisConnectionIndex } from '../../shared/adapters/redis/redis-connection-index.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { createLogger } from '../../shared/logging.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { sampleOptionSnapshot } from '../support/fixtures.js';
import { startRedisServer } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const TOKEN = sampleOptionSnapshot().instrument_token;

/** Connection ids, the first `n` of each shard (of 2). */
function idsByShard(n: number): [string[], string[]] {
  const shards: [string[], string[]] = [[], []];
  for (let i = 0; shards[0].length < n || shards[1].length < n; i++) {
    const id = `conn-${i}`;
    const list = shards[shardOf(id, 2) as 0 | 1];
    if (list.length < n) list.push(id);
  }
  return shards;
}

describe('shardOf', () => {
  it('spreads connection ids evenly and the same way in every instance', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) {
      const shard = shardOf(`${i}-${(i * 7919).toString(36)}=`, 4);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    for (const count of counts) expect(Math.abs(count - 5000)).toBeLessThan(500);
    expect(shardOf('Zm9vYmFyCg=', 4)).toBe(shardOf('Zm9vYmFyCg=', 4));
    expect(ownsConnection({ index: 0, count: 1 }, 'anything')).toBe(true);
  });
});

describe('the fanout role on Redis', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('serves only its shard: restores its connections from the index, follows their events, ignores the others', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const bus = await RedisTickBus.connect(server.url);
    const publisher = await RedisTickBus.connect(server.url);
    const index = await RedisConnectionIndex.connect(server.url);
    cleanup.push(async () => {
      await bus.close();
      await publisher.close();
      await index.close();
    });
    const [mine, theirs] = idsByShard(2);
    const expiresAt = Math.floor(clock.now() / 1000) + 3600;
    // Connected and subscribed before this instance started.
    for (const connectionId of [mine[0], theirs[0]] as string[]) {
      await index.put({ connectionId, tokens: [TOKEN], delivery: 'tick', batchIntervalMs: null, expiresAt });
    }
    const gateway = new MemoryConnectionGateway();
    for (const id of [...mine, ...theirs]) gateway.connect(id);
    const role = fanoutRole({
      config: loadConfig({ FANOUT_SHARD_COUNT: '2', FANOUT_SHARD_INDEX: '0' }),
      bus,
      state: new MemoryLiveStateStore(),
      connections: new MemoryConnectionStore(),
      connectionIndex: index,
      clock,
      logger,
      gateway,
    });
    expect(await role.restore()).toBe(1);
    const stop = new AbortController();
    const running = supervise(role.services, stop.signal, logger);
    cleanup.push(async () => {
      stop.abort();
      await running;
    });
    const ticksOf = (id: string) =>
      gateway
        .received(id)
        .map((m) => ServerMessage.parse(JSON.parse(m)))
        .filter((m) => m.type === 'tick');
    const tick = sampleOptionSnapshot({ last_price: 312.25 });
    await waitFor(
      async () => {
        // Connected after it started (events are idempotent, so they are repeated until the
        // instance listens): only the event of its own shard's connection is followed.
        for (const connectionId of [mine[1], theirs[1]] as string[]) {
          await publisher.publish(
            Channels.connections,
            JSON.stringify({ type: 'subscribed', connection_id: connectionId, tokens: [TOKEN] }),
          );
        }
        await publisher.publish(Channels.options('NIFTY'), JSON.stringify(tick));
        return mine.every((id) => ticksOf(id).length > 0);
      },
      { intervalMs: 50, message: 'both connections of the shard to get ticks' },
    );
    await sleep(100);
    for (const id of mine) expect(ticksOf(id)[0]).toEqual({ type: 'tick', data: tick });
    for (const id of theirs) expect(gateway.received(id)).toEqual([]);
    expect(role.fanout.connections).toBe(2);
  });
});
