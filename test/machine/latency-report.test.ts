// The latency report (RunResult.latency; `irqlab run --latency`): HdrHistogram series against exact
// percentiles, LatencyMon's buckets, per-routine exclusive execution with a nested ISR, the
// scenario's latency budgets, and --breaktrace's window. Deterministic mode, in process.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { nestedIsrScenario } from './nested-isr.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import type { RunOptions } from '../../src/machine/execute.js';
import { BreaktraceStopped } from '../../src/machine/latency-breaktrace.js';
import { buildLatencyReport } from '../../src/machine/latency-report.js';
import { LatencySeries, bucketOf } from '../../src/util/latency-histogram.js';
import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';
import { formatLatencyReport } from '../../src/cli/latency-format.js';

/** The exact p-th percentile of `values` by nearest rank (HdrHistogram's definition: rank ⌈p/100 · n⌉). */
function exactPercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function run(definition: ScenarioDefinition, extra: Partial<RunOptions> = {}) {
  validateScenario(definition, { cpus: 1, arch: 'x64' });
  return executeScenario(definition, null, {
    cpus: 1,
    mode: 'deterministic',
    seed: 1,
    durationNs: 2e6,
    verbose: false,
    command: '',
    backend: 'in-process',
    ...extra,
  });
}

// vitest's interop gives the CommonJS module's class as its default (see src/util/latency-histogram.ts)
const Int32Histogram = (
  typeof (Int32HistogramModule as unknown) === 'function' ? Int32HistogramModule : Int32HistogramModule.default
) as typeof Int32HistogramModule.default;

const empty = () => new LatencySeries().encode();

describe('latency histograms', () => {
  it('gives percentiles within HdrHistogram’s 0.1 % of the exact ones on known data, and exact count, mean and max', () => {
    const values: number[] = [];
    // a long tail: 1 ns … ~10 ms, with a few outliers
    for (let i = 1; i <= 20_000; i++) values.push(Math.round(100 + ((i * 7919) % 20_000) ** 1.5 / 3));
    values.push(9_876_543, 12_345_678);
    const series = new LatencySeries();
    for (const v of values) series.record(v);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, p);
      expect(Math.abs(series.percentile(p) - exact)).toBeLessThanOrEqual(exact / 1000 + 1);
    }
    expect(series.count).toBe(values.length);
    expect(series.maxNs).toBe(12_345_678);
    expect(series.percentile(100)).toBe(12_345_678);
  });

  it('merges per-CPU histograms into the same distribution as one histogram of every sample', () => {
    const all = new LatencySeries();
    const perCpu = [new LatencySeries(), new LatencySeries(), new LatencySeries()];
    for (let i = 0; i < 9000; i++) {
      const v = (i * 104_729) % 500_000;
      all.record(v);
      perCpu[i % 3]!.record(v);
    }
    const report = buildLatencyReport(
      perCpu.map((s) => ({ assertToIsr: s.encode(), isrToDpc: empty(), dpcToReady: empty(), readyToRunning: empty(), routines: [] })),
      1e9,
      undefined,
    );
    const overall = report.series.assertToIsr.overall;
    expect(overall.count).toBe(9000);
    expect(overall.p50Ns).toBe(all.percentile(50));
    expect(overall.p99Ns).toBe(all.percentile(99));
    expect(overall.p999Ns).toBe(all.percentile(99.9));
    expect(overall.maxNs).toBe(all.maxNs);
    expect(report.series.assertToIsr.perCpu.map((d) => d.count)).toEqual([3000, 3000, 3000]);
    expect(report.assertToIsr).toEqual({ count: 9000, p50Ns: overall.p50Ns, p99Ns: overall.p99Ns, maxNs: overall.maxNs });
  });

  it('counts samples in HdrHistogram’s own bucket layout first: the same percentiles as recording each sample into the histogram', () => {
    const series = new LatencySeries();
    const direct = new Int32Histogram(1, 1_000_000_000, 3);
    direct.autoResize = true;
    let x = 12345;
    for (let i = 0; i < 50_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // 0 ns to ~4 s, spread over every power of two (a few past the array, 2^31 ns and up)
      const value = Math.floor(2 ** ((x % 3200) / 100));
      series.record(value);
      direct.recordValue(value);
    }
    for (const p of [0, 1, 10, 50, 90, 99, 99.9, 99.99, 100])
      expect(series.percentile(p), `p${p}`).toBe(Math.min(series.maxNs, direct.getValueAtPercentile(p)));
  });

  it('counts samples in LatencyMon’s buckets: <1, 1–10, 10–100, 100–250, 250–1000, ≥1000 µs', () => {
    expect([0, 999, 1000, 9999, 10_000, 99_999, 100_000, 249_999, 250_000, 999_999, 1_000_000, 5e9].map(bucketOf)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]);
    const series = new LatencySeries();
    for (const v of [500, 1500, 2500, 50_000, 200_000, 300_000, 2_000_000]) series.record(v);
    const report = buildLatencyReport(
      [{ assertToIsr: series.encode(), isrToDpc: empty(), dpcToReady: empty(), readyToRunning: empty(), routines: [] }],
      1e9,
      undefined,
    );
    expect(report.series.assertToIsr.overall.buckets).toEqual({ '<1': 1, '1-10': 2, '10-100': 1, '100-250': 1, '250-1000': 1, '>=1000': 1 });
  });
});

describe('per-routine execution time', () => {
  it('does not count a nested ISR’s time as its interruptee’s', async () => {
    const alone = await run(nestedIsrScenario(false));
    const nested = await run(nestedIsrScenario(true));
    const routine = (r: typeof alone, name: string) => r.latency.routines.find((x) => x.routine === name)!;
    const slowAlone = routine(alone, 'SlowIsr');
    const slowNested = routine(nested, 'SlowIsr');
    const fast = routine(nested, 'FastIsr');
    expect(slowAlone.count).toBe(1);
    expect(slowNested.count).toBe(1);
    expect(fast.count).toBe(1);
    expect(fast.kind).toBe('isr');
    // 200,000 cycles at 1 GHz: ~200 µs; the fast ISR's ~30 µs is its own, not the slow one's
    expect(slowAlone.maxNs).toBeGreaterThanOrEqual(200_000);
    expect(Math.abs(slowNested.maxNs - slowAlone.maxNs)).toBeLessThan(1000);
    expect(fast.maxNs).toBeGreaterThanOrEqual(30_000);
    expect(fast.maxNs).toBeLessThan(40_000);
    const dpc = routine(nested, 'SlowDpcRoutine');
    expect(dpc.kind).toBe('dpc');
    expect(dpc.maxNs).toBeGreaterThanOrEqual(50_000);
    expect(dpc.perCpu[0]!.sharePercent).toBeCloseTo((dpc.totalNs / nested.emulatedTimeNs) * 100, 3);
    // the slowest single execution comes first
    expect(nested.latency.routines[0]!.routine).toBe('SlowIsr');
    const text = formatLatencyReport(nested.latency, 1);
    expect(text).toMatch(/Highest ISR routine execution time\s+2\d\d\.\d\d µs\s+SlowIsr \(CPU 0\)/);
    expect(text).toMatch(/Highest DPC routine execution time\s+\d+\.\d\d µs\s+SlowDpcRoutine/);
  });
});

describe('latency budgets', () => {
  it('pass when every budget is met', async () => {
    const result = await run(nestedIsrScenario(true, { latency: { maxIsrUs: 1000, maxDpcUs: 1000, isrToDpcP99Us: 1000 } }));
    expect(result.latency.budgets.map((b) => b.passed)).toEqual([true, true, true]);
    expect(result.checks.filter((c) => c.name.startsWith('latency budget')).every((c) => c.passed)).toBe(true);
    expect(result.latency.verdict).toBe('Within every latency budget (3 checked).');
  });

  it('fail as checks when one is exceeded, with a one-line verdict naming the routine', async () => {
    const result = await run(nestedIsrScenario(true, { latency: { maxIsrUs: 100, maxDpcUs: 1000 } }));
    const failed = result.checks.filter((c) => !c.passed);
    expect(failed.map((c) => c.name)).toEqual(['latency budget maxIsrUs']);
    expect(result.latency.verdict).toMatch(/^Latency budget exceeded: ISR routine SlowIsr took 2\d\d(\.\d)? µs, over the maxIsrUs budget of 100 µs\.$/);
  });

  it('are refused when a key is unknown', () => {
    expect(() => validateScenario(nestedIsrScenario(true, { latency: { maxIsrMs: 1 } }), { cpus: 1, arch: 'x64' })).toThrow(
      /latency\.maxIsrMs is not a scenario field/,
    );
  });
});

describe('--breaktrace', () => {
  it('stops the run at the first routine over the bound and writes the window before it as a Chrome trace', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'irqlab-breaktrace-')), 'window.json');
    const error = await run(nestedIsrScenario(true), { breaktrace: { aboveNs: 100_000, file } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BreaktraceStopped);
    const info = (error as BreaktraceStopped).info;
    expect(info).toMatchObject({ cpu: 0, kind: 'isr', routine: 'SlowIsr', aboveNs: 100_000, file });
    expect(info.executionNs).toBeGreaterThan(100_000);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Array<{ ts: number; name: string }> };
    expect(info.records).toBeGreaterThan(0);
    expect(trace.traceEvents.length).toBeGreaterThan(0);
    // the window ends at the breach: nothing after the slow ISR returned
    expect(Math.max(...trace.traceEvents.map((e) => e.ts))).toBeLessThanOrEqual(info.endNs / 1000 + 1);
  });

  it('leaves a run under the bound alone (same trace hash as without it)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'irqlab-breaktrace-')), 'window.json');
    const plain = await run(nestedIsrScenario(true));
    const watched = await run(nestedIsrScenario(true), { breaktrace: { aboveNs: 1e9, file } });
    expect(watched.traceHash).toBe(plain.traceHash);
  });
});

describe('the bugcheck report’s frozen state', () => {
  it('has the faulting CPU’s DPC queue, the spin locks held with their owners, and each CPU’s ready list', async () => {
    const { formatBugcheck } = await import('../../src/cli/format.js');
    const result = await run(
      defineScenario({
        name: 'frozen-state',
        description: 'a thread takes a spin lock, queues a DPC and bugchecks; a lower-priority thread is ready',
        memory: { Lock: {} },
        dpcs: { Pending: { routine: 'PendingDpc' } },
        threads: { Main: { routine: 'Main', cpu: 0, priority: 9 }, Other: { routine: 'Idle', cpu: 0, priority: 4 } },
        routines: {
          Main: (a) => {
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.kcall('KeInsertQueueDpc', a.dpc('Pending'), 0, 0);
            a.kcall('KeBugCheckEx', 0xe2, 1, 2, 3, 4);
            a.ret(0);
          },
          Idle: (a) => a.ret(0),
          PendingDpc: (a) => a.ret(),
        },
      }),
    );
    const bc = result.bugcheck!;
    expect(bc.code).toBe(0xe2);
    const cpu0 = bc.cpus[0]!;
    expect(cpu0.dpcQueue).toEqual([{ dpc: 'Pending', routine: 'PendingDpc', queuedNs: expect.any(Number), fromIsr: false }]);
    expect(cpu0.heldLocks).toEqual([
      {
        lock: expect.stringMatching(/^Lock/),
        address: expect.any(Number),
        ownerCpu: 0,
        ownerThread: 'Main',
        takenBy: 'thread Main (Main)',
        irqlName: 'PASSIVE_LEVEL',
      },
    ]);
    expect(cpu0.readyThreads).toEqual([{ thread: 'Other', priority: 4 }]);
    const text = formatBugcheck(result);
    expect(text).toMatch(/DPC_QUEUE \(processor 0, in the order it would run them\):\n {2}Pending {2}routine PendingDpc, queued at [\d.]+ µs\n/);
    expect(text).toMatch(/SPIN_LOCKS_HELD:\n {2}Lock \(0x[0-9a-f]+\) {2}held by CPU 0, thread Main, taken by thread Main \(Main\) at PASSIVE_LEVEL\n/);
    expect(text).toMatch(/READY_THREADS \(highest priority first\):\n {2}Processor 0: Other \(priority 4\)\n/);
  });
});
