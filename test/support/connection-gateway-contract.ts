import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.js';
import type { ConnectionGateway } from '../../shared/ports/connection-gateway.js';

/** What a management-API emulator is known to do otherwise than API Gateway. */
export interface GatewayLimitations {
  /**
   * Every connection id is a live connection and a closed one comes back on the next post: moto 5
   * keeps connections in a `defaultdict`, so PostToConnection never answers 410 `GoneException`.
   */
  readonly neverGone?: boolean;
}

/** A gateway for one test and the clients behind it. */
export interface OpenedConnectionGateway {
  readonly gateway: ConnectionGateway;
  /** Connects a client and answers its connection id. */
  connect(): Promise<string>;
  /**
   * Waits until the client of `connectionId` has received `count` messages and answers all it
   * received, in order; absent where the target keeps posted data out of reach (moto).
   */
  received?(connectionId: string, count: number): Promise<readonly string[]>;
  /** The client goes away on its own. */
  disconnect(connectionId: string): Promise<void>;
  dispose?(): Promise<void>;
}

/** The message limit of API Gateway WebSocket APIs, in UTF-8 bytes. */
const LIMIT = 128 * 1024;

/**
 * What every {@link ConnectionGateway} guarantees (the port's TSDoc): a payload reaches the client
 * as sent, a connection that is gone answers `gone` (never an error), a payload over 128 KB in
 * UTF-8 is a `ValidationError` before anything is sent, and `close` is idempotent.
 */
export function connectionGatewayContract(
  name: string,
  factory: () => Promise<OpenedConnectionGateway>,
  limitations: GatewayLimitations = {},
): void {
  describe(`${name} (ConnectionGateway contract)`, () => {
    let opened: OpenedConnectionGateway | undefined;
    const open = async () => {
      opened = await factory();
      return opened;
    };
    afterEach(async () => {
      await opened?.dispose?.();
      opened = undefined;
    });

    it('delivers each payload to its connection as sent, in order', async () => {
      const g = await open();
      const [a, b] = [await g.connect(), await g.connect()];
      const tick = JSON.stringify({
        type: 'tick',
        data: { instrument_token: 256_265, last_price: 24_010.5, note: 'ā₹' },
      });
      expect(await g.gateway.post(a, tick)).toBe('sent');
      expect(await g.gateway.post(a, '{"type":"pong"}')).toBe('sent');
      expect(await g.gateway.post(b, '{"type":"pong"}')).toBe('sent');
      if (g.received) {
        expect(await g.received(a, 2)).toEqual([tick, '{"type":"pong"}']);
        expect(await g.received(b, 1)).toEqual(['{"type":"pong"}']);
      }
    });

    it('sends a payload of exactly 128 KB and refuses one byte more (a multi-byte character) before sending it', async () => {
      const g = await open();
      const id = await g.connect();
      const full = 'x'.repeat(LIMIT);
      expect(await g.gateway.post(id, full)).toBe('sent');
      const over = `${'x'.repeat(LIMIT - 1)}é`;
      await expect(g.gateway.post(id, over)).rejects.toBeInstanceOf(ValidationError);
      await expect(g.gateway.post(id, over)).rejects.toMatchObject({ details: [{ path: 'payload' }] });
      expect(await g.gateway.post(id, 'after')).toBe('sent');
      if (g.received) expect(await g.received(id, 2)).toEqual([full, 'after']);
    });

    it('answers gone for a connection whose client left, and closes idempotently', async () => {
      const g = await open();
      const left = await g.connect();
      const closed = await g.connect();
      await g.disconnect(left);
      await g.gateway.close(closed);
      await g.gateway.close(closed);
      await g.gateway.close('never-connected');
      // moto answers every post with 200 (GatewayLimitations.neverGone); API Gateway answers 410.
      if (limitations.neverGone) return;
      expect(await g.gateway.post(left, '{}')).toBe('gone');
      expect(await g.gateway.post(closed, '{}')).toBe('gone');
      expect(await g.gateway.post('never-connected', '{}')).toBe('gone');
    });
  });
}
