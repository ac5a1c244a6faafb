import type { ChainResponse, ChainStrike, QuotesResponse } from '../../shared/contracts/market-snapshot.js';
import type { TickPayload } from '../../shared/contracts/tick.js';
import { timeToExpiryYears } from '../../shared/domain/greeks/time-to-expiry.js';
import { ValidationError } from '../../shared/errors.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { Components } from '../../shared/wiring.js';
import { apiContext } from './context.js';
import type { ProtectedUseCase } from './protected.js';
import { parseQuery } from './request.js';
import { ChainQuery, QuotesQuery } from './schemas.js';

/** The tokens of one strike's call and put. */
interface StrikeTokens {
  CE?: number;
  PE?: number;
}

/** One underlying's options: expiries nearest first, and each expiry's strikes in order. */
interface UnderlyingChains {
  readonly expiries: readonly string[];
  readonly byExpiry: ReadonlyMap<string, ReadonlyMap<number, StrikeTokens>>;
}

/**
 * The registry's options by underlying and expiry, built once per registry load (the registry hands
 * out the same array until it reloads), so a chain request never scans the whole master.
 */
const chainIndexes = new WeakMap<readonly Instrument[], ReadonlyMap<string, UnderlyingChains>>();

function chainIndex(all: readonly Instrument[]): ReadonlyMap<string, UnderlyingChains> {
  const cached = chainIndexes.get(all);
  if (cached !== undefined) return cached;
  const building = new Map<string, Map<string, Map<number, StrikeTokens>>>();
  for (const i of all) {
    if ((i.instrumentType !== 'CE' && i.instrumentType !== 'PE') || i.expiry === null) continue;
    const name = i.name.toUpperCase();
    const expiries = building.get(name) ?? new Map<string, Map<number, StrikeTokens>>();
    building.set(name, expiries);
    const strikes = expiries.get(i.expiry) ?? new Map<number, StrikeTokens>();
    expiries.set(i.expiry, strikes);
    const row = strikes.get(i.strike) ?? {};
    strikes.set(i.strike, row);
    row[i.instrumentType] = i.instrumentToken;
  }
  const index = new Map<string, UnderlyingChains>();
  for (const [name, expiries] of building) {
    const byExpiry = new Map<string, ReadonlyMap<number, StrikeTokens>>();
    for (const [expiry, strikes] of expiries) byExpiry.set(expiry, new Map([...strikes].sort((a, b) => a[0] - b[0])));
    index.set(name, { expiries: [...expiries.keys()].sort(), byExpiry });
  }
  chainIndexes.set(all, index);
  return index;
}

/** The latest ticks of `tokens` as the live state holds them (what the fan-out last sent). */
async function latestTicks(components: Components, tokens: readonly number[]): Promise<Map<number, TickPayload>> {
  const raw = tokens.length === 0 ? new Map<number, string>() : await components.state.getLatest(tokens);
  const ticks = new Map<number, TickPayload>();
  for (const [token, json] of raw) ticks.set(token, JSON.parse(json) as TickPayload);
  return ticks;
}

/**
 * `GET /quotes?tokens=…`: the latest tick of each token, with its Greeks and IV, straight from the
 * live state (no Kite call); tokens with no tick yet are listed under `missing`.
 */
export function quotesUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const { tokens } = parseQuery(event, QuotesQuery);
    const ticks = await latestTicks(components, tokens);
    const body: QuotesResponse = { quotes: [], missing: [] };
    for (const token of tokens) {
      const tick = ticks.get(token);
      if (tick === undefined) body.missing.push(token);
      else body.quotes.push(tick);
    }
    return { status: 200, body };
  };
}

/**
 * `GET /chain?underlying=&expiry=`: every strike of one expiry with its call's and put's latest
 * ticks, and the forward, ATM strike and time to expiry they were priced on. Without `expiry`, the
 * nearest that has not expired.
 */
export function chainUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const query = parseQuery(event, ChainQuery);
    const underlying = query.underlying.trim().toUpperCase();
    const chains = chainIndex(await apiContext(components).registry.all()).get(underlying);
    if (chains === undefined) {
      throw new ValidationError('Unknown underlying', [
        { path: 'underlying', message: `no options of ${underlying} are listed` },
      ]);
    }
    const now = components.clock.now();
    const expiry = query.expiry ?? chains.expiries.find((e) => timeToExpiryYears(e, now) > 0) ?? chains.expiries.at(-1);
    const strikes = expiry === undefined ? undefined : chains.byExpiry.get(expiry);
    if (expiry === undefined || strikes === undefined) {
      throw new ValidationError('Expiry not listed', [
        {
          path: 'expiry',
          message: `${underlying} has no options expiring ${expiry}; listed: ${chains.expiries.join(', ')}`,
        },
      ]);
    }
    const tokens: number[] = [];
    for (const row of strikes.values()) {
      if (row.CE !== undefined) tokens.push(row.CE);
      if (row.PE !== undefined) tokens.push(row.PE);
    }
    const ticks = await latestTicks(components, tokens);
    const rows: ChainStrike[] = [];
    let newest: TickPayload | undefined;
    for (const [strike, row] of strikes) {
      const CE = row.CE === undefined ? null : (ticks.get(row.CE) ?? null);
      const PE = row.PE === undefined ? null : (ticks.get(row.PE) ?? null);
      for (const tick of [CE, PE]) {
        if (tick?.underlying_price !== undefined && (newest === undefined || tick.timestamp > newest.timestamp)) {
          newest = tick;
        }
      }
      rows.push({ strike, CE, PE });
    }
    const { riskFreeRate: rate, dividendYield, model } = components.config.pricing;
    const years = timeToExpiryYears(expiry, now);
    const spot = newest?.underlying_price ?? null;
    const forward =
      spot === null ? null : model === 'black-76' ? spot : spot * Math.exp((rate - dividendYield) * years);
    const body: ChainResponse = {
      underlying,
      expiry,
      expiries: [...chains.expiries],
      underlying_price: spot,
      forward,
      atm_strike: forward === null ? null : nearestStrike([...strikes.keys()], forward),
      time_to_expiry_years: years,
      rate,
      model,
      strikes: rows,
    };
    return { status: 200, body };
  };
}

/** The strike nearest `price` (the lower of two equally near); `strikes` ascending and not empty. */
export function nearestStrike(strikes: readonly number[], price: number): number | null {
  let best: number | null = null;
  for (const strike of strikes) {
    if (best === null || Math.abs(strike - price) < Math.abs(best - price)) best = strike;
  }
  return best;
}
