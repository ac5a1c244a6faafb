import type { Clock } from '../ports/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told (the plan's MockTimeProvider): tests of market hours, expiry
 * and breaker recovery advance it by hours without waiting. Timers fire in time order, ties in the
 * order they were set, each at its own `now()`.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(startMs = Date.UTC(2025, 0, 8, 3, 45, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.callback();
    }
    this.#now = target;
  }

  /** Sets the time (forward only), firing due timers. */
  set(epochMs: number): void {
    if (epochMs < this.#now) throw new RangeError('ManualClock cannot go back in time');
    this.advance(epochMs - this.#now);
  }

  /** Timers still waiting. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}
