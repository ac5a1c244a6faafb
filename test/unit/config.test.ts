import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { apiKeyDigest } from '../../shared/auth/api-keys.js';
import { EnvSchema, loadConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';

function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('TC-REG-042: defaults the circuit breaker to 5 failures, 60 s recovery and 3 half-open calls', () => {
    const config = loadConfig({});
    expect(config.circuitBreaker).toEqual({
      failureThreshold: 5,
      recoveryTimeoutSeconds: 60,
      halfOpenMaxCalls: 3,
      closedReadTtlMs: 1000,
    });
  });

  it('takes the plan defaults for Kite limits, pricing and orders', () => {
    const config = loadConfig({});
    expect(config.kite.maxTokensPerConnection).toBe(3000);
    expect(config.kite.maxConnectionsPerAccount).toBe(3);
    expect(config.pricing).toEqual({ riskFreeRate: 0.1, dividendYield: 0, model: 'black-scholes' });
    expect(config.orders.maxAttempts).toBe(3);
    expect(config.port).toBe(8080);
    expect(config.market.mockData).toBe(true);
    expect(config.redis.url).toBeUndefined();
    expect(config.auth.jwtSecretIsDefault).toBe(true);
  });

  it('parses numbers, booleans, lists and Kite accounts', () => {
    const config = loadConfig({
      PORT: '9000',
      API_KEY_ENABLED: 'false',
      API_KEYS: 'k1, k2',
      KITE_ACCOUNTS: 'primary:key1:tok1,backup:key2:tok2',
      TRADING_HOLIDAYS: '2025-01-26,2025-03-14',
      RISK_FREE_RATE: '0.065',
      MAX_TOKENS_PER_CONNECTION: '1000',
    });
    expect(config.port).toBe(9000);
    expect(config.auth.apiKeyEnabled).toBe(false);
    expect(config.auth.apiKeys).toEqual([
      { sha256: apiKeyDigest('k1'), role: 'admin' },
      { sha256: apiKeyDigest('k2'), role: 'admin' },
    ]);
    expect(config.kite.accounts.map((a) => [a.id, a.apiKey, a.accessToken.reveal()])).toEqual([
      ['primary', 'key1', 'tok1'],
      ['backup', 'key2', 'tok2'],
    ]);
    expect(config.market.mockData).toBe(false);
    expect(config.market.tradingHolidays).toEqual(['2025-01-26', '2025-03-14']);
    expect(config.pricing.riskFreeRate).toBe(0.065);
    expect(config.kite.maxTokensPerConnection).toBe(1000);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '  ' }).port).toBe(8080);
  });

  it.each([
    ['CIRCUIT_BREAKER_FAILURE_THRESHOLD', '-1', 'must be at least 1'],
    ['CIRCUIT_BREAKER_FAILURE_THRESHOLD', '2.5', 'must be a whole number'],
    ['CIRCUIT_BREAKER_RECOVERY_TIMEOUT_SECONDS', 'soon', 'must be a number'],
    ['REDIS_URL', 'localhost:6379', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'http://localhost:6379', 'must be a redis:// or rediss:// URL'],
    ['PORT', '70000', 'must be at most 65535'],
    ['MAX_CONNECTIONS_PER_ACCOUNT', '4', 'must be at most 3'],
    ['MAX_TOKENS_PER_CONNECTION', '3001', 'must be at most 3000'],
    ['RISK_FREE_RATE', 'Infinity', 'must be'],
    ['API_KEY_ENABLED', 'maybe', 'must be true or false'],
    ['KITE_ACCOUNTS', 'primary:key-only', 'entry 1 must be id:api_key:access_token'],
    ['TRADING_HOLIDAYS', '2025-13-01', 'must be a date as YYYY-MM-DD'],
    ['KITE_TICKER_URL', 'https://ws.kite.trade', 'must be a URL starting with wss:// or ws://'],
    ['INGEST_ROLES', 'ingest,bogus', 'must list ingest and/or fanout'],
  ])('rejects %s=%s naming the variable', (variable, value, message) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.variable).toBe(variable);
    expect(problems[0]?.message).toContain(message);
  });

  it('reports every wrong variable at once, one per line', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'x', REDIS_URL: 'nope', ORDER_MAX_ATTEMPTS: '0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.code).toBe('CONFIG_INVALID');
    expect(configError.name).toBe('ConfigError');
    expect(configError.problems.map((p) => p.variable).sort()).toEqual(['ORDER_MAX_ATTEMPTS', 'PORT', 'REDIS_URL']);
    expect(configError.message.split('\n')).toHaveLength(4);
  });

  it('leaves the order sweep interval to the platform unless set, and takes 1-3600 s', () => {
    expect(loadConfig({}).orders.sweepIntervalSeconds).toBeUndefined();
    expect(loadConfig({ ORDER_SWEEP_INTERVAL_SECONDS: '5' }).orders.sweepIntervalSeconds).toBe(5);
    expect(problemsOf({ ORDER_SWEEP_INTERVAL_SECONDS: '0' })[0]?.variable).toBe('ORDER_SWEEP_INTERVAL_SECONDS');
  });

  it('checks rules that span variables', () => {
    expect(problemsOf({ ORDER_RETRY_BASE_SECONDS: '10', ORDER_RETRY_MAX_SECONDS: '5' })[0]?.variable).toBe(
      'ORDER_RETRY_MAX_SECONDS',
    );
    expect(problemsOf({ ENABLE_MOCK_DATA: 'false' })[0]?.variable).toBe('ENABLE_MOCK_DATA');
    expect(problemsOf({ ENVIRONMENT: 'production' })[0]?.variable).toBe('JWT_SECRET');
  });

  it('never shows a secret value in an error, a log line or an inspected config', () => {
    const secretish = 'ZQ9-not-long-enough';
    const problems = problemsOf({
      JWT_SECRET: secretish,
      KITE_ACCOUNTS: 'a:b:TOKEN-XYZ-123:secret:extra',
      REDIS_URL: 'pw-777',
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(['JWT_SECRET', 'KITE_ACCOUNTS', 'REDIS_URL']);
    const text = JSON.stringify(problems);
    for (const value of [secretish, 'TOKEN-XYZ-123', 'pw-777']) expect(text).not.toContain(value);

    const config = loadConfig({
      JWT_SECRET: 's'.repeat(40),
      KITE_ACCOUNTS: 'primary:key1:access-token-value:api-secret-value',
      API_KEYS: 'api-key-value',
      REDIS_URL: 'redis://:redis-password@127.0.0.1:6379',
    });
    expect(config.kite.accounts[0]?.apiSecret?.reveal()).toBe('api-secret-value');
    for (const rendered of [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.auth.jwtSecret)]) {
      for (const value of [
        's'.repeat(40),
        'access-token-value',
        'api-secret-value',
        'api-key-value',
        'redis-password',
      ]) {
        expect(rendered).not.toContain(value);
      }
    }
  });

  it('is documented: the README lists every variable', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(EnvSchema.shape).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
