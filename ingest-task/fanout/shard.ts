/**
 * Which fan-out shard serves a WebSocket connection: FNV-1a (32-bit) of the connection id, modulo
 * the shard count. Every instance computes the same answer from the id alone, so no coordination
 * is needed, and API Gateway's connection ids are random enough to spread connections evenly.
 */
export function shardOf(connectionId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** The shard of one fan-out instance: `index` of `count`. */
export interface FanoutShard {
  readonly index: number;
  readonly count: number;
}

/** Whether the instance serving `shard` serves `connectionId`. */
export function ownsConnection(shard: FanoutShard, connectionId: string): boolean {
  return shard.count <= 1 || shardOf(connectionId, shard.count) === shard.index;
}
