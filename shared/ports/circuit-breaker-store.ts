/** The plan's circuit-breaker states (docs/test-plan-index.md, "Order tasks and the circuit breaker"). */
export const BreakerState = { closed: 'CLOSED', open: 'OPEN', halfOpen: 'HALF_OPEN' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** A breaker's shared state, versioned for optimistic concurrency. */
export interface BreakerRecord {
  readonly key: string;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  /** Epoch milliseconds when the breaker opened; null unless OPEN or HALF_OPEN. */
  readonly openedAt: number | null;
  /** Calls let through while HALF_OPEN. */
  readonly halfOpenCalls: number;
  readonly version: number;
}

/**
 * Circuit-breaker state shared by every concurrent worker (many Lambdas at once).
 *
 * Guarantees: `get` of an unknown key returns a CLOSED record at version 0; `compareAndSet`
 * writes only if the stored version equals `expectedVersion` and returns false otherwise (the
 * caller re-reads and decides again), so two workers can never both take the last half-open slot.
 */
export interface CircuitBreakerStore {
  get(key: string): Promise<BreakerRecord>;
  compareAndSet(record: Omit<BreakerRecord, 'version'>, expectedVersion: number): Promise<boolean>;
}
