import { ownerIdOfSubject } from '../../shared/auth/owner.js';
import { ConnectionEvent } from '../../shared/contracts/connection-event.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConnectionGateway } from '../../shared/ports/connection-gateway.js';
import type { LiveStateStore } from '../../shared/ports/live-state-store.js';
import { Channels, type TickBus } from '../../shared/ports/tick-bus.js';
import type { Service } from '../supervisor.js';
import type { Fanout } from './fanout.js';

export interface ConnectionEventsOptions {
  readonly bus: TickBus;
  readonly fanout: Fanout;
  readonly gateway: ConnectionGateway;
  readonly state: LiveStateStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether this instance serves a connection (its fan-out shard); events of others are ignored. Default: all. */
  readonly owns?: (connectionId: string) => boolean;
  /** The flush interval of `batch` delivery when a client names none (`FANOUT_BATCH_INTERVAL_MS`). Default 250. */
  readonly defaultBatchIntervalMs?: number;
  /** Delays between attempts to greet a connection that is not established yet. */
  readonly greetingDelaysMs?: readonly number[];
}

/**
 * Keeps the fan-out's connection state in step with the WebSocket handlers (which run in Lambda
 * and announce every change on `control:connections`), and sends what the handlers cannot:
 * - the `connected` greeting: API Gateway refuses posts while `$connect` runs (410), so it is
 *   posted right after, retried over a short schedule until the connection is established;
 * - the `subscribed`/`unsubscribed` confirmations, queued behind the ticks already on their way,
 *   so no tick of a token follows the confirmation of its unsubscribe;
 * - the latest known tick of each newly subscribed token, so a client sees a value at once.
 * Token changes carry the store's version: handlers run concurrently and their events arrive in
 * any order, so a change older than one already applied is confirmed but not applied.
 * It also tells the fan-out whose each connection is, so order updates reach their owner.
 */
export class ConnectionEvents implements Service {
  readonly name = 'connection-events';
  readonly #options: ConnectionEventsOptions;
  /** The latest token change heard of per connection (the store's `version`). */
  readonly #versions = new Map<string, number>();

  constructor(options: ConnectionEventsOptions) {
    this.#options = options;
  }

  async run(signal: AbortSignal): Promise<void> {
    const subscription = await this.#options.bus.subscribe(Channels.connections, (_channel, message) => {
      void this.handle(message).catch((error: unknown) =>
        this.#options.logger.error('Connection event failed', { error: describeError(error) }),
      );
    });
    try {
      if (!signal.aborted) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      }
    } finally {
      await subscription.unsubscribe().catch(() => {});
    }
  }

  /** Applies one event (exposed for tests). Malformed events are logged and ignored. */
  async handle(message: string): Promise<void> {
    const { fanout, state, logger } = this.#options;
    let parsed: ConnectionEvent;
    try {
      parsed = ConnectionEvent.parse(JSON.parse(message));
    } catch {
      logger.warn('Malformed connection event skipped', { sample: message.slice(0, 200) });
      return;
    }
    if (this.#options.owns && !this.#options.owns(parsed.connection_id)) return;
    switch (parsed.type) {
      case 'connected':
        // Filed under its user's principal id: the owner id its user's orders are recorded under.
        fanout.addConnection(parsed.connection_id, { mode: 'tick' }, ownerIdOfSubject(parsed.user.user_id));
        await this.#greet(
          parsed.connection_id,
          JSON.stringify({ type: 'connected', connection_id: parsed.connection_id, user: parsed.user }),
        );
        return;
      case 'subscribed':
      case 'unsubscribed': {
        const id = parsed.connection_id;
        fanout.addConnection(id);
        if (parsed.version === undefined || parsed.all === undefined) {
          // From a handler of an earlier version, which answered the client itself.
          if (parsed.type === 'unsubscribed') fanout.unsubscribe(id, parsed.tokens);
          else fanout.subscribe(id, parsed.tokens);
        } else {
          this.#apply(id, parsed.version, parsed.all);
          fanout.send(id, JSON.stringify({ type: parsed.type, tokens: parsed.tokens, total: parsed.total ?? 0 }));
        }
        if (parsed.type === 'unsubscribed') return;
        const latest = await state.getLatest(parsed.tokens).catch(() => new Map<number, string>());
        // Only what the connection still wants: an unsubscribe may have come in meanwhile.
        const current = new Set(fanout.subscribe(id, []));
        fanout.deliverTo(
          id,
          [...latest].filter(([token]) => current.has(token)).map(([, tick]) => tick),
        );
        return;
      }
      case 'configured':
        fanout.setDelivery(
          parsed.connection_id,
          parsed.delivery === 'batch'
            ? { mode: 'batch', intervalMs: parsed.interval_ms ?? this.#options.defaultBatchIntervalMs ?? 250 }
            : { mode: 'tick' },
        );
        return;
      case 'disconnected':
        fanout.removeConnection(parsed.connection_id);
        this.#versions.delete(parsed.connection_id);
        return;
    }
  }

  /**
   * Records that the fan-out holds a connection's tokens as of `version` (a connection loaded from
   * the index), so older changes heard later are not applied over it.
   */
  noteVersion(connectionId: string, version: number): void {
    if (version > (this.#versions.get(connectionId) ?? -1)) this.#versions.set(connectionId, version);
  }

  /** Makes the connection's tokens `all`, unless a later change (a higher version) was applied already. */
  #apply(connectionId: string, version: number, all: readonly number[]): void {
    if (version <= (this.#versions.get(connectionId) ?? -1)) return;
    this.#versions.set(connectionId, version);
    const { fanout } = this.#options;
    const after = new Set(all);
    const before = fanout.subscribe(connectionId, []);
    fanout.unsubscribe(
      connectionId,
      before.filter((token) => !after.has(token)),
    );
    fanout.subscribe(connectionId, all);
  }

  async #greet(connectionId: string, greeting: string): Promise<void> {
    const { gateway, clock } = this.#options;
    const delays = this.#options.greetingDelaysMs ?? [0, 25, 50, 100, 200, 400, 800];
    for (const delay of delays) {
      if (delay > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
      if ((await gateway.post(connectionId, greeting)) === 'sent') return;
    }
    this.#options.logger.warn('Could not greet a connection; it never became reachable', { connectionId });
  }
}
