import { describe, expect, it } from 'vitest';
import { Fanout } from '../../../ingest-task/fanout/fanout.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { MemoryConnectionGateway } from '../../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { TickMessage, TicksMessage } from '../../../shared/contracts/websocket.js';
import { createLogger } from '../../../shared/logging.js';
import { sampleOptionSnapshot } from '../../support/fixtures.js';
import { captureLogs } from '../../support/log-capture.js';
import { sleep, waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const A = 256265;
const B = 260105;
const tick = (token: number, last_price = 250) => sampleOptionSnapshot({ instrument_token: token, last_price });

function setup(options: { clock?: ManualClock | SystemClock; maxQueue?: number } = {}) {
  const gateway = new MemoryConnectionGateway();
  const gone: string[] = [];
  const fanout = new Fanout({
    bus: new MemoryTickBus(),
    gateway,
    clock: options.clock ?? new SystemClock(),
    logger,
    ...(options.maxQueue !== undefined && { maxQueue: options.maxQueue }),
    onGone: (id) => gone.push(id),
  });
  const connect = (id: string, tokens: number[]) => {
    gateway.connect(id);
    fanout.addConnection(id);
    fanout.subscribe(id, tokens);
  };
  const ticksOf = (id: string) => gateway.received(id).map((m) => TickMessage.parse(JSON.parse(m)).data);
  return { gateway, fanout, gone, connect, ticksOf };
}

describe('Fanout', () => {
  it('TC-WSS-030: a tick reaches its token’s three subscribers and none of the other token’s two', async () => {
    const { fanout, connect, ticksOf } = setup();
    for (const id of ['a1', 'a2', 'a3']) connect(id, [A]);
    for (const id of ['b1', 'b2']) connect(id, [B]);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A)));
    await waitFor(() => ['a1', 'a2', 'a3'].every((id) => ticksOf(id).length === 1));
    for (const id of ['a1', 'a2', 'a3']) expect(ticksOf(id)).toEqual([tick(A)]);
    // A sentinel for B after it: each connection's frames go out in order, so once B's clients
    // hold the sentinel, A's tick would be ahead of it had it been queued for them.
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(B)));
    await waitFor(() => ['b1', 'b2'].every((id) => ticksOf(id).length > 0));
    expect(ticksOf('b1')).toEqual([tick(B)]);
    expect(ticksOf('b2')).toEqual([tick(B)]);
    for (const id of ['a1', 'a2', 'a3']) expect(ticksOf(id)).toEqual([tick(A)]);
    expect(fanout.counters).toMatchObject({ ticksIn: 2, deliveries: 5, posts: 5 });
  });

  it('delivers arrays from one bus message tick by tick, in order, and honours unsubscribe', async () => {
    const { fanout, connect, ticksOf } = setup();
    connect('c', [A, B]);
    fanout.deliver('ticker:nifty:options', JSON.stringify([tick(A, 1), tick(B, 2), tick(A, 3)]));
    await waitFor(() => ticksOf('c').length === 3);
    expect(ticksOf('c').map((t) => t.last_price)).toEqual([1, 2, 3]);
    expect(fanout.unsubscribe('c', [A])).toEqual([B]);
    fanout.deliver('ticker:nifty:options', JSON.stringify([tick(A, 4), tick(B, 5)]));
    // A later tick of B as the sentinel: A's 4, had it been sent, would be ahead of it.
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(B, 6)));
    await waitFor(() => ticksOf('c').at(-1)?.last_price === 6);
    expect(ticksOf('c').map((t) => t.last_price)).toEqual([1, 2, 3, 5, 6]);
  });

  it('forwards each tick as the text the ingest task wrote, never decoded and encoded again', async () => {
    const { fanout, connect, gateway } = setup();
    connect('c', [A, B]);
    // Numbers written as the encoder wrote them (`250.50`, `1e-7`): a re-encoding would change them.
    const first = `{"instrument_token":${A},"last_price":250.50,"gamma":1e-7,"tradingsymbol":"X [\\"],{"}`;
    const second = `{"instrument_token":${B},"last_price":12.0}`;
    fanout.deliver('ticker:nifty:options', `[ ${first} ,${second}]`);
    fanout.deliver('ticker:nifty:options', ` ${second} `);
    await waitFor(() => gateway.received('c').length === 3);
    expect(gateway.received('c')).toEqual([
      `{"type":"tick","data":${first}}`,
      `{"type":"tick","data":${second}}`,
      `{"type":"tick","data":${second}}`,
    ]);
  });

  it('TC-WSS-031: a client gone before the tick is skipped silently, cleaned up, and the others still get it', async () => {
    const { gateway, fanout, gone, connect, ticksOf } = setup();
    connect('stays', [A]);
    connect('leaves', [A]);
    await gateway.close('leaves');
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A)));
    await waitFor(() => gone.length === 1 && ticksOf('stays').length === 1);
    expect(gone).toEqual(['leaves']);
    expect(fanout.connections).toBe(1);
    expect(fanout.counters.postErrors).toBe(0);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A)));
    await waitFor(() => ticksOf('stays').length === 2);
    expect(fanout.counters.gone).toBe(1);
  });

  it('TC-WSS-032: ten clients on one token each receive all 100 ticks sent at 100 per second, none dropped', async () => {
    const { fanout, connect, ticksOf } = setup();
    const ids = Array.from({ length: 10 }, (_, i) => `client-${i}`);
    for (const id of ids) connect(id, [A]);
    // Each tick in its own event-loop turn, as bus messages arrive; the rate itself is the
    // benchmark's concern (the memory gateway's posts take no time either way).
    for (let i = 0; i < 100; i++) {
      fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, i)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => ids.every((id) => ticksOf(id).length === 100));
    for (const id of ids)
      expect(ticksOf(id).map((t) => t.last_price)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(fanout.counters.dropped).toBe(0);
    expect(fanout.counters.throttled).toBe(0);
  });

  it('TC-PERF-031: a slow client fills only its own bounded queue; fast clients are unaffected', async () => {
    const { gateway, fanout, connect, ticksOf } = setup({ maxQueue: 20 });
    connect('fast', [A]);
    connect('slow', [A]);
    gateway.slow('slow', 50);
    // Ticks arrive over many event-loop turns, as bus messages do.
    for (let i = 0; i < 200; i++) {
      fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, i)));
      if (i % 5 === 4) await sleep(1);
    }
    await waitFor(() => ticksOf('fast').length === 200, { message: 'the fast client to get everything' });
    expect(ticksOf('slow').length).toBeLessThan(10);
    // Every tick for the slow client is either delivered or counted as dropped; the newest survive.
    await waitFor(() => ticksOf('slow').length + fanout.counters.dropped === 200, { timeoutMs: 5000 });
    expect(fanout.counters.dropped).toBeGreaterThan(100);
    expect(ticksOf('slow').at(-1)?.last_price).toBe(199);
  });

  it('backs off a throttled connection and then delivers in order', async () => {
    const { gateway, fanout, connect, ticksOf } = setup();
    connect('c', [A]);
    gateway.throttle('c', 2);
    for (let i = 0; i < 3; i++) fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, i)));
    await waitFor(() => ticksOf('c').length === 3, { timeoutMs: 3000 });
    expect(ticksOf('c').map((t) => t.last_price)).toEqual([0, 1, 2]);
    expect(fanout.counters.throttled).toBe(2);
  });

  it('batch mode sends the latest tick per token once per interval as one "ticks" message', async () => {
    const clock = new ManualClock(0);
    const { gateway, fanout } = setup({ clock });
    gateway.connect('batched');
    fanout.addConnection('batched', { mode: 'batch', intervalMs: 250 });
    fanout.subscribe('batched', [A, B]);
    for (let i = 0; i < 50; i++)
      fanout.deliver('ticker:nifty:options', JSON.stringify([tick(A, i), tick(B, 1000 + i)]));
    expect(gateway.received('batched')).toEqual([]);
    clock.advance(250);
    await waitFor(() => gateway.received('batched').length === 1);
    const message = TicksMessage.parse(JSON.parse(gateway.received('batched')[0] ?? ''));
    expect(message.data.map((t) => [t.instrument_token, t.last_price])).toEqual([
      [A, 49],
      [B, 1049],
    ]);
    // An interval with no tick sends nothing: the next flush, after one new tick, is the second
    // message and holds only that tick.
    clock.advance(250);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 50)));
    clock.advance(250);
    await waitFor(() => gateway.received('batched').length >= 2);
    expect(gateway.received('batched')).toHaveLength(2);
    const next = TicksMessage.parse(JSON.parse(gateway.received('batched')[1] ?? ''));
    expect(next.data.map((t) => [t.instrument_token, t.last_price])).toEqual([[A, 50]]);
  });

  it('batch connections sharing a token each get what changed since their own last flush, nothing from before they subscribed, and none of an unsubscribed token', async () => {
    const clock = new ManualClock(0);
    const { gateway, fanout } = setup({ clock });
    const batchesOf = (id: string) =>
      gateway
        .received(id)
        .map((m) => TicksMessage.parse(JSON.parse(m)).data.map((t) => [t.instrument_token, t.last_price]));
    for (const [id, interval] of [
      ['fast', 100],
      ['slow', 300],
    ] as const) {
      gateway.connect(id);
      fanout.addConnection(id, { mode: 'batch', intervalMs: interval });
      fanout.subscribe(id, [A, B]);
    }
    fanout.deliver('ticker:nifty:options', JSON.stringify([tick(A, 1), tick(B, 2)]));
    gateway.connect('late');
    fanout.addConnection('late', { mode: 'batch', intervalMs: 100 });
    fanout.subscribe('late', [A, B]);
    clock.advance(100);
    await waitFor(() => gateway.received('fast').length === 1);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 3)));
    fanout.unsubscribe('slow', [B]);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(B, 4)));
    clock.advance(100);
    await waitFor(() => gateway.received('fast').length === 2 && gateway.received('late').length === 1);
    clock.advance(100);
    await waitFor(() => gateway.received('slow').length === 1);
    expect(batchesOf('fast')).toEqual([
      [
        [A, 1],
        [B, 2],
      ],
      [
        [A, 3],
        [B, 4],
      ],
    ]);
    expect(batchesOf('late')).toEqual([
      [
        [A, 3],
        [B, 4],
      ],
    ]);
    expect(batchesOf('slow')).toEqual([[[A, 3]]]);
    expect(fanout.counters.deliveries).toBe(2 * 2 + 3 + 2);
  });

  it('a batch flush sends only the tokens that changed since the previous one, and nothing already sent after batch → tick → batch', async () => {
    const clock = new ManualClock(0);
    const { gateway, fanout } = setup({ clock });
    const batchAt = (n: number) =>
      TicksMessage.parse(JSON.parse(gateway.received('c')[n] ?? '')).data.map((t) => [
        t.instrument_token,
        t.last_price,
      ]);
    gateway.connect('c');
    fanout.addConnection('c', { mode: 'batch', intervalMs: 100 });
    fanout.subscribe('c', [A, B]);
    fanout.deliver('ticker:nifty:options', JSON.stringify([tick(A, 1), tick(B, 2)]));
    clock.advance(100);
    await waitFor(() => gateway.received('c').length === 1);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(B, 3)));
    clock.advance(100);
    await waitFor(() => gateway.received('c').length === 2);
    expect(batchAt(1)).toEqual([[B, 3]]);
    fanout.setDelivery('c', { mode: 'tick' });
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 4)));
    await waitFor(() => gateway.received('c').length === 3);
    fanout.setDelivery('c', { mode: 'batch', intervalMs: 100 });
    clock.advance(300);
    // A's 5 is the sentinel: anything those three flushes resent would be queued ahead of it.
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 5)));
    clock.advance(100);
    await waitFor(() => gateway.received('c').at(-1)?.includes('"last_price":5') === true);
    expect(gateway.received('c')).toHaveLength(4);
    expect(batchAt(3)).toEqual([[A, 5]]);
  });

  it('the latest known ticks on subscribe go out at once, as "tick" frames in tick mode and as one "ticks" message in batch mode', async () => {
    const clock = new ManualClock(0);
    const { gateway, fanout } = setup({ clock });
    gateway.connect('t');
    fanout.addConnection('t');
    gateway.connect('b');
    fanout.addConnection('b', { mode: 'batch', intervalMs: 1000 });
    const known = [JSON.stringify(tick(A, 11)), JSON.stringify(tick(B, 12))];
    fanout.deliverTo('t', known);
    fanout.deliverTo('b', known);
    await waitFor(() => gateway.received('t').length === 2 && gateway.received('b').length === 1);
    expect(gateway.received('t').map((m) => TickMessage.parse(JSON.parse(m)).data.last_price)).toEqual([11, 12]);
    expect(TicksMessage.parse(JSON.parse(gateway.received('b')[0] ?? '')).data.map((t) => t.last_price)).toEqual([
      11, 12,
    ]);
    expect(fanout.counters.deliveries).toBe(4);
  });

  it('leaving batch mode flushes the batch at once; index bars reach batch connections as they come', async () => {
    const clock = new ManualClock(0);
    const { gateway, fanout } = setup({ clock });
    gateway.connect('c');
    fanout.addConnection('c', { mode: 'batch', intervalMs: 1000 });
    fanout.subscribe('c', [A, 256265]);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 7)));
    fanout.deliver('ticker:nifty:underlying', JSON.stringify({ instrument_token: 256265, close: 24010 }));
    await waitFor(() => gateway.received('c').length === 1);
    expect(JSON.parse(gateway.received('c')[0] ?? '')).toMatchObject({ type: 'bar', data: { close: 24010 } });
    fanout.setDelivery('c', { mode: 'tick' });
    await waitFor(() => gateway.received('c').length === 2);
    expect(TicksMessage.parse(JSON.parse(gateway.received('c')[1] ?? '')).data.map((t) => t.last_price)).toEqual([7]);
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 8)));
    await waitFor(() => gateway.received('c').length === 3);
    expect(TickMessage.parse(JSON.parse(gateway.received('c')[2] ?? '')).data.last_price).toBe(8);
    clock.advance(5000);
    // A later tick as the sentinel: a batch flush during those 5 s would be queued ahead of it.
    fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A, 9)));
    await waitFor(() => gateway.received('c').length >= 4);
    expect(gateway.received('c')).toHaveLength(4);
    expect(TickMessage.parse(JSON.parse(gateway.received('c')[3] ?? '')).data.last_price).toBe(9);
  });

  it('TC-WSS-043: skips a malformed bus message with a log line and goes on with the next', async () => {
    const { result, logs } = await captureLogs(async (log) => {
      const gateway = new MemoryConnectionGateway();
      const fanout = new Fanout({ bus: new MemoryTickBus(), gateway, clock: new SystemClock(), logger: log });
      gateway.connect('c');
      fanout.addConnection('c');
      fanout.subscribe('c', [A]);
      fanout.deliver('ticker:nifty:options', '{not json');
      fanout.deliver('ticker:nifty:options', JSON.stringify(tick(A)));
      await waitFor(() => gateway.received('c').length === 1);
      return fanout.counters;
    });
    expect(result.malformed).toBe(1);
    expect(logs.some((l) => l.message === 'Malformed bus message skipped' && l.sample === '{not json')).toBe(true);
  });
});
