import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from './redis-server.js';
import { waitFor } from './wait.js';

/** The one line printed when tests need moto and there is none. */
export const MOTO_MISSING_MESSAGE =
  "moto_server not found: install moto 5 with its server (pipx install 'moto[server]>=5,<6'); the integration tests run the AWS adapters against it.";

/** The region the tests' AWS clients name; moto keeps each region's resources apart. */
export const MOTO_REGION = 'ap-south-1';

/** Placeholder credentials: moto accepts any. */
export const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

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

/**
 * Starts `moto_server -p <free port>` and resolves with its endpoint once it accepts connections;
 * rejects with {@link MOTO_MISSING_MESSAGE} when there is no `moto_server`, and at once when it
 * exits early, instead of waiting out the start timeout.
 */
export async function startMotoProcess(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  // Not `once(child, 'exit')`: that rejects on a spawn error, which `failed` reports instead.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error(MOTO_MISSING_MESSAGE) : error),
    );
    child.once('exit', (code) => reject(new Error(`moto_server exited with code ${code} before it was ready`)));
  });
  failed.catch(() => {});
  // Polling stops once the race is decided, so a failed start leaves no timer behind.
  let decided = false;
  try {
    await Promise.race([
      waitFor(async () => decided || (await portAccepts(port)), {
        // Python imports take seconds when the machine is busy.
        timeoutMs: 90_000,
        intervalMs: 50,
        message: 'moto_server to listen',
      }),
      failed,
    ]);
  } catch (error) {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    throw error;
  } finally {
    decided = true;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Starts a `moto_server` of the caller's own; most tests share their worker's (`sharedMotoEndpoint`). */
export async function startMotoServer(): Promise<MotoServer> {
  const moto = await startMotoProcess();
  const sqs = motoSqsClient(moto.endpoint);
  return {
    endpoint: moto.endpoint,
    sqs,
    stop: async () => {
      sqs.destroy();
      await moto.stop();
    },
  };
}

/** Client settings for moto: its endpoint, the test region, placeholder credentials, no retries. */
function motoClientConfig(endpoint: string) {
  return { endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
}

/** An SQS client for moto at `endpoint`. */
export function motoSqsClient(endpoint: string): SQSClient {
  return new SQSClient(motoClientConfig(endpoint));
}

/** A DynamoDB client for moto at `endpoint`. */
export function motoDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient(motoClientConfig(endpoint));
}

/** A Secrets Manager client for moto at `endpoint`. */
export function motoSecretsManagerClient(endpoint: string): SecretsManagerClient {
  return new SecretsManagerClient(motoClientConfig(endpoint));
}

/**
 * A management API client for moto at `endpoint`: moto serves `@connections` at its root and
 * recognises the API by the `execute-api` signing name.
 */
export function motoManagementApiClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient(motoClientConfig(endpoint));
}
