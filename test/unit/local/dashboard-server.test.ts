import type { IncomingMessage, ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDashboardServer, type DashboardConfig } from '../../../infra/local/dashboard-server.js';
import { hostPolicy } from '../../../infra/local/host-check.js';
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
  return { handled, status, config: (body === '' ? null : JSON.parse(body)) as DashboardConfig };
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

  it.each(['test', 'staging', 'production'])('does not exist when ENVIRONMENT is %s', async (environment) => {
    const { handled } = await configFor({ JWT_SECRET: SECRET, ENVIRONMENT: environment }, '127.0.0.1');
    expect(handled).toBe(false);
  });
});

describe('hostPolicy', () => {
  const request = (host: string | undefined) => ({ headers: host === undefined ? {} : { host } }) as IncomingMessage;

  it('serves loopback names, the listening address and LOCAL_ALLOWED_HOSTS, and nothing else', () => {
    const allowed = hostPolicy(loadConfig({ HOST: '192.168.1.5', LOCAL_ALLOWED_HOSTS: 'ticker.lan, Box.Local' }));
    for (const host of ['localhost:8080', '127.0.0.1', '[::1]:8080', '192.168.1.5:8080', 'ticker.lan', 'box.local:80'])
      expect(allowed(request(host)), host).toBe(true);
    for (const host of ['attacker.example:8080', 'localhost.attacker.example', '127.0.0.1.nip.io', '', undefined])
      expect(allowed(request(host)), String(host)).toBe(false);
    expect(hostPolicy(loadConfig({ HOST: '0.0.0.0' }))(request('0.0.0.0:8080'))).toBe(false);
  });
});
