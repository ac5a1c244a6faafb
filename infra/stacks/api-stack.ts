import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PlatformFunction } from '../constructs/platform-function.js';
import { httpRouteAccess } from '../function-access.js';
import type { FunctionSettings } from '../function-settings.js';
import { acknowledge } from '../nag.js';
import { createFunction, serviceNameOf } from '../platform-functions.js';

/** One REST route: the fields of `httpRoutes` (functions/routes.ts) the cloud wiring reads. */
export interface RestRoute {
  readonly method: string;
  readonly path: string;
  readonly entry: string;
}

export interface ApiStackProps extends StackProps {
  readonly settings: FunctionSettings;
  /** The route table: one function and one route per entry. */
  readonly routes: readonly RestRoute[];
  /** Requests per second across the stage, and the burst above it. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The order queues, when the orders stack exists: order routes that write may send to the queue
   * (enqueue, redrive) and read the dead-letter queue; nothing else gets them.
   */
  readonly orderQueues?: { readonly queue: IQueue; readonly deadLetterQueue: IQueue };
}

const METHODS: Readonly<Record<string, HttpMethod>> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
  HEAD: HttpMethod.HEAD,
};

/** Thrown at synth when the route table names something API Gateway cannot route. */
export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
}

/**
 * The HTTP API: one function per REST route of the shared route table, each with only the access
 * its route needs, behind a throttled stage with access logs. Authentication (JWT or API key) is
 * the functions' own, the same code the local gateway runs, so API Gateway authorizers are not used.
 */
export class ApiStack extends Stack {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** By `METHOD path`, e.g. `GET /health`. */
  readonly functions: ReadonlyMap<string, PlatformFunction>;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    this.api = new HttpApi(this, 'Api', {
      apiName: `${id}-rest`,
      description: 'Subscriptions, instruments, history with Greeks, orders and health',
      createDefaultStage: false,
    });
    const functions = new Map<string, PlatformFunction>();
    for (const route of props.routes) {
      const method = METHODS[route.method];
      if (method === undefined) throw new RouteTableError(`${route.entry}: unsupported method ${route.method}`);
      const serviceName = serviceNameOf(route.entry);
      const access = httpRouteAccess(route);
      const fn = createFunction(this, serviceName, props.settings, {
        entry: route.entry,
        serviceName,
        access,
        ...(props.orderQueues &&
          access.queues !== undefined && {
            environment: {
              ORDERS_QUEUE_URL: props.orderQueues.queue.queueUrl,
              ORDERS_DLQ_URL: props.orderQueues.deadLetterQueue.queueUrl,
            },
          }),
      });
      if (props.orderQueues && access.queues?.orders === 'send') props.orderQueues.queue.grantSendMessages(fn.function);
      if (props.orderQueues && access.queues?.deadLetters === 'consume') {
        props.orderQueues.deadLetterQueue.grantConsumeMessages(fn.function);
      }
      functions.set(`${route.method} ${route.path}`, fn);
      this.api.addRoutes({
        path: route.path,
        methods: [method],
        integration: new HttpLambdaIntegration(`${serviceName}-integration`, fn.function),
      });
    }
    this.functions = functions;
    acknowledge(
      this,
      'APIG4',
      'Each function authenticates its request (JWT or API key, per route, as the local gateway does); /health and /openapi.json are public by design',
    );
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.settings.logRemovalPolicy,
    });
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    new CfnOutput(this, 'RestUrl', { value: this.api.apiEndpoint, description: 'REST API base URL' });
  }

  /** The API's base URL. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
