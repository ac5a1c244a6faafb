import { setMaxListeners } from 'node:events';
import { describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logging.js';

/**
 * A piece of long-running work (Centrifugo's service shape): `run` does the work until `signal`
 * aborts, then cleans up and resolves. A `run` that rejects, or resolves on its own, ends the whole
 * process's work: one role cannot keep running half-broken.
 */
export interface Service {
  readonly name: string;
  run(signal: AbortSignal): Promise<void>;
}

/** How the supervised services ended. */
export interface SupervisorOutcome {
  /** The first service that failed, if any, and why. */
  readonly failure?: { readonly service: string; readonly error: unknown };
  /** Services that had not finished when the shutdown deadline passed. */
  readonly unfinished: readonly string[];
}

/**
 * Runs `services` together until `signal` aborts or one of them stops, then aborts the rest and
 * waits for them (at most `shutdownTimeoutMs`, 30 s by default, the ECS stop timeout).
 */
export async function supervise(
  services: readonly Service[],
  signal: AbortSignal,
  logger: Logger,
  { shutdownTimeoutMs = 30_000 } = {},
): Promise<SupervisorOutcome> {
  const stop = new AbortController();
  // Every service, and the waits inside them, listen on this one signal: that is by design, not a leak.
  setMaxListeners(Math.max(10, services.length * 4 + 2), stop.signal);
  const forward = () => stop.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener('abort', forward, { once: true });

  let failure: SupervisorOutcome['failure'];
  const finished = new Set<string>();
  const runs = services.map(async (service) => {
    logger.info('Service starting', { task: service.name });
    try {
      await service.run(stop.signal);
      if (!stop.signal.aborted) logger.warn('Service stopped on its own; stopping the others', { task: service.name });
    } catch (error) {
      failure ??= { service: service.name, error };
      logger.error('Service failed; stopping the others', { task: service.name, error: describeError(error) });
    } finally {
      finished.add(service.name);
      stop.abort();
    }
  });

  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    else stop.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, shutdownTimeoutMs);
  });
  await Promise.race([Promise.all(runs), deadline]);
  clearTimeout(timer);
  signal.removeEventListener('abort', forward);
  const unfinished = services.map((s) => s.name).filter((name) => !finished.has(name));
  for (const service of unfinished) logger.error('Service did not stop before the deadline', { task: service });
  return { ...(failure && { failure }), unfinished };
}
