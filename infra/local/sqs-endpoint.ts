import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type LocalQueue,
  LocalSqsError,
  LocalSqsErrorCode,
  type MessageAttributes,
  type MessageAttributeValue,
  type ReceivedMessage,
  SqsLimits,
} from '../../shared/adapters/local-sqs/local-queue.js';
import type { SigV4Verifier } from './sigv4-verifier.js';

/**
 * Amazon SQS's API (the AWS JSON 1.0 protocol the AWS SDKs speak: `POST /` with
 * `X-Amz-Target: AmazonSQS.<Action>`) over the local queues, so a producer using the AWS SDK can be
 * pointed at the local platform (`endpoint: http://127.0.0.1:8080`) and send orders unchanged.
 * Errors come back as SQS sends them: the status, `{"__type","message"}` and the
 * `x-amzn-query-error` header the SDK maps to its error classes.
 *
 * Actions: GetQueueUrl, ListQueues, GetQueueAttributes, SendMessage, SendMessageBatch,
 * ReceiveMessage, DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
 * ChangeMessageVisibilityBatch, PurgeQueue. Every request must carry an AWS Signature V4 made
 * with the local key pair (`LOCAL_AWS_ACCESS_KEY_ID`/`LOCAL_AWS_SECRET_ACCESS_KEY`); others get
 * SQS's 403 with `InvalidClientTokenId`, `MissingAuthenticationToken` or `SignatureDoesNotMatch`.
 */

/** The AWS account id local queue URLs and ARNs carry. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** Largest request body read: a full batch of the largest messages, with JSON overhead. */
const MAX_REQUEST_BYTES = 2 * SqsLimits.maxMessageBytes;

/** An error answer: HTTP status, `__type` and the query-compatible code. */
class SqsApiError extends Error {
  override readonly name = 'SqsApiError';
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** How each queue error is answered, as SQS answers it. */
const ERRORS: Readonly<Record<LocalSqsErrorCode, { status: number; queryCode: string }>> = {
  QueueDoesNotExist: { status: 400, queryCode: 'AWS.SimpleQueueService.NonExistentQueue' },
  InvalidMessageContents: { status: 400, queryCode: 'InvalidMessageContents' },
  InvalidParameterValue: { status: 400, queryCode: 'InvalidParameterValue' },
  MissingParameter: { status: 400, queryCode: 'MissingParameter' },
  ReceiptHandleIsInvalid: { status: 404, queryCode: 'ReceiptHandleIsInvalid' },
  MessageNotInflight: { status: 400, queryCode: 'AWS.SimpleQueueService.MessageNotInflight' },
  BatchEntryIdsNotDistinct: { status: 400, queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct' },
  EmptyBatchRequest: { status: 400, queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest' },
  TooManyEntriesInBatchRequest: { status: 400, queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest' },
  InvalidBatchEntryId: { status: 400, queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId' },
  BatchRequestTooLong: { status: 400, queryCode: 'AWS.SimpleQueueService.BatchRequestTooLong' },
  UnsupportedOperation: { status: 400, queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' },
  InvalidAttributeName: { status: 400, queryCode: 'InvalidAttributeName' },
};

function queueError(code: LocalSqsErrorCode, message: string): SqsApiError {
  const { status, queryCode } = ERRORS[code];
  return new SqsApiError(status, `com.amazonaws.sqs#${code}`, queryCode, message);
}

function fromQueueError(error: unknown): SqsApiError {
  if (error instanceof SqsApiError) return error;
  if (error instanceof LocalSqsError) return queueError(error.code, error.message);
  throw error;
}

type Json = Record<string, unknown>;

/** Request field readers: a wrong type is SQS's InvalidParameterValue, a missing field its MissingParameter. */
function requiredString(input: Json, name: string): string {
  const value = input[name];
  if (value === undefined || value === null) {
    throw queueError(LocalSqsErrorCode.missingParameter, `The request must contain the parameter ${name}.`);
  }
  if (typeof value !== 'string') {
    throw queueError(LocalSqsErrorCode.invalidParameterValue, `Value for parameter ${name} must be a string.`);
  }
  return value;
}

function optionalInt(input: Json, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw queueError(
      LocalSqsErrorCode.invalidParameterValue,
      `Value ${JSON.stringify(value)} for parameter ${name} is invalid.`,
    );
  }
  return value;
}

function requiredInt(input: Json, name: string): number {
  const value = optionalInt(input, name);
  if (value === undefined) {
    throw queueError(LocalSqsErrorCode.missingParameter, `The request must contain the parameter ${name}.`);
  }
  return value;
}

function stringList(input: Json, name: string): string[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw queueError(LocalSqsErrorCode.invalidParameterValue, `Value for parameter ${name} must be a list of strings.`);
  }
  return value;
}

function entries(input: Json): Json[] {
  const value = input.Entries;
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    throw queueError(
      LocalSqsErrorCode.emptyBatchRequest,
      'There should be at least one SendMessageBatchRequestEntry in the request.',
    );
  }
  if (!Array.isArray(value) || !value.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
    throw queueError(LocalSqsErrorCode.invalidParameterValue, 'Value for parameter Entries must be a list of entries.');
  }
  if (value.length > SqsLimits.maxBatchEntries) {
    throw queueError(
      LocalSqsErrorCode.tooManyEntriesInBatchRequest,
      `Maximum number of entries per request are ${SqsLimits.maxBatchEntries}. You have sent ${value.length}.`,
    );
  }
  const ids = new Set<string>();
  for (const entry of value as Json[]) {
    const id = entry.Id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw queueError(
        LocalSqsErrorCode.invalidBatchEntryId,
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      );
    }
    if (ids.has(id)) throw queueError(LocalSqsErrorCode.batchEntryIdsNotDistinct, `Id ${id} repeated.`);
    ids.add(id);
  }
  return value as Json[];
}

function messageAttributes(input: Json): MessageAttributes {
  const value = input.MessageAttributes;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw queueError(LocalSqsErrorCode.invalidParameterValue, 'MessageAttributes must be a map.');
  }
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, raw] of Object.entries(value as Json)) {
    const attribute = (typeof raw === 'object' && raw !== null ? raw : {}) as Json;
    const dataType = attribute.DataType;
    if (typeof dataType !== 'string') {
      throw queueError(
        LocalSqsErrorCode.invalidParameterValue,
        `The message attribute '${name}' must contain a DataType.`,
      );
    }
    attributes[name] = {
      DataType: dataType,
      ...(typeof attribute.StringValue === 'string' && { StringValue: attribute.StringValue }),
      ...(typeof attribute.BinaryValue === 'string' && { BinaryValue: Buffer.from(attribute.BinaryValue, 'base64') }),
    };
  }
  return attributes;
}

function attributesJson(attributes: MessageAttributes): Json {
  const json: Json = {};
  for (const [name, value] of Object.entries(attributes)) {
    json[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined && { StringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && { BinaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
    };
  }
  return json;
}

/** The message attributes a receive asked for: `All`, `.*`, exact names or `prefix.*`. */
function selectAttributes(attributes: MessageAttributes, wanted: readonly string[]): MessageAttributes {
  const pick = (name: string) =>
    wanted.some(
      (w) => w === 'All' || w === '.*' || w === name || (w.endsWith('.*') && name.startsWith(w.slice(0, -1))),
    );
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => pick(name)));
}

/** Whether the client is gone (a long poll it abandoned). */
function closedSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  req.once('aborted', () => controller.abort());
  return controller.signal;
}

/** Serves SQS's API over `queues`; see the file comment. */
export class LocalSqsEndpoint {
  readonly #queues: ReadonlyMap<string, LocalQueue>;
  readonly #accountId: string;
  readonly #verifier: SigV4Verifier;

  constructor(queues: readonly LocalQueue[], options: { verifier: SigV4Verifier; accountId?: string }) {
    this.#queues = new Map(queues.map((q) => [q.name, q]));
    this.#accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
    this.#verifier = options.verifier;
  }

  /**
   * Handles `req` when it is an SQS API call (`X-Amz-Target: AmazonSQS.*`); resolves false for
   * anything else, so the caller can route it elsewhere.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const target = req.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith('AmazonSQS.')) return false;
    const requestId = randomUUID();
    const send = (status: number, body: Json, headers: Record<string, string> = {}) => {
      const payload = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': String(Buffer.byteLength(payload)),
        'x-amzn-requestid': requestId,
        ...headers,
      });
      res.end(payload);
    };
    try {
      if (req.method !== 'POST') {
        throw new SqsApiError(
          405,
          'com.amazonaws.sqs#InvalidAction',
          'InvalidAction',
          `${req.method} is not supported`,
        );
      }
      const body = await readRequestBody(req);
      const refused = await this.#verifier.verify({
        method: req.method ?? 'POST',
        url: req.url ?? '/',
        headers: req.headers,
        body,
      });
      if (refused !== undefined) {
        throw new SqsApiError(403, `com.amazon.coral.service#${refused.code}`, refused.code, refused.message);
      }
      const input = parseInput(body);
      const base = `http://${req.headers.host ?? '127.0.0.1'}`;
      const output = await this.#dispatch(target.slice('AmazonSQS.'.length), input, base, closedSignal(req, res));
      send(200, output);
    } catch (error) {
      const apiError = fromQueueError(error);
      send(
        apiError.status,
        { __type: apiError.type, message: apiError.message },
        { 'x-amzn-query-error': `${apiError.queryCode};Sender` },
      );
    }
    return true;
  }

  #queueUrl(base: string, queue: LocalQueue): string {
    return `${base}/${this.#accountId}/${queue.name}`;
  }

  /** The queue a `QueueUrl` names (by its last path segment, as SQS resolves it). */
  #queue(input: Json): LocalQueue {
    const url = requiredString(input, 'QueueUrl');
    let name: string | undefined;
    try {
      name = new URL(url).pathname.split('/').filter(Boolean).at(-1);
    } catch {
      name = url.split('/').filter(Boolean).at(-1);
    }
    const queue = name === undefined ? undefined : this.#queues.get(name);
    if (queue === undefined)
      throw queueError(LocalSqsErrorCode.queueDoesNotExist, 'The specified queue does not exist.');
    return queue;
  }

  async #dispatch(action: string, input: Json, base: string, signal: AbortSignal): Promise<Json> {
    switch (action) {
      case 'GetQueueUrl': {
        const queue = this.#queues.get(requiredString(input, 'QueueName'));
        if (queue === undefined)
          throw queueError(LocalSqsErrorCode.queueDoesNotExist, 'The specified queue does not exist.');
        return { QueueUrl: this.#queueUrl(base, queue) };
      }
      case 'ListQueues': {
        const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '';
        const urls = [...this.#queues.values()]
          .filter((q) => q.name.startsWith(prefix))
          .map((q) => this.#queueUrl(base, q));
        return urls.length > 0 ? { QueueUrls: urls } : {};
      }
      case 'GetQueueAttributes':
        return { Attributes: this.#attributes(this.#queue(input), stringList(input, 'AttributeNames')) };
      case 'SendMessage': {
        const queue = this.#queue(input);
        const delaySeconds = optionalInt(input, 'DelaySeconds');
        const sent = queue.send(requiredString(input, 'MessageBody'), {
          messageAttributes: messageAttributes(input),
          ...(delaySeconds !== undefined && { delaySeconds }),
        });
        // Answered only once the message would survive a crash (the queue's journal, when it has one).
        await queue.sync();
        return {
          MessageId: sent.messageId,
          MD5OfMessageBody: sent.md5OfMessageBody,
          ...(sent.md5OfMessageAttributes !== undefined && { MD5OfMessageAttributes: sent.md5OfMessageAttributes }),
        };
      }
      case 'SendMessageBatch': {
        const queue = this.#queue(input);
        const output = this.#sendBatch(queue, entries(input));
        await queue.sync();
        return output;
      }
      case 'ReceiveMessage':
        return this.#receive(this.#queue(input), input, signal);
      case 'DeleteMessage':
        this.#queue(input).delete(requiredString(input, 'ReceiptHandle'));
        return {};
      case 'DeleteMessageBatch': {
        const queue = this.#queue(input);
        return this.#batch(entries(input), (entry) => queue.delete(requiredString(entry, 'ReceiptHandle')));
      }
      case 'ChangeMessageVisibility':
        this.#queue(input).changeVisibility(
          requiredString(input, 'ReceiptHandle'),
          requiredInt(input, 'VisibilityTimeout'),
        );
        return {};
      case 'ChangeMessageVisibilityBatch': {
        const queue = this.#queue(input);
        return this.#batch(entries(input), (entry) =>
          queue.changeVisibility(requiredString(entry, 'ReceiptHandle'), requiredInt(entry, 'VisibilityTimeout')),
        );
      }
      case 'PurgeQueue':
        this.#queue(input).purge();
        return {};
      default:
        throw queueError(
          LocalSqsErrorCode.unsupportedOperation,
          `${action} is not supported by the local SQS endpoint.`,
        );
    }
  }

  #sendBatch(queue: LocalQueue, batch: readonly Json[]): Json {
    const total = batch.reduce(
      (sum, e) => sum + (typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0),
      0,
    );
    if (total > SqsLimits.maxMessageBytes) {
      throw queueError(
        LocalSqsErrorCode.batchRequestTooLong,
        `Batch requests cannot be longer than ${SqsLimits.maxMessageBytes} bytes. You have sent ${total} bytes.`,
      );
    }
    const successful: Json[] = [];
    const failed: Json[] = [];
    for (const entry of batch) {
      try {
        const delaySeconds = optionalInt(entry, 'DelaySeconds');
        const sent = queue.send(requiredString(entry, 'MessageBody'), {
          messageAttributes: messageAttributes(entry),
          ...(delaySeconds !== undefined && { delaySeconds }),
        });
        successful.push({
          Id: entry.Id,
          MessageId: sent.messageId,
          MD5OfMessageBody: sent.md5OfMessageBody,
          ...(sent.md5OfMessageAttributes !== undefined && { MD5OfMessageAttributes: sent.md5OfMessageAttributes }),
        });
      } catch (error) {
        const apiError = fromQueueError(error);
        failed.push({ Id: entry.Id, SenderFault: true, Code: apiError.type.split('#')[1], Message: apiError.message });
      }
    }
    return { Successful: successful, Failed: failed };
  }

  #batch(batch: readonly Json[], apply: (entry: Json) => void): Json {
    const successful: Json[] = [];
    const failed: Json[] = [];
    for (const entry of batch) {
      try {
        apply(entry);
        successful.push({ Id: entry.Id });
      } catch (error) {
        const apiError = fromQueueError(error);
        failed.push({ Id: entry.Id, SenderFault: true, Code: apiError.type.split('#')[1], Message: apiError.message });
      }
    }
    return { Successful: successful, Failed: failed };
  }

  async #receive(queue: LocalQueue, input: Json, signal: AbortSignal): Promise<Json> {
    const maxMessages = optionalInt(input, 'MaxNumberOfMessages');
    const visibilityTimeoutSeconds = optionalInt(input, 'VisibilityTimeout');
    const waitTimeSeconds = optionalInt(input, 'WaitTimeSeconds');
    const systemNames = [...stringList(input, 'AttributeNames'), ...stringList(input, 'MessageSystemAttributeNames')];
    const attributeNames = stringList(input, 'MessageAttributeNames');
    const messages = await queue.receive({
      signal,
      ...(maxMessages !== undefined && { maxMessages }),
      ...(visibilityTimeoutSeconds !== undefined && { visibilityTimeoutSeconds }),
      ...(waitTimeSeconds !== undefined && { waitTimeSeconds }),
    });
    if (messages.length === 0) return {};
    return { Messages: messages.map((m) => this.#message(m, systemNames, attributeNames)) };
  }

  #message(message: ReceivedMessage, systemNames: readonly string[], attributeNames: readonly string[]): Json {
    const system = Object.fromEntries(
      Object.entries(message.attributes).filter(([name]) => systemNames.includes('All') || systemNames.includes(name)),
    );
    const selected = selectAttributes(message.messageAttributes, attributeNames);
    return {
      MessageId: message.messageId,
      ReceiptHandle: message.receiptHandle,
      MD5OfBody: message.md5OfBody,
      Body: message.body,
      ...(Object.keys(system).length > 0 && { Attributes: system }),
      ...(Object.keys(selected).length > 0 && {
        MessageAttributes: attributesJson(selected),
        MD5OfMessageAttributes: message.md5OfMessageAttributes,
      }),
    };
  }

  #attributes(queue: LocalQueue, names: readonly string[]): Record<string, string> {
    const counts = queue.counts();
    const redrive = queue.redrivePolicy;
    const all: Record<string, string> = {
      QueueArn: queue.arn,
      ApproximateNumberOfMessages: String(counts.visible),
      ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
      ApproximateNumberOfMessagesDelayed: String(counts.delayed),
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      MaximumMessageSize: String(SqsLimits.maxMessageBytes),
      MessageRetentionPeriod: '345600',
      DelaySeconds: String(queue.delaySeconds),
      ReceiveMessageWaitTimeSeconds: '0',
      CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.createdAt / 1000)),
      ...(redrive !== undefined && {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: redrive.deadLetterQueue.arn,
          maxReceiveCount: redrive.maxReceiveCount,
        }),
      }),
    };
    if (names.includes('All')) return all;
    const picked: Record<string, string> = {};
    for (const name of names) {
      const value = all[name];
      if (
        value === undefined &&
        !['FifoQueue', 'ContentBasedDeduplication', 'Policy', 'KmsMasterKeyId'].includes(name)
      ) {
        throw queueError(LocalSqsErrorCode.invalidAttributeName, `Unknown Attribute ${name}.`);
      }
      if (value !== undefined) picked[name] = value;
    }
    return picked;
  }
}

/** The request body, refused once it passes {@link MAX_REQUEST_BYTES}. */
async function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) {
      throw queueError(LocalSqsErrorCode.batchRequestTooLong, `Request body exceeds ${MAX_REQUEST_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The JSON object of an SQS request body. */
function parseInput(body: Buffer): Json {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new SqsApiError(
      400,
      'com.amazon.coral.service#SerializationException',
      'SerializationException',
      'The request body is not valid JSON.',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SqsApiError(
      400,
      'com.amazon.coral.service#SerializationException',
      'SerializationException',
      'The request body must be a JSON object.',
    );
  }
  return parsed as Json;
}
