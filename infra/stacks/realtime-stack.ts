import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { type IRole, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
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

  /** Lets `role` (the fan-out's task role) post to and close this API's connections. */
  grantManageConnections(role: IRole): void {
    role.addManagedPolicy(this.manageConnectionsPolicy);
  }

  /** The `@connections` endpoint the fan-out posts to: `https://{api}.execute-api.{region}.amazonaws.com/live`. */
  get managementEndpoint(): string {
    return this.stage.callbackUrl;
  }
}
