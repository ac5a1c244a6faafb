/**
 * What the Redis adapters share about their connections: how fast they reconnect and how they
 * name the server in messages.
 */

/** Reconnect quickly (100 ms, 200 ms, … capped at 1 s, with jitter): a restarted Redis is back within a second. */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * attempt, 1000) + Math.floor(Math.random() * 100);
}

/** `host:port` of a Redis URL, for messages: the password in the URL must not leak. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}
