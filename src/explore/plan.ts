/**
 * The iteration space of an exploration: which seed each iteration runs with, and which slice of
 * the space a shard (`--shard K/N`) runs. Pure.
 *
 * Iteration i (0-based) runs with seed (S + i) mod 2^32, S being `--seed`: `irqlab explore -i 1000
 * --seed 1` runs exactly `irqlab run --mode deterministic --seed 1` … `--seed 1000`, so every seed
 * in a table is one `irqlab run` away, and two explorations with disjoint seed ranges never repeat
 * a schedule. (The emulator hashes a seed before any stream draws from it, so neighbouring seeds
 * give unrelated schedules.)
 */

/** The most iterations one exploration (or one merge of shards) covers: the seed space, 2^32 (seeds are 32-bit). */
export const MAX_ITERATIONS = 2 ** 32;

export function iterationSeed(baseSeed: number, index: number): number {
  return (baseSeed + index) % MAX_ITERATIONS;
}

/** `--shard K/N`: the K-th (1-based) of N slices. */
export interface Shard {
  index: number;
  count: number;
}

/** A range of iteration indexes, [start, end). */
export type IterationRange = readonly [start: number, end: number];

/**
 * The iterations shard K of N runs: the K-th of N contiguous, disjoint slices of [0, iterations)
 * whose sizes differ by at most one (the first `iterations mod N` slices have one more).
 */
export function shardRange(iterations: number, shard: Shard | undefined): IterationRange {
  if (!shard) return [0, iterations];
  const base = Math.floor(iterations / shard.count);
  const extra = iterations % shard.count;
  const k = shard.index - 1;
  const start = k * base + Math.min(k, extra);
  return [start, start + base + (k < extra ? 1 : 0)];
}

/** Ranges sorted and joined where they touch; throws a RangeError naming the first overlap. */
export function joinRanges(ranges: readonly IterationRange[]): IterationRange[] {
  const sorted = [...ranges].filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    if (last && start < last[1]) throw new RangeError(`iterations ${start}–${Math.min(end, last[1]) - 1} are in two of the tables`);
    if (last && start === last[1]) last[1] = end;
    else out.push([start, end]);
  }
  return out;
}

export function rangesSize(ranges: readonly IterationRange[]): number {
  return ranges.reduce((sum, [start, end]) => sum + (end - start), 0);
}
