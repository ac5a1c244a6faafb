import { z } from 'zod';
import { InstrumentToken } from './common.js';
import { TickPayload } from './tick.js';

/** Most tokens one `GET /quotes` may ask for. */
export const MAX_QUOTE_TOKENS = 500;

/** `GET /quotes`: the latest tick of each token asked for that has one, in the order asked. */
export const QuotesResponse = z.object({
  quotes: z.array(TickPayload).meta({ description: 'Latest tick with Greeks and IV, one per token that has one' }),
  missing: z.array(InstrumentToken).meta({
    description: 'Tokens asked for with no tick yet: listed but not streamed, or not streamed since the start',
  }),
});
export type QuotesResponse = z.infer<typeof QuotesResponse>;

/** One strike of a chain: the latest call and put (null where there is no tick yet). */
export const ChainStrike = z.object({
  strike: z.number(),
  CE: TickPayload.nullable(),
  PE: TickPayload.nullable(),
});
export type ChainStrike = z.infer<typeof ChainStrike>;

/** `GET /chain`: every strike of one underlying and expiry, with what the Greeks were priced on. */
export const ChainResponse = z.object({
  underlying: z.string(),
  expiry: z.iso.date(),
  /** Every expiry the registry lists for the underlying, nearest first. */
  expiries: z.array(z.iso.date()),
  underlying_price: z.number().nullable().meta({ description: "The underlying's price on the newest tick" }),
  forward: z
    .number()
    .nullable()
    .meta({ description: 'The forward the model prices on: the underlying price for black-76, S·e^((r−q)·T) else' }),
  atm_strike: z.number().nullable().meta({ description: 'The listed strike nearest the forward' }),
  time_to_expiry_years: z.number().meta({ description: '365-day years to 15:30 IST on the expiry date' }),
  rate: z.number(),
  model: z.enum(['black-scholes', 'black-76']),
  strikes: z.array(ChainStrike),
});
export type ChainResponse = z.infer<typeof ChainResponse>;
