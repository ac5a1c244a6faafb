import { Mutex } from 'async-mutex';
import type { KiteMode, MarketTick } from '../../shared/contracts/tick.js';
import { rankAccounts } from '../../shared/domain/kite/account-assignment.js';
import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import { KiteAuthError, KiteRateLimitError } from './errors.js';
import type { KiteTextMessage } from './protocol/index.js';
import {
  type AccessTokenProvider,
  type ConnectionState,
  KiteTickerConnection,
  type TickerConnectionOptions,
} from './ticker-connection.js';

/** A Kite account the pool may stream with. */
export interface KiteAccount {
  readonly id: string;
  readonly apiKey: string;
  readonly accessToken: AccessTokenProvider;
}

export interface KitePoolOptions {
  readonly url: string;
  readonly accounts: readonly KiteAccount[];
  readonly logger: Logger;
  readonly onTicks: (accountId: string, ticks: MarketTick[]) => void;
  readonly onText?: (accountId: string, message: KiteTextMessage) => void;
  /** Instruments per connection; Kite allows 3000. */
  readonly maxTokensPerConnection?: number;
  /** Connections per api key; Kite allows 3. */
  readonly maxConnectionsPerAccount?: number;
  /** How long a subscribe may wait for its connection to be open. Default 10 s. */
  readonly subscribeTimeoutMs?: number;
  /** How long an account that hit a rate limit is left alone before it is tried again. Default 60 s. */
  readonly rateLimitCooldownMs?: number;
  /** Passed to every connection (watchdog, backoff, timeouts). */
  readonly connection?: Pick<
    TickerConnectionOptions,
    'watchdogMs' | 'reconnectDelayMs' | 'startTimeoutMs' | 'handshakeTimeoutMs' | 'decodeDepth'
  >;
}

/** Why an account is not being used for new tokens. */
export type AccountStatus = 'ok' | 'rate-limited' | 'auth-failed';

/** What a subscribe did, token by token. */
export interface SubscribeResult {
  readonly subscribed: readonly number[];
  /** Already streaming: skipped (their mode is updated if it differed). */
  readonly duplicates: readonly number[];
  readonly failed: readonly { readonly token: number; readonly error: Error }[];
}

/** The pool as it is now: every gauge is computed from the live state, never kept separately. */
export interface PoolMetrics {
  readonly connections: number;
  readonly subscribedTokens: number;
  readonly capacity: number;
  readonly utilization: number;
  readonly accounts: Readonly<
    Record<string, { status: AccountStatus; connections: number; tokens: number; lastError?: string }>
  >;
  readonly perConnection: readonly { accountId: string; state: ConnectionState; tokens: number }[];
  readonly counters: {
    readonly subscribes: number;
    readonly unsubscribes: number;
    readonly duplicates: number;
    readonly subscriptionErrors: number;
    readonly reconnects: number;
    readonly ticks: number;
    readonly malformedPackets: number;
  };
}

interface AccountState {
  readonly account: KiteAccount;
  readonly connections: KiteTickerConnection[];
  status: AccountStatus;
  /** Epoch ms when a rate-limited account may be tried again. */
  retryAt: number;
  lastError?: string;
}

/**
 * Kite connections across accounts (docs/architecture.md): at most `maxConnectionsPerAccount` per api key
 * and `maxTokensPerConnection` per connection. New tokens go to their account by rendezvous hashing
 * (even and stable across restarts) unless the caller names one, fill that account's existing
 * connections before a new one is opened, and fail over to another account when theirs is rate
 * limited or its credentials are refused. Every change runs under one mutex, so concurrent
 * subscribes and unsubscribes from many callers neither deadlock nor lose or duplicate a token.
 */
export class KitePool {
  readonly #options: KitePoolOptions;
  readonly #maxTokens: number;
  readonly #maxConnections: number;
  readonly #accounts = new Map<string, AccountState>();
  readonly #tokenConnection = new Map<number, KiteTickerConnection>();
  readonly #mutex = new Mutex();
  readonly #counters = { subscribes: 0, unsubscribes: 0, duplicates: 0, subscriptionErrors: 0 };
  /** Counters of connections already closed, so totals never go down. */
  readonly #retired = { reconnects: 0, ticks: 0, malformedPackets: 0 };
  #closed = false;

  constructor(options: KitePoolOptions) {
    this.#options = options;
    this.#maxTokens = options.maxTokensPerConnection ?? 3000;
    this.#maxConnections = Math.min(options.maxConnectionsPerAccount ?? 3, 3);
    for (const account of options.accounts) {
      this.#accounts.set(account.id, { account, connections: [], status: 'ok', retryAt: 0 });
    }
  }

  /** The account streaming `token`, if any. */
  accountOf(token: number): string | undefined {
    return this.#tokenConnection.get(token)?.accountId;
  }

  /** Every token being streamed, with its mode. */
  subscriptions(): Map<number, KiteMode> {
    const out = new Map<number, KiteMode>();
    for (const [token, connection] of this.#tokenConnection) {
      const mode = connection.subscriptions.get(token);
      if (mode) out.set(token, mode);
    }
    return out;
  }

  /**
   * Streams `tokens` in `mode`. `preferredAccount` (e.g. the subscription's stored account) wins
   * when that account is usable and has room; otherwise rendezvous hashing picks one.
   */
  subscribe(
    tokens: readonly number[],
    mode: KiteMode = 'full',
    preferredAccount?: (token: number) => string | null | undefined,
  ): Promise<SubscribeResult> {
    return this.#mutex.runExclusive(() => this.#subscribe(tokens, mode, preferredAccount));
  }

  /** Stops streaming `tokens`; connections left empty are closed. Unknown tokens are ignored. */
  unsubscribe(tokens: readonly number[]): Promise<{ unsubscribed: readonly number[] }> {
    return this.#mutex.runExclusive(async () => {
      const byConnection = new Map<KiteTickerConnection, number[]>();
      for (const token of new Set(tokens)) {
        const connection = this.#tokenConnection.get(token);
        if (!connection) continue;
        this.#tokenConnection.delete(token);
        const list = byConnection.get(connection);
        if (list) list.push(token);
        else byConnection.set(connection, [token]);
      }
      const unsubscribed: number[] = [];
      for (const [connection, list] of byConnection) {
        await connection.unsubscribe(list);
        unsubscribed.push(...list);
        if (connection.subscriptions.size === 0) await this.#retire(connection);
      }
      this.#counters.unsubscribes += unsubscribed.length;
      return { unsubscribed };
    });
  }

  /**
   * Moves streaming `tokens` to `accountId`, make-before-break: each is subscribed in `mode` on that
   * account's connections first and only then unsubscribed from its old one, so its ticks never
   * stop (for a moment both accounts send them). A token stays where it is when the account is
   * unknown, not usable now (rate limited, refused credentials), full, or its subscribe fails: the
   * next reconcile tries again. Tokens not streaming, or already on the account, are skipped.
   */
  move(tokens: readonly number[], accountId: string, mode: KiteMode): Promise<{ moved: readonly number[] }> {
    return this.#mutex.runExclusive(async () => {
      const state = this.#accounts.get(accountId);
      if (!state || this.#closed || this.#statusOf(state) !== 'ok') return { moved: [] };
      const from = new Map<number, KiteTickerConnection>();
      for (const token of new Set(tokens)) {
        const connection = this.#tokenConnection.get(token);
        if (connection && connection.accountId !== accountId) from.set(token, connection);
      }
      const wanted = [...from.keys()].slice(0, this.#roomOf(state));
      if (wanted.length === 0) return { moved: [] };
      const outcome = await this.#placeOnAccount(state, wanted, mode);
      const byConnection = new Map<KiteTickerConnection, number[]>();
      for (const token of outcome.subscribed) {
        const old = from.get(token) as KiteTickerConnection;
        const list = byConnection.get(old);
        if (list) list.push(token);
        else byConnection.set(old, [token]);
      }
      for (const [connection, list] of byConnection) {
        await connection.unsubscribe(list);
        if (connection.subscriptions.size === 0) await this.#retire(connection);
      }
      if (outcome.subscribed.length < wanted.length) {
        this.#options.logger.warn('Some tokens could not move account; they keep streaming where they are', {
          accountId,
          moved: outcome.subscribed.length,
          wanted: wanted.length,
          reason: outcome.retryError?.message ?? outcome.failed[0]?.error.message,
        });
      }
      return { moved: outcome.subscribed };
    });
  }

  /** Live metrics; see {@link PoolMetrics}. */
  metrics(): PoolMetrics {
    const accounts: Record<string, PoolMetrics['accounts'][string]> = {};
    const perConnection: { accountId: string; state: ConnectionState; tokens: number }[] = [];
    const totals = { ...this.#retired };
    let connections = 0;
    for (const [id, state] of this.#accounts) {
      let tokens = 0;
      for (const connection of state.connections) {
        tokens += connection.subscriptions.size;
        perConnection.push({ accountId: id, state: connection.state, tokens: connection.subscriptions.size });
        totals.reconnects += connection.counters.reconnects;
        totals.ticks += connection.counters.ticks;
        totals.malformedPackets += connection.counters.malformedPackets;
      }
      connections += state.connections.length;
      accounts[id] = {
        status: this.#statusOf(state),
        connections: state.connections.length,
        tokens,
        ...(state.lastError !== undefined && { lastError: state.lastError }),
      };
    }
    const capacity = this.#accounts.size * this.#maxConnections * this.#maxTokens;
    return {
      connections,
      subscribedTokens: this.#tokenConnection.size,
      capacity,
      utilization: capacity === 0 ? 0 : this.#tokenConnection.size / capacity,
      accounts,
      perConnection,
      counters: { ...this.#counters, ...totals },
    };
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await this.#mutex.runExclusive(async () => {
      this.#closed = true;
      const all = [...this.#accounts.values()].flatMap((s) => s.connections);
      await Promise.all(all.map((c) => this.#retire(c)));
      this.#tokenConnection.clear();
    });
  }

  async #subscribe(
    tokens: readonly number[],
    mode: KiteMode,
    preferredAccount?: (token: number) => string | null | undefined,
  ): Promise<SubscribeResult> {
    const duplicates: number[] = [];
    const fresh: number[] = [];
    for (const token of new Set(tokens)) {
      const connection = this.#tokenConnection.get(token);
      if (!connection) {
        fresh.push(token);
        continue;
      }
      duplicates.push(token);
      this.#options.logger.warn(`Token ${token} already subscribed`, { token, accountId: connection.accountId });
      if (connection.subscriptions.get(token) !== mode) await connection.subscribe([token], mode).catch(() => {});
    }
    this.#counters.duplicates += duplicates.length;
    if (this.#closed) {
      const error = new Error('The Kite pool is closed');
      return { subscribed: [], duplicates, failed: fresh.map((token) => ({ token, error })) };
    }

    const subscribed: number[] = [];
    const failed: { token: number; error: Error }[] = [];
    let pending = fresh;
    const lastError = new Map<number, Error>();
    // Each round places what is pending on the best usable account; tokens whose account failed
    // (refused credentials, rate limit) go round again and land on the next account.
    for (let round = 0; pending.length > 0 && round <= this.#accounts.size; round++) {
      const plan = this.#plan(pending, preferredAccount);
      pending = [];
      for (const token of plan.unplaced) {
        failed.push({ token, error: lastError.get(token) ?? new Error('No Kite account has capacity for this token') });
      }
      for (const [accountId, accountTokens] of plan.byAccount) {
        const state = this.#accounts.get(accountId);
        if (!state) continue;
        const outcome = await this.#placeOnAccount(state, accountTokens, mode);
        subscribed.push(...outcome.subscribed);
        failed.push(...outcome.failed);
        for (const token of outcome.retry) lastError.set(token, outcome.retryError ?? new Error('Account unusable'));
        pending.push(...outcome.retry);
      }
    }
    for (const token of pending) failed.push({ token, error: lastError.get(token) ?? new Error('Not placed') });
    this.#counters.subscribes += subscribed.length;
    this.#counters.subscriptionErrors += failed.length > 0 ? 1 : 0;
    if (failed.length > 0) {
      this.#options.logger.error('Some tokens could not be subscribed', {
        failed: failed.length,
        reason: failed[0]?.error.message,
      });
    }
    return { subscribed, duplicates, failed };
  }

  /** Assigns each token an account that is usable and has room, preferring the caller's choice. */
  #plan(
    tokens: readonly number[],
    preferredAccount?: (token: number) => string | null | undefined,
  ): { byAccount: Map<string, number[]>; unplaced: number[] } {
    const usable = [...this.#accounts.values()].filter((s) => this.#statusOf(s) === 'ok');
    const room = new Map(usable.map((s) => [s.account.id, this.#roomOf(s)]));
    const ids = usable.map((s) => s.account.id);
    const byAccount = new Map<string, number[]>();
    const unplaced: number[] = [];
    for (const token of tokens) {
      const preferred = preferredAccount?.(token);
      const order =
        preferred && room.has(preferred)
          ? [preferred, ...ids.filter((id) => id !== preferred)]
          : rankAccounts(token, ids);
      const chosen = order.find((id) => (room.get(id) ?? 0) > 0);
      if (!chosen) {
        unplaced.push(token);
        continue;
      }
      room.set(chosen, (room.get(chosen) ?? 0) - 1);
      const list = byAccount.get(chosen);
      if (list) list.push(token);
      else byAccount.set(chosen, [token]);
    }
    return { byAccount, unplaced };
  }

  /** Fills the account's connections in order, opening new ones as needed. */
  async #placeOnAccount(
    state: AccountState,
    tokens: readonly number[],
    mode: KiteMode,
  ): Promise<{
    subscribed: number[];
    failed: { token: number; error: Error }[];
    retry: number[];
    retryError?: Error;
  }> {
    const subscribed: number[] = [];
    const failed: { token: number; error: Error }[] = [];
    let rest = [...tokens];
    for (let index = 0; rest.length > 0; index++) {
      let connection = state.connections[index];
      if (!connection) {
        if (state.connections.length >= this.#maxConnections) break;
        try {
          connection = await this.#open(state);
        } catch (error) {
          const reason = error instanceof Error ? error : new Error(describeError(error));
          this.#markUnusable(state, reason);
          return { subscribed, failed, retry: rest, retryError: reason };
        }
      }
      const room = this.#maxTokens - connection.subscriptions.size;
      if (room <= 0) continue;
      const batch = rest.slice(0, room);
      rest = rest.slice(room);
      try {
        await connection.subscribe(batch, mode, this.#options.subscribeTimeoutMs ?? 10_000);
        for (const token of batch) this.#tokenConnection.set(token, connection);
        subscribed.push(...batch);
      } catch (error) {
        const reason = error instanceof Error ? error : new Error(describeError(error));
        for (const token of batch) failed.push({ token, error: reason });
        if (connection.subscriptions.size === 0) await this.#retire(connection);
      }
    }
    for (const token of rest) failed.push({ token, error: new Error(`Account ${state.account.id} is full`) });
    return { subscribed, failed, retry: [] };
  }

  async #open(state: AccountState): Promise<KiteTickerConnection> {
    const { account } = state;
    const connection = new KiteTickerConnection({
      url: this.#options.url,
      accountId: account.id,
      apiKey: account.apiKey,
      accessToken: account.accessToken,
      logger: this.#options.logger,
      onTicks: (ticks) => this.#options.onTicks(account.id, ticks),
      onText: (message) => this.#options.onText?.(account.id, message),
      ...this.#options.connection,
    });
    state.connections.push(connection);
    try {
      await connection.start();
    } catch (error) {
      state.connections.splice(state.connections.indexOf(connection), 1);
      throw error;
    }
    state.status = 'ok';
    delete state.lastError;
    this.#options.logger.info('Kite connection opened', {
      accountId: account.id,
      connections: state.connections.length,
    });
    return connection;
  }

  #markUnusable(state: AccountState, error: Error): void {
    state.lastError = error.message;
    if (error instanceof KiteAuthError) {
      state.status = 'auth-failed';
      this.#options.logger.error(`Invalid API credentials for Kite account ${state.account.id}; skipping it`, {
        accountId: state.account.id,
      });
    } else {
      state.status = 'rate-limited';
      state.retryAt = Date.now() + (this.#options.rateLimitCooldownMs ?? 60_000);
      this.#options.logger.warn('Kite account unusable for now; failing over', {
        accountId: state.account.id,
        reason: error.message,
        rateLimited: error instanceof KiteRateLimitError,
      });
    }
  }

  #statusOf(state: AccountState): AccountStatus {
    if (state.status === 'rate-limited' && Date.now() >= state.retryAt) state.status = 'ok';
    return state.status;
  }

  #roomOf(state: AccountState): number {
    const used = state.connections.reduce((sum, c) => sum + c.subscriptions.size, 0);
    return this.#maxConnections * this.#maxTokens - used;
  }

  async #retire(connection: KiteTickerConnection): Promise<void> {
    const state = this.#accounts.get(connection.accountId);
    if (state) {
      const index = state.connections.indexOf(connection);
      if (index >= 0) state.connections.splice(index, 1);
    }
    this.#retired.reconnects += connection.counters.reconnects;
    this.#retired.ticks += connection.counters.ticks;
    this.#retired.malformedPackets += connection.counters.malformedPackets;
    await connection.close();
  }
}
