import { createHash } from 'node:crypto';
import { GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { DeadLetterListResponse, OrderResponse, RedriveOrderResponse } from '../../../shared/contracts/order-api.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { waitFor } from '../../support/wait.js';
import { API_KEY, restClient, startPlatform } from '../rest/rest-support.js';

/** The owner REST records for the test API key: the dead-letter listing shows only the caller's own. */
const ME = `key-${createHash('sha256').update(API_KEY).digest('hex').slice(0, 16)}`;

/**
 * The order pipeline on the local platform, end to end: REST and an AWS SDK producer in, the order
 * worker on the local queue with the paper broker, status records in dynalite, REST out.
 */
describe('orders on the local platform', () => {
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  let sqs: SQSClient;
  let option: Instrument;

  const task = (taskId: string, overrides: Record<string, unknown> = {}) => ({
    task_id: taskId,
    idempotency_key: `key-${taskId}`,
    account_id: 'paper',
    operation: 'place_order',
    params: {
      exchange: option.exchange,
      tradingsymbol: option.tradingsymbol,
      transaction_type: 'BUY',
      quantity: 65,
      product: 'NRML',
      order_type: 'MARKET',
    },
    submitted_at: new Date().toISOString(),
    ...overrides,
  });

  async function statusOf(taskId: string) {
    const response = await api.get(`/orders/${taskId}`);
    return response.status === 200 ? OrderResponse.parse(response.body).order : undefined;
  }

  async function settled(taskId: string, status: string) {
    await waitFor(async () => (await statusOf(taskId))?.status === status, {
      timeoutMs: 15_000,
      intervalMs: 50,
      message: `${taskId} to be ${status}`,
    });
    return (await statusOf(taskId)) as NonNullable<Awaited<ReturnType<typeof statusOf>>>;
  }

  beforeAll(async () => {
    platform = await startPlatform('orders-e2e');
    api = restClient(platform);
    const instruments = await platform.components.loadInstruments();
    option = instruments.find((i) => i.instrumentType === 'CE' && i.name === 'NIFTY') as Instrument;
    sqs = new SQSClient({
      region: 'ap-south-1',
      endpoint: platform.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    sqs?.destroy();
    await platform?.close();
  });

  it('fills a paper market order at the price clients were last streamed', async () => {
    const { components } = platform;
    const active = new Set((await components.subscriptions.listActive()).map((s) => s.instrumentToken));
    const quiet = (await components.loadInstruments()).find(
      (i) => i.instrumentType === 'PE' && !active.has(i.instrumentToken),
    ) as Instrument;
    const streamed = {
      instrument_token: quiet.instrumentToken,
      tradingsymbol: quiet.tradingsymbol,
      last_price: 4321.5,
    };
    await components.state.putLatest(new Map([[quiet.instrumentToken, JSON.stringify(streamed)]]));
    const order = task('paper-price', {
      params: { ...task('x').params, exchange: quiet.exchange, tradingsymbol: quiet.tradingsymbol },
    });
    expect((await api.post('/orders', order)).status).toBe(202);
    const filled = await settled('paper-price', 'COMPLETED');
    expect(filled.result).toMatchObject({ paper: true, status: 'COMPLETE', average_price: 4321.5 });
  });

  it('TC-ORD-001: POST /orders is queued PENDING and completes through the worker with the paper broker', async () => {
    const accepted = await api.post('/orders', task('rest-1'));
    expect(accepted.status).toBe(202);
    const order = await settled('rest-1', 'COMPLETED');
    expect(order.result).toMatchObject({ paper: true, status: 'COMPLETE' });
    expect(order.result?.order_id).toBeTruthy();
    expect(order.attempts).toHaveLength(1);
  });

  it('takes orders from an AWS SDK producer on the SQS endpoint: duplicates placed once, malformed bodies dead-lettered', async () => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }));
    const body = JSON.stringify(task('sdk-1'));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'dup', MessageBody: body },
          { Id: 'garbage', MessageBody: 'this is not an order' },
          { Id: 'bad-op', MessageBody: JSON.stringify(task('sdk-bad', { operation: 'launch_rocket', owner: ME })) },
        ],
      }),
    );
    const order = await settled('sdk-1', 'COMPLETED');
    expect(order.result?.paper).toBe(true);
    // Both deliveries done, one placement: the record has a single successful attempt.
    await waitFor(() => platform.components.localOrderQueues?.main.peek().length === 0, {
      timeoutMs: 15_000,
      message: 'the orders queue to drain',
    });
    expect((await statusOf('sdk-1'))?.attempts).toHaveLength(1);

    // Both malformed bodies are kept on the dead-letter queue (its consumer hides them, never deletes);
    // the one that names a task id has a validation record as well.
    const dead = platform.components.localOrderQueues?.deadLetter.peek().map((m) => m.body) ?? [];
    expect(dead).toContain('this is not an order');
    expect(dead.some((b) => b.includes('sdk-bad'))).toBe(true);
    expect(await statusOf('sdk-bad')).toMatchObject({ status: 'DEAD_LETTER', error_type: 'validation' });
  });

  it('TC-ORD-031: lists dead letters by error type, and a redrive queues the task again', async () => {
    const unknown = task('dl-validation-1', { params: { ...task('x').params, tradingsymbol: 'NOSUCHSYMBOL' } });
    // REST refuses it at once, naming the field; a producer on the queue gets a validation dead letter.
    const refused = await api.post('/orders', unknown);
    expect(refused.status).toBe(400);
    expect(refused.body.error.details.map((d: { path: string }) => d.path)).toContain('params.tradingsymbol');
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(unknown) }));
    const dead = await settled('dl-validation-1', 'DEAD_LETTER');
    expect(dead.error_type).toBe('validation');
    expect(dead.last_error).toContain('NOSUCHSYMBOL');
    expect(dead.attempts).toEqual([]);

    const listed = DeadLetterListResponse.parse((await api.get('/orders/dead-letter?error_type=validation')).body);
    expect(listed.dead_letters.map((d) => d.task_id)).toContain('dl-validation-1');
    expect(listed.dead_letters.every((d) => d.error_type === 'validation')).toBe(true);
    const other = DeadLetterListResponse.parse((await api.get('/orders/dead-letter?error_type=timeout')).body);
    expect(other.dead_letters.map((d) => d.task_id)).not.toContain('dl-validation-1');

    const redriven = await api.post('/orders/dead-letter/dl-validation-1/redrive', undefined);
    expect(redriven.status).toBe(202);
    expect(RedriveOrderResponse.parse(redriven.body).task_id).toBe('dl-validation-1');
    // The symbol is still unknown: the task runs once more and is dead-lettered again.
    await waitFor(
      async () => {
        const now = await statusOf('dl-validation-1');
        return now?.status === 'DEAD_LETTER' && now.redriven_at !== null;
      },
      { timeoutMs: 15_000, message: 'the redriven task to be dead-lettered again' },
    );
  });

  it('answers 409 for a repeated task_id and 404 for an unknown one', async () => {
    expect((await api.post('/orders', task('rest-dup'))).status).toBe(202);
    expect((await api.post('/orders', task('rest-dup'))).status).toBe(409);
    expect((await api.get('/orders/never-submitted')).status).toBe(404);
  });
});
