import type { IngestStatus } from '../ingest-role.js';
import { BackpressureLevel } from '../pipeline/tick-publisher.js';

/**
 * A `/health` answer: `ok` is served with 200, `degraded` with 503, and `reasons` says why it is
 * degraded. Any other fields are the state behind the verdict, for whoever reads it by hand.
 */
export interface OpsHealth {
  readonly status: 'ok' | 'degraded';
  readonly reasons?: readonly string[];
  readonly [field: string]: unknown;
}

/**
 * The ingest role's health, for the ECS container check and the load balancer: healthy while the
 * role runs and the publisher is below OVERLOAD. OVERLOAD means ticks are being dropped, which a
 * replacement task might not suffer (a wedged Redis connection, a leak); a slower publisher
 * (WARNING, CRITICAL) is still delivering every tick and is reported but not failed, so a burst
 * does not get a working task killed.
 */
export function ingestHealth(status: IngestStatus): OpsHealth {
  const reasons: string[] = [];
  if (!status.running) reasons.push('ingest role not running');
  if (status.backpressure === BackpressureLevel.overload) reasons.push('publisher overloaded: ticks are being dropped');
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    ...(reasons.length > 0 && { reasons }),
    ...status,
  };
}

/**
 * The health of an instance waiting for the ingest lease: healthy, since waiting is its job, so
 * the orchestrator does not replace the standby that is meant to take over.
 */
export function standbyHealth(): OpsHealth {
  return { status: 'ok', role: 'standby' };
}
