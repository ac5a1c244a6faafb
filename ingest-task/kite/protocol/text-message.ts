/*
 * Kite's text frames, `{"type":"order"|"error"|"message","data":…}`: order postbacks, error strings
 * and broker alerts, interleaved with the binary tick frames on the same socket.
 */

/** The text frame types Kite sends. */
export const KiteTextMessageType = {
  /** An order postback: `data` is the order as Kite's postback API would post it. */
  order: 'order',
  /** An error from the streaming server (e.g. a subscription limit); `data` is the error text. */
  error: 'error',
  /** A message or alert from the broker; `data` is the text. */
  message: 'message',
} as const;
export type KiteTextMessageType = (typeof KiteTextMessageType)[keyof typeof KiteTextMessageType];

/** Why a text frame could not be understood. */
export const InvalidTextReason = {
  notJson: 'not-json',
  notAnObject: 'not-an-object',
  unknownType: 'unknown-type',
  badData: 'bad-data',
} as const;
export type InvalidTextReason = (typeof InvalidTextReason)[keyof typeof InvalidTextReason];

/**
 * An order postback's payload: Kite's order fields in its snake_case spelling (`order_id`, `status`,
 * `tradingsymbol`, …). Left as a record because the consumer, not the protocol layer, decides which
 * fields it trusts.
 */
export type KiteOrderUpdate = Readonly<Record<string, unknown>>;

/**
 * A decoded text frame. Unknown or broken input is a value (`invalid`), not an exception, so one bad
 * frame from the feed cannot end the stream; `text` keeps the original for the log.
 */
export type KiteTextMessage =
  | { readonly type: 'order'; readonly data: KiteOrderUpdate }
  | { readonly type: 'error'; readonly data: string }
  | { readonly type: 'message'; readonly data: string }
  | { readonly type: 'invalid'; readonly reason: InvalidTextReason; readonly text: string };

const decoder = new TextDecoder();

/**
 * Decodes one text frame. Never throws. `error` and `message` data that is not a string (Kite sends
 * strings) is kept as its JSON text rather than dropped: an error the feed reports should reach the
 * log whatever its shape. Order data must be an object.
 */
export function parseTextMessage(input: string | Uint8Array): KiteTextMessage {
  const text = typeof input === 'string' ? input : decoder.decode(input);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { type: 'invalid', reason: InvalidTextReason.notJson, text };
  }
  if (!isRecord(parsed)) return { type: 'invalid', reason: InvalidTextReason.notAnObject, text };
  const data = parsed.data;
  switch (parsed.type) {
    case KiteTextMessageType.order:
      return isRecord(data) ? { type: 'order', data } : { type: 'invalid', reason: InvalidTextReason.badData, text };
    case KiteTextMessageType.error:
    case KiteTextMessageType.message:
      return { type: parsed.type, data: typeof data === 'string' ? data : (JSON.stringify(data) ?? '') };
    default:
      return { type: 'invalid', reason: InvalidTextReason.unknownType, text };
  }
}

/** Encodes a text frame as Kite sends it (used by the simulator). */
export function encodeTextMessage(
  message:
    | { readonly type: 'order'; readonly data: KiteOrderUpdate }
    | { readonly type: 'error' | 'message'; readonly data: string },
): string {
  return JSON.stringify({ type: message.type, data: message.data });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
