import { z } from 'zod';
import { InstrumentToken } from './common.js';

/** Instrument kinds of the instrument master, as Kite names them. */
export const InstrumentType = z.enum(['CE', 'PE', 'FUT', 'EQ', 'INDEX']);
export type InstrumentType = z.infer<typeof InstrumentType>;

/** One instrument of the registry, as `GET /instruments` and `GET /instruments/{token}` return it. */
export const InstrumentResponse = z
  .object({
    instrument_token: InstrumentToken,
    tradingsymbol: z.string(),
    name: z.string(),
    exchange: z.string(),
    segment: z.string(),
    instrument_type: InstrumentType,
    strike: z.number(),
    expiry: z.iso.date().nullable(),
    lot_size: z.number(),
    tick_size: z.number(),
  })
  .meta({ id: 'Instrument' });
export type InstrumentResponse = z.infer<typeof InstrumentResponse>;

/** `GET /instruments` body: one page of matches and the cursor of the next (null on the last). */
export const InstrumentListResponse = z.object({
  instruments: z.array(InstrumentResponse),
  next_cursor: z.string().nullable(),
});
export type InstrumentListResponse = z.infer<typeof InstrumentListResponse>;
