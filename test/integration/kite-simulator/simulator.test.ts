import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MalformedReason,
  modeMessage,
  parseFrame,
  parseTextMessage,
  subscribeMessage,
  unsubscribeMessage,
} from '../../../ingest-task/kite/protocol/index.js';
import type { MarketTick } from '../../../shared/contracts/tick.js';
import { type KiteSimulator, startKiteSimulator } from '../../support/kite/simulator.js';
import {
  connectKiteClient,
  type KiteTestClient,
  type ReceivedFrame,
  UpgradeRejectedError,
} from '../../support/kite/test-client.js';
import { sleep, waitFor } from '../../support/wait.js';

const ALICE = { apiKey: 'alice-key', accessToken: 'alice-token' };
const BOB = { apiKey: 'bob-key', accessToken: 'bob-token' };
/** A NIFTY option (segment 2, NFO) and the NIFTY 50 index (segment 9). */
const OPTION = 12_345_602;
const INDEX = 256_265;

const isTickFrame = (frame: ReceivedFrame) => frame.binary && frame.data.byteLength > 1;
const isHeartbeat = (frame: ReceivedFrame) => frame.binary && frame.data.byteLength === 1;
const isText = (frame: ReceivedFrame) => !frame.binary;
const ticksOf = (frame: ReceivedFrame): MarketTick[] => parseFrame(frame.data, frame.atMs).ticks;

describe('Kite simulator', () => {
  let simulator: KiteSimulator;
  const clients: KiteTestClient[] = [];

  async function connect(credentials = ALICE): Promise<KiteTestClient> {
    const client = await connectKiteClient(simulator.connectUrl(credentials.apiKey, credentials.accessToken));
    clients.push(client);
    return client;
  }

  async function rejection(url: string): Promise<UpgradeRejectedError> {
    const error = await connectKiteClient(url).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof UpgradeRejectedError))
      throw new Error(`Expected an upgrade rejection, got ${String(error)}`);
    return error;
  }

  /** Waits for the next tick frame after everything received so far, and parses it. */
  async function nextTicks(client: KiteTestClient): Promise<MarketTick[]> {
    return ticksOf(await client.nextFrame(isTickFrame, { from: client.frames.length }));
  }

  beforeEach(async () => {
    simulator = await startKiteSimulator({ accounts: [ALICE, BOB], tickIntervalMs: 40, heartbeatIntervalMs: 100 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await simulator.stop();
  });

  describe('upgrade', () => {
    it('answers HTTP 403 to a wrong or missing access token or api key', async () => {
      expect((await rejection(simulator.connectUrl(ALICE.apiKey, 'expired'))).statusCode).toBe(403);
      expect((await rejection(simulator.connectUrl('nobody', ALICE.accessToken))).statusCode).toBe(403);
      expect((await rejection(`${simulator.url}?api_key=${ALICE.apiKey}`)).statusCode).toBe(403);
      const error = await rejection(simulator.url);
      expect(error.statusCode).toBe(403);
      expect(JSON.parse(error.body)).toMatchObject({ error_type: 'TokenException' });
      expect(simulator.counters().rejected.forbidden).toBe(4);
      expect(simulator.connections()).toEqual([]);
    });

    it('answers HTTP 429 to the fourth concurrent connection of one api key, and admits one after a close', async () => {
      const [first] = [await connect(), await connect(), await connect()];
      expect((await rejection(simulator.connectUrl(ALICE.apiKey, ALICE.accessToken))).statusCode).toBe(429);
      await connect(BOB);
      expect(simulator.counters().rejected.tooManyConnections).toBe(1);

      await first?.close();
      await waitFor(() => simulator.connections().filter((c) => c.apiKey === ALICE.apiKey).length === 2);
      await connect();
      expect(simulator.counters().connectionsAccepted).toBe(5);
    });

    it('keeps open connections when a token expires but refuses the old token at the next upgrade', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION]));
      await nextTicks(client);
      simulator.setAccessToken(ALICE.apiKey, 'renewed');
      await nextTicks(client);
      expect((await rejection(simulator.connectUrl(ALICE.apiKey, ALICE.accessToken))).statusCode).toBe(403);
      await connect({ apiKey: ALICE.apiKey, accessToken: 'renewed' });
    });
  });

  describe('subscriptions', () => {
    it('streams subscribed tokens in quote mode by default, as frames parseFrame decodes', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION, INDEX]));
      await waitFor(() => simulator.connections()[0]?.tokens.length === 2);
      const ticks = await nextTicks(client);
      expect(ticks.map((t) => [t.instrumentToken, t.mode, t.tradable])).toEqual([
        [OPTION, 'quote', true],
        [INDEX, 'quote', false],
      ]);
      const [option, index] = ticks;
      expect(option?.volumeTraded).toBeGreaterThan(0);
      expect(option?.ohlc?.close).toBeGreaterThan(0);
      expect(index?.lastPrice).toBeGreaterThan(1000);
      expect(index?.volumeTraded).toBeUndefined();
      const [connection] = simulator.connections();
      expect(connection?.apiKey).toBe(ALICE.apiKey);
      expect(connection?.modes).toEqual(
        new Map([
          [OPTION, 'quote'],
          [INDEX, 'quote'],
        ]),
      );
    });

    it('switches a token to the mode a mode message names', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION, INDEX]));
      client.send(modeMessage('full', [OPTION, INDEX]));
      await waitFor(() => simulator.connections()[0]?.modes.get(INDEX) === 'full');
      const full = await nextTicks(client);
      expect(full.map((t) => t.mode)).toEqual(['full', 'full']);
      expect(full[0]?.depth?.buy).toHaveLength(5);
      expect(full[0]?.exchangeTimestampMs).toBeGreaterThan(0);
      expect(full[1]?.exchangeTimestampMs).toBeGreaterThan(0);
      expect(full[1]?.depth).toBeUndefined();

      client.send(modeMessage('ltp', [OPTION]));
      await waitFor(() => simulator.connections()[0]?.modes.get(OPTION) === 'ltp');
      const mixed = await nextTicks(client);
      expect(mixed.map((t) => [t.instrumentToken, t.mode])).toEqual([
        [OPTION, 'ltp'],
        [INDEX, 'full'],
      ]);
      expect(Object.keys(mixed[0] ?? {}).sort()).toEqual(
        ['instrumentToken', 'lastPrice', 'mode', 'receivedAtMs', 'tradable'].sort(),
      );
    });

    it('stops streaming a token after unsubscribe and ignores a mode for tokens not subscribed', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION, INDEX]));
      client.send(unsubscribeMessage([INDEX]));
      client.send(modeMessage('full', [INDEX]));
      await waitFor(() => simulator.counters().clientMessages === 3);
      expect((await nextTicks(client)).map((t) => t.instrumentToken)).toEqual([OPTION]);
      expect(simulator.connections()[0]?.tokens).toEqual([OPTION]);
    });

    it('subscribes at most 3000 tokens per connection and answers the excess with an error frame', async () => {
      const client = await connect();
      const tokens = Array.from({ length: 3005 }, (_, i) => ((1000 + i) << 8) | 2);
      client.send(subscribeMessage(tokens));
      const error = await client.nextFrame(isText);
      const message = parseTextMessage(error.data);
      expect(message.type).toBe('error');
      expect(message.type === 'error' && message.data).toMatch(/3000 instruments per connection.*5 not subscribed/);
      const [connection] = simulator.connections();
      expect(connection?.tokens).toHaveLength(3000);
      expect(connection?.tokens.at(-1)).toBe(tokens[2999]);
      expect(await nextTicks(client)).toHaveLength(3000);
    });

    it('answers a message it cannot read with an error frame and keeps the connection', async () => {
      const client = await connect();
      client.send('{"a":"subscribe","v":["not-a-number"]}');
      const message = parseTextMessage((await client.nextFrame(isText)).data);
      expect(message).toEqual({ type: 'error', data: 'Invalid message' });
      expect(simulator.counters().invalidClientMessages).toBe(1);
      client.send(subscribeMessage([OPTION]));
      expect(await nextTicks(client)).toHaveLength(1);
    });
  });

  describe('heartbeats', () => {
    it('sends one-byte heartbeats to an idle connection and none while ticks flow', async () => {
      // Ticks ten times as often as heartbeats, so a busy test machine cannot leave a heartbeat interval tickless.
      await simulator.stop();
      simulator = await startKiteSimulator({ accounts: [ALICE], tickIntervalMs: 20, heartbeatIntervalMs: 200 });
      const client = await connect();
      await client.nextFrame(isHeartbeat);
      const second = await client.nextFrame(isHeartbeat, { from: client.frames.length });
      expect(parseFrame(second.data, second.atMs)).toEqual({ ticks: [], malformed: 0 });

      client.send(subscribeMessage([OPTION]));
      const firstTick = await client.nextFrame(isTickFrame, { from: client.frames.length });
      const from = client.frames.indexOf(firstTick);
      await sleep(600);
      const after = client.frames.slice(from);
      expect(after.filter(isTickFrame).length).toBeGreaterThanOrEqual(10);
      expect(after.filter(isHeartbeat)).toEqual([]);
      expect(simulator.counters().heartbeats).toBeGreaterThanOrEqual(2);
    });
  });

  describe('faults', () => {
    it('stall keeps the socket open but sends nothing, heartbeats included, until resume', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION]));
      await nextTicks(client);
      const [connection] = simulator.connections();
      simulator.stall(connection?.id);
      await sleep(60);
      const count = client.frames.length;
      await sleep(400);
      expect(client.frames.length).toBe(count);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      expect(simulator.connections()[0]?.stalled).toBe(true);
      expect(simulator.counters().suppressedFrames).toBeGreaterThan(0);

      simulator.resume(connection?.id);
      expect(await nextTicks(client)).toHaveLength(1);
    });

    it('stall without an id silences every connection, including ones that connect during it', async () => {
      const first = await connect();
      simulator.stall();
      const second = await connect(BOB);
      await sleep(60);
      const counts = [first.frames.length, second.frames.length];
      await sleep(300);
      expect([first.frames.length, second.frames.length]).toEqual(counts);
      simulator.resume();
      await Promise.all([first, second].map((c) => c.nextFrame(isHeartbeat, { from: c.frames.length })));
    });

    it('drop destroys the TCP connection without a close frame', async () => {
      const client = await connect();
      const other = await connect();
      const [connection] = simulator.connections();
      simulator.drop(connection?.id);
      expect((await client.closed).code).toBe(1006);
      await waitFor(() => simulator.connections().length === 1);
      expect(other.socket.readyState).toBe(other.socket.OPEN);
    });

    it('slow delays every frame by the given time', async () => {
      const client = await connect();
      simulator.slow(250);
      const from = client.frames.length;
      const sentAt = Date.now();
      expect(simulator.sendOrderUpdate(ALICE.apiKey, { order_id: '1' })).toBe(1);
      const frame = await client.nextFrame(isText, { from });
      expect(frame.atMs - sentAt).toBeGreaterThanOrEqual(240);
      simulator.slow(0);
    });

    it('sendMalformed sends a frame a parser survives: one tick kept, two problems reported', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION]));
      await nextTicks(client);
      const from = client.frames.length;
      expect(simulator.sendMalformed()).toBe(1);
      const reasons: string[] = [];
      const malformedFrame = await client.nextFrame(
        (frame) => frame.binary && parseFrame(frame.data, 0).malformed > 0,
        { from },
      );
      const { ticks, malformed } = parseFrame(malformedFrame.data, 0, (p) => reasons.push(p.reason));
      expect(ticks.map((t) => t.instrumentToken)).toEqual([INDEX]);
      expect(malformed).toBe(2);
      expect(reasons).toEqual([MalformedReason.unknownLength, MalformedReason.truncated]);
      expect(await nextTicks(client)).toHaveLength(1);
      expect(simulator.counters().malformedFrames).toBe(1);
    });

    it('restart closes every connection and accepts new ones on the same URL without the old subscriptions', async () => {
      const client = await connect();
      client.send(subscribeMessage([OPTION]));
      await nextTicks(client);
      const url = simulator.url;
      await simulator.restart();
      expect((await client.closed).code).toBe(1006);
      expect(simulator.url).toBe(url);
      const again = await connect();
      expect(simulator.connections().map((c) => c.tokens)).toEqual([[]]);
      again.send(subscribeMessage([OPTION]));
      expect(await nextTicks(again)).toHaveLength(1);
      expect(simulator.counters().connectionsAccepted).toBe(2);
    });
  });

  describe('order postbacks', () => {
    it('sends an order update as a text frame to every connection of that api key only', async () => {
      const [a1, a2, b] = [await connect(), await connect(), await connect(BOB)];
      const order = { order_id: '151220000000000', status: 'COMPLETE', filled_quantity: 50 };
      expect(simulator.sendOrderUpdate(ALICE.apiKey, order)).toBe(2);
      for (const client of [a1, a2]) {
        expect(parseTextMessage((await client.nextFrame(isText)).data)).toEqual({ type: 'order', data: order });
      }
      await sleep(50);
      expect(b.frames.filter(isText)).toEqual([]);
      expect(simulator.sendMessage(BOB.apiKey, 'Exchange maintenance at 17:00')).toBe(1);
      expect(parseTextMessage((await b.nextFrame(isText)).data)).toEqual({
        type: 'message',
        data: 'Exchange maintenance at 17:00',
      });
    });
  });
});
