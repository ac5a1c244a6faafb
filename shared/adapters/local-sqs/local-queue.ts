import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../../ports/clock.js';
import { type JournalMessage, type JournalRecord, QueueJournal } from './queue-journal.js';

/**
 * An in-process queue with Amazon SQS standard-queue semantics, for `npm start`, the tests and the
 * benchmarks: what the order pipeline relies on behaves as in the cloud, so the same handler and
 * the same producer code run against it.
 *
 * - A received message is hidden for its visibility timeout, then delivered again unless deleted.
 * - Every receive counts (`ApproximateReceiveCount`) and issues a new receipt handle; only the
 *   latest handle deletes the message (an older one succeeds without deleting, as in SQS), and
 *   only the latest one changes its visibility.
 * - With a redrive policy, a message received `maxReceiveCount` times that becomes visible again is
 *   moved to the dead-letter queue instead of being delivered a further time. As in SQS, the move
 *   happens when the queue is next polled (or counted), which a running event source does at once.
 * - Delivery order is roughly first in, first out, never guaranteed; duplicates are the producer's.
 * - With a `journalPath` the queue keeps its messages across a crash (see {@link QueueJournal}):
 *   sends, receives, deletes and moves are appended as they happen, and a restarted queue holds
 *   what the killed one held, with the same ids, bodies, attributes, receive counts, send times and
 *   delays. Messages that were in flight come back visible at once. Visibility changes are not
 *   kept: they only concern in-flight messages, which a restart releases anyway.
 *
 * Not modelled: FIFO queues, retention expiry, per-message delay beyond `DelaySeconds`, KMS.
 */

/** SQS's limits, as the local queue enforces them. */
export const SqsLimits = {
  /** Largest message body plus attributes (SQS's maximum since August 2025). */
  maxMessageBytes: 1_048_576,
  maxBatchEntries: 10,
  maxReceiveMessages: 10,
  maxVisibilityTimeoutSeconds: 43_200,
  maxDelaySeconds: 900,
  maxWaitTimeSeconds: 20,
  maxReceiveCount: 1000,
} as const;

/** Errors SQS answers with, by the name its SDK gives them. */
export const LocalSqsErrorCode = {
  queueDoesNotExist: 'QueueDoesNotExist',
  invalidMessageContents: 'InvalidMessageContents',
  invalidParameterValue: 'InvalidParameterValue',
  missingParameter: 'MissingParameter',
  receiptHandleIsInvalid: 'ReceiptHandleIsInvalid',
  messageNotInflight: 'MessageNotInflight',
  batchEntryIdsNotDistinct: 'BatchEntryIdsNotDistinct',
  emptyBatchRequest: 'EmptyBatchRequest',
  tooManyEntriesInBatchRequest: 'TooManyEntriesInBatchRequest',
  invalidBatchEntryId: 'InvalidBatchEntryId',
  batchRequestTooLong: 'BatchRequestTooLong',
  unsupportedOperation: 'UnsupportedOperation',
  invalidAttributeName: 'InvalidAttributeName',
} as const;
export type LocalSqsErrorCode = (typeof LocalSqsErrorCode)[keyof typeof LocalSqsErrorCode];

/** A request the queue refuses, with the error name SQS would answer with. */
export class LocalSqsError extends Error {
  override readonly name = 'LocalSqsError';
  constructor(
    readonly code: LocalSqsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A message attribute, in the SQS API's shape. */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: Uint8Array;
}

/** Message attributes by name. */
export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

/** What `send` takes besides the body. */
export interface SendOptions {
  readonly delaySeconds?: number;
  readonly messageAttributes?: MessageAttributes;
}

/** What `send` answers. */
export interface SendResult {
  readonly messageId: string;
  readonly md5OfMessageBody: string;
  readonly md5OfMessageAttributes?: string;
}

/** A message as one receive hands it out. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly md5OfMessageAttributes?: string;
  readonly messageAttributes: MessageAttributes;
  /** SQS system attributes: ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, and DeadLetterQueueSourceArn for moved messages. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** What `receive` takes. */
export interface ReceiveOptions {
  /** 1-10, default 1. */
  readonly maxMessages?: number;
  /** Overrides the queue's visibility timeout for these messages. */
  readonly visibilityTimeoutSeconds?: number;
  /** Long polling: wait up to this long (0-20 s) for a message. */
  readonly waitTimeSeconds?: number;
  /** Ends a long poll early (it then answers what it has, usually nothing). */
  readonly signal?: AbortSignal;
}

/** A message as the queue holds it; its state changes in place. */
interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly md5OfMessageAttributes: string | undefined;
  readonly messageAttributes: MessageAttributes;
  readonly sentAt: number;
  readonly senderId: string;
  readonly sourceArn: string | undefined;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  /** Visible, waiting out its delay, or received and not yet deleted. */
  state: 'visible' | 'delayed' | 'inFlight';
  /** Epoch ms from which it can be received; in the future while delayed or in flight. */
  visibleAt: number;
  /** The handle of the latest receive while in flight. */
  receiptHandle: string | undefined;
  /** Bumped on every visibility change, so stale heap entries can be told apart. */
  version: number;
}

interface HeapEntry {
  readonly at: number;
  readonly id: string;
  readonly version: number;
}

/** A min-heap of hidden messages by the time they become visible. */
class VisibilityHeap {
  readonly #items: HeapEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): HeapEntry | undefined {
    return this.#items[0];
  }

  push(entry: HeapEntry): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as HeapEntry).at <= entry.at) break;
      items[i] = items[parent] as HeapEntry;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): HeapEntry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && (items[right] as HeapEntry).at < (items[left] as HeapEntry).at ? right : left;
      if ((items[child] as HeapEntry).at >= last.at) break;
      items[i] = items[child] as HeapEntry;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** Where a queue sends messages it gave up on. */
export interface RedrivePolicy {
  readonly deadLetterQueue: LocalQueue;
  /** Deliveries before a message is moved (1-1000). */
  readonly maxReceiveCount: number;
}

/** How a local queue is set up; the names follow the SQS queue attributes. */
export interface LocalQueueOptions {
  readonly name: string;
  readonly clock: Clock;
  /** Default 30 s, as SQS. */
  readonly visibilityTimeoutSeconds?: number;
  /** Default 0. */
  readonly delaySeconds?: number;
  readonly redrivePolicy?: RedrivePolicy;
  readonly region?: string;
  readonly accountId?: string;
  /** Keep the messages in this journal file across restarts (the local platform's `LOCAL_DATA_DIR`); in memory when absent. */
  readonly journalPath?: string;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** Characters SQS accepts in a body: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF. */
const INVALID_BODY_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function md5(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * The MD5 of message attributes as SQS computes it: attributes in name order, each as its name,
 * data type, a transport byte (1 string, 2 binary) and value, every field prefixed with its
 * 4-byte big-endian length.
 */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  const field = (bytes: Uint8Array) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      field(value.BinaryValue);
    } else {
      hash.update(Buffer.from([1]));
      field(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

function attributesSize(attributes: MessageAttributes): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType);
    size += value.BinaryValue?.length ?? Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}

function validateAttributes(attributes: MessageAttributes): void {
  const names = Object.keys(attributes);
  if (names.length > 10) {
    throw new LocalSqsError(LocalSqsErrorCode.invalidParameterValue, 'Number of message attributes must not exceed 10');
  }
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    if (
      !/^[A-Za-z0-9_.-]{1,256}$/.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      /^(aws|amazon)\./i.test(name)
    ) {
      throw new LocalSqsError(LocalSqsErrorCode.invalidAttributeName, `Message attribute name '${name}' is invalid`);
    }
    if (!/^(String|Number|Binary)(\..+)?$/.test(value.DataType)) {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidParameterValue,
        `The message attribute '${name}' has an invalid message attribute type '${value.DataType}'`,
      );
    }
    const binary = value.DataType.startsWith('Binary');
    if (binary ? value.BinaryValue === undefined : value.StringValue === undefined || value.StringValue === '') {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidParameterValue,
        `The message attribute '${name}' must contain a non-empty message attribute value for message attribute type '${value.DataType}'`,
      );
    }
    if (value.DataType.startsWith('Number') && !Number.isFinite(Number(value.StringValue))) {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidParameterValue,
        `The message attribute '${name}' with type 'Number' must use a valid numeric value`,
      );
    }
  }
}

function checkRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    throw new LocalSqsError(
      LocalSqsErrorCode.invalidParameterValue,
      `Value ${value} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`,
    );
  }
}

function encodeHandle(queue: string, messageId: string): string {
  return Buffer.from(`${queue}\n${messageId}\n${randomUUID()}`, 'utf8').toString('base64');
}

function decodeHandle(handle: string): { queue: string; messageId: string } | undefined {
  const parts = Buffer.from(handle, 'base64').toString('utf8').split('\n');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) return undefined;
  return { queue: parts[0], messageId: parts[1] };
}

/** A stored message as its journal keeps it. */
function toJournal(message: StoredMessage): JournalMessage {
  const attributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }> = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    attributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined && { StringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && { BinaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
    };
  }
  return {
    id: message.messageId,
    body: message.body,
    attributes,
    sentAt: message.sentAt,
    senderId: message.senderId,
    ...(message.sourceArn !== undefined && { sourceArn: message.sourceArn }),
    receiveCount: message.receiveCount,
    ...(message.firstReceivedAt !== undefined && { firstReceivedAt: message.firstReceivedAt }),
    visibleAt: message.visibleAt,
    inFlight: message.state === 'inFlight',
  };
}

/** One local queue. See the file comment for the semantics. */
export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly createdAt: number;
  readonly #clock: Clock;
  readonly #visibilityTimeoutSeconds: number;
  readonly #delaySeconds: number;
  readonly #redrive: RedrivePolicy | undefined;
  /** Every message the queue holds, in arrival order. */
  readonly #messages = new Map<string, StoredMessage>();
  /** Ids of visible messages in arrival order; entries of messages since received or deleted are skipped. */
  #visible: string[] = [];
  #visibleHead = 0;
  /** Hidden (delayed or in-flight) messages by the time they become visible. */
  readonly #hidden = new VisibilityHeap();
  #inFlight = 0;
  #delayed = 0;
  readonly #waiters = new Set<() => void>();
  readonly #journal: QueueJournal | undefined;

  constructor(options: LocalQueueOptions) {
    if (!QUEUE_NAME.test(options.name)) {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidParameterValue,
        'Queue names must be 1-80 characters of letters, digits, hyphens and underscores',
      );
    }
    checkRange('VisibilityTimeout', options.visibilityTimeoutSeconds, 0, SqsLimits.maxVisibilityTimeoutSeconds);
    checkRange('DelaySeconds', options.delaySeconds, 0, SqsLimits.maxDelaySeconds);
    checkRange('maxReceiveCount', options.redrivePolicy?.maxReceiveCount, 1, SqsLimits.maxReceiveCount);
    this.name = options.name;
    this.arn = `arn:aws:sqs:${options.region ?? 'ap-south-1'}:${options.accountId ?? '000000000000'}:${options.name}`;
    this.#clock = options.clock;
    this.createdAt = options.clock.now();
    this.#visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    this.#delaySeconds = options.delaySeconds ?? 0;
    this.#redrive = options.redrivePolicy;
    if (options.journalPath !== undefined) {
      const { journal, messages } = QueueJournal.open(options.journalPath);
      for (const message of messages) this.#restore(message);
      this.#journal = journal;
    }
  }

  /**
   * Resolves once every message sent so far would survive a power loss as well as a crash (one
   * `fdatasync` for all sends of a turn); at once without a journal. Whoever answers a producer
   * awaits this first: an accepted message is never lost.
   */
  sync(): Promise<void> {
    return this.#journal?.sync() ?? Promise.resolve();
  }

  /** Syncs and closes the journal; the queue must not be used after. */
  close(): void {
    this.#journal?.close();
  }

  /** The queue's visibility timeout in seconds. */
  get visibilityTimeoutSeconds(): number {
    return this.#visibilityTimeoutSeconds;
  }

  /** The queue's default delay in seconds. */
  get delaySeconds(): number {
    return this.#delaySeconds;
  }

  /** The redrive policy, if messages move to a dead-letter queue. */
  get redrivePolicy(): RedrivePolicy | undefined {
    return this.#redrive;
  }

  /** Adds a message; it is visible after its delay (the queue's `DelaySeconds` unless given). */
  send(body: string, options: SendOptions = {}): SendResult {
    if (typeof body !== 'string' || body.length === 0) {
      throw new LocalSqsError(
        LocalSqsErrorCode.missingParameter,
        'The request must contain the parameter MessageBody.',
      );
    }
    if (INVALID_BODY_CHARACTER.test(body)) {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidMessageContents,
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const attributes = options.messageAttributes ?? {};
    validateAttributes(attributes);
    const size = Buffer.byteLength(body, 'utf8') + attributesSize(attributes);
    if (size > SqsLimits.maxMessageBytes) {
      throw new LocalSqsError(
        LocalSqsErrorCode.invalidParameterValue,
        `One or more parameters are invalid. Reason: Message must be shorter than ${SqsLimits.maxMessageBytes} bytes.`,
      );
    }
    checkRange('DelaySeconds', options.delaySeconds, 0, SqsLimits.maxDelaySeconds);
    const now = this.#clock.now();
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5(body),
      md5OfMessageAttributes: md5OfMessageAttributes(attributes),
      messageAttributes: attributes,
      sentAt: now,
      senderId: 'LOCAL',
      sourceArn: undefined,
      receiveCount: 0,
      firstReceivedAt: undefined,
      state: 'visible',
      visibleAt: now + (options.delaySeconds ?? this.#delaySeconds) * 1000,
      receiptHandle: undefined,
      version: 0,
    };
    this.#accept(message);
    return {
      messageId: message.messageId,
      md5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes !== undefined && { md5OfMessageAttributes: message.md5OfMessageAttributes }),
    };
  }

  /**
   * Receives up to `maxMessages` visible messages, hiding each for the visibility timeout. With
   * `waitTimeSeconds` it waits for a message to arrive or become visible (long polling); without,
   * it answers at once, possibly with nothing.
   */
  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const max = options.maxMessages ?? 1;
    checkRange('MaxNumberOfMessages', max, 1, SqsLimits.maxReceiveMessages);
    checkRange('VisibilityTimeout', options.visibilityTimeoutSeconds, 0, SqsLimits.maxVisibilityTimeoutSeconds);
    checkRange('WaitTimeSeconds', options.waitTimeSeconds, 0, SqsLimits.maxWaitTimeSeconds);
    const deadline = this.#clock.now() + (options.waitTimeSeconds ?? 0) * 1000;
    for (;;) {
      const received = this.#take(max, options.visibilityTimeoutSeconds ?? this.#visibilityTimeoutSeconds);
      if (received.length > 0 || this.#clock.now() >= deadline || options.signal?.aborted) return received;
      await this.#waitForChange(deadline, options.signal);
    }
  }

  /**
   * Deletes the message `receiptHandle` was issued for. A handle from an earlier receive of a
   * message that was received again since succeeds without deleting, as SQS does; a handle of a
   * message already deleted succeeds too.
   */
  delete(receiptHandle: string): void {
    const message = this.#byHandle(receiptHandle);
    if (message === undefined || message.receiptHandle !== receiptHandle) return;
    this.#remove(message);
  }

  /**
   * Changes the visibility timeout of an in-flight message to `seconds` from now (0 makes it
   * visible at once). Only the latest receipt handle of a message still in flight may.
   */
  changeVisibility(receiptHandle: string, seconds: number): void {
    checkRange('VisibilityTimeout', seconds, 0, SqsLimits.maxVisibilityTimeoutSeconds);
    const message = this.#byHandle(receiptHandle);
    this.#release();
    if (message === undefined || message.state !== 'inFlight' || message.receiptHandle !== receiptHandle) {
      throw new LocalSqsError(
        LocalSqsErrorCode.messageNotInflight,
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    message.visibleAt = this.#clock.now() + seconds * 1000;
    message.version++;
    this.#hidden.push({ at: message.visibleAt, id: message.messageId, version: message.version });
    this.#notify();
  }

  /** Counts as SQS's Approximate* attributes report them. */
  counts(): { visible: number; inFlight: number; delayed: number } {
    this.#release();
    return {
      visible: this.#messages.size - this.#inFlight - this.#delayed,
      inFlight: this.#inFlight,
      delayed: this.#delayed,
    };
  }

  /** Long-poll receives parked now, waiting for a message (what tells a caller "not yet" from "none"). */
  get waitingReceivers(): number {
    return this.#waiters.size;
  }

  /** Every message the queue holds (visible or not), oldest first, without receiving it. */
  peek(): readonly { messageId: string; body: string; receiveCount: number; sentAt: number; inFlight: boolean }[] {
    this.#release();
    return [...this.#messages.values()].map((m) => ({
      messageId: m.messageId,
      body: m.body,
      receiveCount: m.receiveCount,
      sentAt: m.sentAt,
      inFlight: m.state === 'inFlight',
    }));
  }

  /**
   * Moves every message `select` picks that is not in flight to `target` as a new message (the
   * dead-letter redrive of one task), returning how many moved; each is delivered after
   * `options.delaySeconds` (default 0).
   */
  moveTo(
    target: LocalQueue,
    select: (body: string) => boolean,
    options: { readonly delaySeconds?: number } = {},
  ): number {
    this.#release();
    let moved = 0;
    for (const message of [...this.#messages.values()]) {
      if (message.state === 'inFlight' || !select(message.body)) continue;
      // On the target (and on its disk) before it leaves here: a crash between keeps two, never none.
      target.send(message.body, {
        messageAttributes: message.messageAttributes,
        delaySeconds: options.delaySeconds ?? 0,
      });
      target.#journal?.syncNow();
      this.#remove(message);
      moved++;
    }
    return moved;
  }

  /** Deletes every message `select` picks that is not in flight; returns how many. */
  removeWhere(select: (body: string) => boolean): number {
    this.#release();
    let removed = 0;
    for (const message of [...this.#messages.values()]) {
      if (message.state === 'inFlight' || !select(message.body)) continue;
      this.#remove(message);
      removed++;
    }
    return removed;
  }

  /** Deletes every message. */
  purge(): void {
    this.#messages.clear();
    this.#visible = [];
    this.#visibleHead = 0;
    this.#inFlight = 0;
    this.#delayed = 0;
    while (this.#hidden.pop() !== undefined) {}
    this.#append({ op: 'purge' });
  }

  /** Takes a message another queue dead-lettered. */
  #acceptDeadLetter(message: StoredMessage, sourceArn: string): void {
    this.#accept({
      ...message,
      sourceArn,
      state: 'visible',
      visibleAt: this.#clock.now(),
      receiptHandle: undefined,
      version: 0,
    });
    // On this queue's disk before the source forgets it: a crash between keeps two, never none.
    this.#journal?.syncNow();
  }

  #accept(message: StoredMessage, journal = true): void {
    this.#messages.set(message.messageId, message);
    if (message.visibleAt > this.#clock.now()) {
      message.state = 'delayed';
      this.#delayed++;
      this.#hidden.push({ at: message.visibleAt, id: message.messageId, version: message.version });
    } else {
      this.#visible.push(message.messageId);
    }
    if (journal) this.#append({ op: 'put', message: toJournal(message) });
    this.#notify();
  }

  #remove(message: StoredMessage): void {
    this.#messages.delete(message.messageId);
    if (message.state === 'delayed') this.#delayed--;
    else if (message.state === 'inFlight') this.#inFlight--;
    // Entries left in the visible list or the heap are skipped when reached.
    this.#append({ op: 'delete', id: message.messageId });
  }

  /**
   * Takes back a message from the journal. One that was in flight belonged to a consumer of the
   * process that died, so it is due at once (released, or dead-lettered when its receives are
   * spent, on the next poll, as when its visibility times out). Delivering it again is safe: the
   * order worker places under an idempotency key and moves status records only by conditional
   * transitions, so a second delivery of an order already placed places nothing.
   */
  #restore(saved: JournalMessage): void {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(saved.attributes)) {
      attributes[name] = {
        DataType: value.DataType,
        ...(value.StringValue !== undefined && { StringValue: value.StringValue }),
        ...(value.BinaryValue !== undefined && {
          BinaryValue: new Uint8Array(Buffer.from(value.BinaryValue, 'base64')),
        }),
      };
    }
    const now = this.#clock.now();
    const message: StoredMessage = {
      messageId: saved.id,
      body: saved.body,
      md5OfBody: md5(saved.body),
      md5OfMessageAttributes: md5OfMessageAttributes(attributes),
      messageAttributes: attributes,
      sentAt: saved.sentAt,
      senderId: saved.senderId,
      sourceArn: saved.sourceArn,
      receiveCount: saved.receiveCount,
      firstReceivedAt: saved.firstReceivedAt,
      state: saved.inFlight ? 'inFlight' : 'visible',
      visibleAt: saved.inFlight ? now : saved.visibleAt,
      receiptHandle: undefined,
      version: 0,
    };
    if (!saved.inFlight) {
      this.#accept(message, false);
      return;
    }
    this.#messages.set(message.messageId, message);
    this.#inFlight++;
    this.#hidden.push({ at: message.visibleAt, id: message.messageId, version: message.version });
  }

  /** Journals one change (when the queue has a journal), compacting it once it outgrows the messages. */
  #append(record: JournalRecord): void {
    const journal = this.#journal;
    if (journal === undefined) return;
    journal.append(record);
    if (journal.shouldCompact(this.#messages.size)) journal.compact([...this.#messages.values()].map(toJournal));
  }

  #byHandle(receiptHandle: string): StoredMessage | undefined {
    const decoded = typeof receiptHandle === 'string' ? decodeHandle(receiptHandle) : undefined;
    if (decoded === undefined || decoded.queue !== this.name) {
      throw new LocalSqsError(
        LocalSqsErrorCode.receiptHandleIsInvalid,
        `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`,
      );
    }
    return this.#messages.get(decoded.messageId);
  }

  /** Makes hidden messages whose time has come visible, or dead-letters them when their receives are spent. */
  #release(): void {
    const now = this.#clock.now();
    for (let top = this.#hidden.peek(); top !== undefined && top.at <= now; top = this.#hidden.peek()) {
      this.#hidden.pop();
      const message = this.#messages.get(top.id);
      if (message === undefined || message.version !== top.version || message.state === 'visible') continue;
      if (message.state === 'delayed') this.#delayed--;
      else this.#inFlight--;
      message.state = 'visible';
      message.receiptHandle = undefined;
      const redrive = this.#redrive;
      if (redrive !== undefined && message.receiveCount >= redrive.maxReceiveCount) {
        this.#messages.delete(message.messageId);
        redrive.deadLetterQueue.#acceptDeadLetter(message, this.arn);
        this.#append({ op: 'delete', id: message.messageId });
        continue;
      }
      this.#visible.push(message.messageId);
    }
  }

  #take(max: number, visibilitySeconds: number): ReceivedMessage[] {
    this.#release();
    const now = this.#clock.now();
    const taken: ReceivedMessage[] = [];
    while (taken.length < max && this.#visibleHead < this.#visible.length) {
      const id = this.#visible[this.#visibleHead++] as string;
      const message = this.#messages.get(id);
      if (message === undefined || message.state !== 'visible') continue;
      message.state = 'inFlight';
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.receiptHandle = encodeHandle(this.name, message.messageId);
      message.visibleAt = now + visibilitySeconds * 1000;
      message.version++;
      this.#inFlight++;
      this.#hidden.push({ at: message.visibleAt, id: message.messageId, version: message.version });
      this.#append({ op: 'receive', id: message.messageId, receiveCount: message.receiveCount, firstReceivedAt: now });
      taken.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        md5OfBody: message.md5OfBody,
        ...(message.md5OfMessageAttributes !== undefined && { md5OfMessageAttributes: message.md5OfMessageAttributes }),
        messageAttributes: message.messageAttributes,
        attributes: {
          ApproximateReceiveCount: String(message.receiveCount),
          SentTimestamp: String(message.sentAt),
          SenderId: message.senderId,
          ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
          ...(message.sourceArn !== undefined && { DeadLetterQueueSourceArn: message.sourceArn }),
        },
      });
    }
    if (this.#visibleHead > 1024 && this.#visibleHead * 2 > this.#visible.length) {
      this.#visible = this.#visible.slice(this.#visibleHead);
      this.#visibleHead = 0;
    }
    return taken;
  }

  /** Resolves when something changed (a send, a visibility change), the next hidden message is due, or `deadline` passes. */
  #waitForChange(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const next = this.#hidden.peek()?.at;
      const wakeAt = next === undefined ? deadline : Math.min(deadline, next);
      const done = () => {
        cancel();
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const cancel = this.#clock.setTimeout(done, Math.max(0, wakeAt - this.#clock.now()));
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
