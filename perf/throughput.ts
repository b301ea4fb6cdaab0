/**
 * Throughput benchmark: emulated instructions per host second of the compute-bound machine
 * (perf/compute-machine.ts: one computing thread per CPU, no kernel calls, no devices) in parallel
 * mode on virtual time (the default pace and slack: what a user gets) against the same machine in
 * deterministic mode (the default worker backend), in the same run: 2 CPUs (the target: parallel
 * ≥ 1.6× deterministic, two host cores really used), and 4 and 16 CPUs for information.
 *
 * Steady state: each repetition is one child process (perf/sample.ts) running, per mode, a short and
 * a long run of the same machine; the rate is the difference of their instructions over the
 * difference of their hostTimeMs, which leaves out the start, the workers' JIT warm-up and the
 * wind-down that both runs pay. Host cores used = the difference of the child's CPU time over the
 * same host time. Main thread only: `node dist/perf/throughput.js [--json]`.
 */

import { pathToFileURL } from 'node:url';
import type { BenchResult } from './bench-result.js';
import { loadSummary, median, metOrNot, printResult, round2, standalone } from './common.js';
import { type RunSample, type RunSpec, steadyRate, trySampleRuns, UNSTEADY_PAIR } from './sample.js';

export interface ThroughputBenchOptions {
  json: boolean;
  /** repetitions at 2 CPUs (default 5; 3 at 4 and 16 CPUs) */
  repetitions?: number;
}

const TARGET_RATIO = 1.6;
/** emulated ms of the short and the long run at 2 CPUs; scaled by 2 / CPUs so every machine executes as much */
const SHORT_MS_AT_2 = 10;
const LONG_MS_AT_2 = 40;
const CASES = [2, 4, 16] as const;
const BATCH_TIMEOUT_MS = 180_000;

export interface ModeRates {
  parallel: number;
  deterministic: number;
  parallelCores: number;
  deterministicCores: number;
}

export function computePairSpecs(cpus: number, mode: 'parallel' | 'deterministic', shortMs: number, longMs: number, slackNs?: number): RunSpec[] {
  const base = { scenario: { kind: 'compute' as const, cpus }, cpus, mode, ...(slackNs !== undefined ? { slackNs } : {}) };
  return [
    { ...base, durationMs: shortMs },
    { ...base, durationMs: longMs },
  ];
}

const instructions = (s: RunSample): number => s.instructions;
const cpuMs = (s: RunSample): number => s.hostCpuMs;

/** Instructions per host second and host cores used in the steady state, from a [short, long] pair. */
export function pairRate(pair: RunSample[]): { rate: number; cores: number } {
  const [short, long] = pair as [RunSample, RunSample];
  return { rate: steadyRate(short, long, instructions), cores: steadyRate(short, long, cpuMs) / 1000 };
}

async function measure(cpus: number): Promise<ModeRates | string> {
  const shortMs = (SHORT_MS_AT_2 * 2) / cpus;
  const longMs = (LONG_MS_AT_2 * 2) / cpus;
  const samples = await trySampleRuns(
    [...computePairSpecs(cpus, 'parallel', shortMs, longMs), ...computePairSpecs(cpus, 'deterministic', shortMs, longMs)],
    BATCH_TIMEOUT_MS,
  );
  if (typeof samples === 'string') return samples;
  const par = pairRate(samples.slice(0, 2));
  const det = pairRate(samples.slice(2, 4));
  if (!Number.isFinite(par.rate) || !Number.isFinite(det.rate)) return UNSTEADY_PAIR;
  return { parallel: par.rate, deterministic: det.rate, parallelCores: par.cores, deterministicCores: det.cores };
}

export async function runThroughputBench(opts: ThroughputBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const before = loadSummary();
  const metrics: Record<string, number> = {};
  const notes: string[] = [
    `compute-bound machine (one computing thread per CPU, no kernel calls), parallel mode on virtual time (default slack) vs deterministic mode (worker backend), in the same child process per repetition; instructions per host second in the steady state = (instructions(long) - instructions(short)) / (hostTimeMs(long) - hostTimeMs(short)), runs of ${SHORT_MS_AT_2} and ${LONG_MS_AT_2} emulated ms at 2 CPUs (x 2/CPUs at more CPUs); ratio per repetition, then median and range`,
  ];
  const failures: string[] = [];
  for (const cpus of CASES) {
    const runs: ModeRates[] = [];
    const caseReps = cpus === 2 ? reps : Math.min(reps, 3);
    for (let rep = 0; rep < caseReps; rep++) {
      const m = await measure(cpus);
      if (typeof m === 'string') failures.push(`${cpus} CPUs: ${m}`);
      else runs.push(m);
    }
    if (runs.length === 0) continue;
    const ratios = runs.map((r) => r.parallel / r.deterministic);
    const ratio = median(ratios);
    const key = `cpus${cpus}`;
    metrics[`${key}ParallelInstructionsPerHostSec`] = Math.round(median(runs.map((r) => r.parallel)));
    metrics[`${key}DeterministicInstructionsPerHostSec`] = Math.round(median(runs.map((r) => r.deterministic)));
    metrics[`${key}Ratio`] = round2(ratio);
    metrics[`${key}RatioMin`] = round2(Math.min(...ratios));
    metrics[`${key}RatioMax`] = round2(Math.max(...ratios));
    metrics[`${key}ParallelHostCores`] = round2(median(runs.map((r) => r.parallelCores)));
    metrics[`${key}DeterministicHostCores`] = round2(median(runs.map((r) => r.deterministicCores)));
    metrics[`${key}Repetitions`] = runs.length;
    const verdict = cpus === 2 ? ` against the ${TARGET_RATIO}x target: ${metOrNot(ratio >= TARGET_RATIO)}` : ' (for information)';
    notes.push(
      `${cpus} CPUs: parallel ${(metrics[`${key}ParallelInstructionsPerHostSec`]! / 1e6).toFixed(1)} M instructions/host s on ${metrics[`${key}ParallelHostCores`]} host cores, deterministic ${(metrics[`${key}DeterministicInstructionsPerHostSec`]! / 1e6).toFixed(1)} M on ${metrics[`${key}DeterministicHostCores`]}: ${metrics[`${key}Ratio`]}x (${metrics[`${key}RatioMin`]}-${metrics[`${key}RatioMax`]}x over ${runs.length} repetitions)${verdict}`,
    );
  }
  const after = loadSummary();
  metrics.loadAverageBefore = before;
  metrics.loadAverageAfter = after;
  if (failures.length) notes.push(`batches that failed (left out of the figures): ${failures.join('; ')}`);
  notes.push(`host load average (1 min) before ${before}, after ${after}`);
  if (!metrics.cpus2Ratio) throw new Error(`no 2-CPU repetition completed: ${failures.join('; ')}`);
  const result: BenchResult = { name: 'throughput', metrics, notes };
  if (!opts.json) printResult(result, 'throughput benchmark (compute-bound machine, parallel on virtual time vs deterministic)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('throughput', runThroughputBench);
}
