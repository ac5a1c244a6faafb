import { inject } from 'vitest';

/**
 * This file's worker slot, 1 to maxWorkers. A worker runs one test file at a time, so what belongs
 * to a slot belongs to the running file alone.
 */
function slot(): number {
  const id = Number(process.env.VITEST_POOL_ID);
  return (((Number.isInteger(id) && id > 0 ? id : 1) - 1) % inject('workerSlots')) + 1;
}

/** The Redis of this file's slot, started by the global setup (or `REDIS_URL`, shared by all). */
export function sharedRedisUrl(): string {
  const urls = inject('redisUrls');
  return urls[(slot() - 1) % urls.length] as string;
}

/** The table prefix of this file's slot: the global setup created every table under it. */
export function sharedTablePrefix(): string {
  return `${inject('tablePrefix')}${slot()}`;
}

let motoEndpoint: Promise<string> | undefined;

/**
 * The endpoint of this file's worker slot's `moto_server`, started by the global setup's launcher
 * when the slot's first file asks (a second or two), reused by the slot's later files. Tests keep
 * to names of their own (queues, table prefixes, secrets), so files sharing it never meet.
 */
export function sharedMotoEndpoint(): Promise<string> {
  motoEndpoint ??= (async () => {
    const response = await fetch(`${inject('motoLauncherUrl')}/moto/${slot()}`, { method: 'POST' });
    const body = (await response.json()) as { endpoint?: string; error?: string };
    if (!response.ok || body.endpoint === undefined) throw new Error(body.error ?? `moto launcher: ${response.status}`);
    return body.endpoint;
  })();
  return motoEndpoint;
}
