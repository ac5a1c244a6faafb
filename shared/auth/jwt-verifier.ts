import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { DependencyUnavailableError } from '../errors.js';
import type { Secret } from '../secret.js';
import { ForbiddenError } from './errors.js';

/** Algorithms verified with the shared secret (`JWT_SECRET`). */
export const SYMMETRIC_ALGORITHMS = ['HS256'] as const;
/** Algorithms verified with the issuer's public keys (`JWKS_URL`). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'] as const;

/** What a verified token says about its caller. */
export interface VerifiedToken {
  /**
   * Who the token was issued to: the `sub` claim, or `user_id` for tokens from the seed's user
   * service, which carry `user_id`, `email` and `name` and no `sub` (TC-WSS-010).
   */
  readonly subject: string;
  readonly claims: JWTPayload;
}

/** How to verify; built from the `auth` section of the configuration. */
export interface JwtVerifierOptions {
  /** The HS256 secret, or `undefined` to refuse every HS256 token. */
  readonly secret?: Secret;
  /** The JWKS endpoint for RS256/ES256, or `undefined` to refuse every asymmetric token. */
  readonly jwksUrl?: string;
  /** A key set in place of `jwksUrl` (tests, or keys fetched elsewhere). */
  readonly keySet?: JWTVerifyGetKey;
  readonly issuer?: string;
  readonly audience?: string;
  /** Allowed clock skew for `exp` and `nbf`. Default 30 s. */
  readonly clockToleranceSeconds?: number;
  /** Current time for `exp`/`nbf`, epoch milliseconds (tests). Default the system clock. */
  readonly now?: () => number;
}

/**
 * Verifies bearer tokens for the REST and WebSocket APIs with `jose`.
 *
 * Why it looks at the header first: the algorithm decides the key, never the other way round. An
 * HS256 token is checked only against the shared secret with only HS256 allowed, an RS256/ES256
 * token only against the JWKS with only those allowed, so a token signed with HMAC over the public
 * key (the classic HS/RS confusion) and `alg: none` tokens are refused before any key is used.
 * `exp` is required; an `iat` in the future beyond the clock tolerance is refused (jose checks it
 * only with `maxTokenAge`, and a token minted ahead of time is a forged or misconfigured issuer);
 * `nbf`, `iss` and `aud` are checked when configured; every failure is a
 * {@link ForbiddenError} whose message says what was wrong, never the token; a key set that cannot
 * be fetched is a `DependencyUnavailableError` (503), since the caller is not at fault.
 */
export class JwtVerifier {
  readonly #options: JwtVerifierOptions;
  readonly #secret: Uint8Array | undefined;
  readonly #keySet: JWTVerifyGetKey | undefined;

  constructor(options: JwtVerifierOptions) {
    this.#options = options;
    this.#secret = options.secret === undefined ? undefined : new TextEncoder().encode(options.secret.reveal());
    this.#keySet =
      options.keySet ?? (options.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(options.jwksUrl)));
  }

  /** Resolves with the token's subject and claims, or rejects with a {@link ForbiddenError}. */
  async verify(token: string): Promise<VerifiedToken> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (error) {
      throw new ForbiddenError('Invalid token: not a JWT', { cause: error });
    }
    const toleranceSeconds = this.#options.clockToleranceSeconds ?? 30;
    const nowMs = this.#options.now?.() ?? Date.now();
    const common = {
      requiredClaims: ['exp'],
      clockTolerance: toleranceSeconds,
      ...(this.#options.issuer !== undefined && { issuer: this.#options.issuer }),
      ...(this.#options.audience !== undefined && { audience: this.#options.audience }),
      ...(this.#options.now !== undefined && { currentDate: new Date(this.#options.now()) }),
    };
    try {
      if (isOneOf(alg, SYMMETRIC_ALGORITHMS) && this.#secret !== undefined) {
        const { payload } = await jwtVerify(token, this.#secret, { ...common, algorithms: [...SYMMETRIC_ALGORITHMS] });
        return verified(payload, nowMs, toleranceSeconds);
      }
      if (isOneOf(alg, ASYMMETRIC_ALGORITHMS) && this.#keySet !== undefined) {
        const { payload } = await jwtVerify(token, this.#keySet, { ...common, algorithms: [...ASYMMETRIC_ALGORITHMS] });
        return verified(payload, nowMs, toleranceSeconds);
      }
    } catch (error) {
      if (error instanceof ForbiddenError) throw error;
      if (
        error instanceof errors.JWKSTimeout ||
        error instanceof errors.JWKSInvalid ||
        !(error instanceof errors.JOSEError)
      ) {
        throw new DependencyUnavailableError('jwks', 'The token signing keys cannot be fetched', { cause: error });
      }
      throw new ForbiddenError(`Invalid token: ${reason(error)}`, { cause: error });
    }
    throw new ForbiddenError(`Invalid token: algorithm ${String(alg)} is not accepted`);
  }
}

function isOneOf<T extends string>(value: string | undefined, allowed: readonly T[]): value is T {
  return value !== undefined && (allowed as readonly string[]).includes(value);
}

function verified(payload: JWTPayload, nowMs: number, toleranceSeconds: number): VerifiedToken {
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + toleranceSeconds) {
    throw new ForbiddenError('Invalid token: claim iat is in the future');
  }
  const subject = nonEmptyString(payload.sub) ?? nonEmptyString(payload.user_id);
  if (subject === undefined) {
    throw new ForbiddenError('Invalid token: neither the sub nor the user_id claim is present');
  }
  return { subject, claims: payload };
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** What went wrong, in words a caller can act on; jose's codes are stable, its messages less so. */
function reason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key matches the token';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not accepted';
  if (error instanceof errors.JOSEError) return error.code;
  return 'cannot be verified';
}
