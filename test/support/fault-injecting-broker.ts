import type { OrderTask } from '../../shared/contracts/order.js';
import type { BrokerOrderState } from '../../shared/domain/orders/broker-order.js';
import {
  type Broker,
  type BrokerCallContext,
  BrokerError,
  type BrokerErrorKind,
  type BrokerResult,
  type OpenOrder,
} from '../../shared/ports/broker.js';

/** One call the broker received, and how it ended. */
export interface BrokerCall {
  readonly taskId: string;
  readonly idempotencyKey: string;
  readonly accountId: string;
  readonly attempt: number;
  readonly at: number;
  /** `ok`, or the kind of error it failed with. */
  readonly outcome: 'ok' | BrokerErrorKind;
}

/**
 * A broker for tests that wraps a real one (the paper broker) and fails calls on demand, the way
 * Kite fails: the next N calls, every call until healed, a random share of calls, or every call
 * within an outage window on the test's clock. It records every call, and counts placements per
 * idempotency key so a test can prove no order was placed twice.
 */
export class FaultInjectingBroker implements Broker {
  readonly calls: BrokerCall[] = [];
  readonly #inner: Broker;
  readonly #now: () => number;
  #next: BrokerErrorKind[] = [];
  #held: number[] = [];
  #always: BrokerErrorKind | undefined;
  #rate: { share: number; kinds: readonly BrokerErrorKind[]; random: () => number } | undefined;
  #outage: { from: number; to: number; kind: BrokerErrorKind } | undefined;
  readonly #placements = new Map<string, number>();

  constructor(inner: Broker, now: () => number) {
    this.#inner = inner;
    this.#now = now;
  }

  /** The next `times` calls fail with `kind`. */
  failNext(kind: BrokerErrorKind, times = 1): this {
    for (let i = 0; i < times; i++) this.#next.push(kind);
    return this;
  }

  /**
   * The next `times` calls are held back unsent, as a broker whose shared rate budget has no room
   * before the call's deadline: `rate-limited`, `sent: false`, `retryAfterMs`.
   */
  holdNext(retryAfterMs: number, times = 1): this {
    for (let i = 0; i < times; i++) this.#held.push(retryAfterMs);
    return this;
  }

  /** Every call fails with `kind` until {@link heal}. */
  failAlways(kind: BrokerErrorKind): this {
    this.#always = kind;
    return this;
  }

  /**
   * A share (0-1) of calls fails with `kind`, drawn from `random`. Given several kinds, each failure
   * takes one of them at random (e.g. Kite's transient mix of network, timeout, 429 and 5xx).
   */
  failRandomly(share: number, kind: BrokerErrorKind | readonly BrokerErrorKind[], random: () => number): this {
    const kinds: readonly BrokerErrorKind[] = typeof kind === 'string' ? [kind] : kind;
    if (kinds.length === 0) throw new RangeError('failRandomly needs at least one error kind');
    this.#rate = { share, kinds, random };
    return this;
  }

  /** Calls in [from, to) on the clock fail with `kind`. */
  outage(from: number, to: number, kind: BrokerErrorKind = 'network'): this {
    this.#outage = { from, to, kind };
    return this;
  }

  /** Stops every injected failure. */
  heal(): this {
    this.#next = [];
    this.#held = [];
    this.#always = undefined;
    this.#rate = undefined;
    this.#outage = undefined;
    return this;
  }

  /** Successful placements of each idempotency key. */
  placements(): ReadonlyMap<string, number> {
    return this.#placements;
  }

  #randomKind(rate: { kinds: readonly BrokerErrorKind[]; random: () => number }): BrokerErrorKind | undefined {
    return rate.kinds.length === 1 ? rate.kinds[0] : rate.kinds[Math.floor(rate.random() * rate.kinds.length)];
  }

  async execute(task: OrderTask, context: BrokerCallContext = { attempt: 1 }): Promise<BrokerResult> {
    const at = this.#now();
    const held = this.#held.shift();
    if (held !== undefined) {
      throw new BrokerError('rate-limited', `Held back: the rate budget has room in ${held} ms`, {
        sent: false,
        retryAfterMs: held,
      });
    }
    const kind =
      this.#next.shift() ??
      this.#always ??
      (this.#outage && at >= this.#outage.from && at < this.#outage.to ? this.#outage.kind : undefined) ??
      (this.#rate && this.#rate.random() < this.#rate.share ? this.#randomKind(this.#rate) : undefined);
    const call = {
      taskId: task.task_id,
      idempotencyKey: task.idempotency_key,
      accountId: task.account_id,
      attempt: context.attempt,
      at,
    };
    if (kind !== undefined) {
      this.calls.push({ ...call, outcome: kind });
      throw new BrokerError(kind, `Injected ${kind} failure`);
    }
    const result = await this.#inner.execute(task, context);
    this.calls.push({ ...call, outcome: 'ok' });
    if (task.operation === 'place_order') {
      this.#placements.set(task.idempotency_key, (this.#placements.get(task.idempotency_key) ?? 0) + 1);
    }
    return result;
  }

  /** The inner broker's book, unfaulted: faults are for the calls that change orders. */
  refresh(orders: readonly OpenOrder[]): Promise<readonly BrokerOrderState[]> {
    return this.#inner.refresh(orders);
  }
}
