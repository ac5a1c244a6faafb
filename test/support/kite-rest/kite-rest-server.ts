import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake does with the next matching requests, in place of a normal answer. */
export type KiteRestFault =
  | { readonly kind: 'status'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'hang' }
  | { readonly kind: 'malformed'; readonly body: string };

/** One request the fake received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly at: number;
  readonly apiKey: string | undefined;
}

/**
 * A Kite Connect REST server that speaks the real wire format (the `{status, data}` envelope,
 * `Authorization: token key:token`, error bodies with `error_type`), so tests drive the real
 * `kiteconnect` client against it. Routes: historical candles, LTP, place order.
 */
export async function startKiteRestServer(options: { accounts: Record<string, string> }) {
  const requests: RecordedRequest[] = [];
  const faults: { path: RegExp; fault: KiteRestFault; remaining: number; apiKey?: string }[] = [];
  const hanging = new Set<ServerResponse>();
  let orderSeq = 0;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const auth = /^token ([^:]+):(.+)$/.exec(req.headers.authorization ?? '');
    const apiKey = auth?.[1];
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, at: Date.now(), apiKey });
    if (!auth || options.accounts[auth[1] ?? ''] !== auth[2]) {
      json(res, 403, {
        status: 'error',
        message: 'Incorrect `api_key` or `access_token`.',
        error_type: 'TokenException',
      });
      return;
    }
    const fault = faults.find((f) => f.path.test(url.pathname) && (f.apiKey === undefined || f.apiKey === apiKey));
    if (fault) {
      if (--fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.fault.kind === 'hang') {
        hanging.add(res);
        return;
      }
      if (fault.fault.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(fault.fault.body);
        return;
      }
      json(res, fault.fault.status, fault.fault.body);
      return;
    }
    const historical = /^\/instruments\/historical\/(\d+)\/(\w+)$/.exec(url.pathname);
    if (historical) {
      const from = Date.parse(`${url.searchParams.get('from')?.replace(' ', 'T')}+05:30`);
      const to = Date.parse(`${url.searchParams.get('to')?.replace(' ', 'T')}+05:30`);
      const step = historical[2] === 'day' ? 86_400_000 : 60_000 * (Number.parseInt(historical[2] ?? '', 10) || 1);
      const candles: unknown[] = [];
      for (let t = from; t <= to && candles.length < 100_000; t += step) {
        const p = 100 + ((t / step) % 50);
        const row: unknown[] = [new Date(t).toISOString().replace('Z', '+0000'), p, p + 1, p - 1, p + 0.5, 1000];
        if (url.searchParams.get('oi') === '1') row.push(5000);
        candles.push(row);
      }
      json(res, 200, { status: 'success', data: { candles } });
      return;
    }
    const master = /^\/instruments\/(NSE|NFO)$/.exec(url.pathname);
    if (master) {
      const header =
        'instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange';
      const rows =
        master[1] === 'NSE'
          ? [
              '256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE',
              '260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE',
              '738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,NSE,NSE',
            ]
          : [
              '12345602,48225,NIFTY25JAN24000CE,NIFTY,0,2025-01-30,24000,0.05,75,CE,NFO-OPT,NFO',
              '12345858,48226,NIFTY25JAN24000PE,NIFTY,0,2025-01-30,24000,0.05,75,PE,NFO-OPT,NFO',
              '13345602,52225,BANKNIFTY25JANFUT,BANKNIFTY,0,2025-01-30,0,0.05,35,FUT,NFO-FUT,NFO',
              '14345602,62225,FINNIFTY25JAN23000CE,FINNIFTY,0,2025-01-28,23000,0.05,65,CE,NFO-OPT,NFO',
            ];
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end([header, ...rows].join('\n'));
      return;
    }
    if (url.pathname === '/quote/ltp') {
      const data: Record<string, unknown> = {};
      for (const [i, key] of url.searchParams.getAll('i').entries())
        data[key] = { instrument_token: 1000 + i, last_price: 24_000.5 };
      json(res, 200, { status: 'success', data });
      return;
    }
    if (req.method === 'POST' && /^\/orders\/\w+$/.test(url.pathname)) {
      json(res, 200, { status: 'success', data: { order_id: `ORD${++orderSeq}` } });
      return;
    }
    json(res, 404, { status: 'error', message: 'Route not found', error_type: 'GeneralException' });
  };

  const server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    root: `http://127.0.0.1:${port}`,
    requests,
    /** The next `times` requests whose path matches (for `apiKey`, if given) get `fault`. */
    inject(path: RegExp, fault: KiteRestFault, times = 1, apiKey?: string) {
      faults.push({ path, fault, remaining: times, ...(apiKey !== undefined && { apiKey }) });
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}
