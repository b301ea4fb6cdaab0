/**
 * Fidelity benchmark: the built-in `interrupt-storm` in parallel mode on virtual time (the default
 * pace and slack: what a user gets) against deterministic mode, at 2, 4 and 16 CPUs, same seed and
 * duration. Side by side: device assert → ISR and ISR → DPC latency, p50 and p99 (emulated ns, as
 * RunResult.latency reports them); a parallel figure is within the target when it is within 25% of
 * the deterministic one or within the slack of it, whichever is larger. Also whether the machine
 * carried every interrupt offered (RunResult.interruptAccounting: exact, nothing unaccounted or
 * undelivered, every assertion taken or still pending at the end, and as many assertions as the
 * deterministic run offered).
 *
 * Deterministic mode gives the same figures for the same seed every time, so it runs once per CPU
 * count; parallel mode runs `repetitions` times (median and range). Every run is in a child process
 * with a host-time limit (perf/sample.ts). Main thread only: `node dist/perf/fidelity.js [--json]`.
 */

import { pathToFileURL } from 'node:url';
import { DEFAULT_SLACK_NS } from '../src/contract/config.js';
import type { BenchResult } from './bench-result.js';
import { loadSummary, median, metOrNot, printResult, standalone } from './common.js';
import { type RunSample, type RunSpec, trySampleRuns } from './sample.js';

export interface FidelityBenchOptions {
  json: boolean;
  /** parallel runs per CPU count (default 3) */
  repetitions?: number;
}

const CPU_COUNTS = [2, 4, 16] as const;
const DURATION_MS = 200;
const RELATIVE_TOLERANCE = 0.25;
const BATCH_TIMEOUT_MS = 120_000;

/** Within 25% of the reference, or within `slackNs` of it, whichever is larger. */
export function withinTolerance(measured: number, reference: number, slackNs: number): boolean {
  return Math.abs(measured - reference) <= Math.max(RELATIVE_TOLERANCE * Math.abs(reference), slackNs);
}

/** Every assertion accounted for and taken (or still pending in a local APIC when the run ended). */
export function carriedEverything(s: RunSample): boolean {
  const a = s.interruptAccounting;
  return a.exact && a.unaccounted === 0 && a.undelivered === 0 && a.taken + a.pendingInLocalApics === a.asserted + a.reasserted;
}

type Figure = 'assertToIsrP50' | 'assertToIsrP99' | 'isrToDpcP50' | 'isrToDpcP99';
const FIGURES: Figure[] = ['assertToIsrP50', 'assertToIsrP99', 'isrToDpcP50', 'isrToDpcP99'];

function figure(s: RunSample, f: Figure): number {
  switch (f) {
    case 'assertToIsrP50':
      return s.assertToIsr.p50Ns;
    case 'assertToIsrP99':
      return s.assertToIsr.p99Ns;
    case 'isrToDpcP50':
      return s.isrToDpc.p50Ns;
    case 'isrToDpcP99':
      return s.isrToDpc.p99Ns;
  }
}

export async function runFidelityBench(opts: FidelityBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 3;
  const before = loadSummary();
  const metrics: Record<string, number> = {};
  const notes: string[] = [
    `built-in interrupt-storm, ${DURATION_MS} ms emulated, seed 1; parallel mode on virtual time (slack ${DEFAULT_SLACK_NS / 1000} µs, the default) x ${reps} runs (median, range) vs deterministic mode x 1 (the same every time); latencies in emulated ns from RunResult.latency; target: each parallel figure within ${RELATIVE_TOLERANCE * 100}% of deterministic's or within the slack`,
  ];
  const failures: string[] = [];
  let allWithin = true;
  for (const cpus of CPU_COUNTS) {
    const spec: RunSpec = { scenario: { kind: 'interrupt-storm' }, cpus, durationMs: DURATION_MS, mode: 'deterministic', seed: 1 };
    const det = await trySampleRuns([spec], BATCH_TIMEOUT_MS);
    if (typeof det === 'string') {
      failures.push(`${cpus} CPUs deterministic: ${det}`);
      allWithin = false;
      continue;
    }
    const par: RunSample[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const s = await trySampleRuns([{ ...spec, mode: 'parallel' }], BATCH_TIMEOUT_MS);
      if (typeof s === 'string') failures.push(`${cpus} CPUs parallel: ${s}`);
      else par.push(s[0]!);
    }
    if (par.length === 0) {
      allWithin = false;
      continue;
    }
    const reference = det[0]!;
    const key = `cpus${cpus}`;
    const parts: string[] = [];
    for (const f of FIGURES) {
      const values = par.map((s) => figure(s, f));
      const med = median(values);
      const ref = figure(reference, f);
      const ok = withinTolerance(med, ref, DEFAULT_SLACK_NS);
      allWithin &&= ok;
      metrics[`${key}${f[0]!.toUpperCase()}${f.slice(1)}ParallelNs`] = Math.round(med);
      metrics[`${key}${f[0]!.toUpperCase()}${f.slice(1)}ParallelMinNs`] = Math.min(...values);
      metrics[`${key}${f[0]!.toUpperCase()}${f.slice(1)}ParallelMaxNs`] = Math.max(...values);
      metrics[`${key}${f[0]!.toUpperCase()}${f.slice(1)}DeterministicNs`] = ref;
      metrics[`${key}${f[0]!.toUpperCase()}${f.slice(1)}Within`] = ok ? 1 : 0;
      parts.push(`${f} ${Math.round(med)} (${Math.min(...values)}-${Math.max(...values)}) vs ${ref}: ${ok ? 'within' : 'NOT within'}`);
    }
    const carried = par.filter(carriedEverything).length;
    const sameOffer = par.filter((s) => s.interruptAccounting.asserted === reference.interruptAccounting.asserted).length;
    metrics[`${key}Asserted`] = Math.round(median(par.map((s) => s.interruptAccounting.asserted)));
    metrics[`${key}Taken`] = Math.round(median(par.map((s) => s.interruptAccounting.taken)));
    metrics[`${key}DeterministicAsserted`] = reference.interruptAccounting.asserted;
    metrics[`${key}RunsCarryingEveryInterrupt`] = carried;
    metrics[`${key}MaxSkewNs`] = Math.max(...par.map((s) => s.maxSkewNs ?? 0));
    metrics[`${key}ParallelRuns`] = par.length;
    metrics[`${key}ParallelHostMs`] = Math.round(median(par.map((s) => s.hostTimeMs)));
    metrics[`${key}DeterministicHostMs`] = Math.round(reference.hostTimeMs);
    const failedChecks = [...new Set(par.flatMap((s) => s.checksFailed))];
    notes.push(
      `${cpus} CPUs (ns, parallel median (range) vs deterministic): ${parts.join('; ')}; interrupts: ${metrics[`${key}Taken`]} taken of ${metrics[`${key}Asserted`]} asserted (deterministic offered ${reference.interruptAccounting.asserted}; ${sameOffer} of ${par.length} runs offered as many), every interrupt carried and accounted for in ${carried} of ${par.length} runs${cpus === 16 ? `: ${metOrNot(carried === par.length && sameOffer === par.length)}` : ''}; largest skew seen ${metrics[`${key}MaxSkewNs`]} ns; host ms per run ${metrics[`${key}ParallelHostMs`]} parallel, ${metrics[`${key}DeterministicHostMs`]} deterministic${failedChecks.length ? `; checks failed: ${failedChecks.join(', ')}` : ''}`,
    );
  }
  metrics.allWithin = allWithin ? 1 : 0;
  metrics.repetitions = reps;
  const after = loadSummary();
  metrics.loadAverageBefore = before;
  metrics.loadAverageAfter = after;
  notes.splice(1, 0, `every latency figure at 2, 4 and 16 CPUs within 25% or the slack: ${metOrNot(allWithin)}`);
  if (failures.length) notes.push(`runs that failed (left out): ${failures.join('; ')}`);
  notes.push(`host load average (1 min) before ${before}, after ${after}`);
  const result: BenchResult = { name: 'fidelity', metrics, notes };
  if (!opts.json) printResult(result, 'fidelity benchmark (interrupt-storm, parallel on virtual time vs deterministic)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('fidelity', runFidelityBench);
}
