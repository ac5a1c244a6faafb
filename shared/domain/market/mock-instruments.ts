import type { Instrument } from '../../ports/market-data.js';
import { addDays, epochDay } from './calendar-dates.js';

/**
 * The mock instrument registry: NIFTY and BANKNIFTY option chains shaped like Kite's instrument
 * master, so the mock feed, the history endpoint and the subscription API can run without Kite
 * and the pipeline cannot tell the difference.
 *
 * Tokens are derived from the instrument's own identity (underlying, expiry, strike, kind), never
 * from the order instruments are generated in: a client that subscribed to a token keeps getting
 * the same contract after a restart, and adding strikes does not renumber the others.
 */

/** What the mock needs to know about one index: its chain layout and how it moves. */
export interface MockUnderlying {
  /** The underlying's name as the instrument master writes it on options, e.g. `NIFTY`. */
  readonly name: string;
  /** Kite's tradingsymbol of the index itself, e.g. `NIFTY 50`. */
  readonly indexSymbol: string;
  /** Kite's token of the index (segment byte 9, indices). */
  readonly indexToken: number;
  /** Starting level of the index, and the centre of the strike ladder. */
  readonly spot: number;
  /** Distance between listed strikes. */
  readonly strikeStep: number;
  readonly lotSize: number;
  /**
   * 0–3: distinguishes this underlying inside option tokens. Two underlyings of one registry must
   * not share a code, or their tokens could collide.
   */
  readonly tokenCode: number;
  /** Annualised volatility of the index's random walk, and the at-the-money implied volatility. */
  readonly volatility: number;
  /**
   * Implied volatility smile: σ(K) = volatility + skew·m + curvature·m² with m = ln(K/F). A negative
   * skew makes puts below the money dearer, as index option markets do.
   */
  readonly smile: { readonly skew: number; readonly curvature: number };
}

/**
 * The two indices the platform trades, with the tokens Kite uses for the indices (NIFTY 50
 * 256265, NIFTY BANK 260105), their strike steps and lot sizes.
 */
export const MOCK_UNDERLYINGS = {
  NIFTY: {
    name: 'NIFTY',
    indexSymbol: 'NIFTY 50',
    indexToken: 256_265,
    spot: 24_000,
    strikeStep: 50,
    lotSize: 75,
    tokenCode: 0,
    volatility: 0.13,
    smile: { skew: -0.2, curvature: 1.5 },
  },
  BANKNIFTY: {
    name: 'BANKNIFTY',
    indexSymbol: 'NIFTY BANK',
    indexToken: 260_105,
    spot: 52_000,
    strikeStep: 100,
    lotSize: 35,
    tokenCode: 1,
    volatility: 0.16,
    smile: { skew: -0.25, curvature: 1.5 },
  },
} as const satisfies Record<string, MockUnderlying>;

/** How the mock chains are laid out. Only `anchorDate` is required. */
export interface MockRegistryOptions {
  /** `YYYY-MM-DD` the expiry offsets count from, usually the trading day the mock starts on. */
  readonly anchorDate: string;
  /** Strikes listed on each side of the at-the-money strike (default 10, so 21 strikes). */
  readonly strikesEachSide?: number;
  /** Days after `anchorDate` of the weekly expiries (default 2, 9 and 16). */
  readonly weeklyExpiryOffsetsDays?: readonly number[];
  /** Days after `anchorDate` of the monthly expiry (default 23). */
  readonly monthlyExpiryOffsetDays?: number;
  /** Underlyings to list (default NIFTY and BANKNIFTY). */
  readonly underlyings?: readonly MockUnderlying[];
}

/** The tick size of index options on NSE. */
export const OPTION_TICK_SIZE = 0.05;

/** Kite's segment code of NFO instruments, the low byte of every NFO token. */
const NFO_SEGMENT_CODE = 2;
/** Expiry dates enter the token modulo this many days, so one chain may span up to this. */
const EXPIRY_DAY_CYCLE = 256;
/** Strikes enter the token as multiples of the strike step, below this. */
const STRIKE_UNITS_LIMIT = 4096;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
/** Kite's one-character month of weekly symbols: 1–9, then O, N, D. */
const WEEKLY_MONTH_CODES = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'O', 'N', 'D'] as const;

/**
 * The instrument token of a mock option: the bits of (underlying code, expiry day modulo 256,
 * strike in steps, kind) above Kite's NFO segment byte, so `token & 0xff` is the segment as with
 * real tokens and every token stays below 2³¹. Throws a `RangeError` when the strike is not a
 * whole number of steps or too far out to encode.
 */
export function mockOptionToken(
  underlying: Pick<MockUnderlying, 'tokenCode' | 'strikeStep'>,
  expiry: string,
  strike: number,
  kind: 'CE' | 'PE',
): number {
  const { tokenCode, strikeStep } = underlying;
  if (!Number.isInteger(tokenCode) || tokenCode < 0 || tokenCode > 3) {
    throw new RangeError(`tokenCode must be a whole number from 0 to 3, got ${tokenCode}`);
  }
  const units = strike / strikeStep;
  if (!Number.isInteger(units) || units <= 0 || units >= STRIKE_UNITS_LIMIT) {
    throw new RangeError(
      `strike must be a positive multiple of ${strikeStep} below ${STRIKE_UNITS_LIMIT * strikeStep}, got ${strike}`,
    );
  }
  const day = ((epochDay(expiry, 'expiry') % EXPIRY_DAY_CYCLE) + EXPIRY_DAY_CYCLE) % EXPIRY_DAY_CYCLE;
  const id = ((tokenCode * EXPIRY_DAY_CYCLE + day) * STRIKE_UNITS_LIMIT + units) * 2 + (kind === 'CE' ? 0 : 1);
  return id * 256 + NFO_SEGMENT_CODE;
}

/**
 * Kite's tradingsymbol of an index option: `NIFTY25JAN24000CE` for a monthly expiry (year, month),
 * `NIFTY2510924000CE` for a weekly one (year, month code 1–9/O/N/D, day).
 */
export function kiteOptionSymbol(
  name: string,
  expiry: string,
  monthly: boolean,
  strike: number,
  kind: 'CE' | 'PE',
): string {
  epochDay(expiry, 'expiry');
  const year = expiry.slice(2, 4);
  const month = Number(expiry.slice(5, 7)) - 1;
  const day = expiry.slice(8, 10);
  const series = monthly ? `${year}${MONTHS[month]}` : `${year}${WEEKLY_MONTH_CODES[month]}${day}`;
  return `${name}${series}${strike}${kind}`;
}

/**
 * The mock instrument master: for each underlying the index itself (exchange NSE, segment
 * INDICES, no expiry, lot and tick size 0 as Kite lists indices), then CE and PE options on
 * `strikesEachSide` strikes either side of the at-the-money strike for every expiry. Sorted by
 * underlying, expiry, strike and kind, and fully determined by `options`: the same options give
 * the same instruments and tokens on every call.
 */
export function mockInstruments(options: MockRegistryOptions): Instrument[] {
  const {
    anchorDate,
    strikesEachSide = 10,
    weeklyExpiryOffsetsDays = [2, 9, 16],
    monthlyExpiryOffsetDays = 23,
    underlyings = Object.values(MOCK_UNDERLYINGS),
  } = options;
  epochDay(anchorDate, 'anchorDate');
  if (!Number.isInteger(strikesEachSide) || strikesEachSide < 0) {
    throw new RangeError(`strikesEachSide must be a whole number >= 0, got ${strikesEachSide}`);
  }
  const offsets = [...weeklyExpiryOffsetsDays, monthlyExpiryOffsetDays];
  for (const offset of offsets) {
    if (!Number.isInteger(offset) || offset < 0 || offset >= EXPIRY_DAY_CYCLE) {
      throw new RangeError(`expiry offsets must be whole numbers of days from 0 to ${EXPIRY_DAY_CYCLE - 1}`);
    }
  }
  const codes = new Set(underlyings.map((u) => u.tokenCode));
  if (codes.size !== underlyings.length) throw new RangeError('every underlying needs its own tokenCode');

  const expiries = [...new Set(offsets)]
    .sort((a, b) => a - b)
    .map((offset) => ({ date: addDays(anchorDate, offset), monthly: offset === monthlyExpiryOffsetDays }));

  const instruments: Instrument[] = [];
  for (const underlying of underlyings) {
    instruments.push({
      instrumentToken: underlying.indexToken,
      tradingsymbol: underlying.indexSymbol,
      name: underlying.name,
      exchange: 'NSE',
      segment: 'INDICES',
      instrumentType: 'INDEX',
      strike: 0,
      expiry: null,
      lotSize: 0,
      tickSize: 0,
    });
    const atm = Math.round(underlying.spot / underlying.strikeStep) * underlying.strikeStep;
    for (const expiry of expiries) {
      for (let i = -strikesEachSide; i <= strikesEachSide; i++) {
        const strike = atm + i * underlying.strikeStep;
        for (const kind of ['CE', 'PE'] as const) {
          instruments.push({
            instrumentToken: mockOptionToken(underlying, expiry.date, strike, kind),
            tradingsymbol: kiteOptionSymbol(underlying.name, expiry.date, expiry.monthly, strike, kind),
            name: underlying.name,
            exchange: 'NFO',
            segment: 'NFO-OPT',
            instrumentType: kind,
            strike,
            expiry: expiry.date,
            lotSize: underlying.lotSize,
            tickSize: OPTION_TICK_SIZE,
          });
        }
      }
    }
  }
  return instruments;
}
