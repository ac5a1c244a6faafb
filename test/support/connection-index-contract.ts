import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConnectionIndex, IndexedConnection } from '../../shared/ports/connection-index.js';

/** An index that starts empty for one test, and how to remove what it leaves behind. */
export interface OpenedConnectionIndex {
  readonly index: ConnectionIndex;
  dispose(): Promise<void>;
}

/** Opens a fresh, empty index that decides expiry by `clock`. */
export type ConnectionIndexFactory = (clock: Clock) => Promise<OpenedConnectionIndex>;

const START_MS = Date.UTC(2025, 0, 8, 3, 45, 0);
const LIFETIME_S = 2 * 3600 + 600;

function connection(connectionId: string, overrides: Partial<IndexedConnection> = {}): IndexedConnection {
  return {
    connectionId,
    userId: `user-${connectionId}`,
    tokens: [],
    delivery: 'tick',
    batchIntervalMs: null,
    expiresAt: START_MS / 1000 + LIFETIME_S,
    ...overrides,
  };
}

const byId = (all: readonly IndexedConnection[]) =>
  [...all].sort((a, b) => a.connectionId.localeCompare(b.connectionId));

/** The one contract every {@link ConnectionIndex} adapter passes (docs/architecture.md, "Ports and adapters"). */
export function connectionIndexContract(adapter: string, factory: ConnectionIndexFactory): void {
  describe(`ConnectionIndex contract: ${adapter}`, () => {
    const teardown: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of teardown.splice(0).reverse()) await step();
    });
    const open = async () => {
      const clock = new ManualClock(START_MS);
      const opened = await factory(clock);
      teardown.push(() => opened.dispose());
      return { index: opened.index, clock };
    };

    it('replaceTokens keeps the latest version whatever order the versions arrive in', async () => {
      const { index } = await open();
      await index.put(connection('c1', { tokens: [1] }));
      expect(await index.replaceTokens('c1', [2, 3], 2)).toBe(true);
      // Version 1 arrives late: it changes nothing.
      expect(await index.replaceTokens('c1', [1, 4], 1)).toBe(true);
      expect(await index.connectionsFor(1)).toEqual([]);
      expect(await index.connectionsFor(4)).toEqual([]);
      expect(await index.connectionsFor(3)).toEqual(['c1']);
      expect(await index.replaceTokens('c1', [], 3)).toBe(true);
      expect(await index.connectionsFor(2)).toEqual([]);
      expect((await index.snapshot()).find((c) => c.connectionId === 'c1')).toMatchObject({ tokens: [], version: 3 });
      expect(await index.replaceTokens('ghost', [1], 1)).toBe(false);
    });

    it('lists the holders of a token, sorted, and follows adds and removes', async () => {
      const { index } = await open();
      await index.put(connection('c2', { tokens: [5, 6] }));
      await index.put(connection('c1', { tokens: [6] }));
      expect(await index.connectionsFor(6)).toEqual(['c1', 'c2']);
      expect(await index.addTokens('c1', [5, 7])).toBe(true);
      expect(await index.connectionsFor(5)).toEqual(['c1', 'c2']);
      expect(await index.removeTokens('c2', [5, 6])).toBe(true);
      expect(await index.connectionsFor(5)).toEqual(['c1']);
      expect(await index.connectionsFor(6)).toEqual(['c1']);
      expect(await index.connectionsFor(7)).toEqual(['c1']);
      expect(await index.connectionsFor(8)).toEqual([]);
    });

    it('replaces everything on a second put, the old tokens included', async () => {
      const { index } = await open();
      await index.put(connection('c1', { tokens: [1, 2] }));
      const replacement = { tokens: [3], delivery: 'batch', batchIntervalMs: 500, userId: 'someone-else' } as const;
      await index.put(connection('c1', replacement));
      expect(await index.connectionsFor(1)).toEqual([]);
      expect(await index.connectionsFor(3)).toEqual(['c1']);
      expect(await index.snapshot()).toEqual([connection('c1', replacement)]);
    });

    it('removes a connection from every token; removing again, or an unknown id, is a no-op', async () => {
      const { index } = await open();
      await index.put(connection('c1', { tokens: [1, 2] }));
      await index.put(connection('c2', { tokens: [2] }));
      await index.remove('c1');
      await index.remove('c1');
      await index.remove('never');
      expect(await index.connectionsFor(1)).toEqual([]);
      expect(await index.connectionsFor(2)).toEqual(['c2']);
      expect((await index.snapshot()).map((c) => c.connectionId)).toEqual(['c2']);
    });

    it('answers false, and changes nothing, for token and delivery changes of a connection it does not know', async () => {
      const { index } = await open();
      expect(await index.addTokens('ghost', [1])).toBe(false);
      expect(await index.removeTokens('ghost', [1])).toBe(false);
      expect(await index.setDelivery('ghost', 'batch', 250)).toBe(false);
      await index.put(connection('c1', { tokens: [1] }));
      await index.remove('c1');
      expect(await index.addTokens('c1', [2])).toBe(false);
      expect(await index.connectionsFor(1)).toEqual([]);
      expect(await index.connectionsFor(2)).toEqual([]);
      expect(await index.snapshot()).toEqual([]);
    });

    it('loads every live connection with its user, tokens and delivery in a snapshot', async () => {
      const { index } = await open();
      await index.put(connection('a', { tokens: [3, 1, 2], userId: 'asha' }));
      await index.put(connection('b'));
      await index.setDelivery('b', 'batch', 1000);
      await index.addTokens('b', [9]);
      expect(byId(await index.snapshot())).toEqual([
        connection('a', { tokens: [1, 2, 3], userId: 'asha' }),
        connection('b', { tokens: [9], delivery: 'batch', batchIntervalMs: 1000 }),
      ]);
      await index.setDelivery('b', 'tick', null);
      expect(byId(await index.snapshot())[1]).toEqual(connection('b', { tokens: [9] }));
    });

    it('leaves a connection out of everything once its expiresAt has passed, and refuses changes to it', async () => {
      const { index, clock } = await open();
      await index.put(connection('short', { tokens: [4], expiresAt: START_MS / 1000 + 60 }));
      await index.put(connection('long', { tokens: [4] }));
      clock.advance(59_999);
      expect(await index.connectionsFor(4)).toEqual(['long', 'short']);
      clock.advance(1);
      expect(await index.connectionsFor(4)).toEqual(['long']);
      expect((await index.snapshot()).map((c) => c.connectionId)).toEqual(['long']);
      expect(await index.addTokens('short', [5])).toBe(false);
      expect(await index.connectionsFor(5)).toEqual([]);
      // Put again with a later expiry, it is back, with only its new tokens.
      await index.put(connection('short', { tokens: [6], expiresAt: clock.now() / 1000 + 600 }));
      expect(await index.connectionsFor(4)).toEqual(['long']);
      expect(await index.connectionsFor(6)).toEqual(['short']);
    });

    it('loses nothing to concurrent token changes on many connections', async () => {
      const { index } = await open();
      const ids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
      await Promise.all(ids.map((id) => index.put(connection(id, { tokens: [1] }))));
      await Promise.all(ids.flatMap((id, i) => [index.addTokens(id, [100 + i, 500]), index.removeTokens(id, [1])]));
      expect(await index.connectionsFor(500)).toEqual(ids);
      expect(await index.connectionsFor(1)).toEqual([]);
      expect(await index.connectionsFor(105)).toEqual(['c05']);
    });
  });
}
