/**
 * Deterministic randomness for the mock market. Domain code may not call `Math.random` (docs/architecture.md):
 * a run must be reproducible from its seed, so a failing test or a surprising dashboard can be
 * replayed exactly. xoshiro128** is small, fast on 32-bit integer arithmetic (which is what
 * `Math.imul` gives JavaScript) and passes BigCrush; splitmix32 spreads a small integer seed over
 * its 128-bit state so seeds 1, 2, 3 … give unrelated streams.
 */
export interface SeededRandom {
  /** The seed the generator was created with, to log or to replay a run. */
  readonly seed: number;
  /** A uniform number in [0, 1), with 32 random bits. */
  next(): number;
  /** A uniform number in [min, max). */
  uniform(min: number, max: number): number;
  /** A uniform integer in [min, max] (both whole numbers). */
  integer(min: number, max: number): number;
  /** A standard normal variate (Box-Muller), always finite. */
  normal(): number;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const TWO_POW_32 = 4_294_967_296;

/**
 * A xoshiro128** generator seeded from `seed` (any finite number; its low 32 bits are used).
 * The same seed always yields the same sequence, on every platform.
 */
export function seededRandom(seed: number): SeededRandom {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${String(seed)}`);
  const mix = splitmix32(seed);
  let s0 = mix();
  let s1 = mix();
  let s2 = mix();
  let s3 = mix();
  // xoshiro's state must not be all zero; splitmix32 cannot produce four zeros in a row, but be explicit.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  const next = (): number => nextUint32() / TWO_POW_32;

  return {
    seed,
    next,
    uniform: (min, max) => min + (max - min) * next(),
    integer: (min, max) => min + Math.floor(next() * (max - min + 1)),
    normal: () => {
      // 1 − u lies in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - next()));
      return radius * Math.cos(2 * Math.PI * next());
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
