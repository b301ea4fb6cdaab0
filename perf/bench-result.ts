/**
 * BenchResult: what every benchmark in perf/ returns, and the JSON each prints with --json.
 * Produced by the benchmarks, consumed by the bench runner and CI. Fields are additive.
 */

export interface BenchResult {
  /** short benchmark name, e.g. "ring" */
  name: string;
  /** figures by name; rates are per second, times in ns unless the name says otherwise */
  metrics: Record<string, number>;
  /** caveats and target checks, one sentence each */
  notes: string[];
}
