import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from './redis-server.js';
import { waitFor } from './wait.js';

/** A throwaway `moto_server` (AWS's APIs as moto implements them) on a free port. */
export interface MotoServer {
  readonly endpoint: string;
  /** An SQS client for it, with placeholder credentials (moto accepts any). */
  readonly sqs: SQSClient;
  stop(): Promise<void>;
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

/** Starts `moto_server -p <free port>` and resolves once it accepts connections. */
export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  try {
    await waitFor(() => portAccepts(port), { timeoutMs: 30_000, intervalMs: 100, message: 'moto_server to listen' });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    endpoint,
    sqs,
    stop: async () => {
      sqs.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
