import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type LocalPlatform, startLocalPlatform } from '../../infra/local/platform.js';
import { ownerIdOfSubject } from '../../shared/auth/owner.js';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../shared/config.js';
import { ServerMessage } from '../../shared/contracts/websocket.js';
import { orderUpdateOf, publishOrderUpdate } from '../../shared/order-updates.js';
import { orderRecordOf } from '../support/order-update-fixtures.js';
import { sharedRedisUrl } from '../support/shared-services.js';
import { waitFor } from '../support/wait.js';

/*
 * Order updates on the local platform over real WebSockets: `$connect` records each connection's
 * user, the fan-out files it under that user's owner id, and an update published for an order
 * reaches its owner's connections only. Once on the in-memory bus (`npm start` without Redis), once
 * on Redis (the cloud's shape). Subjects are unique per run: other test files share the Redis.
 */

const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);

describe.each([
  ['the in-memory bus', undefined],
  ['Redis', 'redis'],
] as const)('order updates on the WebSocket, on %s', (_name, bus) => {
  let platform: LocalPlatform;
  const run = randomUUID().slice(0, 8);
  const asha = `asha-${run}`;
  const balu = `balu-${run}`;

  beforeAll(async () => {
    platform = await startLocalPlatform(
      loadConfig({
        PORT: '0',
        LOG_LEVEL: 'SILENT',
        DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
        TABLE_PREFIX: `wso-${run}`,
        ...(bus === 'redis' && { REDIS_URL: sharedRedisUrl() }),
      }),
    );
  });
  afterAll(async () => {
    await platform?.close();
  });

  /** A connected client of `subject` that records every message, checked against the protocol schema. */
  async function client(subject: string) {
    const jwt = await new SignJWT({ name: subject })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(secret);
    const ws = new WebSocket(`${platform.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(jwt)}`);
    const messages: ServerMessage[] = [];
    ws.on('message', (data) => messages.push(ServerMessage.parse(JSON.parse(data.toString()))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    // The greeting comes from the fan-out: once it is here, the fan-out knows the connection and its user.
    await waitFor(() => messages.some((m) => m.type === 'connected'), { message: `${subject}'s greeting` });
    const orders = () => messages.flatMap((m) => (m.type === 'order' ? [m.data] : []));
    return { ws, messages, orders };
  }

  it("reaches each of the owner's connections, and no one else's", async () => {
    const ashaPhone = await client(asha);
    const ashaDesk = await client(asha);
    const baluPhone = await client(balu);
    try {
      const ashas = orderRecordOf(`${run}-a`, ownerIdOfSubject(asha), {
        status: 'OPEN',
        filledQuantity: 0,
        pendingQuantity: 75,
      });
      const balus = orderRecordOf(`${run}-b`, ownerIdOfSubject(balu), {
        status: 'COMPLETE',
        filledQuantity: 75,
        pendingQuantity: 0,
        averagePrice: 212.35,
      });
      expect(await publishOrderUpdate(platform.components.bus, ashas)).toBeGreaterThan(0);
      await waitFor(() => ashaPhone.orders().length === 1 && ashaDesk.orders().length === 1, {
        message: "Asha's update on both her connections",
      });
      for (const c of [ashaPhone, ashaDesk]) expect(c.orders()).toEqual([orderUpdateOf(ashas)]);
      // Balu's own update, published after Asha's on the same bus: had hers reached him, it would be first.
      await publishOrderUpdate(platform.components.bus, balus);
      await waitFor(() => baluPhone.orders().length > 0, { message: "Balu's update" });
      expect(baluPhone.orders()).toEqual([orderUpdateOf(balus)]);
      expect(baluPhone.orders()[0]?.average_price).toBe(212.35);
      expect(ashaPhone.orders()[0]).not.toHaveProperty('average_price');
      // And Balu's never reached Asha: a later update of hers comes right after her first.
      const ashasFill = orderRecordOf(`${run}-a`, ownerIdOfSubject(asha), {
        status: 'COMPLETE',
        filledQuantity: 75,
        pendingQuantity: 0,
        averagePrice: 101.5,
      });
      await publishOrderUpdate(platform.components.bus, ashasFill);
      await waitFor(() => ashaPhone.orders().length === 2 && ashaDesk.orders().length === 2);
      for (const c of [ashaPhone, ashaDesk]) {
        expect(c.orders()).toEqual([orderUpdateOf(ashas), orderUpdateOf(ashasFill)]);
      }
    } finally {
      for (const c of [ashaPhone, ashaDesk, baluPhone]) c.ws.close();
    }
  });

  it('stops at a closed connection; the same user connecting again gets the next update', async () => {
    const first = await client(asha);
    const record = (status: string) => orderRecordOf(`${run}-c`, ownerIdOfSubject(asha), { status });
    await publishOrderUpdate(platform.components.bus, record('OPEN'));
    await waitFor(() => first.orders().length === 1);
    const closed = new Promise((resolve) => first.ws.once('close', resolve));
    first.ws.close();
    await closed;
    const again = await client(asha);
    try {
      // Only after `$disconnect` has run: the update must find the new connection, not the gone one.
      await waitFor(async () => (await platform.components.connections.get(connectionIdOf(first))) === undefined);
      await publishOrderUpdate(platform.components.bus, record('CANCELLED'));
      await waitFor(() => again.orders().length === 1);
      expect(again.orders().map((o) => o.status)).toEqual(['CANCELLED']);
    } finally {
      again.ws.close();
    }
  });
});

function connectionIdOf(c: { messages: readonly ServerMessage[] }): string {
  const greeting = c.messages.find((m) => m.type === 'connected');
  if (greeting?.type !== 'connected') throw new Error('no greeting');
  return greeting.connection_id;
}
