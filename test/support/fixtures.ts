import { createHash } from 'node:crypto';
import type { TickPayload } from '../../shared/contracts/tick.js';
import type { Candle } from '../../shared/ports/market-data.js';

/** The plan's shared fixtures (docs/test-plan-index.md, "Test fixtures and generators"), as plain data. */

/** The plan's sample option snapshot (NIFTY 19000 CE) in the client tick format. */
export function sampleOptionSnapshot(overrides: Partial<TickPayload> = {}): TickPayload {
  return {
    instrument_token: 256265,
    tradingsymbol: 'NIFTY25JAN19000CE',
    last_price: 250.0,
    volume: 100_000,
    oi: 500_000,
    delta: 0.55,
    gamma: 0.002,
    theta: -15.5,
    vega: 45.2,
    timestamp: '2025-01-08T09:15:00.000Z',
    is_mock: false,
    ...overrides,
  };
}

/** The plan's sample candles (epoch-millisecond dates, as the `MarketData` port returns them). */
export function sampleCandles(): Candle[] {
  return [
    {
      date: Date.parse('2025-01-08T09:15:00Z'),
      open: 240,
      high: 260,
      low: 235,
      close: 250,
      volume: 10_000,
      oi: 50_000,
    },
    { date: Date.parse('2025-01-08T09:16:00Z'), open: 250, high: 255, low: 245, close: 252, volume: 8_000, oi: 50_500 },
    { date: Date.parse('2025-01-08T09:17:00Z'), open: 252, high: 258, low: 249, close: 251, volume: 9_500, oi: 51_000 },
  ];
}

/** Tokens the plan's cases use: NIFTY 19000 CE and PE. */
export const TOKENS = { niftyCall: 256265, niftyPut: 260105 } as const;

/**
 * The principal id the platform gives an API-key caller (`key-` and the first 8 bytes of the key's
 * SHA-256), so a test can name such a caller as the owner of orders sent through SQS.
 */
export function apiKeyPrincipalId(key: string): string {
  return `key-${createHash('sha256').update(key, 'utf8').digest().subarray(0, 8).toString('hex')}`;
}
