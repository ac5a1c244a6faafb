import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { httpRoutes } from '../../functions/routes.js';
import { wsRouteTable } from '../../functions/ws/route-table.js';
import { TABLE_ACTIONS } from '../../infra/function-access.js';
import type { Platform } from '../../infra/platform.js';
import { CACHE_PORT } from '../../infra/stacks/data-stack.js';
import { OPS_PORT } from '../../infra/stacks/ingest-stack.js';
import {
  DEAD_LETTER_CONSUMER_TIMEOUT,
  DEAD_LETTER_VISIBILITY_TIMEOUT,
  ORDER_MAX_RECEIVE_COUNT,
} from '../../infra/stacks/orders-stack.js';
import { buildPlatform, policyOfRole, type TemplateStatement, wildcardDataGrants } from './platform-fixture.js';

let platform: Platform;
const templates = new Map<keyof Platform, Template>();
const template = (stack: keyof Platform): Template => {
  const found = templates.get(stack);
  if (!found) throw new Error(`no template for ${stack}`);
  return found;
};

beforeAll(() => {
  platform = buildPlatform({}, undefined, false).platform;
  for (const key of Object.keys(platform) as (keyof Platform)[]) templates.set(key, Template.fromStack(platform[key]));
});

/** The statements of a function's role, found by the function's construct. */
function statementsOf(stack: 'api' | 'realtime' | 'orders', fn: { function: { role?: unknown } }): TemplateStatement[] {
  const role = fn.function.role as { node: { defaultChild: unknown } } | undefined;
  const cfnRole = role?.node.defaultChild as { logicalId: string } | undefined;
  if (!cfnRole) throw new Error('function without a role');
  const logicalId = platform[stack].resolve(cfnRole.logicalId) as string;
  return policyOfRole(template(stack), logicalId);
}

const dynamoStatements = (statements: TemplateStatement[]) =>
  statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));

/** Which tables a statement reaches, by the table construct names its resources reference. */
const tablesReached = (statements: TemplateStatement[]) =>
  [
    ...new Set(
      statements.flatMap((s) =>
        [...JSON.stringify(s.Resource).matchAll(/GetAtt([A-Za-z]+?)Table[0-9A-F]{8}/g)].map((m) => m[1]),
      ),
    ),
  ].sort();

describe('the platform stacks', () => {
  it('grants no wildcard data action and no data action on every resource, in any stack', () => {
    for (const key of templates.keys()) expect(wildcardDataGrants(template(key)), key).toEqual([]);
  });

  it('builds every Lambda function on Node.js 22, ARM64, traced, with its own log group and Powertools environment', () => {
    for (const key of ['api', 'realtime', 'orders'] as const) {
      const functions = template(key).findResources('AWS::Lambda::Function');
      expect(Object.keys(functions).length).toBeGreaterThan(0);
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', LogGroup: expect.anything() },
          Environment: {
            Variables: expect.objectContaining({
              POWERTOOLS_SERVICE_NAME: expect.any(String),
              TABLE_PREFIX: 'ticker-test',
              SECRET_ENVIRONMENT: expect.anything(),
            }),
          },
          VpcConfig: expect.anything(),
        });
      }
      template(key).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    }
  });
});

describe('ApiStack', () => {
  it('routes every REST route of the shared table to its own function', () => {
    const t = template('api');
    t.resourceCountIs('AWS::ApiGatewayV2::Route', httpRoutes.length);
    t.resourceCountIs('AWS::Lambda::Function', httpRoutes.length);
    for (const route of httpRoutes) {
      t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: `${route.method} ${route.path}` });
    }
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it('gives each REST function only its tables, with read-only actions for reads', () => {
    const access = (key: string) => {
      const fn = platform.api.functions.get(key);
      if (!fn) throw new Error(`no function for ${key}`);
      return dynamoStatements(statementsOf('api', fn));
    };
    expect(access('GET /health').map((s) => s.Action)).toEqual(['dynamodb:DescribeTable']);
    expect(tablesReached(access('GET /health'))).toEqual(['Subscriptions']);
    const list = access('GET /subscriptions');
    expect(tablesReached(list)).toEqual(['Subscriptions']);
    expect(list.flatMap((s) => [s.Action].flat()).sort()).toEqual([...TABLE_ACTIONS.read].sort());
    expect(tablesReached(access('POST /subscriptions'))).toEqual(['Subscriptions']);
    expect(access('POST /subscriptions').flatMap((s) => [s.Action].flat())).toContain('dynamodb:PutItem');
    expect(access('GET /instruments')).toEqual([]);
    expect(access('GET /history')).toEqual([]);
  });

  it('lets only the order routes that enqueue send to the orders queue', () => {
    const sqsActions = (key: string) => {
      const fn = platform.api.functions.get(key);
      if (!fn) return undefined;
      return statementsOf('api', fn)
        .flatMap((s) => [s.Action].flat())
        .filter((a) => a.startsWith('sqs:'));
    };
    expect(sqsActions('GET /subscriptions')).toEqual([]);
    const create = sqsActions('POST /orders');
    if (create) expect(create).toContain('sqs:SendMessage');
    const get = sqsActions('GET /orders/{task_id}');
    if (get) expect(get).toEqual([]);
  });
});

describe('RealtimeStack', () => {
  it('has one route per WebSocket route, message routes answering with route responses', () => {
    const t = template('realtime');
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
    for (const route of wsRouteTable.filter((r) => platform.realtime.functions.has(r.routeKey))) {
      const lifecycle = route.routeKey === '$connect' || route.routeKey === '$disconnect';
      t.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: route.routeKey,
        RouteResponseSelectionExpression: lifecycle ? Match.absent() : '$default',
      });
    }
    expect(platform.realtime.functions.has('$connect')).toBe(true);
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'live',
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
    });
  });

  it('lets the registry routes use the connections table only, and ping none', () => {
    const connect = platform.realtime.functions.get('$connect');
    const ping = platform.realtime.functions.get('ping');
    if (!connect) throw new Error('no $connect function');
    expect(tablesReached(dynamoStatements(statementsOf('realtime', connect)))).toEqual(['Connections']);
    if (ping) expect(dynamoStatements(statementsOf('realtime', ping))).toEqual([]);
  });

  it('grants ManageConnections on this API stage only, through a policy the fan-out role carries', () => {
    template('realtime').hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'execute-api:ManageConnections',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/live/\\*/@connections/\\*$')])] },
          },
        ],
      },
    });
    template('ingest').hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [Match.objectLike({ 'Fn::ImportValue': Match.stringLikeRegexp('ManageConnections') })],
    });
  });
});

/** The logical id of a construct's resource in the orders stack. */
const ordersLogicalId = (construct: IConstruct | undefined): string =>
  platform.orders.resolve(platform.orders.getLogicalId(construct?.node.defaultChild as CfnElement)) as string;

describe('OrdersStack', () => {
  it('dead-letters after the redrive count, with a visibility timeout at least six times the worker timeout', () => {
    const t = template('orders');
    t.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: ORDER_MAX_RECEIVE_COUNT },
      SqsManagedSseEnabled: true,
    });
    const queue = Object.values(t.findResources('AWS::SQS::Queue')).find((q) => q.Properties.RedrivePolicy);
    const workerId = ordersLogicalId(platform.orders.worker?.function);
    const worker = t.findResources('AWS::Lambda::Function')[workerId];
    expect(worker).toBeDefined();
    expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker?.Properties.Timeout);
  });

  it('feeds the worker in batches that report item failures', () => {
    template('orders').hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });

  it('gives the worker its order, broker-order link, idempotency and breaker tables and nothing else', () => {
    const worker = platform.orders.worker;
    if (!worker) throw new Error('no order worker');
    expect(tablesReached(dynamoStatements(statementsOf('orders', worker)))).toEqual([
      'Breakers',
      'BrokerOrders',
      'Idempotency',
      'Orders',
    ]);
  });

  it('runs the sweeper every minute from an EventBridge rule, without retrying a missed run', () => {
    const sweeper = platform.orders.sweeper;
    if (!sweeper) throw new Error('no order sweeper');
    const sweeperId = ordersLogicalId(sweeper.function);
    const t = template('orders');
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [sweeperId, 'Arn'] },
    });
    // Nothing reserved by default (a new account refuses reservations): deploy-fit.test.ts.
    expect(t.findResources('AWS::Lambda::Function')[sweeperId]?.Properties).not.toHaveProperty(
      'ReservedConcurrentExecutions',
    );
  });

  it('lets the sweeper and poll reach the orders and broker-order tables and send to the orders queue, nothing more', () => {
    const sweeper = platform.orders.sweeper;
    if (!sweeper) throw new Error('no order sweeper');
    const statements = statementsOf('orders', sweeper);
    const dynamo = dynamoStatements(statements);
    // The poll of open orders scans the open index and merges updates through the order id links.
    expect(tablesReached(dynamo)).toEqual(['BrokerOrders', 'Orders']);
    expect([...new Set(dynamo.flatMap((s) => [s.Action].flat()))]).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:UpdateItem']),
    );
    expect(dynamo.flatMap((s) => [s.Action].flat())).not.toContain('dynamodb:DeleteTable');
    const sqs = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    const queueId = ordersLogicalId(platform.orders.queue);
    expect(sqs.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [queueId, 'Arn'] }]);
  });

  it('feeds the dead-letter consumer from the dead-letter queue, reporting item failures so nothing is deleted unasked', () => {
    const consumer = platform.orders.deadLetterConsumer;
    if (!consumer) throw new Error('no dead-letter consumer');
    const t = template('orders');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ordersLogicalId(platform.orders.deadLetterQueue), 'Arn'] },
      FunctionName: { Ref: ordersLogicalId(consumer.function) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const dlq = t.findResources('AWS::SQS::Queue')[ordersLogicalId(platform.orders.deadLetterQueue)];
    expect(dlq?.Properties.VisibilityTimeout).toBe(DEAD_LETTER_VISIBILITY_TIMEOUT.toSeconds());
    expect(DEAD_LETTER_VISIBILITY_TIMEOUT.toSeconds()).toBeGreaterThanOrEqual(
      6 * DEAD_LETTER_CONSUMER_TIMEOUT.toSeconds(),
    );
    expect(t.findResources('AWS::Lambda::Function')[ordersLogicalId(consumer.function)]?.Properties).toMatchObject({
      Timeout: DEAD_LETTER_CONSUMER_TIMEOUT.toSeconds(),
    });
  });

  it('lets the dead-letter consumer get, put and update order records and consume the dead letters, nothing more', () => {
    const consumer = platform.orders.deadLetterConsumer;
    if (!consumer) throw new Error('no dead-letter consumer');
    const statements = statementsOf('orders', consumer);
    const dynamo = dynamoStatements(statements);
    expect(tablesReached(dynamo)).toEqual(['Orders']);
    expect([...new Set(dynamo.flatMap((s) => [s.Action].flat()))].sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    // No index: single items by key only.
    expect(JSON.stringify(dynamo.map((s) => s.Resource))).not.toContain('/index/');
    const sqs = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    const dlqId = ordersLogicalId(platform.orders.deadLetterQueue);
    expect(sqs.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [dlqId, 'Arn'] }]);
  });

  it('alarms on any dead letter, hidden or not, and on an old one', () => {
    const t = template('orders');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('orders-dead-letters$'),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'visible + hidden' }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesVisible' }),
          }),
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesNotVisible' }),
          }),
        }),
      ]),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      AlarmName: Match.stringLikeRegexp('dead-letter-age'),
    });
  });
});

describe('DataStack cache', () => {
  it('runs Valkey with TLS, encryption at rest and an AUTH token from Secrets Manager', () => {
    template('data').hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      Port: CACHE_PORT,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      AuthToken: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('resolve:secretsmanager')])],
      }),
    });
    template('data').hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: CACHE_PORT,
      ToPort: CACHE_PORT,
    });
  });

  it('keeps TTL on the tables whose items expire', () => {
    const t = template('data');
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'ticker-test-connections',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'ticker-test-idempotency',
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });
});

describe('IngestStack', () => {
  it('runs the ingest and fan-out roles as ARM64 Fargate services with a health check on the ops port', () => {
    const t = template('ingest');
    t.resourceCountIs('AWS::ECS::Service', 2);
    for (const role of ['ingest', 'fanout']) {
      t.hasResourceProperties('AWS::ECS::TaskDefinition', {
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        ContainerDefinitions: Match.arrayWith([
          Match.objectLike({
            Name: 'app',
            Environment: Match.arrayWith([{ Name: 'INGEST_ROLES', Value: role }]),
            HealthCheck: Match.objectLike({
              Command: ['CMD-SHELL', Match.stringLikeRegexp(`127\\.0\\.0\\.1:${OPS_PORT}/health`)],
            }),
            Secrets: Match.arrayWith([Match.objectLike({ Name: 'JWT_SECRET' })]),
          }),
        ]),
      });
    }
  });

  it('scales the fan-out on CPU', () => {
    const t = template('ingest');
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 3 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      }),
    });
  });
});

describe('ObservabilityStack', () => {
  it('alarms on a missing ingest heartbeat, backpressure and REST 5xx, and routes alarms to a topic', () => {
    const t = template('observability');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('ingest-heartbeat-missing$'),
      MetricName: 'ingest_running',
      TreatMissingData: 'breaching',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('ingest-backpressure$'),
      MetricName: 'ingest_backpressure_level',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: Match.stringLikeRegexp('rest-5xx$') });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ 'detail-type': ['CloudWatch Alarm State Change'] }),
    });
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('NetworkStack', () => {
  it('has private subnets and the endpoints the functions use', () => {
    const t = template('network');
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('\\.dynamodb$')])] }),
    });
    for (const service of ['secretsmanager', 'sqs']) {
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        ServiceName: Match.stringLikeRegexp(`\\.${service}$`),
        PrivateDnsEnabled: true,
      });
    }
    t.hasResourceProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
  });
});
