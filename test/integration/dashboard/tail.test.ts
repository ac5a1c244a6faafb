import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../../infra/local/dev-token.js';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import {
  PlatformUnreachableError,
  type TailOptions,
  TailRefusedError,
  tail,
} from '../../../infra/local/tail-client.js';
import { loadConfig } from '../../../shared/config.js';
import { TickPayload } from '../../../shared/contracts/tick.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { freePort } from '../../support/redis-server.js';
import { startPlatform } from '../rest/rest-support.js';

/*
 * `npm run tail`, the terminal client: its library against the local platform in process, and the
 * command itself as a child process, the way a user runs it.
 */

let platform: LocalPlatform;
let wsUrl: string;
let jwt: string;
let option: Instrument;
let index: Instrument;

beforeAll(async () => {
  platform = await startPlatform('tail-e2e', { STREAM_INTERVAL_SECONDS: '0.2' });
  wsUrl = `${platform.url.replace('http', 'ws')}/ws`;
  jwt = (
    await mintDevToken(loadConfig({}), {
      subject: 'tail-test',
      name: 'Tail test',
      email: null,
      role: 'viewer',
      ttlSeconds: 600,
    })
  ).token;
  const instruments = await platform.components.loadInstruments();
  const active = new Set((await platform.components.subscriptions.listActive()).map((s) => s.instrumentToken));
  option = instruments.find((i) => active.has(i.instrumentToken) && i.instrumentType === 'CE') as Instrument;
  index = instruments.find((i) => i.instrumentType === 'INDEX' && i.name === 'NIFTY') as Instrument;
});

afterAll(async () => {
  await platform?.close();
});

/** Runs `tail` until `enough` holds for what it printed, then stops it; resolves with the lines. */
async function tailUntil(
  options: Partial<TailOptions> & Pick<TailOptions, 'instruments'>,
  enough: (out: string[]) => boolean,
): Promise<{ out: string[]; info: string[] }> {
  const out: string[] = [];
  const info: string[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 15_000);
  await tail({
    url: wsUrl,
    jwt,
    json: false,
    signal: stop.signal,
    out: (line) => {
      out.push(line);
      if (enough(out)) stop.abort();
    },
    info: (line) => info.push(line),
    ...options,
  });
  clearTimeout(timer);
  return { out, info };
}

describe('tail', () => {
  it('prints each tick of the given tokens on one line, and the bars of an index', async () => {
    const { out, info } = await tailUntil(
      { instruments: [String(option.instrumentToken), String(index.instrumentToken)] },
      (lines) =>
        lines.filter((l) => l.includes(option.tradingsymbol)).length >= 2 && lines.some((l) => l.includes(' bar ')),
    );
    expect(info).toContain('subscribed 2 token(s); streaming 2');
    const tick = out.find((l) => l.includes(option.tradingsymbol)) ?? '';
    expect(tick).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}/);
    expect(tick).toContain(String(option.instrumentToken));
    expect(tick).toMatch(/ltp +[\d,]+\.\d\d/);
    expect(tick).toMatch(/Δ +-?\d\.\d{3}/);
    expect(tick).toMatch(/oi +\d+/);
    expect(tick).toMatch(/lat \d+ms$/);
    expect(tick.includes('\n')).toBe(false);
    const bar = out.find((l) => l.includes(' bar ')) ?? '';
    expect(bar).toContain(index.tradingsymbol);
    expect(bar).toMatch(/bar O [\d,.]+ H [\d,.]+ L [\d,.]+ C [\d,.]+/);
    // Only what was asked for.
    expect(
      out.every((l) => l.includes(String(option.instrumentToken)) || l.includes(String(index.instrumentToken))),
    ).toBe(true);
  });

  it('takes tradingsymbols, and prints JSON lines with --json', async () => {
    const { out } = await tailUntil({ instruments: [option.tradingsymbol], json: true }, (lines) => lines.length >= 2);
    for (const line of out) {
      const tick = TickPayload.parse(JSON.parse(line));
      expect(tick.instrument_token).toBe(option.instrumentToken);
    }
  });

  it('streams every active subscription when given no tokens', async () => {
    const active = await platform.components.subscriptions.listActive();
    const tokens = new Set<number>();
    const { info } = await tailUntil({ instruments: [], json: true }, (lines) => {
      tokens.add(TickPayload.parse(JSON.parse(lines[lines.length - 1] ?? '')).instrument_token);
      return tokens.size >= 10;
    });
    expect(info).toContain(`subscribed ${active.length} token(s); streaming ${active.length}`);
    expect([...tokens].every((t) => active.some((s) => s.instrumentToken === t))).toBe(true);
  });

  it('names an unknown tradingsymbol, with near matches', async () => {
    await expect(tailUntil({ instruments: ['NIFTY-NO-SUCH'] }, () => true)).rejects.toThrow(
      /No instrument is named NIFTY-NO-SUCH/,
    );
    const near = option.tradingsymbol.slice(0, -3);
    await expect(tailUntil({ instruments: [near] }, () => true)).rejects.toThrow(/did you mean/);
  });

  it('says the token was refused when it is not valid', async () => {
    const refused = tailUntil({ instruments: [String(option.instrumentToken)], jwt: 'not-a-jwt' }, () => true);
    await expect(refused).rejects.toBeInstanceOf(TailRefusedError);
    await expect(refused).rejects.toThrow(/refused the connection: HTTP 403/);
  });

  it('says the platform is not running when nothing listens', async () => {
    const port = await freePort();
    const unreachable = tailUntil({ url: `ws://127.0.0.1:${port}/ws`, instruments: ['1'] }, () => true);
    await expect(unreachable).rejects.toBeInstanceOf(PlatformUnreachableError);
    await expect(unreachable).rejects.toThrow(/Cannot reach the platform .*ECONNREFUSED.*npm start/);
  });
});

describe('npm run tail (infra/local/tail.ts)', () => {
  function run(args: string[]) {
    // The platform under test signs with the development secret; so does the command without JWT_SECRET.
    const { JWT_SECRET: _secret, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/tail.ts', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  }

  it('streams with a token it signs itself, and stops cleanly on Ctrl-C', async () => {
    const cli = run(['--url', wsUrl, String(option.instrumentToken)]);
    const deadline = Date.now() + 20_000;
    while (!cli.stdout().includes(option.tradingsymbol) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(cli.stdout()).toContain(option.tradingsymbol);
    expect(cli.stderr()).toContain('Connected to');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('exits 1 with a plain message when the platform is not running', async () => {
    const port = await freePort();
    const cli = run(['--url', `ws://127.0.0.1:${port}/ws`, '256265']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/^tail: Cannot reach the platform at ws:\/\/127\.0\.0\.1:\d+\/ws .*npm start/);
  });
});
