/**
 * The WebSocket API's route keys. API Gateway selects a route by `$request.body.action`; `$connect`
 * and `$disconnect` are its lifecycle routes and `$default` takes every message whose action names
 * no route (invalid JSON included).
 */
export type WsRouteKey = '$connect' | '$disconnect' | 'subscribe' | 'unsubscribe' | 'ping' | 'configure' | '$default';

/** One WebSocket route: the route key and the function module (relative to the project root) that serves it. */
export interface WsRouteEntry {
  readonly routeKey: WsRouteKey;
  /** The Lambda's module; it exports `handler`. */
  readonly entry: string;
}

/** API Gateway's route selection expression for this API. */
export const WS_ROUTE_SELECTION_EXPRESSION = '$request.body.action';

/**
 * The WebSocket route table, read by the CDK realtime stack (one function and one route per
 * entry, each message route with a `$default` route response so the handler's body reaches the
 * client) and by the local gateway (which serves exactly these route keys, through the same
 * handlers), so cloud and local routing cannot drift. This module imports nothing, so the CDK app
 * can read it without loading any handler code.
 */
export const wsRouteTable = [
  { routeKey: '$connect', entry: 'functions/ws-connect.ts' },
  { routeKey: '$disconnect', entry: 'functions/ws-disconnect.ts' },
  { routeKey: 'subscribe', entry: 'functions/ws-subscribe.ts' },
  { routeKey: 'unsubscribe', entry: 'functions/ws-unsubscribe.ts' },
  { routeKey: 'ping', entry: 'functions/ws-ping.ts' },
  { routeKey: 'configure', entry: 'functions/ws-configure.ts' },
  { routeKey: '$default', entry: 'functions/ws-default.ts' },
] as const satisfies readonly WsRouteEntry[];
