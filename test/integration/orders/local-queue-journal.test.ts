import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalOrderQueues, localQueueJournalPath } from '../../../shared/adapters/local-sqs/local-order-queue.js';
import { LocalQueue } from '../../../shared/adapters/local-sqs/local-queue.js';
import { QueueJournalCorruptError } from '../../../shared/adapters/local-sqs/queue-journal.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { waitFor } from '../../support/wait.js';

const directories: string[] = [];
afterEach(() => {
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'queue-journal-'));
  directories.push(dir);
  return dir;
}

/** The queue a restarted process would build on the same file (the earlier one is simply abandoned, as by a crash). */
function reopen(path: string, clock: ManualClock): LocalQueue {
  return new LocalQueue({ name: 'orders', clock, journalPath: path });
}

describe('LocalQueue with a journal', () => {
  it('keeps messages, receive counts, delays, attributes and send times across a restart; in-flight ones come back at once', async () => {
    const path = join(tempDir(), 'orders.jsonl');
    const clock = new ManualClock();
    const before = reopen(path, clock);
    const attributes = {
      error_type: { DataType: 'String', StringValue: 'timeout' },
      blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 254, 255]) },
    };
    const kept = before.send('{"task_id":"kept"}', { messageAttributes: attributes });
    clock.advance(1000);
    const delayed = before.send('{"task_id":"delayed"}', { delaySeconds: 60 });
    const deleted = before.send('{"task_id":"deleted"}');
    const [first, second] = await before.receive({ maxMessages: 2 });
    expect([first?.messageId, second?.messageId]).toEqual([kept.messageId, deleted.messageId]);
    before.delete(second?.receiptHandle as string);
    // Received twice before the crash: the count survives.
    before.changeVisibility(first?.receiptHandle as string, 0);
    const [again] = await before.receive();
    expect(again?.attributes.ApproximateReceiveCount).toBe('2');
    await before.sync();

    clock.advance(5000);
    const after = reopen(path, clock);
    expect(after.counts()).toEqual({ visible: 1, inFlight: 0, delayed: 1 });
    const [restored] = await after.receive({ maxMessages: 10 });
    expect(restored).toMatchObject({
      messageId: kept.messageId,
      body: '{"task_id":"kept"}',
      md5OfBody: kept.md5OfMessageBody,
      md5OfMessageAttributes: kept.md5OfMessageAttributes,
      messageAttributes: attributes,
      attributes: { ApproximateReceiveCount: '3', SentTimestamp: String(clock.now() - 6000) },
    });
    expect(restored?.attributes.ApproximateFirstReceiveTimestamp).toBe(String(clock.now() - 5000));
    after.delete(restored?.receiptHandle as string);
    // The delayed message is still waiting out its delay, then arrives with its id.
    expect(await after.receive()).toEqual([]);
    clock.advance(55_000);
    expect((await after.receive()).map((m) => m.messageId)).toEqual([delayed.messageId]);
    after.close();
  });

  it('ignores a torn last line, and drops it so later lines are read after the next restart', async () => {
    const path = join(tempDir(), 'orders.jsonl');
    const clock = new ManualClock();
    const before = reopen(path, clock);
    const whole = before.send('{"task_id":"whole"}');
    before.close();
    // A write cut short (a power loss mid-line): half a put record, no newline.
    appendFileSync(path, '{"op":"put","message":{"id":"torn","body":"{\\"task_');

    const middle = reopen(path, clock);
    expect(middle.peek().map((m) => m.messageId)).toEqual([whole.messageId]);
    const later = middle.send('{"task_id":"later"}');
    middle.close();

    const after = reopen(path, clock);
    expect(after.peek().map((m) => m.messageId)).toEqual([whole.messageId, later.messageId]);
    after.close();
  });

  it('refuses a journal with an unreadable line before readable ones rather than dropping what follows', () => {
    const path = join(tempDir(), 'orders.jsonl');
    const clock = new ManualClock();
    const queue = reopen(path, clock);
    queue.send('{"task_id":"a"}');
    queue.close();
    const lines = readFileSync(path, 'utf8');
    writeFileSync(path, `not json\n${lines}`);
    expect(() => reopen(path, clock)).toThrow(QueueJournalCorruptError);
  });

  it('keeps dead letters, and dead-letters a restored message whose receives were spent', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock();
    const first = createLocalOrderQueues({ clock, maxReceiveCount: 2, dataDir });
    const moved = first.main.send('{"task_id":"moved"}');
    for (let i = 0; i < 2; i++) {
      await first.main.receive({ visibilityTimeoutSeconds: 1 });
      clock.advance(1000);
    }
    // `moved` was received twice and its visibility ran out: the next poll moves it.
    expect(first.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(first.deadLetter.peek().map((m) => m.messageId)).toEqual([moved.messageId]);
    // `spent` is in flight on its second receive when the process dies.
    const spent = first.main.send('{"task_id":"spent"}');
    await first.main.receive({ visibilityTimeoutSeconds: 1 });
    clock.advance(1000);
    const [taken] = await first.main.receive();
    expect(taken?.messageId).toBe(spent.messageId);
    expect(taken?.attributes.ApproximateReceiveCount).toBe('2');

    const second = createLocalOrderQueues({ clock, maxReceiveCount: 2, dataDir });
    expect(second.main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const letters = await second.deadLetter.receive({ maxMessages: 10 });
    expect(letters.map((m) => m.messageId).sort()).toEqual([moved.messageId, spent.messageId].sort());
    for (const letter of letters) expect(letter.attributes.DeadLetterQueueSourceArn).toBe(second.main.arn);
    expect(localQueueJournalPath(dataDir, 'orders-dlq')).toBe(join(dataDir, 'queues', 'orders-dlq.jsonl'));
  });

  it('compacts the journal as it grows, keeping only what is still queued', async () => {
    const path = join(tempDir(), 'orders.jsonl');
    const clock = new ManualClock();
    const queue = reopen(path, clock);
    for (let i = 0; i < 5000; i++) {
      queue.send(JSON.stringify({ task_id: `t${i}` }));
      const [message] = await queue.receive();
      if (i % 1000 !== 0) queue.delete(message?.receiptHandle as string);
    }
    queue.close();
    // 15,000 changes were journalled; five messages are left.
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean).length;
    expect(lines).toBeLessThan(4096);
    const after = reopen(path, clock);
    expect(after.peek().map((m) => JSON.parse(m.body).task_id)).toEqual(['t0', 't1000', 't2000', 't3000', 't4000']);
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(5);
    after.close();
  });

  it('loses no acknowledged send when the process is killed with SIGKILL mid-stream', async () => {
    const path = join(tempDir(), 'orders.jsonl');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/queue-journal-writer.ts', path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(() => output.split('\n').length > 2000, { timeoutMs: 20_000, message: '2000 acknowledged sends' });
    child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    const acknowledged = output.split('\n').slice(0, -1);

    const clock = new ManualClock(Date.now() + 1000);
    const after = reopen(path, clock);
    const kept = new Set(after.peek().map((m) => m.messageId));
    expect(acknowledged.filter((id) => !kept.has(id))).toEqual([]);
    // Half of them were in flight when the process died: all are visible again at once.
    expect(after.counts()).toMatchObject({ inFlight: 0, delayed: 0 });
    expect(after.counts().visible).toBe(kept.size);
    after.close();
  });
});
