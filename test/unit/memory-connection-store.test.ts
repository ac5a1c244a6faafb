import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/adapters/manual-clock.js';
import { MemoryConnectionStore } from '../../shared/adapters/memory/memory-connection-store.js';
import { connectionStoreContract } from '../support/connection-store-contract.js';

connectionStoreContract('memory', async (clock) => ({ store: new MemoryConnectionStore({ clock }) }), {
  propertyRuns: 300,
});

describe('MemoryConnectionStore', () => {
  it('does not bring back an expired record’s tokens when the id is put again', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryConnectionStore({ clock });
    await store.put({
      connectionId: 'c1',
      userId: 'u1',
      email: null,
      name: null,
      tokens: [5],
      delivery: 'tick',
      batchIntervalMs: null,
      connectedAt: 1_000_000,
      expiresAt: 1_010,
    });
    clock.advance(10_000);
    expect(await store.get('c1')).toBeUndefined();
    await store.put({
      connectionId: 'c1',
      userId: 'u1',
      email: null,
      name: null,
      tokens: [6],
      delivery: 'tick',
      batchIntervalMs: null,
      connectedAt: clock.now(),
      expiresAt: 2_000,
    });
    expect(await store.get('c1')).toMatchObject({ tokens: [6] });
  });
});
