import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  type ApiGatewayManagementApiClientConfig,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DependencyUnavailableError, describeError, TimeoutError, ValidationError } from '../../errors.js';
import type { ConnectionGateway, PostOutcome } from '../../ports/connection-gateway.js';

/** Largest message API Gateway accepts; beyond it the client would be closed with code 1009. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** Requests in flight at once unless configured: enough to fill the sockets without queueing in the agent. */
const DEFAULT_MAX_IN_FLIGHT = 128;

/** How long a request waits for an in-flight slot unless configured. */
const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;

/** Sockets per agent: above the in-flight bound, so a request never waits for a socket. */
const MAX_SOCKETS = 256;

/** What an {@link ApiGatewayConnectionGateway} needs. */
export interface ApiGatewayConnectionGatewayOptions {
  /**
   * The management endpoint: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` in the
   * cloud, the local gateway's base URL on one machine. Its scheme picks the socket agent.
   */
  readonly endpoint: string;
  readonly region: string;
  /** Requests (posts and deletes) in flight at once; the rest wait their turn in order. Default 128. */
  readonly maxInFlight?: number;
  /**
   * How long a request may wait for one of the `maxInFlight` slots before it fails with a
   * `TimeoutError` ("Connection pool timeout: …"). Default 10 s: a post still queued after that
   * carries a tick long superseded, and the slots are most likely held by requests to an endpoint
   * that stopped answering, which waiting longer would hide.
   */
  readonly acquireTimeoutMs?: number;
  /**
   * Attempts per request, the first included. Default 1: the caller owns the retry policy (a
   * throttled connection is paused, a lost tick is superseded by the next), and an SDK retry
   * would hold an in-flight slot through its back-off.
   */
  readonly maxAttempts?: number;
  /** Credentials, when the default provider chain is not wanted (the local gateway accepts any). */
  readonly credentials?: ApiGatewayManagementApiClientConfig['credentials'];
}

/**
 * A FIFO counting semaphore: at most `limit` holders; waiters are admitted in arrival order, so a
 * burst of posts cannot starve an earlier one. A waiter that gives up leaves the queue, so it never
 * takes a slot nobody will release.
 */
class Semaphore {
  readonly #limit: number;
  #available: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
    this.#available = limit;
  }

  /** Slots held now. */
  get held(): number {
    return this.#limit - this.#available;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Takes a slot, waiting in line for one; rejects with `TimeoutError` after `timeoutMs` in line. */
  async acquire(timeoutMs: number): Promise<void> {
    if (this.#available > 0) {
      this.#available--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const admit = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(admit);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(
          new TimeoutError(
            `Connection pool timeout: no request slot free within ${timeoutMs} ms (${this.#limit} in flight)`,
          ),
        );
      }, timeoutMs);
      this.#waiting.push(admit);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#available++;
  }
}

/** The HTTP status an SDK error carries, if any. */
function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = error.$metadata;
  if (typeof metadata !== 'object' || metadata === null || !('httpStatusCode' in metadata)) return undefined;
  return typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * `GoneException` by name or by status: the local gateway answers 410 without AWS's error-type
 * header, and the SDK then names the error after the status instead.
 */
function isGone(error: unknown): boolean {
  return errorName(error) === 'GoneException' || httpStatusOf(error) === 410;
}

/** `LimitExceededException` (HTTP 429): the account is throttled or the client's buffer is full. */
function isThrottled(error: unknown): boolean {
  return errorName(error) === 'LimitExceededException' || httpStatusOf(error) === 429;
}

/**
 * Whether `payload` is over {@link MAX_MESSAGE_BYTES} in UTF-8. The string's length bounds the
 * byte count (one to three bytes per UTF-16 unit), so only payloads near the limit are measured:
 * the same large frame goes to thousands of connections, and scanning it for each would add up.
 */
function isOversize(payload: string): boolean {
  if (payload.length > MAX_MESSAGE_BYTES) return true;
  if (payload.length * 3 <= MAX_MESSAGE_BYTES) return false;
  return Buffer.byteLength(payload, 'utf8') > MAX_MESSAGE_BYTES;
}

/**
 * The {@link ConnectionGateway} on API Gateway's management API (`PostToConnection`,
 * `DeleteConnection`), which the local gateway serves too at `/@connections/{id}`.
 *
 * Fan-out is thousands of small HTTP calls (API Gateway has no broadcast), so the client is tuned
 * for that: one keep-alive agent (TLS handshakes are the expensive part) with {@link MAX_SOCKETS}
 * sockets, and a semaphore that keeps at most `maxInFlight` requests outstanding, so a burst queues
 * here, in order and visibly, instead of in the agent or as thousands of pending promises inside
 * the SDK.
 *
 * Outcomes: 410 `GoneException` → `'gone'`; `LimitExceededException` (429, which also means a full
 * client buffer) → `'throttled'`; a request that finds every slot taken for `acquireTimeoutMs`
 * rejects with `TimeoutError` ("Connection pool timeout: …") without being sent; every other
 * failure rejects with `DependencyUnavailableError('apigateway', …)` carrying the SDK error as `cause`. A payload over
 * 128 KB (UTF-8) is a `ValidationError` before anything is sent. `close` treats a connection that
 * is already gone as closed, so it is idempotent.
 */
export class ApiGatewayConnectionGateway implements ConnectionGateway {
  readonly #client: ApiGatewayManagementApiClient;
  readonly #slots: Semaphore;
  readonly #acquireTimeoutMs: number;

  constructor(options: ApiGatewayConnectionGatewayOptions) {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new ValidationError('maxInFlight must be a positive integer', [
        { path: 'maxInFlight', message: `got ${maxInFlight}` },
      ]);
    }
    let scheme: string;
    try {
      scheme = new URL(options.endpoint).protocol;
    } catch (error) {
      throw new ValidationError(
        `Invalid management endpoint: ${options.endpoint}`,
        [{ path: 'endpoint', message: 'not a URL' }],
        { cause: error },
      );
    }
    if (scheme !== 'https:' && scheme !== 'http:') {
      throw new ValidationError(`Management endpoint must be http or https: ${options.endpoint}`, [
        { path: 'endpoint', message: `unsupported scheme ${scheme}` },
      ]);
    }
    const agent = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.#client = new ApiGatewayManagementApiClient({
      endpoint: options.endpoint,
      region: options.region,
      maxAttempts: options.maxAttempts ?? 1,
      // Options for the SDK's own NodeHttpHandler: only the agent for the endpoint's scheme is used.
      requestHandler: scheme === 'https:' ? { httpsAgent: new HttpsAgent(agent) } : { httpAgent: new HttpAgent(agent) },
      ...(options.credentials !== undefined && { credentials: options.credentials }),
    });
    const acquireTimeoutMs = options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
    if (!(acquireTimeoutMs > 0) || !Number.isFinite(acquireTimeoutMs)) {
      throw new ValidationError('acquireTimeoutMs must be a positive number', [
        { path: 'acquireTimeoutMs', message: `got ${acquireTimeoutMs}` },
      ]);
    }
    this.#slots = new Semaphore(maxInFlight);
    this.#acquireTimeoutMs = acquireTimeoutMs;
  }

  /** Requests holding an in-flight slot now. */
  get inFlight(): number {
    return this.#slots.held;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#slots.waiting;
  }

  async post(connectionId: string, payload: string): Promise<PostOutcome> {
    if (isOversize(payload)) {
      throw new ValidationError(`Message exceeds ${MAX_MESSAGE_BYTES / 1024} KB`, [
        { path: 'payload', message: `larger than ${MAX_MESSAGE_BYTES} bytes in UTF-8` },
      ]);
    }
    try {
      await this.#withSlot(() =>
        this.#client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload })),
      );
      return 'sent';
    } catch (error) {
      if (error instanceof TimeoutError) throw error;
      if (isGone(error)) return 'gone';
      if (isThrottled(error)) return 'throttled';
      throw new DependencyUnavailableError(
        'apigateway',
        `PostToConnection to ${connectionId} failed: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.#withSlot(() => this.#client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })));
    } catch (error) {
      if (error instanceof TimeoutError) throw error;
      if (isGone(error)) return;
      throw new DependencyUnavailableError(
        'apigateway',
        `DeleteConnection of ${connectionId} failed: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  /** Closes the client's sockets; for shutdown. Requests after this fail. */
  destroy(): void {
    this.#client.destroy();
  }

  async #withSlot<T>(call: () => Promise<T>): Promise<T> {
    await this.#slots.acquire(this.#acquireTimeoutMs);
    try {
      return await call();
    } finally {
      this.#slots.release();
    }
  }
}
