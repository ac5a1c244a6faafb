import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { errorResponse } from './errors.js';

/** What a use case answers: a status and a JSON body. */
export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A REST use case behind API Gateway's HTTP API (payload format 2.0). */
export type HttpUseCase = (
  event: APIGatewayProxyEventV2,
  context: {
    logger: Logger;
    requestId: string;
    /** Milliseconds the invocation has left (Lambda's `getRemainingTimeInMillis`), so long work can stop in time. */
    remainingTimeMs?: () => number;
  },
) => Promise<HttpResult>;

/** The Lambda handler type every REST function exports. */
export type HttpLambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Wraps a use case as a thin middy handler: the Powertools logger gets the Lambda context (every
 * line carries the request id), the result is serialised as JSON, and every thrown error becomes
 * the one error shape `{"error":{code,message,details}}` with its status. Bad input is a 4xx by
 * construction (use cases throw `ValidationError`); only our own faults become a logged 500.
 */
export function httpHandler(logger: Logger, useCase: HttpUseCase): HttpLambdaHandler {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event, context) => {
      const requestId = event.requestContext?.requestId ?? context.awsRequestId;
      try {
        const result = await useCase(event, {
          logger,
          requestId,
          // A caller that builds its own context (a test) may not have the method.
          ...(typeof context.getRemainingTimeInMillis === 'function' && {
            remainingTimeMs: () => context.getRemainingTimeInMillis(),
          }),
        });
        return json(result.status, result.body, result.headers);
      } catch (error) {
        const { status, body, headers } = errorResponse(error, requestId);
        if (status >= 500) logger.error('Request failed', { requestId, status, error: describeError(error) });
        else logger.info('Request rejected', { requestId, status, code: body.error.code });
        return json(status, body, headers);
      }
    });
}

function json(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}
