import { existsSync } from 'node:fs';
import type { App } from 'aws-cdk-lib';
import { RemovalPolicy, type StackProps, type Stage } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { httpRoutes } from '../functions/routes.js';
import { WS_ROUTE_SELECTION_EXPRESSION, wsRouteTable } from '../functions/ws/route-table.js';
import { PROJECT_ROOT } from './constructs/platform-function.js';
import type { FunctionSettings } from './function-settings.js';
import { ApiStack, type RestRoute } from './stacks/api-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { IngestStack } from './stacks/ingest-stack.js';
import { NetworkStack } from './stacks/network-stack.js';
import { ObservabilityStack } from './stacks/observability-stack.js';
import { OrdersStack } from './stacks/orders-stack.js';
import { RealtimeStack, type WsRoute } from './stacks/realtime-stack.js';
import { SecretsStack } from './stacks/secrets-stack.js';

/** The order worker's module, as the orders stack deploys it. */
export const ORDER_WORKER_ENTRY = 'functions/order-worker.ts';
/** The order sweeper's module, as the orders stack deploys it. */
export const ORDER_SWEEPER_ENTRY = 'functions/order-sweeper.ts';
/** The dead-letter consumer's module, as the orders stack deploys it. */
export const ORDER_DEAD_LETTERS_ENTRY = 'functions/order-dead-letters.ts';

export interface PlatformOptions {
  /** The deployment's name: `prod` retains data and runs redundant capacity. */
  readonly stage: string;
  readonly env?: StackProps['env'];
  /** The Valkey cache (and so the VPC placement of functions); off for the LocalStack free plan. */
  readonly cache?: boolean;
  /** The REST route table; the shared `httpRoutes` by default. */
  readonly httpRoutes?: readonly RestRoute[];
  /** The WebSocket route table; the shared `wsRouteTable` by default. */
  readonly wsRoutes?: readonly WsRoute[];
  /** The order worker's module; {@link ORDER_WORKER_ENTRY} by default. */
  readonly orderWorkerEntry?: string;
  /** Verify client JWTs against this JWKS (an identity provider) instead of the HS256 secret. */
  readonly jwksUrl?: string;
  readonly alarmEmail?: string;
  /**
   * The API Gateway account's CloudWatch Logs role, which the WebSocket stage's access logs need:
   * `create` (default) sets it from this app, `existing` when the account already has one (another
   * stage or app in the same account and region set it).
   */
  readonly apiGatewayAccountRole?: ApiGatewayAccountRole;
  /** The ingest image's and tasks' CPU architecture. @default 'arm64' */
  readonly imageArchitecture?: ImageArchitecture;
  /**
   * Concurrency reserved for the order functions, from the stage's settings unless given
   * ({@link stageSettings}); `none` reserves nothing.
   */
  readonly reservedConcurrency?: ReservedConcurrency;
}

/** Whether the app sets the API Gateway account's CloudWatch role or finds one set. */
export type ApiGatewayAccountRole = 'create' | 'existing';
/** The ingest image's CPU architecture. */
export type ImageArchitecture = 'arm64' | 'x86_64';

/** Reserved concurrency of the order functions; absent reserves none (the account's pool is shared). */
export interface ReservedConcurrency {
  readonly orderWorker?: number;
  readonly orderSweeper?: number;
}

/** What differs between stages, in one place. */
export interface StageSettings {
  readonly reservedConcurrency: ReservedConcurrency;
}

/**
 * A stage's defaults. Nothing is reserved by default: Lambda keeps 100 of the account's
 * concurrency unreserved, so a new account (whose quota may be 10) refuses any reservation, and
 * the order worker's rate to Kite is bounded by its event source's maximum concurrency anyway.
 * Production reserves what the `reservedConcurrency` context gives (docs/deploy.md).
 */
export function stageSettings(_stage: string): StageSettings {
  return { reservedConcurrency: {} };
}

export interface Platform {
  readonly network: NetworkStack;
  readonly secrets: SecretsStack;
  readonly data: DataStack;
  readonly realtime: RealtimeStack;
  readonly api: ApiStack;
  readonly orders: OrdersStack;
  readonly ingest: IngestStack;
  readonly observability: ObservabilityStack;
}

/** Thrown at synth for a context value the app does not understand. */
export class DeployContextError extends Error {
  override readonly name = 'DeployContextError';
}

/**
 * The deployment's fit to its account and build machine, from CDK context (`-c key=value`):
 * `apiGatewayAccountRole`, `imageArchitecture`, `reservedConcurrency`. Absent keys keep the
 * defaults; a value outside the allowed ones fails the synth, naming the key.
 */
export function parseDeployContext(
  context: (key: string) => string | undefined,
): Pick<PlatformOptions, 'apiGatewayAccountRole' | 'imageArchitecture' | 'reservedConcurrency'> {
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const value = context(key);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new DeployContextError(`context ${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
    }
    return value as T;
  };
  const role = oneOf<ApiGatewayAccountRole>('apiGatewayAccountRole', ['create', 'existing']);
  const architecture = oneOf<ImageArchitecture>('imageArchitecture', ['arm64', 'x86_64']);
  const reserved = context('reservedConcurrency');
  let reservedConcurrency: ReservedConcurrency | undefined;
  if (reserved === 'none') reservedConcurrency = {};
  else if (reserved !== undefined) {
    const counts = reserved.split(',').map((part) => Number(part.trim()));
    if (counts.length > 2 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new DeployContextError(
        `context reservedConcurrency must be none, <worker> or <worker>,<sweeper> (positive integers), not ${JSON.stringify(reserved)}`,
      );
    }
    const [orderWorker, orderSweeper] = counts;
    reservedConcurrency = { orderWorker, ...(orderSweeper !== undefined && { orderSweeper }) };
  }
  return {
    ...(role !== undefined && { apiGatewayAccountRole: role }),
    ...(architecture !== undefined && { imageArchitecture: architecture }),
    ...(reservedConcurrency !== undefined && { reservedConcurrency }),
  };
}

/** Entries whose module exists: a route added to a table before its module is merged is left out. */
function present<T extends { readonly entry: string }>(entries: readonly T[]): T[] {
  return entries.filter((e) => existsSync(`${PROJECT_ROOT}${e.entry}`));
}

/**
 * Every stack of one deployment, split by lifecycle: network, secrets and data change rarely and
 * are kept; realtime, api, orders and ingest are the code; observability watches them. Stack names
 * are `Ticker-<stage>-<Part>`. The app and the tests build the same platform through this.
 */
export function createPlatform(scope: App | Stage, options: PlatformOptions): Platform {
  const { stage, env } = options;
  const prod = stage === 'prod';
  const name = (part: string) => `Ticker-${stage}-${part}`;
  const prefix = `ticker-${stage}`;
  const withCache = options.cache ?? true;

  const network = new NetworkStack(scope, name('Network'), { env, natGateways: prod ? 2 : 1 });
  const secrets = new SecretsStack(scope, name('Secrets'), { env, namePrefix: prefix, retainSecrets: prod });
  const data = new DataStack(scope, name('Data'), {
    env,
    tablePrefix: prefix,
    retainData: prod,
    ...(withCache && {
      cache: {
        vpc: network.vpc,
        clientSecurityGroup: network.workloadSecurityGroup,
        nodes: prod ? 2 : 1,
        alarmPrefix: name('alarm'),
      },
    }),
  });
  const alarmPrefix = name('alarm');
  const settings: FunctionSettings = {
    environment: {
      ENVIRONMENT: prod ? 'production' : 'staging',
      LOG_LEVEL: 'INFO',
      TABLE_PREFIX: prefix,
      ...(options.jwksUrl !== undefined && { JWKS_URL: options.jwksUrl }),
    },
    network: { vpc: network.vpc, securityGroups: [network.workloadSecurityGroup] },
    tables: data.tables,
    cache: data.cache,
    secrets,
    logRetention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
    logRemovalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    alarmPrefix,
  };
  const reserved = options.reservedConcurrency ?? stageSettings(stage).reservedConcurrency;

  const realtime = new RealtimeStack(scope, name('Realtime'), {
    env,
    settings,
    routes: present(options.wsRoutes ?? wsRouteTable),
    routeSelectionExpression: WS_ROUTE_SELECTION_EXPRESSION,
    throttle: { rateLimit: 1000, burstLimit: 2000 },
    createAccountRole: (options.apiGatewayAccountRole ?? 'create') === 'create',
  });
  const orders = new OrdersStack(scope, name('Orders'), {
    env,
    settings,
    workerEntry: present([{ entry: options.orderWorkerEntry ?? ORDER_WORKER_ENTRY }])[0]?.entry,
    sweeperEntry: present([{ entry: ORDER_SWEEPER_ENTRY }])[0]?.entry,
    deadLetterConsumerEntry: present([{ entry: ORDER_DEAD_LETTERS_ENTRY }])[0]?.entry,
    alarmPrefix,
    reservedConcurrency: reserved,
  });
  const api = new ApiStack(scope, name('Api'), {
    env,
    settings,
    routes: present(options.httpRoutes ?? httpRoutes),
    throttle: { rateLimit: 1000, burstLimit: 2000 },
    orderQueues: { queue: orders.queue, deadLetterQueue: orders.deadLetterQueue },
  });
  const ingest = new IngestStack(scope, name('Ingest'), {
    env,
    settings,
    vpc: network.vpc,
    securityGroup: network.workloadSecurityGroup,
    webSocket: realtime,
    ingestTasks: prod ? 2 : 1,
    fanoutTasks: prod ? { min: 2, max: 10 } : { min: 1, max: 3 },
    logRetention: settings.logRetention,
    logRemovalPolicy: settings.logRemovalPolicy,
    architecture: options.imageArchitecture ?? 'arm64',
  });
  const observability = new ObservabilityStack(scope, name('Observability'), {
    env,
    alarmPrefix,
    ...(options.alarmEmail !== undefined && { alarmEmail: options.alarmEmail }),
    httpApi: api.api,
    webSocketApi: realtime.api,
    orders: { queue: orders.queue, deadLetterQueue: orders.deadLetterQueue, alarms: orders.alarms },
    ingest: { ingestService: ingest.ingestService, fanoutService: ingest.fanoutService },
  });
  return { network, secrets, data, realtime, api, orders, ingest, observability };
}
