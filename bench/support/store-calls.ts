import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/*
 * Counts the DynamoDB calls a client makes, by operation and table, through a middleware on the
 * client itself: what a scenario divides by the orders or updates it drove to say how many store
 * round trips each one cost, without any hook in the product's code.
 */

/** The calls a client made since {@link countDynamoDbCalls} (or the last reset). */
export interface DynamoDbCallCount {
  /** Calls by `<Operation> <table>` (the table without the stage prefix). */
  readonly byCall: ReadonlyMap<string, number>;
  total(): number;
  reset(): void;
  /** `byCall` per `per` units, most frequent first: `GetItem orders 3.01, UpdateItem orders 2.00`. */
  describe(per: number): string;
}

/** Starts counting `client`'s calls; `stripPrefix` is removed from table names. */
export function countDynamoDbCalls(client: DynamoDBClient, stripPrefix = ''): DynamoDbCallCount {
  const byCall = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string };
      const table = (input.TableName ?? '-').replace(stripPrefix, '');
      const key = `${context.commandName?.replace(/Command$/, '') ?? '?'} ${table}`;
      byCall.set(key, (byCall.get(key) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return {
    byCall,
    total: () => [...byCall.values()].reduce((s, n) => s + n, 0),
    reset: () => byCall.clear(),
    describe: (per) =>
      [...byCall]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${(n / Math.max(per, 1)).toFixed(2)}`)
        .join(', ') || 'none',
  };
}
