import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { ChainResponse, QuotesResponse } from '../../../shared/contracts/market-snapshot.js';
import type { TickPayload } from '../../../shared/contracts/tick.js';
import { timeToExpiryYears } from '../../../shared/domain/greeks/time-to-expiry.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform } from './rest-support.js';

const run = Date.now().toString(36);

describe('GET /quotes and GET /chain: snapshots from the live state', () => {
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  /** The nearest NIFTY chain once both sides of most strikes have ticked. */
  let chain: ChainResponse;

  beforeAll(async () => {
    platform = await startPlatform(`snapshots-${run}`, { FOLLOW_MARKET_HOURS: 'false' });
    api = restClient(platform);
    // The platform streams the nearest expiry from its first start: wait until its chain has ticks.
    await waitFor(
      async () => {
        const response = await api.get('/chain?underlying=nifty');
        if (response.status !== 200) return false;
        chain = ChainResponse.parse(response.body);
        return chain.forward !== null && chain.strikes.some((s) => s.CE !== null && s.PE !== null);
      },
      { timeoutMs: 20_000, message: 'the NIFTY chain to have ticks' },
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  async function latest(token: number): Promise<TickPayload | undefined> {
    const text = (await platform.components.state.getLatest([token])).get(token);
    return text === undefined ? undefined : (JSON.parse(text) as TickPayload);
  }

  it('lists the nearest unexpired expiry with every listed strike in order, calls and puts in their rows', async () => {
    const instruments = await platform.components.loadInstruments();
    const now = platform.components.clock.now();
    const expiries = [
      ...new Set(instruments.filter((i) => i.name === 'NIFTY' && i.instrumentType === 'CE').map((i) => i.expiry)),
    ]
      .filter((e): e is string => e !== null)
      .sort();
    expect(chain.underlying).toBe('NIFTY');
    expect(chain.expiries).toEqual(expiries);
    expect(chain.expiry).toBe(expiries.find((e) => timeToExpiryYears(e, now) > 0));

    const listed = instruments.filter(
      (i) =>
        i.name === 'NIFTY' && i.expiry === chain.expiry && (i.instrumentType === 'CE' || i.instrumentType === 'PE'),
    );
    const strikes = [...new Set(listed.map((i) => i.strike))].sort((a, b) => a - b);
    expect(chain.strikes.map((s) => s.strike)).toEqual(strikes);
    for (const row of chain.strikes) {
      for (const side of ['CE', 'PE'] as const) {
        const tick = row[side];
        if (tick === null) continue;
        expect(tick).toMatchObject({ strike: row.strike, option_type: side, expiry: chain.expiry });
        expect(listed.find((i) => i.instrumentToken === tick.instrument_token)?.instrumentType).toBe(side);
      }
    }
  });

  it('states the forward, ATM strike and time to expiry the Greeks were priced on', () => {
    const { pricing } = platform.components.config;
    const newest = chain.strikes
      .flatMap((s) => [s.CE, s.PE])
      .filter((t): t is TickPayload => t !== null)
      .reduce((a, b) => (b.timestamp > a.timestamp ? b : a));
    expect(chain.underlying_price).toBe(newest.underlying_price);
    expect(chain.model).toBe(pricing.model);
    expect(chain.rate).toBe(pricing.riskFreeRate);
    expect(chain.time_to_expiry_years).toBeGreaterThan(0);
    expect(chain.time_to_expiry_years).toBeLessThan(0.25);
    const expected =
      (chain.underlying_price ?? 0) *
      Math.exp((pricing.riskFreeRate - pricing.dividendYield) * chain.time_to_expiry_years);
    expect(chain.forward).toBeCloseTo(expected, 6);
    const distance = (k: number) => Math.abs(k - (chain.forward ?? 0));
    const nearest = Math.min(...chain.strikes.map((s) => distance(s.strike)));
    expect(distance(chain.atm_strike ?? Number.NaN)).toBe(nearest);
  });

  it('answers quotes in the order asked, with Greeks and IV, and names the tokens with no tick', async () => {
    const priced = chain.strikes.filter((s) => s.CE !== null).slice(0, 3);
    const tokens = priced.map((s) => s.CE?.instrument_token ?? 0).reverse();
    const unstreamed = 999_999_901;
    const response = await api.get(`/quotes?tokens=${[...tokens, unstreamed, tokens[0]].join(',')}`);
    expect(response.status).toBe(200);
    const body = QuotesResponse.parse(response.body);
    expect(body.quotes.map((q) => q.instrument_token)).toEqual(tokens);
    expect(body.missing).toEqual([unstreamed]);
    for (const quote of body.quotes) {
      expect(quote).toHaveProperty('delta');
      expect(quote).toHaveProperty('iv');
      // Straight from the live state: the quote is the state's tick at that moment or an older one.
      const now = await latest(quote.instrument_token);
      expect((now?.timestamp ?? '') >= quote.timestamp).toBe(true);
    }
  });

  it.each([
    ['/quotes', 'tokens'],
    ['/quotes?tokens=abc', 'tokens'],
    ['/quotes?tokens=1,,2', 'tokens'],
    [`/quotes?tokens=${Array.from({ length: 501 }, (_, i) => i + 1).join(',')}`, 'tokens'],
    ['/chain', 'underlying'],
    ['/chain?underlying=NOSUCH', 'underlying'],
    ['/chain?underlying=NIFTY&expiry=2020-01-07', 'expiry'],
    ['/chain?underlying=NIFTY&expiry=tuesday', 'expiry'],
  ])('GET %s is a 400 naming %s', async (path, field) => {
    const response = await api.get(path);
    expect(response.status).toBe(400);
    expect(ApiErrorResponse.parse(response.body).error.details?.map((d) => d.path)).toContain(field);
  });

  it('asks for credentials', async () => {
    const response = await fetch(`${platform.url}/chain?underlying=NIFTY`);
    expect(response.status).toBe(401);
  });
});
