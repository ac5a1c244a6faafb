import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { PlatformFunction } from './constructs/platform-function.js';
import { type FunctionAccess, grantTables } from './function-access.js';
import { type FunctionSettings, secretVariables } from './function-settings.js';

export interface FunctionOptions {
  readonly entry: string;
  readonly serviceName: string;
  readonly access: FunctionAccess;
  readonly environment?: Readonly<Record<string, string>>;
  readonly timeout?: Duration;
  readonly memorySize?: number;
  readonly reservedConcurrentExecutions?: number;
  /**
   * Failed invocations in 5 minutes that raise the function's error alarm. REST and WebSocket
   * handlers answer their own errors (a 500 is not a Lambda error), so an error is a crash or a
   * timeout: 5 by default, 1 for the order pipeline, whose failures are orders.
   */
  readonly errorAlarmThreshold?: number;
}

/** The error and throttle alarms of one function (see {@link createFunction}). */
export interface FunctionAlarms {
  readonly errors: Alarm;
  readonly throttles: Alarm;
}

/**
 * One of the platform's functions, with the shared settings and exactly the access listed: its
 * tables, its secrets, and the VPC placement when there is a cache to reach; and its error and
 * throttle alarms. Queues and the management API are granted by the stack that owns them.
 */
export function createFunction(scope: Construct, id: string, settings: FunctionSettings, options: FunctionOptions) {
  const fn = new PlatformFunction(scope, id, {
    entry: options.entry,
    serviceName: options.serviceName,
    environment: {
      ...settings.environment,
      // Without the Kite secret an empty account list means nothing: say so, so nothing reads it as mock.
      ...(!options.access.secrets.includes('kiteAccounts') && { KITE_CREDENTIALS: 'withheld' }),
      ...options.environment,
    },
    secretVariables: secretVariables(settings, options.access.secrets),
    ...(settings.cache && settings.network && { network: settings.network }),
    logRetention: settings.logRetention,
    logRemovalPolicy: settings.logRemovalPolicy,
    ...(options.timeout && { timeout: options.timeout }),
    ...(options.memorySize !== undefined && { memorySize: options.memorySize }),
    ...(options.reservedConcurrentExecutions !== undefined && {
      reservedConcurrentExecutions: options.reservedConcurrentExecutions,
    }),
  });
  grantTables(fn.function, settings, options.access);
  return Object.assign(fn, { alarms: functionAlarms(fn, settings.alarmPrefix, options) });
}

/**
 * Errors (crashes, timeouts, out of memory) and throttles (the account's or the function's
 * concurrency used up: any throttle means requests or orders waited or were refused) of one
 * function, over 5 minutes. Named `<prefix>-fn-<service>-errors|throttles`.
 */
function functionAlarms(fn: PlatformFunction, alarmPrefix: string, options: FunctionOptions): FunctionAlarms {
  const period = Duration.minutes(5);
  return {
    errors: new Alarm(fn, 'ErrorsAlarm', {
      alarmName: `${alarmPrefix}-fn-${options.serviceName}-errors`,
      alarmDescription: `${options.serviceName} invocations failed (crash, timeout, out of memory): docs/deploy.md#alarms`,
      metric: fn.function.metricErrors({ period, statistic: 'Sum' }),
      threshold: options.errorAlarmThreshold ?? 5,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    throttles: new Alarm(fn, 'ThrottlesAlarm', {
      alarmName: `${alarmPrefix}-fn-${options.serviceName}-throttles`,
      alarmDescription: `${options.serviceName} invocations were throttled (concurrency used up): docs/deploy.md#alarms`,
      metric: fn.function.metricThrottles({ period, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
  };
}

/** `functions/ws-connect.ts` → `ws-connect`: the service name and construct id of an entry. */
export function serviceNameOf(entry: string): string {
  return (entry.split('/').pop() ?? entry).replace(/\.ts$/, '');
}
