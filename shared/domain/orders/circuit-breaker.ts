import { type BreakerRecord, BreakerState, type CircuitBreakerStore } from '../../ports/circuit-breaker-store.js';
import type { Clock } from '../../ports/clock.js';

/** The breaker's settings (config `circuitBreaker.*`; the plan fixes 5, 60 s and 3: TC-REG-042). */
export interface BreakerPolicy {
  /** Consecutive failures that open a CLOSED breaker. */
  readonly failureThreshold: number;
  /** How long an OPEN breaker refuses calls before it lets test calls through. */
  readonly recoveryTimeoutSeconds: number;
  /** Test calls a HALF_OPEN breaker lets through before one of them reports back. */
  readonly halfOpenMaxCalls: number;
}

/** The plan's thresholds (TC-REG-042), the configuration's defaults. */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  failureThreshold: 5,
  recoveryTimeoutSeconds: 60,
  halfOpenMaxCalls: 3,
};

/** The stored state without its version: what a decision writes back. */
export type BreakerStateRecord = Omit<BreakerRecord, 'version'>;

/** Whether a call may go to the broker, and the state to store for it. */
export type BreakerDecision =
  | { readonly allowed: true; readonly next?: BreakerStateRecord }
  | { readonly allowed: false; readonly retryAfterMs: number };

const recoveryMs = (policy: BreakerPolicy) => policy.recoveryTimeoutSeconds * 1000;

/**
 * Decides whether a call may go through `record`'s breaker at `nowMs` (pure; the caller stores
 * `next` with a conditional write and decides again if another worker wrote first):
 *
 * - CLOSED lets every call through and writes nothing.
 * - OPEN refuses until `recoveryTimeoutSeconds` after it opened, saying how long is left; after
 *   that the call becomes the first test call of HALF_OPEN.
 * - HALF_OPEN lets `halfOpenMaxCalls` calls through in all and refuses the rest until one reports
 *   back. Should no test call report back for a whole recovery timeout (the workers making them
 *   died), the slots are handed out again, so a breaker cannot stay half-open for ever.
 *
 * While HALF_OPEN, `openedAt` is one recovery timeout before the moment it went half-open.
 */
export function decide(record: BreakerRecord, nowMs: number, policy: BreakerPolicy): BreakerDecision {
  const { version: _version, ...state } = record;
  switch (record.state) {
    case BreakerState.closed:
      return { allowed: true };
    case BreakerState.open: {
      const opensAt = (record.openedAt ?? nowMs) + recoveryMs(policy);
      if (nowMs < opensAt) return { allowed: false, retryAfterMs: opensAt - nowMs };
      // `openedAt` moves so that `openedAt + recovery` is when the breaker went half-open: the
      // stale rule below then counts from there, however long the breaker sat open unasked.
      return {
        allowed: true,
        next: { ...state, state: BreakerState.halfOpen, openedAt: nowMs - recoveryMs(policy), halfOpenCalls: 1 },
      };
    }
    case BreakerState.halfOpen: {
      const openedAt = record.openedAt ?? nowMs;
      const stale = nowMs >= openedAt + 2 * recoveryMs(policy);
      if (stale) return { allowed: true, next: { ...state, openedAt: nowMs - recoveryMs(policy), halfOpenCalls: 1 } };
      if (record.halfOpenCalls < policy.halfOpenMaxCalls) {
        return { allowed: true, next: { ...state, halfOpenCalls: record.halfOpenCalls + 1 } };
      }
      // The slots are taken: ask again when the stale rule would hand them out, or sooner by a result.
      return {
        allowed: false,
        retryAfterMs: Math.max(1000, Math.min(recoveryMs(policy), openedAt + 2 * recoveryMs(policy) - nowMs)),
      };
    }
  }
}

/**
 * The state after a call that went through reported success, or `undefined` when nothing changes.
 * A success closes a HALF_OPEN breaker and clears a CLOSED one's failure count; one arriving while
 * OPEN (a call let through before the breaker opened) changes nothing.
 */
export function afterSuccess(record: BreakerRecord): BreakerStateRecord | undefined {
  if (record.state === BreakerState.open) return undefined;
  if (record.state === BreakerState.closed && record.consecutiveFailures === 0) return undefined;
  return { key: record.key, state: BreakerState.closed, consecutiveFailures: 0, openedAt: null, halfOpenCalls: 0 };
}

/**
 * The state after a call that went through failed in a way that says the broker is unhealthy, or
 * `undefined` when nothing changes. CLOSED counts the failure and opens at `failureThreshold`;
 * HALF_OPEN reopens at once, restarting the recovery timeout; OPEN stays as it is (a late failure
 * of a call made before it opened does not extend the timeout).
 */
export function afterFailure(
  record: BreakerRecord,
  nowMs: number,
  policy: BreakerPolicy,
): BreakerStateRecord | undefined {
  const failures = record.consecutiveFailures + 1;
  switch (record.state) {
    case BreakerState.open:
      return undefined;
    case BreakerState.halfOpen:
      return {
        key: record.key,
        state: BreakerState.open,
        consecutiveFailures: failures,
        openedAt: nowMs,
        halfOpenCalls: 0,
      };
    case BreakerState.closed:
      return failures >= policy.failureThreshold
        ? {
            key: record.key,
            state: BreakerState.open,
            consecutiveFailures: failures,
            openedAt: nowMs,
            halfOpenCalls: 0,
          }
        : { ...record, consecutiveFailures: failures };
  }
}

/** A state change, for logs and metrics (`circuit_breaker_opens`, `circuit_breaker_closes`). */
export interface BreakerTransition {
  readonly key: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly atMs: number;
  readonly consecutiveFailures: number;
}

/** Whether a breaker let a call through; when not, how long until asking again makes sense. */
export type BreakerPermit = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/** The breaker gave up writing its state because other workers kept writing first. */
export class BreakerContentionError extends Error {
  constructor(
    readonly key: string,
    tries: number,
  ) {
    super(`Circuit breaker ${key}: state changed under ${tries} conditional writes in a row`);
    this.name = 'BreakerContentionError';
  }
}

/** What a {@link CircuitBreaker} needs. */
export interface CircuitBreakerOptions {
  readonly store: CircuitBreakerStore;
  readonly clock: Clock;
  readonly policy: BreakerPolicy;
  /** Told of every state change this worker made (not of other workers' changes). */
  readonly onTransition?: (transition: BreakerTransition) => void;
  /** Conditional writes to try before giving up with {@link BreakerContentionError}. Default 20. */
  readonly maxTries?: number;
  /**
   * How long a CLOSED state this worker read (and did not change) is trusted without reading it
   * again (ms). Default 0: every call reads. While trusted, another worker's opening of the breaker
   * is seen that much later, and a success does not clear failures counted meanwhile elsewhere.
   */
  readonly closedReadTtlMs?: number;
}

/**
 * Circuit breakers keyed by account, their state in a {@link CircuitBreakerStore} shared by every
 * worker. Each change is a read, a pure decision ({@link decide}, {@link afterSuccess},
 * {@link afterFailure}) and a compare-and-set on the version read; a lost race reads and decides
 * again. So concurrent workers agree: the fifth failure opens the breaker once, and a HALF_OPEN
 * breaker hands out exactly `halfOpenMaxCalls` slots however many workers ask at once.
 *
 * A CLOSED breaker that is not failing writes nothing on the hot path: `acquire` only reads, and
 * with `closedReadTtlMs` it reads once per that time per key rather than twice per call.
 */
export class CircuitBreaker {
  readonly #store: CircuitBreakerStore;
  readonly #clock: Clock;
  readonly #policy: BreakerPolicy;
  readonly #onTransition: ((transition: BreakerTransition) => void) | undefined;
  readonly #maxTries: number;
  readonly #closedReadTtlMs: number;
  /** CLOSED states read here and when, trusted for `closedReadTtlMs`. */
  readonly #closedReads = new Map<string, { readonly record: BreakerRecord; readonly atMs: number }>();

  constructor(options: CircuitBreakerOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#policy = options.policy;
    this.#onTransition = options.onTransition;
    this.#maxTries = options.maxTries ?? 20;
    this.#closedReadTtlMs = options.closedReadTtlMs ?? 0;
  }

  /** The breaker's stored state (CLOSED at version 0 when it never changed). */
  state(key: string): Promise<BreakerRecord> {
    return this.#store.get(key);
  }

  /**
   * Asks to make one call through `key`'s breaker. When allowed, the caller must report the call's
   * outcome with {@link recordSuccess} or {@link recordFailure} (a HALF_OPEN slot is held until then).
   */
  acquire(key: string): Promise<BreakerPermit> {
    return this.#update<BreakerPermit>(key, (record, now) => {
      const decision = decide(record, now, this.#policy);
      return decision.allowed
        ? { next: decision.next, value: { allowed: true } }
        : { next: undefined, value: { allowed: false, retryAfterMs: decision.retryAfterMs } };
    });
  }

  /** Reports that a call let through by {@link acquire} succeeded (or was answered by a healthy broker). */
  recordSuccess(key: string): Promise<void> {
    return this.#update(key, (record) => ({ next: afterSuccess(record), value: undefined }));
  }

  /** Reports that a call let through by {@link acquire} failed in a way that says the broker is unhealthy. */
  recordFailure(key: string): Promise<void> {
    return this.#update(key, (record, now) => ({ next: afterFailure(record, now, this.#policy), value: undefined }));
  }

  async #update<T>(
    key: string,
    step: (record: BreakerRecord, nowMs: number) => { next: BreakerStateRecord | undefined; value: T },
  ): Promise<T> {
    for (let tries = 1; tries <= this.#maxTries; tries++) {
      const record = await this.#read(key);
      const now = this.#clock.now();
      const { next, value } = step(record, now);
      if (next === undefined) return value;
      // Whether the write lands or loses a race, what was read is no longer the state.
      this.#closedReads.delete(key);
      if (await this.#store.compareAndSet(next, record.version)) {
        if (next.state !== record.state) {
          this.#onTransition?.({
            key,
            from: record.state,
            to: next.state,
            atMs: now,
            consecutiveFailures: next.consecutiveFailures,
          });
        }
        return value;
      }
    }
    throw new BreakerContentionError(key, this.#maxTries);
  }

  /** The state to decide on: a CLOSED one read within `closedReadTtlMs`, else the store's. */
  async #read(key: string): Promise<BreakerRecord> {
    const known = this.#closedReads.get(key);
    if (known !== undefined && this.#clock.now() - known.atMs < this.#closedReadTtlMs) return known.record;
    const atMs = this.#clock.now();
    const record = await this.#store.get(key);
    if (this.#closedReadTtlMs > 0 && record.state === BreakerState.closed) {
      this.#closedReads.set(key, { record, atMs });
    } else {
      this.#closedReads.delete(key);
    }
    return record;
  }
}
