import { randomUUID } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { DynamoDbBreakerStore } from '../../../shared/adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbOrderStore } from '../../../shared/adapters/dynamodb/dynamodb-order-store.js';
import { breakerStoreContract } from '../../support/breaker-store-contract.js';
import { orderStoreContract } from '../../support/order-store-contract.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

/** Every table under a fresh prefix: each test starts from empty tables. */
async function freshPrefix(): Promise<string> {
  const tablePrefix = `ord-${randomUUID().slice(0, 8)}`;
  await ensureTables(client, tablePrefix);
  return tablePrefix;
}

orderStoreContract('dynamodb', async () => ({
  store: new DynamoDbOrderStore({ client, tablePrefix: await freshPrefix() }),
}));
breakerStoreContract('dynamodb', async () => ({
  store: new DynamoDbBreakerStore({ client, tablePrefix: await freshPrefix() }),
}));
