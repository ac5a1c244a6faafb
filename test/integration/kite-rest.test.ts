import { KiteConnect } from 'kiteconnect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KiteMarketData } from '../../shared/adapters/kite/kite-market-data.js';
import { KiteApiError, KiteRestClient } from '../../shared/adapters/kite/kite-rest-client.js';
import { MemoryRateBudget } from '../../shared/adapters/memory/memory-rate-budget.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { KiteRateLimits } from '../../shared/domain/kite/rate-limiter.js';
import { createLogger } from '../../shared/logging.js';
import { startKiteRestServer } from '../support/kite-rest/kite-rest-server.js';
import { captureLogs } from '../support/log-capture.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const accounts = { keyA: 'tokenA', keyB: 'tokenB' };
let server: Awaited<ReturnType<typeof startKiteRestServer>>;
/** One budget for the file's clients, as one process shares Kite's limits. */
const budget = new MemoryRateBudget({ budgets: KiteRateLimits });

function client(apiKey: string, timeoutMs = 10_000, accessToken?: string, log = logger): KiteRestClient {
  return new KiteRestClient({
    accountId: apiKey === 'keyA' ? 'A' : 'B',
    apiKey,
    accessToken: accessToken ?? accounts[apiKey as keyof typeof accounts],
    root: server.root,
    timeoutMs,
    clock: new SystemClock(),
    budget,
    logger: log,
  });
}

const DAY = 86_400_000;

beforeAll(async () => {
  server = await startKiteRestServer({ accounts });
});
afterAll(async () => {
  await server.stop();
});

describe('KiteRestClient', () => {
  it('splits a long historical range by the interval limit and returns contiguous candles', async () => {
    const from = Date.UTC(2023, 0, 2, 3, 45);
    const to = from + 800 * DAY - 1;
    const before = server.requests.length;
    const candles = await client('keyA').historical({
      instrumentToken: 256265,
      from,
      to,
      interval: '60minute',
      oi: true,
    });
    const calls = server.requests.slice(before);
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(call.path).toBe('/instruments/historical/256265/60minute');
    expect(candles.length).toBeGreaterThan(19_000);
    expect(candles[0]).toMatchObject({ date: from, oi: 5000 });
    for (let i = 1; i < candles.length; i++)
      expect((candles[i]?.date ?? 0) - (candles[i - 1]?.date ?? 0)).toBe(3_600_000);
  });

  it('keeps to 3 historical requests per second however many calls are made at once', async () => {
    const kite = client('keyB');
    const before = server.requests.length;
    const from = Date.UTC(2024, 0, 1);
    await Promise.all(
      Array.from({ length: 7 }, () =>
        kite.historical({ instrumentToken: 1, from, to: from + DAY, interval: 'day', oi: false }),
      ),
    );
    const times = server.requests.slice(before).map((r) => r.at);
    expect(times).toHaveLength(7);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 950).length).toBeLessThanOrEqual(3);
  });

  it('maps a refused token to a non-retryable token error', async () => {
    const error = await client('keyA', 10_000, 'expired')
      .lastPrices(['256265'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KiteApiError);
    expect(error).toMatchObject({ kind: 'token', errorType: 'TokenException', retryable: false, code: 'UNAUTHORIZED' });
  });

  it('reads the instrument master: the two indices named by underlying, NIFTY and BANKNIFTY derivatives only', async () => {
    const instruments = await client('keyA').instruments();
    expect(instruments.map((i) => [i.instrumentToken, i.name, i.instrumentType, i.expiry])).toEqual([
      [256265, 'NIFTY', 'INDEX', null],
      [260105, 'BANKNIFTY', 'INDEX', null],
      [12345602, 'NIFTY', 'CE', '2026-01-27'],
      [12345858, 'NIFTY', 'PE', '2026-01-27'],
      [13345602, 'BANKNIFTY', 'FUT', '2026-01-27'],
    ]);
    expect(instruments[2]).toMatchObject({
      tradingsymbol: 'NIFTY26JAN24000CE',
      strike: 24000,
      lotSize: 65,
      tickSize: 0.05,
      segment: 'NFO-OPT',
    });
    expect(instruments[4]).toMatchObject({ tradingsymbol: 'BANKNIFTY26JANFUT', lotSize: 30 });
  });

  it("reads the instrument master with the client's own row-at-a-time parser, not kiteconnect's whole-list one", async () => {
    // kiteconnect's parser makes an object of every row of the exchange; the client replaces it on
    // its instance. Should a kiteconnect release stop calling the method, this fails.
    const prototype = KiteConnect.prototype as unknown as { transformInstrumentsResponse: unknown };
    const original = prototype.transformInstrumentsResponse;
    expect(typeof original).toBe('function');
    prototype.transformInstrumentsResponse = () => {
      throw new Error("kiteconnect's instrument parser was used");
    };
    try {
      const instruments = await client('keyA').instruments();
      expect(instruments.map((i) => i.instrumentToken)).toEqual([256265, 260105, 12345602, 12345858, 13345602]);
    } finally {
      prototype.transformInstrumentsResponse = original;
    }
  });

  it('places an order and returns the order id', async () => {
    const id = await client('keyA').placeOrder('regular', {
      exchange: 'NFO',
      tradingsymbol: 'NIFTY26JAN19000CE',
      transaction_type: 'BUY',
      quantity: 65,
      product: 'NRML',
      order_type: 'MARKET',
      market_protection: -1,
    });
    expect(id).toMatch(/^ORD\d+$/);
  });
});

describe('KiteMarketData', () => {
  const market = (timeoutMs = 10_000, log = logger) =>
    new KiteMarketData({
      clients: [client('keyA', timeoutMs, undefined, log), client('keyB', timeoutMs, undefined, log)],
      logger: log,
      retryDelayMs: 20,
    });

  it('TC-ERR-020: fails over to the next account on a 429 and skips the limited account afterwards', async () => {
    const data = market();
    server.inject(
      /ltp/,
      {
        kind: 'status',
        status: 429,
        body: { status: 'error', message: 'Too many requests', error_type: 'NetworkException' },
      },
      1,
      'keyA',
    );
    const before = server.requests.length;
    const prices = await data.lastPrices([256265]);
    expect([...prices.values()]).toEqual([24_000.5]);
    expect(server.requests.slice(before).map((r) => r.apiKey)).toEqual(['keyA', 'keyB']);
    // Round-robin would start at B then A; A is cooling down, so both calls go to B.
    const next = server.requests.length;
    await data.lastPrices([256265]);
    await data.lastPrices([256265]);
    expect(server.requests.slice(next).map((r) => r.apiKey)).toEqual(['keyB', 'keyB']);
  });

  it('TC-ERR-021: times out a request that gets no answer, retries with backoff, then fails over', async () => {
    server.inject(/ltp/, { kind: 'hang' }, 3, 'keyA');
    const before = server.requests.length;
    const started = Date.now();
    const { result, logs } = await captureLogs((log) => market(200, log).lastPrices([256265]));
    expect([...result.values()]).toEqual([24_000.5]);
    expect(server.requests.slice(before).map((r) => r.apiKey)).toEqual(['keyA', 'keyA', 'keyA', 'keyB']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(
      logs.some((l) => l.message === 'Kite market-data call failed' && String(l.error).includes('ECONNABORTED')),
    ).toBe(true);
    expect(logs.some((l) => l.message === 'Failing over to the next Kite account' && l.kind === 'timeout')).toBe(true);
  });

  it('TC-ERR-023: catches a malformed response, logs its raw body, and retries', async () => {
    server.inject(/historical/, { kind: 'malformed', body: '{"status":"success","data":{"candles":[[' }, 1);
    const from = Date.UTC(2024, 0, 1);
    const { result, logs } = await captureLogs((log) =>
      market(10_000, log).historical({ instrumentToken: 256265, from, to: from + 2 * DAY, interval: 'day', oi: false }),
    );
    expect(result).toHaveLength(3);
    const malformed = logs.find((l) => l.message === 'Malformed Kite response');
    expect(malformed?.body).toContain('{"status":"success","data":{"candles":[[');
  });

  it('throws input errors at once without failing over', async () => {
    const data = market();
    server.inject(
      /ltp/,
      {
        kind: 'status',
        status: 400,
        body: { status: 'error', message: 'Invalid instrument', error_type: 'InputException' },
      },
      1,
    );
    const before = server.requests.length;
    await expect(data.lastPrices([1])).rejects.toMatchObject({ kind: 'input', retryable: false });
    expect(server.requests.length - before).toBe(1);
  });
});
