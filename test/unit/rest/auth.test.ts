import { createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ApiKeyVerifier, apiKeyDigest } from '../../../shared/auth/api-keys.js';
import { Authenticator, authenticatorFromConfig, credentialsFromHeaders } from '../../../shared/auth/authenticator.js';
import { ForbiddenError, UnauthorizedError } from '../../../shared/auth/errors.js';
import { JwtVerifier } from '../../../shared/auth/jwt-verifier.js';
import { TokenBuckets } from '../../../shared/auth/token-bucket.js';
import { loadConfig } from '../../../shared/config.js';
import { Secret } from '../../../shared/secret.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);
const nowS = () => Math.floor(Date.now() / 1000);

function hs256(claims: Record<string, unknown> = {}, expiresIn: string | number = '5m') {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

describe('ApiKeyVerifier', () => {
  const verifier = new ApiKeyVerifier([
    { sha256: apiKeyDigest('alpha'), role: 'admin' },
    { sha256: apiKeyDigest('beta'), role: 'viewer' },
  ]);

  it("accepts configured keys with a stable id that does not contain the key, and the key's role", () => {
    const id = verifier.verify('beta')?.id;
    expect(id).toMatch(/^key-[0-9a-f]{16}$/);
    expect(verifier.verify('beta')).toEqual({ id, role: 'viewer' });
    expect(id).not.toContain('beta');
    expect(verifier.verify('alpha')?.id).not.toBe(id);
    expect(verifier.verify('alpha')?.role).toBe('admin');
  });

  it('refuses unknown keys, prefixes and empty keys', () => {
    for (const presented of ['gamma', 'alph', 'alphaa', '', 'ALPHA'])
      expect(verifier.verify(presented)).toBeUndefined();
    expect(new ApiKeyVerifier([]).verify('alpha')).toBeUndefined();
  });
});

describe('JwtVerifier', () => {
  const verifier = new JwtVerifier({ secret: new Secret(SECRET), issuer: 'ticker', audience: 'api' });

  it('accepts an HS256 token with the right secret, issuer and audience', async () => {
    const token = await hs256({ iss: 'ticker', aud: 'api' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'user-1' });
  });

  it.each([
    ['an expired token', () => hs256({ iss: 'ticker', aud: 'api' }, nowS() - 120), /expired/],
    ['a token not valid yet', () => hs256({ iss: 'ticker', aud: 'api', nbf: nowS() + 600 }), /nbf/],
    ['the wrong issuer', () => hs256({ iss: 'someone', aud: 'api' }), /iss/],
    ['the wrong audience', () => hs256({ iss: 'ticker', aud: 'other' }), /aud/],
    [
      'a token without exp',
      () => new SignJWT({ iss: 'ticker', aud: 'api' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').sign(key),
      /exp/,
    ],
    [
      'a token signed with another secret',
      () =>
        new SignJWT({ iss: 'ticker', aud: 'api' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('another-secret-of-sufficient-length-000')),
      /signature/,
    ],
    [
      'alg none',
      async () => new UnsecuredJWT({ iss: 'ticker', aud: 'api', sub: 'u', exp: nowS() + 60 }).encode(),
      /algorithm none/,
    ],
    ['garbage', async () => 'not.a.jwt', /not a JWT|cannot|JWS/],
  ])('refuses %s with a 403 naming why', async (_label, make, reason) => {
    const failure = verifier.verify(await make());
    await expect(failure).rejects.toBeInstanceOf(ForbiddenError);
    await expect(failure).rejects.toThrow(reason);
  });

  it('refuses an iat in the future beyond the clock tolerance, and accepts one within it', async () => {
    const at = (iat: number) =>
      new SignJWT({ iss: 'ticker', aud: 'api' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('user-1')
        .setIssuedAt(iat)
        .setExpirationTime(nowS() + 3600)
        .sign(key);
    await expect(verifier.verify(await at(nowS() + 600))).rejects.toThrow(/iat is in the future/);
    await expect(verifier.verify(await at(nowS() + 10))).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('TC-WSS-010: accepts a seed-style token with user_id, email and name and no sub', async () => {
    const seed = await new SignJWT({ iss: 'ticker', aud: 'api', user_id: 'u-7', email: 'a@b.in', name: 'Asha' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    await expect(verifier.verify(seed)).resolves.toMatchObject({ subject: 'u-7', claims: { email: 'a@b.in' } });
    const anonymous = await new SignJWT({ iss: 'ticker', aud: 'api' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(key);
    await expect(verifier.verify(anonymous)).rejects.toThrow(/neither the sub nor the user_id/);
  });

  it('verifies RS256 and ES256 tokens against the JWKS only, and refuses HS256 signed with the public key', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    const jwks = createLocalJWKSet({
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256' },
      ],
    });
    const asymmetric = new JwtVerifier({ keySet: jwks });
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa' })
      .setSubject('rs-user')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const es = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'ec' })
      .setSubject('es-user')
      .setExpirationTime('5m')
      .sign(ec.privateKey);
    await expect(asymmetric.verify(rs)).resolves.toMatchObject({ subject: 'rs-user' });
    await expect(asymmetric.verify(es)).resolves.toMatchObject({ subject: 'es-user' });

    // The classic confusion: HMAC with the RSA public key as the secret, hoping it is used as such.
    const pem = await exportSPKI(rsa.publicKey);
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
      .setSubject('attacker')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await expect(asymmetric.verify(confused)).rejects.toThrow(/algorithm HS256 is not accepted/);
    // And an HS256-only verifier refuses RS256 tokens.
    await expect(verifier.verify(rs)).rejects.toThrow(/algorithm RS256 is not accepted/);
  });
});

describe('Authenticator', () => {
  const authenticator = authenticatorFromConfig(loadConfig({ API_KEYS: 'k1,k2', JWT_SECRET: SECRET }));

  it('reads x-api-key and Bearer tokens from headers', () => {
    expect(credentialsFromHeaders({ 'x-api-key': ' k1 ', authorization: 'Bearer abc' })).toEqual({
      apiKey: 'k1',
      bearerToken: 'abc',
    });
    expect(credentialsFromHeaders({ authorization: 'Basic abc' })).toEqual({});
  });

  it('answers missing credentials with UnauthorizedError (401) and bad ones with ForbiddenError (403)', async () => {
    await expect(authenticator.authenticate({})).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(authenticator.authenticate({ apiKey: 'k3' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(authenticator.authenticate({ bearerToken: 'x.y.z' })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('accepts a configured key or a valid token', async () => {
    await expect(authenticator.authenticate({ apiKey: 'k2' })).resolves.toMatchObject({
      method: 'api-key',
      role: 'admin',
    });
    await expect(authenticator.authenticate({ bearerToken: await hs256() })).resolves.toEqual({
      method: 'jwt',
      id: 'sub-user-1',
      role: 'trader',
    });
  });

  it('refuses an invalid x-api-key even when the bearer token is valid', async () => {
    const token = await hs256();
    await expect(authenticator.authenticate({ apiKey: 'k3', bearerToken: token })).rejects.toThrow(/Invalid API key/);
    await expect(authenticator.authenticate({ apiKey: 'k1', bearerToken: token })).resolves.toEqual({
      method: 'jwt',
      id: 'sub-user-1',
      role: 'trader',
    });
  });

  it('ignores API keys when API_KEY_ENABLED is false', async () => {
    const tokensOnly = authenticatorFromConfig(loadConfig({ API_KEYS: 'k1', API_KEY_ENABLED: 'false' }));
    await expect(tokensOnly.authenticate({ apiKey: 'k1' })).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses tokens signed with the public development secret once a JWKS is configured', async () => {
    const config = loadConfig({ JWKS_URL: 'https://issuer.example/.well-known/jwks.json' });
    const withJwks = authenticatorFromConfig(config);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(config.auth.jwtSecret.reveal()));
    await expect(withJwks.authenticate({ bearerToken: token })).rejects.toThrow(/not accepted/);
    expect(new Authenticator({ apiKeys: undefined, jwt: new JwtVerifier({}) })).toBeDefined();
  });
});

describe('TokenBuckets', () => {
  it('lets a burst through, then holds callers to the rate with a Retry-After', () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 3, ratePerSecond: 0.5, now: () => now });
    expect([1, 2, 3].map(() => buckets.take('a').allowed)).toEqual([true, true, true]);
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect(buckets.take('b').allowed).toBe(true);
    now = 2000;
    expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
  });

  it('drops full buckets when it holds too many', () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 1, ratePerSecond: 1, now: () => now, maxBuckets: 2 });
    buckets.take('a');
    buckets.take('b');
    now = 5000;
    expect(buckets.take('c').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(true);
  });
});
