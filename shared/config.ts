import { z } from 'zod';
import { type ApiKeyRecord, parseApiKeyEntry } from './auth/api-keys.js';
import { LOCAL_USER_SUBJECT, ownerIdOf } from './auth/owner.js';
import { ROLES, type Role } from './auth/roles.js';
import { ConfigError } from './errors.js';
import { Secret } from './secret.js';

/**
 * The platform's configuration: every environment variable it reads, parsed and validated once at
 * start-up. Bad configuration fails here, naming the variable and what is wrong, never later in a
 * request. Secret values are wrapped in {@link Secret} so they cannot reach a log or an error.
 *
 * Only the composition root calls {@link loadConfig} with `process.env`; everything else receives
 * the typed {@link Config}.
 */

/** The development JWT secret used when `JWT_SECRET` is unset outside production. Never use it in the cloud. */
export const DEVELOPMENT_JWT_SECRET = 'ticker-platform-development-secret-change-me';
/** The development key pair of the local AWS-shaped endpoints (SQS, `@connections`) when unset. */
export const DEVELOPMENT_LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

const int = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const num = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .refine(Number.isFinite, { message: 'must be a finite number' })
    .pipe(
      z
        .number()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );

const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379/0' },
);

const httpUrl = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const isoDate = z.iso.date({ message: 'must be a date as YYYY-MM-DD' });

/**
 * `id:api_key:access_token[:api_secret]` entries, comma-separated. The api secret is needed only to
 * verify Kite's order postbacks (their checksum is keyed with it).
 */
const kiteAccounts = z
  .string()
  .transform((value, ctx) => {
    const accounts: { id: string; apiKey: string; accessToken: Secret; apiSecret?: Secret }[] = [];
    for (const [index, entry] of value
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)
      .entries()) {
      const parts = entry.split(':');
      const [id, apiKey, accessToken, apiSecret] = parts;
      if ((parts.length !== 3 && parts.length !== 4) || !id || !apiKey || !accessToken || apiSecret === '') {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1} must be id:api_key:access_token[:api_secret]` });
        return z.NEVER;
      }
      if (accounts.some((a) => a.id === id)) {
        ctx.addIssue({ code: 'custom', message: `account id "${id}" appears twice` });
        return z.NEVER;
      }
      accounts.push({
        id,
        apiKey,
        accessToken: new Secret(accessToken),
        ...(apiSecret !== undefined && { apiSecret: new Secret(apiSecret) }),
      });
    }
    return accounts;
  })
  .default([]);

const csv = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .default([]);

/**
 * `key[:role]` entries, comma-separated, each kept only as its SHA-256 (see `parseApiKeyEntry`):
 * an entry without a role is an admin key; `sha256:<hex>[:role]` gives the digest instead of the key.
 */
const apiKeys = z
  .string()
  .transform((value, ctx) => {
    const records: ApiKeyRecord[] = [];
    for (const [index, entry] of value
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)
      .entries()) {
      const record = parseApiKeyEntry(entry);
      if ('error' in record) {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1}: ${record.error}` });
        return z.NEVER;
      }
      if (records.some((r) => r.sha256 === record.sha256)) {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1} repeats an earlier key` });
        return z.NEVER;
      }
      records.push(record);
    }
    return records;
  })
  .default([]);

/**
 * Every variable, its default and its rule. The README's configuration table lists the same
 * variables; a test keeps the two in step.
 */
export const EnvSchema = z.object({
  ENVIRONMENT: z.enum(['development', 'test', 'staging', 'production']).default('development'),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOCAL_ALLOWED_HOSTS: csv,
  AWS_REGION: z.string().min(1).default('ap-south-1'),

  JWT_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  JWKS_URL: httpUrl(['https:', 'http:']).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  API_KEY_ENABLED: bool.default(true),
  API_KEYS: apiKeys,
  ROLES_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]{1,128}$/, { message: 'must be a claim name such as roles, scope or cognito:groups' })
    .default('roles'),
  DEFAULT_ROLE: z.enum(ROLES as [Role, ...Role[]], { message: `must be one of ${ROLES.join(', ')}` }).default('trader'),

  REDIS_URL: redisUrl.optional(),
  DYNAMODB_ENDPOINT: httpUrl(['http:', 'https:']).optional(),
  LOCAL_DATA_DIR: z.string().min(1).optional(),
  TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'must be 1-64 letters, digits, _ . or -' })
    .default('ticker-local'),
  SUBSCRIPTION_LIST_CACHE_MS: int(0, 60_000).default(1000),
  ORDERS_QUEUE_URL: httpUrl(['https:', 'http:']).optional(),
  ORDERS_DLQ_URL: httpUrl(['https:', 'http:']).optional(),
  WS_MANAGEMENT_ENDPOINT: httpUrl(['https:', 'http:']).optional(),
  LOCAL_WS_KEEPALIVE_SECONDS: num(0.05, 300).default(10),
  LOCAL_AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  LOCAL_AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),

  KITE_ACCOUNTS: kiteAccounts,
  KITE_CREDENTIALS: z.enum(['loaded', 'withheld']).default('loaded'),
  KITE_API_URL: httpUrl(['https:', 'http:']).default('https://api.kite.trade'),
  KITE_TICKER_URL: httpUrl(['wss:', 'ws:']).default('wss://ws.kite.trade'),
  MAX_TOKENS_PER_CONNECTION: int(1, 3000).default(3000),
  MAX_CONNECTIONS_PER_ACCOUNT: int(1, 3).default(3),

  RISK_FREE_RATE: num(-0.05, 1).default(0.1),
  DIVIDEND_YIELD: num(0, 1).default(0),
  PRICING_MODEL: z.enum(['black-scholes', 'black-76']).default('black-scholes'),

  ENABLE_MOCK_DATA: bool.optional(),
  MOCK_SEED: int(0, 2 ** 31 - 1).default(42),
  MOCK_PRICE_VARIATION_BPS: num(0, 10_000).default(15),
  MOCK_VOLUME_VARIATION: num(0, 1).default(0.1),
  STREAM_INTERVAL_SECONDS: num(0.05, 3600).default(1),
  TRADING_HOLIDAYS: csv.pipe(z.array(isoDate)),
  FOLLOW_MARKET_HOURS: bool.default(true),

  CIRCUIT_BREAKER_FAILURE_THRESHOLD: int(1, 1000).default(5),
  CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS: num(0.001, 86_400).default(60),
  CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: int(1, 1000).default(3),
  CIRCUIT_BREAKER_CLOSED_READ_TTL_MS: int(0, 60_000).default(1000),
  ORDER_MAX_ATTEMPTS: int(1, 100).default(3),
  ORDER_RETRY_BASE_SECONDS: num(0, 900).default(1),
  ORDER_RETRY_MAX_SECONDS: num(0, 900).default(30),
  ORDERS_DEFAULT_OWNER: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, { message: 'must be 1-128 letters, digits or _ . : @ -' })
    .optional(),
  ORDER_POLL_INTERVAL_SECONDS: num(0.1, 3600).default(1),
  ORDER_SWEEP_INTERVAL_SECONDS: int(1, 3600).optional(),

  INGEST_ROLES: z
    .string()
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.enum(['ingest', 'fanout'], { message: 'must list ingest and/or fanout' })).min(1))
    .default(['ingest', 'fanout']),
  FANOUT_BATCH_INTERVAL_MS: int(50, 5000).default(250),
  MAX_TOKENS_PER_CLIENT: int(1, 10_000).default(500),
  DEMAND_GRACE_SECONDS: num(0, 3600).default(60),
});

/** The validated, typed configuration handed to the composition root. */
export interface Config {
  readonly environment: 'development' | 'test' | 'staging' | 'production';
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  readonly port: number;
  /** `npm start`: the address the local platform listens on. */
  readonly host: string;
  /** `npm start`: `Host` names served besides loopback names and `host` (DNS-rebinding guard). */
  readonly localAllowedHosts: readonly string[];
  /**
   * `npm start`: how often the local gateway pings each WebSocket client; one silent for two
   * intervals (half-open, or no longer reading) is dropped. API Gateway itself sends no pings.
   */
  readonly localWsKeepaliveSeconds: number;
  readonly awsRegion: string;
  readonly auth: {
    readonly jwtSecret: Secret;
    /** True when `JWT_SECRET` was not set and the development default is in use. */
    readonly jwtSecretIsDefault: boolean;
    readonly jwksUrl: string | undefined;
    readonly issuer: string | undefined;
    readonly audience: string | undefined;
    readonly apiKeyEnabled: boolean;
    /** The accepted API keys, as digests with their roles. */
    readonly apiKeys: readonly ApiKeyRecord[];
    /** `ROLES_CLAIM`: the token claim that names a caller's roles. */
    readonly rolesClaim: string;
    /** `DEFAULT_ROLE`: the role of a token without that claim. */
    readonly defaultRole: Role;
  };
  readonly redis: { readonly url: Secret | undefined };
  /**
   * The key pair the local platform's SQS endpoint and `@connections` verify signatures with, and
   * that this process signs with when it calls them.
   */
  readonly localAws: {
    readonly accessKeyId: string;
    readonly secretAccessKey: Secret;
    /** True when neither variable was set and the development pair is in use. */
    readonly isDefault: boolean;
  };
  readonly dynamodb: {
    readonly endpoint: string | undefined;
    readonly tablePrefix: string;
    /** Local platform only: keep dynalite's data in this directory instead of in memory. */
    readonly localDataDir: string | undefined;
    /**
     * How long a page of `GET /subscriptions` is served from memory (0: never). A write through the
     * same process drops the cached pages; one through another (in the cloud, every write: each
     * route is a function of its own) shows within this long plus the store's own lag.
     */
    readonly subscriptionListCacheMs: number;
  };
  readonly orders: {
    readonly queueUrl: string | undefined;
    readonly deadLetterQueueUrl: string | undefined;
    readonly maxAttempts: number;
    readonly retryBaseSeconds: number;
    readonly retryMaxSeconds: number;
    /** Owner of SQS tasks that name none (a principal id, as REST records owners). */
    readonly defaultOwner: string;
    /** How often open orders are checked against the broker's order book (and paper orders against prices). */
    readonly pollIntervalSeconds: number;
    /**
     * How often the local platform sweeps for orders whose message is lost; undefined: its
     * default. The cloud's sweeper runs on its EventBridge schedule (every minute).
     */
    readonly sweepIntervalSeconds: number | undefined;
  };
  readonly circuitBreaker: {
    readonly failureThreshold: number;
    readonly recoveryTimeoutSeconds: number;
    readonly halfOpenMaxCalls: number;
    /** How long a worker trusts a CLOSED breaker it read (see `CircuitBreakerOptions.closedReadTtlMs`). */
    readonly closedReadTtlMs: number;
  };
  readonly kite: {
    readonly accounts: readonly {
      readonly id: string;
      readonly apiKey: string;
      readonly accessToken: Secret;
      /** Verifies the account's order postbacks; without it they are refused. */
      readonly apiSecret?: Secret;
    }[];
    /**
     * `withheld`: this process is deliberately not given the Kite secret (a function that never
     * calls Kite), so an empty account list says nothing about the platform's accounts.
     */
    readonly credentials: 'loaded' | 'withheld';
    readonly apiUrl: string;
    readonly tickerUrl: string;
    readonly maxTokensPerConnection: number;
    readonly maxConnectionsPerAccount: number;
  };
  readonly pricing: {
    readonly riskFreeRate: number;
    readonly dividendYield: number;
    readonly model: 'black-scholes' | 'black-76';
  };
  readonly market: {
    /** Mock feed instead of Kite: explicitly on, or by default when no Kite account is configured. */
    readonly mockData: boolean;
    readonly mockSeed: number;
    readonly mockPriceVariationBps: number;
    readonly mockVolumeVariation: number;
    readonly streamIntervalSeconds: number;
    readonly tradingHolidays: readonly string[];
    /** With Kite configured: stream the mock market outside 09:15–15:30 IST and on holidays. */
    readonly followMarketHours: boolean;
  };
  /** Which roles this ingest-task process runs (one image, separate services in the cloud). */
  readonly roles: readonly ('ingest' | 'fanout')[];
  readonly realtime: {
    readonly managementEndpoint: string | undefined;
    readonly batchIntervalMs: number;
    readonly maxTokensPerClient: number;
    /** How long a token no client wants any more keeps streaming (`DEMAND_GRACE_SECONDS`). */
    readonly demandGraceSeconds: number;
    /**
     * Most instruments that can stream at once: Kite's capacity, accounts × connections per account
     * × instruments per connection (one account's worth for the mock market).
     */
    readonly streamCapacity: number;
  };
}

/**
 * Parses `env` (normally `process.env`) into a {@link Config}, or throws a {@link ConfigError}
 * listing every variable that is wrong. Empty strings count as unset.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((key) => [key, env[key]] as const)
      .filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      // Messages describe the rule, never the value, so a mistyped secret is not echoed.
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.message,
      })),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; message: string }[] = [];
  if (e.ENVIRONMENT === 'production' && !e.JWT_SECRET && !e.JWKS_URL) {
    problems.push({ variable: 'JWT_SECRET', message: 'must be set in production (or set JWKS_URL)' });
  }
  if (e.ORDER_RETRY_MAX_SECONDS < e.ORDER_RETRY_BASE_SECONDS) {
    problems.push({ variable: 'ORDER_RETRY_MAX_SECONDS', message: 'must not be less than ORDER_RETRY_BASE_SECONDS' });
  }
  if (e.ENABLE_MOCK_DATA === false && e.KITE_ACCOUNTS.length === 0) {
    problems.push({ variable: 'ENABLE_MOCK_DATA', message: 'is false but KITE_ACCOUNTS names no account' });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    environment: e.ENVIRONMENT,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    host: e.HOST,
    localAllowedHosts: e.LOCAL_ALLOWED_HOSTS,
    localWsKeepaliveSeconds: e.LOCAL_WS_KEEPALIVE_SECONDS,
    awsRegion: e.AWS_REGION,
    auth: {
      jwtSecret: new Secret(e.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET),
      jwtSecretIsDefault: e.JWT_SECRET === undefined,
      jwksUrl: e.JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      apiKeyEnabled: e.API_KEY_ENABLED,
      apiKeys: e.API_KEYS,
      rolesClaim: e.ROLES_CLAIM,
      defaultRole: e.DEFAULT_ROLE,
    },
    redis: { url: e.REDIS_URL === undefined ? undefined : new Secret(e.REDIS_URL) },
    localAws: {
      accessKeyId: e.LOCAL_AWS_ACCESS_KEY_ID ?? DEVELOPMENT_LOCAL_AWS_CREDENTIALS.accessKeyId,
      secretAccessKey: new Secret(e.LOCAL_AWS_SECRET_ACCESS_KEY ?? DEVELOPMENT_LOCAL_AWS_CREDENTIALS.secretAccessKey),
      isDefault: e.LOCAL_AWS_ACCESS_KEY_ID === undefined && e.LOCAL_AWS_SECRET_ACCESS_KEY === undefined,
    },
    dynamodb: {
      endpoint: e.DYNAMODB_ENDPOINT,
      tablePrefix: e.TABLE_PREFIX,
      localDataDir: e.LOCAL_DATA_DIR,
      subscriptionListCacheMs: e.SUBSCRIPTION_LIST_CACHE_MS,
    },
    orders: {
      queueUrl: e.ORDERS_QUEUE_URL,
      deadLetterQueueUrl: e.ORDERS_DLQ_URL,
      maxAttempts: e.ORDER_MAX_ATTEMPTS,
      retryBaseSeconds: e.ORDER_RETRY_BASE_SECONDS,
      retryMaxSeconds: e.ORDER_RETRY_MAX_SECONDS,
      // On one machine, the user of the token `npm start` prints, so its SQS orders show on REST.
      defaultOwner: ownerIdOf(
        e.ORDERS_DEFAULT_OWNER ??
          (e.ENVIRONMENT === 'development' || e.ENVIRONMENT === 'test' ? LOCAL_USER_SUBJECT : 'queue'),
      ),
      pollIntervalSeconds: e.ORDER_POLL_INTERVAL_SECONDS,
      sweepIntervalSeconds: e.ORDER_SWEEP_INTERVAL_SECONDS,
    },
    circuitBreaker: {
      failureThreshold: e.CIRCUIT_BREAKER_FAILURE_THRESHOLD,
      recoveryTimeoutSeconds: e.CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS,
      halfOpenMaxCalls: e.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS,
      closedReadTtlMs: e.CIRCUIT_BREAKER_CLOSED_READ_TTL_MS,
    },
    kite: {
      accounts: e.KITE_ACCOUNTS,
      credentials: e.KITE_CREDENTIALS,
      apiUrl: e.KITE_API_URL,
      tickerUrl: e.KITE_TICKER_URL,
      maxTokensPerConnection: e.MAX_TOKENS_PER_CONNECTION,
      maxConnectionsPerAccount: e.MAX_CONNECTIONS_PER_ACCOUNT,
    },
    pricing: { riskFreeRate: e.RISK_FREE_RATE, dividendYield: e.DIVIDEND_YIELD, model: e.PRICING_MODEL },
    market: {
      mockData: e.ENABLE_MOCK_DATA ?? e.KITE_ACCOUNTS.length === 0,
      mockSeed: e.MOCK_SEED,
      mockPriceVariationBps: e.MOCK_PRICE_VARIATION_BPS,
      mockVolumeVariation: e.MOCK_VOLUME_VARIATION,
      streamIntervalSeconds: e.STREAM_INTERVAL_SECONDS,
      tradingHolidays: e.TRADING_HOLIDAYS,
      followMarketHours: e.FOLLOW_MARKET_HOURS,
    },
    roles: e.INGEST_ROLES,
    realtime: {
      managementEndpoint: e.WS_MANAGEMENT_ENDPOINT,
      batchIntervalMs: e.FANOUT_BATCH_INTERVAL_MS,
      maxTokensPerClient: e.MAX_TOKENS_PER_CLIENT,
      demandGraceSeconds: e.DEMAND_GRACE_SECONDS,
      streamCapacity: Math.max(1, e.KITE_ACCOUNTS.length) * e.MAX_CONNECTIONS_PER_ACCOUNT * e.MAX_TOKENS_PER_CONNECTION,
    },
  };
}
