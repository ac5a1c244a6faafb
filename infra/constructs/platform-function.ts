import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { SECRET_ENVIRONMENT_VARIABLE } from '../lambda/secret-environment.js';
import { acknowledge } from '../nag.js';

/** The project root: function entries are given relative to it, as the route tables list them. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const HANDLER_ENTRY = fileURLToPath(new URL('../lambda/handler-entry.ts', import.meta.url));

/** An environment variable filled from Secrets Manager when the container starts (see `infra/lambda`). */
export interface SecretVariableSource {
  readonly name: string;
  readonly secret: ISecret;
  /** A field of a JSON secret; the whole secret string when absent. */
  readonly field?: string;
  /** `{value}` is replaced by the URI-encoded value, e.g. `rediss://:{value}@host:6380`. */
  readonly template?: string;
}

/** Where a function that reaches Redis runs: the VPC's private subnets and the workload security group. */
export interface FunctionNetwork {
  readonly vpc: IVpc;
  readonly securityGroups: readonly ISecurityGroup[];
}

export interface PlatformFunctionProps {
  /** The function's module relative to the project root (it exports `handler`), e.g. `functions/http-health.ts`. */
  readonly entry: string;
  /** Powertools service name and the log group's suffix, e.g. `http-health`. */
  readonly serviceName: string;
  readonly description?: string;
  /** @default 10 seconds */
  readonly timeout?: Duration;
  /** @default 512 MB: Lambda's CPU share grows with memory, and Greeks and JSON are CPU work. */
  readonly memorySize?: number;
  /** Plain configuration (never secret values). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Secret configuration, read from Secrets Manager at container start; read access is granted. */
  readonly secretVariables?: readonly SecretVariableSource[];
  readonly network?: FunctionNetwork;
  /** @default one month */
  readonly logRetention?: RetentionDays;
  /** @default DESTROY: logs go with a development stack; production passes RETAIN. */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Bundle for real (esbuild) or not. Tests skip bundling for speed through the CDK context
   * `aws:cdk:bundling-stacks`, which this construct honours like any asset.
   */
  readonly minify?: boolean;
  /** Concurrency reserved for this function (the order worker bounds its broker calls with it). */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Every Lambda function of the platform: Node.js 22 on ARM64 (Graviton: cheaper per GB-second),
 * bundled by the local esbuild into one ESM file (no Docker needed to synthesize), with source
 * maps, its own log group with a retention, JSON logs, X-Ray tracing and the Powertools
 * environment. The bundle starts from `infra/lambda/handler-entry.ts`, which loads the function's
 * secrets into `process.env` and re-exports the function module's `handler`.
 */
export class PlatformFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const secretVariables = props.secretVariables ?? [];
    const secretEnvironment = secretVariables.map((v) => ({
      name: v.name,
      secretArn: v.secret.secretArn,
      ...(v.field !== undefined && { field: v.field }),
      ...(v.template !== undefined && { template: v.template }),
    }));
    this.function = new NodejsFunction(this, 'Function', {
      entry: HANDLER_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description ?? `${props.serviceName} (${props.entry})`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      ...(props.network && {
        vpc: props.network.vpc,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [...props.network.securityGroups],
      }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'Ticker',
        ...props.environment,
        ...(secretEnvironment.length > 0 && { [SECRET_ENVIRONMENT_VARIABLE]: stack.toJsonString(secretEnvironment) }),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        mainFields: ['module', 'main'],
        minify: props.minify ?? true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // Bundle the AWS SDK too: pinned versions, the same code the tests ran.
        externalModules: [],
        // Some CommonJS dependencies `require` Node built-ins; ESM output needs a `require` for them.
        banner:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        esbuildArgs: { '--alias': `@ticker/function-entry=${PROJECT_ROOT}${props.entry}` },
      },
    });
    for (const variable of secretVariables) variable.secret.grantRead(this.function);
    acknowledge(
      this,
      'L1',
      'Node.js 22 is the platform runtime (the ingest image too): the code and tests target it; move with the project, not the newest runtime',
    );
    acknowledge(
      this,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "Lambda's standard logging policy; the function writes only to its own log group",
    );
    acknowledge(
      this,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      "Lambda's standard policy for creating its network interfaces in the VPC (functions that reach Redis)",
    );
    acknowledge(
      this,
      'IAM5[Resource::*]',
      'X-Ray PutTraceSegments and PutTelemetryRecords accept no resource narrower than *',
    );
  }
}
