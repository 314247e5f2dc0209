import type { LatencySpec } from './types.js';

/** A seeded source of uniform numbers in [0, 1). */
export type Prng = () => number;

// z-score of the 99th percentile of a standard normal distribution.
const Z_P99 = 2.3263;
// Draws beyond p99 are capped so one unlucky sample cannot stall a benchmark indefinitely.
const TAIL_CAP_OVER_P99 = 3;

/** mulberry32: tiny, fast and good enough for simulation; reproducible from a 32-bit seed. */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, so a seller id can be mixed into a seed. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

export function randomInt(rng: Prng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function randomBetween(rng: Prng, min: number, max: number): number {
  return min + rng() * (max - min);
}

function standardNormal(rng: Prng): number {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const radius = Math.sqrt(-2 * Math.log(1 - rng()));
  return radius * Math.cos(2 * Math.PI * rng());
}

/** Log-normal with the given median and 99th percentile, in whole milliseconds. */
export function sampleLatency(rng: Prng, latency: LatencySpec): number {
  if (latency.median <= 0) return 0;
  const sigma = Math.log(Math.max(latency.p99, latency.median) / latency.median) / Z_P99;
  const sample = latency.median * Math.exp(sigma * standardNormal(rng));
  return Math.round(Math.min(sample, latency.p99 * TAIL_CAP_OVER_P99));
}
