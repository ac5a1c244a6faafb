import { DependencyUnavailableError } from '../../errors.js';
import {
  type BusMessageHandler,
  type BusSubscription,
  type EncodedMessage,
  messageText,
  type TickBus,
} from '../../ports/tick-bus.js';
import { compileRedisGlob } from '../glob.js';

interface Entry {
  readonly handler: BusMessageHandler;
  readonly pattern?: RegExp;
  active: boolean;
}

/**
 * The bus inside one process: for `npm start` without Redis, and for unit tests. It keeps the
 * {@link TickBus} guarantees the Redis bus keeps (same glob matching, asynchronous delivery in
 * publish order, isolated handlers), checked by the same contract suite.
 */
export class MemoryTickBus implements TickBus {
  readonly #channels = new Map<string, Set<Entry>>();
  readonly #patterns = new Set<Entry>();
  readonly #onHandlerError: (error: unknown, channel: string) => void;
  #closed = false;

  constructor(options: { onHandlerError?: (error: unknown, channel: string) => void } = {}) {
    this.#onHandlerError = options.onHandlerError ?? (() => {});
  }

  async publish(channel: string, encoded: EncodedMessage): Promise<number> {
    if (this.#closed) throw new DependencyUnavailableError('bus', 'The in-memory bus is closed');
    const targets: Entry[] = [];
    const exact = this.#channels.get(channel);
    if (exact) for (const entry of exact) targets.push(entry);
    for (const entry of this.#patterns) if (entry.pattern?.test(channel)) targets.push(entry);
    if (targets.length === 0) return 0;
    const message = messageText(encoded);
    // One microtask per message keeps publish order per channel and never runs a handler inside publish.
    queueMicrotask(() => {
      for (const entry of targets) {
        if (!entry.active) continue;
        try {
          entry.handler(channel, message);
        } catch (error) {
          this.#onHandlerError(error, channel);
        }
      }
    });
    return targets.length;
  }

  async subscribe(channel: string, handler: BusMessageHandler): Promise<BusSubscription> {
    this.#assertOpen();
    const entry: Entry = { handler, active: true };
    let set = this.#channels.get(channel);
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
    }
    set.add(entry);
    return {
      unsubscribe: async () => {
        entry.active = false;
        set.delete(entry);
        if (set.size === 0 && this.#channels.get(channel) === set) this.#channels.delete(channel);
      },
    };
  }

  async psubscribe(pattern: string, handler: BusMessageHandler): Promise<BusSubscription> {
    this.#assertOpen();
    const entry: Entry = { handler, pattern: compileRedisGlob(pattern), active: true };
    this.#patterns.add(entry);
    return {
      unsubscribe: async () => {
        entry.active = false;
        this.#patterns.delete(entry);
      },
    };
  }

  async check(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const set of this.#channels.values()) for (const entry of set) entry.active = false;
    for (const entry of this.#patterns) entry.active = false;
    this.#channels.clear();
    this.#patterns.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new DependencyUnavailableError('bus', 'The in-memory bus is closed');
  }
}
