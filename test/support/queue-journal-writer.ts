import { LocalQueue } from '../../shared/adapters/local-sqs/local-queue.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';

/**
 * A process that sends to a journalled local queue as fast as it can and prints each message id
 * once `sync` says it is kept, as the SQS endpoint answers a producer; every other message is
 * received too, so some are in flight. The journal test kills it with SIGKILL mid-stream.
 */
const path = process.argv[2];
if (path === undefined) throw new Error('usage: queue-journal-writer <journal path>');
const queue = new LocalQueue({ name: 'orders', clock: new SystemClock(), journalPath: path });
for (let i = 0; ; i++) {
  const { messageId } = queue.send(JSON.stringify({ task_id: `t${i}`, padding: 'x'.repeat(i % 500) }));
  if (i % 2 === 0) await queue.receive({ maxMessages: 1 });
  await queue.sync();
  process.stdout.write(`${messageId}\n`);
}
