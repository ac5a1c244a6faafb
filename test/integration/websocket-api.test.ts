import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type LocalPlatform, startLocalPlatform } from '../../infra/local/platform.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { waitFor } from '../support/wait.js';

/*
 * The WebSocket API over real sockets on the local platform: the same route modules as the
 * Lambdas behind a gateway with API Gateway's semantics, the fan-out, the mock market streaming.
 */

/** The gateway's ping interval here; a silent client is dropped within two of them. */
const KEEPALIVE_SECONDS = 1;

let platform: LocalPlatform;
let wsUrl: string;
let optionTokens: number[];

beforeAll(async () => {
  platform = await startLocalPlatform(
    loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      TABLE_PREFIX: `ws-${randomUUID().slice(0, 8)}`,
      STREAM_INTERVAL_SECONDS: '0.2',
      LOCAL_WS_KEEPALIVE_SECONDS: String(KEEPALIVE_SECONDS),
    }),
  );
  wsUrl = `${platform.url.replace('http', 'ws')}/ws`;
  const active = await platform.components.subscriptions.listActive();
  optionTokens = active.map((s) => s.instrumentToken).slice(0, 4);
});
afterAll(async () => {
  await platform.close();
});

const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
function token(claims: Record<string, unknown> = {}, { expiresIn = '1h', key = secret } = {}): Promise<string> {
  return new SignJWT({ email: 'trader@example.in', name: 'Asha Trader', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('user-42')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

/** A connected client that records every message, parsed and checked against the protocol schema. */
async function client(jwt: string) {
  const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(jwt)}`);
  const messages: ServerMessage[] = [];
  ws.on('message', (data) => messages.push(ServerMessage.parse(JSON.parse(data.toString()))));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await waitFor(() => messages.length > 0, { message: 'the connected greeting' });
  const next = async (type: ServerMessage['type'], from = 0) => {
    await waitFor(() => messages.slice(from).some((m) => m.type === type), { message: `a ${type} message` });
    return messages.slice(from).find((m) => m.type === type) as ServerMessage;
  };
  return {
    ws,
    messages,
    next,
    send: (value: unknown) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
  };
}

/**
 * A WebSocket client on a bare TCP socket: it completes the upgrade, reads the greeting, sends
 * `subscribe`, then goes silent without closing: it stops reading and never answers a ping, as
 * a peer behind a dead network path or a hung process does. Control frames are never answered.
 */
async function halfOpenClient(jwt: string, tokens: number[]): Promise<{ connectionId: string; socket: Socket }> {
  const { hostname, port } = new URL(wsUrl);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET /ws?token=${encodeURIComponent(jwt)} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  const texts: ServerMessage[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!buffer.subarray(0, end).toString().startsWith('HTTP/1.1 101')) {
        socket.destroy(new Error(`upgrade refused: ${buffer.subarray(0, end).toString()}`));
        return;
      }
      upgraded = true;
      buffer = buffer.subarray(end + 4);
    }
    // Server frames are unmasked: [FIN|opcode][len (126: 16-bit, 127: 64-bit follows)][payload].
    while (buffer.length >= 2) {
      const opcode = (buffer[0] as number) & 0x0f;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x1) texts.push(ServerMessage.parse(JSON.parse(payload.toString())));
    }
  });
  const first = async (type: ServerMessage['type']) => {
    await waitFor(() => texts.some((m) => m.type === type), { message: `a ${type} message on the raw socket` });
    return texts.find((m) => m.type === type) as ServerMessage;
  };
  const greeting = await first('connected');
  if (greeting.type !== 'connected') throw new Error('not greeted');
  // A client frame is masked: FIN + text, mask bit + length, 4-byte key, payload XOR key.
  const body = Buffer.from(JSON.stringify({ action: 'subscribe', tokens }));
  if (body.length > 125) throw new Error('the subscribe frame is too long for this client');
  const mask = randomBytes(4);
  socket.write(
    Buffer.concat([
      Buffer.from([0x81, 0x80 | body.length]),
      mask,
      body.map((byte, i) => byte ^ (mask[i % 4] as number)),
    ]),
  );
  await first('subscribed');
  socket.pause();
  return { connectionId: greeting.connection_id, socket };
}

/** Attempts a connection that should be refused; resolves with the HTTP status and body. */
function refused(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    ws.on('open', () => reject(new Error('the connection was accepted')));
    ws.on('error', () => {});
  });
}

describe('WebSocket API', () => {
  it('TC-WSS-001, TC-WSS-010: a valid JWT connects; the first message is connected with the user from the claims', async () => {
    const c = await client(await token());
    const first = c.messages[0];
    expect(first?.type).toBe('connected');
    if (first?.type !== 'connected') return;
    expect(first.user).toEqual({ user_id: 'user-42', email: 'trader@example.in', name: 'Asha Trader' });
    const record = await platform.components.connections.get(first.connection_id);
    expect(record).toMatchObject({ userId: 'user-42', tokens: [] });
    c.ws.close();
  });

  it('TC-WSS-003: no token is refused with 401 "Token required", and nothing is recorded', async () => {
    const { status, body } = await refused(wsUrl);
    expect(status).toBe(401);
    expect(JSON.parse(body)).toEqual({ message: 'Token required' });
  });

  it('TC-WSS-002: an invalid token is refused with 403 "Invalid or expired token"', async () => {
    const { status, body } = await refused(`${wsUrl}?token=not-a-jwt`);
    expect(status).toBe(403);
    expect(JSON.parse(body)).toEqual({ message: 'Invalid or expired token' });
  });

  it('TC-WSS-011: an expired token is refused with 403 "Token expired"', async () => {
    const expired = await token({}, { expiresIn: '-2h' });
    const { status, body } = await refused(`${wsUrl}?token=${expired}`);
    expect(status).toBe(403);
    expect(JSON.parse(body)).toEqual({ message: 'Token expired' });
  });

  it('TC-WSS-012: a token signed with another key is refused with 403 "Invalid token signature"', async () => {
    const forged = await token({}, { key: new TextEncoder().encode('x'.repeat(48)) });
    const { status, body } = await refused(`${wsUrl}?token=${forged}`);
    expect(status).toBe(403);
    expect(JSON.parse(body)).toEqual({ message: 'Invalid token signature' });
  });

  it('TC-WSS-020, TC-WSS-021: subscribe and unsubscribe answer with tokens and total; ticks follow the subscription', async () => {
    const c = await client(await token());
    const [a, b] = optionTokens as [number, number];
    let from = c.messages.length;
    c.send({ action: 'subscribe', tokens: [a, b] });
    expect(await c.next('subscribed', from)).toEqual({ type: 'subscribed', tokens: [a, b], total: 2 });
    await waitFor(
      () => [a, b].every((t) => c.messages.some((m) => m.type === 'tick' && m.data.instrument_token === t)),
      { timeoutMs: 10_000, message: 'ticks for both tokens' },
    );
    from = c.messages.length;
    c.send({ action: 'unsubscribe', tokens: [a] });
    expect(await c.next('unsubscribed', from)).toEqual({ type: 'unsubscribed', tokens: [a], total: 1 });
    // The reply comes after the change was announced to the fan-out. Ticks the feed produced before
    // it may still be in flight; once one of b produced after it has arrived, none of a may have.
    const unsubscribedAt = Date.now();
    const producedAfter = (token: number) =>
      c.messages.some(
        (m) => m.type === 'tick' && m.data.instrument_token === token && (m.data.received_at_ms ?? 0) > unsubscribedAt,
      );
    await waitFor(() => producedAfter(b), { timeoutMs: 10_000, message: 'a tick of b produced after the reply' });
    expect(producedAfter(a)).toBe(false);
    c.ws.close();
  });

  it('TC-WSS-022, TC-WSS-023, TC-WSS-024: pong, error frames for bad JSON and unknown actions, connection kept', async () => {
    const c = await client(await token());
    let from = c.messages.length;
    c.send({ action: 'ping' });
    expect(await c.next('pong', from)).toEqual({ type: 'pong' });
    from = c.messages.length;
    c.send('{broken json');
    expect(await c.next('error', from)).toEqual({ type: 'error', message: 'Invalid JSON' });
    from = c.messages.length;
    c.send({ action: 'unknown_action' });
    expect(await c.next('error', from)).toEqual({ type: 'error', message: 'Unknown action' });
    from = c.messages.length;
    c.send({ action: 'ping' });
    expect(await c.next('pong', from)).toEqual({ type: 'pong' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('TC-WSS-004: a client that closes is removed from the registry with its subscriptions', async () => {
    const c = await client(await token());
    const first = c.messages[0];
    if (first?.type !== 'connected') throw new Error('not greeted');
    c.send({ action: 'subscribe', tokens: [optionTokens[2] as number] });
    await c.next('subscribed');
    c.ws.close(1000);
    await waitFor(async () => (await platform.components.connections.get(first.connection_id)) === undefined, {
      message: 'the registry to drop the connection',
    });
  });

  it('TC-WSS-005: a client that drops without a close frame is cleaned up with its subscriptions', async () => {
    const c = await client(await token());
    const first = c.messages[0];
    if (first?.type !== 'connected') throw new Error('not greeted');
    const watched = optionTokens[3] as number;
    c.send({ action: 'subscribe', tokens: [watched] });
    await c.next('subscribed');
    c.ws.terminate();
    await waitFor(async () => (await platform.components.connections.get(first.connection_id)) === undefined, {
      timeoutMs: 30_000,
      message: 'the registry to drop the connection',
    });
  });

  it('TC-WSS-005: a half-open client (silent, not closed) is detected within two pings and cleaned up; a healthy one streams on', async () => {
    // The default interval keeps detection inside the plan's 30 s.
    expect(2 * loadConfig({}).localWsKeepaliveSeconds).toBeLessThanOrEqual(30);
    const watched = optionTokens[1] as number;
    const healthy = await client(await token({ sub: 'user-healthy' }));
    const healthyGreeting = healthy.messages[0];
    if (healthyGreeting?.type !== 'connected') throw new Error('not greeted');
    healthy.send({ action: 'subscribe', tokens: [watched] });
    await healthy.next('subscribed');

    const silent = await halfOpenClient(await token(), [watched]);
    const silentSince = Date.now();
    expect((await platform.components.connections.get(silent.connectionId))?.tokens).toContain(watched);
    // Silent from now: the next ping goes unanswered, the one after finds it so and drops it.
    // The bound allows for $disconnect's store writes on a loaded machine.
    await waitFor(async () => (await platform.components.connections.get(silent.connectionId)) === undefined, {
      timeoutMs: 2 * KEEPALIVE_SECONDS * 1000 + 1500,
      intervalMs: 50,
      message: 'the half-open connection to be dropped',
    });
    const droppedAt = Date.now();
    expect(droppedAt - silentSince).toBeGreaterThanOrEqual(KEEPALIVE_SECONDS * 1000 - 100);
    // The server closed its end: once the client reads again it finds the socket closed.
    let closed = false;
    silent.socket.once('close', () => {
      closed = true;
    });
    silent.socket.on('error', () => {});
    silent.socket.resume();
    await waitFor(() => closed, { timeoutMs: 2000, message: 'the server to close the half-open socket' });

    // The healthy client answers the pings: it is still registered, open, and ticks keep coming
    // through two more intervals.
    await waitFor(
      () =>
        healthy.messages.some(
          (m) =>
            m.type === 'tick' &&
            m.data.instrument_token === watched &&
            (m.data.received_at_ms ?? 0) > droppedAt + 2 * KEEPALIVE_SECONDS * 1000,
        ),
      { timeoutMs: 10_000, message: 'ticks for the healthy client two intervals after the drop' },
    );
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
    expect(await platform.components.connections.get(healthyGreeting.connection_id)).toBeDefined();
    expect((await platform.components.connections.get(healthyGreeting.connection_id))?.tokens).toContain(watched);
    healthy.ws.close();
  });
});
