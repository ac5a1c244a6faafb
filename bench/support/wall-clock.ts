import { performance } from 'node:perf_hooks';
import type { Clock } from '../../shared/ports/clock.js';

/*
 * Wall-clock time with sub-millisecond resolution that agrees across processes. `Date.now()` only
 * has millisecond steps, too coarse for latencies of a few milliseconds, and `performance.now()`
 * counts from each process's own start. Anchoring `performance.now()` to the instant `Date.now()`
 * steps to the next millisecond gives every process the same epoch to within a few microseconds,
 * so a timestamp taken in the Kite simulator's process can be compared with one taken in the
 * subscriber's. The monotonic clock and the system clock drift apart by parts per million at
 * most, which is microseconds over a benchmark's minutes.
 */

function anchor(): number {
  const start = Date.now();
  let now = start;
  // Spins for at most a millisecond, once per process.
  while (now === start) now = Date.now();
  return now - performance.now();
}

const origin = anchor();

/** Milliseconds since the Unix epoch, with microsecond resolution, comparable across processes. */
export function wallNowMs(): number {
  return origin + performance.now();
}

/**
 * The {@link Clock} port on {@link wallNowMs}: handed to the tick publisher, its `onPublished`
 * latencies are fractional milliseconds instead of whole ones. Timers are unref'd like the system
 * clock's.
 */
export class WallClock implements Clock {
  now(): number {
    return wallNowMs();
  }

  setTimeout(callback: () => void, ms: number): () => void {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }
}
