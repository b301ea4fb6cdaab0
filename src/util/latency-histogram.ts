/**
 * One latency series (ns samples): an HdrHistogram (hdr-histogram-js, 3 significant digits, so any
 * percentile is within 0.1 % of the exact sample) plus the exact count, sum, maximum and
 * LatencyMon's buckets. Bounded memory however many samples, and mergeable: each CPU records its
 * own series, sends its non-empty buckets in its end-of-run report, and the main thread adds them
 * up. This replaced collecting every sample and sorting them at the end (capped at 65,536 per CPU
 * with reservoir sampling).
 *
 * Why Int32Histogram by its own path and buckets as (value, count) pairs rather than the package's
 * entry and its compressed base64 encoding: the entry loads the WebAssembly build and the encoding
 * pako, 35–90 ms of start-up in every CPU worker; this module is ~4 ms. A bucket's lowest value
 * recorded with its count lands in the same bucket, so the merge is exact.
 */

import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';

type Int32HistogramClass = typeof Int32HistogramModule.default;
// Node's ESM loader gives a CommonJS module's exports object as its default import; vitest's
// interop gives the module's own `default` (the class) instead
const imported: unknown = Int32HistogramModule;
const Int32Histogram: Int32HistogramClass = typeof imported === 'function' ? (imported as Int32HistogramClass) : Int32HistogramModule.default;
type Histogram = InstanceType<typeof Int32Histogram>;

/** LatencyMon's buckets, upper bounds in µs (exclusive): <1, 1–10, 10–100, 100–250, 250–1000, ≥1000. */
export const LATENCY_BUCKET_BOUNDS_US = [1, 10, 100, 250, 1000] as const;
export const LATENCY_BUCKET_LABELS = ['<1', '1-10', '10-100', '100-250', '250-1000', '>=1000'] as const;

/** A series as it travels in a CPU report (plain data: msgpack- and JSON-safe). */
export interface EncodedLatencySeries {
  count: number;
  sumNs: number;
  maxNs: number;
  /** counts per LatencyMon bucket (LATENCY_BUCKET_LABELS) */
  buckets: number[];
  /** the HdrHistogram's non-empty buckets: each bucket's lowest value, then its count */
  histogram: number[];
}

function newHistogram(): Histogram {
  const histogram = new Int32Histogram(1, 1_000_000_000, 3);
  // 1 ns resolution at the low end; grows past 1 s of emulated latency instead of refusing a sample
  histogram.autoResize = true;
  return histogram;
}

export class LatencySeries {
  count = 0;
  sumNs = 0;
  maxNs = 0;
  readonly buckets = [0, 0, 0, 0, 0, 0];
  private histogram: Histogram | null = null;

  record(ns: number): void {
    const value = ns > 0 ? Math.round(ns) : 0;
    this.count++;
    this.sumNs += value;
    if (value > this.maxNs) this.maxNs = value;
    this.buckets[bucketOf(value)]!++;
    (this.histogram ??= newHistogram()).recordValue(value);
  }

  /** Add another series (another CPU's) into this one. */
  merge(other: EncodedLatencySeries): void {
    if (other.count === 0) return;
    this.count += other.count;
    this.sumNs += other.sumNs;
    if (other.maxNs > this.maxNs) this.maxNs = other.maxNs;
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i]! += other.buckets[i] ?? 0;
    const histogram = (this.histogram ??= newHistogram());
    const pairs = other.histogram;
    for (let i = 0; i + 1 < pairs.length; i += 2) histogram.recordValueWithCount(pairs[i]!, pairs[i + 1]!);
  }

  /**
   * The p-th percentile (0–100), ns: HdrHistogram's value at that percentile (the highest value
   * equivalent to the sample of rank ⌈p/100 · n⌉, so within 0.1 % of it), never above the exact maximum.
   */
  percentile(p: number): number {
    if (this.count === 0 || this.histogram === null) return 0;
    return Math.min(this.maxNs, this.histogram.getValueAtPercentile(p));
  }

  encode(): EncodedLatencySeries {
    return {
      count: this.count,
      sumNs: this.sumNs,
      maxNs: this.maxNs,
      buckets: [...this.buckets],
      histogram: this.histogram === null ? [] : bucketPairs(this.histogram),
    };
  }
}

function bucketPairs(histogram: Histogram): number[] {
  const pairs: number[] = [];
  for (let i = 0; i < histogram.countsArrayLength; i++) {
    const count = histogram.getCountAtIndex(i);
    if (count > 0) pairs.push(histogram.valueFromIndex(i), count);
  }
  return pairs;
}

export function bucketOf(ns: number): number {
  const us = ns / 1000;
  for (let i = 0; i < LATENCY_BUCKET_BOUNDS_US.length; i++) if (us < LATENCY_BUCKET_BOUNDS_US[i]!) return i;
  return LATENCY_BUCKET_BOUNDS_US.length;
}
