import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMotoProcess } from './moto-server.js';

/** Starts `moto_server`s on request, one per worker slot, and stops them all at the end of the run. */
export interface MotoLauncher {
  /** `POST {url}/moto/{slot}` answers `{endpoint}` once that slot's moto listens, starting it first if needed. */
  readonly url: string;
  /** How many moto servers were started. */
  started(): number;
  stop(): Promise<void>;
}

/**
 * The global setup's side of the shared moto servers. A moto takes a second or two of CPU to
 * start, and most test files never talk to AWS's APIs, so none is started up front: the first file
 * of a worker slot that needs one asks here, and later files of that slot reuse it. The servers
 * are children of the vitest process, not of a test file's worker, so they outlive the file that
 * started them and are stopped once, with the run.
 */
export async function startMotoLauncher(): Promise<MotoLauncher> {
  const servers = new Map<string, ReturnType<typeof startMotoProcess>>();
  const serve = (slot: string) => {
    let server = servers.get(slot);
    if (server === undefined) {
      server = startMotoProcess();
      servers.set(slot, server);
      // A failed start is not kept: the next file asks again (and fails the same way if moto is missing).
      server.catch(() => servers.delete(slot));
    }
    return server;
  };
  const http: Server = createServer((request, response) => {
    const slot = /^\/moto\/(\d+)$/.exec(request.url ?? '')?.[1];
    if (request.method !== 'POST' || slot === undefined) {
      response.writeHead(404).end();
      return;
    }
    serve(slot).then(
      ({ endpoint }) =>
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ endpoint })),
      (error: unknown) =>
        response
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) })),
    );
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    started: () => servers.size,
    stop: async () => {
      http.closeAllConnections();
      http.close();
      const running = await Promise.allSettled(servers.values());
      await Promise.all(running.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    },
  };
}
