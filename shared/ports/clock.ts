/**
 * Time as the domain sees it. Domain code never reads the system clock: it is handed a `Clock`, so
 * tests can fix or advance time (market hours, expiry, breaker recovery) without waiting.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds; returns a function that cancels it. */
  setTimeout(callback: () => void, ms: number): () => void;
}
