import WebSocket, { type RawData } from 'ws';

/** The server refused the WebSocket upgrade with an HTTP status (Kite: 403 bad token, 429 too many connections). */
export class UpgradeRejectedError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`WebSocket upgrade rejected with HTTP ${statusCode}: ${body}`);
    this.name = 'UpgradeRejectedError';
  }
}

/** One frame as the client received it. */
export interface ReceivedFrame {
  readonly binary: boolean;
  readonly data: Buffer;
  /** `Date.now()` on arrival. */
  readonly atMs: number;
}

/**
 * A plain `ws` client that records every frame, for driving the Kite simulator the way Kite's
 * real clients do (no reconnects, no parsing: the tests do that with the protocol module).
 */
export interface KiteTestClient {
  readonly socket: WebSocket;
  readonly frames: readonly ReceivedFrame[];
  /** Resolves with how the socket closed (1006 when the TCP connection was dropped). */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  send(text: string): void;
  /** The first frame at or after index `from` that matches; waits for one up to `timeoutMs`. */
  nextFrame(
    predicate?: (frame: ReceivedFrame) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<ReceivedFrame>;
  /** Closes (politely) and waits for the close. */
  close(): Promise<void>;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Connects to `url`; rejects with `UpgradeRejectedError` when the upgrade is refused. */
export function connectKiteClient(url: string): Promise<KiteTestClient> {
  const socket = new WebSocket(url);
  const frames: ReceivedFrame[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data: RawData, isBinary: boolean) => {
    frames.push({ binary: isBinary, data: toBuffer(data), atMs: Date.now() });
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );

  const nextFrame: KiteTestClient['nextFrame'] = (predicate = () => true, { from = 0, timeoutMs = 5000 } = {}) =>
    new Promise((resolve, reject) => {
      let index = from;
      const check = (): boolean => {
        for (; index < frames.length; index++) {
          const frame = frames[index];
          if (frame && predicate(frame)) {
            finish();
            resolve(frame);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`No matching frame within ${timeoutMs} ms (${frames.length} frames received)`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      const wake = () => {
        check();
      };
      waiters.add(wake);
      check();
    });

  const client: KiteTestClient = {
    socket,
    frames,
    closed,
    send: (text) => socket.send(text),
    nextFrame,
    close: async () => {
      if (socket.readyState !== WebSocket.CLOSED) socket.close();
      await closed;
    },
  };

  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        request.destroy();
        reject(new UpgradeRejectedError(response.statusCode ?? 0, body));
      });
    });
    socket.once('error', reject);
  });
}
