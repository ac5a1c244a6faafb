import { Duration, IgnoreMode, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
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
  'fanout_posts_total',
  'fanout_post_errors_total',
  'fanout_posts_throttled_total',
  'fanout_posts_gone_total',
];

/** The image's and the tasks' CPU architecture, with the Docker platform it is built for. */
const ARCHITECTURES = {
  arm64: { cpu: CpuArchitecture.ARM64, platform: Platform.LINUX_ARM64 },
  x86_64: { cpu: CpuArchitecture.X86_64, platform: Platform.LINUX_AMD64 },
} as const;

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
  /**
   * `arm64` (Graviton, cheaper; building it on an x86 machine needs Docker buildx with QEMU) or
   * `x86_64`. The image and the task definition always agree. @default 'arm64'
   */
  readonly architecture?: keyof typeof ARCHITECTURES;
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
  /** Running tasks below desired (each service), fan-out posts failing or throttled. */
  readonly alarms: readonly Alarm[];
  readonly #alarmPrefix: string;

  constructor(scope: Construct, id: string, props: IngestStackProps) {
    super(scope, id, props);
    this.#alarmPrefix = props.settings.alarmPrefix;
    const { settings } = props;
    const architecture = ARCHITECTURES[props.architecture ?? 'arm64'];
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    const image = ContainerImage.fromAsset(PROJECT_ROOT, {
      file: 'ingest-task/Dockerfile',
      platform: architecture.platform,
      // Only what the image builds from: staging copies this context into cdk.out at synth.
      ignoreMode: IgnoreMode.DOCKER,
      exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!shared', '!ingest-task', '!types'],
    });
    const service = (role: Role, cpu: number, memoryLimitMiB: number, desiredCount: number) => {
      const task = new FargateTaskDefinition(this, `${role}-task`, {
        cpu,
        memoryLimitMiB,
        runtimePlatform: {
          cpuArchitecture: architecture.cpu,
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
    this.alarms = [
      this.#tasksBelowDesired('ingest', this.ingestService),
      this.#tasksBelowDesired('fanout', this.fanoutService),
      ...this.#fanoutPostAlarms(),
    ];
  }

  /**
   * Fewer tasks running than the service wants, for 10 minutes (Container Insights' task counts):
   * tasks crash at start, fail their health check, or cannot be placed (image pull, capacity).
   */
  #tasksBelowDesired(role: Role, service: FargateService): Alarm {
    const period = Duration.minutes(1);
    const count = (metricName: string) =>
      new Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: service.serviceName },
        statistic: 'Average',
        period,
      });
    return new Alarm(this, `${role}-tasks-below-desired`, {
      alarmName: `${this.#alarmPrefix}-${role}-tasks-below-desired`,
      alarmDescription: `The ${role} service has run fewer tasks than desired for 10 minutes: docs/deploy.md#alarms`,
      metric: new MathExpression({
        label: 'Desired minus running tasks',
        expression: 'desired - running',
        usingMetrics: { desired: count('DesiredTaskCount'), running: count('RunningTaskCount') },
        period,
      }),
      threshold: 1,
      evaluationPeriods: 10,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * The fan-out's posts to `@connections` (its `/metrics` counters, imported per scrape as deltas):
   * posts that failed outright (not Gone: the client lost ticks), and posts API Gateway throttled
   * (the account's PostToConnection quota is full; the fan-out retries, clients fall behind).
   */
  #fanoutPostAlarms(): Alarm[] {
    const period = Duration.minutes(5);
    const fanout = (metricName: string) =>
      new Metric({
        namespace: INGEST_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Role: 'fanout' },
        statistic: 'Sum',
        period,
      });
    return [
      new Alarm(this, 'fanout-post-failures', {
        alarmName: `${this.#alarmPrefix}-fanout-post-failures`,
        alarmDescription: 'Over 1 % of fan-out posts failed (not Gone) in 5 minutes: docs/deploy.md#alarms',
        metric: new MathExpression({
          label: 'Failed posts %',
          expression: 'IF(posts > 100, 100 * errors / posts, 0)',
          usingMetrics: { errors: fanout('fanout_post_errors_total'), posts: fanout('fanout_posts_total') },
          period,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'fanout-post-throttles', {
        alarmName: `${this.#alarmPrefix}-fanout-post-throttles`,
        alarmDescription: 'API Gateway throttled fan-out posts for 15 minutes (quota full): docs/deploy.md#alarms',
        metric: fanout('fanout_posts_throttled_total'),
        threshold: 100,
        evaluationPeriods: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
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
