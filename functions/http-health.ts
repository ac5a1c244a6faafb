import { healthReport } from '../shared/health.js';
import type { Components } from '../shared/wiring.js';
import type { HttpUseCase } from './http/http-handler.js';
import { lambdaHttpHandler } from './http/lambda.js';

/**
 * `GET /health` (TC-REG-004): `ok` or `degraded` with reasons, never authenticated, never a secret.
 * Redis is checked only when the platform runs on Redis.
 */
export function healthUseCase(components: Components): HttpUseCase {
  const { config, bus } = components;
  return async () => ({
    status: 200,
    body: await healthReport({
      environment: config.environment,
      ...(config.redis.url !== undefined && { redis: () => bus.check() }),
      database: () => components.checkDatabase(),
    }),
  });
}

export const handler = lambdaHttpHandler('http-health', healthUseCase);
