import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { HttpLambdaHandler } from '../../functions/http/http-handler.js';
import { localLambdaContext } from '../../shared/adapters/local-lambda-context.js';

/** A route the local gateway serves: an API Gateway route key and the handler behind it. */
export interface LocalHttpRoute {
  readonly method: string;
  readonly path: string;
  readonly handler: HttpLambdaHandler;
}

/** Largest request body accepted, as API Gateway's HTTP API (10 MB); larger bodies get 413. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function compile(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      return param ? `(?<${param[1]}>[^/]+)` : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

/**
 * Serves REST routes the way API Gateway's HTTP API does (payload format 2.0): it builds the same
 * event from the request, runs the same handler module the Lambda runs, and writes its result.
 * Returns false when no route matches, so the caller can try other servers (WebSocket, dashboard).
 */
export function createHttpGateway(routes: readonly LocalHttpRoute[]) {
  const compiled = routes.map((route) => ({ ...route, pattern: compile(route.path) }));
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const candidates = compiled.filter((r) => r.pattern.test(url.pathname));
    if (candidates.length === 0) return false;
    const route = candidates.find((r) => r.method === method);
    if (!route) {
      send(
        res,
        405,
        JSON.stringify({
          error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${url.pathname}` },
        }),
        {
          allow: candidates.map((r) => r.method).join(', '),
        },
      );
      return true;
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      // The rest of the body is never read: close the connection so it cannot be taken for the next request.
      send(res, 413, JSON.stringify({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body exceeds 10 MB' } }), {
        connection: 'close',
      });
      return true;
    }
    const requestId = randomUUID();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    }
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
    const now = new Date();
    const routeKey = `${route.method} ${route.path}`;
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
      ...(route.pattern.exec(url.pathname)?.groups && {
        pathParameters: { ...route.pattern.exec(url.pathname)?.groups },
      }),
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: headers.host ?? 'localhost',
        domainPrefix: 'local',
        http: {
          method: route.method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey,
        stage: '$default',
        time: now.toISOString(),
        timeEpoch: now.getTime(),
      },
      ...(body.length > 0 && { body: body.toString('utf8') }),
      isBase64Encoded: false,
    };
    const result = await route.handler(event, localLambdaContext(route.path, { requestId }));
    res.writeHead(result.statusCode ?? 200, {
      ...(result.headers as Record<string, string>),
      'x-request-id': requestId,
    });
    res.end(result.body ?? '');
    return true;
  };
}
