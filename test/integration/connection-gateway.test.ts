import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createConnectionsEndpoint } from '../../infra/local/connections-endpoint.js';
import { SigV4Verifier } from '../../infra/local/sigv4-verifier.js';
import { LocalWsGateway } from '../../infra/local/ws-gateway.js';
import { ApiGatewayConnectionGateway } from '../../shared/adapters/apigateway/apigateway-connection-gateway.js';
import { MemoryConnectionGateway } from '../../shared/adapters/memory/memory-connection-gateway.js';
import { DEVELOPMENT_LOCAL_AWS_CREDENTIALS } from '../../shared/config.js';
import { createLogger } from '../../shared/logging.js';
import { connectionGatewayContract } from '../support/connection-gateway-contract.js';
import { MOTO_CREDENTIALS, MOTO_REGION } from '../support/moto-server.js';
import { sharedMoto } from '../support/shared-moto.js';
import { signedFetch } from '../support/signed-fetch.js';
import { waitFor } from '../support/wait.js';

const moto = sharedMoto();

connectionGatewayContract('MemoryConnectionGateway', async () => {
  const gateway = new MemoryConnectionGateway();
  let next = 0;
  return {
    gateway,
    connect: async () => {
      const id = `c${++next}`;
      gateway.connect(id);
      return id;
    },
    received: async (id) => gateway.received(id),
    disconnect: (id) => gateway.close(id),
  };
});

/*
 * The SDK adapter over HTTP to the local WebSocket gateway's `@connections` endpoint, with real
 * WebSocket clients behind it: the gateway's routes only accept connections and note their ids.
 */
connectionGatewayContract('ApiGatewayConnectionGateway (local gateway over HTTP)', async () => {
  const ids: string[] = [];
  const local = new LocalWsGateway(
    {
      $connect: async (event) => {
        ids.push(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
      $disconnect: async () => ({ statusCode: 200 }),
    },
    createLogger('connection-gateway-test', { logLevel: 'SILENT', environment: 'test' }),
  );
  const endpoint = createConnectionsEndpoint(local, new SigV4Verifier(DEVELOPMENT_LOCAL_AWS_CREDENTIALS));
  const server: Server = createServer((req, res) => {
    void endpoint(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  server.on('upgrade', (req, socket, head) => void local.upgrade(req, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gateway = new ApiGatewayConnectionGateway({
    endpoint: url,
    region: 'ap-south-1',
    credentials: DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
  });
  const clients = new Map<string, { ws: WebSocket; messages: string[] }>();
  return {
    gateway,
    connect: async () => {
      const ws = new WebSocket(url.replace('http', 'ws'));
      const messages: string[] = [];
      ws.on('message', (data) => messages.push(String(data)));
      await once(ws, 'open');
      const id = ids.at(-1) ?? '';
      clients.set(id, { ws, messages });
      return id;
    },
    received: async (id, count) => {
      const messages = clients.get(id)?.messages ?? [];
      await waitFor(() => messages.length >= count, { message: `${count} messages on ${id}` });
      return [...messages];
    },
    disconnect: async (id) => {
      clients.get(id)?.ws.close();
      await waitFor(() => local.info(id) === undefined, { message: `${id} to close` });
    },
    dispose: async () => {
      gateway.destroy();
      for (const { ws } of clients.values()) ws.terminate();
      await local.closeAll();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
});

/*
 * The SDK adapter against moto's management API, an implementation nobody here wrote: it checks
 * the requests' shape (path, signing, body) and the adapter's outcomes. moto neither delivers nor
 * shows what was posted, and has no closed connections.
 */
connectionGatewayContract(
  'ApiGatewayConnectionGateway (moto)',
  async () => {
    const gateway = new ApiGatewayConnectionGateway({
      endpoint: await moto.endpoint(),
      region: MOTO_REGION,
      credentials: MOTO_CREDENTIALS,
    });
    let next = 0;
    return {
      gateway,
      connect: async () => `moto-${process.pid}-${++next}`,
      disconnect: async () => {},
      dispose: async () => gateway.destroy(),
    };
  },
  { neverGone: true },
);

describe('moto as the management API', () => {
  it('is what answers the adapter: GetConnection on the same endpoint reports a moto connection', async () => {
    const endpoint = await moto.endpoint();
    const gateway = new ApiGatewayConnectionGateway({ endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS });
    try {
      expect(await gateway.post('seen-by-moto', '{}')).toBe('sent');
      // Raw, not through the SDK's GetConnection: moto answers `connectedAt` as epoch seconds where
      // API Gateway sends an ISO 8601 string, and the SDK refuses to parse that.
      const response = await signedFetch(`${endpoint}/@connections/seen-by-moto`, { method: 'GET' }, MOTO_CREDENTIALS, {
        service: 'execute-api',
        region: MOTO_REGION,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ identity: { userAgent: 'Moto Mocks' } });
    } finally {
      gateway.destroy();
    }
  });
});
