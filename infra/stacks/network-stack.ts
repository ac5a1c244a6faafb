import { Stack, type StackProps } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The VPC's address range. */
export const VPC_CIDR = '10.40.0.0/16';

export interface NetworkStackProps extends StackProps {
  /** NAT gateways: one is cheaper (development), one per AZ survives an AZ outage (production). */
  readonly natGateways: number;
}

/**
 * The VPC everything that reaches Redis runs in: public subnets (NAT only), private subnets with
 * egress for the functions and the ingest tasks (Kite and API Gateway's `@connections` endpoint
 * are on the internet), and the endpoints that keep AWS traffic off the NAT: DynamoDB and S3
 * (gateway, free), Secrets Manager, SQS, ECR and CloudWatch Logs (interface). There is no
 * `execute-api` interface endpoint on purpose: with private DNS it would capture the public
 * WebSocket API's hostname, and PostToConnection to a public API through it fails.
 */
export class NetworkStack extends Stack {
  readonly vpc: Vpc;
  /** The functions and the ingest tasks: allowed to Redis and the endpoints. */
  readonly workloadSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const flowLogs = new LogGroup(this, 'FlowLogs', { retention: RetentionDays.ONE_MONTH });
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: {
        all: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL },
      },
      gatewayEndpoints: {
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: GatewayVpcEndpointAwsService.S3 },
      },
    });
    this.workloadSecurityGroup = new SecurityGroup(this, 'Workload', {
      vpc: this.vpc,
      description: 'Lambda functions and ingest tasks',
      allowAllOutbound: true,
    });
    const endpoints = new SecurityGroup(this, 'Endpoints', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from the VPC',
      allowAllOutbound: false,
    });
    endpoints.addIngressRule(Peer.ipv4(VPC_CIDR), Port.tcp(443), 'HTTPS from the VPC');
    const interfaces = {
      SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Sqs: InterfaceVpcEndpointAwsService.SQS,
      Ecr: InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    for (const [name, service] of Object.entries(interfaces)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        // The endpoints' group allows HTTPS from the VPC's range (above), not from its CIDR token.
        open: false,
        securityGroups: [endpoints],
        subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      });
    }
  }
}
