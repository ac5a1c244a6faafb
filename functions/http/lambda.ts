import { processComponents } from '../../shared/wiring.js';
import { httpRoute, type RouteKey, routeUseCase } from '../routes.js';
import { type HttpLambdaHandler, httpHandler } from './http-handler.js';

/**
 * The exported Lambda handler of the REST route `key` of the route table, guarded as the table says
 * (its role checked by `routeUseCase`, as the local gateway does). Nothing happens at import (so
 * the CDK app and the local gateway can import route modules freely, and the route table may
 * import this module's users); the first invocation finds the route and builds the container's
 * components from the environment and the middy handler, later ones reuse them.
 */
export function lambdaHttpHandler(serviceName: string, key: RouteKey): HttpLambdaHandler {
  let built: Promise<HttpLambdaHandler> | undefined;
  return async (event, context) => {
    built ??= processComponents(serviceName).then(
      (components) => httpHandler(components.logger, routeUseCase(components, httpRoute(key))),
      (error: unknown) => {
        built = undefined;
        throw error;
      },
    );
    return (await built)(event, context);
  };
}
