import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../support/wait.js';

/**
 * `npm start` as a user meets it: the command's own output is all a client gets, and the JWT and
 * API key it prints must work for REST and the WebSocket as printed; Ctrl-C stops it cleanly.
 */
describe('npm start', () => {
  it('prints URLs, a JWT and an API key that work as printed, and stops cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
      env: { ...process.env, LOG_LEVEL: 'ERROR', PORT: '0', REDIS_URL: '', API_KEYS: '', API_KEY_ENABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = once(child, 'exit');
    try {
      await waitFor(() => /API key: .*\n/.test(output), { timeoutMs: 60_000, message: 'the printed URLs' });
      const base = /running at (http:\/\/\S+)/.exec(output)?.[1] as string;
      const jwt = /Authorization: Bearer (\S+?)"/.exec(output)?.[1] as string;
      const apiKey = /x-api-key: (\S+?)"/.exec(output)?.[1] as string;
      const wsUrl = /websocket:\s+(\S+)/.exec(output)?.[1] as string;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const withJwt = await fetch(`${base}/subscriptions`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(withJwt.status).toBe(200);
      const withKey = await fetch(`${base}/subscriptions`, { headers: { 'x-api-key': apiKey } });
      expect(withKey.status).toBe(200);
      expect(((await withKey.json()) as { subscriptions: unknown[] }).subscriptions.length).toBeGreaterThan(0);
      const wrongKey = await fetch(`${base}/subscriptions`, { headers: { 'x-api-key': `${apiKey}x` } });
      expect(wrongKey.status).toBe(403);
      // Both are an admin's: the dead letters are an admin-only read.
      for (const headers of [{ authorization: `Bearer ${jwt}` }, { 'x-api-key': apiKey }] as Record<string, string>[]) {
        expect((await fetch(`${base}/orders/dead-letter?limit=1`, { headers })).status).toBe(200);
      }

      const ws = new WebSocket(wsUrl);
      const [first] = (await once(ws, 'message')) as [Buffer];
      expect(JSON.parse(first.toString())).toMatchObject({ type: 'connected', user: { user_id: 'local-user' } });
      ws.close();
    } finally {
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    }
  });
});
