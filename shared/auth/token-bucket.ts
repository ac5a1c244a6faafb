/**
 * Per-key request throttling: a token bucket per caller. A bucket holds up to `burst` tokens and
 * refills at `ratePerSecond`; each request takes one. Bursts up to `burst` pass at once, sustained
 * traffic is held to the rate, and a refused request learns exactly when one token will be back.
 *
 * In the cloud API Gateway's usage plans throttle before a Lambda runs; this bucket is what the
 * local gateway (and a single Lambda container) enforces so that behaviour can be seen and tested
 * on one machine. Buckets idle long enough to be full are dropped, so memory stays bounded by the
 * number of active callers.
 */

/** Bucket sizing. */
export interface TokenBucketOptions {
  /** Requests that may arrive at once. */
  readonly burst: number;
  /** Sustained requests per second. */
  readonly ratePerSecond: number;
  /** Current time, epoch milliseconds. */
  readonly now: () => number;
  /** Buckets kept before full ones are swept. Default 10,000. */
  readonly maxBuckets?: number;
}

/** The outcome of one request: allowed, or refused with the seconds until a retry can pass. */
export type TakeResult = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  atMs: number;
}

/** A set of token buckets keyed by caller. */
export class TokenBuckets {
  readonly #options: TokenBucketOptions;
  readonly #buckets = new Map<string, Bucket>();

  /** Throws a `RangeError` unless `burst` >= 1 and `ratePerSecond` > 0. */
  constructor(options: TokenBucketOptions) {
    if (!(options.burst >= 1)) throw new RangeError(`burst must be at least 1, got ${options.burst}`);
    if (!(options.ratePerSecond > 0 && Number.isFinite(options.ratePerSecond))) {
      throw new RangeError(`ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    }
    this.#options = options;
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string): TakeResult {
    const { burst, ratePerSecond, now } = this.#options;
    const at = now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= (this.#options.maxBuckets ?? 10_000)) this.#sweep(at);
      bucket = { tokens: burst, atMs: at };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, at - bucket.atMs) / 1000) * ratePerSecond);
      bucket.atMs = at;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) };
  }

  #sweep(at: number): void {
    const { burst, ratePerSecond } = this.#options;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((at - bucket.atMs) / 1000) * ratePerSecond >= burst) this.#buckets.delete(key);
    }
  }
}
