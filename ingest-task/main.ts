import { orderChangeNotifier, orderFrameHandler } from '../functions/orders/order-updates.js';
import { describeConnectionFailure } from '../shared/errors.js';
import { configFromEnvironment, createComponents, createConnectionGateway, runMain } from '../shared/wiring.js';
import { fanoutRole } from './fanout-role.js';
import { type IngestRole, indexedDemand, ingestRole } from './ingest-role.js';
import { LeaderLease } from './leader-lease.js';
import { registerFanoutMetrics } from './ops/fanout-metrics.js';
import { ingestHealth, standbyHealth } from './ops/ingest-health.js';
import { createMetricsRegistry, publishLatencyRecorder, registerIngestMetrics } from './ops/ingest-metrics.js';
import { OpsServer } from './ops/ops-server.js';
import { type Service, supervise } from './supervisor.js';

/**
 * The ingest task's entry point (Fargate). It validates configuration, connects its dependencies
 * (failing clearly, with nothing left running, when Redis or DynamoDB is unreachable), and
 * supervises the services of its roles until SIGTERM or SIGINT, then shuts them down within 30 s,
 * publishing every queued tick first.
 */
async function main(): Promise<void> {
  const config = configFromEnvironment();
  const components = await createComponents(config, 'ingest-task', { busAutoPipelining: false });
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

  // /health and /metrics on PORT, up before the lease is taken so a standby answers its health check
  // too; when the server stops, everything stops.
  const registry = createMetricsRegistry();
  let role: IngestRole | undefined;
  const ops = new OpsServer({
    port: config.port,
    registry,
    logger,
    health: () => (role ? ingestHealth(role.status()) : standbyHealth()),
  });
  const opsOutcome = supervise([ops], shutdown.signal, logger).finally(() => shutdown.abort());
  const listening = await ops.listening.then(
    () => true,
    () => false,
  );
  if (!listening) {
    const { failure } = await opsOutcome;
    await components.close();
    if (failure) throw failure.error;
    return;
  }

  const services: Service[] = [];
  if (config.roles.includes('ingest')) {
    const lease = new LeaderLease({ state: components.state, logger });
    if (!(await lease.acquire(shutdown.signal))) {
      const { failure } = await opsOutcome;
      await components.close();
      if (failure) process.exitCode = 1;
      return;
    }
    const instruments = await components.loadInstruments();
    role = ingestRole({
      ...components,
      instruments,
      onPublished: publishLatencyRecorder(registry),
      ...(components.connectionIndex !== undefined && { demand: indexedDemand(components.connectionIndex) }),
      onOrderFrame: orderFrameHandler({
        orders: components.orders,
        clock: components.clock,
        logger,
        onOrderChange: orderChangeNotifier(components.bus, logger),
      }),
    });
    registerIngestMetrics(registry, role);
    services.push(lease, ...role.services);
    logger.info('Ingest role ready', { instruments: instruments.length, source: role.status().source });
  }
  if (config.roles.includes('fanout')) {
    const fanout = fanoutRole({ ...components, gateway: createConnectionGateway(config) });
    registerFanoutMetrics(registry, fanout.fanout);
    const restored = await fanout.restore();
    services.push(...fanout.services);
    logger.info('Fanout role ready', {
      instance: fanout.instanceId,
      members: fanout.members(),
      connections: restored,
    });
  }

  const outcome = await supervise(services, shutdown.signal, logger);
  shutdown.abort();
  const opsEnd = await opsOutcome;
  await components.close();
  if ([outcome, opsEnd].some((o) => o.failure || o.unfinished.length > 0)) process.exitCode = 1;
}

runMain(main);
