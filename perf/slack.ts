/**
 * Slack sweep: what the slack of parallel mode on virtual time (how far a CPU may run ahead of the
 * slowest running CPU; default DEFAULT_SLACK_NS) buys and costs. For each slack in SLACKS_US:
 *  - throughput: emulated instructions per host second of the compute-bound machine
 *    (perf/compute-machine.ts) at 2 and at 16 CPUs, steady state (a short and a long run, the
 *    difference; perf/sample.ts steadyRate);
 *  - fidelity: the built-in interrupt-storm at STORM_CPUS CPUs, assert → ISR and ISR → DPC p99 against
 *    deterministic mode's for the same seed (within 25% or within that slack).
 * The knee: the smallest slack whose throughput is within KNEE_SHARE of the sweep's best at both
 * CPU counts. Each slack's runs are one child process per repetition (host-time limit). Main thread
 * only: `node dist/perf/slack.js [--json]`.
 */

import { pathToFileURL } from 'node:url';
import { DEFAULT_SLACK_NS } from '../src/contract/config.js';
import type { BenchResult } from './bench-result.js';
import { loadSummary, median, printResult, round2, standalone } from './common.js';
import { withinTolerance } from './fidelity.js';
import { type RunSample, trySampleRuns, UNSTEADY_PAIR } from './sample.js';
import { computePairSpecs, pairRate } from './throughput.js';

export interface SlackBenchOptions {
  json: boolean;
  /** repetitions per slack (default 5) */
  repetitions?: number;
}

const SLACKS_US = [1, 2, 5, 10, 20, 50, 100] as const;
const STORM_CPUS = 4;
const STORM_MS = 200;
/** emulated ms of the short and long compute runs: 2 CPUs, 16 CPUs */
const PAIRS = [
  { cpus: 2, shortMs: 10, longMs: 40 },
  { cpus: 16, shortMs: 1.25, longMs: 5 },
] as const;
const KNEE_SHARE = 0.9;
const BATCH_TIMEOUT_MS = 180_000;

interface SlackSample {
  rate2: number;
  rate16: number;
  assertToIsrP99: number;
  isrToDpcP99: number;
}

export async function runSlackBench(opts: SlackBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const before = loadSummary();
  const stormSpec = { scenario: { kind: 'interrupt-storm' as const }, cpus: STORM_CPUS, durationMs: STORM_MS, seed: 1 };
  const det = await trySampleRuns([{ ...stormSpec, mode: 'deterministic' }], BATCH_TIMEOUT_MS);
  if (typeof det === 'string') throw new Error(`the deterministic interrupt-storm failed: ${det}`);
  const reference = det[0]!;
  const bySlack = new Map<number, SlackSample[]>(SLACKS_US.map((s) => [s, []]));
  const failures: string[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const slackUs of SLACKS_US) {
      const slackNs = slackUs * 1000;
      const samples = await trySampleRuns(
        [...PAIRS.flatMap((p) => computePairSpecs(p.cpus, 'parallel', p.shortMs, p.longMs, slackNs)), { ...stormSpec, mode: 'parallel', slackNs }],
        BATCH_TIMEOUT_MS,
      );
      if (typeof samples === 'string') {
        failures.push(`${slackUs} µs: ${samples}`);
        continue;
      }
      const storm = samples[4] as RunSample;
      const rate2 = pairRate(samples.slice(0, 2)).rate;
      const rate16 = pairRate(samples.slice(2, 4)).rate;
      if (!Number.isFinite(rate2) || !Number.isFinite(rate16)) {
        failures.push(`${slackUs} µs: ${UNSTEADY_PAIR}`);
        continue;
      }
      bySlack.get(slackUs)!.push({
        rate2,
        rate16,
        assertToIsrP99: storm.assertToIsr.p99Ns,
        isrToDpcP99: storm.isrToDpc.p99Ns,
      });
    }
  }
  const measured = SLACKS_US.filter((s) => bySlack.get(s)!.length > 0);
  if (measured.length === 0) throw new Error(`no slack was measured: ${failures.join('; ')}`);
  const med = (slackUs: number, f: keyof SlackSample): number => median(bySlack.get(slackUs)!.map((s) => s[f]));
  const range = (slackUs: number, f: keyof SlackSample): string => {
    const xs = bySlack.get(slackUs)!.map((s) => s[f] / 1e6);
    return `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
  };
  const best2 = Math.max(...measured.map((s) => med(s, 'rate2')));
  const best16 = Math.max(...measured.map((s) => med(s, 'rate16')));
  const metrics: Record<string, number> = {};
  const rows: string[] = [];
  for (const slackUs of measured) {
    const k = `slack${slackUs}us`;
    const a2i = med(slackUs, 'assertToIsrP99');
    const i2d = med(slackUs, 'isrToDpcP99');
    const fidelityOk = withinTolerance(a2i, reference.assertToIsr.p99Ns, slackUs * 1000) && withinTolerance(i2d, reference.isrToDpc.p99Ns, slackUs * 1000);
    metrics[`${k}Cpus2InstructionsPerHostSec`] = Math.round(med(slackUs, 'rate2'));
    metrics[`${k}Cpus2OfBest`] = round2(med(slackUs, 'rate2') / best2);
    metrics[`${k}Cpus16InstructionsPerHostSec`] = Math.round(med(slackUs, 'rate16'));
    metrics[`${k}Cpus16OfBest`] = round2(med(slackUs, 'rate16') / best16);
    metrics[`${k}StormAssertToIsrP99Ns`] = Math.round(a2i);
    metrics[`${k}StormIsrToDpcP99Ns`] = Math.round(i2d);
    metrics[`${k}StormWithin`] = fidelityOk ? 1 : 0;
    rows.push(
      `${slackUs} µs: 2 CPUs ${(med(slackUs, 'rate2') / 1e6).toFixed(1)} M/s (${range(slackUs, 'rate2')}; ${metrics[`${k}Cpus2OfBest`]} of best), 16 CPUs ${(med(slackUs, 'rate16') / 1e6).toFixed(1)} M/s (${range(slackUs, 'rate16')}; ${metrics[`${k}Cpus16OfBest`]}), storm p99 assert→ISR ${Math.round(a2i)} / ISR→DPC ${Math.round(i2d)} ns: ${fidelityOk ? 'within' : 'NOT within'}`,
    );
  }
  const knee = measured.find((s) => med(s, 'rate2') >= KNEE_SHARE * best2 && med(s, 'rate16') >= KNEE_SHARE * best16) ?? NaN;
  metrics.kneeSlackUs = knee;
  metrics.defaultSlackUs = DEFAULT_SLACK_NS / 1000;
  metrics.deterministicAssertToIsrP99Ns = reference.assertToIsr.p99Ns;
  metrics.deterministicIsrToDpcP99Ns = reference.isrToDpc.p99Ns;
  metrics.repetitions = reps;
  const after = loadSummary();
  metrics.loadAverageBefore = before;
  metrics.loadAverageAfter = after;
  const defaultRow = `slack${DEFAULT_SLACK_NS / 1000}us`;
  const notes = [
    `parallel mode on virtual time at each slack; throughput = compute-bound machine's instructions per host second in the steady state (runs of ${PAIRS.map((p) => `${p.shortMs}/${p.longMs} ms at ${p.cpus} CPUs`).join(', ')}, the difference); fidelity = interrupt-storm at ${STORM_CPUS} CPUs, ${STORM_MS} ms, seed 1, p99 vs deterministic (assert→ISR ${reference.assertToIsr.p99Ns} ns, ISR→DPC ${reference.isrToDpc.p99Ns} ns), within 25% or that slack; medians of ${reps} repetitions`,
    ...rows,
    `knee (smallest slack with both throughputs ≥ ${KNEE_SHARE * 100}% of the sweep's best): ${Number.isNaN(knee) ? 'none' : `${knee} µs`}; the default ${DEFAULT_SLACK_NS / 1000} µs: 2 CPUs at ${metrics[`${defaultRow}Cpus2OfBest`] ?? '?'} and 16 CPUs at ${metrics[`${defaultRow}Cpus16OfBest`] ?? '?'} of best, storm p99 ${metrics[`${defaultRow}StormWithin`] ? 'within' : 'NOT within'} tolerance`,
    `host load average (1 min) before ${before}, after ${after}${failures.length ? `; slacks whose batch failed (left out): ${failures.join('; ')}` : ''}`,
  ];
  const result: BenchResult = { name: 'slack', metrics, notes };
  if (!opts.json) printResult(result, 'slack sweep (parallel mode on virtual time)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('slack', runSlackBench);
}
