import type { HealthResponse } from './contracts/health.js';
import { describeError } from './errors.js';

/** A dependency check: resolves when the dependency answers, rejects with the reason otherwise. */
export type HealthCheck = () => Promise<void>;

/** How long one check may take before it counts as failed: health must answer fast when things hang. */
const CHECK_TIMEOUT_MS = 2000;

async function probe(check: HealthCheck | undefined): Promise<{ ok: boolean; text: string }> {
  if (!check) return { ok: true, text: 'not configured' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return { ok: true, text: 'ok' };
  } catch (error) {
    return { ok: false, text: `unavailable: ${describeError(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why each Kite account in the ingest heartbeat is not streaming, if it is not: refused by Kite
 * (`status` other than `ok`), or some of its connections not open (reconnecting after a drop).
 * Fields it does not find (an older heartbeat, the mock feed) count as fine.
 */
export function kiteAccountReasons(accounts: Readonly<Record<string, unknown>>): string[] {
  const reasons: string[] = [];
  for (const [id, value] of Object.entries(accounts)) {
    if (typeof value !== 'object' || value === null) continue;
    const { status, connections, open } = value as { status?: unknown; connections?: unknown; open?: unknown };
    if (typeof status === 'string' && status !== 'ok') reasons.push(`kite account ${id} ${status}`);
    else if (typeof connections === 'number' && typeof open === 'number' && open < connections) {
      reasons.push(`kite account ${id}: ${open} of ${connections} connections open`);
    }
  }
  return reasons;
}

/**
 * The `GET /health` body (TC-REG-004): `ok` when every configured dependency answers, `degraded`
 * with `reasons` otherwise. Checks run concurrently, each bounded in time. Never includes secrets:
 * dependency failures are described by their messages, which name hosts but not credentials.
 */
export async function healthReport(input: {
  environment: string;
  redis?: HealthCheck;
  database: HealthCheck;
  ticker?: HealthResponse['ticker'];
  instrumentRegistry?: HealthResponse['dependencies']['instrument_registry'];
}): Promise<HealthResponse> {
  const [redis, database] = await Promise.all([probe(input.redis), probe(input.database)]);
  const reasons = [...(redis.ok ? [] : [`redis ${redis.text}`]), ...(database.ok ? [] : [`database ${database.text}`])];
  const ticker = input.ticker ?? { running: false, active_subscriptions: 0, accounts: {} };
  if (!ticker.running) reasons.push('ticker not running');
  else reasons.push(...kiteAccountReasons(ticker.accounts));
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    environment: input.environment,
    ticker,
    dependencies: {
      redis: redis.text,
      database: database.text,
      instrument_registry: input.instrumentRegistry ?? {},
    },
    ...(reasons.length > 0 && { reasons }),
  };
}
