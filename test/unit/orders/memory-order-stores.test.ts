import { MemoryBreakerStore } from '../../../shared/adapters/memory/memory-breaker-store.js';
import { MemoryOrderStore } from '../../../shared/adapters/memory/memory-order-store.js';
import { breakerStoreContract } from '../../support/breaker-store-contract.js';
import { orderStoreContract } from '../../support/order-store-contract.js';

orderStoreContract('memory', async () => ({ store: new MemoryOrderStore() }));
breakerStoreContract('memory', async () => ({ store: new MemoryBreakerStore() }));
