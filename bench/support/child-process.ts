import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/*
 * Benchmark helpers that run in a child process (the Kite side, a Redis subscriber) so their
 * CPU work is not charged to the process being measured. The parent forks a TypeScript entry
 * under tsx with an IPC channel, waits for its `ready` message and then asks it questions by
 * name; the child answers from a table of handlers. A child exits when the parent tells it to
 * (SIGTERM) and also when the IPC channel closes, so a benchmark that dies leaves no process
 * behind.
 */

/** The requests a child answers: request name → argument and reply types. */
export type RpcMap = Record<string, { readonly arg: unknown; readonly reply: unknown }>;

type ToChild = { readonly id: number; readonly type: string; readonly arg: unknown };
type FromChild =
  | { readonly kind: 'ready'; readonly payload: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: false; readonly error: string };

function isFromChild(message: unknown): message is FromChild {
  return typeof message === 'object' && message !== null && 'kind' in message;
}

/** A running child: what it said when ready, typed requests, and a stop that always ends it. */
export interface ChildHandle<M extends RpcMap, Ready> {
  readonly ready: Ready;
  readonly pid: number;
  request<K extends keyof M & string>(type: K, arg: M[K]['arg']): Promise<M[K]['reply']>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Forks `entry` (a TypeScript module using {@link serveParent}) with `config` as its one argument,
 * and resolves once it reports ready. Rejects, and leaves nothing running, if it exits first or
 * is not ready within `timeoutMs`.
 */
export async function startChild<M extends RpcMap, Ready>(
  entry: URL,
  config: unknown,
  timeoutMs = 20_000,
): Promise<ChildHandle<M, Ready>> {
  const child = fork(fileURLToPath(entry), [JSON.stringify(config)], {
    execArgv: [
      '--import',
      import.meta.resolve('tsx'),
      ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let exited = child.exitCode !== null;
  const exit = once(child, 'exit').then(() => {
    exited = true;
    for (const { reject } of pending.values()) reject(new Error(`${entry.pathname} exited`));
    pending.clear();
  });

  const stop = async (graceMs = 3000): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(timer);
  };

  let ready: Ready;
  try {
    ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${entry.pathname} not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${entry.pathname} exited with code ${code} before it was ready`));
      });
      child.on('message', (message: unknown) => {
        if (!isFromChild(message)) return;
        if (message.kind === 'ready') {
          clearTimeout(timer);
          resolve(message.payload as Ready);
          return;
        }
        const waiter = pending.get(message.id);
        if (!waiter) return;
        pending.delete(message.id);
        if (message.ok) waiter.resolve(message.value);
        else waiter.reject(new Error(message.error));
      });
    });
  } catch (error) {
    await stop(500);
    throw error;
  }

  return {
    ready,
    pid: child.pid ?? -1,
    request: <K extends keyof M & string>(type: K, arg: M[K]['arg']) =>
      new Promise<M[K]['reply']>((resolve, reject) => {
        if (exited || !child.connected) {
          reject(new Error(`${entry.pathname} is not running`));
          return;
        }
        const id = nextId++;
        pending.set(id, { resolve: (value) => resolve(value as M[K]['reply']), reject });
        const message: ToChild = { id, type, arg };
        child.send(message);
      }),
    stop,
  };
}

/** The child's side: a handler per request name. */
export type RpcHandlers<M extends RpcMap> = {
  readonly [K in keyof M]: (arg: M[K]['arg']) => M[K]['reply'] | Promise<M[K]['reply']>;
};

/** The configuration the parent passed to {@link startChild}. */
export function childConfig<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('This module is started by startChild(), which passes its configuration');
  return JSON.parse(raw) as T;
}

/**
 * Answers the parent's requests with `handlers`, reports `ready`, and runs `shutdown` then exits
 * on SIGTERM or when the parent goes away.
 */
export function serveParent<M extends RpcMap>(
  handlers: RpcHandlers<M>,
  ready: unknown,
  shutdown: () => Promise<void>,
): void {
  const send = (message: FromChild) => {
    if (process.connected) process.send?.(message);
  };
  process.on('message', (message: ToChild) => {
    const handler = (handlers as Record<string, ((arg: unknown) => unknown) | undefined>)[message.type];
    if (!handler) {
      send({ kind: 'reply', id: message.id, ok: false, error: `Unknown request ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.arg))
      .then(
        (value) => send({ kind: 'reply', id: message.id, ok: true, value }),
        (error: unknown) =>
          send({
            kind: 'reply',
            id: message.id,
            ok: false,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void shutdown()
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  send({ kind: 'ready', payload: ready });
}

/** What every child reports about itself with its figures. */
export interface ProcessUsage {
  /** CPU time (user + system) since the process started, in milliseconds. */
  readonly cpuMs: number;
  readonly rssBytes: number;
}

/** This process's {@link ProcessUsage}. */
export function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage();
  return { cpuMs: (cpu.user + cpu.system) / 1000, rssBytes: process.memoryUsage.rss() };
}
