import type { Principal } from '../../shared/auth/authenticator.js';
import {
  CreateSubscriptionRequest,
  type CreateSubscriptionResponse,
  type DeleteSubscriptionResponse,
  type Subscription,
  type SubscriptionListResponse,
  type SubscriptionResponse,
  UpdateSubscriptionRequest,
} from '../../shared/contracts/subscription.js';
import { rankAccounts } from '../../shared/domain/kite/account-assignment.js';
import { describeError, NotFoundError, ValidationError } from '../../shared/errors.js';
import type { StoredSubscription } from '../../shared/ports/subscription-store.js';
import { Channels, RECONCILE_NOW } from '../../shared/ports/tick-bus.js';
import type { Components } from '../../shared/wiring.js';
import { apiContext } from './context.js';
import type { ProtectedUseCase } from './protected.js';
import { parseJsonBody, parsePath, parseQuery } from './request.js';
import { ListSubscriptionsQuery, TokenPath } from './schemas.js';

/** Page size of `GET /subscriptions` when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 100;

/** The REST shape of a stored subscription (TC-REG-001). */
export function toSubscription(s: StoredSubscription): Subscription {
  return {
    instrument_token: s.instrumentToken,
    tradingsymbol: s.tradingsymbol,
    segment: s.segment,
    status: s.status,
    requested_mode: s.requestedMode,
    account_id: s.accountId,
    created_at: new Date(s.createdAt).toISOString(),
    updated_at: new Date(s.updatedAt).toISOString(),
  };
}

/**
 * Tells the ingest task to reconcile. The change is already durable, so a bus that is down costs
 * only latency (the reconciler's periodic pass picks the change up): it is logged, not failed.
 */
async function announce(components: Components, instrumentToken: number) {
  try {
    await components.bus.publish(Channels.control, RECONCILE_NOW);
  } catch (error) {
    components.logger.warn('Control message not published; the periodic reconcile will apply the change', {
      instrumentToken,
      error: describeError(error),
    });
  }
}

function notSubscribed(token: number): NotFoundError {
  return new NotFoundError(`No subscription for instrument ${token}`);
}

/**
 * `POST /subscriptions` (TC-SUB-001/002, TC-REG-002): validates the token against the instrument
 * registry (404 when it is not there), then upserts: a new subscription is active on an account
 * chosen by rendezvous hashing; a repeat keeps its account and creation time, reactivates it and
 * updates `updated_at` (and the mode, when one is given). Never a second record.
 */
export function createSubscriptionUseCase(components: Components): ProtectedUseCase {
  return async (event, { logger }, principal: Principal) => {
    const { value, raw } = parseJsonBody(event, CreateSubscriptionRequest);
    const api = apiContext(components);
    const instrument = await api.registry.get(value.instrument_token);
    if (instrument === undefined) {
      throw new NotFoundError(`Instrument ${value.instrument_token} is not in the instrument registry`);
    }
    const { subscriptions, clock } = components;
    // One write: a mode the body leaves out and an account already assigned stay as they are.
    const stored = await subscriptions.upsert(
      {
        instrumentToken: instrument.instrumentToken,
        tradingsymbol: instrument.tradingsymbol,
        segment: instrument.segment,
        status: 'active',
        requestedMode: value.mode,
        accountId: rankAccounts(instrument.instrumentToken, api.accountIds)[0] ?? null,
        keep: 'mode' in raw ? ['accountId'] : ['requestedMode', 'accountId'],
      },
      clock.now(),
    );
    await announce(components, stored.instrumentToken);
    logger.info('Subscription created', { instrumentToken: stored.instrumentToken, caller: principal.id });
    const body: CreateSubscriptionResponse = {
      message: 'Subscription created',
      instrument_token: stored.instrumentToken,
    };
    return { status: 200, body };
  };
}

/** `GET /subscriptions?status=&limit=&cursor=` (TC-SUB-003, TC-REG-001): one page, by token. */
export function listSubscriptionsUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const query = parseQuery(event, ListSubscriptionsQuery);
    const page = await components.subscriptions.list({
      limit: query.limit ?? DEFAULT_PAGE_SIZE,
      ...(query.status !== undefined && { status: query.status }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    const body: SubscriptionListResponse = {
      subscriptions: page.items.map(toSubscription),
      next_cursor: page.cursor ?? null,
    };
    return { status: 200, body };
  };
}

/** `DELETE /subscriptions/{token}` (TC-SUB-004): soft delete; the record stays, `inactive`. */
export function deleteSubscriptionUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const { token } = parsePath(event, TokenPath);
    const stored = await components.subscriptions.deactivate(token, components.clock.now());
    if (stored === undefined) throw notSubscribed(token);
    await announce(components, stored.instrumentToken);
    const body: DeleteSubscriptionResponse = {
      message: 'Subscription deactivated',
      instrument_token: stored.instrumentToken,
      subscription: toSubscription(stored),
    };
    return { status: 200, body };
  };
}

/**
 * `PATCH /subscriptions/{token}` (TC-SUB-005, 020, 021): changes status, mode and account. An
 * account must be one the platform streams with (400 otherwise); `null` clears it.
 */
export function updateSubscriptionUseCase(components: Components): ProtectedUseCase {
  return async (event) => {
    const { token } = parsePath(event, TokenPath);
    const { value } = parseJsonBody(event, UpdateSubscriptionRequest);
    const { accountIds } = apiContext(components);
    if (typeof value.account_id === 'string' && !accountIds.includes(value.account_id)) {
      throw new ValidationError(`Unknown account ${JSON.stringify(value.account_id)}`, [
        { path: 'account_id', message: `must be one of ${accountIds.join(', ')} or null` },
      ]);
    }
    const stored = await components.subscriptions.update(
      token,
      {
        ...(value.status !== undefined && { status: value.status }),
        ...(value.mode !== undefined && { requestedMode: value.mode }),
        ...(value.account_id !== undefined && { accountId: value.account_id }),
      },
      components.clock.now(),
    );
    if (stored === undefined) throw notSubscribed(token);
    await announce(components, stored.instrumentToken);
    const body: SubscriptionResponse = { subscription: toSubscription(stored) };
    return { status: 200, body };
  };
}
