import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  CfnEIP,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  NatProvider,
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
 * are on the internet) through NAT gateways on retained Elastic IPs (Kite's static-IP rule), and the endpoints that keep AWS traffic off the NAT: DynamoDB and S3
 * (gateway, free), Secrets Manager, SQS, ECR and CloudWatch Logs (interface). There is no
 * `execute-api` interface endpoint on purpose: with private DNS it would capture the public
 * WebSocket API's hostname, and PostToConnection to a public API through it fails.
 */
export class NetworkStack extends Stack {
  readonly vpc: Vpc;
  /**
   * The Elastic IPs the NAT gateways send from, one per gateway: every call to Kite leaves from
   * one of them, and Kite accepts order calls only from an account's registered static IPs (at
   * most two, changed at most once a calendar week; docs/deploy.md). Retained when the stack or a
   * gateway is deleted, so the registered addresses survive a rebuild.
   */
  readonly egressIps: readonly CfnEIP[];
  /** The functions and the ingest tasks: allowed to Redis and the endpoints. */
  readonly workloadSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const flowLogs = new LogGroup(this, 'FlowLogs', { retention: RetentionDays.ONE_MONTH });
    if (props.natGateways < 1 || props.natGateways > 2) {
      // Kite registers at most two static IPs per account, and orders need at least one.
      throw new RangeError(
        `natGateways must be 1 or 2 (Kite accepts at most two static IPs), not ${props.natGateways}`,
      );
    }
    this.egressIps = Array.from({ length: props.natGateways }, (_, i) => {
      const eip = new CfnEIP(this, `NatEgressIp${i + 1}`, {
        domain: 'vpc',
        tags: [{ key: 'Name', value: `${this.stackName}-kite-egress-${i + 1}` }],
      });
      eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
      return eip;
    });
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: props.natGateways,
      natGatewayProvider: NatProvider.gateway({ eipAllocationIds: this.egressIps.map((eip) => eip.attrAllocationId) }),
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
    this.egressIps.forEach((eip, i) => {
      new CfnOutput(this, `KiteEgressIp${i + 1}`, {
        value: eip.attrPublicIp,
        description: `Static IP ${i + 1} of the NAT egress: register it for each Kite account (docs/deploy.md)`,
        exportName: `${this.stackName}-KiteEgressIp${i + 1}`,
      });
    });
  }
}
