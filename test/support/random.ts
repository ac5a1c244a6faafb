/**
 * A small seeded PRNG (mulberry32) so generated test data is the same on every run and a failing
 * case can be reproduced from its seed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform number in [min, max). */
export function uniform(random: () => number, min: number, max: number): number {
  return min + (max - min) * random();
}

/** A uniform integer in [min, max]. */
export function integer(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
