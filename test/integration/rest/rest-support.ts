import { inject } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { type LocalPlatform, startLocalPlatform } from '../../../infra/local/platform.js';
import { RECONCILER_DEFAULTS } from '../../../ingest-task/reconcile/reconciler.js';
import { loadConfig } from '../../../shared/config.js';
import type { BusSubscription, ReconcileNotice } from '../../../shared/ports/tick-bus.js';
import { Channels } from '../../../shared/ports/tick-bus.js';
import { apiKeyPrincipalId } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait.js';

/** The API key every REST integration test sends. */
export const API_KEY = 'test-key';

/**
 * Starts the local platform in process against the shared dynalite, on tables of its own
 * (`prefix` must be unique per test file), with a fast mock feed so streaming is seen quickly.
 */
export async function startPlatform(prefix: string, env: Record<string, string> = {}): Promise<LocalPlatform> {
  const endpoint = env.DYNAMODB_ENDPOINT ?? inject('dynamodbEndpoint');
  if (env.LOCAL_DATA_DIR === undefined) {
    const client = localDynamoDbClient(endpoint);
    try {
      await ensureTables(client, prefix);
    } finally {
      client.destroy();
    }
  }
  return startLocalPlatform(
    loadConfig({
      PORT: '0',
      LOG_LEVEL: 'SILENT',
      TABLE_PREFIX: prefix,
      ...(env.LOCAL_DATA_DIR === undefined && { DYNAMODB_ENDPOINT: endpoint }),
      API_KEYS: API_KEY,
      // Orders sent through SQS belong to the caller the tests read them with.
      ORDERS_DEFAULT_OWNER: apiKeyPrincipalId(API_KEY),
      STREAM_INTERVAL_SECONDS: '0.1',
      ...env,
    }),
  );
}

/** A small client for the platform's REST API. */
export function restClient(platform: LocalPlatform, key = API_KEY) {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${platform.url}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = text;
    }
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked against contract schemas by the tests
    return { status: response.status, headers: response.headers, body: json as any };
  };
  return {
    get: (path: string, headers?: Record<string, string>) => request('GET', path, undefined, headers),
    post: (path: string, body: unknown, headers?: Record<string, string>) => request('POST', path, body, headers),
    patch: (path: string, body: unknown) => request('PATCH', path, body),
    delete: (path: string) => request('DELETE', path),
  };
}

/** Records option ticks the platform publishes, control messages and reconcile notices, as they happen. */
export async function watchBus(platform: LocalPlatform) {
  const ticks: { token: number; channel: string; at: number; receivedAtMs: number }[] = [];
  const control: string[] = [];
  const reconciles: ReconcileNotice[] = [];
  const subscriptions: BusSubscription[] = [
    await platform.components.bus.psubscribe(Channels.allTicks, (channel, message) => {
      if (!channel.endsWith(':options')) return;
      const parsed: unknown = JSON.parse(message);
      for (const tick of Array.isArray(parsed) ? parsed : [parsed]) {
        const { instrument_token: token, received_at_ms: receivedAtMs } = tick as Record<string, unknown>;
        if (typeof token !== 'number') continue;
        ticks.push({
          token,
          channel,
          at: Date.now(),
          receivedAtMs: typeof receivedAtMs === 'number' ? receivedAtMs : 0,
        });
      }
    }),
    await platform.components.bus.subscribe(Channels.control, (_channel, message) => {
      control.push(message);
    }),
    await platform.components.bus.subscribe(Channels.reconciled, (_channel, message) => {
      reconciles.push(JSON.parse(message) as ReconcileNotice);
    }),
  ];
  /** Whether a tick for `token` arrived after `since` (epoch ms). */
  const sawTick = (token: number, since: number) => ticks.some((t) => t.token === token && t.at > since);
  return {
    ticks,
    control,
    sawTick,
    /**
     * Waits for the reconcile that took in every change made before `since` (it read the store
     * after then), then for a tick on `token`'s channel that the feed produced after that reconcile
     * ended. The bus keeps each channel's order, so every tick of `token` produced before the
     * reconcile has arrived by then; returns when the reconcile ended. Waits at most the
     * reconciler's longest gap plus `slackMs`.
     */
    async reconciledAndFlushed(token: number, since: number, slackMs = 10_000): Promise<number> {
      const channel = ticks.find((t) => t.token === token)?.channel;
      if (channel === undefined) throw new Error(`no tick of ${token} seen: its channel is unknown`);
      const timeoutMs = RECONCILER_DEFAULTS.maxGapMs + slackMs;
      let ended = 0;
      await waitFor(
        () => {
          ended = reconciles.find((n) => n.started_at_ms >= since)?.ended_at_ms ?? 0;
          return ended > 0;
        },
        { timeoutMs, message: `a reconcile that started after ${since}` },
      );
      await waitFor(() => ticks.some((t) => t.channel === channel && t.receivedAtMs > ended), {
        timeoutMs,
        message: `a tick on ${channel} produced after the reconcile`,
      });
      return ended;
    },
    /** Whether the feed produced a tick of `token` after `sinceMs` (its `received_at_ms`). */
    producedAfter: (token: number, sinceMs: number) => ticks.some((t) => t.token === token && t.receivedAtMs > sinceMs),
    close: () => Promise.all(subscriptions.map((s) => s.unsubscribe())),
  };
}
