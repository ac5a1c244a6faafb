import { describe, expect, it } from 'vitest';
import { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
import { subscriptionStoreContract } from '../support/subscription-store-contract.js';

subscriptionStoreContract('memory', async () => ({ store: new MemorySubscriptionStore() }), { propertyRuns: 200 });

describe('MemorySubscriptionStore', () => {
  it('hands out copies: mutating a returned record does not change the store', async () => {
    const store = new MemorySubscriptionStore();
    const created = await store.upsert(
      {
        instrumentToken: 256_265,
        tradingsymbol: 'NIFTY 50',
        segment: 'INDICES',
        status: 'active',
        requestedMode: 'FULL',
        accountId: null,
      },
      1_000,
    );
    (created as { status: string }).status = 'inactive';
    const listed = await store.listActive();
    (listed[0] as { tradingsymbol: string }).tradingsymbol = 'changed';
    expect(await store.get(256_265)).toMatchObject({ status: 'active', tradingsymbol: 'NIFTY 50' });
  });
});
