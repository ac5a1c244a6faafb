import type { SubscriptionMode } from '../../shared/contracts/common.js';
import type { KiteMode } from '../../shared/contracts/tick.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { SubscriptionStore } from '../../shared/ports/subscription-store.js';
import { Channels, type ReconcileNotice, type TickBus } from '../../shared/ports/tick-bus.js';
import type { Service } from '../supervisor.js';

/** How one token should stream: its mode and the account its subscription names (if any). */
export interface DesiredStream {
  readonly mode: KiteMode;
  readonly accountId: string | null;
}

/** What should stream: token → mode and the account the subscription names (if any). */
export type DesiredStreams = ReadonlyMap<number, DesiredStream>;

/** The outcome of applying a desired set. */
export interface ApplyResult {
  readonly added: number;
  readonly removed: number;
  readonly failed: number;
  /** Tokens moved to the account their subscription names, where the target has accounts. */
  readonly moved?: number;
}

/** Something that streams a set of tokens: the Kite pool, or the mock feed. */
export interface StreamTarget {
  /** Makes what streams equal `desired`, touching only the difference (running streams keep going). */
  apply(desired: DesiredStreams): Promise<ApplyResult>;
}

/** The REST API's modes in Kite's wire spelling. */
export function kiteMode(mode: SubscriptionMode): KiteMode {
  return mode === 'FULL' ? 'full' : mode === 'QUOTE' ? 'quote' : 'ltp';
}

/** The reconciler's timing when its options do not say; `maxGapMs` bounds how long a change waits. */
export const RECONCILER_DEFAULTS = { intervalMs: 60_000, minGapMs: 250, readShare: 0.02, maxGapMs: 5000 } as const;

export interface ReconcilerOptions {
  readonly store: SubscriptionStore;
  readonly target: StreamTarget;
  readonly bus: TickBus;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Safety-net period: reconcile even when no control message arrives. Default 60 s. */
  readonly intervalMs?: number;
  /**
   * Streams wanted whatever the store says: the underlying indices, whose prices every option's
   * Greeks and the underlying bars need.
   */
  readonly baseline?: DesiredStreams;
  /**
   * Least quiet time between the end of one reconcile and the start of the next, when triggers
   * keep coming. Default 250 ms.
   */
  readonly minGapMs?: number;
  /**
   * Most of the time that reading the store may take while triggers keep coming, above 0 and at
   * most 1: the gap after a reconcile is at least its read's duration × (1 / share − 1). Default
   * 0.02 (the gap is at least 49 times the read).
   */
  readonly readShare?: number;
  /** Longest gap, however long the read takes: bounds how long a change waits. Default 5 s. */
  readonly maxGapMs?: number;
  /**
   * The tokens connected clients want (the connection index, or the fan-out of this process):
   * streamed with the pinned set while wanted and for `graceMs` after. Default: none.
   */
  readonly demand?: () => Promise<Iterable<number>> | Iterable<number>;
  /** How long a token nobody wants any more keeps streaming. Default 60 s. */
  readonly graceMs?: number;
  /**
   * Most tokens that may stream (Kite's capacity). The pinned set and the indices always stream;
   * demanded tokens fill what is left, those streaming already first. Default: no bound.
   */
  readonly capacity?: number;
  /** Told every token that streams after each reconcile (the routes' capacity check reads it). */
  readonly onStreams?: (tokens: readonly number[]) => void;
}

/** Rejects triggers that were waiting when the reconciler stopped. */
export class ReconcilerStoppedError extends Error {
  constructor() {
    super('The reconciler has stopped');
    this.name = 'ReconcilerStoppedError';
  }
}

/**
 * Keeps the streams equal to the active subscriptions in the store. It runs on start, on every
 * control message (the REST API publishes one per change) and periodically as a safety net.
 * Triggers coalesce: at most one reconcile runs and at most one waits behind it, however many
 * triggers arrive, and every trigger's promise resolves after a reconcile that started after it.
 * A reconcile reads every active subscription, so under a stream of changes (an API client
 * creating a thousand a second) back-to-back runs would keep the store and this process busy
 * reading the same table: the one waiting starts a gap after the last one ended, `minGapMs`, or
 * longer when the read is slow, so that reading takes at most `readShare` of the time, and never
 * more than `maxGapMs`, so a change made while changes keep coming starts streaming within about
 * 5 s (TC-SUB-020 allows 10). A read grows with the table, so the gap grows with the read (figures
 * in docs/decisions.md, "Reconciles are spaced under a stream of changes"). A trigger after a
 * quiet spell starts at once.
 * Every completed reconcile is announced on {@link Channels.reconciled}, so whoever made a change
 * can tell when it took effect instead of waiting out the longest gap.
 */
export class Reconciler implements Service {
  readonly name = 'reconciler';
  readonly counters = { runs: 0, failures: 0, triggers: 0 };
  readonly #options: ReconcilerOptions;
  #running: Promise<ApplyResult> | undefined;
  #queued: Promise<ApplyResult> | undefined;
  #last: ApplyResult | undefined;
  #lastCompletedAt: number | undefined;
  #lastEndedAt = Number.NEGATIVE_INFINITY;
  /** How long the last reconcile's read of the store took. */
  #lastReadMs = 0;
  #cancelWait: (() => void) | undefined;
  #stopped = false;
  /** Tokens streaming because clients want them (not pinned), as of the last reconcile. */
  #demandStreams = new Set<number>();
  /** Demanded tokens nobody wants any more, and since when: they stream until the grace ends. */
  readonly #unwantedSince = new Map<number, number>();
  #cancelRelease: (() => void) | undefined;

  constructor(options: ReconcilerOptions) {
    const share = options.readShare;
    if (share !== undefined && !(share > 0 && share <= 1)) {
      throw new RangeError(`readShare must be above 0 and at most 1, got ${share}`);
    }
    this.#options = options;
  }

  /** The last completed reconcile's result. */
  get lastResult(): ApplyResult | undefined {
    return this.#last;
  }

  /** When the last reconcile completed (epoch ms), for the metrics; undefined before the first. */
  get lastCompletedAt(): number | undefined {
    return this.#lastCompletedAt;
  }

  /**
   * Requests a reconcile; resolves with the result of one that started after this call. Once
   * `run` has ended, rejects with {@link ReconcilerStoppedError}.
   */
  trigger(): Promise<ApplyResult> {
    this.counters.triggers++;
    if (this.#stopped) return Promise.reject(new ReconcilerStoppedError());
    if (!this.#running && !this.#queued && this.#gapLeft() === 0) return this.#start();
    this.#queued ??= this.#whenDue().then(
      () => {
        this.#queued = undefined;
        if (this.#stopped) throw new ReconcilerStoppedError();
        return this.#start();
      },
      (error: unknown) => {
        this.#queued = undefined;
        throw error;
      },
    );
    return this.#queued;
  }

  /** Milliseconds until the next reconcile may start, given when the last one ended and how long its read took. */
  #gapLeft(): number {
    const minGapMs = this.#options.minGapMs ?? RECONCILER_DEFAULTS.minGapMs;
    const readShare = this.#options.readShare ?? RECONCILER_DEFAULTS.readShare;
    const maxGapMs = this.#options.maxGapMs ?? RECONCILER_DEFAULTS.maxGapMs;
    const gap = Math.max(minGapMs, Math.min(maxGapMs, this.#lastReadMs * (1 / readShare - 1)));
    // Never more than the gap, should the wall clock step back.
    return Math.min(gap, Math.max(0, this.#lastEndedAt + gap - this.#options.clock.now()));
  }

  /** Resolves once the running reconcile, if any, has ended and the gap after it has passed. */
  async #whenDue(): Promise<void> {
    await this.#running?.catch(() => undefined);
    const wait = this.#gapLeft();
    if (wait > 0 && !this.#stopped) {
      await new Promise<void>((resolve, reject) => {
        const cancel = this.#options.clock.setTimeout(() => {
          this.#cancelWait = undefined;
          resolve();
        }, wait);
        this.#cancelWait = () => {
          cancel();
          reject(new ReconcilerStoppedError());
        };
      });
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const { bus, clock, logger } = this.#options;
    const subscription = await bus.subscribe(Channels.control, () => {
      void this.trigger().catch(() => {});
    });
    let cancel: (() => void) | undefined;
    const schedule = () => {
      cancel = clock.setTimeout(() => {
        void this.trigger()
          .catch(() => {})
          .finally(() => {
            if (!signal.aborted) schedule();
          });
      }, this.#options.intervalMs ?? RECONCILER_DEFAULTS.intervalMs);
    };
    try {
      await this.trigger().catch((error: unknown) =>
        logger.error('Initial reconcile failed; retrying on the next trigger', { error: describeError(error) }),
      );
      schedule();
      if (!signal.aborted) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      }
    } finally {
      cancel?.();
      this.#cancelRelease?.();
      this.#stopped = true;
      this.#cancelWait?.();
      await subscription.unsubscribe().catch(() => {});
      await this.#running?.catch(() => {});
    }
  }

  #start(): Promise<ApplyResult> {
    const run = this.#reconcile().finally(() => {
      this.#lastEndedAt = this.#options.clock.now();
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Publishes without waiting: a bus outage must not hold up the next reconcile. */
  #announce(notice: ReconcileNotice): void {
    const { bus, logger } = this.#options;
    bus
      .publish(Channels.reconciled, JSON.stringify(notice))
      .catch((error: unknown) => logger.warn('Reconcile not announced', { error: describeError(error) }));
  }

  /**
   * Adds the demanded tokens to `desired` (which holds the pinned set and the indices) up to the
   * capacity: those streaming already first, so a newcomer never pushes one out, then the new ones,
   * then those in their grace period. Schedules a reconcile for when the next grace period ends.
   * Returns how many demanded tokens found no room.
   */
  #addDemand(desired: Map<number, DesiredStream>, demanded: ReadonlySet<number>, now: number): number {
    const capacity = this.#options.capacity ?? Number.POSITIVE_INFINITY;
    const graceMs = this.#options.graceMs ?? 60_000;
    for (const token of demanded) this.#unwantedSince.delete(token);
    for (const token of this.#demandStreams) {
      if (!demanded.has(token) && !this.#unwantedSince.has(token)) this.#unwantedSince.set(token, now);
    }
    const streaming = new Set<number>();
    let refused = 0;
    const add = (token: number): boolean => {
      if (desired.has(token)) return true;
      if (desired.size >= capacity) return false;
      desired.set(token, { mode: 'full', accountId: null });
      streaming.add(token);
      return true;
    };
    for (const token of demanded) if (this.#demandStreams.has(token) && !add(token)) refused++;
    for (const token of demanded) if (!this.#demandStreams.has(token) && !add(token)) refused++;
    let nextRelease = Number.POSITIVE_INFINITY;
    for (const [token, since] of this.#unwantedSince) {
      if (now - since >= graceMs || desired.has(token) || !add(token)) {
        this.#unwantedSince.delete(token);
        continue;
      }
      nextRelease = Math.min(nextRelease, since + graceMs);
    }
    this.#demandStreams = streaming;
    this.#cancelRelease?.();
    this.#cancelRelease = undefined;
    if (Number.isFinite(nextRelease) && !this.#stopped) {
      this.#cancelRelease = this.#options.clock.setTimeout(
        () => void this.trigger().catch(() => {}),
        Math.max(0, nextRelease - now),
      );
    }
    return refused;
  }

  async #reconcile(): Promise<ApplyResult> {
    const { store, target, logger, clock } = this.#options;
    const started = clock.now();
    try {
      const active = await store.listActive();
      const demanded = new Set(await (this.#options.demand?.() ?? []));
      this.#lastReadMs = Math.max(0, clock.now() - started);
      const desired = new Map(this.#options.baseline ?? []);
      for (const s of active)
        desired.set(s.instrumentToken, { mode: kiteMode(s.requestedMode), accountId: s.accountId });
      const refused = this.#addDemand(desired, demanded, clock.now());
      if (refused > 0) logger.warn('Stream capacity full: demanded tokens not streamed', { refused });
      const result = await target.apply(desired);
      this.#options.onStreams?.([...desired.keys()]);
      const ended = clock.now();
      this.counters.runs++;
      this.#last = result;
      this.#lastCompletedAt = ended;
      if (result.added > 0 || result.removed > 0 || result.failed > 0 || (result.moved ?? 0) > 0) {
        logger.info('Subscriptions reconciled', { ...result, active: desired.size, ms: ended - started });
      }
      this.#announce({ started_at_ms: started, ended_at_ms: ended, ...result, active: desired.size });
      return result;
    } catch (error) {
      this.counters.failures++;
      logger.error('Reconcile failed', { error: describeError(error) });
      throw error;
    }
  }
}
