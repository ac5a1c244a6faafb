import { performance } from 'node:perf_hooks';
import {
  type BatchParameters,
  type GreeksColumns,
  greeksBatch,
  IV_STATUS_CODE,
  impliedVolatilityBatch,
  OPTION_KIND_CODE,
  type PricingColumns,
  priceBatch,
  priceUnchecked,
} from '../../shared/domain/greeks/index.js';
import { seededRandom, uniform } from '../../test/support/random.js';
import { createLatencyHistogram, type Scenario, type ScenarioResult, type Target } from '../scenario.js';

/** Options in the workload: a NIFTY-like book of many chains, cycled so caches do not flatter it. */
const OPTIONS = 65_536;
/** Options per batch call: one chain-sized slice, the unit a tick enrichment or candle job hands over. */
const BATCH = 512;
const PARAMETERS: BatchParameters = { model: 'black-scholes', rate: 0.1 };

/** NSE's tick size: no premium trades below it. */
const TICK = 0.05;

/**
 * Calls and puts around spot 19000: strikes ±15 % in steps of 50, 1 to 90 days, a volatility smile
 * of 10–50 %, from a fixed seed so every run solves the same book. Only tradable quotes are kept:
 * a premium and a time value of at least one tick, as a live chain has (the rest has no IV).
 */
function buildBook(): PricingColumns {
  const random = seededRandom(19_000);
  const kind = new Uint8Array(OPTIONS);
  const underlying = new Float64Array(OPTIONS);
  const strike = new Float64Array(OPTIONS);
  const timeToExpiryYears = new Float64Array(OPTIONS);
  const volatility = new Float64Array(OPTIONS);
  for (let i = 0; i < OPTIONS; ) {
    const spot = uniform(random, 18_500, 19_500);
    const moneyness = uniform(random, -0.15, 0.15);
    const option = {
      kind: random() < 0.5 ? ('CE' as const) : ('PE' as const),
      model: PARAMETERS.model,
      underlying: spot,
      strike: Math.round((spot * (1 + moneyness)) / 50) * 50,
      timeToExpiryYears: Math.ceil(uniform(random, 0, 90)) / 365,
      volatility: Math.min(0.5, 0.1 + 1.2 * moneyness * moneyness + uniform(random, 0, 0.08)),
      rate: PARAMETERS.rate,
    };
    const premium = priceUnchecked(option);
    const intrinsic = priceUnchecked({ ...option, volatility: 0 });
    if (!(premium >= TICK && premium - intrinsic >= TICK)) continue;
    kind[i] = OPTION_KIND_CODE[option.kind];
    underlying[i] = option.underlying;
    strike[i] = option.strike;
    timeToExpiryYears[i] = option.timeToExpiryYears;
    volatility[i] = option.volatility;
    i++;
  }
  return { kind, underlying, strike, timeToExpiryYears, volatility };
}

/** The columns cut into `BATCH`-sized views once, so the measured loop allocates nothing. */
function slices<T extends object>(columns: T, view: (column: Float64Array | Uint8Array, from: number) => unknown): T[] {
  const result: T[] = [];
  for (let offset = 0; offset < OPTIONS; offset += BATCH) {
    const entries = Object.entries(columns).map(([key, column]: [string, Float64Array | Uint8Array]) => [
      key,
      view(column, offset),
    ]);
    result.push(Object.fromEntries(entries) as T);
  }
  return result;
}

function batchView(column: Float64Array | Uint8Array, from: number): Float64Array | Uint8Array {
  return column.subarray(from, from + BATCH);
}

/**
 * Runs `work` over the batches round-robin for `seconds`, recording each batch's latency in µs.
 * Returns items per second over the whole loop.
 */
function measure(batches: number, work: (batch: number) => void, seconds: number): Omit<ScenarioResult, 'params'> {
  const histogramUs = createLatencyHistogram();
  let items = 0;
  let i = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    const before = now;
    work(i++ % batches);
    items += BATCH;
    now = performance.now();
    histogramUs.recordValue(Math.max(1, Math.round((now - before) * 1000)));
  }
  return { histogramUs, throughputPerS: items / ((now - start) / 1000), drops: 0 };
}

const IV_TARGET_PER_S = 3_000_000;
const PRICE_GREEKS_TARGET_PER_S = 5_000_000;

/** The Greeks issue's rates on one thread, and every tradable quote of the book solved (the Greeks API in shared/domain/greeks). */
const targets: readonly Target[] = [
  { variant: 'iv', figure: 'throughput_per_s', op: '>=', value: IV_TARGET_PER_S, source: 'Greeks issue' },
  {
    variant: 'iv',
    figure: 'non_ok_statuses',
    op: '=',
    value: 0,
    source: 'Greeks API, shared/domain/greeks (IV of every quote with time value)',
  },
  {
    variant: 'price-greeks',
    figure: 'throughput_per_s',
    op: '>=',
    value: PRICE_GREEKS_TARGET_PER_S,
    source: 'Greeks issue',
  },
];

const scenario: Scenario = {
  name: 'greeks',
  targets,
  summary:
    'Greeks engine, single thread: IV solves/s (Let’s Be Rational) and price + five Greeks/s, typed-array batches',
  async run({ quick }) {
    const seconds = quick ? 1 : 5;
    const book = buildBook();
    const premiums = new Float64Array(OPTIONS);
    priceBatch(PARAMETERS, book, premiums);
    const quotes = { ...book, price: premiums };
    const implied = new Float64Array(OPTIONS);
    const status = new Uint8Array(OPTIONS);
    const greeks: GreeksColumns = {
      price: new Float64Array(OPTIONS),
      delta: new Float64Array(OPTIONS),
      gamma: new Float64Array(OPTIONS),
      theta: new Float64Array(OPTIONS),
      vega: new Float64Array(OPTIONS),
      rho: new Float64Array(OPTIONS),
    };
    const quoteBatches = slices(quotes, batchView);
    const bookBatches = slices(book, batchView);
    const ivBatches = slices({ implied, status }, batchView);
    const greeksBatches = slices(greeks, batchView);

    const solve = (b: number) => {
      const out = ivBatches[b];
      const input = quoteBatches[b];
      if (out && input) impliedVolatilityBatch(PARAMETERS, input, out.implied, out.status);
    };
    const evaluate = (b: number) => {
      const out = greeksBatches[b];
      const input = bookBatches[b];
      if (out && input) greeksBatch(PARAMETERS, input, out);
    };

    // Warm up so the JIT has optimised both paths before the clock runs.
    measure(quoteBatches.length, solve, 0.5);
    measure(bookBatches.length, evaluate, 0.5);
    const iv = measure(quoteBatches.length, solve, seconds);
    const priceGreeks = measure(bookBatches.length, evaluate, seconds);

    // The work must also be right: every option of the book has time value and must round-trip.
    let worstRoundTrip = 0;
    let failures = 0;
    impliedVolatilityBatch(PARAMETERS, quotes, implied, status);
    for (let i = 0; i < OPTIONS; i++) {
      if (status[i] !== IV_STATUS_CODE.ok) {
        failures++;
        continue;
      }
      const sigma = book.volatility[i] ?? Number.NaN;
      worstRoundTrip = Math.max(worstRoundTrip, Math.abs((implied[i] ?? Number.NaN) - sigma) / sigma);
    }

    const params = { options: OPTIONS, batch: BATCH, model: PARAMETERS.model, seconds, threads: 1 };
    const nsPerItem = (result: { throughputPerS: number }) => Math.round((1e9 / result.throughputPerS) * 10) / 10;
    const results: ScenarioResult[] = [
      {
        variant: 'iv',
        ...iv,
        params: { ...params, work: 'impliedVolatilityBatch' },
        extra: {
          ns_per_solve: nsPerItem(iv),
          worst_round_trip_relative_error: worstRoundTrip,
          non_ok_statuses: failures,
        },
      },
      {
        variant: 'price-greeks',
        ...priceGreeks,
        params: { ...params, work: 'greeksBatch (price, delta, gamma, theta, vega, rho)' },
        extra: { ns_per_option: nsPerItem(priceGreeks) },
      },
    ];
    return results;
  },
};

export default scenario;
