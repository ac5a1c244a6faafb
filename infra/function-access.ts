import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type TableDefinition, type TableName, Tables } from '../shared/tables.js';
import type { FunctionSettings, SecretName } from './function-settings.js';

/**
 * How a function uses a table: `describe` is the health check's `DescribeTable` only; `record` reads,
 * creates and updates single items by key (no queries, scans or deletes).
 */
export type TableAccess = 'describe' | 'read' | 'readWrite' | 'sweep' | 'record';

/** Everything one function may touch, and nothing more: the input to its IAM policy. */
export interface FunctionAccess {
  readonly tables: Partial<Readonly<Record<TableName, TableAccess>>>;
  readonly secrets: readonly SecretName[];
  /** The order queues: `send` to the orders queue (enqueue, redrive), `consume` from the dead letters (redrive). */
  readonly queues?: { readonly orders?: 'send'; readonly deadLetters?: 'consume' };
}

/**
 * Every function reads the JWT secret: the configuration refuses to start in production without
 * it (or a JWKS URL), whichever route the function serves.
 */
const BASE_SECRETS: readonly SecretName[] = ['jwt'];

/** REST functions authenticate API keys. */
const REST_SECRETS: readonly SecretName[] = [...BASE_SECRETS, 'apiKeys'];

/**
 * REST functions that hold the Kite secret, whose access tokens can place orders: those that call
 * Kite (the instrument master, history, quotes for the exchange checks), that choose or check a
 * Kite account (subscriptions that assign one, orders pinned to one, whose views say whether the
 * broker is paper) and the postback, whose checksum is keyed with the account's api secret.
 * `/health`, `/openapi.json`, listing and deleting subscriptions never see it.
 */
const REST_KITE_SECRETS: readonly SecretName[] = [...REST_SECRETS, 'kiteAccounts'];

/**
 * The access of a REST route's function, from its method and path: the route table names modules,
 * not permissions, so the rule lives here, one place for every route. A path this does not know
 * gets no table and no Kite secret (least privilege by default): a new route that needs either
 * fails loudly in its first test call, it never silently gets too much.
 */
export function httpRouteAccess(route: { readonly method: string; readonly path: string }): FunctionAccess {
  const writes = route.method !== 'GET' && route.method !== 'HEAD';
  if (route.path === '/health') return { tables: { subscriptions: 'describe' }, secrets: REST_SECRETS };
  if (route.path === '/subscriptions' || route.path.startsWith('/subscriptions/')) {
    // Creating checks the instrument against Kite's master and assigns an account; a change may name one.
    const kite = route.method === 'POST' || route.method === 'PATCH';
    return {
      tables: { subscriptions: writes ? 'readWrite' : 'read' },
      secrets: kite ? REST_KITE_SECRETS : REST_SECRETS,
    };
  }
  if (route.path === '/orders' || route.path.startsWith('/orders/')) {
    if (!writes) return { tables: { orders: 'read' }, secrets: REST_KITE_SECRETS };
    // Creating enqueues; a redrive takes the message off the dead-letter queue and enqueues it again.
    const redrive = route.path.startsWith('/orders/dead-letter/');
    return {
      tables: { orders: 'readWrite' },
      secrets: REST_KITE_SECRETS,
      queues: { orders: 'send', ...(redrive && { deadLetters: 'consume' as const }) },
    };
  }
  // A postback merges into its task through the order id's link.
  if (route.path === '/kite/postback') {
    return { tables: { orders: 'readWrite', brokerOrders: 'readWrite' }, secrets: REST_KITE_SECRETS };
  }
  // The chain lists its strikes from the instrument master, which is Kite's.
  const master = route.path === '/history' || route.path === '/chain' || route.path === '/instruments';
  if (master || route.path.startsWith('/instruments/')) {
    return { tables: {}, secrets: REST_KITE_SECRETS };
  }
  return { tables: {}, secrets: REST_SECRETS };
}

/** The WebSocket routes that change the connection registry; `ping` and `$default` only answer. */
const CONNECTION_ROUTES: ReadonlySet<string> = new Set([
  '$connect',
  '$disconnect',
  'subscribe',
  'unsubscribe',
  'configure',
]);

/** The access of a WebSocket route's function. */
export function wsRouteAccess(routeKey: string): FunctionAccess {
  return {
    tables: CONNECTION_ROUTES.has(routeKey) ? { connections: 'readWrite' } : {},
    // `subscribe` checks tokens against Kite's instrument master, read through an account.
    secrets: routeKey === 'subscribe' ? [...BASE_SECRETS, 'kiteAccounts'] : BASE_SECRETS,
  };
}

/** The order worker: its status records, idempotency records and circuit breakers; Kite to place orders. */
export const orderWorkerAccess: FunctionAccess = {
  tables: { orders: 'readWrite', brokerOrders: 'readWrite', idempotency: 'readWrite', breakers: 'readWrite' },
  secrets: [...BASE_SECRETS, 'kiteAccounts'],
};

/**
 * The order sweeper: stale records from the orders table's status index, a conditional touch of
 * each it requeues (the queue is granted by the orders stack); and the poll of open orders in the
 * same run, which reads them from the open index, asks the accounts' brokers (Kite's secret) and
 * merges what changed through the order id links.
 */
export const orderSweeperAccess: FunctionAccess = {
  tables: { orders: 'readWrite', brokerOrders: 'readWrite' },
  secrets: [...BASE_SECRETS, 'kiteAccounts'],
};

/**
 * The dead-letter consumer: reads a task's record, creates it when the task never got one and
 * moves it to DEAD_LETTER; the dead-letter queue is granted by its event source.
 */
export const orderDeadLetterAccess: FunctionAccess = {
  tables: { orders: 'record' },
  secrets: BASE_SECRETS,
};

/** The DynamoDB actions of each access mode: named one by one, never `dynamodb:*`. */
export const TABLE_ACTIONS = {
  describe: ['dynamodb:DescribeTable'],
  read: [
    'dynamodb:DescribeTable',
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:ConditionCheckItem',
  ],
  readWrite: [
    'dynamodb:DescribeTable',
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:ConditionCheckItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ],
  /** Query the indexes, update items in place: no reads of whole items by key, no puts or deletes. */
  sweep: ['dynamodb:Query', 'dynamodb:UpdateItem'],
  record: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
} as const satisfies Record<TableAccess, readonly string[]>;

/**
 * Grants `grantee` exactly the table access listed: the mode's actions on each table and on its
 * indexes by name (from the shared definitions), not `index/*`, so a policy lists every resource it
 * reaches. Tables are encrypted with the AWS managed key: no KMS grant is needed.
 */
export function grantTables(grantee: IGrantable, settings: FunctionSettings, access: FunctionAccess): void {
  for (const [name, mode] of Object.entries(access.tables) as [TableName, TableAccess][]) {
    const table = settings.tables[name];
    const definition: TableDefinition = Tables[name];
    // Key reads and writes never touch an index.
    const indexes = mode === 'describe' || mode === 'record' ? [] : (definition.globalSecondaryIndexes ?? []);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...TABLE_ACTIONS[mode]],
        resources: [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index.indexName}`)],
      }),
    );
  }
}
