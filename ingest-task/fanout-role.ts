import { describeError } from '../shared/errors.js';
import type { ConnectionGateway } from '../shared/ports/connection-gateway.js';
import type { Components } from '../shared/wiring.js';
import { ConnectionEvents } from './fanout/connection-events.js';
import { Fanout } from './fanout/fanout.js';
import { type FanoutShard, ownsConnection } from './fanout/shard.js';
import type { Service } from './supervisor.js';

/** What the `fanout` role needs: the components, and the gateway it posts through. */
export interface FanoutRoleDependencies
  extends Pick<Components, 'config' | 'bus' | 'state' | 'connections' | 'connectionIndex' | 'clock' | 'logger'> {
  readonly gateway: ConnectionGateway;
}

export interface FanoutRole {
  readonly fanout: Fanout;
  readonly services: readonly Service[];
  /** Loads the connections of this shard from the connection index (none without one). */
  restore(): Promise<number>;
  readonly shard: FanoutShard;
}

/**
 * The `fanout` role of the ingest task: ticks from the bus to the WebSocket clients of this
 * instance's shard (by connection id, `FANOUT_SHARD_INDEX` of `FANOUT_SHARD_COUNT`), following the
 * handlers' connection events. At start it loads the shard's connections from the Redis index, so
 * a restarted or added instance serves the clients that connected before it; a 410 from the
 * gateway removes the connection from the registry.
 */
export function fanoutRole(deps: FanoutRoleDependencies): FanoutRole {
  const { bus, state, connections, connectionIndex, clock, logger, gateway, config } = deps;
  const shard = config.realtime.fanoutShard;
  const owns = (connectionId: string) => ownsConnection(shard, connectionId);
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
  const events = new ConnectionEvents({ bus, fanout, gateway, state, clock, logger, owns });
  return {
    fanout,
    shard,
    services: [fanout, events],
    restore: async () => {
      if (!connectionIndex) return 0;
      const nowSeconds = Math.floor(clock.now() / 1000);
      let restored = 0;
      for (const connection of await connectionIndex.snapshot()) {
        if (!owns(connection.connectionId) || connection.expiresAt <= nowSeconds) continue;
        fanout.addConnection(
          connection.connectionId,
          connection.delivery === 'batch'
            ? { mode: 'batch', intervalMs: connection.batchIntervalMs ?? config.realtime.batchIntervalMs }
            : { mode: 'tick' },
        );
        fanout.subscribe(connection.connectionId, connection.tokens);
        restored++;
      }
      return restored;
    },
  };
}
