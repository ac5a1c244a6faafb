import { randomUUID } from 'node:crypto';
import { ownerIdOfSubject } from '../shared/auth/owner.js';
import { describeError } from '../shared/errors.js';
import type { ConnectionGateway } from '../shared/ports/connection-gateway.js';
import type { Components } from '../shared/wiring.js';
import { ConnectionEvents } from './fanout/connection-events.js';
import { type Delivery, Fanout } from './fanout/fanout.js';
import { ownerOf } from './fanout/shard.js';
import type { Service } from './supervisor.js';

/** The live-state group fan-out instances join to find each other. */
export const FANOUT_GROUP = 'fanout';

/** What the `fanout` role needs: the components, and the gateway it posts through. */
export interface FanoutRoleDependencies
  extends Pick<Components, 'config' | 'bus' | 'state' | 'connections' | 'connectionIndex' | 'clock' | 'logger'> {
  readonly gateway: ConnectionGateway;
  /** This instance's name in the group. Default: a random id per process. */
  readonly instanceId?: string;
  /** How often the instance renews its membership and re-reads the group (ms). Default 2000. */
  readonly heartbeatMs?: number;
  /** How long a membership lasts without renewal (ms). Default 3 heartbeats. */
  readonly membershipTtlMs?: number;
}

export interface FanoutRole {
  readonly fanout: Fanout;
  readonly instanceId: string;
  readonly services: readonly Service[];
  /** The live fan-out instances as this one last saw them, sorted. */
  members(): readonly string[];
  /**
   * Joins the group, then loads the connections this instance serves from the connection index
   * (none without one); returns how many. Call before the services run.
   */
  restore(): Promise<number>;
}

/**
 * The `fanout` role of the ingest task: ticks from the bus to the WebSocket clients this instance
 * serves. Fan-out instances scale out freely (ECS autoscaling): each joins a group in the live
 * state (Redis) and renews its membership every heartbeat, and a connection is served by the
 * instance rendezvous hashing picks among the live members. When an instance joins, leaves or
 * dies (its membership lapses), every instance sees the new member list within a heartbeat, drops
 * the connections it no longer serves and loads the ones it now does from the Redis connection
 * index: a client may miss ticks for up to a membership TTL, never gets them twice for long.
 * Connection events of connections served elsewhere are ignored. A 410 from the gateway removes
 * the connection from the registry. Every instance hears every order update and posts it to the
 * connections of its owner that it serves (the index records each connection's user for that).
 */
export function fanoutRole(deps: FanoutRoleDependencies): FanoutRole {
  const { bus, state, connections, connectionIndex, clock, logger, gateway, config } = deps;
  const instanceId = deps.instanceId ?? `fanout-${randomUUID()}`;
  const heartbeatMs = deps.heartbeatMs ?? 2000;
  const ttlMs = deps.membershipTtlMs ?? heartbeatMs * 3;
  let members: readonly string[] = [instanceId];
  const owns = (connectionId: string) => ownerOf(connectionId, members) === instanceId;
  /** Connections that had an event while a snapshot was being loaded: the snapshot may be older. */
  let touchedDuringLoad: Set<string> | undefined;

  const fanout = new Fanout({
    bus,
    gateway,
    clock,
    logger,
    onGone: (connectionId) =>
      void connections
        .remove(connectionId)
        .catch((error: unknown) =>
          logger.warn('Gone connection not removed from the registry', { connectionId, error: describeError(error) }),
        ),
  });
  const events = new ConnectionEvents({
    bus,
    fanout,
    gateway,
    state,
    clock,
    logger,
    owns: (connectionId) => {
      touchedDuringLoad?.add(connectionId);
      return owns(connectionId);
    },
    defaultBatchIntervalMs: config.realtime.batchIntervalMs,
  });

  const deliveryOf = (delivery: 'tick' | 'batch', intervalMs: number | null): Delivery =>
    delivery === 'batch'
      ? { mode: 'batch', intervalMs: intervalMs ?? config.realtime.batchIntervalMs }
      : { mode: 'tick' };

  /**
   * Loads the served connections from the index; the fan-out's calls are idempotent. A connection
   * that had an event while the snapshot was read (an unsubscribe, a disconnect) is not taken from
   * the snapshot, which may predate the event, but read again from the registry afterwards.
   */
  const load = async (): Promise<number> => {
    if (!connectionIndex) return 0;
    const touched = new Set<string>();
    touchedDuringLoad = touched;
    try {
      const nowSeconds = Math.floor(clock.now() / 1000);
      let loaded = 0;
      for (const connection of await connectionIndex.snapshot()) {
        const id = connection.connectionId;
        if (!owns(id) || connection.expiresAt <= nowSeconds || touched.has(id)) continue;
        fanout.addConnection(
          id,
          deliveryOf(connection.delivery, connection.batchIntervalMs),
          // '' only for an entry indexed without its user: it gets ticks, and no order updates.
          connection.userId === '' ? undefined : ownerIdOfSubject(connection.userId),
        );
        fanout.subscribe(id, connection.tokens);
        if (connection.version !== undefined) events.noteVersion(id, connection.version);
        loaded++;
      }
      for (const id of touched) {
        if (!owns(id)) continue;
        const record = await connections.get(id);
        fanout.removeConnection(id);
        if (record === undefined || record.expiresAt <= Math.floor(clock.now() / 1000)) continue;
        fanout.addConnection(id, deliveryOf(record.delivery, record.batchIntervalMs), ownerIdOfSubject(record.userId));
        fanout.subscribe(id, record.tokens);
      }
      return loaded;
    } finally {
      touchedDuringLoad = undefined;
    }
  };

  /** The last time the membership was renewed; past its TTL this instance may no longer serve anyone. */
  let renewedAt = Number.NEGATIVE_INFINITY;

  /** Drops the connections this instance no longer serves; loads the ones it now does. */
  const rebalance = async (before: readonly string[]): Promise<void> => {
    let dropped = 0;
    for (const id of fanout.connectionIds()) {
      if (owns(id)) continue;
      fanout.removeConnection(id);
      dropped++;
    }
    const loaded =
      members.length === 0
        ? 0
        : await load().catch((error: unknown) => {
            logger.error('Connections not loaded after a membership change', { error: describeError(error) });
            return 0;
          });
    logger.info('Fan-out members changed', { before, members, dropped, loaded });
  };

  /**
   * Renews the membership; when the member list changed, hands over connections. While renewals
   * fail the instance keeps serving, but only until its membership has lapsed: from then on the
   * others serve its connections, so it serves no one until it is a member again.
   */
  const heartbeat = async (): Promise<void> => {
    let current: string[];
    try {
      current = await state.joinGroup(FANOUT_GROUP, instanceId, ttlMs);
      renewedAt = clock.now();
    } catch (error) {
      logger.warn('Fan-out membership not renewed', { error: describeError(error) });
      if (members.length > 0 && clock.now() - renewedAt >= ttlMs) {
        const before = members;
        members = [];
        await rebalance(before);
      }
      return;
    }
    if (current.join('\n') === members.join('\n')) return;
    const before = members;
    members = current.includes(instanceId) ? current : [...current, instanceId].sort();
    await rebalance(before);
  };

  const membership: Service = {
    name: 'fanout-membership',
    run: async (signal) => {
      let first = true;
      while (!signal.aborted) {
        await sleep(heartbeatMs, signal);
        if (signal.aborted) break;
        await heartbeat();
        // Events of connections that arrived between the start-up snapshot and the moment the
        // event listener was up were missed: one more load (idempotent) picks them up.
        if (first && members.length > 0) await load().catch(() => 0);
        first = false;
      }
      await state.leaveGroup(FANOUT_GROUP, instanceId).catch(() => {});
    },
  };

  /** Waits `ms` on the clock, or until `signal` aborts; leaves no listener behind. */
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const onAbort = () => {
        cancel();
        resolve();
      };
      const cancel = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  return {
    fanout,
    instanceId,
    services: [fanout, events, membership],
    members: () => members,
    restore: async () => {
      await heartbeat();
      return load();
    },
  };
}
