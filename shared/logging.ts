import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';

export type { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs (Powertools Logger) for every part of the platform. Lambdas add the request
 * id through `injectLambdaContext`.
 * Values wrapped in `Secret` serialise as `[redacted]`, so passing config objects is safe.
 */
export function createLogger(serviceName: string, config: Pick<Config, 'logLevel' | 'environment'>): Logger {
  return new Logger({
    serviceName,
    logLevel: config.logLevel,
    persistentKeys: { environment: config.environment },
  });
}
