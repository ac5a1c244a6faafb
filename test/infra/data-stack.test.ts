import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DataStack } from '../../infra/stacks/data-stack.js';
import { physicalTableName, Tables } from '../../shared/tables.js';

function template(retainData: boolean): Template {
  const app = new App();
  const stack = new DataStack(app, 'Data', { tablePrefix: 'ticker-test', retainData });
  return Template.fromStack(stack);
}

describe('DataStack', () => {
  it('creates one table per shared definition, with the same keys, indexes and TTL', () => {
    const t = template(true);
    const definitions = Object.values(Tables);
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', definitions.length);
    for (const definition of definitions) {
      const keySchema = [
        { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
        ...('sortKey' in definition && definition.sortKey
          ? [{ AttributeName: (definition.sortKey as { name: string }).name, KeyType: 'RANGE' }]
          : []),
      ];
      t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        TableName: physicalTableName('ticker-test', definition),
        KeySchema: keySchema,
        BillingMode: 'PAY_PER_REQUEST',
        ...('timeToLiveAttribute' in definition && {
          TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
        }),
        ...('globalSecondaryIndexes' in definition && {
          GlobalSecondaryIndexes: definition.globalSecondaryIndexes.map((index) =>
            Match.objectLike({ IndexName: index.indexName }),
          ),
        }),
      });
    }
  });

  it('encrypts every table with the AWS managed key and keeps point-in-time recovery on', () => {
    const tables = template(true).findResources('AWS::DynamoDB::GlobalTable');
    for (const resource of Object.values(tables)) {
      expect(resource.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
      expect(resource.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    }
  });

  it('retains data and protects tables from deletion only when asked to', () => {
    const kept = Object.values(template(true).findResources('AWS::DynamoDB::GlobalTable'));
    const dropped = Object.values(template(false).findResources('AWS::DynamoDB::GlobalTable'));
    expect(kept.every((r) => r.DeletionPolicy === 'Retain' && r.Properties.Replicas[0].DeletionProtectionEnabled)).toBe(
      true,
    );
    expect(
      dropped.every((r) => r.DeletionPolicy === 'Delete' && !r.Properties.Replicas[0].DeletionProtectionEnabled),
    ).toBe(true);
  });
});
