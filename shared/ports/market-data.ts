/** An instrument from the instrument master. */
export interface Instrument {
  readonly instrumentToken: number;
  readonly tradingsymbol: string;
  /** The underlying's name, e.g. `NIFTY`. */
  readonly name: string;
  readonly exchange: string;
  readonly segment: string;
  readonly instrumentType: 'CE' | 'PE' | 'FUT' | 'EQ' | 'INDEX';
  readonly strike: number;
  /** `YYYY-MM-DD`, or null for instruments that do not expire. */
  readonly expiry: string | null;
  readonly lotSize: number;
  readonly tickSize: number;
}

/** One OHLCV candle; `date` is epoch milliseconds. */
export interface Candle {
  readonly date: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly oi: number | null;
}

/** Kite's historical intervals. */
export type CandleInterval =
  | 'minute'
  | '3minute'
  | '5minute'
  | '10minute'
  | '15minute'
  | '30minute'
  | '60minute'
  | 'day';

/**
 * Reference and historical data (Kite REST, or the deterministic mock).
 *
 * Guarantees: requests respect Kite's rate limits (callers never see a 429 the adapter could have
 * avoided); a historical range longer than the interval's limit is split transparently; failures
 * reject with typed platform errors that say whether a retry can help.
 */
export interface MarketData {
  instruments(): Promise<readonly Instrument[]>;
  historical(query: {
    instrumentToken: number;
    from: number;
    to: number;
    interval: CandleInterval;
    oi: boolean;
  }): Promise<readonly Candle[]>;
  /** Last traded prices by token. */
  lastPrices(tokens: readonly number[]): Promise<ReadonlyMap<number, number>>;
}
