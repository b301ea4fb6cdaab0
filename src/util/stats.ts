/**
 * Order statistics shared by the run summary, the built-in scenarios' results and perf/: one
 * definition of a percentile, so a p50 means the same thing in every report.
 */

/** The p-th percentile (0–100) of ascending `sorted`: the sample at ⌊p/100 · n⌋ (the last for p = 100); 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
