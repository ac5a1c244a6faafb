import type { RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { TableName } from '../shared/tables.js';
import type { FunctionNetwork, SecretVariableSource } from './constructs/platform-function.js';
import type { CacheEndpoint } from './stacks/data-stack.js';

/** The platform's secrets, by what they hold (see the secrets stack). */
export interface PlatformSecrets {
  readonly kiteAccounts: ISecret;
  readonly jwt: ISecret;
  readonly apiKeys: ISecret;
}

/** What every function stack is handed: the shared configuration, network, tables, cache and secrets. */
export interface FunctionSettings {
  /** Plain configuration every function gets (`ENVIRONMENT`, `TABLE_PREFIX`, `LOG_LEVEL`, …). */
  readonly environment: Readonly<Record<string, string>>;
  /** The VPC placement of functions that reach Redis; absent when there is no cache. */
  readonly network: FunctionNetwork | undefined;
  readonly tables: Readonly<Record<TableName, ITableV2>>;
  readonly cache: CacheEndpoint | undefined;
  readonly secrets: PlatformSecrets;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Every alarm's name starts with this (`Ticker-<stage>-alarm`): the observability stack routes them by it. */
  readonly alarmPrefix: string;
}

/** The ways to reach a secret the composition root reads as an environment variable. */
export type SecretName = 'jwt' | 'apiKeys' | 'kiteAccounts';

const SECRET_FIELDS = {
  jwt: 'JWT_SECRET',
  apiKeys: 'API_KEYS',
  kiteAccounts: 'KITE_ACCOUNTS',
} as const satisfies Record<SecretName, string>;

/**
 * The secret environment of a function: `REDIS_URL` (built from the cache's AUTH token) when there
 * is a cache, and the named secrets' fields under their variable names.
 */
export function secretVariables(settings: FunctionSettings, names: readonly SecretName[]): SecretVariableSource[] {
  const variables: SecretVariableSource[] = names.map((name) => ({
    name: SECRET_FIELDS[name],
    secret: settings.secrets[name],
    field: SECRET_FIELDS[name],
  }));
  if (settings.cache) {
    variables.push({
      name: 'REDIS_URL',
      secret: settings.cache.authToken,
      template: `rediss://:{value}@${settings.cache.host}:${settings.cache.port}`,
    });
  }
  return variables;
}
