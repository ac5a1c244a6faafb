import { credentialsFromHeaders, type Principal } from '../../shared/auth/authenticator.js';
import { RateLimitedError } from '../../shared/auth/errors.js';
import type { Components } from '../../shared/wiring.js';
import type { HttpUseCase } from '../http/http-handler.js';
import { apiContext } from './context.js';

/** A use case that runs only for an authenticated caller within its request budget. */
export type ProtectedUseCase = (...args: [...Parameters<HttpUseCase>, principal: Principal]) => ReturnType<HttpUseCase>;

/**
 * Wraps a use case with authentication (401 without credentials, 403 with bad ones) and per-caller
 * throttling (429 with `Retry-After`). Done in the function rather than in a middy middleware so
 * the local gateway, which runs the same use cases, enforces exactly the same rules.
 */
export function authenticated(components: Components, useCase: ProtectedUseCase): HttpUseCase {
  return async (event, context) => {
    const api = apiContext(components);
    const principal = await api.authenticator.authenticate(credentialsFromHeaders(event.headers ?? {}));
    const taken = api.throttle.take(principal.id);
    if (!taken.allowed) {
      throw new RateLimitedError(taken.retryAfterSeconds, `Too many requests: retry in ${taken.retryAfterSeconds} s`);
    }
    return useCase(event, context, principal);
  };
}
