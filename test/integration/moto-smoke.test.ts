import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';

/**
 * `localstack/moto-smoke.sh` as a developer runs it: moto_server on a free port, the tables and
 * queues the synthesized templates define, one order through the deployed handlers. About 25 s of
 * CPU (most of it the in-process synth and the handlers' first import): over a minute of wall time
 * on a loaded machine, hence the long timeout.
 */
describe('localstack/moto-smoke.sh', () => {
  it('creates the templates’ tables and queues in moto and completes one order through the handlers', async () => {
    // Its own process group, so a timeout stops the script, the smoke and moto_server together.
    const child = spawn('bash', ['localstack/moto-smoke.sh'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    onTestFinished(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toMatch(/tables from Ticker-smoke-Data: .*ticker-smoke-orders/);
    expect(output).toMatch(/queues from Ticker-smoke-Orders/);
    expect(output).toMatch(/order moto-smoke-\d+ is COMPLETED/);
  }, 400_000);
});
