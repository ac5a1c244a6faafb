import { ValidationError } from '../../errors.js';
import type { ConnectionGateway, PostOutcome } from '../../ports/connection-gateway.js';

/** Largest message API Gateway accepts. */
const MAX_MESSAGE_BYTES = 128 * 1024;

/**
 * A `ConnectionGateway` inside one process: it keeps what each connection was sent, in order. It
 * behaves as the real gateways do for the cases the fan-out must handle (gone connections, a
 * client that reads slowly, throttling, the 128 KB limit), so the fan-out's unit tests and
 * benchmarks exercise those paths without sockets.
 */
export class MemoryConnectionGateway implements ConnectionGateway {
  readonly #open = new Set<string>();
  readonly #received = new Map<string, string[]>();
  readonly #delayMs = new Map<string, number>();
  readonly #throttleNext = new Map<string, number>();
  #maxConcurrent = 0;
  #inFlight = 0;

  /** Makes `connectionId` a live connection. */
  connect(connectionId: string): void {
    this.#open.add(connectionId);
    if (!this.#received.has(connectionId)) this.#received.set(connectionId, []);
  }

  /** Everything `connectionId` was sent, in order. */
  received(connectionId: string): readonly string[] {
    return this.#received.get(connectionId) ?? [];
  }

  /** Each post to `connectionId` takes `ms` (a slow client). */
  slow(connectionId: string, ms: number): void {
    this.#delayMs.set(connectionId, ms);
  }

  /** The next `times` posts to `connectionId` answer `throttled`. */
  throttle(connectionId: string, times: number): void {
    this.#throttleNext.set(connectionId, times);
  }

  /** Most posts that were in flight at once. */
  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  async post(connectionId: string, payload: string): Promise<PostOutcome> {
    if (Buffer.byteLength(payload) > MAX_MESSAGE_BYTES) {
      throw new ValidationError('Message exceeds 128 KB', [{ path: 'payload', message: 'larger than 128 KB' }]);
    }
    this.#inFlight++;
    this.#maxConcurrent = Math.max(this.#maxConcurrent, this.#inFlight);
    try {
      const delay = this.#delayMs.get(connectionId) ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (!this.#open.has(connectionId)) return 'gone';
      const throttled = this.#throttleNext.get(connectionId) ?? 0;
      if (throttled > 0) {
        this.#throttleNext.set(connectionId, throttled - 1);
        return 'throttled';
      }
      this.#received.get(connectionId)?.push(payload);
      return 'sent';
    } finally {
      this.#inFlight--;
    }
  }

  async close(connectionId: string): Promise<void> {
    this.#open.delete(connectionId);
  }
}
