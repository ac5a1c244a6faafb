import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { App } from 'aws-cdk-lib';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSEvent } from 'aws-lambda';
import { createPlatform } from '../platform.js';

/**
 * The moto smoke (`localstack/moto-smoke.sh`): the part of the LocalStack path that runs on a
 * machine without Docker. Against a `moto_server` at MOTO_ENDPOINT it creates the DynamoDB tables
 * and the SQS queues exactly as the synthesized CloudFormation templates define them (key schemas,
 * indexes, TTL; visibility timeouts, retention, the redrive policy), then drives one order through
 * the deployed handlers, configured from the environment as Lambda runs them: `GET /instruments`
 * picks a listed option, `POST /orders` records and queues it, the order worker (paper broker)
 * processes the message SQS hands out, `GET /orders/{id}` must say COMPLETED. Exits non-zero
 * on any failure. Templates come from `--templates DIR` (e.g. cdk.out), else from an in-process
 * synth of the app (bundling skipped, so it takes seconds, not a minute).
 */

type Resource = { Type: string; Properties: Record<string, unknown> };
type Template = { Resources: Record<string, Resource> };

const REGION = 'ap-south-1';
const API_KEY = 'moto-smoke-key';

function step(message: string): void {
  process.stdout.write(`moto-smoke: ${message}\n`);
}

class SmokeFailure extends Error {
  override readonly name = 'SmokeFailure';
}

/** The templates of one stage: from a directory of synthesized templates, or synthesized now. */
function loadTemplates(dir: string | undefined): { stage: string; data: Template; orders: Template } {
  let outdir = dir;
  let cleanup: string | undefined;
  if (outdir === undefined) {
    cleanup = mkdtempSync(join(tmpdir(), 'moto-smoke-'));
    outdir = cleanup;
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    // Without the cache the functions leave the VPC: the shape LocalStack's free plan deploys.
    createPlatform(app, { stage: 'smoke', env: { region: REGION }, cache: false });
    app.synth();
  }
  try {
    const names = readdirSync(outdir);
    const data = names.find((n) => /^Ticker-.+-Data\.template\.json$/.test(n));
    const stage = data?.match(/^Ticker-(.+)-Data\.template\.json$/)?.[1];
    if (data === undefined || stage === undefined)
      throw new SmokeFailure(`no Ticker-<stage>-Data template in ${outdir}`);
    const read = (name: string) => JSON.parse(readFileSync(join(outdir, name), 'utf8')) as Template;
    return { stage, data: read(data), orders: read(`Ticker-${stage}-Orders.template.json`) };
  } finally {
    if (cleanup) rmSync(cleanup, { recursive: true, force: true });
  }
}

const ofType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

/** Every table of the data template, created as its `AWS::DynamoDB::GlobalTable` defines it. */
async function createTables(dynamodb: DynamoDBClient, data: Template): Promise<string[]> {
  const created: string[] = [];
  for (const [id, { Properties: p }] of ofType(data, 'AWS::DynamoDB::GlobalTable')) {
    const TableName = p.TableName as string;
    if (typeof TableName !== 'string') throw new SmokeFailure(`${id}: no literal TableName`);
    const indexes = (p.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined) ?? [];
    await dynamodb.send(
      new CreateTableCommand({
        TableName,
        KeySchema: p.KeySchema as KeySchemaElement[],
        AttributeDefinitions: p.AttributeDefinitions as AttributeDefinition[],
        BillingMode: 'PAY_PER_REQUEST',
        ...(indexes.length > 0 && {
          GlobalSecondaryIndexes: indexes.map((i) => ({
            IndexName: i.IndexName,
            KeySchema: i.KeySchema,
            Projection: i.Projection ?? { ProjectionType: 'ALL' },
          })),
        }),
      }),
    );
    const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled && ttl.AttributeName) {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
        }),
      );
    }
    created.push(TableName);
  }
  if (created.length === 0) throw new SmokeFailure('the data template defines no table');
  return created;
}

/** The orders queue and its dead-letter queue, with the template's attributes and redrive policy. */
async function createQueues(sqs: SQSClient, orders: Template): Promise<{ queueUrl: string; dlqUrl: string }> {
  const queues = ofType(orders, 'AWS::SQS::Queue');
  const main = queues.find(([, q]) => q.Properties.RedrivePolicy !== undefined);
  if (!main) throw new SmokeFailure('the orders template has no queue with a redrive policy');
  const redrive = main[1].Properties.RedrivePolicy as {
    deadLetterTargetArn: { 'Fn::GetAtt': [string, string] };
    maxReceiveCount: number;
  };
  const dlqId = redrive.deadLetterTargetArn['Fn::GetAtt'][0];
  const dlq = queues.find(([id]) => id === dlqId);
  if (!dlq) throw new SmokeFailure(`the redrive target ${dlqId} is not a queue of the template`);
  const attributes = (p: Record<string, unknown>): Record<string, string> =>
    Object.fromEntries(
      (['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds'] as const)
        .filter((k) => p[k] !== undefined)
        .map((k) => [k, String(p[k])]),
    );
  const create = async (name: string, Attributes: Record<string, string>) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }))).QueueUrl ?? '';
  const dlqUrl = await create(dlqId, attributes(dlq[1].Properties));
  const dlqArn =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn ?? '';
  const queueUrl = await create(main[0], {
    ...attributes(main[1].Properties),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: redrive.maxReceiveCount }),
  });
  return { queueUrl, dlqUrl };
}

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A REST call as API Gateway's HTTP API hands it to a function. */
async function invoke(
  handler: HttpHandler,
  request: {
    method: string;
    path: string;
    query?: Record<string, string>;
    pathParameters?: Record<string, string>;
    body?: unknown;
  },
): Promise<{ status: number; body: unknown }> {
  const event = {
    version: '2.0',
    routeKey: `${request.method} ${request.path}`,
    rawPath: request.path,
    rawQueryString: new URLSearchParams(request.query ?? {}).toString(),
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    ...(request.query && { queryStringParameters: request.query }),
    ...(request.pathParameters && { pathParameters: request.pathParameters }),
    ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
    isBase64Encoded: false,
    requestContext: { requestId: `smoke-${Date.now()}`, http: { method: request.method, path: request.path } },
  } as unknown as APIGatewayProxyEventV2;
  const result = await handler(event, { awsRequestId: event.requestContext.requestId } as Context);
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? 'null') };
}

async function main(): Promise<void> {
  // biome-ignore lint/style/noProcessEnv: a script entry, given moto's address by its shell wrapper
  const endpoint = process.env.MOTO_ENDPOINT;
  if (!endpoint) throw new SmokeFailure('MOTO_ENDPOINT is not set (localstack/moto-smoke.sh starts moto_server)');
  const templatesArg = process.argv.indexOf('--templates');
  const { stage, data, orders } = loadTemplates(templatesArg > 0 ? process.argv[templatesArg + 1] : undefined);
  const credentials = { accessKeyId: 'moto', secretAccessKey: 'moto' };
  const dynamodb = new DynamoDBClient({ region: REGION, endpoint, credentials });
  const sqs = new SQSClient({ region: REGION, endpoint, credentials });
  const tables = await createTables(dynamodb, data);
  step(`tables from Ticker-${stage}-Data: ${tables.join(', ')}`);
  const { queueUrl, dlqUrl } = await createQueues(sqs, orders);
  step(`queues from Ticker-${stage}-Orders: ${queueUrl}, ${dlqUrl}`);

  // The environment the functions get in the cloud, pointed at moto; no Kite account: paper broker.
  // biome-ignore lint/style/noProcessEnv: it fills the environment the handlers' composition root then reads, as Lambda does
  Object.assign(process.env, {
    ENVIRONMENT: 'staging',
    LOG_LEVEL: 'WARN',
    AWS_REGION: REGION,
    TABLE_PREFIX: `ticker-${stage}`,
    DYNAMODB_ENDPOINT: endpoint,
    ORDERS_QUEUE_URL: queueUrl,
    ORDERS_DLQ_URL: dlqUrl,
    LOCAL_AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    LOCAL_AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    JWT_SECRET: 'moto-smoke-jwt-secret-at-least-32-characters',
    API_KEYS: API_KEY,
    FOLLOW_MARKET_HOURS: 'false',
  });
  const [instruments, create, get, worker] = await Promise.all([
    import('../../functions/http-instruments-list.js'),
    import('../../functions/http-orders-create.js'),
    import('../../functions/http-orders-get.js'),
    import('../../functions/order-worker.js'),
  ]);

  const listed = await invoke(instruments.handler, {
    method: 'GET',
    path: '/instruments',
    query: { underlying: 'NIFTY', type: 'CE', limit: '1' },
  });
  const option = (listed.body as { instruments?: { tradingsymbol: string; exchange: string; lot_size: number }[] })
    .instruments?.[0];
  if (listed.status !== 200 || !option)
    throw new SmokeFailure(`GET /instruments: ${listed.status} ${JSON.stringify(listed.body)}`);
  step(`instrument listed: ${option.exchange}:${option.tradingsymbol} (lot ${option.lot_size})`);

  const task = `moto-smoke-${Date.now()}`;
  const accepted = await invoke(create.handler, {
    method: 'POST',
    path: '/orders',
    body: {
      task_id: task,
      idempotency_key: task,
      account_id: 'mock',
      operation: 'place_order',
      params: {
        variety: 'regular',
        exchange: option.exchange,
        tradingsymbol: option.tradingsymbol,
        transaction_type: 'BUY',
        quantity: option.lot_size,
        product: 'NRML',
        order_type: 'MARKET',
        validity: 'DAY',
        market_protection: -1,
      },
    },
  });
  if (accepted.status !== 202)
    throw new SmokeFailure(`POST /orders: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  step(`order ${task} accepted`);

  // One poll of the event source: receive, invoke the worker, delete what it did not report failed.
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 5,
      AttributeNames: ['All'],
    }),
  );
  const messages = received.Messages ?? [];
  if (messages.length !== 1)
    throw new SmokeFailure(`expected the order's one message on the queue, got ${messages.length}`);
  const event: SQSEvent = {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
        SenderId: m.Attributes?.SenderId ?? 'moto',
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:orders`,
      awsRegion: REGION,
    })),
  };
  const outcome = await worker.handler(event, {
    awsRequestId: 'moto-smoke',
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context);
  const failed = new Set(outcome.batchItemFailures.map((f) => f.itemIdentifier));
  if (failed.size > 0) throw new SmokeFailure(`the worker reported the order failed: ${JSON.stringify(outcome)}`);
  for (const m of messages)
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));

  const shown = await invoke(get.handler, {
    method: 'GET',
    path: '/orders/{task_id}',
    pathParameters: { task_id: task },
  });
  const status = (shown.body as { order?: { status?: string; last_error?: string | null } }).order;
  if (shown.status !== 200 || status?.status !== 'COMPLETED') {
    throw new SmokeFailure(
      `order ${task} is ${status?.status ?? shown.status}: ${status?.last_error ?? JSON.stringify(shown.body)}`,
    );
  }
  step(`order ${task} is COMPLETED (paper broker)`);
  dynamodb.destroy();
  sqs.destroy();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `moto-smoke: FAIL ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
    );
    process.exit(1);
  },
);
