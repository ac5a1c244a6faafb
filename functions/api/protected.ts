import { credentialsFromHeaders, type Principal } from '../../shared/auth/authenticator.js';
import { MissingRoleError, RateLimitedError } from '../../shared/auth/errors.js';
import { hasRole, type Role } from '../../shared/auth/roles.js';
import type { Components } from '../../shared/wiring.js';
import type { HttpUseCase } from '../http/http-handler.js';
import { apiContext } from './context.js';

/** Who may call a route: anyone (`public`), or a caller holding at least this role. */
export type RouteAccess = 'public' | Role;

/** A use case that runs only for an authenticated caller holding the route's role, within its request budget. */
export type ProtectedUseCase = (...args: [...Parameters<HttpUseCase>, principal: Principal]) => ReturnType<HttpUseCase>;

/**
 * The one guard of every non-public REST route: authentication (401 without credentials, 403 with
 * bad ones), per-caller throttling (429 with `Retry-After`), then the route's role (403 naming it,
 * {@link MissingRoleError}). The route table says which role; use cases never check it themselves,
 * they only scope data to the caller (an order of someone else is a 404 below admin). Done in the
 * function rather than in API Gateway so the local gateway, which runs the same use cases,
 * enforces exactly the same rules.
 */
export function guarded(components: Components, required: Role, useCase: ProtectedUseCase): HttpUseCase {
  return async (event, context) => {
    const api = apiContext(components);
    const principal = await api.authenticator.authenticate(credentialsFromHeaders(event.headers ?? {}));
    const taken = api.throttle.take(principal.id);
    if (!taken.allowed) {
      throw new RateLimitedError(taken.retryAfterSeconds, `Too many requests: retry in ${taken.retryAfterSeconds} s`);
    }
    if (!hasRole(principal.role, required)) throw new MissingRoleError(required);
    return useCase(event, context, principal);
  };
}
