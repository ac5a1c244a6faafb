import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Role } from '../../shared/auth/roles.js';
import type { Config } from '../../shared/config.js';
import { canMintDevTokens, mintDevToken } from './dev-token.js';
import { isLoopbackHost } from './host-check.js';

/** What `GET /dashboard/config.json` answers: the page's token, or why there is none. */
export interface DashboardConfig {
  /** A JWT for the REST API and the WebSocket, or null when the page must ask for one. */
  readonly token: string | null;
  readonly expires_at: string | null;
  /** Why no token was handed out, when `token` is null. */
  readonly reason: string | null;
  readonly ws_path: string;
}

/** Path of the dashboard's configuration (its token). */
export const DASHBOARD_CONFIG_PATH = '/dashboard/config.json';

const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot'));

/** The only files served: a fixed table, so no request path ever reaches the file system. */
const STATIC_FILES: ReadonlyMap<string, { readonly file: string; readonly type: string }> = new Map([
  ['/', { file: join(DASHBOARD_DIR, 'index.html'), type: 'text/html; charset=utf-8' }],
  ['/index.html', { file: join(DASHBOARD_DIR, 'index.html'), type: 'text/html; charset=utf-8' }],
  ['/dashboard/dashboard.js', { file: join(DASHBOARD_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' }],
  ['/dashboard/dashboard.css', { file: join(DASHBOARD_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' }],
  ['/vendor/uplot/uPlot.iife.min.js', { file: join(UPLOT_DIST, 'uPlot.iife.min.js'), type: 'text/javascript' }],
  ['/vendor/uplot/uPlot.min.css', { file: join(UPLOT_DIST, 'uPlot.min.css'), type: 'text/css' }],
]);

/** How long the page's token lasts; a reload fetches a fresh one. */
const TOKEN_TTL_SECONDS = 12 * 60 * 60;

const SECURITY_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
} as const;

/**
 * A request from this machine to this machine: a loopback peer, and a `Host` naming a loopback
 * address (so a web page that rebinds its own domain to 127.0.0.1 cannot read a token).
 */
function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  const peer = address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
  return peer && isLoopbackHost(req.headers.host);
}

/**
 * Serves the live dashboard on the local platform: the page at `/`, its script and styles, uPlot
 * from the installed package, and `GET /dashboard/config.json`, which hands the page a freshly
 * signed JWT. The token goes only to requests from this machine (loopback) and only when the
 * platform accepts tokens signed with `JWT_SECRET`; otherwise the page asks the user for one.
 * Returns false for any other request, so the caller can answer 404.
 */
export function createDashboardServer(config: Pick<Config, 'auth' | 'environment'>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;

    if (path === DASHBOARD_CONFIG_PATH) {
      // A token for the asking exists only on a developer's machine; elsewhere the page asks for one.
      if (config.environment !== 'development') return false;
      let body: DashboardConfig;
      if (!canMintDevTokens(config)) {
        body = {
          token: null,
          expires_at: null,
          reason:
            'This platform does not accept tokens signed with JWT_SECRET: paste a token from your identity provider.',
          ws_path: '/ws',
        };
      } else if (!isLoopback(req)) {
        body = {
          token: null,
          expires_at: null,
          reason: 'Tokens are handed out only to this machine: paste a token (npm start prints one).',
          ws_path: '/ws',
        };
      } else {
        const minted = await mintDevToken(config, {
          subject: 'local-dashboard',
          name: 'Local dashboard',
          email: null,
          // The page on the operator's own machine manages the pinned set, as `npm start`'s token may.
          role: Role.admin,
          ttlSeconds: TOKEN_TTL_SECONDS,
        });
        body = {
          token: minted.token,
          expires_at: new Date(minted.expiresAtMs).toISOString(),
          reason: null,
          ws_path: '/ws',
        };
      }
      const payload = JSON.stringify(body);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'cache-control': 'no-store',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(req.method === 'HEAD' ? undefined : payload);
      return true;
    }

    const entry = STATIC_FILES.get(path);
    if (entry === undefined) return false;
    // Read on every request: the files are small, and an edit shows on the next reload.
    const content = await readFile(entry.file);
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': entry.type, 'content-length': content.length });
    res.end(req.method === 'HEAD' ? undefined : content);
    return true;
  };
}
