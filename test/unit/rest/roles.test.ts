import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { httpRoutes } from '../../../functions/routes.js';
import { WS_CONNECT_ROLE, wsRouteTable } from '../../../functions/ws/route-table.js';
import { ApiKeyVerifier, apiKeyDigest, parseApiKeyEntry } from '../../../shared/auth/api-keys.js';
import { authenticatorFromConfig } from '../../../shared/auth/authenticator.js';
import { hasRole, highest, roleClaimValue, roleFromClaims } from '../../../shared/auth/roles.js';
import { loadConfig } from '../../../shared/config.js';
import { ConfigError } from '../../../shared/errors.js';

const SECRET = 'roles-test-secret-of-at-least-32-characters';

function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
}

describe('roles', () => {
  it('are hierarchical: admin includes trader includes viewer, and no role includes nothing', () => {
    expect(hasRole('admin', 'viewer')).toBe(true);
    expect(hasRole('admin', 'trader')).toBe(true);
    expect(hasRole('trader', 'viewer')).toBe(true);
    expect(hasRole('trader', 'admin')).toBe(false);
    expect(hasRole('viewer', 'trader')).toBe(false);
    expect(hasRole(null, 'viewer')).toBe(false);
    expect(highest(['viewer', 'admin', 'trader'])).toBe('admin');
    expect(highest([])).toBeNull();
  });

  it.each([
    ['a scope string', 'scope', { scope: 'openid email trader' }, 'trader'],
    ['a roles array', 'roles', { roles: ['viewer', 'admin'] }, 'admin'],
    ["Cognito's groups", 'cognito:groups', { 'cognito:groups': ['ops', 'viewer'] }, 'viewer'],
    ['a comma-separated string', 'roles', { roles: 'viewer,trader' }, 'trader'],
    ['a missing claim (DEFAULT_ROLE)', 'roles', { scope: 'admin' }, 'viewer'],
    ['a claim naming no role (no access)', 'scope', { scope: 'openid email' }, null],
    ['a claim in the wrong case (no access)', 'roles', { roles: ['Admin'] }, null],
    ['a claim of another type (no access)', 'roles', { roles: 3 }, null],
  ] as const)('reads %s', (_what, claim, claims, role) => {
    expect(roleFromClaims(claims, { claim, defaultRole: 'viewer' })).toBe(role);
  });

  it('mints the claim value its claim is read back from', () => {
    for (const claim of ['scope', 'roles', 'cognito:groups']) {
      expect(roleFromClaims({ [claim]: roleClaimValue(claim, 'admin') }, { claim, defaultRole: 'viewer' })).toBe(
        'admin',
      );
    }
  });

  it('authenticates tokens with the configured ROLES_CLAIM and DEFAULT_ROLE', async () => {
    const authenticator = authenticatorFromConfig(
      loadConfig({ JWT_SECRET: SECRET, ROLES_CLAIM: 'cognito:groups', DEFAULT_ROLE: 'viewer' }),
    );
    const roleOf = async (claims: Record<string, unknown>) =>
      (await authenticator.authenticate({ bearerToken: await token(claims) })).role;
    expect(await roleOf({ 'cognito:groups': ['admin'] })).toBe('admin');
    expect(await roleOf({ roles: ['admin'] })).toBe('viewer');
    expect(await roleOf({ 'cognito:groups': [] })).toBeNull();
    // The default DEFAULT_ROLE is trader, and the default claim `roles`.
    const defaults = authenticatorFromConfig(loadConfig({ JWT_SECRET: SECRET }));
    expect((await defaults.authenticate({ bearerToken: await token({}) })).role).toBe('trader');
  });

  it('refuses a DEFAULT_ROLE that is no role, naming the variable', () => {
    expect(() => loadConfig({ DEFAULT_ROLE: 'root' })).toThrow(ConfigError);
    expect(() => loadConfig({ DEFAULT_ROLE: 'root' })).toThrow(/DEFAULT_ROLE/);
  });
});

describe('API key records', () => {
  it('read key, key:role and sha256 entries, keeping only digests; no role is admin', () => {
    expect(parseApiKeyEntry('plain')).toEqual({ sha256: apiKeyDigest('plain'), role: 'admin' });
    expect(parseApiKeyEntry('k:viewer')).toEqual({ sha256: apiKeyDigest('k'), role: 'viewer' });
    expect(parseApiKeyEntry('a:b:trader')).toEqual({ sha256: apiKeyDigest('a:b'), role: 'trader' });
    const digest = apiKeyDigest('secret');
    expect(parseApiKeyEntry(`sha256:${digest.toUpperCase()}`)).toEqual({ sha256: digest, role: 'admin' });
    expect(parseApiKeyEntry(`sha256:${digest}:viewer`)).toEqual({ sha256: digest, role: 'viewer' });
  });

  it('refuse a role that is none (a typo never makes an admin key) and an empty key', () => {
    expect(parseApiKeyEntry('k:tradr')).toHaveProperty('error');
    expect(parseApiKeyEntry(':viewer')).toHaveProperty('error');
    expect(() => loadConfig({ API_KEYS: 'good,k:superuser' })).toThrow(/API_KEYS/);
    expect(() => loadConfig({ API_KEYS: 'good,k:superuser' })).not.toThrow(/superuser|good/);
    expect(() => loadConfig({ API_KEYS: 'k1,k1:viewer' })).toThrow(/repeats/);
  });

  it('match a presented key against digests, with its record’s role', () => {
    const verifier = new ApiKeyVerifier(
      loadConfig({ API_KEYS: `a,b:viewer,sha256:${apiKeyDigest('c')}:trader` }).auth.apiKeys,
    );
    expect(verifier.verify('a')?.role).toBe('admin');
    expect(verifier.verify('b')?.role).toBe('viewer');
    expect(verifier.verify('c')?.role).toBe('trader');
    expect(verifier.verify(apiKeyDigest('c'))).toBeUndefined();
    expect(verifier.verify('b:viewer')).toBeUndefined();
  });
});

describe('route tables', () => {
  it('give every REST route a role or public, and keep the public ones to health, the API documents and the postback', () => {
    expect(httpRoutes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /health',
      'GET /openapi.json',
      'GET /asyncapi.json',
      'POST /kite/postback',
    ]);
    const admin = httpRoutes.filter((r) => r.access === 'admin').map((r) => `${r.method} ${r.path}`);
    expect(admin.sort()).toEqual([
      'DELETE /subscriptions/{token}',
      'GET /orders/dead-letter',
      'PATCH /subscriptions/{token}',
      'POST /orders/dead-letter/{task_id}/redrive',
      'POST /subscriptions',
    ]);
  });

  it('serve each REST Lambda its own route of the table, guard included', () => {
    for (const route of httpRoutes) {
      expect(readFileSync(route.entry, 'utf8'), route.entry).toContain(`'${route.method} ${route.path}'`);
    }
  });

  it('need no more on a WebSocket message route than $connect checked', () => {
    expect(WS_CONNECT_ROLE).toBe('viewer');
    for (const route of wsRouteTable) {
      if (route.access !== 'public') expect(hasRole(WS_CONNECT_ROLE, route.access), route.routeKey).toBe(true);
    }
  });
});
