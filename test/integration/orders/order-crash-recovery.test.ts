import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { OrderResponse } from '../../../shared/contracts/order-api.js';
import { istDate } from '../../../shared/domain/market/calendar-dates.js';
import { mockInstruments } from '../../../shared/domain/market/mock-instruments.js';
import { apiKeyPrincipalId } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait.js';

const API_KEY = 'crash-test-key';

/** `npm start` as a process of its own on `dataDir`; resolves with its URL once it says it runs. */
async function startPlatform(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
    env: {
      ...process.env,
      LOG_LEVEL: 'ERROR',
      PORT: '0',
      LOCAL_DATA_DIR: dataDir,
      API_KEYS: API_KEY,
      // The SQS orders belong to the caller that reads them back.
      ORDERS_DEFAULT_OWNER: apiKeyPrincipalId(API_KEY),
      REDIS_URL: '',
      DYNAMODB_ENDPOINT: '',
      ORDERS_QUEUE_URL: '',
      ORDERS_DLQ_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(() => /running at http:\/\/\S+/.test(output) || child.exitCode !== null, {
    timeoutMs: 60_000,
    message: 'npm start to be ready',
  });
  const url = /running at (http:\/\/\S+)/.exec(output)?.[1];
  if (url === undefined) throw new Error(`npm start did not come up:\n${output}`);
  return { child, url, output: () => output };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * The tester's crash, on `npm start` with a data directory: orders sent through SQS's API and
 * `POST /orders`, the process killed with SIGKILL the moment the last one is answered, then started
 * again on the same directory. Every answered order must reach a final status on its own.
 */
describe('npm start after kill -9', () => {
  const children: ChildProcess[] = [];
  const directories: string[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await kill9(child);
    for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('finishes every order that was answered before the crash, none lost or left PENDING or RUNNING', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crash-recovery-'));
    directories.push(dataDir);
    const first = await startPlatform(dataDir);
    children.push(first.child);

    const option = mockInstruments({ anchorDate: istDate(Date.now()) }).find(
      (i) => i.instrumentType === 'CE' && i.name === 'NIFTY',
    );
    if (!option) throw new Error('no NIFTY option in the mock registry');
    const task = (taskId: string) => ({
      task_id: taskId,
      idempotency_key: `key-${taskId}`,
      account_id: 'paper',
      operation: 'place_order',
      params: {
        exchange: option.exchange,
        tradingsymbol: option.tradingsymbol,
        transaction_type: 'BUY',
        quantity: option.lotSize,
        product: 'NRML',
        order_type: 'MARKET',
      },
      submitted_at: new Date().toISOString(),
    });

    const sqs = new SQSClient({
      region: 'ap-south-1',
      endpoint: first.url,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }));
    const ids = Array.from({ length: 40 }, (_, i) => `crash-${i}-${Date.now()}`);
    // 10 by SendMessage, 10 by one SendMessageBatch, 20 by POST /orders, all in flight together.
    const single = ids
      .slice(0, 10)
      .map((id) => sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(task(id)) })));
    const batch = sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: ids.slice(10, 20).map((id, i) => ({ Id: String(i), MessageBody: JSON.stringify(task(id)) })),
      }),
    );
    const rest = ids.slice(20).map((id) =>
      fetch(`${first.url}/orders`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(task(id)),
      }),
    );
    const [sent, batched, posted] = await Promise.all([Promise.all(single), batch, Promise.all(rest)]);
    await kill9(first.child);
    sqs.destroy();
    expect(sent.every((s) => typeof s.MessageId === 'string')).toBe(true);
    expect(batched.Successful).toHaveLength(10);
    expect(posted.map((r) => r.status)).toEqual(Array(20).fill(202));

    const second = await startPlatform(dataDir);
    children.push(second.child);
    const statusOf = async (id: string) => {
      const response = await fetch(`${second.url}/orders/${id}`, { headers: { 'x-api-key': API_KEY } });
      return response.status === 200 ? OrderResponse.parse(await response.json()).order : undefined;
    };
    const final = new Map<string, NonNullable<Awaited<ReturnType<typeof statusOf>>>>();
    await waitFor(
      async () => {
        for (const id of ids) {
          if (final.has(id)) continue;
          const order = await statusOf(id);
          if (order?.status === 'COMPLETED' || order?.status === 'DEAD_LETTER') final.set(id, order);
        }
        return final.size === ids.length;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'every order to reach COMPLETED or DEAD_LETTER' },
    ).catch(async (error: unknown) => {
      const left = await Promise.all(
        ids.filter((id) => !final.has(id)).map(async (id) => [id, (await statusOf(id))?.status]),
      );
      throw new Error(`${String(error)}; not final: ${JSON.stringify(left)}`);
    });
    for (const order of final.values()) {
      if (order.status === 'DEAD_LETTER') expect(order.last_error).toMatch(/^\[\w+\] ./);
      // Placed once: one successful attempt, however often its message came back.
      else expect(order.attempts.filter((a) => a.error === null)).toHaveLength(1);
    }
    expect([...final.values()].filter((o) => o.status === 'COMPLETED').length).toBeGreaterThan(0);
  }, 180_000);
});
