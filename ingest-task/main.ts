import { setTimeout as sleep } from 'node:timers/promises';
import { configFromEnvironment, createComponents, runMain } from '../shared/wiring.js';
import { type Service, supervise } from './supervisor.js';

/**
 * The ingest task's entry point (Fargate). It validates configuration, connects its dependencies
 * and supervises its services until SIGTERM or SIGINT, then shuts them down within 30 s.
 * `INGEST_ROLES` picks the roles; the services of each role are added as they are built.
 */
async function main(): Promise<void> {
  const config = configFromEnvironment();
  const components = await createComponents(config, 'ingest-task');
  const { logger } = components;
  const services: Service[] = [
    {
      // Logs when the bus is lost and when it is back, once per change rather than on every check.
      name: 'bus-health',
      run: async (signal) => {
        let healthy = true;
        while (!signal.aborted) {
          const ok = await components.bus.check().then(
            () => true,
            () => false,
          );
          if (ok !== healthy)
            (ok ? logger.info : logger.error).call(logger, ok ? 'Bus reachable again' : 'Bus unreachable');
          healthy = ok;
          await sleep(5000, undefined, { signal }).catch(() => {});
        }
      },
    },
  ];

  const shutdown = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.once(name, () => {
      logger.info('Shutting down', { signal: name });
      shutdown.abort();
    });
  }
  logger.info('Ingest task started', { environment: config.environment, bus: config.redis.url ? 'redis' : 'memory' });
  const outcome = await supervise(services, shutdown.signal, logger);
  await components.close();
  if (outcome.failure || outcome.unfinished.length > 0) process.exitCode = 1;
}

runMain(main);
