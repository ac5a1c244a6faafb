import type { Components } from '../../shared/wiring.js';
import { processComponents } from '../../shared/wiring.js';
import { type HttpLambdaHandler, type HttpUseCase, httpHandler } from './http-handler.js';

/**
 * The exported Lambda handler of a REST function. Nothing happens at import (so the CDK app and
 * the local gateway can import route modules freely); the first invocation builds the container's
 * components from the environment and the middy handler, later ones reuse them.
 */
export function lambdaHttpHandler(
  serviceName: string,
  makeUseCase: (components: Components) => HttpUseCase,
): HttpLambdaHandler {
  let built: Promise<HttpLambdaHandler> | undefined;
  return async (event, context) => {
    built ??= processComponents(serviceName).then(
      (components) => httpHandler(components.logger, makeUseCase(components)),
      (error: unknown) => {
        built = undefined;
        throw error;
      },
    );
    return (await built)(event, context);
  };
}
