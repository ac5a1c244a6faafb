import type { Instrument } from '../../ports/market-data.js';
import { epochDay, isoDateOfEpochDay } from './calendar-dates.js';

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
  /** Contract size, as in the instrument master (NSE revises it twice a year). */
  readonly lotSize: number;
  /**
   * Whether the index has weekly options. Since the exchanges' 2024 rationing of weekly contracts,
   * only one index per exchange keeps them (NIFTY on NSE); the others list monthly contracts only.
   */
  readonly weekly: boolean;
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
 * 256265, NIFTY BANK 260105), their strike steps, and the lot sizes and expiry schedules of NSE's
 * contracts from the January 2026 series (NIFTY lot 65 with weekly options, BANKNIFTY lot 30 with
 * monthly options only), so mock orders are sized as real ones must be.
 */
export const MOCK_UNDERLYINGS = {
  NIFTY: {
    name: 'NIFTY',
    indexSymbol: 'NIFTY 50',
    indexToken: 256_265,
    spot: 24_000,
    strikeStep: 50,
    lotSize: 65,
    weekly: true,
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
    lotSize: 30,
    weekly: false,
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
  /** Weekly expiries listed for underlyings with weekly options, nearest first (default 4). */
  readonly weeklyExpiries?: number;
  /** Monthly expiries listed for every underlying, nearest first (default 2). */
  readonly monthlyExpiries?: number;
  /**
   * NSE trading holidays, `YYYY-MM-DD`: an expiry falling on one moves to the previous trading
   * day, as the exchange moves it.
   */
  readonly holidays?: readonly string[];
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
/** NSE's expiry weekday for index options since September 2025: Tuesday (0 = Sunday). */
const EXPIRY_WEEKDAY = 2;
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
 * `strikesEachSide` strikes either side of the at-the-money strike for each of its expiries:
 * NSE's schedule of {@link mockExpiries}. Sorted by underlying, expiry, strike and kind, and fully
 * determined by `options`: the same options give the same instruments and tokens on every call.
 */
export function mockInstruments(options: MockRegistryOptions): Instrument[] {
  const { anchorDate, strikesEachSide = 10, underlyings = Object.values(MOCK_UNDERLYINGS) } = options;
  epochDay(anchorDate, 'anchorDate');
  if (!Number.isInteger(strikesEachSide) || strikesEachSide < 0) {
    throw new RangeError(`strikesEachSide must be a whole number >= 0, got ${strikesEachSide}`);
  }
  const codes = new Set(underlyings.map((u) => u.tokenCode));
  if (codes.size !== underlyings.length) throw new RangeError('every underlying needs its own tokenCode');

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
    for (const expiry of mockExpiries(underlying, options)) {
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

/** One listed expiry: its date and whether it is the month's contract (symbol `YYMMM`). */
export interface MockExpiry {
  readonly date: string;
  readonly monthly: boolean;
}

/**
 * NSE's expiry schedule for `underlying` from `anchorDate` on, nearest first: for an index with
 * weekly options the next `weeklyExpiries` Tuesdays, and for every index the next
 * `monthlyExpiries` last Tuesdays of a month (the monthly contract; a weekly Tuesday that is also
 * the month's last is that contract). An expiry on a holiday moves to the previous trading day;
 * an expiry on the anchor date itself is listed, as the contract trades until 15:30 that day.
 * Throws a `RangeError` for counts that are not whole numbers or a schedule longer than tokens can
 * encode (255 days).
 */
export function mockExpiries(
  underlying: Pick<MockUnderlying, 'weekly'>,
  options: Pick<MockRegistryOptions, 'anchorDate' | 'weeklyExpiries' | 'monthlyExpiries' | 'holidays'>,
): MockExpiry[] {
  const { anchorDate, weeklyExpiries = 4, monthlyExpiries = 2, holidays = [] } = options;
  for (const [field, count] of [
    ['weeklyExpiries', weeklyExpiries],
    ['monthlyExpiries', monthlyExpiries],
  ] as const) {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`${field} must be a whole number >= 0, got ${count}`);
    }
  }
  const anchor = epochDay(anchorDate, 'anchorDate');
  const closed = new Set(holidays.map((h) => epochDay(h, 'holidays')));
  const tradingDayOnOrBefore = (day: number): number => {
    let d = day;
    while (closed.has(d) || weekday(d) === 0 || weekday(d) === 6) d--;
    return d;
  };
  const monthlyOf = (year: number, month: number): number => {
    const last = Date.UTC(year, month + 1, 0) / MS_PER_DAY;
    return tradingDayOnOrBefore(last - ((weekday(last) - EXPIRY_WEEKDAY + 7) % 7));
  };
  const anchorYear = Number(anchorDate.slice(0, 4));
  const anchorMonth = Number(anchorDate.slice(5, 7)) - 1;
  const listed = new Set<number>();
  for (let k = 0, found = 0; found < monthlyExpiries; k++) {
    const day = monthlyOf(anchorYear, anchorMonth + k);
    if (day < anchor) continue;
    listed.add(day);
    found++;
  }
  if (underlying.weekly) {
    const firstTuesday = anchor + ((EXPIRY_WEEKDAY - weekday(anchor) + 7) % 7);
    for (let tuesday = firstTuesday, found = 0; found < weeklyExpiries; tuesday += 7) {
      const day = tradingDayOnOrBefore(tuesday);
      if (day < anchor) continue;
      listed.add(day);
      found++;
    }
  }
  const days = [...listed].sort((a, b) => a - b);
  const first = days[0];
  const last = days.at(-1);
  if (first !== undefined && last !== undefined && last - first >= EXPIRY_DAY_CYCLE) {
    throw new RangeError(`expiries must span fewer than ${EXPIRY_DAY_CYCLE} days to keep tokens unique`);
  }
  // A weekly expiry that lands on the month's last Tuesday is the monthly contract itself.
  return days.map((day) => {
    const date = isoDateOfEpochDay(day);
    const isMonthly = monthlyOf(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1) === day;
    return { date, monthly: isMonthly };
  });
}

const MS_PER_DAY = 86_400_000;

/** Day of the week of an epoch day, 0 = Sunday (1970-01-01 was a Thursday). */
function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}
