import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkPlaceOrder,
  MAX_SLICES,
  NSE_FREEZE_QUANTITIES,
  type OrderRuleInstrument,
  type OrderRuleParams,
  priceBand,
} from '../../../shared/domain/orders/exchange-rules.js';

/** Lot sizes of the January 2026 series on (docs/architecture.md, "Kite facts the code relies on"). */
const nifty: OrderRuleInstrument = {
  tradingsymbol: 'NIFTY26FEB24000CE',
  name: 'NIFTY',
  instrumentType: 'CE',
  lotSize: 65,
  tickSize: 0.05,
};
const bankNifty: OrderRuleInstrument = {
  tradingsymbol: 'BANKNIFTY26FEB52000PE',
  name: 'BANKNIFTY',
  instrumentType: 'PE',
  lotSize: 30,
  tickSize: 0.05,
};

const limit = (price: number, extra: Partial<OrderRuleParams> = {}): OrderRuleParams => ({
  transaction_type: 'BUY',
  order_type: 'LIMIT',
  quantity: 65,
  price,
  ...extra,
});
const market = (extra: Partial<OrderRuleParams> = {}): OrderRuleParams => ({
  transaction_type: 'BUY',
  order_type: 'MARKET',
  quantity: 65,
  ...extra,
});

function issuesOf(result: ReturnType<typeof checkPlaceOrder>) {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  return result.issues;
}

describe('checkPlaceOrder: market protection', () => {
  it('gives MARKET and SL-M orders without market_protection the broker’s automatic band (-1)', () => {
    expect(checkPlaceOrder(market(), nifty, 100)).toEqual({ ok: true, marketProtection: -1, slices: [65] });
    expect(checkPlaceOrder(market({ order_type: 'SL-M', trigger_price: 90 }), nifty, 100)).toEqual({
      ok: true,
      marketProtection: -1,
      slices: [65],
    });
  });

  it('keeps a percentage above 0 up to 100, decimals included, and -1', () => {
    for (const value of [-1, 0.5, 1, 2.5, 100]) {
      expect(checkPlaceOrder(market({ market_protection: value }), nifty, 100)).toMatchObject({
        ok: true,
        marketProtection: value,
      });
    }
  });

  it('refuses 0, which the exchange rejects, naming the field', () => {
    expect(issuesOf(checkPlaceOrder(market({ market_protection: 0 }), nifty, 100))).toEqual([
      {
        path: 'market_protection',
        message: expect.stringContaining('market_protection 0 is rejected by the exchange'),
      },
    ]);
  });

  it('refuses values outside -1 and (0, 100]', () => {
    for (const value of [-2, -0.5, 100.01, 250, Number.NaN, Number.POSITIVE_INFINITY]) {
      const issues = issuesOf(checkPlaceOrder(market({ market_protection: value }), nifty, 100));
      expect(issues).toEqual([{ path: 'market_protection', message: expect.stringContaining(`got ${value}`) }]);
    }
  });

  it('needs none on LIMIT and SL orders and refuses one given to them', () => {
    expect(checkPlaceOrder(limit(100), nifty, 100)).toEqual({ ok: true, marketProtection: undefined, slices: [65] });
    expect(checkPlaceOrder(limit(100, { order_type: 'SL', trigger_price: 99 }), nifty, 100)).toMatchObject({
      ok: true,
      marketProtection: undefined,
    });
    expect(issuesOf(checkPlaceOrder(limit(100, { market_protection: 5 }), nifty, 100))).toEqual([
      { path: 'market_protection', message: expect.stringContaining('only to MARKET and SL-M') },
    ]);
  });
});

describe('checkPlaceOrder: lots and freeze quantity', () => {
  it('refuses a quantity that is not a whole number of lots, suggesting the nearest ones', () => {
    expect(issuesOf(checkPlaceOrder(market({ quantity: 100 }), nifty, 100))).toEqual([
      {
        path: 'quantity',
        message:
          'quantity 100 is not a whole number of lots of 65 (NIFTY26FEB24000CE): use a multiple of 65, such as 65 or 130',
      },
    ]);
    expect(issuesOf(checkPlaceOrder(market({ quantity: 20 }), bankNifty, 100))[0]?.message).toContain('such as 30');
  });

  it('refuses a quantity that is not a whole number above 0', () => {
    for (const quantity of [0, -65, 65.5, Number.NaN]) {
      expect(issuesOf(checkPlaceOrder(market({ quantity }), nifty, 100))).toEqual([
        { path: 'quantity', message: `quantity must be a whole number above 0, got ${quantity}` },
      ]);
    }
  });

  it('places up to the freeze quantity as one order: 1,755 (27 lots) for NIFTY, 600 (20 lots) for BANKNIFTY', () => {
    expect(checkPlaceOrder(market({ quantity: 1755 }), nifty, 100)).toMatchObject({ ok: true, slices: [1755] });
    expect(checkPlaceOrder(market({ quantity: 600 }), bankNifty, 100)).toMatchObject({ ok: true, slices: [600] });
  });

  it('refuses a quantity above the freeze quantity unless slicing is asked for', () => {
    expect(issuesOf(checkPlaceOrder(market({ quantity: 1820 }), nifty, 100))).toEqual([
      {
        path: 'quantity',
        message:
          "quantity 1820 is above the exchange's freeze quantity 1800 for NIFTY, at most 1755 (27 lots of 65) in one order: set slice to true to place it as up to 10 orders",
      },
    ]);
    expect(issuesOf(checkPlaceOrder(market({ quantity: 630, slice: false }), bankNifty, 100))[0]?.path).toBe(
      'quantity',
    );
  });

  it('slices into full orders of the largest lot multiple within the freeze quantity and a remainder', () => {
    expect(checkPlaceOrder(market({ quantity: 1820, slice: true }), nifty, 100)).toEqual({
      ok: true,
      marketProtection: -1,
      slices: [1755, 65],
    });
    expect(checkPlaceOrder(market({ quantity: 1800, slice: true }), bankNifty, 100)).toMatchObject({
      slices: [600, 600, 600],
    });
    expect(checkPlaceOrder(market({ quantity: 65, slice: true }), nifty, 100)).toMatchObject({ slices: [65] });
  });

  it('takes exactly 10 slices and refuses on `slice` when more would be needed', () => {
    expect(checkPlaceOrder(market({ quantity: 6000, slice: true }), bankNifty, 100)).toMatchObject({
      ok: true,
      slices: Array(10).fill(600),
    });
    expect(issuesOf(checkPlaceOrder(market({ quantity: 6030, slice: true }), bankNifty, 100))).toEqual([
      {
        path: 'slice',
        message:
          'quantity 6030 needs 11 orders of at most 600 (20 lots of 30) in one order for BANKNIFTY; at most 10 slices are allowed (6000 in all)',
      },
    ]);
  });

  it('lets the caller replace the freeze table, and does not limit an underlying it does not list', () => {
    const revised = { ...NSE_FREEZE_QUANTITIES, BANKNIFTY: 900 };
    expect(checkPlaceOrder(market({ quantity: 900 }), bankNifty, 100, revised)).toMatchObject({ slices: [900] });
    expect(checkPlaceOrder(market({ quantity: 900 }), bankNifty, 100)).toMatchObject({ ok: false });
    const sensex = { ...nifty, name: 'SENSEX', lotSize: 20 };
    expect(checkPlaceOrder(market({ quantity: 20_000 }), sensex, 100)).toMatchObject({ slices: [20_000] });
  });

  it('holds every slicing to its promises: sum, lot multiples, freeze, at most 10, refused exactly when more are needed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 3000 }),
        (lotSize, freeze, lots) => {
          const instrument = { ...nifty, lotSize };
          const quantity = lots * lotSize;
          const result = checkPlaceOrder(market({ quantity, slice: true }), instrument, 100, { NIFTY: freeze });
          const largest = Math.floor(freeze / lotSize) * lotSize;
          const needed =
            quantity <= freeze ? 1 : largest === 0 ? Number.POSITIVE_INFINITY : Math.ceil(quantity / largest);
          if (needed > MAX_SLICES) {
            expect(result).toMatchObject({ ok: false, issues: [{ path: 'slice' }] });
            return;
          }
          if (!result.ok) throw new Error(JSON.stringify(result));
          expect(result.slices.reduce((a, b) => a + b, 0)).toBe(quantity);
          expect(result.slices).toHaveLength(needed);
          for (const slice of result.slices) {
            expect(slice % lotSize).toBe(0);
            expect(slice).toBeGreaterThan(0);
            expect(slice).toBeLessThanOrEqual(Math.max(freeze, quantity <= freeze ? quantity : 0));
          }
        },
      ),
    );
  });
});

describe('checkPlaceOrder: prices', () => {
  it('refuses a LIMIT price above the band for a BUY and below it for a SELL, stating the band', () => {
    expect(issuesOf(checkPlaceOrder(limit(180), nifty, 100))).toEqual([
      {
        path: 'price',
        message:
          "price 180 is outside the exchange's price band 60.00-140.00 around the reference price 100.00 (a BUY above 140.00 is rejected)",
      },
    ]);
    expect(issuesOf(checkPlaceOrder(limit(59.95, { transaction_type: 'SELL' }), nifty, 100))).toEqual([
      {
        path: 'price',
        message:
          "price 59.95 is outside the exchange's price band 60.00-140.00 around the reference price 100.00 (a SELL below 60.00 is rejected)",
      },
    ]);
  });

  it('accepts the band’s ends, and a passive price beyond the other end (a low BUY, a high SELL)', () => {
    for (const [side, price] of [
      ['BUY', 140],
      ['BUY', 60],
      ['BUY', 10],
      ['SELL', 60],
      ['SELL', 140],
      ['SELL', 500],
    ] as const) {
      expect(checkPlaceOrder(limit(price, { transaction_type: side }), nifty, 100), `${side} ${price}`).toMatchObject({
        ok: true,
      });
    }
  });

  it('uses ±₹20 at or below a ₹50 reference, the lower end never below one tick', () => {
    expect(priceBand(5000, 5)).toEqual({ lowerPaise: 3000, upperPaise: 7000 });
    expect(priceBand(5005, 5)).toEqual({ lowerPaise: 3003, upperPaise: 7007 });
    expect(priceBand(1200, 5)).toEqual({ lowerPaise: 5, upperPaise: 3200 });
    expect(issuesOf(checkPlaceOrder(limit(32.05), nifty, 12))[0]?.message).toContain('band 0.05-32.00');
    expect(checkPlaceOrder(limit(0.05, { transaction_type: 'SELL' }), nifty, 12)).toMatchObject({ ok: true });
    expect(checkPlaceOrder(limit(70, { transaction_type: 'BUY' }), nifty, 50)).toMatchObject({ ok: true });
    expect(checkPlaceOrder(limit(70.05, { transaction_type: 'BUY' }), nifty, 50)).toMatchObject({ ok: false });
  });

  it('checks an SL price against the band around its trigger price, where the exchange will check it', () => {
    const stop = (price: number, trigger: number, side: 'BUY' | 'SELL') =>
      limit(price, { order_type: 'SL', trigger_price: trigger, transaction_type: side });
    // A stop-loss sell far below today's price is fine: it is checked when it triggers.
    expect(checkPlaceOrder(stop(30, 40, 'SELL'), nifty, 100)).toMatchObject({ ok: true });
    expect(issuesOf(checkPlaceOrder(stop(150, 100, 'BUY'), nifty, 20))).toEqual([
      {
        path: 'price',
        message:
          "price 150 is outside the exchange's price band 60.00-140.00 around the trigger price 100.00, which the exchange checks when the order triggers (a BUY above 140.00 is rejected)",
      },
    ]);
  });

  it('skips the LIMIT band without a usable reference price, and for instruments that are not options', () => {
    for (const reference of [undefined, 0, Number.NaN]) {
      expect(checkPlaceOrder(limit(1000), nifty, reference)).toMatchObject({ ok: true });
    }
    expect(checkPlaceOrder(limit(1000), { ...nifty, instrumentType: 'FUT' }, 100)).toMatchObject({ ok: true });
  });

  it('refuses prices and trigger prices off the tick, suggesting the nearest ticks', () => {
    expect(issuesOf(checkPlaceOrder(limit(100.03), nifty, 100))).toEqual([
      {
        path: 'price',
        message:
          'price 100.03 is not a multiple of the tick size 0.05: use a price on the tick, such as 100.00 or 100.05',
      },
    ]);
    expect(issuesOf(checkPlaceOrder(market({ order_type: 'SL-M', trigger_price: 90.01 }), nifty, 100))).toEqual([
      { path: 'trigger_price', message: expect.stringContaining('trigger_price 90.01 is not a multiple') },
    ]);
    for (const price of [0.05, 0.1, 0.15, 0.3, 0.7, 1.1, 99.95, 100.05, 24_150.35]) {
      expect(checkPlaceOrder(limit(price), nifty, undefined), String(price)).toMatchObject({ ok: true });
    }
  });

  it('accepts every price on the tick and refuses every price off it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000_000 }), fc.integer({ min: 1, max: 4 }), (ticks, offPaise) => {
        const onTick = (ticks * 5) / 100;
        expect(checkPlaceOrder(limit(onTick), nifty, undefined).ok).toBe(true);
        const off = (ticks * 5 + offPaise) / 100;
        expect(issuesOf(checkPlaceOrder(limit(off), nifty, undefined))[0]?.path).toBe('price');
      }),
    );
  });

  it('refuses a BUY exactly when its price in paise is above the band, for any reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 5_000_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        (refPaise, ticks) => {
          const price = (ticks * 5) / 100;
          const reference = refPaise / 100;
          const upper = refPaise > 5000 ? (refPaise * 1.4) / 100 : reference + 20;
          const result = checkPlaceOrder(limit(price), nifty, reference);
          // Paise are whole numbers: away from the edge (where floats blur) the answer must match.
          if (Math.abs(price - upper) > 1e-6) expect(result.ok).toBe(price <= upper);
        },
      ),
    );
  });

  it('names every field that is wrong at once', () => {
    const result = checkPlaceOrder(
      { transaction_type: 'BUY', order_type: 'SL', quantity: 70, market_protection: 0 },
      nifty,
      100,
    );
    expect(issuesOf(result).map((issue) => issue.path)).toEqual([
      'market_protection',
      'quantity',
      'trigger_price',
      'price',
    ]);
  });

  it('throws a RangeError for an instrument whose lot or tick size cannot be right', () => {
    expect(() => checkPlaceOrder(market(), { ...nifty, lotSize: 0 }, 100)).toThrow(RangeError);
    expect(() => checkPlaceOrder(market(), { ...nifty, tickSize: Number.NaN }, 100)).toThrow(RangeError);
  });
});
