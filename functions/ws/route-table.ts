import type { Role } from '../../shared/auth/roles.js';

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
  /**
   * The role the route needs, or `public` for `$disconnect` (API Gateway's notice, no credentials).
   * `$connect` checks its role against the token; a message route runs on a connection that passed
   * `$connect`, so none may need more than `$connect` does (a test holds the table to that).
   */
  readonly access: 'public' | Role;
}

/** API Gateway's route selection expression for this API. */
export const WS_ROUTE_SELECTION_EXPRESSION = '$request.body.action';

/**
 * The WebSocket route table, read by the CDK realtime stack (one function and one route per
 * entry, each message route with a `$default` route response so the handler's body reaches the
 * client) and by the local gateway (which serves exactly these route keys, through the same
 * handlers), so cloud and local routing cannot drift, with the role each route needs. This module
 * imports no code (a type only), so the CDK app can read it without loading any handler code.
 */
export const wsRouteTable = [
  { routeKey: '$connect', entry: 'functions/ws-connect.ts', access: 'viewer' },
  { routeKey: '$disconnect', entry: 'functions/ws-disconnect.ts', access: 'public' },
  { routeKey: 'subscribe', entry: 'functions/ws-subscribe.ts', access: 'viewer' },
  { routeKey: 'unsubscribe', entry: 'functions/ws-unsubscribe.ts', access: 'viewer' },
  { routeKey: 'ping', entry: 'functions/ws-ping.ts', access: 'viewer' },
  { routeKey: 'configure', entry: 'functions/ws-configure.ts', access: 'viewer' },
  { routeKey: '$default', entry: 'functions/ws-default.ts', access: 'viewer' },
] as const satisfies readonly WsRouteEntry[];

/** The role a WebSocket connection needs: `$connect`'s in the table. */
export const WS_CONNECT_ROLE: Role = connectRole(wsRouteTable);

function connectRole(table: readonly WsRouteEntry[]): Role {
  const access = table.find((r) => r.routeKey === '$connect')?.access;
  if (access === undefined || access === 'public') throw new RangeError('$connect must name the role it needs');
  return access;
}
