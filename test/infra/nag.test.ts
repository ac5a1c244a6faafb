import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import type { Platform } from '../../infra/platform.js';
import { buildPlatform, nagFailure, wildcardDataGrants } from './platform-fixture.js';

describe('cdk-nag AwsSolutions checks on the platform', () => {
  it('passes: every finding is fixed or acknowledged with a reason', () => {
    const { app } = buildPlatform();
    expect(nagFailure(app)).toBeUndefined();
  });

  const overGranted = (p: Platform) => {
    const health = p.api.functions.get('GET /health');
    if (!health) throw new Error('the REST route table has no GET /health');
    health.function.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:*'], resources: [p.data.tables.orders.tableArn] }),
    );
  };

  it('fails when a function is given a wildcard data permission, and so does the least-privilege check', () => {
    const { platform } = buildPlatform({}, overGranted, false);
    expect(wildcardDataGrants(Template.fromStack(platform.api))).toEqual([expect.stringContaining('dynamodb:*')]);
    const { app } = buildPlatform({}, overGranted);
    const failure = nagFailure(app);
    expect(failure).toBeDefined();
    expect(failure).toContain('AwsSolutions-IAM5[Action::dynamodb:*]');
  });
});
