/**
 * Interrupt-path benchmark: device interrupts taken per HOST second per CPU through the whole path
 * (IOAPIC assert message from the coordinator → local APIC → KiInterruptDispatch → ISR, which calls
 * KeInsertQueueDpc → KiDispatchInterrupt → KiRetireDpcList → DPC routine), on busy CPUs (a thread
 * runs on every CPU, so the CPU is never halted and never has to be woken).
 *
 * Parallel mode on virtual time (the default pace and slack: what users get). Emulated time is the
 * CPU's executed cycles there, so the device must assert faster than the CPU takes interrupts *in
 * emulated time*: a calibration run at a rate no CPU takes gives the emulated cycles per interrupt,
 * and the device then asserts OVERDRIVE x the CPU's emulated capacity (the local APIC's backlog
 * grows; taken < asserted in every run). The figure is interrupts taken per host second in the
 * steady state: a short and a long run of the same machine in one child process, the difference of
 * their counts over the difference of their hostTimeMs (perf/sample.ts steadyRate), which leaves out
 * the start, the workers' JIT warm-up and the wind-down. 1 CPU (the target) and 2 CPUs (per CPU).
 * Main thread only: `node dist/perf/interrupts.js [--json]`, or runInterruptsBench() from the runner.
 */

import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/scenario/define.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import type { RoutineBuilder } from '../src/isa/builder.js';
import { R1, R2 } from '../src/isa/registers.js';
import type { BenchResult } from './bench-result.js';
import { loadSummary, median, metOrNot, printResult, round2, standalone } from './common.js';
import { type RunSample, type RunSpec, sampleRuns, steadyRate, trySampleRuns, UNSTEADY_PAIR } from './sample.js';

export interface InterruptsBenchOptions {
  json: boolean;
  /** repetitions (default 5) */
  repetitions?: number;
}

const TARGET_PER_SEC = 1_000_000;
const DURATION_MS = 40;
/** emulated ms of the short and the long run */
const SHORT_MS = 10;
const LONG_MS = 40;
/** the calibration run: a device rate (per emulated s) far above what a CPU takes */
const CALIBRATION_RATE = 50_000_000;
const CALIBRATION_MS = 5;
/** the measured device rate, over the CPU's emulated capacity */
const OVERDRIVE = 1.25;
const BATCH_TIMEOUT_MS = 120_000;

/** One device, KINTERRUPT, KDPC and busy thread per CPU; device i asserts only to CPU i. */
export function interruptScenario(cpus: number, ratePerCpu: number): ScenarioDefinition {
  const routines: Record<string, (a: RoutineBuilder) => void> = {
    // keeps the CPU busy (not halted) whenever no interrupt or DPC is pending
    Busy: (a) => {
      a.label('loop');
      a.work(100);
      a.jmp('loop');
    },
  };
  const memory: Record<string, { words?: number }> = {};
  const interrupts: Record<string, { vector: number; routine: string }> = {};
  const dpcs: Record<string, { routine: string }> = {};
  const devices: Record<string, { vector: number; ratePerSec: number; cpus: number[] }> = {};
  const threads: Record<string, { routine: string; cpu: number }> = {};
  for (let cpu = 0; cpu < cpus; cpu++) {
    const vector = 0x50 + cpu;
    memory[`Isr${cpu}`] = {};
    memory[`Dpc${cpu}`] = {};
    // ServiceRoutine: count, queue this CPU's DPC (coalesces while it is queued), claim
    routines[`Isr${cpu}`] = (a) => {
      a.movi(R2, 1);
      a.xadd(R1, a.var(`Isr${cpu}`), 0, R2);
      a.kcall('KeInsertQueueDpc', a.dpc(`Dpc${cpu}`), 0, 0);
      a.ret(1);
    };
    // DeferredRoutine: minimal work, count it
    routines[`DpcRoutine${cpu}`] = (a) => {
      a.movi(R2, 1);
      a.xadd(R1, a.var(`Dpc${cpu}`), 0, R2);
      a.ret();
    };
    interrupts[`Interrupt${cpu}`] = { vector, routine: `Isr${cpu}` };
    dpcs[`Dpc${cpu}`] = { routine: `DpcRoutine${cpu}` };
    devices[`dev${cpu}`] = { vector, ratePerSec: ratePerCpu, cpus: [cpu] };
    threads[`Busy${cpu}`] = { routine: 'Busy', cpu };
  }
  return defineScenario({
    name: 'perf-interrupts',
    description: 'one device per CPU asserting faster than the CPU can take; ISR queues a DPC; busy threads',
    machine: { cpus, durationMs: DURATION_MS },
    memory,
    routines,
    interrupts,
    dpcs,
    devices,
    threads,
    results: (run) => {
      const out: Record<string, number> = {};
      for (let cpu = 0; cpu < cpus; cpu++) {
        out[`isr${cpu}`] = run.read(`Isr${cpu}`);
        out[`dpc${cpu}`] = run.read(`Dpc${cpu}`);
      }
      return out;
    },
  });
}

export interface InterruptSample {
  /** interrupts taken per host second, per CPU, in the steady state */
  interruptsPerHostSec: number;
  /** DPC routine runs per host second, per CPU, in the steady state */
  dpcsPerHostSec: number;
  /** the long run: interrupts taken / device assertions made (< 1: the device outran the CPU) */
  takenFraction: number;
  /** host cores the child used in the steady state */
  hostCores: number;
  instructionsPerInterrupt: number;
  cyclesPerInterrupt: number;
}

function interruptSpecs(cpus: number, ratePerCpu: number): RunSpec[] {
  const base = { scenario: { kind: 'interrupts' as const, cpus, ratePerCpu }, cpus, mode: 'parallel' as const };
  return [
    { ...base, durationMs: SHORT_MS },
    { ...base, durationMs: LONG_MS },
  ];
}

function interruptSample(cpus: number, short: RunSample, long: RunSample): InterruptSample {
  const asserted = long.interruptAccounting.asserted;
  return {
    interruptsPerHostSec: steadyRate(short, long, (s) => s.interrupts) / cpus,
    dpcsPerHostSec: steadyRate(short, long, (s) => s.dpcs) / cpus,
    takenFraction: asserted > 0 ? long.interrupts / asserted : 0,
    hostCores: steadyRate(short, long, (s) => s.hostCpuMs) / 1000,
    instructionsPerInterrupt: long.interrupts > 0 ? long.instructions / long.interrupts : 0,
    cyclesPerInterrupt: long.interrupts > 0 ? long.cycles / long.interrupts : 0,
  };
}

/** Emulated cycles one interrupt costs a saturated CPU (1 CPU, a device far faster than it). */
async function calibrate(): Promise<number> {
  const [s] = await sampleRuns(
    [{ scenario: { kind: 'interrupts', cpus: 1, ratePerCpu: CALIBRATION_RATE }, cpus: 1, durationMs: CALIBRATION_MS, mode: 'parallel' }],
    BATCH_TIMEOUT_MS,
  );
  if (!s || !(s.interrupts > 0)) throw new Error('the calibration run took no interrupt');
  return s.cycles / s.interrupts;
}

export async function runInterruptsBench(opts: InterruptsBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const before = loadSummary();
  const calibratedCycles = await calibrate();
  // cyclesPerNs is 1 (the default 1000 cycles/µs): the CPU's capacity per emulated second
  const rate = Math.round((OVERDRIVE * 1e9) / calibratedCycles);
  const one: InterruptSample[] = [];
  const two: InterruptSample[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const samples = await trySampleRuns([...interruptSpecs(1, rate), ...interruptSpecs(2, rate)], BATCH_TIMEOUT_MS);
    if (typeof samples === 'string') {
      failures.push(samples);
      continue;
    }
    const oneCpu = interruptSample(1, samples[0]!, samples[1]!);
    const twoCpus = interruptSample(2, samples[2]!, samples[3]!);
    if (Number.isFinite(oneCpu.interruptsPerHostSec)) one.push(oneCpu);
    else failures.push(`1 CPU: ${UNSTEADY_PAIR}`);
    if (Number.isFinite(twoCpus.interruptsPerHostSec)) two.push(twoCpus);
    else failures.push(`2 CPUs: ${UNSTEADY_PAIR}`);
  }
  if (one.length === 0) throw new Error(`no repetition completed: ${failures.join('; ')}`);
  const med = (xs: InterruptSample[], f: keyof InterruptSample): number => median(xs.map((s) => s[f]));
  const oneRate = med(one, 'interruptsPerHostSec');
  const after = loadSummary();
  const metrics: Record<string, number> = {
    oneCpuInterruptsPerHostSec: Math.round(oneRate),
    oneCpuInterruptsPerHostSecMin: Math.round(Math.min(...one.map((s) => s.interruptsPerHostSec))),
    oneCpuInterruptsPerHostSecMax: Math.round(Math.max(...one.map((s) => s.interruptsPerHostSec))),
    oneCpuDpcsPerHostSec: Math.round(med(one, 'dpcsPerHostSec')),
    oneCpuTakenFraction: round2(med(one, 'takenFraction')),
    oneCpuHostCores: round2(med(one, 'hostCores')),
    oneCpuCyclesPerInterrupt: Math.round(med(one, 'cyclesPerInterrupt')),
    oneCpuInstructionsPerInterrupt: round2(med(one, 'instructionsPerInterrupt')),
    oneCpuHostNsPerInterrupt: Math.round(1e9 / oneRate),
    twoCpusInterruptsPerHostSecPerCpu: Math.round(med(two, 'interruptsPerHostSec')),
    twoCpusInterruptsPerHostSecPerCpuMin: Math.round(Math.min(...two.map((s) => s.interruptsPerHostSec))),
    twoCpusInterruptsPerHostSecPerCpuMax: Math.round(Math.max(...two.map((s) => s.interruptsPerHostSec))),
    twoCpusTakenFraction: round2(med(two, 'takenFraction')),
    twoCpusHostCores: round2(med(two, 'hostCores')),
    deviceRatePerEmulatedSec: rate,
    calibratedCyclesPerInterrupt: Math.round(calibratedCycles),
    vsTarget: round2(oneRate / TARGET_PER_SEC),
    repetitions: one.length,
    loadAverageBefore: before,
    loadAverageAfter: after,
  };
  const notes = [
    `parallel mode on virtual time (default slack); each device asserts ${(rate / 1e6).toFixed(2)} M/emulated s, ${OVERDRIVE}x what a CPU takes (calibrated: ${metrics.calibratedCyclesPerInterrupt} emulated cycles per interrupt when saturated); steady state = runs of ${SHORT_MS} and ${LONG_MS} emulated ms in one child, the difference of interrupts taken over the difference of hostTimeMs; medians of ${one.length} repetitions, per CPU`,
    `one busy CPU: ${metrics.oneCpuInterruptsPerHostSec} interrupts/host s (${metrics.oneCpuInterruptsPerHostSecMin}-${metrics.oneCpuInterruptsPerHostSecMax}) = ${metrics.vsTarget}x the ${TARGET_PER_SEC / 1e6} M/s target: ${metOrNot(oneRate >= TARGET_PER_SEC)}; ${metrics.oneCpuHostNsPerInterrupt} host ns per interrupt on ${metrics.oneCpuHostCores} host cores (CPU worker and coordinator); taken ${metrics.oneCpuTakenFraction} of asserted (the device outran the CPU), ${metrics.oneCpuInstructionsPerInterrupt} instructions and ${metrics.oneCpuCyclesPerInterrupt} cycles per interrupt`,
    `every ISR calls KeInsertQueueDpc; DPC routine runs are far fewer than interrupts (KeInsertQueueDpc returns FALSE while the KDPC is queued, and the DPC runs only when no device interrupt is pending): ${metrics.oneCpuDpcsPerHostSec} DPC runs/host s`,
    `two busy CPUs on this host (sharing it with the coordinator and the main thread): ${metrics.twoCpusInterruptsPerHostSecPerCpu}/host s per CPU (${metrics.twoCpusInterruptsPerHostSecPerCpuMin}-${metrics.twoCpusInterruptsPerHostSecPerCpuMax}) on ${metrics.twoCpusHostCores} host cores`,
    `host load average (1 min) before ${before}, after ${after}${failures.length ? `; repetitions that failed (left out): ${failures.join('; ')}` : ''}`,
  ];
  const result: BenchResult = { name: 'interrupts', metrics, notes };
  if (!opts.json) printResult(result, 'interrupts benchmark (assert -> ISR -> DPC, per host second, virtual time)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('interrupts', runInterruptsBench);
}
