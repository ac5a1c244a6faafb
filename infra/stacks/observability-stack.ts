import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { HttpApi, WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IAlarm,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { FargateService } from 'aws-cdk-lib/aws-ecs';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { INGEST_METRICS_NAMESPACE } from './ingest-stack.js';

export interface ObservabilityStackProps extends StackProps {
  /** Every platform alarm's name starts with this; the topic receives their state changes. */
  readonly alarmPrefix: string;
  /** Who is told: an e-mail subscription to the alarm topic, when given. */
  readonly alarmEmail?: string;
  readonly httpApi?: HttpApi;
  readonly webSocketApi?: WebSocketApi;
  readonly orders?: { readonly queue: IQueue; readonly deadLetterQueue: IQueue; readonly alarms: readonly IAlarm[] };
  readonly ingest?: { readonly ingestService: FargateService; readonly fanoutService: FargateService };
}

/** The ingest role's gauges as the metrics sidecar imports them (dimension `Role`). */
function ingestMetric(name: string, role: 'ingest' | 'fanout', statistic: string): Metric {
  return new Metric({
    namespace: INGEST_METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { Role: role },
    statistic,
    period: Duration.minutes(1),
  });
}

/**
 * One dashboard and the cross-cutting alarms: the ingest heartbeat missing (no running ingest role
 * reported, or no report at all), publisher backpressure, REST 5xx; with the orders stack's
 * dead-letter alarms on the same board. Alarms live with what they watch; this stack routes every
 * alarm whose name starts with the platform's prefix to one SNS topic through EventBridge, so no
 * stack depends on this one.
 */
export class ObservabilityStack extends Stack {
  readonly topic: Topic;
  readonly alarms: readonly Alarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    this.topic = new Topic(this, 'Alarms', { displayName: `${props.alarmPrefix} alarms`, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    new Rule(this, 'AlarmStateChanges', {
      description: `${props.alarmPrefix} alarms entering or leaving ALARM`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: `${props.alarmPrefix}-` }] },
      },
      targets: [new SnsTopic(this.topic)],
    });

    const alarms: Alarm[] = [];
    const running = ingestMetric('ingest_running', 'ingest', 'Maximum');
    const backpressure = ingestMetric('ingest_backpressure_level', 'ingest', 'Maximum');
    if (props.ingest) {
      alarms.push(
        new Alarm(this, 'IngestHeartbeatMissing', {
          alarmName: `${props.alarmPrefix}-ingest-heartbeat-missing`,
          alarmDescription:
            'No ingest role reported running for 3 minutes: no ticks reach clients (lease lost, Kite down, task crashing)',
          metric: running,
          threshold: 1,
          evaluationPeriods: 3,
          comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
          // No data is the worst case (no task, or no metrics): that is the alarm.
          treatMissingData: TreatMissingData.BREACHING,
        }),
        new Alarm(this, 'IngestBackpressure', {
          alarmName: `${props.alarmPrefix}-ingest-backpressure`,
          alarmDescription:
            'The tick publisher has been critical or overloaded for 3 minutes: Redis is slow, ticks may drop',
          metric: backpressure,
          threshold: 2,
          evaluationPeriods: 3,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    if (props.httpApi) {
      const errors = props.httpApi.metricServerError({ period: Duration.minutes(1), statistic: 'Sum' });
      const requests = props.httpApi.metricCount({ period: Duration.minutes(1), statistic: 'Sum' });
      alarms.push(
        new Alarm(this, 'RestServerErrors', {
          alarmName: `${props.alarmPrefix}-rest-5xx`,
          alarmDescription: 'Over 1 % of REST requests answered 5xx for 5 minutes',
          metric: new MathExpression({
            expression: 'IF(requests > 20, 100 * errors / requests, 0)',
            usingMetrics: { errors, requests },
            label: '5xx %',
            period: Duration.minutes(1),
          }),
          threshold: 1,
          evaluationPeriods: 5,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.alarms = alarms;

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${props.alarmPrefix}-platform` });
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...alarms, ...(props.orders?.alarms ?? [])],
        width: 24,
      }),
    );
    if (props.ingest) {
      this.dashboard.addWidgets(
        new GraphWidget({ title: 'Ingest running (heartbeat)', left: [running], width: 8 }),
        new GraphWidget({ title: 'Backpressure level (0–3)', left: [backpressure], width: 8 }),
        new GraphWidget({
          title: 'Ticks published / dropped / heard by nobody',
          left: [
            ingestMetric('ingest_ticks_published_total', 'ingest', 'Maximum'),
            ingestMetric('ingest_ticks_dropped_total', 'ingest', 'Maximum'),
            ingestMetric('ingest_ticks_unheard_total', 'ingest', 'Maximum'),
          ],
          width: 8,
        }),
        new GraphWidget({
          title: 'Fan-out tasks: CPU and count',
          left: [props.ingest.fanoutService.metricCpuUtilization()],
          right: [
            new Metric({
              namespace: 'ECS/ContainerInsights',
              metricName: 'RunningTaskCount',
              dimensionsMap: {
                ClusterName: props.ingest.fanoutService.cluster.clusterName,
                ServiceName: props.ingest.fanoutService.serviceName,
              },
              statistic: 'Average',
            }),
          ],
          width: 12,
        }),
      );
    }
    if (props.webSocketApi) {
      const ws = props.webSocketApi;
      this.dashboard.addWidgets(
        new GraphWidget({
          title: 'WebSocket: connects, messages, errors',
          left: [ws.metric('ConnectCount', { statistic: 'Sum' }), ws.metric('MessageCount', { statistic: 'Sum' })],
          right: [ws.metric('ClientError', { statistic: 'Sum' }), ws.metric('IntegrationError', { statistic: 'Sum' })],
          width: 12,
        }),
      );
    }
    if (props.httpApi) {
      this.dashboard.addWidgets(
        new GraphWidget({
          title: 'REST: requests, 4xx, 5xx',
          left: [props.httpApi.metricCount()],
          right: [props.httpApi.metricClientError(), props.httpApi.metricServerError()],
          width: 12,
        }),
        new GraphWidget({
          title: 'REST latency (p99)',
          left: [props.httpApi.metricLatency({ statistic: 'p99' })],
          width: 12,
        }),
      );
    }
    if (props.orders) {
      this.dashboard.addWidgets(
        new GraphWidget({
          title: 'Orders: queued, in flight, dead letters',
          left: [
            props.orders.queue.metricApproximateNumberOfMessagesVisible(),
            props.orders.queue.metricApproximateNumberOfMessagesNotVisible(),
            props.orders.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
          ],
          right: [props.orders.queue.metricApproximateAgeOfOldestMessage()],
          width: 24,
        }),
      );
    }
  }
}
