import type { IncomingMessage, ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDashboardServer, type DashboardConfig } from '../../../infra/local/dashboard-server.js';
import { loadConfig } from '../../../shared/config.js';

/** Asks the dashboard server for its config as a request from `remoteAddress`. */
async function configFor(env: Record<string, string>, remoteAddress: string, host = 'localhost:8080') {
  const serve = createDashboardServer(loadConfig(env));
  const request = {
    method: 'GET',
    url: '/dashboard/config.json',
    headers: { host },
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
  let status = 0;
  let body = '';
  const response = {
    writeHead: (code: number) => {
      status = code;
    },
    end: (payload?: string) => {
      body = payload ?? '';
    },
  } as unknown as ServerResponse;
  const handled = await serve(request, response);
  return { handled, status, config: JSON.parse(body) as DashboardConfig };
}

const SECRET = 'a-test-secret-that-is-at-least-32-characters';

describe('createDashboardServer config.json', () => {
  it.each(['127.0.0.1', '::1', '::ffff:127.0.0.1'])('hands %s a token signed with JWT_SECRET', async (address) => {
    const { handled, status, config } = await configFor({ JWT_SECRET: SECRET, JWT_ISSUER: 'ticker' }, address);
    expect(handled).toBe(true);
    expect(status).toBe(200);
    const { payload } = await jwtVerify(config.token ?? '', new TextEncoder().encode(SECRET), { issuer: 'ticker' });
    expect(payload.sub).toBe('local-dashboard');
    expect(config.reason).toBeNull();
  });

  it('hands no token to another machine, and says why', async () => {
    const { config } = await configFor({ JWT_SECRET: SECRET }, '192.168.1.20');
    expect(config.token).toBeNull();
    expect(config.reason).toContain('only to this machine');
  });

  it('hands no token to a page on another name that points at this machine (DNS rebinding)', async () => {
    const { config } = await configFor({ JWT_SECRET: SECRET }, '127.0.0.1', 'attacker.example:8080');
    expect(config.token).toBeNull();
    expect((await configFor({ JWT_SECRET: SECRET }, '127.0.0.1', '127.0.0.1:8080')).config.token).toBeTruthy();
    expect((await configFor({ JWT_SECRET: SECRET }, '::1', '[::1]:8080')).config.token).toBeTruthy();
  });

  it('hands no token when the platform refuses tokens signed with the development secret', async () => {
    const { config } = await configFor({ JWKS_URL: 'https://issuer.example/jwks.json' }, '127.0.0.1');
    expect(config.token).toBeNull();
    expect(config.reason).toContain('identity provider');
  });
});
