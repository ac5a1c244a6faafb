/**
 * Authentication and throttling for the platform's public APIs (REST now, WebSocket next): one
 * verifier, so both accept and refuse exactly the same credentials.
 */
export type { ApiKeyMatch, ApiKeyRecord } from './api-keys.js';
export { ApiKeyVerifier, apiKeyDigest, parseApiKeyEntry } from './api-keys.js';
export type { Credentials, Principal } from './authenticator.js';
export {
  Authenticator,
  authenticatorFromConfig,
  credentialsFromHeaders,
  jwtVerifierFromConfig,
  roleClaimRuleOf,
} from './authenticator.js';
export { ForbiddenError, MissingRoleError, RateLimitedError, UnauthorizedError } from './errors.js';
export type { JwtVerifierOptions, VerifiedToken } from './jwt-verifier.js';
export { ASYMMETRIC_ALGORITHMS, JwtVerifier, SYMMETRIC_ALGORITHMS } from './jwt-verifier.js';
export { ownerIdOfSubject } from './owner.js';
export type { RoleClaimRule } from './roles.js';
export { hasRole, highest, isRole, ROLES, Role, roleClaimValue, roleFromClaims } from './roles.js';
export type { TakeResult, TokenBucketOptions } from './token-bucket.js';
export { TokenBuckets } from './token-bucket.js';
