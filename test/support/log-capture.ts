import { vi } from 'vitest';
import { createLogger, type Logger } from '../../shared/logging.js';

/**
 * Runs `run` with a fresh logger and collects every entry it logs, so a test can assert what was
 * logged (and that nothing secret was); `run` gets the live list too, to wait for an entry. The logger is made with `POWERTOOLS_DEV` set, which makes
 * Powertools write through the global `console` that this spies on.
 */
export async function captureLogs<T>(
  run: (logger: Logger, logs: readonly Record<string, unknown>[]) => Promise<T>,
): Promise<{ result: T; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const record = (text: unknown) => {
    logs.push(JSON.parse(String(text)) as Record<string, unknown>);
  };
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation(record),
  );
  const previous = process.env.POWERTOOLS_DEV;
  process.env.POWERTOOLS_DEV = 'true';
  let logger: Logger;
  try {
    logger = createLogger('test', { logLevel: 'DEBUG', environment: 'test' });
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_DEV;
    else process.env.POWERTOOLS_DEV = previous;
  }
  try {
    return { result: await run(logger, logs), logs };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}
