import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpHandler } from '../../functions/http/http-handler.js';
import { deadLetterConsumerDependencies, deadLetterHandler } from '../../functions/order-dead-letters.js';
import { orderSweeperDependencies } from '../../functions/order-sweeper.js';
import { orderWorkerDependencies, orderWorkerHandler } from '../../functions/order-worker.js';
import { OrderSweeper } from '../../functions/orders/order-sweeper.js';
import { orderChangeNotifier, orderFrameHandler, pollOpenOrders } from '../../functions/orders/order-updates.js';
import { httpRoutes, routeUseCase } from '../../functions/routes.js';
import { wsRouteTable } from '../../functions/ws/route-table.js';
import { wsRouteHandlers } from '../../functions/ws/ws-handler.js';
import { ConnectionEvents } from '../../ingest-task/fanout/connection-events.js';
import { Fanout } from '../../ingest-task/fanout/fanout.js';
import { indexedDemand, ingestRole } from '../../ingest-task/ingest-role.js';
import { supervise } from '../../ingest-task/supervisor.js';
import { LocalEventSource } from '../../shared/adapters/local-sqs/local-event-source.js';
import type { LocalOrderQueues } from '../../shared/adapters/local-sqs/local-order-queue.js';
import type { Config } from '../../shared/config.js';
import type { ApiErrorResponse } from '../../shared/contracts/common.js';
import { describeError } from '../../shared/errors.js';
import type { Instrument } from '../../shared/ports/market-data.js';
import type { SubscriptionStore } from '../../shared/ports/subscription-store.js';
import { type Components, createComponents, orderComponents } from '../../shared/wiring.js';
import { createConnectionsEndpoint } from './connections-endpoint.js';
import { createDashboardServer } from './dashboard-server.js';
import { ensureTables, type LocalDynamoDb, localDynamoDbClient, startLocalDynamoDb } from './dynamodb-local.js';
import { hostPolicy } from './host-check.js';
import { createHttpGateway } from './http-gateway.js';
import { OrderSweepService } from './order-sweep-service.js';
import { SigV4Verifier } from './sigv4-verifier.js';
import { LocalSqsEndpoint } from './sqs-endpoint.js';
import { LocalWsGateway } from './ws-gateway.js';

/** The running local platform. */
export interface LocalPlatform {
  readonly url: string;
  readonly components: Components;
  /** The route keys the WebSocket gateway serves (those of `functions/ws/route-table.ts`). */
  readonly wsRouteKeys: readonly string[];
  close(): Promise<void>;
}

/** Thrown when `PORT` is taken: most often a second `npm start`. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(readonly port: number) {
    super(`Port ${port} is already in use (is another npm start running?). Stop it or set PORT to a free port.`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function notFound(req: IncomingMessage): ApiErrorResponse {
  return { error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.url?.split('?')[0]}` } };
}

/**
 * Every REST route of `functions/routes.ts` on `components`, served as API Gateway's HTTP API
 * serves them (see {@link createHttpGateway}); false when no route matches.
 */
export function createRestGateway(components: Components) {
  return createHttpGateway(
    httpRoutes.map((route) => ({
      method: route.method,
      path: route.path,
      handler: httpHandler(components.logger, routeUseCase(components, route)),
    })),
  );
}

/**
 * Starts the platform on this machine: dynalite with every table (unless `DYNAMODB_ENDPOINT` points
 * elsewhere), the bus, and the HTTP server on `config.port`. Each later part of the platform
 * (REST and WebSocket gateway, ingest, fan-out, order worker, dashboard) is started from here.
 */
export async function startLocalPlatform(config: Config): Promise<LocalPlatform> {
  let dynamo: LocalDynamoDb | undefined;
  let endpoint = config.dynamodb.endpoint;
  if (endpoint === undefined) {
    dynamo = await startLocalDynamoDb(
      config.dynamodb.localDataDir === undefined ? {} : { path: config.dynamodb.localDataDir },
    );
    endpoint = dynamo.endpoint;
  }
  const setupClient = localDynamoDbClient(endpoint);
  try {
    await ensureTables(setupClient, config.dynamodb.tablePrefix);
  } finally {
    setupClient.destroy();
  }

  const effective: Config = { ...config, dynamodb: { ...config.dynamodb, endpoint } };
  let components: Components;
  try {
    // The platform hosts the ingest task's publisher too.
    components = await createComponents(effective, 'local-platform', { busAutoPipelining: false });
  } catch (error) {
    await dynamo?.stop();
    throw error;
  }

  const instruments = await components.loadInstruments();
  await seedSubscriptions(components.subscriptions, instruments, components.clock.now());
  const ingest = ingestRole({
    ...components,
    instruments,
    // What clients want: the Redis index when there is one, else the fan-out of this process, which
    // hears of every connection.
    demand: components.connectionIndex ? indexedDemand(components.connectionIndex) : () => fanout.tokens(),
    onOrderFrame: orderFrameHandler({
      orders: components.orders,
      clock: components.clock,
      logger: components.logger,
      onOrderChange: orderChangeNotifier(components.bus, components.logger),
    }),
  });

  // The WebSocket API: exactly the routes of the table the CDK stack deploys, through the same
  // middy handlers as the Lambdas, behind a gateway that behaves like API Gateway (its management
  // API included), with the fan-out posting through it.
  const handlers = wsRouteHandlers(components);
  const ws = new LocalWsGateway(
    Object.fromEntries(wsRouteTable.map(({ routeKey }) => [routeKey, handlers[routeKey]])),
    components.logger,
    { keepaliveIntervalMs: config.localWsKeepaliveSeconds * 1000 },
  );
  // The SQS endpoint and `@connections` take only calls signed with the local key pair.
  const signatures = new SigV4Verifier({
    accessKeyId: config.localAws.accessKeyId,
    secretAccessKey: config.localAws.secretAccessKey.reveal(),
  });
  const management = createConnectionsEndpoint(ws, signatures);
  const fanout = new Fanout({
    bus: components.bus,
    gateway: ws,
    clock: components.clock,
    logger: components.logger,
    onGone: (id) => void components.connections.remove(id).catch(() => {}),
  });
  const events = new ConnectionEvents({
    bus: components.bus,
    fanout,
    gateway: ws,
    state: components.state,
    clock: components.clock,
    logger: components.logger,
    defaultBatchIntervalMs: components.config.realtime.batchIntervalMs,
  });
  // The order pipeline: the worker's handler on the in-process orders queue, invoked as Lambda's
  // SQS event source invokes it, and the queues on SQS's API for producers using the AWS SDK.
  const orderQueues = components.localOrderQueues;
  // With the worker, the sweeper: orders whose message was lost (a crash between the record and the
  // send) are queued again. Where orders go to SQS, the cloud's sweeper does it.
  const orderWorker =
    orderQueues === undefined
      ? []
      : [localOrderWorker(components, orderQueues), localOrderSweeper(components), localOrderPoller(components)];
  // The dead-letter consumer on the local dead-letter queue, as the cloud's event source runs it.
  const deadLetterConsumer = orderQueues === undefined ? [] : [localDeadLetterConsumer(components, orderQueues)];
  const sqs = new LocalSqsEndpoint(orderQueues === undefined ? [] : [orderQueues.main, orderQueues.deadLetter], {
    verifier: signatures,
  });
  const stopIngest = new AbortController();
  const ingesting = supervise(
    [...ingest.services, fanout, events, ...orderWorker, ...deadLetterConsumer],
    stopIngest.signal,
    components.logger,
  );

  const rest = createRestGateway(components);
  // The live dashboard at `/` (static page, uPlot, and a development token for this machine).
  const dashboard = createDashboardServer(config);
  const allowedHost = hostPolicy(config);
  const server = createServer((req, res) => {
    if (!allowedHost(req)) {
      sendJson(res, 403, {
        error: {
          code: 'FORBIDDEN_HOST',
          message: `Host ${req.headers.host ?? '(none)'} is not served here: see LOCAL_ALLOWED_HOSTS`,
        },
      });
      return;
    }
    sqs
      .handle(req, res)
      .then((handled) => handled || management(req, res))
      .then((handled) => handled || rest(req, res))
      .then((handled) => handled || dashboard(req, res))
      .then(
        (handled) => {
          if (!handled) sendJson(res, 404, notFound(req));
        },
        (error: unknown) => {
          components.logger.error('Local gateway failed', {
            error: error instanceof Error ? error.message : String(error),
          });
          if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'Local gateway error' } });
        },
      );
  });
  server.on('upgrade', (request, socket, head) => {
    if (!allowedHost(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    void ws.upgrade(request, socket, head);
  });
  server.listen(config.port, config.host);
  try {
    await once(server, 'listening').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE' ? new PortInUseError(config.port) : error;
    });
  } catch (error) {
    stopIngest.abort();
    await ingesting;
    await components.close();
    await dynamo?.stop();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    components,
    wsRouteKeys: ws.routeKeys,
    close: async () => {
      await ws.closeAll();
      server.close();
      server.closeAllConnections();
      stopIngest.abort();
      await ingesting;
      await components.close();
      await dynamo?.stop();
    },
  };
}

/**
 * How often the local platform sweeps for stranded orders unless `ORDER_SWEEP_INTERVAL_SECONDS`
 * says: a record is due once unchanged for the derived window (90 s on the local queue's 30 s
 * visibility and the default retry and breaker delays), and a short interval adds at most this
 * much to it. A sweep is three index queries, so sweeping often costs next to nothing.
 */
const LOCAL_ORDER_SWEEP_INTERVAL_SECONDS = 10;

/** Invocations of the order worker at a time: the cloud's reserved concurrency (infra/stacks/orders-stack.ts). */
const LOCAL_ORDER_WORKER_CONCURRENCY = 5;

/**
 * The order worker on the local orders queue: the handler the Lambda exports, over this platform's
 * components, polled in batches of up to 10 with partial batch failures, as the cloud's event source.
 */
function localOrderWorker(components: Components, queues: LocalOrderQueues): LocalEventSource {
  const handler = orderWorkerHandler(orderWorkerDependencies(components));
  return new LocalEventSource({
    queue: queues.main,
    handler,
    batchSize: 10,
    maxConcurrency: LOCAL_ORDER_WORKER_CONCURRENCY,
    functionName: 'order-worker',
    region: components.config.awsRegion,
    onInvocationError: (error) =>
      components.logger.error('Order worker invocation failed; its records come back after the visibility timeout', {
        error: describeError(error),
      }),
  });
}

/**
 * The dead-letter consumer on the local dead-letter queue: the handler the Lambda exports, so what
 * the queue's redrive policy moves there is recorded `max_receives` and kept for a redrive.
 */
function localDeadLetterConsumer(components: Components, queues: LocalOrderQueues): LocalEventSource {
  return new LocalEventSource({
    queue: queues.deadLetter,
    handler: deadLetterHandler(deadLetterConsumerDependencies(components)),
    batchSize: 10,
    functionName: 'order-dead-letters',
    region: components.config.awsRegion,
    onInvocationError: (error) =>
      components.logger.error('Dead-letter consumer invocation failed; its records come back later', {
        error: describeError(error),
      }),
  });
}

/** The order sweeper on this platform's components, every `ORDER_SWEEP_INTERVAL_SECONDS` (default {@link LOCAL_ORDER_SWEEP_INTERVAL_SECONDS}). */
function localOrderSweeper(components: Components): OrderSweepService {
  return new OrderSweepService({
    sweeper: new OrderSweeper(orderSweeperDependencies(components)),
    intervalSeconds: components.config.orders.sweepIntervalSeconds ?? LOCAL_ORDER_SWEEP_INTERVAL_SECONDS,
    clock: components.clock,
    logger: components.logger,
  });
}

/**
 * The poll of open orders every `ORDER_POLL_INTERVAL_SECONDS` (1 s): resting paper orders fill when
 * the live price crosses them, and Kite orders catch up on a missed postback or order frame.
 */
function localOrderPoller(components: Components): OrderSweepService {
  const { orders, clock, logger, config } = components;
  const deps = {
    orders,
    clock,
    logger,
    brokerFor: orderComponents(components).brokerFor,
    onOrderChange: orderChangeNotifier(components.bus, logger),
  };
  return new OrderSweepService({
    name: 'order-poller',
    sweeper: { sweep: () => pollOpenOrders(deps) },
    intervalSeconds: config.orders.pollIntervalSeconds,
    clock,
    logger,
  });
}

/**
 * On a first start (no subscriptions yet), subscribes the nearest expiry's options of every
 * underlying in the registry, so the platform streams something the moment it is up.
 */
async function seedSubscriptions(
  store: SubscriptionStore,
  instruments: readonly Instrument[],
  nowMs: number,
): Promise<void> {
  if ((await store.list({ limit: 1 })).items.length > 0) return;
  const options = instruments.filter(
    (i) => (i.instrumentType === 'CE' || i.instrumentType === 'PE') && i.expiry !== null,
  );
  const nearest = new Map<string, string>();
  for (const o of options) {
    const current = nearest.get(o.name);
    if (current === undefined || (o.expiry ?? '') < current) nearest.set(o.name, o.expiry ?? '');
  }
  for (const o of options.filter((i) => i.expiry === nearest.get(i.name))) {
    await store.upsert(
      {
        instrumentToken: o.instrumentToken,
        tradingsymbol: o.tradingsymbol,
        segment: o.segment,
        status: 'active',
        requestedMode: 'FULL',
        accountId: null,
      },
      nowMs,
    );
  }
}
