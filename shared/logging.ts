import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';

export type { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs (Powertools Logger) for every part of the platform. Lambdas add the request
 * id through `injectLambdaContext`; long-running work adds its own with {@link withRequestId}.
 * Values wrapped in `Secret` serialise as `[redacted]`, so passing config objects is safe.
 */
export function createLogger(serviceName: string, config: Pick<Config, 'logLevel' | 'environment'>): Logger {
  return new Logger({
    serviceName,
    logLevel: config.logLevel,
    persistentKeys: { environment: config.environment },
  });
}

/** A child logger whose every line carries `request_id`, so one request's lines can be found together. */
export function withRequestId(logger: Logger, requestId: string): Logger {
  return logger.createChild({ persistentKeys: { request_id: requestId } });
}
