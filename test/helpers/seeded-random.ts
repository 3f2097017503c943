/**
 * mulberry32: a small, fast, seeded PRNG (numbers in [0, 1)), so a run that fails can be replayed
 * with its seed: the API fuzzer picks its mutations with it (fuzz.ts), the crash rounds their
 * calls and kill moments (crash-rounds.ts).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
