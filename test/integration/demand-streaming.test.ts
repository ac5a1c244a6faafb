import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type LocalPlatform, startLocalPlatform } from '../../infra/local/platform.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { Heartbeats } from '../../shared/ports/live-state-store.js';
import { waitFor } from '../support/wait.js';

/*
 * Demand-driven streaming and the order of one connection's actions, over real WebSockets on the
 * local platform (dynalite, the in-process bus, the mock market): a client may stream any option
 * of the instrument master, not only the pinned set, and whatever order its concurrent
 * subscribe and unsubscribe handlers finish in, what it receives is what it asked for last.
 */

const GRACE_SECONDS = 1;
const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);

function start(extra: Record<string, string> = {}): Promise<LocalPlatform> {
  return startLocalPlatform(
    loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      TABLE_PREFIX: `demand-${randomUUID().slice(0, 8)}`,
      STREAM_INTERVAL_SECONDS: '0.2',
      DEMAND_GRACE_SECONDS: String(GRACE_SECONDS),
      ...extra,
    }),
  );
}

interface Received {
  readonly message: ServerMessage;
  readonly at: number;
}

/** A connected client recording every message with its arrival time. */
async function client(platform: LocalPlatform) {
  const jwt = await new SignJWT({ email: 'viewer@example.in', name: 'Demand Viewer' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`user-${randomUUID().slice(0, 8)}`)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(secret);
  const ws = new WebSocket(`${platform.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(jwt)}`);
  const received: Received[] = [];
  ws.on('message', (data) =>
    received.push({ message: ServerMessage.parse(JSON.parse(data.toString())), at: Date.now() }),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await waitFor(() => received.some((r) => r.message.type === 'connected'), { message: 'the greeting' });
  return {
    ws,
    received,
    send: (value: unknown) => ws.send(JSON.stringify(value)),
    /** Index of the first message from `from` on that satisfies `predicate`, once there is one. */
    async next(predicate: (m: ServerMessage) => boolean, from = 0, timeoutMs = 5000): Promise<number> {
      let found = -1;
      await waitFor(
        () => {
          found = received.findIndex((r, i) => i >= from && predicate(r.message));
          return found >= 0;
        },
        { timeoutMs, message: 'a message' },
      );
      return found;
    },
    close: () => ws.close(),
  };
}

const tickOf = (m: ServerMessage): number | undefined => (m.type === 'tick' ? m.data.instrument_token : undefined);

async function streaming(platform: LocalPlatform): Promise<Set<number> | undefined> {
  const raw = await platform.components.state.getHeartbeat(Heartbeats.streams);
  return raw === undefined ? undefined : new Set(JSON.parse(raw) as number[]);
}

describe('demand-driven streaming', () => {
  let platform: LocalPlatform;
  let pinned: number[];
  let outside: number[];

  beforeAll(async () => {
    platform = await start();
    pinned = (await platform.components.subscriptions.listActive()).map((s) => s.instrumentToken);
    const pinnedSet = new Set(pinned);
    const instruments = await platform.components.loadInstruments();
    // Options of a later expiry, nearest the money first (the middle of the pinned NIFTY strikes).
    const strikes = instruments
      .filter((i) => pinnedSet.has(i.instrumentToken) && i.name === 'NIFTY')
      .map((i) => i.strike)
      .sort((a, b) => a - b);
    const atm = strikes[Math.floor(strikes.length / 2)] as number;
    outside = instruments
      .filter((i) => i.name === 'NIFTY' && (i.instrumentType === 'CE' || i.instrumentType === 'PE'))
      .filter((i) => !pinnedSet.has(i.instrumentToken))
      .sort((a, b) => Math.abs(a.strike - atm) - Math.abs(b.strike - atm))
      .map((i) => i.instrumentToken);
    await waitFor(async () => (await streaming(platform)) !== undefined, { message: 'the first reconcile' });
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('streams an option outside the pinned set: its first tick arrives within 2 s', async () => {
    const token = outside[0] as number;
    expect((await streaming(platform))?.has(token)).toBe(false);
    const c = await client(platform);
    const sentAt = Date.now();
    c.send({ action: 'subscribe', tokens: [token] });
    const confirmed = await c.next((m) => m.type === 'subscribed');
    expect(c.received[confirmed]?.message).toEqual({ type: 'subscribed', tokens: [token], total: 1 });
    const first = await c.next((m) => tickOf(m) === token, 0, 2500);
    expect((c.received[first] as Received).at - sentAt).toBeLessThan(2000);
    c.close();
  });

  it('answers an unknown token with an error frame naming it, never subscribed', async () => {
    const c = await client(platform);
    c.send({ action: 'subscribe', tokens: [pinned[0], 987_654_321] });
    const index = await c.next((m) => m.type === 'error' || m.type === 'subscribed');
    expect(c.received[index]?.message).toEqual({ type: 'error', message: 'Unknown instrument token: 987654321' });
    // The ping's answer comes after anything the subscribe could have caused.
    c.send({ action: 'ping' });
    await c.next((m) => m.type === 'pong', index);
    expect(c.received.some((r) => r.message.type === 'subscribed')).toBe(false);
    c.close();
  });

  it('releases a token nobody wants once the grace period has passed, not before', async () => {
    const token = outside[1] as number;
    const c = await client(platform);
    c.send({ action: 'subscribe', tokens: [token] });
    await c.next((m) => tickOf(m) === token, 0, 2500);
    await waitFor(async () => (await streaming(platform))?.has(token) === true, { message: 'the token streaming' });
    c.send({ action: 'unsubscribe', tokens: [token] });
    await c.next((m) => m.type === 'unsubscribed');
    const unsubscribedAt = Date.now();
    await waitFor(async () => (await streaming(platform))?.has(token) === false, {
      timeoutMs: GRACE_SECONDS * 1000 + 3000,
      message: 'the release',
    });
    expect(Date.now() - unsubscribedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100);
    c.close();
  });

  it('a later action always wins: after random subscribe/unsubscribe streams, delivery equals the last request', async () => {
    const pool = [...pinned.slice(0, 4), ...outside.slice(2, 4)];
    const action = fc.record({
      action: fc.constantFrom('subscribe' as const, 'unsubscribe' as const),
      tokens: fc.subarray(pool, { minLength: 1 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 16 }), async (actions) => {
        const c = await client(platform);
        try {
          // Sent back to back: the gateway runs their handlers concurrently.
          for (const a of actions) c.send(a);
          await waitFor(
            () =>
              c.received.filter((r) => r.message.type === 'subscribed' || r.message.type === 'unsubscribed').length ===
              actions.length,
            { message: 'every confirmation' },
          );
          const wanted = new Set<number>();
          const lastAction = new Map<number, number>();
          actions.forEach((a, i) => {
            for (const t of a.tokens) {
              if (a.action === 'subscribe') wanted.add(t);
              else wanted.delete(t);
              lastAction.set(t, i);
            }
          });
          // No tick of a released token after the confirmation of the unsubscribe that released it.
          const confirmations = c.received.flatMap((r, i) =>
            r.message.type === 'unsubscribed' || r.message.type === 'subscribed' ? [{ r, i }] : [],
          );
          const settled = Math.max(...confirmations.map(({ i }) => i));
          // Every wanted token ticks after everything settled.
          for (const token of wanted) await c.next((m) => tickOf(m) === token, settled + 1, 4000);
          // A round trip through the fan-out: ticks queued before it are in.
          c.send({ action: 'subscribe', tokens: [pinned[0] as number] });
          const marker = await c.next((m) => m.type === 'subscribed', settled + 1);
          const after = c.received.slice(settled + 1, marker).map((r) => tickOf(r.message));
          for (const token of pool) {
            if (!wanted.has(token)) expect(after, `ticks of released token ${token}`).not.toContain(token);
          }
        } finally {
          c.close();
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});

describe('stream capacity', () => {
  let platform: LocalPlatform;

  beforeAll(async () => {
    // One account's worth of one connection of one instrument: full with the pinned set alone.
    platform = await start({ MAX_TOKENS_PER_CONNECTION: '1', MAX_CONNECTIONS_PER_ACCOUNT: '1' });
    await waitFor(async () => (await streaming(platform)) !== undefined, { message: 'the first reconcile' });
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('refuses a token that would need room with an error frame naming the limit; pinned tokens keep streaming', async () => {
    const pinned = (await platform.components.subscriptions.listActive()).map((s) => s.instrumentToken);
    const pinnedSet = new Set(pinned);
    const outside = (await platform.components.loadInstruments()).find(
      (i) => i.instrumentType === 'CE' && !pinnedSet.has(i.instrumentToken),
    )?.instrumentToken as number;
    const c = await client(platform);
    c.send({ action: 'subscribe', tokens: [outside] });
    const refused = await c.next((m) => m.type === 'error' || m.type === 'subscribed');
    const message = c.received[refused]?.message;
    expect(message?.type).toBe('error');
    expect(message?.type === 'error' && message.message).toMatch(/Stream capacity full: at most 1 instruments/);
    const token = pinned[0] as number;
    c.send({ action: 'subscribe', tokens: [token] });
    await c.next((m) => m.type === 'subscribed', refused);
    await c.next((m) => tickOf(m) === token, refused);
    expect((await streaming(platform))?.has(outside)).toBe(false);
    c.close();
  });
});
