import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type LocalPlatform, startLocalPlatform } from '../../infra/local/platform.js';
import { MAX_MESSAGE_BYTES } from '../../infra/local/ws-gateway.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { physicalTableName, Tables } from '../../shared/tables.js';
import { waitFor } from '../support/wait.js';

/*
 * The "how it will be checked" barrage through the local platform with real sockets: malformed
 * frames, oversize messages and forged or expired tokens, each answered as specified, while an
 * observing client keeps its ticks and the server keeps serving.
 */

let platform: LocalPlatform;
let wsUrl: string;
let tokens: number[];
const tablePrefix = `barrage-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  platform = await startLocalPlatform(
    loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      TABLE_PREFIX: tablePrefix,
      STREAM_INTERVAL_SECONDS: '0.2',
      MAX_TOKENS_PER_CLIENT: '50',
    }),
  );
  wsUrl = `${platform.url.replace('http', 'ws')}/ws`;
  tokens = (await platform.components.subscriptions.listActive()).map((s) => s.instrumentToken).slice(0, 2);
});
afterAll(async () => {
  await platform.close();
});

const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
const sign = (key: Uint8Array = secret, expiresIn: string | number = '1h') =>
  new SignJWT({ email: 'ops@example.in', name: 'Ops' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('user-9')
    .setExpirationTime(expiresIn)
    .sign(key);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Client {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[];
  /** Sends `frame` and resolves with the next message the server answers. */
  ask(frame: string | Buffer): Promise<ServerMessage>;
}

/** A client whose every message must match the protocol schema: anything else fails the test. */
async function client(): Promise<Client> {
  const ws = new WebSocket(`${wsUrl}?token=${await sign()}`);
  const messages: ServerMessage[] = [];
  const replies: ((m: ServerMessage) => void)[] = [];
  ws.on('message', (data) => {
    const message = ServerMessage.parse(JSON.parse(data.toString()));
    messages.push(message);
    if (message.type !== 'tick' && message.type !== 'ticks' && message.type !== 'bar') replies.shift()?.(message);
  });
  await once(ws, 'open');
  await waitFor(() => messages.length > 0, { message: 'the connected greeting' });
  return {
    ws,
    messages,
    ask: (frame) =>
      new Promise((resolve) => {
        replies.push(resolve);
        ws.send(frame);
      }),
  };
}

/** An upgrade that must be refused: its HTTP status and body. */
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
    ws.on('open', () => reject(new Error(`accepted: ${url}`)));
    ws.on('error', () => {});
  });
}

/** Ticks the observer has received so far. */
const ticksOf = (c: Client) => c.messages.filter((m) => m.type === 'tick').length;

describe('WebSocket API under a barrage of bad input', () => {
  let observer: Client;
  beforeAll(async () => {
    observer = await client();
    await observer.ask(JSON.stringify({ action: 'subscribe', tokens }));
    await waitFor(() => ticksOf(observer) > 0, { timeoutMs: 10_000, message: 'ticks for the observer' });
  });

  it('answers every malformed frame with an error frame and keeps the connection open', async () => {
    const attacker = await client();
    const cases: [string | Buffer, string | RegExp][] = [
      ['{broken json', 'Invalid JSON'],
      ['', 'Invalid JSON'],
      ['\u0000\u0001', 'Invalid JSON'],
      [Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'Invalid JSON'],
      ['null', 'Unknown action'],
      ['[]', 'Unknown action'],
      ['42', 'Unknown action'],
      ['"subscribe"', 'Unknown action'],
      ['{}', 'Unknown action'],
      ['{"action":null}', 'Unknown action'],
      ['{"action":["subscribe"]}', 'Unknown action'],
      ['{"action":"unknown_action"}', 'Unknown action'],
      ['{"action":"$connect","token":"x"}', 'Unknown action'],
      ['{"action":"$disconnect"}', 'Unknown action'],
      ['{"action":"constructor"}', 'Unknown action'],
      ['{"action":"__proto__"}', 'Unknown action'],
      ['{"action":"toString"}', 'Unknown action'],
      ['{"action":"subscribe"}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":"256265"}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":[]}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":[-1]}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":[1.5]}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":[1e400]}', /^Invalid subscribe message/],
      ['{"action":"subscribe","tokens":[null]}', /^Invalid subscribe message/],
      [
        JSON.stringify({ action: 'subscribe', tokens: Array.from({ length: 1001 }, (_, i) => i + 1) }),
        /^Invalid subscribe message/,
      ],
      [
        JSON.stringify({ action: 'subscribe', tokens: Array.from({ length: 51 }, (_, i) => i + 1) }),
        /^Too many tokens/,
      ],
      ['{"action":"unsubscribe","tokens":[0]}', /^Invalid unsubscribe message/],
      ['{"action":"configure","delivery":"firehose"}', /^Invalid configure message/],
      ['{"action":"configure","delivery":"batch","interval_ms":1}', /^Invalid configure message/],
      [`${'['.repeat(5000)}${']'.repeat(5000)}`, 'Unknown action'],
      [`{"action":"ping","pad":"${'x'.repeat(MAX_MESSAGE_BYTES - 40)}"}`, 'pong'],
    ];
    for (const [frame, expected] of cases) {
      const reply = await attacker.ask(frame);
      const label = String(frame).slice(0, 60);
      if (expected === 'pong') {
        expect(reply, label).toEqual({ type: 'pong' });
        continue;
      }
      expect(reply.type, label).toBe('error');
      if (reply.type !== 'error') continue;
      if (typeof expected === 'string') expect(reply.message, label).toBe(expected);
      else expect(reply.message, label).toMatch(expected);
    }
    expect(attacker.ws.readyState).toBe(WebSocket.OPEN);
    // Nothing malformed changed the attacker's subscriptions.
    const connected = attacker.messages[0];
    if (connected?.type !== 'connected') throw new Error('not greeted');
    expect((await platform.components.connections.get(connected.connection_id))?.tokens).toEqual([]);
    expect(await attacker.ask('{"action":"ping"}')).toEqual({ type: 'pong' });
    attacker.ws.close();
  });

  it('answers a flood of 500 messages, one reply each', async () => {
    const attacker = await client();
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => attacker.ask(i % 2 === 0 ? '{"action":"ping"}' : '{nope')),
    );
    expect(replies.filter((r) => r.type === 'pong')).toHaveLength(250);
    expect(replies.filter((r) => r.type === 'error')).toHaveLength(250);
    attacker.ws.close();
  });

  it('closes a client that sends more than 128 KB with 1009, and only that client', async () => {
    const attacker = await client();
    const closed = once(attacker.ws, 'close');
    attacker.ws.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
    const connected = attacker.messages[0];
    if (connected?.type !== 'connected') throw new Error('not greeted');
    await waitFor(async () => (await platform.components.connections.get(connected.connection_id)) === undefined, {
      message: 'the oversize client to be cleaned up',
    });
    expect(observer.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses forged, expired, unsigned and garbage tokens as the plan says, recording nothing', async () => {
    const header = base64url({ alg: 'HS256', typ: 'JWT' });
    const claims = base64url({ sub: 'admin', exp: Math.floor(Date.now() / 1000) + 3600 });
    const valid = await sign();
    const [vh, vp] = valid.split('.');
    const attempts: [string, number, string][] = [
      ['', 401, 'Token required'],
      [await sign(new TextEncoder().encode('another-secret-of-enough-length-000')), 403, 'Invalid token signature'],
      [
        `${vh}.${base64url({ sub: 'admin', exp: 4_102_444_800 })}.${valid.split('.')[2]}`,
        403,
        'Invalid token signature',
      ],
      [await sign(secret, Math.floor(Date.now() / 1000) - 60), 403, 'Token expired'],
      [`${base64url({ alg: 'none', typ: 'JWT' })}.${claims}.`, 403, 'Invalid or expired token'],
      [`${header}.${claims}`, 403, 'Invalid or expired token'],
      [`${vh}.${vp}`, 403, 'Invalid or expired token'],
      ['not-a-jwt', 403, 'Invalid or expired token'],
      ['a.b.c', 403, 'Invalid or expired token'],
      ['%00%ff', 403, 'Invalid or expired token'],
      ['x'.repeat(8000), 403, 'Invalid or expired token'],
    ];
    const results = await Promise.all(
      attempts.map(([token]) => refused(token === '' ? wsUrl : `${wsUrl}?token=${encodeURIComponent(token)}`)),
    );
    results.forEach(({ status, body }, i) => {
      const [token, expectedStatus, expectedMessage] = attempts[i] as [string, number, string];
      expect(status, token.slice(0, 40)).toBe(expectedStatus);
      expect(JSON.parse(body), token.slice(0, 40)).toEqual({ message: expectedMessage });
    });
    // Only the observer holds the token: no refused client was recorded or subscribed.
    const { Items } = await platform.components.dynamodb.send(
      new ScanCommand({
        TableName: physicalTableName(tablePrefix, Tables.connections),
        FilterExpression: 'contains(#tokens, :token)',
        ExpressionAttributeNames: { '#tokens': 'tokens' },
        ExpressionAttributeValues: { ':token': { N: String(tokens[0]) } },
      }),
    );
    expect(Items?.map((i) => i.connection_id?.S)).toHaveLength(1);
  });

  it('greets first even when the client sends the moment the socket opens', async () => {
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(`${wsUrl}?token=${await sign()}`);
      const types: string[] = [];
      ws.on('message', (data) => types.push(ServerMessage.parse(JSON.parse(data.toString())).type));
      ws.on('open', () => ws.send('{"action":"ping"}'));
      await waitFor(() => types.length >= 2, { message: 'greeting and pong' });
      expect(types.slice(0, 2)).toEqual(['connected', 'pong']);
      ws.close();
    }
  });

  it('kept serving throughout: the observer still gets ticks and answers, new clients connect, /health is up', async () => {
    const seen = ticksOf(observer);
    await waitFor(() => ticksOf(observer) > seen, { timeoutMs: 10_000, message: 'more ticks for the observer' });
    expect(await observer.ask('{"action":"ping"}')).toEqual({ type: 'pong' });
    expect(observer.messages.filter((m) => m.type === 'error')).toEqual([]);
    const late = await client();
    expect(late.messages[0]?.type).toBe('connected');
    late.ws.close();
    expect((await fetch(`${platform.url}/health`)).status).toBe(200);
  });
});
