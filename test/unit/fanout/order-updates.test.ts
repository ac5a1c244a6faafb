import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionEvents } from '../../../ingest-task/fanout/connection-events.js';
import { Fanout } from '../../../ingest-task/fanout/fanout.js';
import { MemoryConnectionGateway } from '../../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { Authenticator } from '../../../shared/auth/authenticator.js';
import { JwtVerifier } from '../../../shared/auth/jwt-verifier.js';
import { ownerIdOfSubject } from '../../../shared/auth/owner.js';
import { ServerMessage } from '../../../shared/contracts/websocket.js';
import { createLogger } from '../../../shared/logging.js';
import { orderUpdateOf, publishOrderUpdate } from '../../../shared/order-updates.js';
import { Channels } from '../../../shared/ports/tick-bus.js';
import { Secret } from '../../../shared/secret.js';
import { sampleOptionSnapshot } from '../../support/fixtures.js';
import { orderRecordOf } from '../../support/order-update-fixtures.js';
import { waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();
const ASHA = ownerIdOfSubject('asha');
const BALU = ownerIdOfSubject('balu');

/** A fan-out running on a memory bus, listening on every tick and order channel. */
async function running() {
  const bus = new MemoryTickBus();
  const gateway = new MemoryConnectionGateway();
  const fanout = new Fanout({ bus, gateway, clock, logger, maxQueue: 5 });
  const stop = new AbortController();
  const run = fanout.run(stop.signal);
  // Listening once an update for an owner nobody has is heard.
  const probe = orderRecordOf('probe', 'nobody', { status: 'OPEN' });
  await waitFor(async () => (await publishOrderUpdate(bus, probe)) > 0, { message: 'the fan-out to listen' });
  const connect = (id: string, owner?: string) => {
    gateway.connect(id);
    fanout.addConnection(id, { mode: 'tick' }, owner);
  };
  const messages = (id: string) => gateway.received(id).map((m) => ServerMessage.parse(JSON.parse(m)));
  const orders = (id: string) => messages(id).flatMap((m) => (m.type === 'order' ? [m.data] : []));
  return {
    bus,
    gateway,
    fanout,
    connect,
    messages,
    orders,
    stop: async () => {
      stop.abort();
      await run;
    },
  };
}

describe('order updates through the Fanout', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const start = async () => {
    const f = await running();
    cleanup.push(f.stop);
    return f;
  };

  it("reaches every connection of the order's owner and no one else's", async () => {
    const { bus, connect, orders, gateway } = await start();
    connect('asha-phone', ASHA);
    connect('asha-desk', ASHA);
    connect('balu', BALU);
    connect('anonymous');
    const ashas = orderRecordOf('t-asha', ASHA, { status: 'OPEN', filledQuantity: 0, pendingQuantity: 75 });
    const balus = orderRecordOf('t-balu', BALU, { status: 'COMPLETE', filledQuantity: 75, averagePrice: 101.5 });
    expect(await publishOrderUpdate(bus, ashas)).toBe(1);
    await publishOrderUpdate(bus, balus);
    // Balu's update went out after Asha's on the same bus: once he has his, hers would have come first.
    await waitFor(() => orders('balu').length === 1 && orders('asha-desk').length === 1);
    expect(orders('balu')).toEqual([orderUpdateOf(balus)]);
    for (const id of ['asha-phone', 'asha-desk']) expect(orders(id)).toEqual([orderUpdateOf(ashas)]);
    expect(gateway.received('anonymous')).toEqual([]);
  });

  it('sends the frame as published, in order, with fields this version does not know', async () => {
    const { bus, connect, gateway } = await start();
    connect('c', ASHA);
    const first = orderUpdateOf(orderRecordOf('t1', ASHA, { status: 'OPEN', pendingQuantity: 75 }));
    const second = { ...orderUpdateOf(orderRecordOf('t1', ASHA, { status: 'COMPLETE' })), exchange: 'NFO' };
    await bus.publish(Channels.orders(ASHA), JSON.stringify({ type: 'order', data: first }));
    await bus.publish(Channels.orders(ASHA), ` ${JSON.stringify({ type: 'order', data: second })}\n`);
    await waitFor(() => gateway.received('c').length === 2);
    expect(gateway.received('c').map((m) => JSON.parse(m))).toEqual([
      { type: 'order', data: first },
      { type: 'order', data: second },
    ]);
  });

  it('skips and counts what is not an order frame on an order channel', async () => {
    const { bus, connect, gateway, fanout } = await start();
    connect('c', ASHA);
    const malformed = fanout.counters.malformed;
    await bus.publish(Channels.orders(ASHA), 'not json');
    await bus.publish(Channels.orders(ASHA), JSON.stringify({ type: 'tick', data: sampleOptionSnapshot() }));
    await bus.publish(Channels.orders(ASHA), JSON.stringify({ type: 'order', data: { task_id: 't' } }));
    const good = orderRecordOf('t', ASHA, { status: 'OPEN' });
    await publishOrderUpdate(bus, good);
    await waitFor(() => gateway.received('c').length === 1);
    expect(JSON.parse(gateway.received('c')[0] as string)).toEqual({ type: 'order', data: orderUpdateOf(good) });
    expect(fanout.counters.malformed - malformed).toBe(3);
  });

  it('stops sending to a connection once it is removed', async () => {
    const { bus, connect, orders, fanout } = await start();
    connect('old', ASHA);
    connect('new', ASHA);
    fanout.removeConnection('old');
    await publishOrderUpdate(bus, orderRecordOf('t', ASHA, { status: 'OPEN' }));
    await waitFor(() => orders('new').length === 1);
    expect(orders('old')).toEqual([]);
  });

  it('learns the owner of a connection registered without one from a later registration', async () => {
    const { bus, gateway, fanout, orders } = await start();
    gateway.connect('c');
    fanout.addConnection('c');
    fanout.addConnection('c', { mode: 'tick' }, ASHA);
    await publishOrderUpdate(bus, orderRecordOf('t', ASHA, { status: 'OPEN' }));
    await waitFor(() => orders('c').length === 1);
  });

  it('sends order updates to a batch connection at once, not at its next flush', async () => {
    const { bus, gateway, fanout, orders } = await start();
    gateway.connect('c');
    fanout.addConnection('c', { mode: 'batch', intervalMs: 60_000 }, ASHA);
    await publishOrderUpdate(bus, orderRecordOf('t', ASHA, { status: 'OPEN' }));
    await waitFor(() => orders('c').length === 1, { timeoutMs: 2000 });
  });

  it("drops a slow client's ticks, never its order updates, when its queue overflows", async () => {
    const { fanout, messages, connect } = await start();
    connect('slow', ASHA);
    fanout.subscribe('slow', [256265]);
    const tick = (price: number) =>
      JSON.stringify(sampleOptionSnapshot({ instrument_token: 256265, last_price: price }));
    const order = (taskId: string) =>
      JSON.stringify({ type: 'order', data: orderUpdateOf(orderRecordOf(taskId, ASHA, { status: 'OPEN' })) });
    // All in one turn of the event loop: the first tick's post is in flight, the rest queue up (at most 5).
    fanout.deliver('ticker:nifty:options', tick(0));
    fanout.deliverOrder(Channels.orders(ASHA), order('t1'));
    fanout.deliverOrder(Channels.orders(ASHA), order('t2'));
    for (let price = 1; price <= 10; price++) fanout.deliver('ticker:nifty:options', tick(price));
    await waitFor(() => messages('slow').length === 6, { message: 'the queue to drain' });
    const sent = messages('slow').map((m) =>
      m.type === 'order' ? m.data.task_id : m.type === 'tick' && m.data.last_price,
    );
    expect(sent).toEqual([0, 't1', 't2', 8, 9, 10]);
    expect(fanout.counters.dropped).toBe(7);
  });
});

describe('order updates through ConnectionEvents', () => {
  it("files a connection under its user's principal id, and forgets it on disconnect", async () => {
    const bus = new MemoryTickBus();
    const gateway = new MemoryConnectionGateway();
    const fanout = new Fanout({ bus, gateway, clock, logger });
    const events = new ConnectionEvents({ bus, fanout, gateway, state: new MemoryLiveStateStore(), clock, logger });
    gateway.connect('c1');
    gateway.connect('c2');
    const user = (user_id: string) => ({ user_id, email: null, name: null });
    await events.handle(JSON.stringify({ type: 'connected', connection_id: 'c1', user: user('asha') }));
    await events.handle(JSON.stringify({ type: 'connected', connection_id: 'c2', user: user('balu') }));
    const update = (owner: string, taskId: string) =>
      JSON.stringify({ type: 'order', data: orderUpdateOf(orderRecordOf(taskId, owner, { status: 'OPEN' })) });
    const ordersOf = (id: string) =>
      gateway
        .received(id)
        .map((m) => ServerMessage.parse(JSON.parse(m)))
        .flatMap((m) => (m.type === 'order' ? [m.data.task_id] : []));
    fanout.deliverOrder(Channels.orders(ASHA), update(ASHA, 'a1'));
    // The bare subject is not an owner id: an update filed under it reaches no one.
    fanout.deliverOrder(Channels.orders('asha'), update('asha', 'bare'));
    fanout.deliverOrder(Channels.orders(BALU), update(BALU, 'b1'));
    await waitFor(() => ordersOf('c2').length === 1 && ordersOf('c1').length === 1);
    expect(ordersOf('c1')).toEqual(['a1']);
    expect(ordersOf('c2')).toEqual(['b1']);
    await events.handle(JSON.stringify({ type: 'disconnected', connection_id: 'c1' }));
    fanout.deliverOrder(Channels.orders(ASHA), update(ASHA, 'a2'));
    fanout.deliverOrder(Channels.orders(BALU), update(BALU, 'b2'));
    await waitFor(() => ordersOf('c2').length === 2);
    expect(ordersOf('c1')).toEqual(['a1']);
  });
});

describe('ownerIdOfSubject', () => {
  it('is the principal id REST gives a JWT caller, which its orders are owned by', async () => {
    const secret = 'owner-id-test-secret-of-at-least-32-characters';
    const { SignJWT } = await import('jose');
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('asha')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
    const authenticator = new Authenticator({
      apiKeys: undefined,
      jwt: new JwtVerifier({ secret: new Secret(secret) }),
    });
    expect((await authenticator.authenticate({ bearerToken: jwt })).id).toBe(ownerIdOfSubject('asha'));
  });
});

describe('orderUpdateOf', () => {
  it('leaves average_price out until there is a fill, and gives updated_at as ISO', () => {
    const open = orderUpdateOf(
      orderRecordOf('t', ASHA, { status: 'OPEN', filledQuantity: 0, pendingQuantity: 75 }, Date.UTC(2025, 0, 8, 4)),
    );
    expect(open).toEqual({
      task_id: 't',
      order_id: 'order-t',
      status: 'OPEN',
      filled_quantity: 0,
      pending_quantity: 75,
      status_message: null,
      updated_at: '2025-01-08T04:00:00.000Z',
    });
    expect(open && 'average_price' in open).toBe(false);
    const filled = orderUpdateOf(
      orderRecordOf('t', ASHA, {
        status: 'COMPLETE',
        filledQuantity: 75,
        pendingQuantity: 0,
        averagePrice: 101.25,
        statusMessage: 'done',
      }),
    );
    expect(filled).toMatchObject({
      filled_quantity: 75,
      pending_quantity: 0,
      average_price: 101.25,
      status_message: 'done',
    });
  });

  it("derives the quantities a broker did not report from the order's terms", () => {
    // Kite's placement answer: an acknowledgement with the order id alone; the task asked for 65.
    expect(orderUpdateOf(orderRecordOf('t', ASHA, { status: 'PLACED' }))).toMatchObject({
      filled_quantity: 0,
      pending_quantity: 65,
    });
    // The paper broker reports a fill by its status and price.
    expect(orderUpdateOf(orderRecordOf('t', ASHA, { status: 'COMPLETE', averagePrice: 99 }))).toMatchObject({
      filled_quantity: 65,
      pending_quantity: 0,
    });
    expect(orderUpdateOf(orderRecordOf('t', ASHA, { status: 'CANCELLED', filledQuantity: 25 }))).toMatchObject({
      filled_quantity: 25,
      pending_quantity: 0,
    });
    // A modified quantity wins over the task's.
    expect(
      orderUpdateOf(orderRecordOf('t', ASHA, { status: 'OPEN', quantity: 150, filledQuantity: 50 })),
    ).toMatchObject({
      pending_quantity: 100,
    });
  });

  it('publishes nothing for a task without a broker order or without an owner', async () => {
    const bus = new MemoryTickBus();
    const heard: string[] = [];
    await bus.psubscribe(Channels.allOrders, (channel) => heard.push(channel));
    const { result: _, ...noResult } = orderRecordOf('t', ASHA, { status: 'OPEN' });
    expect(orderUpdateOf(noResult)).toBeUndefined();
    expect(await publishOrderUpdate(bus, noResult)).toBe(0);
    expect(await publishOrderUpdate(bus, orderRecordOf('t', undefined, { status: 'OPEN' }))).toBe(0);
    expect(await publishOrderUpdate(bus, orderRecordOf('t', ASHA, { status: 'OPEN' }))).toBe(1);
    await waitFor(() => heard.length === 1);
    expect(heard).toEqual([`orders:${ASHA}`]);
  });
});

describe('order channels', () => {
  it('never match the tick or control patterns, whatever the owner', async () => {
    const bus = new MemoryTickBus();
    const ticks: string[] = [];
    await bus.psubscribe(Channels.allTicks, (channel) => ticks.push(channel));
    await bus.psubscribe('control:*', (channel) => ticks.push(channel));
    for (const owner of ['ticker:nifty:options', '*', 'key-0011', ASHA]) {
      expect(await bus.publish(Channels.orders(owner), '{}')).toBe(0);
    }
    expect(ticks).toEqual([]);
  });
});
