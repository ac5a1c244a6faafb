/**
 * Which Kite account streams a token: rendezvous (highest-random-weight) hashing. Every token
 * ranks the accounts by a hash of (account, token) and takes the best one with room. The same
 * accounts give the same answer on every start (no stored state needed), tokens spread evenly, and
 * adding or removing an account moves only the tokens that must move (about 1/n of them).
 */

/** FNV-1a over the UTF-16 code units of `text`, then a murmur-style finaliser for avalanche. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `accountIds` (distinct) in order of preference for `token` (best first); ties broken by id. */
export function rankAccounts(token: number, accountIds: readonly string[]): string[] {
  return accountIds
    .map((id) => ({ id, weight: hash32(`${id}:${token}`) }))
    .sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1))
    .map((entry) => entry.id);
}
