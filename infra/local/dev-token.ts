import { SignJWT } from 'jose';
import { type Role, roleClaimValue } from '../../shared/auth/roles.js';
import type { Config } from '../../shared/config.js';

/** Who a development token names, and how long it lasts. */
export interface DevTokenClaims {
  readonly subject: string;
  readonly name: string;
  readonly email: string | null;
  /** The role the token grants, written into the configured `ROLES_CLAIM` the way that claim is usually shaped. */
  readonly role: Role;
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
}

/** A signed development token and when it expires. */
export interface DevToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/**
 * Whether this platform accepts HS256 tokens signed with `JWT_SECRET`, and so whether a token minted
 * here would be honoured. Mirrors the verifier's rule: the public development secret is refused in
 * production and whenever a JWKS is configured.
 */
export function canMintDevTokens(config: Pick<Config, 'auth' | 'environment'>): boolean {
  const { auth } = config;
  return !auth.jwtSecretIsDefault || (auth.jwksUrl === undefined && config.environment !== 'production');
}

/**
 * Signs an HS256 token with the configured secret (and issuer and audience, when configured), for
 * local tools: the dashboard page and `npm run tail`. It is as good as any token the platform
 * accepts, so it is handed out only where `canMintDevTokens` holds and only on this machine.
 */
export async function mintDevToken(
  config: Pick<Config, 'auth'>,
  claims: DevTokenClaims,
  nowMs: number = Date.now(),
): Promise<DevToken> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + claims.ttlSeconds;
  let jwt = new SignJWT({
    name: claims.name,
    email: claims.email,
    [config.auth.rolesClaim]: roleClaimValue(config.auth.rolesClaim, claims.role),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt);
  if (config.auth.issuer !== undefined) jwt = jwt.setIssuer(config.auth.issuer);
  if (config.auth.audience !== undefined) jwt = jwt.setAudience(config.auth.audience);
  const token = await jwt.sign(new TextEncoder().encode(config.auth.jwtSecret.reveal()));
  return { token, expiresAtMs: expiresAt * 1000 };
}
