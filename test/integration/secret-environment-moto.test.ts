import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  loadSecretEnvironment,
  SECRET_ENVIRONMENT_VARIABLE,
  SecretEnvironmentError,
} from '../../infra/lambda/secret-environment.js';
import { sharedMoto } from '../support/shared-moto.js';

const moto = sharedMoto();

/** A secret on moto under a fresh name; answers its ARN, which is what the functions are given. */
async function secret(value: string): Promise<string> {
  const client = await moto.secretsManager();
  const created = await client.send(
    new CreateSecretCommand({ Name: `ticker/test/${randomUUID().slice(0, 8)}`, SecretString: value }),
  );
  return created.ARN ?? '';
}

/**
 * The Lambda container's secret loader against moto's Secrets Manager (an implementation nobody
 * here wrote): the calls it makes, the fields and templates it fills, rotation and a missing secret.
 */
describe('loadSecretEnvironment on Secrets Manager (moto)', () => {
  it('sets each variable from its secret, a JSON field or the whole string in a template', async () => {
    const app = await secret(JSON.stringify({ JWT_SECRET: 'j'.repeat(40), API_KEYS: 'k1,k2', KITE_ACCOUNTS: '' }));
    const cache = await secret('p@ss word/+');
    const env: Record<string, string | undefined> = {
      [SECRET_ENVIRONMENT_VARIABLE]: JSON.stringify([
        { name: 'JWT_SECRET', secretArn: app, field: 'JWT_SECRET' },
        { name: 'API_KEYS', secretArn: app, field: 'API_KEYS' },
        { name: 'KITE_ACCOUNTS', secretArn: app, field: 'KITE_ACCOUNTS' },
        { name: 'REDIS_URL', secretArn: cache, template: 'rediss://:{value}@cache.internal:6380' },
      ]),
    };
    await loadSecretEnvironment(env, await moto.secretsManager());
    expect(env).toMatchObject({
      JWT_SECRET: 'j'.repeat(40),
      API_KEYS: 'k1,k2',
      REDIS_URL: 'rediss://:p%40ss%20word%2F%2B@cache.internal:6380',
    });
    // An empty field leaves the variable unset: no Kite account means mock data.
    expect(env).not.toHaveProperty('KITE_ACCOUNTS');
  });

  it('reads the current version, so a rotated value reaches the next container', async () => {
    const arn = await secret('first');
    await (await moto.secretsManager()).send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'second' }));
    const env = { [SECRET_ENVIRONMENT_VARIABLE]: JSON.stringify([{ name: 'TOKEN', secretArn: arn }]) };
    await loadSecretEnvironment(env, await moto.secretsManager());
    expect(env).toMatchObject({ TOKEN: 'second' });
  });

  it('fails the container start naming a secret that does not exist, with Secrets Manager’s error as cause', async () => {
    const missing = (await secret('x')).replace(/ticker\/test\/[^-]+/, 'ticker/test/none');
    const env = { [SECRET_ENVIRONMENT_VARIABLE]: JSON.stringify([{ name: 'TOKEN', secretArn: missing }]) };
    const error = await loadSecretEnvironment(env, await moto.secretsManager()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretEnvironmentError);
    expect((error as Error).message).toContain(missing);
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
