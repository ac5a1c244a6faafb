import { randomBytes } from 'node:crypto';
import { parseApiKeyEntry } from '../../shared/auth/api-keys.js';
import { LOCAL_USER_SUBJECT } from '../../shared/auth/owner.js';
import { Role } from '../../shared/auth/roles.js';
import type { Config } from '../../shared/config.js';
import { configFromEnvironment, runMain } from '../../shared/wiring.js';
import { mintDevToken } from './dev-token.js';
import { startLocalPlatform } from './platform.js';

/** `npm start`: the whole platform on this machine, until Ctrl-C. */
runMain(async () => {
  const configured = configFromEnvironment();
  // With API keys on and none configured, this session gets one of its own (an admin key), printed below.
  const sessionKey =
    configured.auth.apiKeyEnabled && configured.auth.apiKeys.length === 0
      ? `local-${randomBytes(18).toString('base64url')}`
      : undefined;
  const config: Config =
    sessionKey === undefined
      ? configured
      : { ...configured, auth: { ...configured.auth, apiKeys: [sessionKeyRecord(sessionKey)] } };
  const platform = await startLocalPlatform(config);
  const { logger } = platform.components;
  if (config.auth.jwtSecretIsDefault) {
    logger.warn('JWT_SECRET is not set: using the development secret. Set JWT_SECRET before exposing this anywhere.');
  }
  if (config.localAws.isDefault) {
    logger.warn(
      'LOCAL_AWS_ACCESS_KEY_ID/LOCAL_AWS_SECRET_ACCESS_KEY are not set: the local SQS endpoint and @connections take the public development pair.',
    );
  }
  logger.info('Platform ready', {
    health: `${platform.url}/health`,
    bus: config.redis.url ? 'redis' : 'in-memory',
    dynamodb: config.dynamodb.endpoint ?? 'dynalite (worker thread of this process)',
  });
  // A token for trying the platform from a terminal or a WebSocket client; signed with the
  // configured secret, so it is as good as any other token this platform accepts. It is an admin's:
  // whoever runs the platform on a laptop operates it.
  const { token: jwt } = await mintDevToken(config, {
    subject: LOCAL_USER_SUBJECT,
    name: 'Local user',
    email: 'local@example.in',
    role: Role.admin,
    ttlSeconds: 12 * 3600,
  });
  const wsUrl = `${platform.url.replace('http', 'ws')}/ws?token=${jwt}`;
  process.stdout.write(
    [
      '',
      `Ticker platform running at ${platform.url}`,
      `  dashboard:  ${platform.url}/`,
      `  health:     ${platform.url}/health`,
      `  openapi:    ${platform.url}/openapi.json`,
      `  websocket:  ${wsUrl}`,
      `  REST:       curl -H "Authorization: Bearer ${jwt}" ${platform.url}/subscriptions   (an admin token)`,
      `  SQS:        AWS_ACCESS_KEY_ID=${config.localAws.accessKeyId} AWS_SECRET_ACCESS_KEY=${config.localAws.secretAccessKey.reveal()} aws --endpoint-url ${platform.url} sqs list-queues   (signed calls only, /@connections too)`,
      ...(sessionKey === undefined
        ? []
        : [`  API key:    curl -H "x-api-key: ${sessionKey}" ${platform.url}/subscriptions   (this session only)`]),
      '',
      '',
    ].join('\n'),
  );

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info('Stopping', { signal });
      platform.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
});

/** The record of this session's own key: an admin key, as an `API_KEYS` entry without a role is. */
function sessionKeyRecord(key: string) {
  const record = parseApiKeyEntry(key);
  if ('error' in record) throw new Error(`session key refused: ${record.error}`);
  return record;
}
