import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logging.js';

describe('createLogger', () => {
  it('writes one JSON object per line with the service and environment, secrets redacted', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const config = loadConfig({
        ENVIRONMENT: 'staging',
        JWT_SECRET: 'x'.repeat(32),
        KITE_ACCOUNTS: 'a:k:tok-secret',
      });
      const logger = createLogger('ingest', config);
      logger.info('Config loaded', { auth: config.auth, kite: config.kite });
    } finally {
      spy.mockRestore();
    }
    const entries = lines
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const entry = entries.find((e) => e.message === 'Config loaded');
    expect(entry).toMatchObject({ level: 'INFO', service: 'ingest', environment: 'staging' });
    const text = JSON.stringify(entries);
    expect(text).not.toContain('x'.repeat(32));
    expect(text).not.toContain('tok-secret');
    expect(text).toContain('[redacted]');
  });
});
