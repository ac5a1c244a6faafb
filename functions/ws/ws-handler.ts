import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { jwtVerifierFromConfig, roleClaimRuleOf } from '../../shared/auth/index.js';
import { DependencyUnavailableError, describeError, TimeoutError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { Heartbeats } from '../../shared/ports/live-state-store.js';
import { type Components, processComponents } from '../../shared/wiring.js';
import { apiContext } from '../api/context.js';
import type { WsRouteKey } from './route-table.js';
import { type WsEvent, type WsResult, type WsRoute, type WsRouteDependencies, wsRoutes } from './ws-routes.js';

/** The Lambda handler type every WebSocket function exports (API Gateway WebSocket proxy integration). */
export type WsLambdaHandler = (event: WsEvent, context: Context) => Promise<WsResult>;

/** The route response a message route gives when the handler itself failed; `$connect` refuses the upgrade. */
const INTERNAL_ERROR: WsResult = {
  statusCode: 500,
  body: JSON.stringify({ type: 'error', message: 'Internal server error' }),
};

/** The answer while a dependency (Redis, DynamoDB) is down: 503, so a client knows to retry, not give up. */
const UNAVAILABLE: WsResult = {
  statusCode: 503,
  body: JSON.stringify({ type: 'error', message: 'Service temporarily unavailable: retry shortly' }),
};

/**
 * Wraps one route as a thin middy handler: the Powertools logger gets the Lambda context (every
 * line carries the request id), and a route that throws (DynamoDB or Redis unreachable) is logged
 * with its cause and answered with an `error` frame: 503 when a dependency is unreachable or timed
 * out (the client should retry), 500 otherwise. API Gateway then refuses the upgrade on `$connect`
 * and the client gets a reply it can read on a message route, instead of a bare "Internal server
 * error".
 */
export function wsHandler(logger: Logger, routeKey: WsRouteKey, route: WsRoute): WsLambdaHandler {
  return middy<WsEvent, WsResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      try {
        return await route(event);
      } catch (error) {
        logger.error('WebSocket route failed', {
          routeKey,
          connectionId: event.requestContext.connectionId,
          error: describeError(error),
        });
        return error instanceof DependencyUnavailableError || error instanceof TimeoutError
          ? UNAVAILABLE
          : INTERNAL_ERROR;
      }
    });
}

/** What the routes need, taken from a process's components: the same for a Lambda and the local gateway. */
export function wsRouteDependencies(components: Components): WsRouteDependencies {
  return {
    config: components.config,
    verifier: jwtVerifierFromConfig(components.config),
    roles: roleClaimRuleOf(components.config),
    instruments: apiContext(components).registry,
    streaming: async () => {
      // Unknown while the ingest task is away or the state unreachable: the reconciler still bounds it.
      const raw = await components.state.getHeartbeat(Heartbeats.streams).catch(() => undefined);
      return raw === undefined ? undefined : new Set(JSON.parse(raw) as number[]);
    },
    connections: components.connections,
    bus: components.bus,
    clock: components.clock,
    logger: components.logger,
  };
}

/** Every route of the table as the handler its Lambda runs, built over `components` (the local gateway's view). */
export function wsRouteHandlers(components: Components): Readonly<Record<WsRouteKey, WsLambdaHandler>> {
  const routes = wsRoutes(wsRouteDependencies(components));
  const handlers = {} as Record<WsRouteKey, WsLambdaHandler>;
  for (const key of Object.keys(routes) as WsRouteKey[]) handlers[key] = wsHandler(components.logger, key, routes[key]);
  return handlers;
}

/**
 * The exported Lambda handler of one WebSocket route. Nothing happens at import (the CDK app and
 * the tests import these modules freely); the first invocation builds the container's components
 * from the environment (a failed build is retried by the next invocation), later ones reuse them.
 */
export function lambdaWsHandler(serviceName: string, routeKey: WsRouteKey): WsLambdaHandler {
  let built: Promise<WsLambdaHandler> | undefined;
  return async (event, context) => {
    built ??= processComponents(serviceName).then(
      (components) => wsHandler(components.logger, routeKey, wsRoutes(wsRouteDependencies(components))[routeKey]),
      (error: unknown) => {
        built = undefined;
        throw error;
      },
    );
    return (await built)(event, context);
  };
}
