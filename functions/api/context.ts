import { type Authenticator, authenticatorFromConfig } from '../../shared/auth/authenticator.js';
import { TokenBuckets } from '../../shared/auth/token-bucket.js';
import type { Components } from '../../shared/wiring.js';
import { InstrumentRegistry } from './instrument-registry.js';

/** Per-key request budget: bursts of this many requests... */
export const THROTTLE_BURST = 2000;
/** ...refilled at this many requests per second. */
export const THROTTLE_RATE_PER_SECOND = 1000;

/** What the REST use cases share within one container (one Lambda instance, or the local platform). */
export interface ApiContext {
  readonly authenticator: Authenticator;
  readonly throttle: TokenBuckets;
  readonly registry: InstrumentRegistry;
  /** Account ids subscriptions may be assigned to: the Kite accounts, or `mock` without any. */
  readonly accountIds: readonly string[];
}

const contexts = new WeakMap<Components, ApiContext>();

/**
 * The API context of `components`, built on first use and shared by every route of the container,
 * so the registry is loaded once, the JWKS is fetched once and throttling counts across routes.
 */
export function apiContext(components: Components): ApiContext {
  let context = contexts.get(components);
  if (context === undefined) {
    const { config, clock } = components;
    const mock = config.market.mockData || config.kite.accounts.length === 0;
    context = {
      authenticator: authenticatorFromConfig(config),
      throttle: new TokenBuckets({
        burst: THROTTLE_BURST,
        ratePerSecond: THROTTLE_RATE_PER_SECOND,
        now: () => clock.now(),
      }),
      registry: new InstrumentRegistry({
        load: () => components.loadInstruments(),
        clock,
        source: mock ? 'mock' : 'kite',
      }),
      accountIds: config.kite.accounts.length > 0 ? config.kite.accounts.map((a) => a.id) : ['mock'],
    };
    contexts.set(components, context);
  }
  return context;
}
