import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { wsHandler } from '../../functions/ws/ws-handler.js';
import type { WsEvent } from '../../functions/ws/ws-routes.js';
import { DependencyUnavailableError, TimeoutError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';

const logger = createLogger('ws-handler-test', { logLevel: 'SILENT', environment: 'test' });
const event: WsEvent = { requestContext: { routeKey: '$connect', connectionId: 'c-1' } };
const context = { functionName: 'ws-connect', awsRequestId: 'r-1' } as Context;

describe('wsHandler', () => {
  it('passes a route answer through unchanged', async () => {
    const handler = wsHandler(logger, '$connect', async () => ({ statusCode: 200 }));
    await expect(handler(event, context)).resolves.toEqual({ statusCode: 200 });
  });

  it.each([
    ['Redis unreachable', new DependencyUnavailableError('redis', 'Redis is not reachable')],
    ['a timed-out call', new TimeoutError('DynamoDB did not answer in 3000 ms')],
  ])('answers 503 with an error frame for %s, so the client retries', async (_label, error) => {
    const handler = wsHandler(logger, '$connect', async () => {
      throw error;
    });
    const result = await handler(event, context);
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body ?? '')).toEqual({
      type: 'error',
      message: 'Service temporarily unavailable: retry shortly',
    });
  });

  it('answers 500 for a fault of its own', async () => {
    const handler = wsHandler(logger, '$connect', async () => {
      throw new TypeError('cannot read properties of undefined');
    });
    const result = await handler(event, context);
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body ?? '')).toEqual({ type: 'error', message: 'Internal server error' });
  });
});
