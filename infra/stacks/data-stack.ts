import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import {
  type KeyAttribute,
  physicalTableName,
  type TableDefinition,
  type TableName,
  Tables,
} from '../../shared/tables.js';

export interface DataStackProps extends StackProps {
  /** Prefix of every table name, e.g. the stage (`prod`): the same rule the application uses. */
  readonly tablePrefix: string;
  /** Keep tables when the stack is deleted (production), or remove them (development). */
  readonly retainData: boolean;
}

function attribute(key: KeyAttribute): { name: string; type: AttributeType } {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

/**
 * The DynamoDB tables of `shared/tables.ts`, built from the same definitions the local platform
 * and the tests create in dynalite: on-demand, point-in-time recovery, encrypted with the AWS
 * managed key, TTL where the definition names an attribute.
 */
export class DataStack extends Stack {
  readonly tables: Readonly<Record<TableName, TableV2>>;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const entries = (Object.entries(Tables) as [TableName, TableDefinition][]).map(([key, definition]) => {
      const table = new TableV2(this, `${key[0]?.toUpperCase()}${key.slice(1)}Table`, {
        tableName: physicalTableName(props.tablePrefix, definition),
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey && { sortKey: attribute(definition.sortKey) }),
        ...(definition.timeToLiveAttribute && { timeToLiveAttribute: definition.timeToLiveAttribute }),
        billing: Billing.onDemand(),
        encryption: TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: props.retainData,
        removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        globalSecondaryIndexes: (definition.globalSecondaryIndexes ?? []).map((index) => ({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey && { sortKey: attribute(index.sortKey) }),
        })),
      });
      return [key, table] as const;
    });
    this.tables = Object.fromEntries(entries) as Record<TableName, TableV2>;
  }
}
