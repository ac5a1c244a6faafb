/** What happened to one post. `gone`: the client is no longer connected and its record should go. */
export type PostOutcome = 'sent' | 'gone' | 'throttled';

/**
 * Sends to WebSocket clients: API Gateway's management API in the cloud, the local gateway on one
 * machine.
 *
 * Guarantees:
 * - `post` resolves with `gone` for a connection that no longer exists (HTTP 410), never throws
 *   for it; with `throttled` when the client's buffer is full or the account is throttled
 *   (`LimitExceededException`), so the caller can back off that one connection.
 * - Payloads are sent as given (already encoded once for many clients); a payload over the
 *   gateway's message limit (128 KB) is rejected with a `ValidationError` before any I/O.
 * - Other failures reject with `DependencyUnavailableError`.
 */
export interface ConnectionGateway {
  post(connectionId: string, payload: string): Promise<PostOutcome>;
  /** Closes the connection from the server side; idempotent. */
  close(connectionId: string): Promise<void>;
}
