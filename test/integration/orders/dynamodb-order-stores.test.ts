import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { DynamoDbBreakerStore } from '../../../shared/adapters/dynamodb/dynamodb-breaker-store.js';
import { DynamoDbOrderStore } from '../../../shared/adapters/dynamodb/dynamodb-order-store.js';
import { Tables } from '../../../shared/tables.js';
import { breakerStoreContract } from '../../support/breaker-store-contract.js';
import { MOTO_LIMITATIONS } from '../../support/known-limitations.js';
import { placeOrderTask } from '../../support/order-fixtures.js';
import { orderStoreContract } from '../../support/order-store-contract.js';
import { motoTablePrefix, sharedMoto } from '../../support/shared-moto.js';

const client = localDynamoDbClient(inject('dynamodbEndpoint'));
afterAll(() => client.destroy());

const moto = sharedMoto();

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

// The same suites against moto's DynamoDB, an implementation nobody here wrote.
orderStoreContract(
  'dynamodb (moto)',
  async () => {
    const motoClient = await moto.dynamodb();
    const tablePrefix = await motoTablePrefix(motoClient, Tables.orders, Tables.brokerOrders);
    return { store: new DynamoDbOrderStore({ client: motoClient, tablePrefix }) };
  },
  MOTO_LIMITATIONS,
);
breakerStoreContract(
  'dynamodb (moto)',
  async () => {
    const motoClient = await moto.dynamodb();
    const tablePrefix = await motoTablePrefix(motoClient, Tables.breakers);
    return { store: new DynamoDbBreakerStore({ client: motoClient, tablePrefix }) };
  },
  MOTO_LIMITATIONS,
);

describe('DynamoDbOrderStore: broker news from stores in several processes', () => {
  const T0 = Date.UTC(2026, 11, 7, 4, 30, 0);
  const placed = { orderId: 'O1', paper: false, status: 'PLACED' } as const;
  const open = { orderId: 'O1', status: 'OPEN', filledQuantity: 0, exchangeUpdateTimestamp: '2026-12-07 10:00:01' };
  const complete = {
    orderId: 'O1',
    status: 'COMPLETE',
    filledQuantity: 65,
    pendingQuantity: 0,
    exchangeUpdateTimestamp: '2026-12-07 10:00:03',
  };

  /** Two stores on one table (the worker's Lambda and the postback's), `a` having completed task t1. */
  async function twoStores(counted: DynamoDBClient = client) {
    const tablePrefix = await freshPrefix();
    const a = new DynamoDbOrderStore({ client: counted, tablePrefix });
    const b = new DynamoDbOrderStore({ client, tablePrefix });
    await a.create(placeOrderTask('t1'), T0);
    await a.transition('t1', 'RUNNING', {}, T0 + 1);
    await a.transition('t1', 'COMPLETED', { result: placed }, T0 + 2);
    return { a, b };
  }

  it('merges into what another store wrote since, never over it from what this one last saw', async () => {
    const { a, b } = await twoStores();
    expect((await b.applyBrokerUpdate('t1', complete, T0 + 3))?.changed).toBe(true);
    // `a` last saw PLACED, which the OPEN would move on; the stored COMPLETE stays.
    const late = await a.applyBrokerUpdate('t1', open, T0 + 4);
    expect(late?.changed).toBe(false);
    expect(late?.record.result?.status).toBe('COMPLETE');
    expect((await b.get('t1'))?.result).toEqual({ ...complete, paper: false });
  });

  it('answers a repeat with the stored record, not the one this store last saw', async () => {
    const { a, b } = await twoStores();
    expect((await a.applyBrokerUpdate('t1', open, T0 + 3))?.changed).toBe(true);
    expect((await b.applyBrokerUpdate('t1', complete, T0 + 4))?.changed).toBe(true);
    const repeat = await a.applyBrokerUpdate('t1', open, T0 + 5);
    expect(repeat?.changed).toBe(false);
    expect(repeat?.record.result).toEqual({ ...complete, paper: false });
  });

  it('applies news about an order it linked with one write and no read', async () => {
    const counted = localDynamoDbClient(inject('dynamodbEndpoint'));
    const calls: string[] = [];
    counted.middlewareStack.add(
      (next, context) => (args) => {
        calls.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'testCallLog' },
    );
    try {
      const { a } = await twoStores(counted);
      await a.linkBrokerOrder('O1', 't1');
      calls.length = 0;
      const taskId = await a.holdBrokerUpdate(open);
      expect(taskId).toBe('t1');
      expect((await a.applyBrokerUpdate('t1', open, T0 + 3))?.changed).toBe(true);
      expect(calls).toEqual(['UpdateItemCommand']);
    } finally {
      counted.destroy();
    }
  });
});
