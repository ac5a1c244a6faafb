/*
 * The rules Kite enforces on order calls since 1 April 2026 (the exchanges' retail-algo framework),
 * as the fake Kite applies them: the answers' status codes, `error_type`s and messages are Kite's,
 * so the platform's error mapping is tested against what it will really get.
 */

/**
 * Kite's own wording. `tooManyRequests`, `marketProtection` and `circuitLimits` are the texts
 * Kite users report; Kite documents no text for an order from an unregistered address, so
 * `unregisteredAddress` is this fake's, under the `PermissionException` Kite uses for calls the
 * account may not make.
 */
export const KITE_MESSAGES = {
  tooManyRequests: 'Too many requests',
  marketProtection:
    'Market orders without market protection are not allowed via API. Please set market protection or use a Limit order.',
  /** What Kite says when the exchange's limit price protection band refuses a price: it names circuit limits, not the band. */
  circuitLimits: 'Price exceeds circuit limits for the instrument. Place an order within the daily range.',
  /** The fake's wording (Kite's own varies by segment): an order above the exchange's freeze quantity. */
  freezeQuantity: (quantity: number, freeze: number) =>
    `Quantity ${quantity} exceeds the freeze quantity ${freeze} of the instrument. Place it as smaller orders.`,
  unregisteredAddress: (address: string) =>
    `Order requests are allowed only from the IPs registered for this app; ${address} is not registered.`,
} as const;

/** Kite's order-call limits per account (place, modify and cancel together). */
export interface OrderRateLimits {
  readonly perSecond: number;
  readonly perMinute: number;
  readonly perDay: number;
}

/** The limits Kite applies: 10 a second (429 beyond, since April 2026), 400 a minute, 5,000 a day. */
export const KITE_ORDER_LIMITS: OrderRateLimits = { perSecond: 10, perMinute: 400, perDay: 5000 };

/** The addresses a fake account counts as registered unless a test says otherwise: this machine's. */
export const LOOPBACK_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is `127.0.0.1`. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

const IST_OFFSET_MS = 5.5 * 3_600_000;

/** `epochMs` as Kite writes times: Indian wall-clock `YYYY-MM-DD HH:MM:SS`. */
export function kiteTimestamp(epochMs: number): string {
  return new Date(epochMs + IST_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** The Indian calendar day of `epochMs`: Kite's daily order count resets at IST midnight. */
function istDay(epochMs: number): string {
  return new Date(epochMs + IST_OFFSET_MS).toISOString().slice(0, 10);
}

/**
 * The accept times of one account's order calls and Kite's three windows over them. Only accepted
 * calls count: a call answered 429 used no capacity.
 */
export class OrderCallLedger {
  readonly #times: number[] = [];

  constructor(readonly limits: OrderRateLimits) {}

  /** Records a call at `nowMs` and returns true, or returns false (429) when a window is full. */
  tryAccept(nowMs: number): boolean {
    let lastSecond = 0;
    let lastMinute = 0;
    let today = 0;
    const day = istDay(nowMs);
    for (let i = this.#times.length - 1; i >= 0; i--) {
      const t = this.#times[i] ?? 0;
      if (nowMs - t < 1000) lastSecond++;
      if (nowMs - t < 60_000) lastMinute++;
      if (istDay(t) === day) today++;
      else if (nowMs - t >= 60_000) break;
    }
    if (lastSecond >= this.limits.perSecond || lastMinute >= this.limits.perMinute || today >= this.limits.perDay) {
      return false;
    }
    this.#times.push(nowMs);
    return true;
  }

  /** Accept times, oldest first. */
  times(): readonly number[] {
    return this.#times;
  }

  /** The most calls accepted within any `windowMs` (a window holds times t with start ≤ t < start + windowMs). */
  maxInAnyWindow(windowMs: number): number {
    const times = [...this.#times].sort((a, b) => a - b);
    let best = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }
}

/** A price band in paise, both ends allowed. */
export interface PriceBandPaise {
  readonly lower: number;
  readonly upper: number;
}

/**
 * The exchange's limit price protection band for index options around `reference` (rupees):
 * ±40 % above ₹50, ±₹20 at or below. In paise, so the comparisons are exact.
 */
export function limitPriceBand(reference: number): PriceBandPaise {
  const ref = Math.round(reference * 100);
  if (ref > 5000) return { lower: Math.ceil((ref * 60) / 100), upper: Math.floor((ref * 140) / 100) };
  return { lower: Math.max(0, ref - 2000), upper: ref + 2000 };
}

/**
 * Whether a limit price breaks the band, one-sided as the exchange applies it: a BUY above the top
 * or a SELL below the bottom (a BUY far below the market harms no one; it just rests).
 */
export function outsideBand(side: string, price: number, band: PriceBandPaise): boolean {
  const paise = Math.round(price * 100);
  return side === 'BUY' ? paise > band.upper : paise < band.lower;
}
