import type { Config } from '../config.js';
import { type ApiKeyMatch, ApiKeyVerifier } from './api-keys.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import { JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js';
import { ownerIdOfSubject } from './owner.js';
import { type Role, type RoleClaimRule, roleFromClaims } from './roles.js';

/** Who is calling, once authenticated. */
export interface Principal {
  /** How the caller proved it. */
  readonly method: 'api-key' | 'jwt';
  /**
   * A stable id of the caller to throttle and log by, and the owner of its orders: the token's
   * `sub` as {@link ownerIdOfSubject} prefixes it, or a short digest of the API key (never the key
   * itself).
   */
  readonly id: string;
  /**
   * What the caller may do: its API key's role, or the role its token's claims give (see
   * {@link roleFromClaims}); `null` for a token whose role claim names no role of ours, which
   * every route refuses.
   */
  readonly role: Role | null;
}

/** The credentials of one request, however they arrived (headers for REST, query for WebSocket). */
export interface Credentials {
  readonly apiKey?: string | undefined;
  readonly bearerToken?: string | undefined;
}

/**
 * Reads credentials from HTTP headers (lower-case names, as API Gateway's payload 2.0 gives them):
 * `x-api-key`, and `Authorization: Bearer <token>`. Other schemes count as no bearer token.
 */
export function credentialsFromHeaders(headers: Readonly<Record<string, string | undefined>>): Credentials {
  const apiKey = headers['x-api-key']?.trim();
  const authorization = headers.authorization?.trim();
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  return {
    ...(apiKey !== undefined && apiKey !== '' && { apiKey }),
    ...(bearer !== undefined && { bearerToken: bearer }),
  };
}

/**
 * Authenticates callers of the REST and WebSocket APIs: a bearer JWT when one is sent, otherwise
 * an API key when keys are enabled. Missing credentials are a 401 ({@link UnauthorizedError}),
 * credentials that do not check out a 403 ({@link ForbiddenError}), so clients can tell "log in"
 * from "your login is wrong".
 */
export class Authenticator {
  readonly #apiKeys: ApiKeyVerifier | undefined;
  readonly #jwt: JwtVerifier;
  readonly #roles: RoleClaimRule;

  /**
   * `apiKeys` undefined means API keys are switched off (`API_KEY_ENABLED=false`); `roles` says how
   * a token names its role (default: the `roles` claim, `trader` without it).
   */
  constructor(options: { apiKeys: ApiKeyVerifier | undefined; jwt: JwtVerifier; roles?: RoleClaimRule }) {
    this.#apiKeys = options.apiKeys;
    this.#jwt = options.jwt;
    this.#roles = options.roles ?? { claim: 'roles', defaultRole: 'trader' };
  }

  async authenticate(credentials: Credentials): Promise<Principal> {
    // Every credential presented must check out: a valid bearer token does not excuse a wrong key.
    const key = credentials.apiKey === undefined ? undefined : this.#verifyApiKey(credentials.apiKey);
    if (credentials.bearerToken !== undefined) {
      const token = await this.#jwt.verify(credentials.bearerToken);
      return { method: 'jwt', id: ownerIdOfSubject(token.subject), role: roleFromClaims(token.claims, this.#roles) };
    }
    if (key !== undefined) return { method: 'api-key', id: key.id, role: key.role };
    throw new UnauthorizedError(
      this.#apiKeys === undefined
        ? 'Authentication required: send Authorization: Bearer <token>'
        : 'Authentication required: send x-api-key or Authorization: Bearer <token>',
    );
  }

  #verifyApiKey(apiKey: string): ApiKeyMatch {
    if (this.#apiKeys === undefined) {
      throw new UnauthorizedError('API keys are not accepted here: send Authorization: Bearer <token>');
    }
    const match = this.#apiKeys.verify(apiKey);
    if (match === undefined) throw new ForbiddenError('Invalid API key');
    return match;
  }
}

/**
 * The JWT verifier the configuration describes (REST bearer tokens and WebSocket `?token=`). HS256
 * tokens are accepted with `JWT_SECRET`; the built-in development secret is public, so it is
 * refused in production and whenever a JWKS is configured (a deployment using its own issuer must
 * not also accept tokens anyone can sign).
 */
export function jwtVerifierFromConfig(
  config: Pick<Config, 'auth' | 'environment'>,
  overrides: Partial<JwtVerifierOptions> = {},
): JwtVerifier {
  const { auth } = config;
  const hsAllowed = !auth.jwtSecretIsDefault || (auth.jwksUrl === undefined && config.environment !== 'production');
  return new JwtVerifier({
    ...(hsAllowed && { secret: auth.jwtSecret }),
    ...(auth.jwksUrl !== undefined && { jwksUrl: auth.jwksUrl }),
    ...(auth.issuer !== undefined && { issuer: auth.issuer }),
    ...(auth.audience !== undefined && { audience: auth.audience }),
    ...overrides,
  });
}

/** How tokens name their role, as the configuration says (`ROLES_CLAIM`, `DEFAULT_ROLE`). */
export function roleClaimRuleOf(config: Pick<Config, 'auth'>): RoleClaimRule {
  return { claim: config.auth.rolesClaim, defaultRole: config.auth.defaultRole };
}

/** The REST authenticator the configuration describes: API keys (when enabled) and JWTs. */
export function authenticatorFromConfig(
  config: Pick<Config, 'auth' | 'environment'>,
  overrides: Partial<JwtVerifierOptions> = {},
): Authenticator {
  return new Authenticator({
    apiKeys: config.auth.apiKeyEnabled ? new ApiKeyVerifier(config.auth.apiKeys) : undefined,
    jwt: jwtVerifierFromConfig(config, overrides),
    roles: roleClaimRuleOf(config),
  });
}
