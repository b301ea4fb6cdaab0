/**
 * Seeded pseudo-random numbers (mulberry32): deterministic runs, device jitter and tests draw from
 * here, never from Math.random, so the same seed replays the same run. Not cryptographic.
 */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed | 0) ^ 0x9e3779b9;
  }
  /** uniform in [0, 2^32) */
  nextUint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** uniform in [0, 1) */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
  /** uniform integer in [min, max] */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

/** A seed for sub-stream `index` of `seed` (one per device, per CPU…), so streams don't correlate. */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x85ebca6b)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) | 0;
}
