import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PlatformFunction } from '../../infra/constructs/platform-function.js';
import { DeployContextError, type Platform, parseDeployContext } from '../../infra/platform.js';
import { buildPlatform, policyOfRole } from './platform-fixture.js';

/**
 * What a fresh account and a build machine need from the app (issue 24): the API Gateway account's
 * logging role, no reserved concurrency unless asked, the image architecture, the Kite secret only
 * where Kite is called, and an alarm on every failure path.
 */

type FunctionStack = 'api' | 'realtime' | 'orders';

let platform: Platform;
let fitted: Platform;
const templates = new Map<string, Template>();
const template = (which: Platform, stack: keyof Platform): Template => {
  const key = `${which === platform ? 'default' : 'fitted'}:${stack}`;
  let found = templates.get(key);
  if (!found) {
    found = Template.fromStack(which[stack]);
    templates.set(key, found);
  }
  return found;
};

beforeAll(() => {
  platform = buildPlatform({}, undefined, false).platform;
  fitted = buildPlatform(
    {
      stage: 'prod',
      apiGatewayAccountRole: 'existing',
      imageArchitecture: 'x86_64',
      reservedConcurrency: { orderWorker: 5, orderSweeper: 1 },
    },
    undefined,
    false,
  ).platform;
});

/** Every platform function by stack, with its service name (its construct id). */
function functionsOf(which: Platform): { stack: FunctionStack; name: string; fn: PlatformFunction }[] {
  const found: { stack: FunctionStack; name: string; fn: PlatformFunction }[] = [];
  for (const fn of which.api.functions.values()) found.push({ stack: 'api', name: fn.node.id, fn });
  for (const fn of which.realtime.functions.values()) found.push({ stack: 'realtime', name: fn.node.id, fn });
  for (const fn of [which.orders.worker, which.orders.sweeper, which.orders.deadLetterConsumer]) {
    if (fn) found.push({ stack: 'orders', name: fn.node.id, fn });
  }
  return found;
}

const logicalId = (which: Platform, stack: FunctionStack, construct: { node: { defaultChild?: unknown } }) =>
  which[stack].resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;

describe('API Gateway account logging role', () => {
  it('is set by the app by default, with the push-to-CloudWatch policy, before the WebSocket stage', () => {
    const t = template(platform, 'realtime');
    const accounts = t.findResources('AWS::ApiGateway::Account');
    expect(Object.keys(accounts)).toHaveLength(1);
    const [accountId, account] = Object.entries(accounts)[0] ?? [];
    if (!account) throw new Error('no account setting');
    expect(account.DeletionPolicy).toBe('Retain');
    const roleRef = (account.Properties as { CloudWatchRoleArn: { 'Fn::GetAtt': [string, string] } }).CloudWatchRoleArn[
      'Fn::GetAtt'
    ][0];
    const role = t.findResources('AWS::IAM::Role')[roleRef]?.Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'apigateway.amazonaws.com' } }),
    ]);
    expect(role).toMatchObject({
      ManagedPolicyArns: [
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
          ],
        },
      ],
    });
    const stages = Object.values(t.findResources('AWS::ApiGatewayV2::Stage'));
    expect(stages).toHaveLength(1);
    expect(stages[0]?.DependsOn).toContain(accountId);
  });

  it('is left alone when the account already has one', () => {
    const t = template(fitted, 'realtime');
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    t.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
  });
});

describe('reserved concurrency', () => {
  it('reserves none by default, in any function', () => {
    for (const stack of ['api', 'realtime', 'orders'] as const) {
      for (const fn of Object.values(template(platform, stack).findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
      }
    }
  });

  it('reserves what the stage configuration gives for the worker and the sweeper', () => {
    const functions = template(fitted, 'orders').findResources('AWS::Lambda::Function');
    const worker = fitted.orders.worker?.function;
    const sweeper = fitted.orders.sweeper?.function;
    if (!worker || !sweeper) throw new Error('no worker or sweeper');
    expect(functions[logicalId(fitted, 'orders', worker)]?.Properties.ReservedConcurrentExecutions).toBe(5);
    expect(functions[logicalId(fitted, 'orders', sweeper)]?.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('reads the deploy context, refusing values it does not know', () => {
    const context = (values: Record<string, string>) => (key: string) => values[key];
    expect(parseDeployContext(context({}))).toEqual({});
    expect(parseDeployContext(context({ reservedConcurrency: 'none' }))).toEqual({ reservedConcurrency: {} });
    expect(parseDeployContext(context({ reservedConcurrency: '5' }))).toEqual({
      reservedConcurrency: { orderWorker: 5 },
    });
    expect(
      parseDeployContext(
        context({ reservedConcurrency: '5,1', apiGatewayAccountRole: 'existing', imageArchitecture: 'x86_64' }),
      ),
    ).toEqual({
      reservedConcurrency: { orderWorker: 5, orderSweeper: 1 },
      apiGatewayAccountRole: 'existing',
      imageArchitecture: 'x86_64',
    });
    const bads: Record<string, string>[] = [
      { reservedConcurrency: '0' },
      { reservedConcurrency: 'five' },
      { imageArchitecture: 'amd64' },
    ];
    for (const bad of bads) {
      expect(() => parseDeployContext(context(bad))).toThrow(DeployContextError);
    }
    expect(() => parseDeployContext(context({ apiGatewayAccountRole: 'yes' }))).toThrow(/apiGatewayAccountRole/);
  });
});

describe('ingest image architecture', () => {
  /** The Docker platform each container image of the ingest stack's asset manifest is built for. */
  const imagePlatforms = (which: Platform): string[] => {
    const stack = which.ingest;
    const assembly = (stack.node.root as App).synth();
    const manifest = assembly.tryGetArtifact(`${stack.artifactId}.assets`) as unknown as {
      contents: { dockerImages?: Record<string, { source: { platform?: string } }> };
    };
    return Object.values(manifest.contents.dockerImages ?? {}).map((image) => image.source.platform ?? 'unset');
  };

  it('is ARM64 by default, image and tasks alike', () => {
    expect(imagePlatforms(platform)).toEqual(['linux/arm64']);
    const tasks = Object.values(template(platform, 'ingest').findResources('AWS::ECS::TaskDefinition'));
    expect(tasks.map((t) => t.Properties.RuntimePlatform.CpuArchitecture)).toEqual(['ARM64', 'ARM64']);
  });

  it('is x86_64 when the context asks, image and tasks alike', () => {
    expect(imagePlatforms(fitted)).toEqual(['linux/amd64']);
    const tasks = Object.values(template(fitted, 'ingest').findResources('AWS::ECS::TaskDefinition'));
    expect(tasks.map((t) => t.Properties.RuntimePlatform.CpuArchitecture)).toEqual(['X86_64', 'X86_64']);
  });
});

describe('the Kite secret', () => {
  /** Whether a function's role may read the Kite accounts secret (the secrets stack's `KiteAccounts`). */
  const readsKiteSecret = (stack: FunctionStack, fn: PlatformFunction): boolean => {
    const role = fn.function.role?.node.defaultChild as { logicalId: string } | undefined;
    if (!role) throw new Error(`${fn.node.id} has no role`);
    const statements = policyOfRole(template(platform, stack), platform[stack].resolve(role.logicalId) as string);
    return statements.some(
      (s) =>
        [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
        JSON.stringify(s.Resource).includes('KiteAccounts'),
    );
  };

  it('is readable only by the functions that call Kite, choose a Kite account or verify its postbacks', () => {
    const readers = functionsOf(platform)
      .filter(({ stack, fn }) => readsKiteSecret(stack, fn))
      .map(({ name }) => name)
      .sort();
    expect(readers).toEqual(
      [
        'order-worker',
        'order-sweeper',
        'http-history',
        'http-chain',
        'http-instruments-list',
        'http-instruments-get',
        'http-subscriptions-create',
        'http-subscriptions-update',
        'http-orders-create',
        'http-orders-get',
        'http-orders-cancel',
        'http-orders-modify',
        'http-orders-dead-letter-list',
        'http-orders-dead-letter-redrive',
        'http-kite-postback',
        'ws-subscribe',
      ].sort(),
    );
  });

  it('is neither granted nor loaded by /health and /openapi.json, which say they run without it', () => {
    const t = template(platform, 'api');
    for (const key of ['GET /health', 'GET /openapi.json']) {
      const fn = platform.api.functions.get(key);
      if (!fn) throw new Error(`no ${key}`);
      expect(readsKiteSecret('api', fn), key).toBe(false);
      const variables =
        t.findResources('AWS::Lambda::Function')[logicalId(platform, 'api', fn.function)]?.Properties.Environment
          .Variables;
      expect(JSON.stringify(variables.SECRET_ENVIRONMENT), key).not.toContain('KITE_ACCOUNTS');
      expect(variables.KITE_CREDENTIALS, key).toBe('withheld');
    }
  });
});

describe('alarms', () => {
  const alarms = (which: Platform, stack: keyof Platform) =>
    Object.values(template(which, stack).findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties as Record<string, unknown>,
    );
  const named = (which: Platform, stack: keyof Platform, suffix: string) => {
    const found = alarms(which, stack).filter((a) => String(a.AlarmName).endsWith(suffix));
    expect(found, suffix).toHaveLength(1);
    return found[0] as Record<string, unknown>;
  };
  /** The metric names an alarm reads, directly or through a math expression. */
  const metricsOf = (alarm: Record<string, unknown>): string[] =>
    alarm.MetricName !== undefined
      ? [String(alarm.MetricName)]
      : ((alarm.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]) ?? []).flatMap((m) =>
          m.MetricStat ? [m.MetricStat.Metric.MetricName] : [],
        );

  it('watch every function, the order worker included, for errors and throttles', () => {
    const all = functionsOf(platform);
    expect(all.map((f) => f.name)).toContain('order-worker');
    for (const { stack, name, fn } of all) {
      const id = logicalId(platform, stack, fn.function);
      for (const [kind, metric] of [
        ['errors', 'Errors'],
        ['throttles', 'Throttles'],
      ] as const) {
        const alarm = named(platform, stack, `-fn-${name}-${kind}`);
        expect(alarm, name).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
        });
      }
    }
    expect(named(platform, 'orders', '-fn-order-worker-errors').Threshold).toBe(1);
  });

  it('watch WebSocket integration and execution errors', () => {
    expect(metricsOf(named(platform, 'realtime', '-ws-integration-errors')).sort()).toEqual([
      'ExecutionError',
      'IntegrationError',
    ]);
  });

  it('watch the cache engine CPU, memory and evictions on every node', () => {
    expect(metricsOf(named(platform, 'data', '-cache-engine-cpu'))).toEqual(['EngineCPUUtilization']);
    expect(metricsOf(named(platform, 'data', '-cache-memory'))).toEqual(['DatabaseMemoryUsagePercentage']);
    expect(metricsOf(named(platform, 'data', '-cache-evictions'))).toEqual(['Evictions']);
    // Production runs two nodes: both are watched.
    expect(metricsOf(named(fitted, 'data', '-cache-memory'))).toEqual([
      'DatabaseMemoryUsagePercentage',
      'DatabaseMemoryUsagePercentage',
    ]);
  });

  it('watch the fan-out posts that fail and that are throttled', () => {
    expect(metricsOf(named(platform, 'ingest', '-fanout-post-failures')).sort()).toEqual([
      'fanout_post_errors_total',
      'fanout_posts_total',
    ]);
    expect(metricsOf(named(platform, 'ingest', '-fanout-post-throttles'))).toEqual(['fanout_posts_throttled_total']);
  });

  it('watch both ECS services for fewer running tasks than desired', () => {
    for (const role of ['ingest', 'fanout']) {
      expect(metricsOf(named(platform, 'ingest', `-${role}-tasks-below-desired`)).sort()).toEqual([
        'DesiredTaskCount',
        'RunningTaskCount',
      ]);
    }
  });

  it('are all named with the platform prefix, so the alarm topic hears them', () => {
    for (const stack of Object.keys(platform) as (keyof Platform)[]) {
      for (const alarm of alarms(platform, stack)) expect(String(alarm.AlarmName)).toMatch(/^Ticker-test-alarm-/);
    }
  });
});
