import type { Duration } from 'aws-cdk-lib';
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
}

/**
 * One of the platform's functions, with the shared settings and exactly the access listed: its
 * tables, its secrets, and the VPC placement when there is a cache to reach. Queues and the
 * management API are granted by the stack that owns them.
 */
export function createFunction(scope: Construct, id: string, settings: FunctionSettings, options: FunctionOptions) {
  const fn = new PlatformFunction(scope, id, {
    entry: options.entry,
    serviceName: options.serviceName,
    environment: { ...settings.environment, ...options.environment },
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
  return fn;
}

/** `functions/ws-connect.ts` → `ws-connect`: the service name and construct id of an entry. */
export function serviceNameOf(entry: string): string {
  return (entry.split('/').pop() ?? entry).replace(/\.ts$/, '');
}
