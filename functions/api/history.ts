import { z } from 'zod';
import type { HistoryCandle, HistoryResponse } from '../../shared/contracts/history.js';
import { MAX_DAYS_PER_REQUEST } from '../../shared/domain/kite/historical-range.js';
import { historyWithGreeks } from '../../shared/domain/market/history-with-greeks.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import type { Candle, CandleInterval } from '../../shared/ports/market-data.js';
import type { Components } from '../../shared/wiring.js';
import { apiContext } from './context.js';
import type { ProtectedUseCase } from './protected.js';
import { parseQuery } from './request.js';
import { TokenParam } from './schemas.js';

const IST_OFFSET_MS = 5.5 * 3_600_000;
const DAY_MS = 86_400_000;
/** Earliest date history is served from: Kite's intraday archive does not reach further. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A point in time as a query parameter, with whether it named a whole day. */
interface TimeParam {
  readonly ms: number;
  readonly dateOnly: boolean;
}

function istInstant(parts: RegExpExecArray): number | undefined {
  const [y, mo, d, h = '0', mi = '0', s = '0'] = parts.slice(1).map((p) => p ?? '0');
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return ms - IST_OFFSET_MS;
}

/**
 * `from` / `to`: `YYYY-MM-DD` (a whole day in IST), `YYYY-MM-DD HH:mm[:ss]` (IST, as Kite writes
 * it) or an ISO 8601 timestamp with a zone (`Z`, `+05:30`).
 */
const TimeQueryParam = z
  .string()
  .max(40)
  .transform((value, ctx): TimeParam => {
    const dateOnly = DATE_ONLY.exec(value);
    const local = dateOnly ?? LOCAL_DATE_TIME.exec(value);
    let ms: number | undefined;
    if (local !== null) ms = istInstant(local);
    else if (z.iso.datetime({ offset: true }).safeParse(value).success) ms = Date.parse(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < EARLIEST_MS || ms > Date.UTC(2100, 0, 1)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a date (YYYY-MM-DD), an IST time (YYYY-MM-DD HH:mm:ss) or an ISO 8601 timestamp with a zone',
      });
      return z.NEVER;
    }
    return { ms, dateOnly: dateOnly !== null };
  })
  .meta({
    description: 'YYYY-MM-DD (IST day), YYYY-MM-DD HH:mm:ss (IST) or ISO 8601 with zone',
    example: '2026-11-23',
  });

const Interval = z.enum(['minute', '3minute', '5minute', '10minute', '15minute', '30minute', '60minute', 'day']);

/** `GET /history` query. */
export const HistoryQuery = z.object({
  instrument_token: TokenParam,
  from: TimeQueryParam,
  to: TimeQueryParam,
  interval: Interval.default('minute').meta({ description: 'Candle interval (default minute)' }),
  greeks: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true')
    .meta({ description: 'Attach delta, gamma, theta and vega to option candles' }),
});

/**
 * `GET /history?instrument_token=&from=&to=&interval=&greeks=true` (TC-REG-003): candles from the
 * `MarketData` port (Kite, or the mock history), with Greeks on option candles when asked. The
 * underlying's series is fetched once for the whole range (`historyWithGreeks`), never per candle.
 * Ranges are bounded by Kite's per-request limits for the interval, so one call's cost is bounded.
 */
export function historyUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger }) => {
    const query = parseQuery(event, HistoryQuery);
    const from = query.from.ms;
    // A bare date as `to` means the whole of that day.
    const to = query.to.dateOnly ? query.to.ms + DAY_MS - 1 : query.to.ms;
    const interval: CandleInterval = query.interval;
    if (to < from) {
      throw new ValidationError('Invalid query parameters: to is before from', [
        { path: 'to', message: 'must not be before from' },
      ]);
    }
    const maxDays = MAX_DAYS_PER_REQUEST[interval];
    if (to - from >= maxDays * DAY_MS) {
      throw new ValidationError(`Invalid query parameters: ${interval} history spans at most ${maxDays} days`, [
        { path: 'to', message: `must be less than ${maxDays} days after from for interval ${interval}` },
      ]);
    }
    const { registry } = apiContext(components);
    const instrument = await registry.get(query.instrument_token);
    if (instrument === undefined) {
      throw new NotFoundError(`Instrument ${query.instrument_token} is not in the instrument registry`);
    }
    const isOption =
      (instrument.instrumentType === 'CE' || instrument.instrumentType === 'PE') && instrument.expiry !== null;
    const underlying = query.greeks && isOption ? await registry.underlyingOf(instrument) : undefined;
    let candles: HistoryCandle[];
    if (underlying !== undefined) {
      const { config } = components;
      const enriched = await historyWithGreeks(components.marketData, {
        instrument,
        underlyingToken: underlying.instrumentToken,
        from,
        to,
        interval,
        pricing: {
          model: config.pricing.model,
          rate: config.pricing.riskFreeRate,
          dividendYield: config.pricing.dividendYield,
        },
      });
      for (const warning of enriched.warnings)
        logger.warn(warning.message, { code: warning.code, count: warning.count });
      candles = enriched.candles;
    } else {
      const raw = await components.marketData.historical({
        instrumentToken: instrument.instrumentToken,
        from,
        to,
        interval,
        oi: instrument.instrumentType !== 'INDEX',
      });
      candles = raw.map(withoutGreeks);
    }
    const body: HistoryResponse = { candles };
    return { status: 200, body };
  };
}

function withoutGreeks(candle: Candle): HistoryCandle {
  return {
    date: new Date(candle.date).toISOString(),
    open: candle.open,
    high: candle.high,
    low: candle.low,
    close: candle.close,
    volume: candle.volume,
    oi: candle.oi,
    greeks: null,
  };
}
