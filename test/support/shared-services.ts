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
