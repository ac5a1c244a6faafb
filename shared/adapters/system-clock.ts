import type { Clock } from '../ports/clock.js';

/** The real clock. Timers are unref'd so a pending timer never keeps a finished process alive. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, ms: number): () => void {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }
}
