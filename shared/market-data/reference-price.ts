import type { LiveStateStore } from '../ports/live-state-store.js';

/**
 * The price the exchange bands a limit order of `token` around, as well as the platform knows it:
 * the 30-s average trade price the ingest task writes once a second; when there is none (no trade
 * in the last 30 s, or the ingest task is not writing), the last price of the latest tick, as the
 * exchange also keeps the last reference of a contract that stopped trading; undefined when the
 * token is not streamed at all, or has never traded (a last price of 0), and no band can be
 * checked. Both reads go out together, so the fallback costs no extra round trip.
 */
export async function referencePriceOf(
  state: Pick<LiveStateStore, 'getReferencePrices' | 'getLatest'>,
  token: number,
): Promise<number | undefined> {
  const [references, latest] = await Promise.all([state.getReferencePrices([token]), state.getLatest([token])]);
  const reference = references.get(token);
  if (reference !== undefined) return reference;
  const text = latest.get(token);
  return text === undefined ? undefined : lastPriceOf(text);
}

/** `last_price` of an encoded tick when it is a positive number; undefined for anything else. */
function lastPriceOf(text: string): number | undefined {
  let tick: unknown;
  try {
    tick = JSON.parse(text);
  } catch {
    return undefined;
  }
  const price = typeof tick === 'object' && tick !== null ? (tick as { last_price?: unknown }).last_price : undefined;
  return typeof price === 'number' && Number.isFinite(price) && price > 0 ? price : undefined;
}
