import type { BreakerRecord, CircuitBreakerStore } from '../../ports/circuit-breaker-store.js';
import { closedBreaker, parseBreakerRecord } from '../breaker-store-input.js';

/**
 * The {@link CircuitBreakerStore} inside one process: for unit tests and the local platform without
 * a database. Compare-and-set is atomic because JavaScript runs one call at a time; the DynamoDB
 * store gives the same guarantee across processes with a conditional write (same contract suite).
 */
export class MemoryBreakerStore implements CircuitBreakerStore {
  readonly #records = new Map<string, BreakerRecord>();

  async get(key: string): Promise<BreakerRecord> {
    return { ...(this.#records.get(key) ?? closedBreaker(key)) };
  }

  async compareAndSet(record: Omit<BreakerRecord, 'version'>, expectedVersion: number): Promise<boolean> {
    const next = parseBreakerRecord(record);
    const current = this.#records.get(next.key)?.version ?? 0;
    if (current !== expectedVersion) return false;
    this.#records.set(next.key, { ...next, version: current + 1 });
    return true;
  }
}
