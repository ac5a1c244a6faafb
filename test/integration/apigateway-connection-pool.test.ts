import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiGatewayConnectionGateway } from '../../shared/adapters/apigateway/apigateway-connection-gateway.js';
import { TimeoutError } from '../../shared/errors.js';
import { waitFor } from '../support/wait.js';

/*
 * TC-ERR-010 was written for the old service's PostgreSQL pool (max_size 5, a sixth query waits
 * and times out after 10 s). This architecture has no database pool; its bounded pool of
 * outstanding requests is the API Gateway management client's: at most `maxInFlight`
 * PostToConnection/DeleteConnection calls in flight, the rest waiting in line for a slot. The case
 * is run against it with the real SDK client over real HTTP, the management endpoint being a
 * server that holds every request until the test lets it answer (a hung endpoint). The 10 s
 * acquisition timeout is scaled to 1 s.
 */

/** A management endpoint that answers nothing until `release` is called. */
interface HoldingEndpoint {
  readonly url: string;
  /** Requests received so far (method and path). */
  readonly received: string[];
  /** Requests waiting for an answer. */
  held(): number;
  /** Answers every held request with 200. */
  release(): void;
  close(): Promise<void>;
}

async function holdingEndpoint(): Promise<HoldingEndpoint> {
  const held: ServerResponse[] = [];
  const received: string[] = [];
  const server: Server = createServer((request, response) => {
    received.push(`${request.method} ${decodeURIComponent(request.url ?? '')}`);
    request.resume();
    held.push(response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    held: () => held.length,
    release: () => {
      for (const response of held.splice(0)) response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    },
    close: async () => {
      for (const response of held.splice(0)) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('ApiGatewayConnectionGateway: the bounded pool of requests', () => {
  it('TC-ERR-010: with all 5 slots held a 6th request waits, fails after the timeout with "Connection pool timeout", and the pool recovers', async () => {
    const endpoint = await holdingEndpoint();
    cleanup.push(() => endpoint.close());
    const gateway = new ApiGatewayConnectionGateway({
      endpoint: endpoint.url,
      region: 'ap-south-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxInFlight: 5,
      acquireTimeoutMs: 1000,
    });
    cleanup.push(() => gateway.destroy());

    // 1. Five long-running requests take every slot.
    const long = Array.from({ length: 5 }, (_, i) => gateway.post(`long-${i}`, '{"type":"tick"}'));
    await waitFor(() => endpoint.held() === 5, { message: 'five requests held by the endpoint' });
    expect(gateway.inFlight).toBe(5);

    // 2. A sixth waits for a slot: it is queued, not sent.
    const sixth = gateway.post('sixth', '{"type":"tick"}').then(
      (outcome) => ({ outcome, error: undefined }),
      (error: unknown) => ({ outcome: undefined, error }),
    );
    await waitFor(() => gateway.queued === 1, { message: 'the sixth request to wait for a slot' });
    // Still unsent now, and (step 3) when its wait times out.
    expect(endpoint.received).toHaveLength(5);

    // 3. After the timeout it fails with a clear error, still never sent.
    const { outcome, error } = await sixth;
    expect(outcome).toBeUndefined();
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/^Connection pool timeout: no request slot free within 1000 ms/);
    expect((error as TimeoutError).retryable).toBe(true);
    expect(gateway.queued).toBe(0);
    expect(endpoint.received).toHaveLength(5);
    expect(endpoint.received.some((r) => r.includes('sixth'))).toBe(false);

    // 4. A request that finds the pool full gets the first slot freed when the long ones complete.
    const waiting = gateway.post('waiting', '{"type":"tick"}');
    await waitFor(() => gateway.queued === 1);
    endpoint.release();
    expect(await Promise.all(long)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    await waitFor(() => endpoint.held() === 1, { message: 'the waiting request to be sent' });
    endpoint.release();
    expect(await waiting).toBe('sent');

    // 5. The pool has recovered all five slots: the timed-out waiter took none with it.
    expect(gateway.inFlight).toBe(0);
    const again = Array.from({ length: 5 }, (_, i) => gateway.post(`again-${i}`, '{"type":"tick"}'));
    await waitFor(() => endpoint.held() === 5, { message: 'five requests in flight again' });
    expect(gateway.queued).toBe(0);
    endpoint.release();
    expect(await Promise.all(again)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(endpoint.received.filter((r) => r.startsWith('POST /@connections/'))).toHaveLength(11);
  });
});
