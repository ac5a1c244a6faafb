import { parseArgs } from 'node:util';
import { Role } from '../../shared/auth/roles.js';
import { ConfigError } from '../../shared/errors.js';
import { configFromEnvironment } from '../../shared/wiring.js';
import { canMintDevTokens, mintDevToken } from './dev-token.js';
import { tail } from './tail-client.js';

const USAGE = `Usage: npm run tail -- [options] [token|tradingsymbol ...]

Prints the platform's ticks as they arrive, one line each (bars of an index too). With no
tokens, streams every active subscription.

Options:
  --url <ws-url>   the platform's WebSocket URL (default ws://127.0.0.1:$PORT/ws, PORT default 8080)
  --jwt <token>    a JWT to connect with (default: one signed here with JWT_SECRET, as npm start does)
  --json           print each tick as a JSON line (for jq)
  -h, --help       this text

Examples:
  npm run tail -- 256265                         # NIFTY 50 bars
  npm run tail -- NIFTY26DEC24000CE 'NIFTY 50'   # by tradingsymbol (GET /instruments lists them)
  npm run tail -- --json | jq .last_price`;

/** `npm run tail`: a terminal client of the WebSocket API. */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      jwt: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = configFromEnvironment();
  const url = values.url ?? `ws://127.0.0.1:${config.port}/ws`;
  let jwt = values.jwt;
  if (jwt === undefined) {
    if (!canMintDevTokens(config)) {
      throw new Error('This configuration does not accept tokens signed with JWT_SECRET: pass --jwt <token>.');
    }
    jwt = (
      await mintDevToken(config, {
        subject: 'local-tail',
        name: 'npm run tail',
        email: null,
        role: Role.viewer,
        ttlSeconds: 43_200,
      })
    ).token;
  }

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  // A closed pipe (`npm run tail | head`) ends the stream quietly.
  process.stdout.on('error', () => stop.abort());
  await tail({
    url,
    jwt,
    instruments: positionals,
    json: values.json,
    signal: stop.signal,
    out: (line) => process.stdout.write(`${line}\n`),
    info: (line) => process.stderr.write(`${line}\n`),
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tail: ${error instanceof Error ? error.message : String(error)}\n`);
    const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
    if (code?.startsWith('ERR_PARSE_ARGS') === true) process.stderr.write(`${USAGE}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
