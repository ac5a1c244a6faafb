import { Duration, IgnoreMode, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  Secret as EcsSecret,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { PROJECT_ROOT } from '../constructs/platform-function.js';
import { grantTables } from '../function-access.js';
import type { FunctionSettings } from '../function-settings.js';
import { acknowledge } from '../nag.js';

/** The ingest task's ops port: `/health` (200 ok, 503 degraded) and Prometheus `/metrics`. */
export const OPS_PORT = 8080;

/** Where the CloudWatch agent sidecar puts the scraped ingest metrics (heartbeat, backpressure). */
export const INGEST_METRICS_NAMESPACE = 'Ticker/Ingest';

/** The Prometheus series imported into CloudWatch; the rest stay on `/metrics`. */
const IMPORTED_METRICS = [
  'ingest_running',
  'ingest_backpressure_level',
  'ingest_publisher_pending_ticks',
  'ingest_ticks_published_total',
  'ingest_ticks_dropped_total',
  'ingest_ticks_unheard_total',
  'ingest_publish_failures_total',
  'ingest_kite_connections',
  'ingest_active_subscriptions',
];

export interface IngestStackProps extends StackProps {
  readonly settings: FunctionSettings;
  readonly vpc: IVpc;
  readonly securityGroup: ISecurityGroup;
  /** The WebSocket API the fan-out posts to, and its stage's `@connections` endpoint. */
  readonly webSocket: { readonly managementEndpoint: string; grantManageConnections(role: IRole): void };
  /** Ingest tasks: 1, or 2 for a warm standby waiting on the Redis lease (production). */
  readonly ingestTasks: number;
  /** Fan-out tasks: autoscaled on CPU between these. */
  readonly fanoutTasks: { readonly min: number; readonly max: number };
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

type Role = 'ingest' | 'fanout';

/**
 * The long-running part: one ECS cluster and two Fargate services from the same image
 * (`ingest-task/Dockerfile`, ARM64): `ingest` (Kite → Redis; one active instance, the lease in
 * Redis decides which) and `fanout` (Redis → clients through `@connections`; scales out on CPU).
 * The image is built and pushed at deploy time; synthesizing only stages its small build context
 * (no Docker needed). Each task has a container health check on the ops `/health` port and a
 * CloudWatch agent sidecar that imports the heartbeat and backpressure gauges from `/metrics`.
 */
export class IngestStack extends Stack {
  readonly cluster: Cluster;
  readonly ingestService: FargateService;
  readonly fanoutService: FargateService;

  constructor(scope: Construct, id: string, props: IngestStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    const image = ContainerImage.fromAsset(PROJECT_ROOT, {
      file: 'ingest-task/Dockerfile',
      platform: Platform.LINUX_ARM64,
      // Only what the image builds from: staging copies this context into cdk.out at synth.
      ignoreMode: IgnoreMode.DOCKER,
      exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!shared', '!ingest-task', '!types'],
    });
    const service = (role: Role, cpu: number, memoryLimitMiB: number, desiredCount: number) => {
      const task = new FargateTaskDefinition(this, `${role}-task`, {
        cpu,
        memoryLimitMiB,
        runtimePlatform: {
          cpuArchitecture: CpuArchitecture.ARM64,
          operatingSystemFamily: OperatingSystemFamily.LINUX,
        },
      });
      const logGroup = new LogGroup(this, `${role}-logs`, {
        retention: props.logRetention,
        removalPolicy: props.logRemovalPolicy,
      });
      // The metrics sidecar writes its EMF records into the task's own log group.
      logGroup.grantWrite(task.taskRole);
      const secrets: Record<string, EcsSecret> = {
        JWT_SECRET: EcsSecret.fromSecretsManager(settings.secrets.jwt, 'JWT_SECRET'),
        ...(role === 'ingest' && {
          KITE_ACCOUNTS: EcsSecret.fromSecretsManager(settings.secrets.kiteAccounts, 'KITE_ACCOUNTS'),
        }),
        ...(settings.cache && { REDIS_AUTH_TOKEN: EcsSecret.fromSecretsManager(settings.cache.authToken) }),
      };
      task.addContainer('app', {
        image,
        essential: true,
        portMappings: [{ containerPort: OPS_PORT, name: 'ops' }],
        environment: {
          ...settings.environment,
          INGEST_ROLES: role,
          PORT: String(OPS_PORT),
          POWERTOOLS_SERVICE_NAME: `ingest-task-${role}`,
          ...(role === 'fanout' && { WS_MANAGEMENT_ENDPOINT: props.webSocket.managementEndpoint }),
          // The image's start command builds REDIS_URL from these and the AUTH token (TLS).
          ...(settings.cache && { REDIS_HOST: settings.cache.host, REDIS_PORT: String(settings.cache.port) }),
        },
        secrets,
        logging: LogDrivers.awsLogs({ streamPrefix: role, logGroup }),
        healthCheck: {
          command: ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${OPS_PORT}/health || exit 1`],
          interval: Duration.seconds(30),
          timeout: Duration.seconds(5),
          retries: 3,
          startPeriod: Duration.seconds(60),
        },
        stopTimeout: Duration.seconds(40),
      });
      task.addContainer('metrics', {
        image: ContainerImage.fromRegistry('public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest'),
        essential: false,
        memoryReservationMiB: 64,
        environment: {
          PROMETHEUS_CONFIG_CONTENT: prometheusConfig(role),
          CW_CONFIG_CONTENT: this.toJsonString(agentConfig(this.cluster.clusterName, logGroup.logGroupName)),
        },
        logging: LogDrivers.awsLogs({ streamPrefix: `${role}-metrics`, logGroup }),
      });
      acknowledge(
        task,
        'IAM5[Resource::*]',
        'The execution role pulls the image: ecr:GetAuthorizationToken accepts no resource narrower than *',
      );
      acknowledge(
        task,
        'ECS2',
        'Only plain configuration is in environment variables (stage, table prefix, role, endpoints); every secret comes from Secrets Manager',
      );
      return new FargateService(this, `${role}-service`, {
        cluster: this.cluster,
        taskDefinition: task,
        desiredCount,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [props.securityGroup],
        circuitBreaker: { rollback: true },
        // The ingest lease must be released before a replacement takes it: stop the old task first.
        minHealthyPercent: role === 'ingest' ? 0 : 100,
        maxHealthyPercent: 200,
        enableExecuteCommand: false,
      });
    };
    this.ingestService = service('ingest', 1024, 2048, props.ingestTasks);
    this.fanoutService = service('fanout', 512, 1024, props.fanoutTasks.min);

    // Both roles check the subscriptions table at start; ingest reads the active subscriptions.
    grantTables(this.ingestService.taskDefinition.taskRole, settings, {
      // Orders: the order frames Kite sends on the ticker sockets are merged into their tasks.
      tables: { subscriptions: 'read', orders: 'readWrite', brokerOrders: 'readWrite' },
      secrets: [],
    });
    grantTables(this.fanoutService.taskDefinition.taskRole, settings, {
      tables: { subscriptions: 'describe', connections: 'readWrite' },
      secrets: [],
    });
    props.webSocket.grantManageConnections(this.fanoutService.taskDefinition.taskRole);

    const scaling = this.fanoutService.autoScaleTaskCount({
      minCapacity: props.fanoutTasks.min,
      maxCapacity: props.fanoutTasks.max,
    });
    scaling.scaleOnCpuUtilization('cpu', {
      targetUtilizationPercent: 60,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
  }
}

/** The sidecar's Prometheus scrape configuration: this task's own `/metrics` (tasks share localhost). */
function prometheusConfig(role: Role): string {
  return [
    'global:',
    '  scrape_interval: 30s',
    '  scrape_timeout: 10s',
    'scrape_configs:',
    '  - job_name: ingest-task',
    '    static_configs:',
    `      - targets: ['localhost:${OPS_PORT}']`,
    '        labels:',
    `          Role: ${role}`,
    '',
  ].join('\n');
}

/** The CloudWatch agent's configuration: the imported series as EMF metrics, by role. */
function agentConfig(clusterName: string, logGroupName: string): unknown {
  return {
    logs: {
      metrics_collected: {
        prometheus: {
          cluster_name: clusterName,
          log_group_name: logGroupName,
          prometheus_config_path: 'env:PROMETHEUS_CONFIG_CONTENT',
          emf_processor: {
            metric_namespace: INGEST_METRICS_NAMESPACE,
            metric_declaration: [
              {
                source_labels: ['job'],
                label_matcher: '^ingest-task$',
                dimensions: [['Role']],
                metric_selectors: IMPORTED_METRICS.map((name) => `^${name}$`),
              },
            ],
          },
        },
      },
      force_flush_interval: 5,
    },
  };
}
