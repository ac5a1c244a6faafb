import { configFromEnvironment, runMain } from '../../shared/wiring.js';
import { startLocalPlatform } from './platform.js';

/** `npm start`: the whole platform on this machine, until Ctrl-C. */
runMain(async () => {
  const config = configFromEnvironment();
  const platform = await startLocalPlatform(config);
  const { logger } = platform.components;
  if (config.auth.jwtSecretIsDefault) {
    logger.warn('JWT_SECRET is not set: using the development secret. Set JWT_SECRET before exposing this anywhere.');
  }
  logger.info('Platform ready', {
    health: `${platform.url}/health`,
    bus: config.redis.url ? 'redis' : 'in-memory',
    dynamodb: config.dynamodb.endpoint ?? 'dynalite (in process)',
  });
  process.stdout.write(`\nTicker platform running at ${platform.url}  (health: ${platform.url}/health)\n\n`);

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info('Stopping', { signal });
      platform.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
});
