import { WebSocket } from 'ws';

/*
 * A minimal Chrome DevTools Protocol client over `ws`, for measuring another Node process through
 * its inspector (`--inspect`) without any hook in that process's code: a full collection on
 * demand and the V8 heap's size after it.
 */

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** One DevTools session with a process's inspector. */
export class InspectorSession {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (!waiter || message.id === undefined) return;
      this.#pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`Inspector: ${message.error.message}`));
      else waiter.resolve(message.result);
    });
    socket.on('close', () => {
      for (const { reject } of this.#pending.values()) reject(new Error('Inspector session closed'));
      this.#pending.clear();
    });
  }

  /** Opens a session on `url` (`ws://…`, as the process printed it when its inspector started). */
  static async connect(url: string, timeoutMs = 5000): Promise<InspectorSession> {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new InspectorSession(socket);
  }

  /** Sends a protocol command; resolves with its result. */
  send<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Inspector: ${method} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Ends the session. A process started with `--inspect` waits at exit for attached sessions, so close before stopping it. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.#socket.once('close', resolve));
    this.#socket.close();
    await closed;
  }
}

/** The V8 heap of a process after full collections. */
export interface LiveHeap {
  /** Bytes of live objects. */
  readonly usedBytes: number;
  /** Bytes the heap has reserved for them. */
  readonly totalBytes: number;
}

/**
 * Connects to the inspector at `url`, runs two full collections (the second collects what the
 * first's finalizers released) and reads the heap's size, then disconnects: what the process
 * retains, without the garbage a reading between collections would include.
 */
export async function measureLiveHeap(url: string): Promise<LiveHeap> {
  const session = await InspectorSession.connect(url);
  try {
    await session.send('HeapProfiler.collectGarbage');
    await session.send('HeapProfiler.collectGarbage');
    const usage = await session.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
    return { usedBytes: usage.usedSize, totalBytes: usage.totalSize };
  } finally {
    await session.close();
  }
}
