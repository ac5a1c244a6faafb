import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { type IRole, ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { PlatformFunction } from '../constructs/platform-function.js';
import { wsRouteAccess } from '../function-access.js';
import type { FunctionSettings } from '../function-settings.js';
import { acknowledge, wildcardResourceFinding } from '../nag.js';
import { createFunction, serviceNameOf } from '../platform-functions.js';

/** One WebSocket route: its key and the function module serving it (the shape of `wsRouteTable`). */
export interface WsRoute {
  readonly routeKey: string;
  readonly entry: string;
}

export interface RealtimeStackProps extends StackProps {
  readonly settings: FunctionSettings;
  /** The route table (`functions/ws/route-table.ts`): one function and one route per entry. */
  readonly routes: readonly WsRoute[];
  /** API Gateway's route selection expression, `$request.body.action`. */
  readonly routeSelectionExpression: string;
  /** Steady-state messages per second across the stage, and the burst above it. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Set the API Gateway account's CloudWatch Logs role (the stage's access logs need one, and a
   * fresh account has none); false when the account already has it. @default true
   */
  readonly createAccountRole?: boolean;
}

/** The stage clients connect to: `wss://{api}.execute-api.{region}.amazonaws.com/live`. */
export const WS_STAGE_NAME = 'live';

/** Routes whose handler's body is sent back to the client as the route response. */
const LIFECYCLE_ROUTES: ReadonlySet<string> = new Set(['$connect', '$disconnect']);

/**
 * The WebSocket API: one function per route of the shared route table, route responses for the
 * message routes (replies travel as route responses), stage throttling and access logs. The
 * fan-out (ingest stack) posts ticks through the stage's `@connections` endpoint with
 * {@link RealtimeStack.grantManageConnections}; the route functions never post.
 */
export class RealtimeStack extends Stack {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly functions: ReadonlyMap<string, PlatformFunction>;
  /**
   * `execute-api:ManageConnections` on this API's stage (post, get, delete any connection): what
   * the API's own `grantManageConnections` grants, narrowed to the one stage. A customer managed
   * policy owned here and attached by the grantee's stack, so the dependency runs one way.
   */
  readonly manageConnectionsPolicy: ManagedPolicy;
  /** The `@connections` resource pattern the policy allows (connection ids are not known in advance). */
  readonly connectionsArn: string;
  /** The API Gateway account setting this stack made, when it made it. */
  readonly accountSettings: CfnAccount | undefined;
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: RealtimeStackProps) {
    super(scope, id, props);
    this.api = new WebSocketApi(this, 'Api', {
      apiName: `${id}-ws`,
      routeSelectionExpression: props.routeSelectionExpression,
      description: 'Ticks to authenticated clients: subscribe, unsubscribe, configure, ping',
    });
    const functions = new Map<string, PlatformFunction>();
    for (const route of props.routes) {
      const serviceName = serviceNameOf(route.entry);
      const fn = createFunction(this, serviceName, props.settings, {
        entry: route.entry,
        serviceName,
        access: wsRouteAccess(route.routeKey),
      });
      functions.set(route.routeKey, fn);
      this.api.addRoute(route.routeKey, {
        integration: new WebSocketLambdaIntegration(`${serviceName}-integration`, fn.function),
        returnResponse: !LIFECYCLE_ROUTES.has(route.routeKey),
      });
    }
    this.functions = functions;
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.settings.logRemovalPolicy,
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: WS_STAGE_NAME,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    this.accountSettings = props.createAccountRole === false ? undefined : this.#accountRole();
    if (this.accountSettings) this.stage.node.addDependency(this.accountSettings);
    // IntegrationError: the route function failed or timed out (the client got an internal error);
    // ExecutionError: API Gateway itself failed the message. Both are the WebSocket side's 5xx.
    const period = Duration.minutes(5);
    this.alarms = [
      new Alarm(this, 'IntegrationErrorsAlarm', {
        alarmName: `${props.settings.alarmPrefix}-ws-integration-errors`,
        alarmDescription: 'WebSocket messages failed in their route function or in API Gateway: docs/deploy.md#alarms',
        metric: new MathExpression({
          label: 'Integration and execution errors',
          expression: 'integration + execution',
          usingMetrics: {
            integration: this.api.metric('IntegrationError', { period, statistic: 'Sum' }),
            execution: this.api.metric('ExecutionError', { period, statistic: 'Sum' }),
          },
          period,
        }),
        threshold: 5,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    new CfnOutput(this, 'WebSocketUrl', { value: this.stage.url, description: 'wss:// URL clients connect to' });
    this.connectionsArn = this.formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${WS_STAGE_NAME}/*/@connections/*`,
    });
    this.manageConnectionsPolicy = new ManagedPolicy(this, 'ManageConnections', {
      description: 'Post to, read and close WebSocket connections of the live stage (the fan-out)',
      statements: [
        new PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: [this.connectionsArn] }),
      ],
    });
    acknowledge(
      this.manageConnectionsPolicy,
      wildcardResourceFinding(this, this.connectionsArn),
      'Connection ids are created by clients at run time; the pattern is narrowed to this API and stage',
    );
    acknowledge(
      this,
      'APIG4',
      '$connect verifies the client JWT in its function (the same code the local gateway runs); the other routes only exist on an accepted connection',
    );
  }

  /**
   * The account-wide API Gateway setting (one per account and region) naming the role that writes
   * access logs: without it the stage fails with "CloudWatch Logs role ARN must be set in account
   * settings". Both are retained on delete: another API of the account may log through them.
   */
  #accountRole(): CfnAccount {
    const role = new Role(this, 'ApiGatewayCloudWatchRole', {
      description: 'API Gateway (account setting) writes access logs to CloudWatch Logs',
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    acknowledge(
      role,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      "API Gateway's own policy for the account's logging role: it writes any API's log groups, which is what the account setting is for",
    );
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return account;
  }

  /** Lets `role` (the fan-out's task role) post to and close this API's connections. */
  grantManageConnections(role: IRole): void {
    role.addManagedPolicy(this.manageConnectionsPolicy);
  }

  /** The `@connections` endpoint the fan-out posts to: `https://{api}.execute-api.{region}.amazonaws.com/live`. */
  get managementEndpoint(): string {
    return this.stage.callbackUrl;
  }
}
