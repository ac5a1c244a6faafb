import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * The Lambda `Context` a function gets when this machine runs it (the local gateways and the local
 * SQS event source): the same fields the Lambda runtime fills, with a fresh request id, 30 s left
 * and no-op callbacks.
 */
export function localLambdaContext(
  functionName: string,
  options: { readonly requestId?: string; readonly region?: string } = {},
): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${options.region ?? 'local'}:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: options.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
