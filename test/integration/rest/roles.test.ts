import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type HttpRoute, httpRoutes } from '../../../functions/routes.js';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { apiKeyDigest } from '../../../shared/auth/api-keys.js';
import { hasRole, type Role } from '../../../shared/auth/roles.js';
import { DEVELOPMENT_JWT_SECRET } from '../../../shared/config.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { CreateOrderResponse } from '../../../shared/contracts/order-api.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { startPlatform } from './rest-support.js';

/*
 * Who may do what, through the local platform's real HTTP server and WebSocket gateway: every REST
 * route of the route table, called by a viewer, a trader and an admin token, a trader's API key
 * (`key:trader`) and an API key without a role (an admin's), answers 403 naming the role when the
 * caller's role is short of the route's, and otherwise what the route itself answers (2xx, or a 404
 * for a trader reading another's order). The matrix is built from the table: a route added without
 * a row here fails.
 */

const KEYS = { admin: 'admin-key-0123456789', trader: 'trader-key-0123456789', viewer: 'viewer-key-0123456789' };
/** A key configured only as its digest (`sha256:<hex>:viewer`). */
const HASHED_KEY = 'hashed-viewer-key-0123456789';

async function jwt(subject: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(DEVELOPMENT_JWT_SECRET));
}

interface Caller {
  readonly name: string;
  readonly role: Role;
  readonly headers: Record<string, string>;
}

let platform: LocalPlatform;
let option: Instrument;
let callers: Record<'viewer' | 'trader' | 'admin' | 'keyWithRole' | 'keyWithoutRole', Caller>;
/** An order the trader token placed. */
let tradersOrder: string;

async function request(caller: Pick<Caller, 'headers'>, method: string, path: string, body?: unknown) {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { ...caller.headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

function orderBody() {
  return {
    idempotency_key: `roles-${crypto.randomUUID()}`,
    account_id: 'paper',
    operation: 'place_order',
    params: {
      exchange: option.exchange,
      tradingsymbol: option.tradingsymbol,
      transaction_type: 'BUY',
      quantity: option.lotSize,
      product: 'NRML',
      order_type: 'MARKET',
    },
  };
}

/** The last weekday before today (IST), as YYYY-MM-DD. */
function lastWeekday(): string {
  let day = new Date(Date.now() + 5.5 * 3_600_000);
  do day = new Date(day.getTime() - 86_400_000);
  while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
  return day.toISOString().slice(0, 10);
}

/**
 * Each route's request, and what a caller allowed by its role gets: the route's own answer. Order
 * changes of a paper MARKET order answer 409 (filled, or not placed yet): past the guard all the same.
 */
const ROWS: Readonly<
  Record<string, { path: () => string; body?: () => unknown; allowed: (caller: Caller) => number }>
> = {
  'GET /health': { path: () => '/health', allowed: () => 200 },
  'GET /openapi.json': { path: () => '/openapi.json', allowed: () => 200 },
  'GET /asyncapi.json': { path: () => '/asyncapi.json', allowed: () => 200 },
  'GET /quotes': { path: () => `/quotes?tokens=${option.instrumentToken}`, allowed: () => 200 },
  'GET /chain': { path: () => '/chain?underlying=NIFTY', allowed: () => 200 },
  'POST /kite/postback': { path: () => '/kite/postback', body: () => ({}), allowed: () => 400 },
  'POST /subscriptions': {
    path: () => '/subscriptions',
    body: () => ({ instrument_token: option.instrumentToken }),
    allowed: () => 200,
  },
  'GET /subscriptions': { path: () => '/subscriptions?limit=5', allowed: () => 200 },
  'PATCH /subscriptions/{token}': {
    path: () => `/subscriptions/${option.instrumentToken}`,
    body: () => ({ status: 'active' }),
    allowed: () => 200,
  },
  'DELETE /subscriptions/{token}': { path: () => `/subscriptions/${option.instrumentToken}`, allowed: () => 200 },
  'GET /instruments': { path: () => '/instruments?limit=2', allowed: () => 200 },
  'GET /instruments/{token}': { path: () => `/instruments/${option.instrumentToken}`, allowed: () => 200 },
  'GET /history': {
    path: () =>
      `/history?instrument_token=${option.instrumentToken}&from=${lastWeekday()}&to=${lastWeekday()}&interval=day`,
    allowed: () => 200,
  },
  'POST /orders': { path: () => '/orders', body: orderBody, allowed: () => 202 },
  'GET /orders/dead-letter': { path: () => '/orders/dead-letter?limit=5', allowed: () => 200 },
  'POST /orders/dead-letter/{task_id}/redrive': {
    path: () => `/orders/dead-letter/${tradersOrder}/redrive`,
    // Admin only, and the order is not dead-lettered.
    allowed: () => 409,
  },
  'GET /orders/{task_id}': { path: () => `/orders/${tradersOrder}`, allowed: (c) => visible(c, 200) },
  'DELETE /orders/{task_id}': { path: () => `/orders/${tradersOrder}`, allowed: (c) => visible(c, 409) },
  'PATCH /orders/{task_id}': {
    path: () => `/orders/${tradersOrder}`,
    body: () => ({ order_type: 'MARKET' }),
    allowed: (c) => visible(c, 409),
  },
};

/** The trader token's order is seen by its owner and by admins; another trader gets 404, as for no order. */
function visible(caller: Caller, status: number): number {
  return caller === callers.trader || caller.role === 'admin' ? status : 404;
}

beforeAll(async () => {
  platform = await startPlatform('roles', {
    API_KEYS: `${KEYS.admin},${KEYS.trader}:trader,${KEYS.viewer}:viewer,sha256:${apiKeyDigest(HASHED_KEY)}:viewer`,
  });
  const instruments = await platform.components.loadInstruments();
  const found = instruments.find((i) => i.name === 'NIFTY' && i.instrumentType === 'CE' && i.strike === 24_000);
  if (found === undefined) throw new Error('the mock registry lists no NIFTY 24000 CE');
  option = found;
  const bearer = async (subject: string, claims: Record<string, unknown>) => ({
    authorization: `Bearer ${await jwt(subject, claims)}`,
  });
  callers = {
    viewer: { name: 'viewer token', role: 'viewer', headers: await bearer('vera', { roles: ['viewer'] }) },
    trader: { name: 'trader token', role: 'trader', headers: await bearer('tara', { roles: ['trader'] }) },
    admin: { name: 'admin token', role: 'admin', headers: await bearer('ada', { roles: ['admin', 'viewer'] }) },
    keyWithRole: { name: 'API key with role trader', role: 'trader', headers: { 'x-api-key': KEYS.trader } },
    keyWithoutRole: { name: 'API key without role', role: 'admin', headers: { 'x-api-key': KEYS.admin } },
  };
  const placed = await request(callers.trader, 'POST', '/orders', orderBody());
  expect(placed.status).toBe(202);
  tradersOrder = CreateOrderResponse.parse(placed.body).task_id;
}, 60_000);

afterAll(async () => {
  await platform?.close();
});

const routeKey = (route: HttpRoute) => `${route.method} ${route.path}`;

describe('REST roles', () => {
  it('has a row for every route of the route table', () => {
    expect(httpRoutes.map(routeKey).filter((key) => ROWS[key] === undefined)).toEqual([]);
  });

  // In the table's order: POST /subscriptions runs before PATCH and DELETE of the same token.
  for (const route of httpRoutes) {
    const key = routeKey(route);
    it(`${key} (${route.access}): 403 naming the role below it, the route's answer from it`, async () => {
      const row = ROWS[key];
      if (row === undefined) throw new Error(`no row for ${key}`);
      const seen: Record<string, number> = {};
      const wanted: Record<string, number> = {};
      for (const caller of Object.values(callers)) {
        const response = await request(caller, route.method, row.path(), row.body?.());
        seen[caller.name] = response.status;
        const allowed = route.access === 'public' || hasRole(caller.role, route.access);
        wanted[caller.name] = allowed ? row.allowed(caller) : 403;
        if (!allowed) {
          expect(ApiErrorResponse.parse(response.body).error, caller.name).toEqual({
            code: 'FORBIDDEN',
            message: `This route needs the ${route.access} role`,
            required_role: route.access,
          });
        }
      }
      expect(seen).toEqual(wanted);
      // No credentials at all: 401 on every guarded route.
      if (route.access !== 'public')
        expect((await request({ headers: {} }, route.method, row.path())).status).toBe(401);
    });
  }

  it('takes a key configured as its SHA-256 digest, with the digest entry’s role', async () => {
    const viewer = { headers: { 'x-api-key': HASHED_KEY } };
    expect((await request(viewer, 'GET', '/instruments?limit=1')).status).toBe(200);
    expect((await request(viewer, 'POST', '/orders', orderBody())).status).toBe(403);
    expect((await request({ headers: { 'x-api-key': apiKeyDigest(HASHED_KEY) } }, 'GET', '/health')).status).toBe(200);
    // The digest itself is no key.
    expect(
      (await request({ headers: { 'x-api-key': apiKeyDigest(HASHED_KEY) } }, 'GET', '/instruments?limit=1')).status,
    ).toBe(403);
  });

  it('reads the role from a token’s claim: a missing claim is DEFAULT_ROLE, a claim naming no role is no access', async () => {
    const noClaim = { headers: { authorization: `Bearer ${await jwt('nobody', {})}` } };
    expect((await request(noClaim, 'POST', '/orders', orderBody())).status).toBe(202);
    expect((await request(noClaim, 'GET', '/orders/dead-letter')).status).toBe(403);
    const unknown = { headers: { authorization: `Bearer ${await jwt('someone', { roles: ['superuser', 'Admin'] })}` } };
    const refused = await request(unknown, 'GET', '/instruments?limit=1');
    expect(refused.status).toBe(403);
    expect(ApiErrorResponse.parse(refused.body).error.required_role).toBe('viewer');
  });

  it('states each route’s role in the OpenAPI document', async () => {
    const doc = (await request({ headers: {} }, 'GET', '/openapi.json')).body as {
      paths: Record<
        string,
        Record<string, { 'x-required-role'?: string | null; description?: string; responses: object }>
      >;
    };
    for (const route of httpRoutes.filter((r) => r.doc !== undefined)) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation?.['x-required-role'], routeKey(route)).toBe(route.access === 'public' ? null : route.access);
      if (route.access !== 'public') {
        expect(operation?.description).toContain(`Needs the ${route.access} role`);
        expect(operation?.responses).toHaveProperty('403');
      }
    }
  });
});

describe('WebSocket roles', () => {
  /** Opens `/ws?token=` and resolves with the upgrade's outcome: open, or the refusal's status. */
  function connect(token: string): Promise<{ open: true } | { open: false; status: number }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${platform.url.replace('http', 'ws')}/ws?token=${token}`);
      ws.once('open', () => {
        ws.close();
        resolve({ open: true });
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve({ open: false, status: res.statusCode ?? 0 });
        res.resume();
        ws.terminate();
      });
      ws.once('error', () => undefined);
    });
  }

  it('connects a viewer, and refuses a token whose role claim names no role', async () => {
    expect(await connect(await jwt('vera', { roles: ['viewer'] }))).toEqual({ open: true });
    expect(await connect(await jwt('nobody', {}))).toEqual({ open: true });
    expect(await connect(await jwt('someone', { roles: ['guest'] }))).toEqual({ open: false, status: 403 });
  });
});
