import { Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type ISecurityGroup, type IVpc, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup } from 'aws-cdk-lib/aws-elasticache';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  type KeyAttribute,
  physicalTableName,
  type TableDefinition,
  type TableName,
  Tables,
} from '../../shared/tables.js';
import { acknowledge } from '../nag.js';

export interface DataStackProps extends StackProps {
  /** Prefix of every table name, e.g. the stage (`prod`): the same rule the application uses. */
  readonly tablePrefix: string;
  /** Keep tables when the stack is deleted (production), or remove them (development). */
  readonly retainData: boolean;
  /**
   * Where the Valkey cache runs and who may reach it. Absent: no cache (the LocalStack free plan
   * has no ElastiCache), and the functions fall back to the in-process bus.
   */
  readonly cache?: CacheProps;
}

export interface CacheProps {
  readonly vpc: IVpc;
  /** The clients' security group: allowed in on the cache port. */
  readonly clientSecurityGroup: ISecurityGroup;
  /** @default cache.t4g.small */
  readonly nodeType?: string;
  /** Primary plus replicas; 2 or more turns on automatic failover across AZs. @default 1 */
  readonly nodes?: number;
  /** The cache's alarm names start with this. */
  readonly alarmPrefix: string;
}

/** Where clients reach the cache and the secret its auth token is in. */
export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  /** The AUTH token (the whole secret string); clients build `rediss://:<token>@host:port`. */
  readonly authToken: Secret;
}

/** Not Redis's default 6379, so a scan for open Redis ports finds nothing here. */
export const CACHE_PORT = 6380;

function attribute(key: KeyAttribute): { name: string; type: AttributeType } {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

/**
 * The DynamoDB tables of `shared/tables.ts`, built from the same definitions the local platform
 * and the tests create in dynalite: on-demand, point-in-time recovery, encrypted with the AWS
 * managed key, TTL where the definition names an attribute. And the Valkey cache (ElastiCache) the
 * tick bus, live state and connection index live in: TLS in transit, encrypted at rest, an AUTH
 * token generated into Secrets Manager, reachable only from the workload security group.
 */
export class DataStack extends Stack {
  readonly tables: Readonly<Record<TableName, TableV2>>;
  readonly cache: CacheEndpoint | undefined;
  /** CPU, memory and evictions of the cache (none without one). */
  readonly cacheAlarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const entries = (Object.entries(Tables) as [TableName, TableDefinition][]).map(([key, definition]) => {
      const table = new TableV2(this, `${key[0]?.toUpperCase()}${key.slice(1)}Table`, {
        tableName: physicalTableName(props.tablePrefix, definition),
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey && { sortKey: attribute(definition.sortKey) }),
        ...(definition.timeToLiveAttribute && { timeToLiveAttribute: definition.timeToLiveAttribute }),
        billing: Billing.onDemand(),
        encryption: TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: props.retainData,
        removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        globalSecondaryIndexes: (definition.globalSecondaryIndexes ?? []).map((index) => ({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey && { sortKey: attribute(index.sortKey) }),
        })),
      });
      return [key, table] as const;
    });
    this.tables = Object.fromEntries(entries) as Record<TableName, TableV2>;
    const cache = props.cache && this.createCache(props.tablePrefix, props.retainData, props.cache);
    this.cache = cache?.endpoint;
    this.cacheAlarms = cache && props.cache ? this.cacheAlarmsOf(cache.group, props.cache) : [];
  }

  /**
   * The cache node's engine thread busy (Valkey runs commands on one thread: at 100 % every
   * publish and lookup queues), memory filling (then keys are evicted: live state and connection
   * index entries vanish) and any eviction at all. Taken over every node (the primary moves on
   * failover), each node's metrics under its member cluster id `<group>-00N`.
   */
  private cacheAlarmsOf(group: CfnReplicationGroup, props: CacheProps): Alarm[] {
    const nodes = props.nodes ?? 1;
    const period = Duration.minutes(5);
    const perNode = (metricName: string, statistic: string): Record<string, IMetric> =>
      Object.fromEntries(
        Array.from({ length: nodes }, (_, i) => [
          `n${i + 1}`,
          new Metric({
            namespace: 'AWS/ElastiCache',
            metricName,
            dimensionsMap: { CacheClusterId: Fn.join('-', [group.ref, String(i + 1).padStart(3, '0')]) },
            statistic,
            period,
          }),
        ]),
      );
    const across = (metricName: string, statistic: string, fn: 'MAX' | 'SUM', label: string) => {
      const usingMetrics = perNode(metricName, statistic);
      return new MathExpression({
        label,
        expression: `${fn}([${Object.keys(usingMetrics).join(',')}])`,
        usingMetrics,
        period,
      });
    };
    const alarm = (
      id: string,
      name: string,
      description: string,
      metric: MathExpression,
      threshold: number,
      periods: number,
    ) =>
      new Alarm(this, id, {
        alarmName: `${props.alarmPrefix}-cache-${name}`,
        alarmDescription: `${description}: docs/deploy.md#alarms`,
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    return [
      alarm(
        'CacheCpuAlarm',
        'engine-cpu',
        'The cache engine thread has been over 80 % busy for 15 minutes',
        across('EngineCPUUtilization', 'Average', 'MAX', 'Engine CPU % (busiest node)'),
        80,
        3,
      ),
      alarm(
        'CacheMemoryAlarm',
        'memory',
        'The cache has used over 80 % of its memory for 15 minutes',
        across('DatabaseMemoryUsagePercentage', 'Maximum', 'MAX', 'Memory used % (fullest node)'),
        80,
        3,
      ),
      alarm(
        'CacheEvictionsAlarm',
        'evictions',
        'The cache evicted keys: live state or connection index entries were lost',
        across('Evictions', 'Sum', 'SUM', 'Evictions'),
        1,
        1,
      ),
    ];
  }

  private createCache(
    prefix: string,
    retain: boolean,
    props: CacheProps,
  ): { endpoint: CacheEndpoint; group: CfnReplicationGroup } {
    const authToken = new Secret(this, 'CacheAuthToken', {
      secretName: `${prefix}/cache-auth-token`,
      description: 'AUTH token of the Valkey cache (alphanumeric, so it needs no escaping in a URL)',
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const securityGroup = new SecurityGroup(this, 'CacheSecurityGroup', {
      vpc: props.vpc,
      description: 'Valkey cache: TLS from the workload security group only',
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(props.clientSecurityGroup, Port.tcp(CACHE_PORT), 'Valkey from the workloads');
    const subnets = new CfnSubnetGroup(this, 'CacheSubnets', {
      description: 'Private subnets of the Valkey cache',
      subnetIds: props.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
    });
    const nodes = props.nodes ?? 1;
    const group = new CfnReplicationGroup(this, 'Cache', {
      replicationGroupDescription: `${prefix} tick bus, live state and connection index`,
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: props.nodeType ?? 'cache.t4g.small',
      numCacheClusters: nodes,
      automaticFailoverEnabled: nodes > 1,
      multiAzEnabled: nodes > 1,
      port: CACHE_PORT,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      // A CloudFormation dynamic reference: resolved by CloudFormation at deploy, never in the template.
      authToken: authToken.secretValue.unsafeUnwrap(),
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      snapshotRetentionLimit: retain ? 7 : 0,
    });
    group.applyRemovalPolicy(retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    acknowledge(
      authToken,
      'SMG4',
      'Rotating an ElastiCache AUTH token needs a ROTATE-then-SET change on the replication group; done by hand (docs/deploy.md)',
    );
    if (nodes < 2) {
      acknowledge(
        group,
        'AEC4',
        'A single node in development: the bus and live state are rebuilt on restart; production runs 2 nodes, Multi-AZ',
      );
    }
    return { endpoint: { host: group.attrPrimaryEndPointAddress, port: CACHE_PORT, authToken }, group };
  }
}
