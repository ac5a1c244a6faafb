import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logging.js';
import type { LiveStateStore } from '../shared/ports/live-state-store.js';
import type { Service } from './supervisor.js';

export interface LeaderLeaseOptions {
  readonly state: LiveStateStore;
  readonly logger: Logger;
  readonly name?: string;
  readonly ttlMs?: number;
  readonly renewEveryMs?: number;
}

/**
 * Keeps the ingest role to one active instance: a lease in the live state store (Redis in the
 * cloud). `acquire` waits as a standby until the lease is free; the service then renews it and
 * fails, stopping the role, the moment a renewal is refused or the store is unreachable for longer
 * than the lease lasts, so two instances never stream at once for long.
 */
export class LeaderLease implements Service {
  readonly name = 'leader-lease';
  readonly owner = randomUUID();
  readonly #options: LeaderLeaseOptions;

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
  }

  get #lease(): string {
    return this.#options.name ?? 'ingest';
  }

  /** Resolves true once this instance holds the lease, false if `signal` aborts first. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    const { state, logger } = this.#options;
    let announced = false;
    while (!signal.aborted) {
      const won = await state.acquireLease(this.#lease, this.owner, this.#options.ttlMs ?? 15_000).catch(() => false);
      if (won) {
        logger.info('Holding the ingest lease: this instance is active', { owner: this.owner });
        return true;
      }
      if (!announced) logger.info('Another ingest instance is active: waiting as standby', { owner: this.owner });
      announced = true;
      await sleep(this.#options.renewEveryMs ?? 5000, undefined, { signal }).catch(() => {});
    }
    return false;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { state, logger } = this.#options;
    const ttl = this.#options.ttlMs ?? 15_000;
    let lastRenewed = Date.now();
    try {
      while (!signal.aborted) {
        await sleep(this.#options.renewEveryMs ?? 5000, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        try {
          if (!(await state.renewLease(this.#lease, this.owner, ttl))) throw new Error('the lease was taken over');
          lastRenewed = Date.now();
        } catch (error) {
          if (Date.now() - lastRenewed < ttl && !(error instanceof Error && error.message.includes('taken over'))) {
            logger.warn('Lease renewal failed; retrying', { error: describeError(error) });
            continue;
          }
          throw new Error(`Lost the ingest lease: ${describeError(error)}`, { cause: error });
        }
      }
    } finally {
      await state.releaseLease(this.#lease, this.owner).catch(() => {});
    }
  }
}
