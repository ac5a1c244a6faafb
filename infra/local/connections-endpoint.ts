import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SigV4Verifier } from './sigv4-verifier.js';
import { MAX_MESSAGE_BYTES } from './ws-gateway.js';

/** What the endpoint needs of the WebSocket gateway; `LocalWsGateway` is it. */
export interface ManagedConnections {
  post(connectionId: string, payload: string): Promise<'sent' | 'gone' | 'throttled'>;
  close(connectionId: string): Promise<void>;
  info(
    connectionId: string,
  ): { connectedAt: number; lastActiveAt: number; sourceIp: string; userAgent: string } | undefined;
}

const PATH = /^\/@connections\/([^/]+)$/;

/** An error as API Gateway's management API sends it: the type in `x-amzn-ErrorType`, which the SDK maps to its class. */
function fail(res: ServerResponse, status: number, type: string, message: string, close = false): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': type,
    ...(close && { connection: 'close' }),
  });
  res.end(body);
}

/** The request body, or `too-large` as soon as it passes `limit` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * API Gateway's management API for the local WebSocket gateway, at `/@connections/{connectionId}`,
 * close enough that the real `@aws-sdk/client-apigatewaymanagementapi` client works against it
 * with `endpoint: http://127.0.0.1:<port>`. Every call must carry an AWS Signature V4 made with
 * the local key pair; an unsigned or wrongly signed one gets 403 `ForbiddenException`, as the
 * management API answers it, before anything about the connection is read or done.
 *
 * - `POST` (PostToConnection): the body is sent to the client as one text message; 200. Unknown
 *   or closed connection (including one whose `$connect` has not finished, as in the cloud): 410
 *   `GoneException`. Body over 128 KB: 413 `PayloadTooLargeException` (the connection is then
 *   closed, since the rest of the body is not read). Client buffer full: 429 `LimitExceededException`.
 * - `GET` (GetConnection): 200 with `connectedAt`, `identity.sourceIp`, `identity.userAgent` and
 *   `lastActiveAt` (ISO 8601), or 410.
 * - `DELETE` (DeleteConnection): closes the connection (its `$disconnect` runs); 204, or 410.
 *
 * Returns false for any other path, so the caller can try its other routes.
 */
export function createConnectionsEndpoint(connections: ManagedConnections, verifier: SigV4Verifier) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const match = PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (!match) return false;
    let connectionId: string;
    try {
      connectionId = decodeURIComponent(match[1] ?? '');
    } catch {
      fail(res, 400, 'BadRequestException', 'Malformed connection id');
      return true;
    }
    const gone = () => fail(res, 410, 'GoneException', `Connection ${connectionId} is gone`);
    const body = await readBody(req, MAX_MESSAGE_BYTES);
    if (body === 'too-large') {
      fail(res, 413, 'PayloadTooLargeException', `Message exceeds ${MAX_MESSAGE_BYTES / 1024} KB`, true);
      return true;
    }
    const refused = await verifier.verify({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
    });
    if (refused !== undefined) {
      fail(res, 403, 'ForbiddenException', refused.message);
      return true;
    }
    switch (req.method) {
      case 'POST': {
        const outcome = await connections.post(connectionId, body.toString('utf8'));
        if (outcome === 'gone') gone();
        else if (outcome === 'throttled') fail(res, 429, 'LimitExceededException', 'The client cannot keep up');
        else res.writeHead(200, { 'content-length': 0 }).end();
        return true;
      }
      case 'GET': {
        const info = connections.info(connectionId);
        if (!info) {
          gone();
          return true;
        }
        const body = JSON.stringify({
          connectedAt: new Date(info.connectedAt).toISOString(),
          identity: { sourceIp: info.sourceIp, userAgent: info.userAgent },
          lastActiveAt: new Date(info.lastActiveAt).toISOString(),
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      }
      case 'DELETE': {
        if (!connections.info(connectionId)) {
          gone();
          return true;
        }
        await connections.close(connectionId);
        res.writeHead(204).end();
        return true;
      }
      default:
        res.writeHead(405, { allow: 'POST, GET, DELETE', 'content-length': 0 }).end();
        return true;
    }
  };
}
