import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** A key attribute: its name and DynamoDB scalar type. */
export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

/** What the platform needs of one DynamoDB table, independent of how it is created. */
export interface TableDefinition {
  /** Short name; the physical name is `<prefix>-<name>`. */
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Attribute holding an epoch-seconds expiry, if items expire. */
  readonly timeToLiveAttribute?: string;
  readonly globalSecondaryIndexes?: readonly {
    readonly indexName: string;
    readonly partitionKey: KeyAttribute;
    readonly sortKey?: KeyAttribute;
  }[];
}

/**
 * Every table of the platform, in one place: the CDK data stack creates them from this, and the
 * local platform and the test setup create the same tables in dynalite, so the two cannot drift.
 */
export const Tables = {
  /** Subscriptions by token; `status-index` lists active or inactive ones in token order. */
  subscriptions: {
    name: 'subscriptions',
    partitionKey: { name: 'instrument_token', type: 'N' },
    globalSecondaryIndexes: [
      {
        indexName: 'status-index',
        partitionKey: { name: 'status', type: 'S' },
        sortKey: { name: 'instrument_token', type: 'N' },
      },
    ],
  },
  /** WebSocket connections; they expire a little past API Gateway's 2-hour connection limit. */
  connections: {
    name: 'connections',
    partitionKey: { name: 'connection_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  /** Order task status records; `status-index` lists them by status, newest first; `open-index` the open broker orders. */
  orders: {
    name: 'orders',
    partitionKey: { name: 'task_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
    globalSecondaryIndexes: [
      {
        indexName: 'status-index',
        partitionKey: { name: 'status', type: 'S' },
        sortKey: { name: 'updated_at', type: 'N' },
      },
      // Sparse: only tasks whose broker order is still open carry `open_account`.
      {
        indexName: 'open-index',
        partitionKey: { name: 'open_account', type: 'S' },
        sortKey: { name: 'updated_at', type: 'N' },
      },
    ],
  },
  /**
   * Broker order id → its task, and the updates that arrived before the link (a postback can beat
   * the placement's own answer); both on one item, so linking and holding cannot miss each other.
   */
  brokerOrders: {
    name: 'broker-orders',
    partitionKey: { name: 'order_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  /** Powertools idempotency records (its default attribute names). */
  idempotency: {
    name: 'idempotency',
    partitionKey: { name: 'id', type: 'S' },
    timeToLiveAttribute: 'expiration',
  },
  /** Circuit-breaker state per account, written with conditional updates. */
  breakers: {
    name: 'breakers',
    partitionKey: { name: 'breaker_key', type: 'S' },
  },
  /** The instrument master; `underlying-index` lists a chain by underlying and expiry. */
  instruments: {
    name: 'instruments',
    partitionKey: { name: 'instrument_token', type: 'N' },
    globalSecondaryIndexes: [
      {
        indexName: 'underlying-index',
        partitionKey: { name: 'name', type: 'S' },
        sortKey: { name: 'expiry', type: 'S' },
      },
    ],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof Tables;

/** The physical table name for `prefix` (the stage, e.g. `prod`, or `ticker-local`). */
export function physicalTableName(prefix: string, table: TableDefinition): string {
  return `${prefix}-${table.name}`;
}

/** The `CreateTable` request for a definition (on-demand billing), as the local platform and tests use it. */
export function createTableInput(prefix: string, table: TableDefinition): CreateTableCommandInput {
  const attributes = new Map<string, KeyAttribute>();
  const keys = [
    table.partitionKey,
    table.sortKey,
    ...(table.globalSecondaryIndexes ?? []).flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  for (const key of keys) if (key) attributes.set(key.name, key);
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute) => [
    { AttributeName: pk.name, KeyType: 'HASH' as const },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ];
  const indexes = table.globalSecondaryIndexes ?? [];
  return {
    TableName: physicalTableName(prefix, table),
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchema(table.partitionKey, table.sortKey),
    ...(indexes.length > 0 && {
      GlobalSecondaryIndexes: indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  };
}
