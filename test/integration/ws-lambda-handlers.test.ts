import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { wsRouteTable } from '../../functions/ws/route-table.js';
import type { WsLambdaHandler } from '../../functions/ws/ws-handler.js';
import { wsRoutes } from '../../functions/ws/ws-routes.js';
import { createConnectionsEndpoint } from '../../infra/local/connections-endpoint.js';
import { startLocalPlatform } from '../../infra/local/platform.js';
import { SigV4Verifier } from '../../infra/local/sigv4-verifier.js';
import { LocalWsGateway, MAX_MESSAGE_BYTES } from '../../infra/local/ws-gateway.js';
import { ConnectionEvents } from '../../ingest-task/fanout/connection-events.js';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { ApiGatewayConnectionGateway } from '../../shared/adapters/apigateway/apigateway-connection-gateway.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { ValidationError } from '../../shared/errors.js';
import { type Components, createComponents } from '../../shared/wiring.js';
import { sampleOptionSnapshot } from '../support/fixtures.js';
import { sharedRedisUrl, sharedTablePrefix } from '../support/shared-services.js';
import { waitFor } from '../support/wait.js';

/*
 * The cloud's shape on one machine: the exported Lambda handler modules (building their components
 * from the environment, as in a Lambda container) behind the local gateway, the fan-out on Redis
 * posting through the real API Gateway management client to the local `@connections` endpoint.
 */

const env = {
  LOG_LEVEL: 'SILENT',
  DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
  TABLE_PREFIX: sharedTablePrefix(),
  REDIS_URL: sharedRedisUrl(),
};
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** An option of the instrument master (the routes refuse any other token), and a channel no other test file uses. */
let TOKEN: number;
const CHANNEL = 'ticker:wslambda:options';

let components: Components;
/** The connections holding `token` in the Redis index the fan-out loads. */
async function indexed(token: number): Promise<readonly string[]> {
  const index = components.connectionIndex;
  if (!index) throw new Error('the test platform runs with REDIS_URL, so it has a connection index');
  return index.connectionsFor(token);
}
let gateway: LocalWsGateway;
let server: Server;
let endpoint: string;
let management: ApiGatewayManagementApiClient;
let apiGateway: ApiGatewayConnectionGateway;
let fanout: Fanout;
const stopFanout = new AbortController();
let fanoutRunning: Promise<unknown>;
const goneSeen: string[] = [];

beforeAll(async () => {
  Object.assign(process.env, env);
  const handlers: Record<string, WsLambdaHandler> = {};
  for (const { routeKey, entry } of wsRouteTable) {
    const module = (await import(`../../${entry}`)) as { handler: WsLambdaHandler };
    handlers[routeKey] = module.handler;
  }
  components = await createComponents(loadConfig(env), 'ws-lambda-test');
  const options = (await components.loadInstruments()).filter((i) => i.instrumentType === 'CE');
  TOKEN = (options[options.length - 1] as { instrumentToken: number }).instrumentToken;
  gateway = new LocalWsGateway(handlers, components.logger);
  const connections = createConnectionsEndpoint(gateway, new SigV4Verifier(credentials));
  server = createServer((req, res) => {
    void connections(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  server.on('upgrade', (request, socket, head) => void gateway.upgrade(request, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  management = new ApiGatewayManagementApiClient({ endpoint, region: 'ap-south-1', credentials, maxAttempts: 1 });
  apiGateway = new ApiGatewayConnectionGateway({ endpoint, region: 'ap-south-1', credentials });
  fanout = new Fanout({
    bus: components.bus,
    gateway: apiGateway,
    clock: components.clock,
    logger: components.logger,
    onGone: (id) => {
      goneSeen.push(id);
      void components.connections.remove(id);
    },
  });
  const events = new ConnectionEvents({
    bus: components.bus,
    fanout,
    gateway: apiGateway,
    state: components.state,
    clock: components.clock,
    logger: components.logger,
  });
  fanoutRunning = Promise.all([fanout.run(stopFanout.signal), events.run(stopFanout.signal)]);
});

afterAll(async () => {
  await gateway?.closeAll();
  stopFanout.abort();
  await fanoutRunning;
  server?.close();
  server?.closeAllConnections();
  management?.destroy();
  apiGateway?.destroy();
  await components?.close();
});

const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
const jwt = (subject = 'user-7') =>
  new SignJWT({ email: 'desk@example.in', name: 'Desk Seven' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime('1h')
    .sign(secret);

/** A connected client recording every message, each checked against the protocol schema. */
async function client() {
  const ws = new WebSocket(`${endpoint.replace('http', 'ws')}/ws?token=${await jwt()}`, {
    headers: { 'user-agent': 'ws-lambda-test' },
  });
  const messages: ServerMessage[] = [];
  ws.on('message', (data) => messages.push(ServerMessage.parse(JSON.parse(data.toString()))));
  await once(ws, 'open');
  await waitFor(() => messages.length > 0, { message: 'the connected greeting' });
  const first = messages[0];
  if (first?.type !== 'connected') throw new Error(`first message was ${first?.type}`);
  return { ws, messages, id: first.connection_id };
}

describe('the WebSocket route table', () => {
  it('names one module per route, each exporting a handler, and exactly the routes wsRoutes serves', async () => {
    const keys = wsRouteTable.map((r) => r.routeKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const { entry } of wsRouteTable) {
      expect(existsSync(entry), entry).toBe(true);
      const module = (await import(`../../${entry}`)) as Record<string, unknown>;
      expect(typeof module.handler, entry).toBe('function');
    }
    const routes = wsRoutes({
      config: components.config,
      verifier: { verify: () => Promise.reject(new Error('unused')) },
      instruments: { get: async () => undefined },
      streaming: async () => undefined,
      connections: components.connections,
      bus: components.bus,
      clock: components.clock,
      logger: components.logger,
    });
    expect(Object.keys(routes).sort()).toEqual([...keys].sort());
  });

  it('is exactly what the local platform’s gateway serves', async () => {
    const platform = await startLocalPlatform(
      loadConfig({
        PORT: '0',
        LOG_LEVEL: 'SILENT',
        DYNAMODB_ENDPOINT: env.DYNAMODB_ENDPOINT,
        TABLE_PREFIX: 'wsroutes',
      }),
    );
    try {
      expect([...platform.wsRouteKeys].sort()).toEqual(wsRouteTable.map((r) => r.routeKey).sort());
    } finally {
      await platform.close();
    }
  });
});

describe('WebSocket Lambda handlers with the fan-out on Redis', () => {
  it('TC-WSS-001: greets through the management API after $connect, and records the connection in DynamoDB and the Redis index', async () => {
    const c = await client();
    expect(c.messages[0]).toEqual({
      type: 'connected',
      connection_id: c.id,
      user: { user_id: 'user-7', email: 'desk@example.in', name: 'Desk Seven' },
    });
    expect(await components.connections.get(c.id)).toMatchObject({ userId: 'user-7', tokens: [] });
    const snapshot = await components.connectionIndex?.snapshot();
    // The user too: a fan-out instance that loads the connection from the index knows whose orders it gets.
    expect(snapshot?.find((i) => i.connectionId === c.id)).toMatchObject({
      userId: 'user-7',
      tokens: [],
      delivery: 'tick',
    });
    c.ws.close();
  });

  it('TC-WSS-020, TC-WSS-030: subscribe is answered by the route, indexed in Redis, and ticks arrive through the fan-out', async () => {
    const c = await client();
    c.ws.send(JSON.stringify({ action: 'subscribe', tokens: [TOKEN] }));
    await waitFor(() => c.messages.some((m) => m.type === 'subscribed'), { message: 'subscribed' });
    expect(c.messages.find((m) => m.type === 'subscribed')).toEqual({ type: 'subscribed', tokens: [TOKEN], total: 1 });
    expect(await indexed(TOKEN)).toContain(c.id);
    const tick = sampleOptionSnapshot({ instrument_token: TOKEN });
    await waitFor(
      async () => {
        await components.bus.publish(CHANNEL, JSON.stringify(tick));
        return c.messages.some((m) => m.type === 'tick');
      },
      { intervalMs: 100, message: 'a tick through the fan-out' },
    );
    // TC-WSS-030's frame: the tick as published, in `{"type":"tick","data":…}`.
    expect(c.messages.find((m) => m.type === 'tick')).toEqual({ type: 'tick', data: tick });
    c.ws.close();
    // $disconnect removes the record first, then the index entries.
    await waitFor(
      async () => (await components.connections.get(c.id)) === undefined && !(await indexed(TOKEN)).includes(c.id),
      { message: '$disconnect to clean the registry and the index' },
    );
  });

  it('TC-WSS-031: a post that finds the connection gone (410) removes it from the registry and the index', async () => {
    // A connection the registry and the fan-out still hold, but API Gateway no longer has
    // (its $disconnect was lost).
    const ghost = `ghost-${randomUUID().slice(0, 8)}`;
    const now = Date.now();
    await components.connections.put({
      connectionId: ghost,
      userId: 'user-7',
      email: null,
      name: null,
      tokens: [TOKEN + 1],
      delivery: 'tick',
      batchIntervalMs: null,
      connectedAt: now,
      expiresAt: Math.floor(now / 1000) + 7_800,
    });
    expect(await indexed(TOKEN + 1)).toContain(ghost);
    fanout.addConnection(ghost);
    fanout.subscribe(ghost, [TOKEN + 1]);
    await components.bus.publish(CHANNEL, JSON.stringify(sampleOptionSnapshot({ instrument_token: TOKEN + 1 })));
    await waitFor(() => goneSeen.includes(ghost), { message: 'the 410' });
    await waitFor(
      async () =>
        (await components.connections.get(ghost)) === undefined && !(await indexed(TOKEN + 1)).includes(ghost),
      { message: 'the registry and the index to drop the connection' },
    );
  });
});

describe('the local @connections endpoint with the real management API client', () => {
  it('PostToConnection delivers the data to the client as one message', async () => {
    const c = await client();
    await management.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: '{"type":"pong"}' }));
    await waitFor(() => c.messages.some((m) => m.type === 'pong'));
    expect(await apiGateway.post(c.id, '{"type":"error","message":"hello"}')).toBe('sent');
    await waitFor(() => c.messages.some((m) => m.type === 'error'));
    c.ws.close();
  });

  it('posts made in one turn (written together) arrive as separate messages, in order, and nothing waits for a later post', async () => {
    const c = await client();
    const other = await client();
    const posts: Promise<unknown>[] = [];
    for (let n = 0; n < 200; n++) {
      posts.push(gateway.post(c.id, JSON.stringify({ type: 'error', message: `m${n}` })));
      if (n % 50 === 0) posts.push(gateway.post(other.id, JSON.stringify({ type: 'error', message: `o${n}` })));
    }
    expect(await Promise.all(posts)).toEqual(posts.map(() => 'sent'));
    await waitFor(() => c.messages.length === 201 && other.messages.length === 5, { message: 'every post' });
    expect(c.messages.slice(1)).toEqual(Array.from({ length: 200 }, (_, n) => ({ type: 'error', message: `m${n}` })));
    expect(other.messages.slice(1).map((m) => (m.type === 'error' ? m.message : m.type))).toEqual([
      'o0',
      'o50',
      'o100',
      'o150',
    ]);
    // A client that goes away while its writes are held costs nobody else anything.
    void gateway.post(other.id, '{"type":"pong"}');
    other.ws.terminate();
    expect(await gateway.post(c.id, '{"type":"pong"}')).toBe('sent');
    await waitFor(() => c.messages.at(-1)?.type === 'pong', { message: 'the post after the turn' });
    c.ws.close();
  });

  it('a fast client sent more than the slow-client limit in one turn gets all of it: what the cork holds is not a slow client', async () => {
    const c = await client();
    const big = (n: number) => JSON.stringify({ type: 'error', message: `${n}:${'x'.repeat(120 * 1024)}` });
    const outcomes = await Promise.all(Array.from({ length: 45 }, (_, n) => gateway.post(c.id, big(n))));
    expect(outcomes.every((o) => o === 'sent')).toBe(true);
    await waitFor(() => c.messages.length === 46, { message: 'all 45 large posts' });
    expect(c.messages.slice(1).map((m) => (m.type === 'error' ? m.message.split(':')[0] : m.type))).toEqual(
      Array.from({ length: 45 }, (_, n) => String(n)),
    );
    c.ws.close();
  });

  it('refuses unsigned and wrongly signed calls with 403 before touching the connection', async () => {
    const c = await client();
    const url = `${endpoint}/@connections/${encodeURIComponent(c.id)}`;
    const unsignedPost = await fetch(url, { method: 'POST', body: '{"type":"tick","data":"forged"}' });
    expect(unsignedPost.status).toBe(403);
    expect(unsignedPost.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect((await fetch(url, { method: 'GET' })).status).toBe(403);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(403);
    const impostor = new ApiGatewayManagementApiClient({
      endpoint,
      region: 'ap-south-1',
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: 'guessed' },
      maxAttempts: 1,
    });
    await expect(
      impostor.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: '{"type":"error","message":"forged"}' })),
    ).rejects.toMatchObject({ name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
    impostor.destroy();
    // The signed post after them is the first thing the client receives after its greeting.
    await management.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: '{"type":"pong"}' }));
    await waitFor(() => c.messages.length === 2, { message: 'the signed post' });
    expect(c.messages.slice(1)).toEqual([{ type: 'pong' }]);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    c.ws.close();
  });

  it('GetConnection reports ConnectedAt, Identity and LastActiveAt', async () => {
    const before = Date.now();
    const c = await client();
    const info = await management.send(new GetConnectionCommand({ ConnectionId: c.id }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.ConnectedAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(info.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'ws-lambda-test' });
    expect(info.LastActiveAt?.getTime()).toBeGreaterThanOrEqual(info.ConnectedAt?.getTime() ?? 0);
    c.ws.close();
  });

  it('answers GoneException (410) for an unknown connection, which the adapter reports as gone', async () => {
    const error = await management
      .send(new PostToConnectionCommand({ ConnectionId: 'no-such-connection', Data: '{}' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoneException);
    expect((error as GoneException).$metadata.httpStatusCode).toBe(410);
    await expect(management.send(new GetConnectionCommand({ ConnectionId: 'no-such-connection' }))).rejects.toThrow(
      GoneException,
    );
    expect(await apiGateway.post('no-such-connection', '{}')).toBe('gone');
  });

  it('answers PayloadTooLargeException (413) over 128 KB; the adapter refuses before sending', async () => {
    const c = await client();
    const error = await management
      .send(new PostToConnectionCommand({ ConnectionId: c.id, Data: 'x'.repeat(MAX_MESSAGE_BYTES + 1) }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeException);
    await expect(apiGateway.post(c.id, 'x'.repeat(MAX_MESSAGE_BYTES + 1))).rejects.toBeInstanceOf(ValidationError);
    // Exactly 128 KB is delivered.
    const exact = JSON.stringify({ type: 'error', message: 'y'.repeat(MAX_MESSAGE_BYTES - 30) });
    const padded = exact.replace('"}', `${' '.repeat(MAX_MESSAGE_BYTES - exact.length)}"}`);
    expect(Buffer.byteLength(padded)).toBe(MAX_MESSAGE_BYTES);
    expect(await apiGateway.post(c.id, padded)).toBe('sent');
    await waitFor(() => c.messages.some((m) => m.type === 'error'));
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('DeleteConnection closes the client and runs $disconnect; deleting again is gone, which close() accepts', async () => {
    const c = await client();
    const closed = once(c.ws, 'close');
    await management.send(new DeleteConnectionCommand({ ConnectionId: c.id }));
    const [code] = (await closed) as [number];
    expect(code).toBe(1000);
    await waitFor(async () => (await components.connections.get(c.id)) === undefined, { message: '$disconnect' });
    await expect(management.send(new DeleteConnectionCommand({ ConnectionId: c.id }))).rejects.toThrow(GoneException);
    await apiGateway.close(c.id);
  });
});
