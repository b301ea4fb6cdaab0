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

/*
 * Samples are counted first in an array laid out as the HdrHistogram's own buckets for 3
 * significant digits (2,048 sub-buckets: values below 2,048 exact, then 1,024 buckets per power of
 * two), and handed to the histogram in bulk when it is read. A CPU records a sample per interrupt;
 * hdr-histogram-js's recordValue showed in a busy CPU worker's profile (perf/interrupts.ts); this
 * array's increment a few integer operations. Each array bucket lies inside one histogram bucket,
 * so the result is the same histogram.
 */
const SUB_BUCKET_HALF_MAGNITUDE = 10;
const SUB_BUCKET_HALF = 1 << SUB_BUCKET_HALF_MAGNITUDE;
/** values from 2^31 ns (2.1 s) on go to the histogram directly */
const ARRAY_LIMIT = 2 ** 31;
const ARRAY_SIZE = ((31 - SUB_BUCKET_HALF_MAGNITUDE) << SUB_BUCKET_HALF_MAGNITUDE) + SUB_BUCKET_HALF;

function arrayIndex(value: number): number {
  if (value < 2 * SUB_BUCKET_HALF) return value;
  const shift = 31 - Math.clz32(value) - SUB_BUCKET_HALF_MAGNITUDE;
  return ((shift + 1) << SUB_BUCKET_HALF_MAGNITUDE) + ((value >>> shift) - SUB_BUCKET_HALF);
}

/** The lowest value of an array bucket. */
export function arrayBucketValue(index: number): number {
  if (index < 2 * SUB_BUCKET_HALF) return index;
  const shift = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  return ((index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF) * 2 ** shift;
}

export class LatencySeries {
  count = 0;
  sumNs = 0;
  maxNs = 0;
  readonly buckets = [0, 0, 0, 0, 0, 0];
  private histogram: Histogram | null = null;
  /** samples not yet in the histogram, by array bucket */
  private pending: Uint32Array | null = null;
  private pendingAny = false;

  record(ns: number): void {
    const value = ns > 0 ? Math.round(ns) : 0;
    this.count++;
    this.sumNs += value;
    if (value > this.maxNs) this.maxNs = value;
    this.buckets[bucketOf(value)]!++;
    if (value < ARRAY_LIMIT) {
      (this.pending ??= new Uint32Array(ARRAY_SIZE))[arrayIndex(value)]!++;
      this.pendingAny = true;
    } else {
      (this.histogram ??= newHistogram()).recordValue(value);
    }
  }

  /** Hand the counted samples to the histogram (before it is read). */
  private flush(): void {
    if (!this.pendingAny || this.pending === null) return;
    const histogram = (this.histogram ??= newHistogram());
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) {
      const count = pending[i]!;
      if (count === 0) continue;
      histogram.recordValueWithCount(arrayBucketValue(i), count);
      pending[i] = 0;
    }
    this.pendingAny = false;
  }

  /** Add another series (another CPU's) into this one. */
  merge(other: EncodedLatencySeries): void {
    if (other.count === 0) return;
    this.flush();
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
    this.flush();
    if (this.count === 0 || this.histogram === null) return 0;
    return Math.min(this.maxNs, this.histogram.getValueAtPercentile(p));
  }

  encode(): EncodedLatencySeries {
    this.flush();
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
