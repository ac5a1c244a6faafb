import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApiGatewayConnectionGateway,
  MAX_MESSAGE_BYTES,
} from '../../shared/adapters/apigateway/apigateway-connection-gateway.js';
import { DependencyUnavailableError, TimeoutError, ValidationError } from '../../shared/errors.js';
import { sleep } from '../support/wait.js';

const ENDPOINT = 'https://abc123.execute-api.ap-south-1.amazonaws.com/prod';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

const limited = () => new LimitExceededException({ message: 'Limit exceeded', $metadata: { httpStatusCode: 429 } });

/** The rejection of `promise`, or undefined when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('ApiGatewayConnectionGateway', () => {
  // The SDK's edge, for what no real endpoint here produces (throttling, other failures, slow
  // replies to count requests in flight): every client's `send` is stubbed, so nothing leaves the
  // process. Posting, 410, 413 and closing run against the local gateway's `@connections` endpoint
  // with the real client over HTTP (test/integration/ws-lambda-handlers.test.ts).
  const api = mockClient(ApiGatewayManagementApiClient);
  const gateways: ApiGatewayConnectionGateway[] = [];
  const open = (options: { maxInFlight?: number; endpoint?: string } = {}) => {
    const gateway = new ApiGatewayConnectionGateway({
      endpoint: options.endpoint ?? ENDPOINT,
      region: 'ap-south-1',
      credentials,
      ...(options.maxInFlight !== undefined && { maxInFlight: options.maxInFlight }),
    });
    gateways.push(gateway);
    return gateway;
  };

  beforeEach(() => api.reset());
  afterEach(() => {
    for (const gateway of gateways.splice(0)) gateway.destroy();
  });

  it('answers throttled for LimitExceededException, so the caller can pause that one connection', async () => {
    api.on(PostToConnectionCommand).rejects(limited());
    expect(await open().post('slow', '{}')).toBe('throttled');
  });

  it('rejects any other failure with DependencyUnavailableError carrying the SDK error as cause', async () => {
    const forbidden = new ForbiddenException({ message: 'Forbidden', $metadata: { httpStatusCode: 403 } });
    api.on(PostToConnectionCommand).rejects(forbidden);
    const error = await rejectionOf(open().post('c1', '{}'));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).dependency).toBe('apigateway');
    expect((error as DependencyUnavailableError).cause).toBe(forbidden);
    expect((error as DependencyUnavailableError).message).toMatch(/c1.*Forbidden/);

    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    api.on(PostToConnectionCommand).rejects(reset);
    const network = await rejectionOf(open().post('c1', '{}'));
    expect(network).toBeInstanceOf(DependencyUnavailableError);
    expect((network as DependencyUnavailableError).cause).toBe(reset);
  });

  it('rejects a payload over 128 KB in UTF-8 with a ValidationError before any call', async () => {
    api.on(PostToConnectionCommand).resolves({});
    const gateway = open();
    // Under the limit in UTF-16 units, over it in UTF-8 bytes: the check counts bytes.
    const multibyte = 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1);
    expect(multibyte.length).toBeLessThan(MAX_MESSAGE_BYTES);
    for (const payload of ['x'.repeat(MAX_MESSAGE_BYTES + 1), multibyte]) {
      const error = await rejectionOf(gateway.post('c1', payload));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).details.map((d) => d.path)).toEqual(['payload']);
    }
    expect(api.calls()).toHaveLength(0);
    // Exactly at the limit is allowed, multi-byte characters included.
    expect(await gateway.post('c1', 'x'.repeat(MAX_MESSAGE_BYTES))).toBe('sent');
    expect(await gateway.post('c1', 'é'.repeat(MAX_MESSAGE_BYTES / 2))).toBe('sent');
    expect(api.calls()).toHaveLength(2);
  });

  it('keeps at most maxInFlight requests outstanding and still delivers every post', async () => {
    let inFlight = 0;
    let maxSeen = 0;
    api.on(PostToConnectionCommand).callsFake(async () => {
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      await sleep(5);
      inFlight--;
      return {};
    });
    const gateway = open({ maxInFlight: 4 });
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => gateway.post(`c${i}`, '{}')));
    expect(outcomes).toEqual(Array.from({ length: 40 }, () => 'sent'));
    expect(maxSeen).toBe(4);
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(40);
  });

  it('admits waiting posts in arrival order', async () => {
    const started: string[] = [];
    api.on(PostToConnectionCommand).callsFake(async (input: { ConnectionId: string }) => {
      started.push(input.ConnectionId);
      await sleep(2);
      return {};
    });
    const gateway = open({ maxInFlight: 1 });
    const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id) => gateway.post(id, '{}')));
    expect(started).toEqual(ids);
  });

  it('frees the slot of a failed post, so failures cannot exhaust the bound', async () => {
    api.on(PostToConnectionCommand).rejects(new Error('boom'));
    const gateway = open({ maxInFlight: 2 });
    for (let i = 0; i < 5; i++)
      await expect(gateway.post('c1', '{}')).rejects.toBeInstanceOf(DependencyUnavailableError);
    api.on(PostToConnectionCommand).resolves({});
    expect(await gateway.post('c1', '{}')).toBe('sent');
  });

  it('defaults to 128 posts in flight', async () => {
    let inFlight = 0;
    let maxSeen = 0;
    api.on(PostToConnectionCommand).callsFake(async () => {
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      await sleep(5);
      inFlight--;
      return {};
    });
    const gateway = open();
    await Promise.all(Array.from({ length: 300 }, (_, i) => gateway.post(`c${i}`, '{}')));
    expect(maxSeen).toBe(128);
  });

  it('rejects a close that fails otherwise with DependencyUnavailableError', async () => {
    const failure = new Error('connect ETIMEDOUT');
    api.on(DeleteConnectionCommand).rejects(failure);
    const error = await rejectionOf(open().close('c1'));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).cause).toBe(failure);
  });

  it('fails a close that waits longer than acquireTimeoutMs for a slot with TimeoutError, without sending it', async () => {
    let release = () => {};
    api.on(PostToConnectionCommand).callsFake(() => new Promise((resolve) => (release = () => resolve({}))));
    api.on(DeleteConnectionCommand).resolves({});
    const gateway = new ApiGatewayConnectionGateway({
      endpoint: ENDPOINT,
      region: 'ap-south-1',
      credentials,
      maxInFlight: 1,
      acquireTimeoutMs: 50,
    });
    gateways.push(gateway);
    const held = gateway.post('c1', '{}');
    const error = await rejectionOf(gateway.close('c2'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/^Connection pool timeout/);
    expect(api.commandCalls(DeleteConnectionCommand)).toHaveLength(0);
    release();
    expect(await held).toBe('sent');
    await gateway.close('c2');
    expect(api.commandCalls(DeleteConnectionCommand)).toHaveLength(1);
    expect(
      () => new ApiGatewayConnectionGateway({ endpoint: ENDPOINT, region: 'ap-south-1', acquireTimeoutMs: 0 }),
    ).toThrow(ValidationError);
  });

  it('rejects an endpoint that is not an http or https URL', () => {
    expect(() => open({ endpoint: 'not a url' })).toThrow(ValidationError);
    expect(() => open({ endpoint: 'ftp://example.com' })).toThrow(ValidationError);
    expect(() => open({ maxInFlight: 0 })).toThrow(ValidationError);
  });
});
