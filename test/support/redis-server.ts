import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { waitFor } from './wait.js';

/** The one line printed when tests need Redis and there is none. */
export const REDIS_MISSING_MESSAGE =
  'redis-server not found: install it (Debian/Ubuntu: sudo apt-get install -y redis-server, macOS: brew install redis) or set REDIS_URL to a Redis the tests may use.';

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A throwaway `redis-server` (no persistence) that a test can stop and start again on the same port. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server (like a crash: no graceful shutdown) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** Starts `redis-server` on a free port (or `port`) and resolves once it accepts connections. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new Error(REDIS_MISSING_MESSAGE) : error),
      );
      proc.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before it was ready`)));
    });
    failed.catch(() => {});
    await Promise.race([
      waitFor(() => portAccepts(chosen), { timeoutMs: 10_000, intervalMs: 25, message: `redis-server on ${chosen}` }),
      failed,
    ]);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return { port: chosen, url: `redis://127.0.0.1:${chosen}`, stop, start };
}
