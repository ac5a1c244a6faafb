import { errors as jose } from 'jose';
import { hasRole, type RoleClaimRule, roleFromClaims } from '../../shared/auth/roles.js';
import type { Config } from '../../shared/config.js';
import type { ConnectionEvent } from '../../shared/contracts/connection-event.js';
import { ClientMessage, type ServerMessage, WsErrorText } from '../../shared/contracts/websocket.js';
import { describeError, PlatformError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConnectionStore } from '../../shared/ports/connection-store.js';
import { Channels, type TickBus } from '../../shared/ports/tick-bus.js';
import { WS_CONNECT_ROLE, type WsRouteKey } from './route-table.js';

/** The parts of an API Gateway WebSocket event the routes read. */
export interface WsEvent {
  readonly requestContext: {
    readonly routeKey: string;
    readonly connectionId: string;
    readonly eventType?: string;
    readonly requestId?: string;
  };
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly body?: string | null;
}

/** A route's answer: the status (only `$connect`'s decides anything) and the route response body. */
export interface WsResult {
  readonly statusCode: number;
  readonly body?: string;
}

/** One route as a plain function of its event. */
export type WsRoute = (event: WsEvent) => Promise<WsResult>;

/** Verifies a client's JWT; throws a `ForbiddenError` (with jose's error as cause) when it does not hold. */
export interface TokenVerifier {
  verify(token: string): Promise<{ subject: string; claims: Record<string, unknown> }>;
}

export interface WsRouteDependencies {
  readonly config: Pick<Config, 'realtime'>;
  readonly verifier: TokenVerifier;
  readonly connections: ConnectionStore;
  readonly bus: TickBus;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How a token names its role (`ROLES_CLAIM`, `DEFAULT_ROLE`); default the `roles` claim, `trader` without it. */
  readonly roles?: RoleClaimRule;
}

/** A little past API Gateway's 2-hour connection limit: the registry record outlives the connection briefly. */
const RECORD_TTL_SECONDS = 2 * 3600 + 600;

const reply = (message: ServerMessage): WsResult => ({ statusCode: 200, body: JSON.stringify(message) });
const error = (message: string): WsResult => reply({ type: 'error', message });

/** The client-facing reason for a refused token, as the plan words them (TC-WSS-002, 011, 012). */
function refusal(cause: unknown): string {
  const root = cause instanceof PlatformError ? cause.cause : cause;
  if (root instanceof jose.JWTExpired) return 'Token expired';
  if (root instanceof jose.JWSSignatureVerificationFailed) return 'Invalid token signature';
  return 'Invalid or expired token';
}

/**
 * The WebSocket API's routes (route selection `$request.body.action`) as plain functions of an
 * event, so one module serves API Gateway's Lambdas and the local gateway alike. Replies travel as
 * route responses; ticks and the `connected` greeting come from the fan-out, which is told about
 * every change on the connections channel.
 */
export function wsRoutes(deps: WsRouteDependencies): Readonly<Record<WsRouteKey, WsRoute>> {
  const { verifier, connections, bus, clock, logger } = deps;
  const notify = (event: ConnectionEvent) => bus.publish(Channels.connections, JSON.stringify(event));
  const parse = (event: WsEvent): ClientMessage | WsResult => {
    let raw: unknown;
    try {
      raw = JSON.parse(event.body ?? '');
    } catch {
      return error(WsErrorText.invalidJson);
    }
    const parsed = ClientMessage.safeParse(raw);
    if (parsed.success) return parsed.data;
    const action = (raw as { action?: unknown } | null)?.action;
    if (typeof action !== 'string' || !['subscribe', 'unsubscribe', 'ping', 'configure'].includes(action))
      return error(WsErrorText.unknownAction);
    const issue = parsed.error.issues[0];
    return error(`Invalid ${action} message: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim());
  };

  return {
    $connect: async (event) => {
      const token = event.queryStringParameters?.token;
      const connectionId = event.requestContext.connectionId;
      if (!token) return { statusCode: 401, body: JSON.stringify({ message: 'Token required' }) };
      let verified: Awaited<ReturnType<TokenVerifier['verify']>>;
      try {
        verified = await verifier.verify(token);
      } catch (cause) {
        const message = refusal(cause);
        logger.warn('WebSocket authentication failed', { security: true, reason: message, connectionId });
        return { statusCode: 403, body: JSON.stringify({ message }) };
      }
      // The route table's role for $connect; every message route needs no more (see route-table.ts).
      const role = roleFromClaims(verified.claims, deps.roles ?? { claim: 'roles', defaultRole: 'trader' });
      if (!hasRole(role, WS_CONNECT_ROLE)) {
        logger.warn('WebSocket connection refused: no role', { security: true, connectionId });
        return {
          statusCode: 403,
          body: JSON.stringify({ message: `This connection needs the ${WS_CONNECT_ROLE} role` }),
        };
      }
      const claim = (name: string) =>
        typeof verified.claims[name] === 'string' ? (verified.claims[name] as string) : null;
      const user = { user_id: verified.subject, email: claim('email'), name: claim('name') };
      const now = clock.now();
      await connections.put({
        connectionId,
        userId: user.user_id,
        email: user.email,
        name: user.name,
        tokens: [],
        delivery: 'tick',
        batchIntervalMs: null,
        connectedAt: now,
        expiresAt: Math.floor(now / 1000) + RECORD_TTL_SECONDS,
      });
      await notify({ type: 'connected', connection_id: connectionId, user });
      return { statusCode: 200 };
    },

    $disconnect: async (event) => {
      const connectionId = event.requestContext.connectionId;
      await connections.remove(connectionId);
      await notify({ type: 'disconnected', connection_id: connectionId }).catch((cause: unknown) =>
        logger.warn('Disconnect not announced', { connectionId, error: describeError(cause) }),
      );
      return { statusCode: 200 };
    },

    subscribe: async (event) => {
      const message = parse(event);
      if ('statusCode' in message) return message;
      if (message.action !== 'subscribe') return error(WsErrorText.unknownAction);
      const connectionId = event.requestContext.connectionId;
      const current = await connections.get(connectionId);
      const after = new Set([...(current?.tokens ?? []), ...message.tokens]);
      if (after.size > deps.config.realtime.maxTokensPerClient) {
        return error(`Too many tokens: at most ${deps.config.realtime.maxTokensPerClient} per connection`);
      }
      const total = await connections.addTokens(connectionId, message.tokens);
      await notify({ type: 'subscribed', connection_id: connectionId, tokens: message.tokens });
      return reply({ type: 'subscribed', tokens: message.tokens, total: total.length });
    },

    unsubscribe: async (event) => {
      const message = parse(event);
      if ('statusCode' in message) return message;
      if (message.action !== 'unsubscribe') return error(WsErrorText.unknownAction);
      const connectionId = event.requestContext.connectionId;
      const total = await connections.removeTokens(connectionId, message.tokens);
      await notify({ type: 'unsubscribed', connection_id: connectionId, tokens: message.tokens });
      return reply({ type: 'unsubscribed', tokens: message.tokens, total: total.length });
    },

    ping: async () => reply({ type: 'pong' }),

    configure: async (event) => {
      const message = parse(event);
      if ('statusCode' in message) return message;
      if (message.action !== 'configure') return error(WsErrorText.unknownAction);
      const connectionId = event.requestContext.connectionId;
      const interval =
        message.delivery === 'batch' ? (message.interval_ms ?? deps.config.realtime.batchIntervalMs) : null;
      await connections.setDelivery(connectionId, message.delivery, interval);
      await notify({
        type: 'configured',
        connection_id: connectionId,
        delivery: message.delivery,
        interval_ms: interval,
      });
      return reply({ type: 'configured', delivery: message.delivery, interval_ms: interval });
    },

    $default: async (event) => {
      const message = parse(event);
      return 'statusCode' in message ? message : error(WsErrorText.unknownAction);
    },
  };
}
