/**
 * Which fan-out instance serves a WebSocket connection: rendezvous (highest-random-weight) hashing
 * of the connection id over the live instances. Every instance computes the same owner from the
 * same member list, with no coordination; when an instance joins or leaves, only the connections
 * it gains or held move (about 1/n of them), the rest stay where they are.
 */
export function ownerOf(connectionId: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const weight = fnv1a(`${member}\n${connectionId}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * FNV-1a, 32 bits, of a string's UTF-16 code units, then MurmurHash3's finaliser: member names
 * differ in a character or two, and plain FNV-1a would rank them the same way for most ids.
 */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
