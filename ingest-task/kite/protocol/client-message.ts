import type { KiteMode } from '../../../shared/contracts/tick.js';

/*
 * What a client sends Kite: `{"a":"subscribe"|"unsubscribe","v":[tokens]}` and
 * `{"a":"mode","v":[mode,[tokens]]}`, tokens as JSON numbers. The encoders are what the ticker
 * connection sends; the parser is what the Kite simulator reads.
 */

/** The client actions Kite understands. */
export const ClientAction = {
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  mode: 'mode',
} as const;
export type ClientAction = (typeof ClientAction)[keyof typeof ClientAction];

const MODES: readonly string[] = ['ltp', 'quote', 'full'] satisfies readonly KiteMode[];

/**
 * Subscribes `tokens` (Kite streams new tokens in `quote` mode until told otherwise).
 *
 * @throws RangeError when a token is not an unsigned 32-bit integer: JSON would send it as `null`.
 */
export function subscribeMessage(tokens: readonly number[]): string {
  return JSON.stringify({ a: ClientAction.subscribe, v: checkTokens(tokens) });
}

/** Stops streaming `tokens`. @throws RangeError as `subscribeMessage` does. */
export function unsubscribeMessage(tokens: readonly number[]): string {
  return JSON.stringify({ a: ClientAction.unsubscribe, v: checkTokens(tokens) });
}

/**
 * Sets the streaming mode of already subscribed `tokens`.
 *
 * @throws RangeError for a mode Kite does not know or a token that is not an unsigned 32-bit integer.
 */
export function modeMessage(mode: KiteMode, tokens: readonly number[]): string {
  if (!MODES.includes(mode)) throw new RangeError(`Unknown Kite mode: ${String(mode)}`);
  return JSON.stringify({ a: ClientAction.mode, v: [mode, checkTokens(tokens)] });
}

/** Why a client message could not be understood. */
export const InvalidClientReason = {
  notJson: 'not-json',
  unknownAction: 'unknown-action',
  badTokens: 'bad-tokens',
  badMode: 'bad-mode',
} as const;
export type InvalidClientReason = (typeof InvalidClientReason)[keyof typeof InvalidClientReason];

/** A decoded client message; broken input is a value, never an exception. */
export type KiteClientMessage =
  | { readonly action: 'subscribe' | 'unsubscribe'; readonly tokens: readonly number[] }
  | { readonly action: 'mode'; readonly mode: KiteMode; readonly tokens: readonly number[] }
  | { readonly action: 'invalid'; readonly reason: InvalidClientReason; readonly text: string };

/**
 * Decodes one client message the way Kite's server would read it: tokens must be unsigned 32-bit
 * integers given as JSON numbers, and the mode one of `ltp`, `quote`, `full`.
 */
export function parseClientMessage(text: string): KiteClientMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { action: 'invalid', reason: InvalidClientReason.notJson, text };
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return { action: 'invalid', reason: InvalidClientReason.unknownAction, text };
  }
  const { a, v } = parsed as { a?: unknown; v?: unknown };
  if (a === ClientAction.subscribe || a === ClientAction.unsubscribe) {
    return areTokens(v) ? { action: a, tokens: v } : { action: 'invalid', reason: InvalidClientReason.badTokens, text };
  }
  if (a === ClientAction.mode) {
    if (!Array.isArray(v) || v.length !== 2) return { action: 'invalid', reason: InvalidClientReason.badMode, text };
    const [mode, tokens] = v as [unknown, unknown];
    if (typeof mode !== 'string' || !MODES.includes(mode)) {
      return { action: 'invalid', reason: InvalidClientReason.badMode, text };
    }
    if (!areTokens(tokens)) return { action: 'invalid', reason: InvalidClientReason.badTokens, text };
    return { action: 'mode', mode: mode as KiteMode, tokens };
  }
  return { action: 'invalid', reason: InvalidClientReason.unknownAction, text };
}

/** Whether `value` is a valid instrument token: an unsigned 32-bit integer. */
export function isInstrumentToken(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function areTokens(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isInstrumentToken);
}

function checkTokens(tokens: readonly number[]): readonly number[] {
  for (const token of tokens) {
    if (!isInstrumentToken(token)) throw new RangeError(`Not an instrument token: ${token}`);
  }
  return tokens;
}
