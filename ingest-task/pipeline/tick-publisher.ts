import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { LiveStateStore } from '../../shared/ports/live-state-store.js';
import { type EncodedMessage, messageText, type TickBus } from '../../shared/ports/tick-bus.js';
import type { Service } from '../supervisor.js';

/** How full the publisher's queue is; OVERLOAD means ticks are being dropped (latest value kept). */
export const BackpressureLevel = {
  healthy: 'HEALTHY',
  warning: 'WARNING',
  critical: 'CRITICAL',
  overload: 'OVERLOAD',
} as const;
export type BackpressureLevel = (typeof BackpressureLevel)[keyof typeof BackpressureLevel];

export interface TickPublisherOptions {
  readonly bus: TickBus;
  /** Where the latest tick of every token is kept for new subscribers; none in tests that do not need it. */
  readonly state?: LiveStateStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Ticks that may wait while the bus is away before the oldest per token are dropped. Default 100,000. */
  readonly maxPending?: number;
  /** Most ticks in one bus message. Default 500. */
  readonly maxBatch?: number;
  /** Retry delay after a failed publish: doubles from `initial` up to `max`. */
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /**
   * The latest ticks go to the live state store at most this often (the newest per token wins in
   * between); a write after a quiet spell goes at once. Default 250 ms; 0 writes on every flush.
   */
  readonly latestIntervalMs?: number;
  /** Called after each published batch with the receive → publish latency of every tick in it. */
  readonly onPublished?: (latenciesMs: readonly number[]) => void;
}

interface Queue {
  tokens: number[];
  messages: EncodedMessage[];
  receivedAt: number[];
}

/** Counters; they only grow. */
export interface PublisherCounters {
  enqueued: number;
  published: number;
  /** Ticks never delivered: superseded by a newer tick of the same token while the bus was away. */
  dropped: number;
  batches: number;
  publishFailures: number;
  /** Ticks published (and counted there too) when no subscriber was listening: delivered to no one. */
  unheard: number;
}

const emptyQueue = (): Queue => ({ tokens: [], messages: [], receivedAt: [] });

/** Appends `from`'s ticks to `to`, in order. */
function append(to: Queue, from: Queue): void {
  to.tokens.push(...from.tokens);
  to.messages.push(...from.messages);
  to.receivedAt.push(...from.receivedAt);
}

/**
 * How long after the bus comes back a batch that reached no subscriber is kept and published again
 * (nobody received it, so this cannot duplicate): subscribers such as the fan-out reconnect and
 * resubscribe on their own schedule, and what is published before they are back would reach no
 * one and be counted nowhere. After that, a publish nobody hears is counted as `unheard`.
 */
const LISTENER_GRACE_MS = 2000;
/** How soon a batch kept because it reached nobody is sent again. */
const HOLD_RETRY_MS = 50;

const OPEN = 0x5b; // [
const COMMA = 0x2c;
const CLOSE = 0x5d; // ]

/**
 * Encoded ticks as one JSON array: bytes (the ingest path's) joined by one copy, strings by a join.
 */
function jsonArray(messages: readonly EncodedMessage[]): EncodedMessage {
  if (messages.every((m) => typeof m === 'string')) return `[${messages.join(',')}]`;
  const parts = messages.map((m) => (typeof m === 'string' ? Buffer.from(m) : m));
  let length = parts.length + 1;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(length);
  out[0] = OPEN;
  let at = 1;
  for (const [i, part] of parts.entries()) {
    if (i > 0) out[at++] = COMMA;
    out.set(part, at);
    at += part.length;
  }
  out[at] = CLOSE;
  return out;
}

/**
 * Publishes encoded ticks to the bus, batched: everything enqueued in one event-loop turn goes out
 * as one message per channel (a JSON array, or the tick itself when alone), so Redis sees a few
 * commands per turn instead of one per tick. When the bus is away the queue keeps growing and is
 * retried with backoff; past `maxPending` the oldest ticks of each token are dropped (a tick is a
 * snapshot: the newest value supersedes the rest) and every dropped tick is counted. The latest
 * tick per token also goes to the live state store, for clients that subscribe later.
 */
export class TickPublisher implements Service {
  readonly name = 'tick-publisher';
  readonly counters: PublisherCounters = {
    enqueued: 0,
    published: 0,
    dropped: 0,
    batches: 0,
    publishFailures: 0,
    unheard: 0,
  };
  readonly #options: TickPublisherOptions;
  readonly #maxPending: number;
  readonly #maxBatch: number;
  #queues = new Map<string, Queue>();
  #latest = new Map<number, EncodedMessage>();
  #pending = 0;
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #retryAttempt = 0;
  #cancelRetry: (() => void) | undefined;
  #stopped = false;
  /** A publish failed and none has succeeded since. */
  #busAway = false;
  /** Until when a publish that reached no subscriber is kept and retried (see `LISTENER_GRACE_MS`). */
  #listenersDueUntil = Number.NEGATIVE_INFINITY;
  #lastDropAt = Number.NEGATIVE_INFINITY;
  readonly #latestIntervalMs: number;
  #latestWrittenAt = Number.NEGATIVE_INFINITY;
  #latestTimer: (() => void) | undefined;
  /** The latest-state write in flight: ticks never wait for it, and there is at most one. */
  #latestWrite: Promise<void> | undefined;

  constructor(options: TickPublisherOptions) {
    this.#options = options;
    this.#maxPending = options.maxPending ?? 100_000;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#latestIntervalMs = options.latestIntervalMs ?? 250;
  }

  /** Ticks waiting to be published. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * The backpressure level from the queue's fill: < 25 % healthy, < 50 % warning, below the bound
   * critical; overload at the bound or while ticks were dropped in the last 5 s.
   */
  get level(): BackpressureLevel {
    const fill = this.#pending / this.#maxPending;
    if (fill >= 1 || this.#options.clock.now() - this.#lastDropAt < 5000) return BackpressureLevel.overload;
    if (fill >= 0.5) return BackpressureLevel.critical;
    if (fill >= 0.25) return BackpressureLevel.warning;
    return BackpressureLevel.healthy;
  }

  /** Queues one encoded tick of `token` for `channel`. Never blocks and never throws. */
  enqueue(channel: string, token: number, encoded: EncodedMessage, receivedAtMs: number): void {
    let queue = this.#queues.get(channel);
    if (!queue) {
      queue = emptyQueue();
      this.#queues.set(channel, queue);
    }
    queue.tokens.push(token);
    queue.messages.push(encoded);
    queue.receivedAt.push(receivedAtMs);
    if (this.#options.state) this.#latest.set(token, encoded);
    this.counters.enqueued++;
    this.#pending++;
    if (this.#pending > this.#maxPending) this.#shed();
    this.#schedule();
  }

  /** Publishes everything queued now; resolves when it is out or failed (then it stays queued). */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /**
   * Waits for `signal`, then stops taking turns and drains the queue: keeps retrying until every
   * queued tick is published or `drainTimeoutMs` (25 s) passes, then reports what was left.
   */
  async run(signal: AbortSignal, drainTimeoutMs = 25_000): Promise<void> {
    if (!signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    this.#stopped = true;
    this.#cancelRetry?.();
    this.#latestTimer?.();
    this.#latestTimer = undefined;
    const deadline = this.#options.clock.now() + drainTimeoutMs;
    while (
      (this.#pending > 0 || this.#latest.size > 0 || this.#latestWrite !== undefined) &&
      this.#options.clock.now() < deadline
    ) {
      await this.flush();
      await this.#latestWrite;
      if (this.#pending > 0 || this.#latest.size > 0) {
        await new Promise<void>((resolve) => this.#options.clock.setTimeout(resolve, 100));
      }
    }
    if (this.#pending > 0) {
      this.counters.dropped += this.#pending;
      this.#options.logger.error('Shutting down with ticks not published', { ticks: this.#pending });
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#cancelRetry || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  async #flushOnce(): Promise<void> {
    const queues = this.#queues;
    this.#queues = new Map();
    // What goes back in front of the queue, per channel in order: batches that failed or reached
    // nobody, then those not sent while probing.
    const back = new Map<string, Queue>();
    const unsent = new Map<string, Queue>();
    let failures = 0;
    let holds = 0;
    const keep = (into: Map<string, Queue>, channel: string, queue: Queue, start: number, end: number) => {
      const kept = into.get(channel) ?? emptyQueue();
      kept.tokens.push(...queue.tokens.slice(start, end));
      // As text: a view would keep its whole chunk of the encoder's for as long as it waits.
      kept.messages.push(...queue.messages.slice(start, end).map(messageText));
      kept.receivedAt.push(...queue.receivedAt.slice(start, end));
      into.set(channel, kept);
    };
    const { bus } = this.#options;
    // Around an outage (the bus away, or back but its subscribers perhaps not yet) each channel
    // sends one batch and keeps the rest: a batch delivered after an earlier one was kept for
    // nobody would put older ticks behind newer ones.
    const probing = this.#busAway || this.#options.clock.now() < this.#listenersDueUntil;
    const sends: Promise<void>[] = [];
    for (const [channel, queue] of queues) {
      for (let start = 0; start < queue.messages.length; start += this.#maxBatch) {
        const end = Math.min(queue.messages.length, start + this.#maxBatch);
        if (probing && start > 0) {
          keep(unsent, channel, queue, start, queue.messages.length);
          break;
        }
        const slice = queue.messages.slice(start, end);
        const payload = slice.length === 1 ? (slice[0] as EncodedMessage) : jsonArray(slice);
        sends.push(
          bus.publish(channel, payload).then(
            (receivers) => {
              const now = this.#options.clock.now();
              if (this.#busAway) {
                this.#busAway = false;
                this.#listenersDueUntil = now + LISTENER_GRACE_MS;
              }
              if (receivers === 0 && now < this.#listenersDueUntil) {
                holds++;
                keep(back, channel, queue, start, end);
                return;
              }
              if (receivers > 0) this.#listenersDueUntil = Number.NEGATIVE_INFINITY;
              this.#pending -= slice.length;
              this.counters.published += slice.length;
              if (receivers === 0) this.counters.unheard += slice.length;
              this.counters.batches++;
              this.#options.onPublished?.(queue.receivedAt.slice(start, end).map((at) => now - at));
            },
            (error: unknown) => {
              failures++;
              this.counters.publishFailures++;
              this.#busAway = true;
              keep(back, channel, queue, start, end);
              if (this.#retryAttempt === 0) {
                this.#options.logger.warn('Tick publish failed; will retry', { channel, error: describeError(error) });
              }
            },
          ),
        );
      }
    }
    // The latest state is written after the publishes, beside them: a flush does not
    // wait for it, so ticks are not held up by a write of thousands of entries.
    const { state } = this.#options;
    const latest = this.#latestWrite === undefined ? this.#takeLatest() : undefined;
    if (state && latest !== undefined) this.#latestWrite = this.#writeLatest(state, latest);
    await Promise.all(sends);
    for (const [channel, rest] of unsent) {
      const kept = back.get(channel) ?? emptyQueue();
      append(kept, rest);
      back.set(channel, kept);
    }
    // Put what is kept back in front of what arrived meanwhile, so per-channel order holds.
    for (const [channel, kept] of back) {
      const newer = this.#queues.get(channel);
      if (newer) append(kept, newer);
      this.#queues.set(channel, kept);
    }
    if (failures === 0) {
      if (this.#retryAttempt > 0)
        this.#options.logger.info('Tick publishing recovered', { attempts: this.#retryAttempt });
      this.#retryAttempt = 0;
    }
    if (failures === 0 && holds === 0) {
      // What probing left unsent, and a trailing latest-state write whose timer fired during this
      // flush, go out next.
      if (this.#pending > 0 || (this.#latest.size > 0 && this.#latestTimer === undefined)) this.#schedule();
      return;
    }
    if (this.#pending > this.#maxPending) this.#shed();
    let delay = HOLD_RETRY_MS;
    if (failures > 0) {
      this.#retryAttempt++;
      const { initial, max } = this.#options.retryDelayMs ?? { initial: 25, max: 1000 };
      delay = Math.min(max, initial * 2 ** Math.min(this.#retryAttempt - 1, 16));
    }
    if (this.#stopped) return;
    this.#cancelRetry?.();
    this.#cancelRetry = this.#options.clock.setTimeout(() => {
      this.#cancelRetry = undefined;
      void this.flush();
    }, delay);
  }

  /**
   * Writes one set of latest ticks. When it fails they are kept (unless a newer tick of the token
   * arrived meanwhile) and tried again at the next interval.
   */
  async #writeLatest(state: LiveStateStore, latest: Map<number, EncodedMessage>): Promise<void> {
    // As text: thousands of small values, which the Redis client would otherwise copy into Buffers
    // (memory V8 counts as external and collects for), and which, kept after a failed write, would
    // each hold a whole chunk of the encoder's. Once per interval, so the decoding costs little.
    const texts = new Map<number, string>();
    for (const [token, value] of latest) texts.set(token, messageText(value));
    try {
      await state.putLatest(texts);
    } catch {
      for (const [token, value] of texts) if (!this.#latest.has(token)) this.#latest.set(token, value);
    } finally {
      this.#latestWrite = undefined;
      if (this.#latest.size > 0 && this.#latestTimer === undefined) this.#schedule();
    }
  }

  /**
   * The latest ticks to write now, if they are due: at most one write per `latestIntervalMs`, the
   * rest waiting (newest per token) for a trailing write, so the store is never more than one
   * interval behind. While draining everything is due.
   */
  #takeLatest(): Map<number, EncodedMessage> | undefined {
    if (this.#latest.size === 0) return undefined;
    const now = this.#options.clock.now();
    const due = this.#latestWrittenAt + this.#latestIntervalMs;
    if (now < due && !this.#stopped) {
      this.#latestTimer ??= this.#options.clock.setTimeout(() => {
        this.#latestTimer = undefined;
        void this.flush();
      }, due - now);
      return undefined;
    }
    const latest = this.#latest;
    this.#latest = new Map();
    this.#latestWrittenAt = now;
    return latest;
  }

  /** Keeps only the newest queued tick of each token (and, if still too many, the newest ticks overall). */
  #shed(): void {
    let dropped = 0;
    for (const [channel, queue] of this.#queues) {
      const seen = new Set<number>();
      const kept = emptyQueue();
      for (let i = queue.tokens.length - 1; i >= 0; i--) {
        const token = queue.tokens[i] as number;
        if (seen.has(token)) {
          dropped++;
          continue;
        }
        seen.add(token);
        kept.tokens.push(token);
        kept.messages.push(queue.messages[i] as EncodedMessage);
        kept.receivedAt.push(queue.receivedAt[i] as number);
      }
      kept.tokens.reverse();
      kept.messages.reverse();
      kept.receivedAt.reverse();
      this.#queues.set(channel, kept);
    }
    this.#pending -= dropped;
    if (this.#pending > this.#maxPending) {
      // Down to 90 % of the bound, so an overloaded queue is not re-scanned on every tick. Ticks
      // already handed to the bus count towards the bound but cannot be taken back: only what is
      // still queued is dropped (and counted), so the queue may stay above the bound for a while.
      const excess = this.#pending - Math.floor(this.#maxPending * 0.9);
      let toDrop = excess;
      for (const queue of this.#queues.values()) {
        const n = Math.min(toDrop, queue.tokens.length);
        queue.tokens.splice(0, n);
        queue.messages.splice(0, n);
        queue.receivedAt.splice(0, n);
        toDrop -= n;
        if (toDrop === 0) break;
      }
      dropped += excess - toDrop;
      this.#pending -= excess - toDrop;
    }
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.#lastDropAt = this.#options.clock.now();
      this.#options.logger.warn('Publisher over its bound: dropped superseded ticks', {
        dropped,
        pending: this.#pending,
      });
    }
  }
}
