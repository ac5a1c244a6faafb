/**
 * The option tick text the fan-out benchmark's generator publishes (the pipeline's field order,
 * shortened), shared with the clients process that reads it back.
 */

/** Where the clients find each tick's send time; it is the last field of a tick. */
export const RECEIVED_AT = '"received_at_ms":';

/** Every field of a generated tick after its price, up to and including the {@link RECEIVED_AT} key. */
export const TAIL_BEFORE_TIME =
  ',"volume":125000,"oi":2500000,"delta":0.5123,"gamma":0.00041,"theta":-12.75,"vega":18.4,"timestamp":"2026-11-24T09:15:00.000Z","is_mock":false,"rho":3.2,"iv":0.1412,"iv_status":"ok","underlying":"NIFTY","underlying_price":24010.5,"expiry":"2026-12-29","option_type":"CE","received_at_ms":';

/**
 * How far past one tick's {@link RECEIVED_AT} the next one starts at the earliest: the next tick's
 * tail (which ends with the key) begins after this one's value, so a scan can skip that much.
 */
export const MIN_TICK_GAP_BYTES = TAIL_BEFORE_TIME.length;
