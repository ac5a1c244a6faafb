import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { ApiErrorResponse } from '../../../shared/contracts/common.js';
import { HealthResponse } from '../../../shared/contracts/health.js';
import { HistoryResponse } from '../../../shared/contracts/history.js';
import { InstrumentListResponse, InstrumentResponse } from '../../../shared/contracts/instrument.js';
import { SubscriptionListResponse } from '../../../shared/contracts/subscription.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { waitFor } from '../../support/wait.js';
import { restClient, startPlatform } from './rest-support.js';

const JWT_SECRET = 'rest-integration-secret-of-enough-length';

function token(claims: { sub?: string; exp?: number | string; iss?: string } = {}) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(claims.sub ?? 'trader-1');
  jwt = jwt.setExpirationTime(claims.exp ?? '5m');
  if (claims.iss) jwt = jwt.setIssuer(claims.iss);
  return jwt.sign(new TextEncoder().encode(JWT_SECRET));
}

/** The JSON Schema the OpenAPI document gives for a response, as a zod schema to check bodies with. */
function documentedSchema(doc: OpenApiDoc, path: string, method: string, status: string): z.ZodType {
  const schema = doc.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`no ${status} schema for ${method} ${path}`);
  const local = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll('#/components/schemas/', '#/$defs/'));
  return z.fromJSONSchema({ ...local(schema), $defs: local(doc.components?.schemas ?? {}) });
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components?: { schemas?: Record<string, unknown> };
}

describe('REST API on the local platform', () => {
  let platform: LocalPlatform;
  let api: ReturnType<typeof restClient>;
  let option: Instrument;

  beforeAll(async () => {
    platform = await startPlatform('rest-api', { JWT_SECRET, JWT_ISSUER: 'ticker-tests' });
    api = restClient(platform);
    const instruments = await platform.components.loadInstruments();
    const nifty = instruments.filter((i) => i.name === 'NIFTY' && i.instrumentType === 'CE');
    option = nifty[Math.floor(nifty.length / 2)] as Instrument;
  });

  afterAll(async () => {
    await platform?.close();
  });

  describe('authentication', () => {
    it('answers 401 without credentials and 403 with bad ones, in the one error shape', async () => {
      const anonymous = restClient(platform, '');
      const missing = await anonymous.get('/subscriptions');
      expect(missing.status).toBe(401);
      expect(ApiErrorResponse.parse(missing.body).error.code).toBe('UNAUTHORIZED');
      const wrongKey = await restClient(platform, 'wrong-key').get('/subscriptions');
      expect(wrongKey.status).toBe(403);
      expect(ApiErrorResponse.parse(wrongKey.body).error.code).toBe('FORBIDDEN');
      for (const bad of [
        await token({ iss: 'someone-else' }),
        await token({ iss: 'ticker-tests', exp: Math.floor(Date.now() / 1000) - 600 }),
        'Bearer.not.jwt',
      ]) {
        const response = await anonymous.get('/subscriptions', { authorization: `Bearer ${bad}` });
        expect(response.status).toBe(403);
        expect(JSON.stringify(response.body)).not.toContain(bad);
      }
    });

    it('accepts a valid HS256 bearer token', async () => {
      const response = await restClient(platform, '').get('/subscriptions?limit=1', {
        authorization: `Bearer ${await token({ iss: 'ticker-tests' })}`,
      });
      expect(response.status).toBe(200);
      SubscriptionListResponse.parse(response.body);
    });

    it('TC-REG-004: serves /health and /openapi.json without credentials and without secrets', async () => {
      const anonymous = restClient(platform, '');
      const health = await anonymous.get('/health');
      expect(health.status).toBe(200);
      const body = HealthResponse.parse(health.body);
      expect(body.dependencies.instrument_registry).toMatchObject({ status: 'ok', source: 'mock' });
      expect(JSON.stringify(body)).not.toContain(JWT_SECRET);
      expect(JSON.stringify(body)).not.toContain('test-key');
      expect((await anonymous.get('/openapi.json')).status).toBe(200);
    });

    it('TC-ERR-040: /health reports the ingest heartbeat (ticker running) and every dependency ok', async () => {
      await waitFor(async () => HealthResponse.parse((await api.get('/health')).body).ticker.running, {
        message: 'the ingest heartbeat',
      });
      const body = HealthResponse.parse((await api.get('/health')).body);
      expect(body).toMatchObject({ status: 'ok', dependencies: { database: 'ok' } });
      expect(body.reasons).toBeUndefined();
    });
  });

  describe('bad input is a 4xx, never a 5xx', () => {
    it.each([
      ['malformed JSON', '{"instrument_token": 256265', 400],
      ['a JSON array', '[256265]', 400],
      ['a string token', JSON.stringify({ instrument_token: '256265' }), 400],
      ['a negative token', JSON.stringify({ instrument_token: -1 }), 400],
      ['a fractional token', JSON.stringify({ instrument_token: 1.5 }), 400],
      ['a huge token', JSON.stringify({ instrument_token: 2 ** 53 }), 400],
      ['an unknown mode', JSON.stringify({ instrument_token: 256265, mode: 'ALL' }), 400],
      ['SQL in the mode', JSON.stringify({ instrument_token: 256265, mode: "FULL'; DROP TABLE subs;--" }), 400],
      ['no body', '', 400],
      ['a 20 kB body', JSON.stringify({ instrument_token: 256265, pad: 'x'.repeat(20_000) }), 413],
    ])('POST /subscriptions with %s → %s', async (_label, body, status) => {
      const response = await api.post('/subscriptions', body);
      expect(response.status).toBe(status);
      const error = ApiErrorResponse.parse(response.body).error;
      if (status === 400) expect(error.details?.length).toBeGreaterThan(0);
    });

    it('names the field path of a wrong type', async () => {
      const response = await api.post('/subscriptions', { instrument_token: 'abc', mode: 7 });
      expect(
        ApiErrorResponse.parse(response.body)
          .error.details?.map((d) => d.path)
          .sort(),
      ).toEqual(['instrument_token', 'mode']);
    });

    it('answers an 11 MB body with 413 at the gateway', async () => {
      const response = await api.post('/subscriptions', 'x'.repeat(11 * 1024 * 1024));
      expect(response.status).toBe(413);
    });

    it.each([
      '/subscriptions/abc',
      '/subscriptions/0',
      '/subscriptions/99999999999',
      "/subscriptions/1'%20OR%20'1'='1",
      '/subscriptions/%3Cscript%3E',
    ])('DELETE %s → 400', async (path) => {
      const response = await api.delete(path);
      expect(response.status).toBe(400);
      expect(ApiErrorResponse.parse(response.body).error.details?.[0]?.path).toBe('token');
    });

    it('answers unknown routes with 404 and wrong methods with 405, in the error shape', async () => {
      const unknown = await api.get('/nothing-here');
      expect(unknown.status).toBe(404);
      ApiErrorResponse.parse(unknown.body);
      const method = await api.patch('/subscriptions', {});
      expect(method.status).toBe(405);
      ApiErrorResponse.parse(method.body);
    });
  });

  describe('instruments', () => {
    it('filters the registry by underlying, type, expiry and text, and pages it', async () => {
      const all = await platform.components.loadInstruments();
      const expected = all.filter((i) => i.name === 'NIFTY' && i.instrumentType === 'PE' && i.expiry === option.expiry);
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const query = `underlying=nifty&type=PE&expiry=${option.expiry}&limit=8${cursor ? `&cursor=${cursor}` : ''}`;
        const body = InstrumentListResponse.parse((await api.get(`/instruments?${query}`)).body);
        seen.push(...body.instruments.map((i) => i.instrument_token));
        cursor = body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(expected.map((i) => i.instrumentToken));
      const text = InstrumentListResponse.parse((await api.get(`/instruments?q=${option.tradingsymbol}`)).body);
      expect(text.instruments.map((i) => i.tradingsymbol)).toEqual([option.tradingsymbol]);
      expect((await api.get('/instruments?type=OPT')).status).toBe(400);
      expect((await api.get('/instruments?expiry=26-01-2025')).status).toBe(400);
      expect((await api.get('/instruments?cursor=zzz')).status).toBe(400);
    });

    it('returns one instrument by token and 404 for an unknown one', async () => {
      const response = await api.get(`/instruments/${option.instrumentToken}`);
      expect(response.status).toBe(200);
      expect(InstrumentResponse.parse(response.body)).toMatchObject({
        instrument_token: option.instrumentToken,
        tradingsymbol: option.tradingsymbol,
        instrument_type: 'CE',
        strike: option.strike,
        expiry: option.expiry,
      });
      expect((await api.get('/instruments/123')).status).toBe(404);
    });
  });

  describe('history', () => {
    /** The last weekday before today (IST), as YYYY-MM-DD: a full session of mock candles. */
    function lastFullSession(): string {
      let day = new Date(Date.now() + 5.5 * 3_600_000);
      do day = new Date(day.getTime() - 86_400_000);
      while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
      return day.toISOString().slice(0, 10);
    }

    it('TC-REG-003: one day of minute candles with Greeks: 375 candles in the frozen shape', async () => {
      const date = lastFullSession();
      const response = await api.get(
        `/history?instrument_token=${option.instrumentToken}&from=${date}&to=${date}&interval=minute&greeks=true`,
      );
      expect(response.status).toBe(200);
      const body = HistoryResponse.parse(response.body);
      expect(body.candles).toHaveLength(375);
      expect(body.candles.every((c) => c.greeks !== null && c.oi !== null)).toBe(true);
      const first = body.candles[0];
      expect(first?.greeks?.delta).toBeGreaterThan(0);
      expect(first?.greeks?.delta).toBeLessThan(1);
      expect(first?.greeks?.theta).toBeLessThan(0);
      const plain = HistoryResponse.parse(
        (await api.get(`/history?instrument_token=${option.instrumentToken}&from=${date}&to=${date}&interval=5minute`))
          .body,
      );
      expect(plain.candles).toHaveLength(75);
      expect(plain.candles.every((c) => c.greeks === null)).toBe(true);
      const index = HistoryResponse.parse(
        (await api.get(`/history?instrument_token=256265&from=${date}&to=${date}&interval=day&greeks=true`)).body,
      );
      expect(index.candles).toHaveLength(1);
      expect(index.candles[0]).toMatchObject({ oi: null, greeks: null });
    });

    it.each([
      ['no parameters', '', ['instrument_token', 'from', 'to']],
      ['a bad interval', 'instrument_token=256265&from=2025-01-01&to=2025-01-02&interval=2minute', ['interval']],
      ['a bad date', 'instrument_token=256265&from=2025-02-30&to=2025-03-01', ['from']],
      ['an unzoned ISO time', 'instrument_token=256265&from=2025-01-01T09:15:00.000&to=2025-01-02', ['from']],
      ['to before from', 'instrument_token=256265&from=2025-01-05&to=2025-01-01', ['to']],
      ['a range over the minute limit', 'instrument_token=256265&from=2025-01-01&to=2025-03-15', ['to']],
      ['greeks=yes', 'instrument_token=256265&from=2025-01-01&to=2025-01-02&greeks=yes', ['greeks']],
    ])('answers %s with 400 naming the fields', async (_label, query, paths) => {
      const response = await api.get(`/history?${query}`);
      expect(response.status).toBe(400);
      expect(ApiErrorResponse.parse(response.body).error.details?.map((d) => d.path)).toEqual(paths);
    });

    it('answers an instrument the registry does not list with 404', async () => {
      const response = await api.get('/history?instrument_token=42&from=2025-01-01&to=2025-01-02');
      expect(response.status).toBe(404);
    });
  });

  describe('OpenAPI', () => {
    it('documents every route, and real responses validate against the document', async () => {
      const doc = (await api.get('/openapi.json')).body as OpenApiDoc;
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).sort()).toEqual(
        [
          '/chain',
          '/health',
          '/history',
          '/instruments',
          '/instruments/{token}',
          '/kite/postback',
          '/orders',
          '/orders/dead-letter',
          '/orders/dead-letter/{task_id}/redrive',
          '/orders/{task_id}',
          '/quotes',
          '/subscriptions',
          '/subscriptions/{token}',
        ].sort(),
      );
      const check = async (method: string, path: string, response: { status: number; body: unknown }) => {
        const schema = documentedSchema(doc, path, method, String(response.status));
        const result = schema.safeParse(response.body);
        expect(result.success, `${method} ${path} ${response.status}: ${result.error?.message}`).toBe(true);
      };
      const token = option.instrumentToken;
      await check('post', '/subscriptions', await api.post('/subscriptions', { instrument_token: token }));
      await check('get', '/subscriptions', await api.get('/subscriptions?limit=3'));
      await check('patch', '/subscriptions/{token}', await api.patch(`/subscriptions/${token}`, { mode: 'LTP' }));
      await check('delete', '/subscriptions/{token}', await api.delete(`/subscriptions/${token}`));
      await check('get', '/instruments', await api.get('/instruments?limit=2'));
      await check('get', '/instruments/{token}', await api.get(`/instruments/${token}`));
      await check(
        'get',
        '/history',
        await api.get(`/history?instrument_token=${token}&from=2025-01-06&to=2025-01-06&greeks=true`),
      );
      await check('get', '/health', await api.get('/health'));
      await check('get', '/quotes', await api.get(`/quotes?tokens=${token}`));
      await check('get', '/chain', await api.get('/chain?underlying=NIFTY'));
      const order = {
        task_id: 'openapi-order-1',
        idempotency_key: 'openapi-order-1',
        account_id: 'paper',
        operation: 'place_order',
        params: {
          exchange: option.exchange,
          tradingsymbol: option.tradingsymbol,
          transaction_type: 'BUY',
          quantity: 65,
          product: 'NRML',
          order_type: 'MARKET',
        },
      };
      await check('post', '/orders', await api.post('/orders', order));
      await check('get', '/orders/{task_id}', await api.get('/orders/openapi-order-1'));
      await check('get', '/orders/dead-letter', await api.get('/orders/dead-letter?limit=5'));
      await check('post', '/orders', await api.post('/orders', { ...order, params: {} }));
      await check('get', '/orders/{task_id}', await api.get('/orders/unknown-order'));
      await check('post', '/subscriptions', await api.post('/subscriptions', '{'));
      await check('get', '/subscriptions', await restClient(platform, '').get('/subscriptions'));
      await check('get', '/instruments/{token}', await api.get('/instruments/7'));
    });
  });
});
