import { price, timeToExpiryYears } from '../../shared/domain/greeks/index.js';
import {
  kiteOptionSymbol,
  MOCK_UNDERLYINGS,
  type MockRegistryOptions,
  mockInstruments,
  mockOptionToken,
} from '../../shared/domain/market/mock-instruments.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { PriceSource } from '../../test/support/kite/simulator.js';
import { seededRandom } from '../../test/support/random.js';

/*
 * What the ingest benchmark's processes agree on without talking: the instrument master (the Kite
 * side prices it, the pipeline enriches it), the Kite accounts, and the probe instruments whose
 * price carries the time the Kite side generated their frame.
 */

/** Implied volatility the simulated option prices are set at, so the IV solver converges as on real quotes. */
export const SIMULATED_VOLATILITY = 0.14;

/**
 * Weekly Tuesday expiries for seven months on both indices (Kite lists fewer, and BANKNIFTY only
 * monthlies, but each expiry needs its own token space) and 94 strikes either side of the money:
 * 24,192 options, enough for a 240,000 ticks/s offered load at 100 ms per tick.
 */
const CHAIN_LAYOUT = {
  strikesEachSide: 94,
  weeklyExpiries: 32,
  monthlyExpiries: 0,
  underlyings: [MOCK_UNDERLYINGS.NIFTY, { ...MOCK_UNDERLYINGS.BANKNIFTY, weekly: true }],
} as const satisfies Omit<MockRegistryOptions, 'anchorDate'>;

/** Probe strikes are this many strike steps: far beyond every listed strike, so no real token is reused. */
const PROBE_STRIKE_UNITS = 3900;
/**
 * One probe per Kite connection the benchmark may open (3 accounts × 3, the first nine), and the
 * 100 instruments of TC-PERF-020, every tick of which carries its generation time.
 */
export const PROBE_COUNT = 100;

/** The instruments of one benchmark run. */
export interface BenchInstruments {
  /** Everything the pipeline knows: indices, options and probes. */
  readonly all: readonly Instrument[];
  /** NIFTY 50 and NIFTY BANK: every option's Greeks need their price. */
  readonly indices: readonly Instrument[];
  /** Options, nearest expiry first and the two underlyings interleaved, so any prefix loads both channels. */
  readonly options: readonly Instrument[];
  /** NIFTY calls whose price is the encoded generation time of their frame (see {@link probePrice}). */
  readonly probes: readonly Instrument[];
}

/** The chain for a session starting on `anchorDate` (`YYYY-MM-DD`); the same date gives the same tokens in every process. */
export function benchInstruments(anchorDate: string): BenchInstruments {
  const master = mockInstruments({ anchorDate, ...CHAIN_LAYOUT });
  const indices = master.filter((i) => i.instrumentType === 'INDEX');
  const byUnderlying = (name: string) =>
    master.filter((i) => i.name === name && (i.instrumentType === 'CE' || i.instrumentType === 'PE'));
  const nifty = byUnderlying(MOCK_UNDERLYINGS.NIFTY.name);
  const bank = byUnderlying(MOCK_UNDERLYINGS.BANKNIFTY.name);
  const options: Instrument[] = [];
  for (let i = 0; i < Math.max(nifty.length, bank.length); i++) {
    const a = nifty[i];
    const b = bank[i];
    if (a) options.push(a);
    if (b) options.push(b);
  }
  const underlying = MOCK_UNDERLYINGS.NIFTY;
  const expiry = options[0]?.expiry ?? anchorDate;
  const probes: Instrument[] = Array.from({ length: PROBE_COUNT }, (_, k) => {
    const strike = (PROBE_STRIKE_UNITS + k) * underlying.strikeStep;
    return {
      instrumentToken: mockOptionToken(underlying, expiry, strike, 'CE'),
      tradingsymbol: kiteOptionSymbol(underlying.name, expiry, false, strike, 'CE'),
      name: underlying.name,
      exchange: 'NFO',
      segment: 'NFO-OPT',
      instrumentType: 'CE',
      strike,
      expiry,
      lotSize: underlying.lotSize,
      tickSize: 0.05,
    };
  });
  return { all: [...indices, ...options, ...probes], indices, options, probes };
}

/** Today's date in UTC, the anchor both processes use. */
export function todayAnchor(): string {
  return new Date().toISOString().slice(0, 10);
}

/** A Kite account known to both the Kite side and the pool. */
export interface BenchAccount {
  readonly id: string;
  readonly apiKey: string;
  readonly accessToken: string;
}

/** `count` accounts, `acct-1`… with matching keys and tokens. */
export function benchAccounts(count: number): BenchAccount[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `acct-${i + 1}`,
    apiKey: `key-${i + 1}`,
    accessToken: `token-${i + 1}`,
  }));
}

/**
 * Probe prices carry a time: paise are the epoch time in units of 10 µs modulo 2·10⁹ (so they fit
 * Kite's int32 price field), which wraps every 5.5 hours; {@link probeTime} undoes it against any
 * clock reading taken within that span.
 */
const PROBE_MODULUS = 2_000_000_000;

/** The price a probe packet carries for a frame generated at `wallMs`. */
export function probePrice(wallMs: number): number {
  return (Math.round(wallMs * 100) % PROBE_MODULUS) / 100;
}

/** The generation time encoded in a probe's `lastPrice`, resolved against `nowMs` (a later reading). */
export function probeTime(lastPrice: number, nowMs: number): number {
  const encoded = Math.round(lastPrice * 100);
  const now = Math.round(nowMs * 100);
  const behind = (((now - encoded) % PROBE_MODULUS) + PROBE_MODULUS) % PROBE_MODULUS;
  return (now - behind) / 100;
}

/**
 * The Kite side's prices: each index near its mock spot (±0.01 %), each option at its
 * Black-Scholes price at {@link SIMULATED_VOLATILITY} plus 0–2 ticks, so almost every tick takes
 * the IV solver's full path as real quotes do; each probe at the encoded time of its frame. The
 * theoretical price is computed once per option, so pricing costs the Kite process little.
 */
export function benchPriceSource(bench: BenchInstruments): PriceSource {
  const byToken = new Map(bench.all.map((i) => [i.instrumentToken, i]));
  const probes = new Set(bench.probes.map((p) => p.instrumentToken));
  const spots = new Map<string, number>(Object.values(MOCK_UNDERLYINGS).map((u) => [u.name, u.spot]));
  const theoretical = new Map<number, number>();
  const random = seededRandom(20_250_108);
  return (token, nowMs) => {
    if (probes.has(token)) return probePrice(nowMs);
    const instrument = byToken.get(token);
    const spot = spots.get(instrument?.name ?? '') ?? 100;
    if (!instrument || instrument.instrumentType === 'INDEX' || instrument.expiry === null) {
      return Math.round(spot * (1 + (random() - 0.5) * 2e-4) * 20) / 20;
    }
    let value = theoretical.get(token);
    if (value === undefined) {
      value = price({
        kind: instrument.instrumentType === 'PE' ? 'PE' : 'CE',
        model: 'black-scholes',
        underlying: spot,
        strike: instrument.strike,
        timeToExpiryYears: Math.max(1e-4, timeToExpiryYears(instrument.expiry, nowMs)),
        volatility: SIMULATED_VOLATILITY,
        rate: 0.1,
      });
      theoretical.set(token, value);
    }
    return Math.max(0.05, Math.round(value * 20 + Math.floor(random() * 3)) / 20);
  };
}
