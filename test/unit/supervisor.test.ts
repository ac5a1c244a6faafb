import { describe, expect, it } from 'vitest';
import { type Service, supervise } from '../../ingest-task/supervisor.js';
import { createLogger } from '../../shared/logging.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });

/** A service that runs until aborted, then takes `stopMs` to clean up. */
function waiting(name: string, log: string[], stopMs = 0): Service {
  return {
    name,
    run: (signal) =>
      new Promise<void>((resolve) => {
        log.push(`${name}:start`);
        signal.addEventListener('abort', () =>
          setTimeout(() => {
            log.push(`${name}:stop`);
            resolve();
          }, stopMs),
        );
      }),
  };
}

describe('supervise', () => {
  it('runs every service until the signal aborts, then waits for each to stop', async () => {
    const log: string[] = [];
    const shutdown = new AbortController();
    const done = supervise([waiting('a', log, 20), waiting('b', log)], shutdown.signal, logger);
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['a:start', 'b:start']);
    shutdown.abort();
    const outcome = await done;
    expect(outcome).toEqual({ unfinished: [] });
    expect(log.slice(2).sort()).toEqual(['a:stop', 'b:stop']);
  });

  it('stops the others when one service fails, and reports the first failure', async () => {
    const log: string[] = [];
    const failing: Service = {
      name: 'broken',
      run: async () => {
        throw new Error('cannot start');
      },
    };
    const outcome = await supervise([waiting('a', log), failing], new AbortController().signal, logger);
    expect(outcome.failure?.service).toBe('broken');
    expect(outcome.failure?.error).toEqual(new Error('cannot start'));
    expect(log).toEqual(['a:start', 'a:stop']);
  });

  it('gives up on a service that does not stop before the deadline', async () => {
    const stuck: Service = { name: 'stuck', run: () => new Promise(() => {}) };
    const shutdown = new AbortController();
    shutdown.abort();
    const started = Date.now();
    const outcome = await supervise([stuck], shutdown.signal, logger, { shutdownTimeoutMs: 50 });
    expect(outcome.unfinished).toEqual(['stuck']);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
