import { z } from 'zod';
import type { HealthResponse } from '../../shared/contracts/health.js';
import { healthReport } from '../../shared/health.js';
import { Heartbeats } from '../../shared/ports/live-state-store.js';
import type { Components } from '../../shared/wiring.js';
import type { HttpUseCase } from '../http/http-handler.js';
import { apiContext } from './context.js';

/**
 * `GET /health` (TC-REG-004, TC-ERR-040/041): `ok` or `degraded` with reasons, never
 * authenticated, never a secret. Redis is checked only when the platform runs on Redis; the
 * instrument registry reports whether it is loaded, from where and how many instruments it holds,
 * and a registry that cannot be loaded degrades the platform (new subscriptions and history need
 * it) while everything else keeps answering. A function deployed without the Kite secret
 * (`KITE_CREDENTIALS=withheld`) does not load the master at all: it reports the registry as not
 * checked here, and the ingest heartbeat's accounts say whether Kite is reachable.
 */
export function healthUseCase(components: Components): HttpUseCase {
  const { config, bus } = components;
  return async () => {
    const [ticker, registry] = await Promise.all([
      tickerState(components),
      config.kite.credentials === 'withheld' ? NOT_CHECKED : apiContext(components).registry.status(),
    ]);
    const report = await healthReport({
      environment: config.environment,
      ...(config.redis.url !== undefined && { redis: () => bus.check() }),
      database: () => components.checkDatabase(),
      ticker,
      instrumentRegistry: { ...registry },
    });
    if (registry.status === 'ok' || registry.status === NOT_CHECKED.status) return { status: 200, body: report };
    const body: HealthResponse = {
      ...report,
      status: 'degraded',
      reasons: [...(report.reasons ?? []), `instrument_registry ${registry.status}`],
    };
    return { status: 200, body };
  };
}

/** The registry as a function without the Kite secret reports it. */
const NOT_CHECKED = { status: 'not checked', reason: 'this function holds no Kite credentials' } as const;

const Heartbeat = z.object({
  running: z.boolean(),
  active_subscriptions: z.int().nonnegative(),
  accounts: z.record(z.string(), z.unknown()),
});

/** The ingest task's state from its heartbeat; not running when there is none (it expires after 15 s). */
async function tickerState(components: Components): Promise<HealthResponse['ticker']> {
  const raw = await components.state.getHeartbeat(Heartbeats.ingest).catch(() => undefined);
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const parsed = Heartbeat.safeParse(value);
  return parsed.success ? parsed.data : { running: false, active_subscriptions: 0, accounts: {} };
}
