import { inject } from 'vitest';
import { ensureTables, localDynamoDbClient } from '../../../infra/local/dynamodb-local.js';
import { type LocalPlatform, startLocalPlatform } from '../../../infra/local/platform.js';
import { loadConfig } from '../../../shared/config.js';
import type { BusSubscription } from '../../../shared/ports/tick-bus.js';
import { Channels } from '../../../shared/ports/tick-bus.js';
import { apiKeyPrincipalId } from '../../support/fixtures.js';

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

/** Records the tokens of option ticks the platform publishes, and control messages, as they happen. */
export async function watchBus(platform: LocalPlatform) {
  const ticks: { token: number; at: number }[] = [];
  const control: unknown[] = [];
  const subscriptions: BusSubscription[] = [
    await platform.components.bus.psubscribe(Channels.allTicks, (channel, message) => {
      if (!channel.endsWith(':options')) return;
      const parsed: unknown = JSON.parse(message);
      for (const tick of Array.isArray(parsed) ? parsed : [parsed]) {
        const token = (tick as { instrument_token?: unknown }).instrument_token;
        if (typeof token === 'number') ticks.push({ token, at: Date.now() });
      }
    }),
    await platform.components.bus.subscribe(Channels.control, (_channel, message) => {
      control.push(JSON.parse(message));
    }),
  ];
  return {
    ticks,
    control,
    /** Whether a tick for `token` arrived after `since` (epoch ms). */
    sawTick: (token: number, since: number) => ticks.some((t) => t.token === token && t.at > since),
    close: () => Promise.all(subscriptions.map((s) => s.unsubscribe())),
  };
}
