/**
 * Runs of the fidelity, throughput, slack and interrupts benchmarks, each batch in a fresh child
 * process (`node dist/perf/sample-child.js '<RunSpec[] as JSON>'`) under a host-time limit: a run that
 * hangs (parallel mode races for real) costs that batch, not the whole benchmark, and leaves no
 * worker behind. The child runs its specs one after another and prints one JSON line, a RunSample
 * per spec. Main thread only; owned by perf/.
 */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Pace } from '../src/contract/config.js';
import type { RunMode, RunResult } from '../src/machine/result.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import { runDefinition } from './common.js';

/** The machines the child can build, by name (built there: definitions hold functions). */
export type SampleScenario =
  | { kind: 'compute'; cpus: number }
  | { kind: 'interrupt-storm' }
  | { kind: 'interrupts'; cpus: number; ratePerCpu: number }
  | { kind: 'ipi-busy' };

export interface RunSpec {
  scenario: SampleScenario;
  cpus: number;
  durationMs: number;
  mode: RunMode;
  pace?: Pace;
  slackNs?: number;
  seed?: number;
}

export interface LatencyFigures {
  count: number;
  p50Ns: number;
  p99Ns: number;
}

/** What the benchmarks read from one run (a RunResult, less its bulk). */
export interface RunSample {
  hostTimeMs: number;
  /** host CPU ms the child process used during the run (every thread: main, coordinator, CPU workers) */
  hostCpuMs: number;
  emulatedTimeNs: number;
  instructions: number;
  cycles: number;
  /** device interrupts taken, all CPUs */
  interrupts: number;
  /** DPC routine runs, all CPUs */
  dpcs: number;
  assertToIsr: LatencyFigures;
  isrToDpc: LatencyFigures;
  interruptAccounting: RunResult['interruptAccounting'];
  maxSkewNs: number | null;
  slackWaits: number | null;
  results: RunResult['results'];
  checksFailed: string[];
}

async function definitionOf(scenario: SampleScenario): Promise<ScenarioDefinition> {
  switch (scenario.kind) {
    case 'compute':
      return (await import('./compute-machine.js')).computeScenario(scenario.cpus);
    case 'interrupt-storm':
      return (await import('../src/scenarios/interrupt-storm.js')).default;
    case 'interrupts':
      return (await import('./interrupts.js')).interruptScenario(scenario.cpus, scenario.ratePerCpu);
    case 'ipi-busy':
      return (await import('./ipi.js')).ipiBusyTrips;
  }
}

function summarize(r: RunResult, hostCpuMs: number): RunSample {
  const sum = (field: 'instructions' | 'cycles' | 'interrupts' | 'dpcs'): number => r.perCpu.reduce((s, c) => s + c[field], 0);
  const figures = (l: RunResult['latency']['assertToIsr']): LatencyFigures => ({ count: l.count, p50Ns: l.p50Ns, p99Ns: l.p99Ns });
  return {
    hostTimeMs: r.hostTimeMs,
    hostCpuMs,
    emulatedTimeNs: r.emulatedTimeNs,
    instructions: sum('instructions'),
    cycles: sum('cycles'),
    interrupts: sum('interrupts'),
    dpcs: sum('dpcs'),
    assertToIsr: figures(r.latency.assertToIsr),
    isrToDpc: figures(r.latency.isrToDpc),
    interruptAccounting: r.interruptAccounting,
    maxSkewNs: r.virtualTime?.maxSkewNs ?? null,
    slackWaits: r.virtualTime?.slackWaits ?? null,
    results: r.results,
    checksFailed: r.checks.filter((c) => !c.passed).map((c) => c.name),
  };
}

/** The child's work (perf/sample-child.ts): run `specs` one after another, print their samples as one JSON line. */
export async function runSpecsAndPrint(specs: RunSpec[]): Promise<void> {
  const samples: RunSample[] = [];
  for (const spec of specs) {
    const definition = await definitionOf(spec.scenario);
    const cpuBefore = process.cpuUsage();
    const result = await runDefinition(definition, {
      cpus: spec.cpus,
      durationMs: spec.durationMs,
      mode: spec.mode,
      ...(spec.pace !== undefined ? { pace: spec.pace } : {}),
      ...(spec.slackNs !== undefined ? { slackNs: spec.slackNs } : {}),
      ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    });
    const cpu = process.cpuUsage(cpuBefore);
    samples.push(summarize(result, (cpu.user + cpu.system) / 1000));
  }
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

const exec = promisify(execFile);

/**
 * Run `specs` one after another in a fresh child process; throws (one line) if the child failed,
 * a run bugchecked, or the batch outlived `timeoutMs` of host time (the child is then killed).
 */
export async function sampleRuns(specs: RunSpec[], timeoutMs: number): Promise<RunSample[]> {
  // a module of its own: the benchmark modules the child imports import this one, and a main module
  // still in its top-level await cannot be imported (the child would wait for itself forever)
  const child = fileURLToPath(new URL('./sample-child.js', import.meta.url));
  let stdout: string;
  try {
    ({ stdout } = await exec(process.execPath, [child, JSON.stringify(specs)], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const e = error as Error & { killed?: boolean; stderr?: string; code?: number | string };
    if (e.killed) throw new Error(`a batch of ${specs.length} runs did not finish within ${timeoutMs / 1000} s of host time (killed)`);
    const lines = e.stderr?.trim().split('\n').filter(Boolean) ?? [];
    const why = lines.find((line) => line.startsWith('irqlab bench: '))?.slice('irqlab bench: '.length) ?? lines.pop() ?? `exit code ${e.code ?? '?'}`;
    throw new Error(`a sample child failed: ${why}`);
  }
  return JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as RunSample[];
}

/** sampleRuns, but a failed batch is returned as its error line (the benchmark counts and reports them). */
export async function trySampleRuns(specs: RunSpec[], timeoutMs: number): Promise<RunSample[] | string> {
  try {
    return await sampleRuns(specs, timeoutMs);
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Events per host second in the steady state, from a short and a long run of the same machine in
 * one child: (count(long) - count(short)) / (hostTimeMs(long) - hostTimeMs(short)). Both runs pay the
 * same boot-to-first-chunk start, the workers' JIT warm-up and the wind-down (the stop, the reports),
 * which a count over one run's hostTimeMs would include; the difference leaves them out.
 */
export function steadyRate(short: RunSample, long: RunSample, count: (s: RunSample) => number): number {
  const hostMs = long.hostTimeMs - short.hostTimeMs;
  return hostMs > 0 ? (count(long) - count(short)) / (hostMs / 1000) : NaN;
}

/** Said of a short/long pair whose steadyRate is NaN (the benchmarks count such pairs as failed). */
export const UNSTEADY_PAIR = 'the long run took no longer in host time than the short one (a loaded host), so the pair gives no rate';
