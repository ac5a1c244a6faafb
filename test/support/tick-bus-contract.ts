import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../shared/errors.js';
import type { TickBus } from '../../shared/ports/tick-bus.js';
import { waitFor } from './wait.js';

/** Builds a fresh bus for one test; `onHandlerError` must be wired to the adapter's hook. */
export type TickBusFactory = (hooks: { onHandlerError: (error: unknown, channel: string) => void }) => Promise<TickBus>;

interface Received {
  channel: string;
  message: string;
}

/**
 * The one contract every {@link TickBus} adapter passes (docs/architecture.md): each adapter's test file
 * calls this with its factory. Channel names carry a random prefix so tests sharing a server do
 * not see each other's messages.
 */
export function tickBusContract(adapter: string, create: TickBusFactory): void {
  describe(`TickBus contract: ${adapter}`, () => {
    const open: TickBus[] = [];
    const handlerErrors: unknown[] = [];
    const ns = () => `t${randomUUID().slice(0, 8)}`;
    const bus = async () => {
      const b = await create({ onHandlerError: (error) => handlerErrors.push(error) });
      open.push(b);
      return b;
    };
    const collector = () => {
      const got: Received[] = [];
      return { got, handler: (channel: string, message: string) => got.push({ channel, message }) };
    };
    // Silence is asserted behind a sentinel published after the unwanted message on a channel of
    // its own. The contract orders one channel only, so this leans on both adapters delivering a
    // bus's subscriptions through one stream: one Redis connection, which gets the messages of the
    // publishes it matched in the order the server ran them (each publish here is awaited), or the
    // memory bus's one microtask queue. Once the sentinel is in, the unwanted message would be too.
    const sentinel = async (b: TickBus, p: string) => {
      const channel = `${p}:sentinel`;
      const { got, handler } = collector();
      await b.subscribe(channel, handler);
      return {
        send: async () => {
          await b.publish(channel, 'sentinel');
          await waitFor(() => got.length === 1, { message: 'the sentinel' });
        },
      };
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
      handlerErrors.length = 0;
    });

    it('delivers a published message to a channel subscriber byte for byte', async () => {
      const b = await bus();
      const channel = `${ns()}:nifty:options`;
      const { got, handler } = collector();
      await b.subscribe(channel, handler);
      const message = JSON.stringify({ instrument_token: 256265, last_price: 250.05, tradingsymbol: 'NIFTY₹' });
      await b.publish(channel, message);
      await waitFor(() => got.length === 1);
      expect(got).toEqual([{ channel, message }]);
    });

    it('delivers a message published as UTF-8 bytes as its text, from a view into a larger buffer', async () => {
      const b = await bus();
      const channel = `${ns()}:nifty:options`;
      const { got, handler } = collector();
      await b.subscribe(channel, handler);
      const message = JSON.stringify({ instrument_token: 256265, tradingsymbol: 'NIFTY₹', last_price: 250.05 });
      const bytes = new TextEncoder().encode(message);
      const arena = new Uint8Array(bytes.length + 20).fill(0x78);
      arena.set(bytes, 7);
      await b.publish(channel, arena.subarray(7, 7 + bytes.length));
      await waitFor(() => got.length === 1);
      expect(got).toEqual([{ channel, message }]);
    });

    it('resolves a publish with how many subscriptions received it, 0 when nobody listens', async () => {
      const b = await bus();
      const channel = `${ns()}:nifty:options`;
      expect(await b.publish(channel, '{}')).toBe(0);
      const { got, handler } = collector();
      await b.subscribe(channel, handler);
      expect(await b.publish(channel, '{"a":1}')).toBe(1);
      await waitFor(() => got.length === 1);
    });

    it('keeps the publish order of one channel', async () => {
      const b = await bus();
      const channel = `${ns()}:order`;
      const { got, handler } = collector();
      await b.subscribe(channel, handler);
      const count = 2000;
      await Promise.all(Array.from({ length: count }, (_, i) => b.publish(channel, String(i))));
      await waitFor(() => got.length === count);
      expect(got.map((r) => Number(r.message))).toEqual(Array.from({ length: count }, (_, i) => i));
    });

    it('matches patterns as Redis globs against the whole channel and reports the concrete channel', async () => {
      const b = await bus();
      const p = ns();
      const star = collector();
      const question = collector();
      const klass = collector();
      const negated = collector();
      const escaped = collector();
      await b.psubscribe(`${p}:ticker:*`, star.handler);
      await b.psubscribe(`${p}:ticker:?ifty:options`, question.handler);
      await b.psubscribe(`${p}:ticker:[bn]*:underlying`, klass.handler);
      await b.psubscribe(`${p}:ticker:[^n]*`, negated.handler);
      await b.psubscribe(`${p}:lit\\*`, escaped.handler);
      const last = await sentinel(b, p);
      const channels = [
        `${p}:ticker:nifty:options`,
        `${p}:ticker:banknifty:underlying`,
        `${p}:ticker:finnifty:options`,
        `${p}:control:subscriptions`,
        `${p}:lit*`,
        `${p}:litx`,
        `x${p}:ticker:nifty:options`,
      ];
      for (const channel of channels) await b.publish(channel, channel);
      await last.send();
      expect(star.got.map((r) => r.channel)).toEqual(channels.slice(0, 3));
      expect(star.got.every((r) => r.channel === r.message)).toBe(true);
      expect(question.got.map((r) => r.channel)).toEqual([`${p}:ticker:nifty:options`]);
      expect(klass.got.map((r) => r.channel)).toEqual([`${p}:ticker:banknifty:underlying`]);
      expect(negated.got.map((r) => r.channel)).toEqual([
        `${p}:ticker:banknifty:underlying`,
        `${p}:ticker:finnifty:options`,
      ]);
      expect(escaped.got.map((r) => r.channel)).toEqual([`${p}:lit*`]);
    });

    it('gives every handler its own copy and unsubscribes one handler only', async () => {
      const b = await bus();
      const channel = `${ns()}:multi`;
      const first = collector();
      const second = collector();
      const pattern = collector();
      const sub1 = await b.subscribe(channel, first.handler);
      await b.subscribe(channel, second.handler);
      await b.psubscribe(`${channel.split(':')[0]}:*`, pattern.handler);
      await b.publish(channel, 'one');
      await waitFor(() => first.got.length === 1 && second.got.length === 1 && pattern.got.length === 1);
      await sub1.unsubscribe();
      await b.publish(channel, 'two');
      // No wait for `first`: it shares the channel with `second`, and one message reaches every
      // handler of a channel in one dispatch (one microtask, or one Redis message event).
      await waitFor(() => second.got.length === 2 && pattern.got.length === 2);
      expect(first.got.map((r) => r.message)).toEqual(['one']);
      expect(second.got.map((r) => r.message)).toEqual(['one', 'two']);
      expect(pattern.got.map((r) => r.message)).toEqual(['one', 'two']);
    });

    it('delivers nothing after the last handler unsubscribes, and nothing published before subscribing', async () => {
      const b = await bus();
      const channel = `${ns()}:gone`;
      const { got, handler } = collector();
      const last = await sentinel(b, ns());
      await b.publish(channel, 'before');
      const sub = await b.subscribe(channel, handler);
      const psub = await b.psubscribe(`${channel}*`, handler);
      await b.publish(channel, 'during');
      await waitFor(() => got.length === 2);
      await sub.unsubscribe();
      await psub.unsubscribe();
      await b.publish(channel, 'after');
      await last.send();
      expect(got.map((r) => r.message)).toEqual(['during', 'during']);
    });

    it('never runs a handler inside publish', async () => {
      const b = await bus();
      const channel = `${ns()}:async`;
      let calls = 0;
      await b.subscribe(channel, () => {
        calls++;
      });
      const pending = b.publish(channel, 'x');
      expect(calls).toBe(0);
      await pending;
      await waitFor(() => calls === 1);
    });

    it('isolates a handler that throws: it is reported and delivery goes on', async () => {
      const b = await bus();
      const channel = `${ns()}:faulty`;
      const healthy = collector();
      await b.subscribe(channel, () => {
        throw new Error('handler bug');
      });
      await b.subscribe(channel, healthy.handler);
      await b.publish(channel, '1');
      await b.publish(channel, '2');
      await waitFor(() => healthy.got.length === 2 && handlerErrors.length === 2);
      expect(handlerErrors.every((e) => e instanceof Error && e.message === 'handler bug')).toBe(true);
    });

    it('lets a handler publish (no re-entrancy problems)', async () => {
      const b = await bus();
      const p = ns();
      const echoed = collector();
      await b.subscribe(`${p}:in`, (_channel, message) => {
        void b.publish(`${p}:out`, `echo ${message}`);
      });
      await b.subscribe(`${p}:out`, echoed.handler);
      await b.publish(`${p}:in`, 'hello');
      await waitFor(() => echoed.got.length === 1);
      expect(echoed.got[0]?.message).toBe('echo hello');
    });

    it('answers check() while open, and rejects use after close with DependencyUnavailableError', async () => {
      const b = await create({ onHandlerError: () => {} });
      await expect(b.check()).resolves.toBeUndefined();
      await b.close();
      await expect(b.publish(`${ns()}:closed`, 'x')).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(b.subscribe(`${ns()}:closed`, () => {})).rejects.toBeInstanceOf(DependencyUnavailableError);
      await expect(b.check()).rejects.toBeInstanceOf(DependencyUnavailableError);
    });
  });
}
