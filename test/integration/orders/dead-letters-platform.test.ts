import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import type { LocalQueue } from '../../../shared/adapters/local-sqs/local-queue.js';
import { DeadLetterListResponse, OrderResponse, RedriveOrderResponse } from '../../../shared/contracts/order-api.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { LOCAL_ORDER_MAX_RECEIVE_COUNT } from '../../../shared/wiring.js';
import { waitFor } from '../../support/wait.js';
import { API_KEY, restClient, startPlatform } from '../rest/rest-support.js';

/** A trader's API key: not allowed near the dead letters. */
const TRADER_KEY = 'dead-letters-trader-key';

/** The owner REST records for the test API key: the dead-letter listing shows only the caller's own. */
const ME = `key-${createHash('sha256').update(API_KEY).digest('hex').slice(0, 16)}`;

/**
 * Receives every visible message of `queue` `times` times without deleting it, as consumers that
 * died would. The receives run back to back in one turn (each takes its messages before it first
 * awaits), so the platform's own worker, woken by the send, cannot take one in between.
 */
async function receiveWithoutDeleting(queue: LocalQueue, times: number): Promise<void> {
  const receives = Array.from({ length: times }, () => queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 0 }));
  await Promise.all(receives);
}

/**
 * The dead-letter flows on the local platform: the worker and the dead-letter consumer on the
 * in-process queues (with the cloud's redrive policy), dynalite, REST.
 */
describe('dead letters on the local platform', () => {
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  let option: Instrument;

  const task = (taskId: string) => ({
    task_id: taskId,
    idempotency_key: `key-${taskId}`,
    account_id: 'paper',
    owner: ME,
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
  });

  async function statusOf(taskId: string) {
    const response = await api.get(`/orders/${taskId}`);
    return response.status === 200 ? OrderResponse.parse(response.body).order : undefined;
  }

  async function until(taskId: string, holds: (order: NonNullable<Awaited<ReturnType<typeof statusOf>>>) => boolean) {
    await waitFor(
      async () => {
        const order = await statusOf(taskId);
        return order !== undefined && holds(order);
      },
      { timeoutMs: 15_000, intervalMs: 50, message: `${taskId} to settle` },
    );
    return (await statusOf(taskId)) as NonNullable<Awaited<ReturnType<typeof statusOf>>>;
  }

  const queues = () => {
    const local = platform.components.localOrderQueues;
    if (!local) throw new Error('the platform has no local queues');
    return local;
  };

  beforeAll(async () => {
    platform = await startPlatform('dead-letters-e2e', { API_KEYS: `${API_KEY},${TRADER_KEY}:trader` });
    api = restClient(platform);
    const instruments = await platform.components.loadInstruments();
    option = instruments.find((i) => i.instrumentType === 'CE' && i.name === 'NIFTY') as Instrument;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('lists a task the redrive policy moved as max_receives and redrives it back to the orders queue', async () => {
    const taskId = `moved-${randomUUID().slice(0, 8)}`;
    const { main, deadLetter } = queues();
    main.send(JSON.stringify(task(taskId)));
    await receiveWithoutDeleting(main, LOCAL_ORDER_MAX_RECEIVE_COUNT);

    const dead = await until(taskId, (o) => o.status === 'DEAD_LETTER');
    expect(dead.error_type).toBe('max_receives');
    // The consumer keeps the message on the dead-letter queue (hidden, not deleted).
    expect(deadLetter.peek().filter((m) => m.body.includes(taskId))).toEqual([
      expect.objectContaining({ inFlight: true }),
    ]);
    const listed = DeadLetterListResponse.parse((await api.get('/orders/dead-letter?error_type=max_receives')).body);
    expect(listed.dead_letters.map((d) => d.task_id)).toContain(taskId);

    const redriven = await api.post(`/orders/dead-letter/${taskId}/redrive`, undefined);
    expect(redriven.status).toBe(202);
    expect(RedriveOrderResponse.parse(redriven.body).source).toBe('status-record');
    // Back on the orders queue, the worker places it this time.
    const done = await until(taskId, (o) => o.status === 'COMPLETED');
    expect(done.redriven_at).not.toBeNull();
    expect(done.result?.paper).toBe(true);
  });

  it('records a poison message with a task id under validation, and a redrive sends its own body again', async () => {
    const taskId = `poison-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify({ ...task(taskId), params: { quantity: 'a lot' } });
    queues().main.send(body);

    const dead = await until(taskId, (o) => o.status === 'DEAD_LETTER');
    expect(dead.error_type).toBe('validation');
    expect(dead.last_error).toContain('params');
    const listed = DeadLetterListResponse.parse((await api.get('/orders/dead-letter?error_type=validation')).body);
    expect(listed.dead_letters.find((d) => d.task_id === taskId)?.raw_body).toBe(body);

    const redriven = await api.post(`/orders/dead-letter/${taskId}/redrive`, undefined);
    expect(redriven.status).toBe(202);
    // Its own body again, not the stand-in: dead-lettered again as validation, never placed.
    const again = await until(taskId, (o) => o.status === 'DEAD_LETTER' && o.redriven_at !== null);
    expect(again.error_type).toBe('validation');
    expect(again.result).toBeNull();
  });

  it("lists another caller's dead letters to an admin, and refuses a trader both listing and redrive", async () => {
    const taskId = `theirs-${randomUUID().slice(0, 8)}`;
    queues().main.send(JSON.stringify({ ...task(taskId), owner: 'sub-someone-else', params: 'nonsense' }));
    await waitFor(async () => (await platform.components.orders.get(taskId))?.status === 'DEAD_LETTER', {
      timeoutMs: 15_000,
      message: 'the other caller’s dead letter',
    });
    // The suite's key is an admin's (an API_KEYS entry without a role).
    const listed = DeadLetterListResponse.parse((await api.get('/orders/dead-letter')).body);
    expect(listed.dead_letters.map((d) => d.task_id)).toContain(taskId);
    const trader = restClient(platform, TRADER_KEY);
    expect((await trader.get('/orders/dead-letter')).status).toBe(403);
    expect((await trader.post(`/orders/dead-letter/${taskId}/redrive`, undefined)).status).toBe(403);
    expect((await platform.components.orders.get(taskId))?.status).toBe('DEAD_LETTER');
  });
});
