import type { Instrument } from '../../ports/market-data.js';

/**
 * The exchange's retail-algo order rules as Kite enforces them on API orders since 1 April 2026
 * (docs/architecture.md), checked before an order is queued or sent, so a caller hears which field is
 * wrong and why instead of Kite's one-line rejection (whose price-band message even says
 * "circuit limits"). Pure: the instrument, the reference price and the freeze table are handed in.
 * The exchange stays the authority; these checks only refuse what it would refuse.
 */

/** The place-order fields the rules read, in kiteconnect's names: any object with these fits. */
export interface OrderRuleParams {
  readonly transaction_type: 'BUY' | 'SELL';
  readonly order_type: 'MARKET' | 'LIMIT' | 'SL' | 'SL-M';
  readonly quantity: number;
  readonly price?: number | undefined;
  readonly trigger_price?: number | undefined;
  readonly market_protection?: number | undefined;
  readonly slice?: boolean | undefined;
}

/** The instrument-master fields the rules read. */
export type OrderRuleInstrument = Pick<
  Instrument,
  'tradingsymbol' | 'name' | 'instrumentType' | 'lotSize' | 'tickSize'
>;

/** The fields a refusal can name: the REST answer and the dead letter name the same one. */
export type OrderRuleField = 'market_protection' | 'quantity' | 'price' | 'trigger_price' | 'slice';

/** One refused field and why, in words a trader can act on. */
export interface OrderRuleIssue {
  readonly path: OrderRuleField;
  readonly message: string;
}

/** What {@link checkPlaceOrder} decided. */
export type PlaceOrderCheck =
  | {
      readonly ok: true;
      /**
       * What to send as `market_protection`: the caller's value, or -1 (the broker's automatic
       * band) when a MARKET or SL-M order left it out; undefined for LIMIT and SL, which carry none.
       */
      readonly marketProtection: number | undefined;
      /**
       * The quantity of each order to place, in order: `[quantity]` when it fits one order, or up
       * to {@link MAX_SLICES} children (each a whole number of lots, none above the freeze
       * quantity) when the caller asked for `slice` and the quantity is above the freeze quantity.
       */
      readonly slices: readonly number[];
    }
  | { readonly ok: false; readonly issues: readonly OrderRuleIssue[] };

/** Most orders a sliced order may become: Kite caps slicing at 10, in line with 10 orders a second. */
export const MAX_SLICES = 10;

/** `market_protection` that asks the broker to compute the band itself. */
export const AUTOMATIC_MARKET_PROTECTION = -1;

/**
 * The largest `market_protection` percentage accepted. Kite documents a positive value "0 to 100"
 * (the MARKET order becomes a LIMIT that far from the last price); 0 itself is refused by the
 * exchange for algo orders, so the valid range is -1, or above 0 up to and including 100.
 */
export const MAX_MARKET_PROTECTION = 100;

/**
 * Freeze quantity (the most units of one order) per underlying, in units, not lots. A table
 * rather than instrument data because the instrument master does not carry it and NSE revises it
 * by circular every few months; callers pass their own when it changes.
 */
export type FreezeQuantities = Readonly<Record<string, number>>;

/**
 * NSE's quantity freeze limits for index derivatives effective 1 February 2026 (circular of
 * 30 January 2026; see docs/decisions.md). One order may carry at most the largest whole number
 * of lots within the limit: 1,755 (27 lots of 65) for NIFTY, 600 (20 lots of 30) for BANKNIFTY.
 */
export const NSE_FREEZE_QUANTITIES: FreezeQuantities = {
  NIFTY: 1800,
  BANKNIFTY: 600,
  FINNIFTY: 1800,
  MIDCPNIFTY: 2800,
  NIFTYNXT50: 600,
};

/**
 * Limit price protection for index options (NSE, since 31 October 2022): above a ₹50 reference
 * the band is ±40 %, at or below it ±₹20 (in paise here, so every comparison is exact).
 */
const LPP_THRESHOLD_PAISE = 5000;
const LPP_PERCENT = 40;
const LPP_ABSOLUTE_PAISE = 2000;

/** The band a limit price must keep to, in paise, both ends allowed. */
export interface PriceBand {
  readonly lowerPaise: number;
  readonly upperPaise: number;
}

/**
 * The exchange's limit price protection band around `referencePaise` for an index option with a
 * tick of `tickPaise`: ±40 % above ₹50 (the ends rounded inwards to the paisa, which for whole-
 * paise prices is the same test as against the exact ends), ±₹20 at or below, and the lower end
 * never below one tick, the lowest price an option can have.
 */
export function priceBand(referencePaise: number, tickPaise: number): PriceBand {
  if (referencePaise > LPP_THRESHOLD_PAISE) {
    return {
      lowerPaise: Math.ceil((referencePaise * (100 - LPP_PERCENT)) / 100),
      upperPaise: Math.floor((referencePaise * (100 + LPP_PERCENT)) / 100),
    };
  }
  return {
    lowerPaise: Math.max(referencePaise - LPP_ABSOLUTE_PAISE, tickPaise),
    upperPaise: referencePaise + LPP_ABSOLUTE_PAISE,
  };
}

/**
 * Checks a new order against the exchange's rules for API orders and, when it passes, says what
 * to send: the market protection to use and the quantities of the orders to place.
 *
 * - MARKET and SL-M carry `market_protection`: -1 when left out, 0 refused (the exchange rejects
 *   it), otherwise a percentage above 0 up to {@link MAX_MARKET_PROTECTION}. LIMIT and SL carry
 *   none, and one given to them is refused rather than silently dropped.
 * - `quantity` is a whole number of the instrument's lots.
 * - Above the underlying's freeze quantity an order is refused unless `slice` is true; then it is
 *   split into full orders of the largest lot multiple within the freeze quantity and a remainder
 *   (as Kite's own slicing does), and refused on `slice` if that takes more than {@link MAX_SLICES}.
 *   An underlying missing from `freezeQuantities` is not limited here.
 * - Prices and trigger prices are whole multiples of the tick size.
 * - Limit price protection, one-sided as the exchange applies it (a BUY above the band's top or a
 *   SELL below its bottom is rejected; a BUY below it is merely passive): a LIMIT price against
 *   the band around `referencePrice`; an SL price against the band around its own trigger price,
 *   because the exchange checks an SL order only when it triggers, against the reference price of
 *   that moment, which the trigger price stands in for. Only for options (futures have other
 *   bands), and not for LIMIT when no usable reference price is known (undefined, zero or not
 *   finite): the exchange still checks, this pre-check cannot.
 *
 * Every issue found is reported, each naming its field. Throws a RangeError only for an
 * instrument or freeze table that cannot be right (a lot or tick size that is not positive).
 */
export function checkPlaceOrder(
  params: OrderRuleParams,
  instrument: OrderRuleInstrument,
  referencePrice: number | undefined,
  freezeQuantities: FreezeQuantities = NSE_FREEZE_QUANTITIES,
): PlaceOrderCheck {
  assertPositive('lotSize', instrument.lotSize);
  assertPositive('tickSize', instrument.tickSize);
  const issues: OrderRuleIssue[] = [];
  const marketProtection = checkMarketProtection(params, issues);
  const slices = checkQuantity(params, instrument, freezeQuantities, issues);
  checkPrices(params, instrument, referencePrice, issues);
  if (issues.length > 0 || slices === undefined) return { ok: false, issues };
  return { ok: true, marketProtection, slices };
}

function assertPositive(field: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`instrument ${field} must be a positive number, got ${value}`);
  }
}

const needsMarketProtection = (orderType: OrderRuleParams['order_type']): boolean =>
  orderType === 'MARKET' || orderType === 'SL-M';

function checkMarketProtection(params: OrderRuleParams, issues: OrderRuleIssue[]): number | undefined {
  const given = params.market_protection;
  if (!needsMarketProtection(params.order_type)) {
    if (given !== undefined) {
      issues.push({
        path: 'market_protection',
        message: `market_protection applies only to MARKET and SL-M orders; leave it out of a ${params.order_type} order`,
      });
    }
    return undefined;
  }
  if (given === undefined) return AUTOMATIC_MARKET_PROTECTION;
  if (given === 0) {
    issues.push({
      path: 'market_protection',
      message:
        'market_protection 0 is rejected by the exchange for API orders: use -1 (the broker sets the band) or a percentage above 0 up to 100',
    });
  } else if (
    given !== AUTOMATIC_MARKET_PROTECTION &&
    !(Number.isFinite(given) && given > 0 && given <= MAX_MARKET_PROTECTION)
  ) {
    issues.push({
      path: 'market_protection',
      message: `market_protection must be -1 (the broker sets the band) or a percentage above 0 up to 100, got ${given}`,
    });
  }
  return given;
}

/** The quantities to place, or undefined when the quantity is refused (the issue is recorded). */
function checkQuantity(
  params: OrderRuleParams,
  instrument: OrderRuleInstrument,
  freezeQuantities: FreezeQuantities,
  issues: OrderRuleIssue[],
): number[] | undefined {
  const { quantity } = params;
  const lot = instrument.lotSize;
  if (!(Number.isSafeInteger(quantity) && quantity > 0)) {
    issues.push({ path: 'quantity', message: `quantity must be a whole number above 0, got ${quantity}` });
    return undefined;
  }
  if (quantity % lot !== 0) {
    const below = Math.floor(quantity / lot) * lot;
    const nearest = below > 0 ? `${below} or ${below + lot}` : `${lot}`;
    issues.push({
      path: 'quantity',
      message: `quantity ${quantity} is not a whole number of lots of ${lot} (${instrument.tradingsymbol}): use a multiple of ${lot}, such as ${nearest}`,
    });
    return undefined;
  }
  const freeze = freezeQuantities[instrument.name];
  if (freeze === undefined || quantity <= freeze) return [quantity];
  if (!(Number.isSafeInteger(freeze) && freeze > 0)) {
    throw new RangeError(`freeze quantity of ${instrument.name} must be a whole number above 0, got ${freeze}`);
  }
  const largest = Math.floor(freeze / lot) * lot;
  const perOrder = `at most ${largest} (${largest / lot} lots of ${lot}) in one order`;
  if (params.slice !== true) {
    issues.push({
      path: 'quantity',
      message: `quantity ${quantity} is above the exchange's freeze quantity ${freeze} for ${instrument.name}, ${perOrder}: set slice to true to place it as up to ${MAX_SLICES} orders`,
    });
    return undefined;
  }
  const needed = largest === 0 ? Number.POSITIVE_INFINITY : Math.ceil(quantity / largest);
  if (needed > MAX_SLICES) {
    issues.push({
      path: 'slice',
      message: `quantity ${quantity} needs ${needed} orders of ${perOrder} for ${instrument.name}; at most ${MAX_SLICES} slices are allowed (${largest * MAX_SLICES} in all)`,
    });
    return undefined;
  }
  const slices: number[] = [];
  for (let left = quantity; left > 0; left -= largest) slices.push(Math.min(left, largest));
  return slices;
}

/** `value` is a whole number of ticks, allowing for the binary representation of decimal prices. */
function onTick(value: number, tick: number): boolean {
  const ticks = value / tick;
  return Math.abs(ticks - Math.round(ticks)) <= 1e-9 * Math.max(1, Math.abs(ticks));
}

/** Decimal places of the tick size (0.05 → 2), to print prices on it. */
function tickDecimals(tick: number): number {
  for (let decimals = 0; decimals < 8; decimals++) {
    if (onTick(tick * 10 ** decimals, 1)) return decimals;
  }
  return 8;
}

/** Whether a price field is present, positive and on the tick; records the issue when not. */
function checkOnTick(
  path: 'price' | 'trigger_price',
  value: number | undefined,
  params: OrderRuleParams,
  tick: number,
  issues: OrderRuleIssue[],
): value is number {
  if (value === undefined) {
    const orders = path === 'price' ? 'LIMIT and SL' : 'SL and SL-M';
    issues.push({ path, message: `${path} is required for ${orders} orders (this is ${params.order_type})` });
    return false;
  }
  if (!(Number.isFinite(value) && value > 0)) {
    issues.push({ path, message: `${path} must be a price above 0, got ${value}` });
    return false;
  }
  if (!onTick(value, tick)) {
    const decimals = tickDecimals(tick);
    const below = Math.floor(value / tick) * tick;
    const near =
      below > 0 ? `${below.toFixed(decimals)} or ${(below + tick).toFixed(decimals)}` : tick.toFixed(decimals);
    issues.push({
      path,
      message: `${path} ${value} is not a multiple of the tick size ${tick}: use a price on the tick, such as ${near}`,
    });
    return false;
  }
  return true;
}

const rupees = (paise: number): string => (paise / 100).toFixed(2);

function checkPrices(
  params: OrderRuleParams,
  instrument: OrderRuleInstrument,
  referencePrice: number | undefined,
  issues: OrderRuleIssue[],
): void {
  const tick = instrument.tickSize;
  const orderType = params.order_type;
  const limited = orderType === 'LIMIT' || orderType === 'SL';
  const triggered = orderType === 'SL' || orderType === 'SL-M';
  const trigger = triggered && checkOnTick('trigger_price', params.trigger_price, params, tick, issues);
  const price = params.price;
  if (!limited || !checkOnTick('price', price, params, tick, issues)) return;
  const isOption = instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE';
  if (!isOption) return;
  let anchor: number | undefined;
  let anchorName: string;
  if (orderType === 'SL') {
    if (!trigger) return;
    anchor = params.trigger_price;
    anchorName = 'trigger price';
  } else {
    anchor = referencePrice;
    anchorName = 'reference price';
  }
  if (anchor === undefined || !(Number.isFinite(anchor) && anchor > 0)) return;
  const pricePaise = Math.round(price * 100);
  const anchorPaise = Math.round(anchor * 100);
  const band = priceBand(anchorPaise, Math.max(1, Math.round(tick * 100)));
  const buy = params.transaction_type === 'BUY';
  if (buy ? pricePaise <= band.upperPaise : pricePaise >= band.lowerPaise) return;
  const limit = buy ? `a BUY above ${rupees(band.upperPaise)}` : `a SELL below ${rupees(band.lowerPaise)}`;
  const when = orderType === 'SL' ? ', which the exchange checks when the order triggers' : '';
  issues.push({
    path: 'price',
    message: `price ${price} is outside the exchange's price band ${rupees(band.lowerPaise)}-${rupees(band.upperPaise)} around the ${anchorName} ${rupees(anchorPaise)}${when} (${limit} is rejected)`,
  });
}
