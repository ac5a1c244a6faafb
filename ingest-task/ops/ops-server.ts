import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Service } from '../supervisor.js';
import type { OpsHealth } from './ingest-health.js';

/** What the ops server serves, and where. */
export interface OpsServerOptions {
  /** Port to listen on; 0 picks a free one (see {@link OpsServer.listening}). */
  readonly port: number;
  /** Address to bind; every interface when absent, as a container's health check needs. */
  readonly host?: string;
  /** Served at `GET /metrics`. */
  readonly registry: Registry;
  /** Served at `GET /health`: 200 when `ok`, 503 when `degraded`. Asked anew on every request. */
  readonly health: () => OpsHealth | Promise<OpsHealth>;
  readonly logger: Logger;
  /** How long requests in flight at shutdown may take before their connections are cut. Default 1 s. */
  readonly closeGraceMs?: number;
  /** How long `health` may take before the answer is a 503. Default 2 s, within any checker's timeout. */
  readonly healthTimeoutMs?: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The ingest task's operations endpoint over `node:http`: `GET /health` for the orchestrator's
 * health check and `GET /metrics` for Prometheus (HEAD too, as health checkers sometimes use it).
 * It is a {@link Service}, so it starts and stops with the role: on abort it stops accepting,
 * closes idle keep-alive connections at once (a scraper's pooled connection would otherwise hold
 * the process for its keep-alive timeout) and cuts requests still running after the grace period.
 * A port already taken makes `run` reject, which stops the task: a task whose health cannot be
 * checked would be killed by the orchestrator anyway, better it fails with the reason.
 */
export class OpsServer implements Service {
  readonly name = 'ops-server';
  /** Resolves with the bound port once listening; rejects if listening fails or the run stops first. */
  readonly listening: Promise<number>;
  readonly #options: OpsServerOptions;
  #listened!: (port: number) => void;
  #failed!: (error: Error) => void;
  #started = false;

  constructor(options: OpsServerOptions) {
    this.#options = options;
    this.listening = new Promise<number>((resolve, reject) => {
      this.#listened = resolve;
      this.#failed = reject;
    });
    // Handled here, so a failure nobody awaits is not an unhandled rejection; awaiters still see it.
    this.listening.catch(() => {});
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('An OpsServer runs once');
    this.#started = true;
    if (signal.aborted) {
      this.#failed(new Error('The ops server was stopped before it listened'));
      return;
    }
    const { logger } = this.#options;
    const server = createServer((request, response) => {
      void this.#handle(request, response);
    });
    try {
      await listen(server, this.#options.port, this.#options.host);
    } catch (error) {
      const failure = new Error(`Ops server could not listen on port ${this.#options.port}: ${describeError(error)}`, {
        cause: error,
      });
      this.#failed(failure);
      throw failure;
    }
    const { port } = server.address() as AddressInfo;
    this.#listened(port);
    logger.info('Ops server listening', { port });
    try {
      await new Promise<void>((resolve, reject) => {
        const stop = () => resolve();
        if (signal.aborted) {
          stop();
          return;
        }
        signal.addEventListener('abort', stop, { once: true });
        server.once('error', (error) => {
          signal.removeEventListener('abort', stop);
          reject(error);
        });
      });
    } finally {
      await this.#close(server);
      logger.info('Ops server stopped', { port });
    }
  }

  async #close(server: Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), this.#options.closeGraceMs ?? 1000);
    grace.unref();
    await closed;
    clearTimeout(grace);
  }

  /**
   * A health function that throws or hangs has not shown the task healthy: that is a 503 (not a
   * 500, and not a timeout the checker has to wait out), with the reason.
   */
  async #health(): Promise<OpsHealth> {
    const timeoutMs = this.#options.healthTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.#options.health(), timeout]);
    } catch (error) {
      this.#options.logger.warn('Health could not be assessed', { error: describeError(error) });
      return { status: 'degraded', reasons: [`health could not be assessed: ${describeError(error)}`] };
    } finally {
      clearTimeout(timer);
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const path = new URL(request.url ?? '/', 'http://ops.invalid').pathname;
      const route = path === '/health' || path === '/metrics' ? path : undefined;
      if (!route) return send(response, 404, JSON_TYPE, JSON.stringify({ error: 'Not found', path }));
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('Allow', 'GET, HEAD');
        return send(response, 405, JSON_TYPE, JSON.stringify({ error: 'Method not allowed' }));
      }
      if (route === '/metrics') {
        const { registry } = this.#options;
        return send(response, 200, registry.contentType, await registry.metrics());
      }
      const health = await this.#health();
      return send(response, health.status === 'ok' ? 200 : 503, JSON_TYPE, JSON.stringify(health));
    } catch (error) {
      this.#options.logger.error('Ops request failed', { url: request.url, error: describeError(error) });
      if (response.headersSent) {
        response.destroy();
        return;
      }
      send(response, 500, JSON_TYPE, JSON.stringify({ error: 'Internal error' }));
    }
  }
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once('error', failed);
    server.listen({ port, ...(host !== undefined && { host }) }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** Writes a whole response; never cached, since both answers describe this instant. */
function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  response.end(body);
}
