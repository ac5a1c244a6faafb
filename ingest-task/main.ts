import { describeConnectionFailure } from '../shared/errors.js';
import { configFromEnvironment, createComponents, runMain } from '../shared/wiring.js';
import { ingestRole } from './ingest-role.js';
import { LeaderLease } from './leader-lease.js';
import { type Service, supervise } from './supervisor.js';

/**
 * The ingest task's entry point (Fargate). It validates configuration, connects its dependencies
 * (failing clearly, with nothing left running, when Redis or DynamoDB is unreachable), and
 * supervises the services of its roles until SIGTERM or SIGINT, then shuts them down within 30 s,
 * publishing every queued tick first.
 */
async function main(): Promise<void> {
  const config = configFromEnvironment();
  const components = await createComponents(config, 'ingest-task');
  const { logger } = components;
  const shutdown = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.once(name, () => {
      logger.info('Shutting down', { signal: name });
      shutdown.abort();
    });
  }
  try {
    await components.checkDatabase();
  } catch (error) {
    await components.close();
    const reason = describeConnectionFailure(error);
    throw new Error(`Failed to connect to database (DynamoDB): ${reason}`, { cause: error });
  }

  const services: Service[] = [];
  if (config.roles.includes('ingest')) {
    const lease = new LeaderLease({ state: components.state, logger });
    if (!(await lease.acquire(shutdown.signal))) {
      await components.close();
      return;
    }
    const instruments = await components.loadInstruments();
    const role = ingestRole({ ...components, instruments });
    services.push(lease, ...role.services);
    logger.info('Ingest role ready', { instruments: instruments.length, source: role.status().source });
  }
  if (config.roles.includes('fanout')) logger.warn('The fanout role is not part of this build yet');

  const outcome = await supervise(services, shutdown.signal, logger);
  await components.close();
  if (outcome.failure || outcome.unfinished.length > 0) process.exitCode = 1;
}

runMain(main);
