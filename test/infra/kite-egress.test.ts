import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { Platform } from '../../infra/platform.js';
import { NetworkStack } from '../../infra/stacks/network-stack.js';
import { buildPlatform } from './platform-fixture.js';

const build = (stage: string): Platform => buildPlatform({ stage }, undefined, false).platform;

describe('NetworkStack egress for Kite', () => {
  it.each([
    ['test', 1],
    ['prod', 2],
  ])('%s: %i retained Elastic IPs, one per NAT gateway, each an output and an export', (stage, count) => {
    const t = Template.fromStack(build(stage).network);
    t.resourceCountIs('AWS::EC2::EIP', count);
    t.resourceCountIs('AWS::EC2::NatGateway', count);
    const eips = t.findResources('AWS::EC2::EIP');
    for (const eip of Object.values(eips)) {
      expect(eip).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: { Domain: 'vpc' },
      });
    }
    // Each gateway sends from one of the stack's own addresses, not from one CDK allocates for it.
    const ids = Object.keys(eips).sort();
    const used = Object.values(t.findResources('AWS::EC2::NatGateway'))
      .map((g) => (g.Properties.AllocationId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'])
      .map(([id, attr]) => {
        expect(attr).toBe('AllocationId');
        return id;
      })
      .sort();
    expect(used).toEqual(ids);
    expect(Object.keys(t.findOutputs('*')).filter((k) => k.startsWith('KiteEgressIp'))).toHaveLength(count);
    for (const [i, id] of ids.entries()) {
      t.hasOutput(`KiteEgressIp${i + 1}`, {
        Value: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^NatEgressIp${i + 1}`), 'PublicIp'] },
        Export: { Name: `Ticker-${stage}-Network-KiteEgressIp${i + 1}` },
      });
      expect(id).toMatch(/^NatEgressIp\d/);
    }
  });

  it('refuses more NAT gateways than Kite has static IPs per account', () => {
    expect(() => new NetworkStack(new App(), 'Too', { natGateways: 3 })).toThrow(/at most two static IPs/);
  });
});

describe('functions that call Kite share its budget on Redis', () => {
  it('runs the order worker and the REST functions in the VPC, in the group Redis admits, with REDIS_URL', () => {
    const platform = build('test');
    // Redis admits the workload group (the data stack's ingress rule names it).
    const data = Template.fromStack(platform.data);
    expect(JSON.stringify(data.findResources('AWS::EC2::SecurityGroupIngress'))).toContain('Workload');
    for (const stack of [platform.orders, platform.api]) {
      const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(functions.length).toBeGreaterThan(0);
      for (const fn of functions) {
        expect(JSON.stringify(fn.Properties.VpcConfig.SecurityGroupIds)).toContain('Workload');
        const secrets = JSON.stringify(fn.Properties.Environment.Variables.SECRET_ENVIRONMENT);
        expect(secrets).toContain('REDIS_URL');
      }
    }
  });
});
