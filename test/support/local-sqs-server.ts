import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SigV4Verifier } from '../../infra/local/sigv4-verifier.js';
import { LocalSqsEndpoint } from '../../infra/local/sqs-endpoint.js';
import type { LocalQueue } from '../../shared/adapters/local-sqs/local-queue.js';
import { DEVELOPMENT_LOCAL_AWS_CREDENTIALS } from '../../shared/config.js';

/** The local SQS endpoint on a free port, over `queues`, and an AWS SDK client pointed at it. */
export async function startLocalSqsServer(queues: readonly LocalQueue[]): Promise<{
  readonly url: string;
  readonly client: SQSClient;
  close(): Promise<void>;
}> {
  const endpoint = new LocalSqsEndpoint(queues, { verifier: new SigV4Verifier(DEVELOPMENT_LOCAL_AWS_CREDENTIALS) });
  const server: Server = createServer((req, res) => {
    void endpoint.handle(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SQSClient({
    region: 'ap-south-1',
    endpoint: url,
    credentials: DEVELOPMENT_LOCAL_AWS_CREDENTIALS,
    maxAttempts: 1,
  });
  return {
    url,
    client,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
