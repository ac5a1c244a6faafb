import { createHash, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../secret.js';

/**
 * Checks API keys without keeping them in the clear and without leaking through timing: the
 * configured keys are hashed once with SHA-256, a presented key is hashed the same way, and the
 * fixed-length digests are compared with `timingSafeEqual` against every configured key (no early
 * exit), so neither the length nor the prefix of a valid key can be learnt by measuring responses.
 */
export class ApiKeyVerifier {
  readonly #digests: readonly Buffer[];

  constructor(keys: readonly Secret[]) {
    this.#digests = keys.map((key) => digest(key.reveal()));
  }

  /** Whether any key is configured; with none, every key is refused. */
  get configured(): boolean {
    return this.#digests.length > 0;
  }

  /**
   * A stable, non-reversible id of `presented` when it is one of the configured keys (for logs and
   * per-key throttling), `undefined` otherwise.
   */
  verify(presented: string): string | undefined {
    const candidate = digest(presented);
    let matched = false;
    for (const known of this.#digests) {
      // Bitwise OR keeps the loop running over every key whatever matched first.
      matched = timingSafeEqual(candidate, known) || matched;
    }
    return matched ? `key-${candidate.subarray(0, 8).toString('hex')}` : undefined;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
