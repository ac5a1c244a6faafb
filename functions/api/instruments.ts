import type { InstrumentListResponse, InstrumentResponse } from '../../shared/contracts/instrument.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { Components } from '../../shared/wiring.js';
import { apiContext } from './context.js';
import type { ProtectedUseCase } from './protected.js';
import { parsePath, parseQuery } from './request.js';
import { ListInstrumentsQuery, TokenPath } from './schemas.js';
import { DEFAULT_PAGE_SIZE } from './subscriptions.js';

/** The REST shape of a registry instrument. */
export function toInstrumentResponse(i: Instrument): InstrumentResponse {
  return {
    instrument_token: i.instrumentToken,
    tradingsymbol: i.tradingsymbol,
    name: i.name,
    exchange: i.exchange,
    segment: i.segment,
    instrument_type: i.instrumentType,
    strike: i.strike,
    expiry: i.expiry,
    lot_size: i.lotSize,
    tick_size: i.tickSize,
  };
}

/**
 * Instrument-list cursors: base64url of `o<offset>`. Offsets into the registry's order are stable
 * while the registry is (it reloads at most daily), which is as long as a listing lasts.
 */
function encodeCursor(offset: number): string {
  return Buffer.from(`o${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^o(\d{1,9})$/.exec(text);
  if (match === null || encodeCursor(Number(match[1])) !== cursor) {
    throw new ValidationError('Invalid cursor', [{ path: 'cursor', message: 'not a cursor this API issued' }]);
  }
  return Number(match[1]);
}

/** `GET /instruments?q=&underlying=&expiry=&type=&limit=&cursor=`: the registry, filtered and paged. */
export function listInstrumentsUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const query = parseQuery(event, ListInstrumentsQuery);
    const all = await apiContext(components).registry.all();
    const q = query.q?.trim().toUpperCase();
    const underlying = query.underlying?.trim().toUpperCase();
    const start = query.cursor === undefined ? 0 : decodeCursor(query.cursor);
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const page: InstrumentResponse[] = [];
    let next: number | undefined;
    let matched = 0;
    for (const instrument of all) {
      if (q !== undefined && q !== '' && !instrument.tradingsymbol.toUpperCase().includes(q)) continue;
      if (underlying !== undefined && underlying !== '' && instrument.name.toUpperCase() !== underlying) continue;
      if (query.expiry !== undefined && instrument.expiry !== query.expiry) continue;
      if (query.type !== undefined && instrument.instrumentType !== query.type) continue;
      if (matched++ < start) continue;
      if (page.length === limit) {
        next = start + limit;
        break;
      }
      page.push(toInstrumentResponse(instrument));
    }
    const body: InstrumentListResponse = {
      instruments: page,
      next_cursor: next === undefined ? null : encodeCursor(next),
    };
    return { status: 200, body };
  };
}

/** `GET /instruments/{token}`: one instrument, 404 when the registry does not list it. */
export function getInstrumentUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const { token } = parsePath(event, TokenPath);
    const instrument = await apiContext(components).registry.get(token);
    if (instrument === undefined) throw new NotFoundError(`Instrument ${token} is not in the instrument registry`);
    return { status: 200, body: toInstrumentResponse(instrument) };
  };
}
