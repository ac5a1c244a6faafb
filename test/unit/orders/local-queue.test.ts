import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LocalEventSource } from '../../../shared/adapters/local-sqs/local-event-source.js';
import { LocalQueue, LocalSqsError, SqsLimits } from '../../../shared/adapters/local-sqs/local-queue.js';
import { ManualClock } from '../../../shared/adapters/manual-clock.js';
import { waitFor } from '../../support/wait.js';

function queues(clock: ManualClock, { maxReceiveCount = 3, visibilityTimeoutSeconds = 30 } = {}) {
  const deadLetter = new LocalQueue({ name: 'orders-dlq', clock });
  const main = new LocalQueue({
    name: 'orders',
    clock,
    visibilityTimeoutSeconds,
    redrivePolicy: { deadLetterQueue: deadLetter, maxReceiveCount },
  });
  return { main, deadLetter };
}

function sqsError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof LocalSqsError) return error.code;
    throw error;
  }
  throw new Error('expected a LocalSqsError');
}

describe('LocalQueue', () => {
  it('hides a received message for the visibility timeout, then delivers it again with a higher receive count', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock);
    const sent = main.send('{"task_id":"t1"}');
    expect(sent.md5OfMessageBody).toBe(createHash('md5').update('{"task_id":"t1"}').digest('hex'));

    const [first] = await main.receive();
    expect(first?.messageId).toBe(sent.messageId);
    expect(first?.attributes.ApproximateReceiveCount).toBe('1');
    expect(first?.attributes.SentTimestamp).toBe(String(clock.now()));
    expect(await main.receive()).toEqual([]);
    expect(main.counts()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });

    clock.advance(29_999);
    expect(await main.receive()).toEqual([]);
    clock.advance(1);
    const [second] = await main.receive();
    expect(second?.messageId).toBe(sent.messageId);
    expect(second?.attributes.ApproximateReceiveCount).toBe('2');
    expect(second?.attributes.ApproximateFirstReceiveTimestamp).toBe(
      first?.attributes.ApproximateFirstReceiveTimestamp,
    );
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
  });

  it('deletes only with the latest receipt handle; an older one succeeds without deleting', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock, { visibilityTimeoutSeconds: 1 });
    main.send('a');
    const [first] = await main.receive();
    clock.advance(1000);
    const [second] = await main.receive();
    main.delete(first?.receiptHandle ?? '');
    expect(main.counts().inFlight).toBe(1);
    main.delete(second?.receiptHandle ?? '');
    expect(main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // Deleting again is harmless, as in SQS; a handle that is not one is refused.
    main.delete(second?.receiptHandle ?? '');
    expect(sqsError(() => main.delete('not-a-handle'))).toBe('ReceiptHandleIsInvalid');
  });

  it('moves a message to the dead-letter queue once it was received maxReceiveCount times', async () => {
    const clock = new ManualClock();
    const { main, deadLetter } = queues(clock, { maxReceiveCount: 3, visibilityTimeoutSeconds: 10 });
    const sent = main.send('{"task_id":"poison"}', {
      messageAttributes: { source: { DataType: 'String', StringValue: 'test' } },
    });
    for (let receive = 1; receive <= 3; receive++) {
      const [message] = await main.receive();
      expect(message?.attributes.ApproximateReceiveCount).toBe(String(receive));
      clock.advance(10_000);
    }
    expect(await main.receive()).toEqual([]);
    expect(main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const [dead] = await deadLetter.receive();
    expect(dead?.messageId).toBe(sent.messageId);
    expect(dead?.body).toBe('{"task_id":"poison"}');
    expect(dead?.messageAttributes.source?.StringValue).toBe('test');
    expect(dead?.attributes.DeadLetterQueueSourceArn).toBe(main.arn);
  });

  it('changes the visibility of an in-flight message, and only of one in flight under its latest handle', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock);
    main.send('a');
    const [message] = await main.receive();
    const handle = message?.receiptHandle ?? '';
    main.changeVisibility(handle, 0);
    const [again] = await main.receive();
    expect(again?.attributes.ApproximateReceiveCount).toBe('2');
    expect(sqsError(() => main.changeVisibility(handle, 5))).toBe('MessageNotInflight');

    const current = again?.receiptHandle ?? '';
    main.changeVisibility(current, 5);
    clock.advance(4_999);
    expect(await main.receive()).toEqual([]);
    clock.advance(1);
    expect((await main.receive()).map((m) => m.attributes.ApproximateReceiveCount)).toEqual(['3']);
    expect(sqsError(() => main.changeVisibility(current, SqsLimits.maxVisibilityTimeoutSeconds + 1))).toBe(
      'InvalidParameterValue',
    );
    expect(sqsError(() => main.changeVisibility('garbage', 1))).toBe('ReceiptHandleIsInvalid');
  });

  it('holds a delayed message back for its delay', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock);
    main.send('later', { delaySeconds: 2 });
    expect(main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    expect(await main.receive()).toEqual([]);
    clock.advance(2000);
    expect((await main.receive()).map((m) => m.body)).toEqual(['later']);
  });

  it('answers a long poll when a message arrives or becomes visible, and empty at the wait time', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock, { visibilityTimeoutSeconds: 5 });
    const waiting = main.receive({ waitTimeSeconds: 20, maxMessages: 10 });
    main.send('hello');
    expect((await waiting).map((m) => m.body)).toEqual(['hello']);

    const forRedelivery = main.receive({ waitTimeSeconds: 20 });
    clock.advance(5000);
    const [redelivered] = await forRedelivery;
    expect(redelivered?.attributes.ApproximateReceiveCount).toBe('2');
    main.delete(redelivered?.receiptHandle ?? '');

    let answered = false;
    const empty = main.receive({ waitTimeSeconds: 20 }).then((messages) => {
      answered = true;
      return messages;
    });
    clock.advance(19_999);
    await Promise.resolve();
    expect(answered).toBe(false);
    clock.advance(1);
    expect(await empty).toEqual([]);
  });

  it('refuses what SQS refuses: empty and invalid bodies, oversized messages, out-of-range batches', async () => {
    const clock = new ManualClock();
    const { main } = queues(clock);
    expect(sqsError(() => main.send(''))).toBe('MissingParameter');
    expect(sqsError(() => main.send('bell \u0007'))).toBe('InvalidMessageContents');
    expect(sqsError(() => main.send('x'.repeat(SqsLimits.maxMessageBytes + 1)))).toBe('InvalidParameterValue');
    expect(sqsError(() => main.send('x', { delaySeconds: 901 }))).toBe('InvalidParameterValue');
    expect(
      sqsError(() => main.send('x', { messageAttributes: { 'aws.x': { DataType: 'String', StringValue: 'v' } } })),
    ).toBe('InvalidAttributeName');
    await expect(main.receive({ maxMessages: 11 })).rejects.toMatchObject({ code: 'InvalidParameterValue' });
    main.send('emoji 🚀 and ñ are fine');
    expect((await main.receive()).map((m) => m.body)).toEqual(['emoji 🚀 and ñ are fine']);
  });

  it('moves the dead letters a redrive selects back, as new messages', async () => {
    const clock = new ManualClock();
    const { main, deadLetter } = queues(clock, { maxReceiveCount: 1, visibilityTimeoutSeconds: 1 });
    main.send('{"task_id":"a"}');
    main.send('{"task_id":"b"}');
    await main.receive({ maxMessages: 10 });
    clock.advance(1000);
    // As in SQS, spent messages move when the queue is next polled (or counted).
    expect(deadLetter.counts().visible).toBe(0);
    expect(main.counts().visible).toBe(0);
    expect(deadLetter.counts().visible).toBe(2);
    expect(deadLetter.moveTo(main, (body) => body.includes('"a"'))).toBe(1);
    expect(deadLetter.peek().map((m) => m.body)).toEqual(['{"task_id":"b"}']);
    const [back] = await main.receive();
    expect(back?.body).toBe('{"task_id":"a"}');
    expect(back?.attributes.ApproximateReceiveCount).toBe('1');
  });
});

describe('LocalEventSource', () => {
  function setup(options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}) {
    const clock = new ManualClock();
    return { clock, ...queues(clock, options) };
  }

  async function running(source: LocalEventSource) {
    const stop = new AbortController();
    const run = source.run(stop.signal);
    return {
      stop: async () => {
        stop.abort();
        await run;
      },
    };
  }

  it('invokes the handler with real SQS event records and deletes what succeeded', async () => {
    const { main } = setup();
    const events: SQSEvent[] = [];
    const source = new LocalEventSource({
      queue: main,
      batchSize: 10,
      maxConcurrency: 1,
      handler: async (event) => {
        events.push(event);
      },
    });
    const sent = main.send('{"task_id":"t1"}', {
      messageAttributes: { kind: { DataType: 'String', StringValue: 'order' } },
    });
    const poller = await running(source);
    await waitFor(() => main.counts().inFlight === 0 && events.length === 1, { message: 'the batch to be deleted' });
    await poller.stop();
    const record = events[0]?.Records[0];
    expect(record).toMatchObject({
      messageId: sent.messageId,
      body: '{"task_id":"t1"}',
      md5OfBody: sent.md5OfMessageBody,
      md5OfMessageAttributes: sent.md5OfMessageAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:ap-south-1:000000000000:orders',
      awsRegion: 'ap-south-1',
      messageAttributes: {
        kind: { dataType: 'String', stringValue: 'order', stringListValues: [], binaryListValues: [] },
      },
      attributes: { ApproximateReceiveCount: '1', SenderId: 'LOCAL' },
    });
    expect(typeof record?.receiptHandle).toBe('string');
    expect(main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('keeps the records named in batchItemFailures and deletes the rest; they come back after the visibility timeout', async () => {
    const { clock, main } = setup({ visibilityTimeoutSeconds: 10 });
    const seen: { body: string; count: string }[] = [];
    const source = new LocalEventSource({
      queue: main,
      batchSize: 10,
      maxConcurrency: 1,
      handler: async (event): Promise<SQSBatchResponse> => {
        for (const r of event.Records) seen.push({ body: r.body, count: r.attributes.ApproximateReceiveCount });
        return {
          batchItemFailures: event.Records.filter(
            (r) => r.body === 'b' && r.attributes.ApproximateReceiveCount === '1',
          ).map((r) => ({ itemIdentifier: r.messageId })),
        };
      },
    });
    main.send('a');
    main.send('b');
    main.send('c');
    const poller = await running(source);
    await waitFor(() => seen.length === 3 && main.counts().inFlight === 1, { message: 'the first batch' });
    expect(main.peek().map((m) => m.body)).toEqual(['b']);
    clock.advance(10_000);
    await waitFor(() => main.counts().inFlight === 0 && main.peek().length === 0, { message: 'the retry' });
    await poller.stop();
    expect(seen.at(-1)).toEqual({ body: 'b', count: '2' });
  });

  it('treats a thrown error and an unknown itemIdentifier as a failed batch, and dead-letters at maxReceiveCount', async () => {
    const { clock, main, deadLetter } = setup({ maxReceiveCount: 2, visibilityTimeoutSeconds: 5 });
    let invocations = 0;
    const failures: unknown[] = [];
    const source = new LocalEventSource({
      queue: main,
      maxConcurrency: 1,
      onInvocationError: (error) => failures.push(error),
      handler: async (): Promise<SQSBatchResponse> => {
        invocations++;
        if (invocations === 1) throw new Error('worker crashed');
        return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
      },
    });
    main.send('x');
    const poller = await running(source);
    await waitFor(() => invocations === 1 && failures.length === 1, { message: 'the first invocation' });
    expect(main.counts().inFlight).toBe(1);
    clock.advance(5000);
    await waitFor(() => invocations === 2 && failures.length === 2, { message: 'the second invocation' });
    expect((failures[1] as Error).name).toBe('InvalidBatchResponseError');
    clock.advance(5000);
    await waitFor(() => deadLetter.counts().visible === 1, { message: 'the dead letter' });
    await poller.stop();
    expect(invocations).toBe(2);
    expect(main.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('lets the handler delay a record by changing its visibility timeout', async () => {
    const { clock, main } = setup({ visibilityTimeoutSeconds: 30 });
    const receives: string[] = [];
    const source = new LocalEventSource({
      queue: main,
      maxConcurrency: 1,
      handler: async (event): Promise<SQSBatchResponse> => {
        const record = event.Records[0];
        if (record === undefined) return { batchItemFailures: [] };
        receives.push(record.attributes.ApproximateReceiveCount);
        if (record.attributes.ApproximateReceiveCount !== '1') return { batchItemFailures: [] };
        main.changeVisibility(record.receiptHandle, 2);
        return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
      },
    });
    main.send('retry me');
    const poller = await running(source);
    await waitFor(() => receives.length === 1 && main.counts().inFlight === 1, { message: 'the first receive' });
    clock.advance(1999);
    expect(receives).toEqual(['1']);
    clock.advance(1);
    await waitFor(() => receives.length === 2 && main.peek().length === 0, { message: 'the retry after 2 s' });
    await poller.stop();
  });

  it('runs at most maxConcurrency invocations at a time, each at most batchSize records', async () => {
    const { main } = setup();
    let running_ = 0;
    let peak = 0;
    let records = 0;
    let largest = 0;
    const source = new LocalEventSource({
      queue: main,
      batchSize: 3,
      maxConcurrency: 2,
      handler: async (event) => {
        running_++;
        peak = Math.max(peak, running_);
        largest = Math.max(largest, event.Records.length);
        await new Promise((resolve) => setTimeout(resolve, 5));
        records += event.Records.length;
        running_--;
      },
    });
    for (let i = 0; i < 30; i++) main.send(`m${i}`);
    const poller = await running(source);
    await waitFor(() => records === 30, { message: 'every record' });
    await poller.stop();
    expect(peak).toBe(2);
    expect(largest).toBe(3);
    expect(main.peek()).toEqual([]);
  });
});
