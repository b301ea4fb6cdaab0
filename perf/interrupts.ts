/**
 * Interrupt-path benchmark: device interrupts taken per HOST second per CPU through the whole path
 * (IOAPIC assert message from the coordinator → local APIC → KiInterruptDispatch → ISR, which calls
 * KeInsertQueueDpc → KiDispatchInterrupt → KiRetireDpcList → DPC routine), on busy CPUs (a thread
 * runs on every CPU, so the CPU is never halted and never has to be woken).
 *
 * Two measurements, parallel mode, time scale 1 unless said:
 *  - saturated: the device rate is set above what a CPU can take, so every CPU has interrupts
 *    pending in its local APIC at all times and the figure is the emulator's throughput, not the
 *    emulated device's rate (1 CPU, 2 CPUs, and 1 CPU at time scale 4 to show pacing is not the
 *    limit; 5 runs each, medians)
 *  - sustained: a sweep of offered rates on 1 CPU; the highest rate the CPU carried without falling
 *    behind (taken >= 99% of asserted), and what it took (3 runs each, medians)
 * Main thread only: `node dist/perf/interrupts.js [--json]`, or runInterruptsBench() from the runner.
 */

import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/scenario/define.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import type { RoutineBuilder } from '../src/isa/builder.js';
import { R1, R2 } from '../src/isa/registers.js';
import type { RunResult } from '../src/machine/result.js';
import { LocalApic } from '../src/hal/lapic.js';
import type { BenchResult } from './bench-result.js';
import { median, metOrNot, printResult, round2, runDefinition, standalone } from './common.js';

export interface InterruptsBenchOptions {
  json: boolean;
  /** runs per configuration (default 5) */
  repetitions?: number;
}

const TARGET_PER_SEC = 500_000;
const DURATION_MS = 400;
/**
 * device assertions per emulated second, per CPU: a few times what one CPU takes. Not more: every
 * assertion is one ring message the coordinator sends, and a coordinator over-driving the CPU takes
 * host-core time from it on a 2-core host (3 M/s measured lower than 1 M/s).
 */
const SATURATING_RATE = 1_000_000;
/** offered rates (per emulated s = per host s at time scale 1) for the sustained-rate sweep, one CPU */
const SWEEP_RATES = [150_000, 200_000, 250_000, 300_000, 400_000, 500_000, 700_000];
const SWEEP_REPETITIONS = 3;

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
  /** interrupts taken per host second, per CPU (mean over the CPUs) */
  interruptsPerHostSec: number;
  /** DPC routine runs per host second, per CPU */
  dpcsPerHostSec: number;
  /** interrupts taken / device assertions made */
  takenFraction: number;
  /** emulated cycles executed per host ns / (cycles per emulated ns × time scale): how much of its pacing allowance the CPU used (busy thread included) */
  pacingLoad: number;
  /** RunResult.hostTimeMs: host time from the run's start to the last report */
  hostTimeMs: number;
  /** instructions and cycles executed per interrupt taken (all code, busy thread included; in a saturated run the thread hardly runs) */
  instructionsPerInterrupt: number;
  cyclesPerInterrupt: number;
}

export async function measureInterrupts(cpus: number, ratePerCpu: number, timeScale = 1, durationMs = DURATION_MS): Promise<InterruptSample> {
  const r: RunResult = await runDefinition(interruptScenario(cpus, ratePerCpu), { cpus, durationMs, timeScale });
  const hostSec = r.hostTimeMs / 1000;
  const interrupts = r.perCpu.reduce((s, c) => s + c.interrupts, 0);
  const dpcs = r.perCpu.reduce((s, c) => s + c.dpcs, 0);
  const asserted = r.deviceAssertions.reduce((s, d) => s + d.asserted, 0);
  const cycles = r.perCpu.reduce((s, c) => s + c.cycles, 0);
  const instructions = r.perCpu.reduce((s, c) => s + c.instructions, 0);
  return {
    interruptsPerHostSec: interrupts / cpus / hostSec,
    dpcsPerHostSec: dpcs / cpus / hostSec,
    takenFraction: asserted > 0 ? interrupts / asserted : 0,
    // cyclesPerNs is 1 (the default 1000 cycles/µs)
    pacingLoad: cycles / cpus / (r.hostTimeMs * 1e6) / timeScale,
    hostTimeMs: r.hostTimeMs,
    instructionsPerInterrupt: interrupts > 0 ? instructions / interrupts : 0,
    cyclesPerInterrupt: interrupts > 0 ? cycles / interrupts : 0,
  };
}

/**
 * The local APIC alone, on the main thread: ns per post + accept + EOI of one vector while
 * `backlog` assertions stay pending (what a CPU pays per interrupt under a saturating device).
 */
export function apicAcceptNs(backlog: number, operations = 20_000): number {
  const irqlOfVector = new Int32Array(256);
  for (let v = 0; v < 256; v++) irqlOfVector[v] = v >> 4;
  const apic = new LocalApic(irqlOfVector);
  for (let i = 0; i < backlog; i++) apic.post(0x50, i);
  const t0 = performance.now();
  for (let i = 0; i < operations; i++) {
    apic.post(0x50, i);
    apic.accept(5);
    apic.eoi();
  }
  return ((performance.now() - t0) * 1e6) / operations;
}

export async function runInterruptsBench(opts: InterruptsBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const configs = [
    { key: 'oneCpu', cpus: 1, rate: SATURATING_RATE, timeScale: 1 },
    { key: 'twoCpus', cpus: 2, rate: SATURATING_RATE, timeScale: 1 },
    // the same host-side device rate and host-time window with emulated time running 4x faster: pacing 4x looser
    { key: 'oneCpuScale4', cpus: 1, rate: SATURATING_RATE / 4, timeScale: 4 },
  ] as const;
  // the local APIC alone first, before the machines leave garbage on this thread's heap; warmed up
  apicAcceptNs(100);
  const apicSmall = median([0, 1, 2].map(() => apicAcceptNs(100)));
  const apicLarge = median([0, 1, 2].map(() => apicAcceptNs(100_000)));
  const samples = new Map<string, InterruptSample[]>(configs.map((c) => [c.key, []]));
  const sweep = new Map<number, InterruptSample[]>(SWEEP_RATES.map((rate) => [rate, []]));
  for (let rep = 0; rep < reps; rep++) {
    // the same host-time window for every configuration: emulated duration x time scale
    for (const c of configs) samples.get(c.key)!.push(await measureInterrupts(c.cpus, c.rate, c.timeScale, DURATION_MS * c.timeScale));
    if (rep < SWEEP_REPETITIONS) for (const rate of SWEEP_RATES) sweep.get(rate)!.push(await measureInterrupts(1, rate));
  }
  const med = (key: string, field: keyof InterruptSample): number => median(samples.get(key)!.map((s) => s[field]));
  const medSweep = (rate: number, field: keyof InterruptSample): number => median(sweep.get(rate)!.map((s) => s[field]));
  const one = med('oneCpu', 'interruptsPerHostSec');
  const two = med('twoCpus', 'interruptsPerHostSec');
  // the highest offered rate one CPU carried without falling behind
  const carried = SWEEP_RATES.filter((rate) => medSweep(rate, 'takenFraction') >= 0.99);
  const sustainedRate = carried.length ? Math.max(...carried) : 0;
  const sustained = sustainedRate ? medSweep(sustainedRate, 'interruptsPerHostSec') : 0;
  const metrics: Record<string, number> = {
    oneCpuInterruptsPerHostSec: Math.round(one),
    oneCpuDpcsPerHostSec: Math.round(med('oneCpu', 'dpcsPerHostSec')),
    oneCpuTakenFraction: round2(med('oneCpu', 'takenFraction')),
    oneCpuPacingLoadPct: round2(med('oneCpu', 'pacingLoad') * 100),
    oneCpuCyclesPerInterrupt: Math.round(med('oneCpu', 'cyclesPerInterrupt')),
    oneCpuInstructionsPerInterrupt: round2(med('oneCpu', 'instructionsPerInterrupt')),
    twoCpusInterruptsPerHostSecPerCpu: Math.round(two),
    twoCpusDpcsPerHostSecPerCpu: Math.round(med('twoCpus', 'dpcsPerHostSec')),
    twoCpusTakenFraction: round2(med('twoCpus', 'takenFraction')),
    oneCpuTimeScale4InterruptsPerHostSec: Math.round(med('oneCpuScale4', 'interruptsPerHostSec')),
    sustainedRateCarried: sustainedRate,
    sustainedInterruptsPerHostSec: Math.round(sustained),
    sustainedDpcsPerHostSec: sustainedRate ? Math.round(medSweep(sustainedRate, 'dpcsPerHostSec')) : 0,
    apicAcceptNsBacklog100: Math.round(apicSmall),
    apicAcceptNsBacklog100k: Math.round(apicLarge),
    vsTarget: round2(one / TARGET_PER_SEC),
    sustainedVsTarget: round2(sustained / TARGET_PER_SEC),
    durationMs: DURATION_MS,
    saturatingRatePerCpu: SATURATING_RATE,
    repetitions: reps,
  };
  for (const rate of SWEEP_RATES) {
    metrics[`sweep${rate / 1000}kInterruptsPerHostSec`] = Math.round(medSweep(rate, 'interruptsPerHostSec'));
    metrics[`sweep${rate / 1000}kTakenFraction`] = round2(medSweep(rate, 'takenFraction'));
  }
  const notes = [
    `parallel mode, ${DURATION_MS} ms emulated per run (x4 at time scale 4, so every run covers ~${DURATION_MS} ms of host time); rates are per HOST second (taken / RunResult.hostTimeMs, host time from run start to the last report) and per CPU; saturated figures are medians of ${reps} runs, the sweep of ${SWEEP_REPETITIONS}`,
    `one busy CPU, saturated (device at ${SATURATING_RATE / 1e6} M/emulated s): ${metrics.oneCpuInterruptsPerHostSec} interrupts/s = ${metrics.vsTarget}x the ${TARGET_PER_SEC / 1000}k/s target: ${metOrNot(one >= TARGET_PER_SEC)}`,
    `sustained: the highest offered rate in the sweep (${SWEEP_RATES.map((r) => `${r / 1000}k`).join(', ')}) that one CPU carried (taken >= 99% of asserted; a lower bound, as fine as the sweep) was ${sustainedRate / 1000}k/s, taken at ${metrics.sustainedInterruptsPerHostSec}/s = ${metrics.sustainedVsTarget}x the target: ${metOrNot(sustained >= TARGET_PER_SEC)}`,
    `the local APIC's assertion queue costs the same at any backlog (post + accept + EOI: ${metrics.apicAcceptNsBacklog100} ns with 100 assertions pending, ${metrics.apicAcceptNsBacklog100k} ns with 100,000; LocalApic alone, main thread), so an over-driven CPU keeps its rate: saturated ${metrics.oneCpuInterruptsPerHostSec}/s against ${metrics.sustainedInterruptsPerHostSec}/s at the highest rate carried. What an interrupt costs on the host (~${Math.round(1e9 / Math.max(1, metrics.oneCpuInterruptsPerHostSec))} ns) is the assertion message from the coordinator, its APIC round, the frame push and pop, ~${metrics.oneCpuInstructionsPerInterrupt} interpreted instructions and the KeInsertQueueDpc call`,
    `pacing (a CPU never runs ahead of emulated time: 1 cycle per emulated ns x time scale) does not limit these figures: an interrupt costs ~${metrics.oneCpuCyclesPerInterrupt} emulated cycles, the saturated CPU used ${metrics.oneCpuPacingLoadPct}% of its cycle allowance, and time scale 4 (4x looser pacing, same host-side device rate and host window) took ${metrics.oneCpuTimeScale4InterruptsPerHostSec}/s`,
    `every ISR calls KeInsertQueueDpc; DPC routine runs are far fewer than interrupts (KeInsertQueueDpc returns FALSE while the KDPC is queued, and the DPC runs only when no device interrupt, DIRQL > DISPATCH_LEVEL, is pending): ${metrics.sustainedDpcsPerHostSec} DPC runs/s at the sustained rate, ${metrics.oneCpuDpcsPerHostSec}/s saturated`,
    `two saturated CPUs on this 2-core host (sharing it with the coordinator and the main thread): ${metrics.twoCpusInterruptsPerHostSecPerCpu}/s per CPU`,
  ];
  const result: BenchResult = { name: 'interrupts', metrics, notes };
  if (!opts.json) printResult(result, 'interrupts benchmark (assert -> ISR -> DPC, per host second)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('interrupts', runInterruptsBench);
}
