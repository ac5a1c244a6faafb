import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  loadSecretEnvironment,
  parseSecretEnvironment,
  SECRET_ENVIRONMENT_VARIABLE,
  SecretEnvironmentError,
  variableValue,
} from '../../infra/lambda/secret-environment.js';

/** A Secrets Manager stand-in answering GetSecretValue from a map, counting the calls. */
function secrets(values: Record<string, string>) {
  const calls: string[] = [];
  return {
    calls,
    client: {
      send: async (command: GetSecretValueCommand) => {
        const id = command.input.SecretId ?? '';
        calls.push(id);
        const value = values[id];
        if (value === undefined) throw new Error(`no secret ${id}`);
        return { SecretString: value };
      },
    },
  };
}

describe('loadSecretEnvironment', () => {
  it('sets each listed variable from its secret field, reading each secret once', async () => {
    const { client, calls } = secrets({
      jwt: JSON.stringify({ JWT_SECRET: 'j'.repeat(40) }),
      cache: 'Token123',
      kite: JSON.stringify({ KITE_ACCOUNTS: '' }),
    });
    const env: Record<string, string | undefined> = {
      [SECRET_ENVIRONMENT_VARIABLE]: JSON.stringify([
        { name: 'JWT_SECRET', secretArn: 'jwt', field: 'JWT_SECRET' },
        { name: 'REDIS_URL', secretArn: 'cache', template: 'rediss://:{value}@cache.internal:6380' },
        { name: 'REDIS_TOKEN_AGAIN', secretArn: 'cache' },
        { name: 'KITE_ACCOUNTS', secretArn: 'kite', field: 'KITE_ACCOUNTS' },
      ]),
    };
    await loadSecretEnvironment(env, client as never);
    expect(env.JWT_SECRET).toBe('j'.repeat(40));
    expect(env.REDIS_URL).toBe('rediss://:Token123@cache.internal:6380');
    // An empty field leaves the variable unset (no Kite account: mock data).
    expect(env.KITE_ACCOUNTS).toBeUndefined();
    expect(calls.sort()).toEqual(['cache', 'jwt', 'kite']);
  });

  it('does nothing when no secret is listed', async () => {
    const { client, calls } = secrets({});
    await loadSecretEnvironment({}, client as never);
    expect(calls).toEqual([]);
  });

  it('fails the container start, naming the secret, when one cannot be read', async () => {
    const { client } = secrets({});
    const env = { [SECRET_ENVIRONMENT_VARIABLE]: JSON.stringify([{ name: 'JWT_SECRET', secretArn: 'gone' }]) };
    await expect(loadSecretEnvironment(env, client as never)).rejects.toThrow(/could not read secret gone/);
  });

  it('refuses a malformed list and a missing field', () => {
    expect(() => parseSecretEnvironment('[{"name":"X"}]')).toThrow(SecretEnvironmentError);
    expect(() => variableValue({ name: 'X', secretArn: 'a', field: 'Y' }, '{}')).toThrow(SecretEnvironmentError);
    expect(variableValue({ name: 'X', secretArn: 'a', template: 'p:{value}' }, 'a b')).toBe('p:a%20b');
  });
});
