import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { httpHandler } from '../../functions/http/http-handler.js';
import { ApiErrorResponse } from '../../shared/contracts/common.js';
import { ConflictError, DependencyUnavailableError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logging.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const context = { awsRequestId: 'req-1', functionName: 'fn' } as Context;
const event = {
  version: '2.0',
  routeKey: 'GET /x',
  rawPath: '/x',
  rawQueryString: '',
  headers: {},
  isBase64Encoded: false,
  requestContext: { requestId: 'api-req-7', http: { method: 'GET', path: '/x' } },
} as unknown as APIGatewayProxyEventV2;

async function invoke(error: unknown) {
  const handler = httpHandler(logger, async () => {
    throw error;
  });
  const result = await handler(event, context);
  return { status: result.statusCode, body: ApiErrorResponse.parse(JSON.parse(result.body ?? '')) };
}

describe('httpHandler', () => {
  it('serialises a use case result as JSON with its status', async () => {
    const handler = httpHandler(logger, async (_event, { requestId }) => ({ status: 201, body: { requestId } }));
    const result = await handler(event, context);
    expect(result.statusCode).toBe(201);
    expect(result.headers?.['content-type']).toBe('application/json');
    expect(JSON.parse(result.body ?? '')).toEqual({ requestId: 'api-req-7' });
  });

  it('answers a validation error with 400, its code and the wrong field paths', async () => {
    const { status, body } = await invoke(
      new ValidationError('Invalid request body', [
        { path: 'instrument_token', message: 'must be a positive integer' },
      ]),
    );
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Invalid request body',
        details: [{ path: 'instrument_token', message: 'must be a positive integer' }],
      },
    });
  });

  it.each([
    [new NotFoundError('Instrument 1 not found'), 404, 'NOT_FOUND'],
    [new ConflictError('Task exists'), 409, 'CONFLICT'],
    [new DependencyUnavailableError('dynamodb', 'Store unavailable'), 503, 'DEPENDENCY_UNAVAILABLE'],
  ])('maps %s to %i', async (error, status, code) => {
    const result = await invoke(error);
    expect(result.status).toBe(status);
    expect(result.body.error.code).toBe(code);
  });

  it('turns an unexpected fault into a 500 that reveals nothing but the request id', async () => {
    const { status, body } = await invoke(new TypeError('secret internals at /srv/app.js:12'));
    expect(status).toBe(500);
    expect(body).toEqual({ error: { code: 'INTERNAL', message: 'Internal error (request api-req-7)' } });
    const plain = await invoke({ status: 'error', message: 'kite object' });
    expect(plain.status).toBe(500);
  });
});
