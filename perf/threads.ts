/**
 * Threads benchmark: what the dispatcher (served by the coordinator worker) and SwapContext cost,
 * in three measurements, each run 5 times by default (medians of the per-run figures):
 *
 *  - ping-pong: thread Ping (CPU 0) and thread Pong (CPU 1) bounce two synchronization events
 *    (Ping: t0 = KeQueryPerformanceCounter, KeSetEvent(E1), KeWaitForSingleObject(E2), t1; Pong:
 *    wait E1, set E2), parallel mode at time scale 1 (emulated ns = host ns); p50/p99 of the round
 *    trip against the raw IPI round trip between two busy CPUs (the built-in `ipi-pingpong`)
 *    measured in the same run. Two variants: idle (a waiting thread's CPU halts, asleep in
 *    Atomics.wait) and busy (a priority-1 thread on each CPU, so no CPU ever halts).
 *  - yield: one CPU, two priority-8 threads calling ZwYieldExecution in a loop; context switches
 *    per host second (perCpu[0].contextSwitches / hostTimeMs), parallel and deterministic mode.
 *  - scaling: pairs of unpinned threads handing a turn back and forth through two events (work,
 *    KeSetEvent(partner), KeWaitForSingleObject(own)); the same total iterations as 64 threads on
 *    16 CPUs and as 8 threads on 2 CPUs; completed iterations per host second, and the ratio.
 * Every parallel run here is host-paced (pace 'host', time scale 1: emulated ns = host ns), because
 * these figures are host latencies timed with KeQueryPerformanceCounter; the runs get perf/common.ts's
 * HOST_PACED_WATCHDOGS, so a loaded host cannot end one in a false bugcheck. Parallel mode's default,
 * virtual time, is measured by ipi, interrupts, fidelity, throughput and slack.
 * Main thread only: `node dist/perf/threads.js [--json]`, or runThreadsBench() from the runner.
 */

import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/scenario/define.js';
import type { RunView, ScenarioDefinition, ThreadDeclaration } from '../src/scenario/define.js';
import type { RoutineBuilder } from '../src/isa/builder.js';
import { R0, R1, R2, R5, R6, R7 } from '../src/isa/registers.js';
import ipiPingpong from '../src/scenarios/ipi-pingpong.js';
import type { BenchResult } from './bench-result.js';
import { median, metOrNot, printResult, round1, round2, runDefinition, standalone } from './common.js';
import { percentile } from '../src/util/stats.js';

export interface ThreadsBenchOptions {
  json: boolean;
  /** runs per case (default 5) */
  repetitions?: number;
}

/** targets from the issue: ping-pong p50 ≤ 3× the IPI p50; 64 threads on 16 CPUs ≥ 0.5× the 2-CPU case */
const PINGPONG_VS_IPI_TARGET = 3;
const SCALING_TARGET = 0.5;

const IPI_DURATION_MS = 300;
const PINGPONG_DURATION_MS = 300;
/** more than fit in the run: Ping stops at the end of the run, not before */
const PINGPONG_MAX_ROUNDS = 50_000;

const YIELD_PARALLEL_DURATION_MS = 300;
/** emulated; a deterministic yield and switch cost ~380 emulated ns but a coordinator round trip of host time */
const YIELD_DETERMINISTIC_DURATION_MS = 5;

/** the scaling workload: the same total iterations in both configurations */
const SCALING_TOTAL_ITERATIONS = 6400;
const SCALING_WORK_CYCLES = 1000;
/**
 * the run length (a parallel run lasts its whole duration); the figure runs to the moment the last
 * thread finished, stamped in the run, or to the end of the run if they did not all finish
 */
const SCALING_DURATION_MS = 800;
const SCALING_CASES = [
  { cpus: 2, threads: 8 },
  { cpus: 16, threads: 64 },
] as const;

// ---------------------------------------------------------------------------------------------
// scenarios
// ---------------------------------------------------------------------------------------------

function traced(run: RunView, tag: number): number[] {
  return run.userEvents
    .filter((e) => e.tag === tag)
    .map((e) => e.value >>> 0)
    .sort((a, b) => a - b);
}

/**
 * Ping (CPU 0) and Pong (CPU 1), priority 8, two synchronization events. With `busy`, a priority-1
 * thread on each CPU runs whenever Ping or Pong waits, so the CPUs never halt: a wake-up is then a
 * preemption (the setter's CPU sends the target a DPC/reschedule IPI) instead of a halted CPU woken.
 */
export function threadPingPong(busy: boolean): ScenarioDefinition {
  const threads: Record<string, ThreadDeclaration> = {
    Ping: { routine: 'Ping', cpu: 0, priority: 8 },
    Pong: { routine: 'Pong', cpu: 1, priority: 8 },
  };
  if (busy) {
    threads.Busy0 = { routine: 'Busy', cpu: 0, priority: 1 };
    threads.Busy1 = { routine: 'Busy', cpu: 1, priority: 1 };
  }
  return defineScenario({
    name: busy ? 'perf-thread-pingpong-busy' : 'perf-thread-pingpong',
    description: `threads on CPU 0 and CPU 1 bounce two events; ${busy ? 'a priority-1 busy thread on each CPU' : 'the CPUs halt while their thread waits'}`,
    machine: { cpus: 2, durationMs: PINGPONG_DURATION_MS },
    memory: { Rounds: {}, Done: {} },
    events: { E1: { type: 'synchronization' }, E2: { type: 'synchronization' } },
    threads,
    routines: {
      Ping: (a) => {
        a.movi(R5, 0);
        a.label('loop');
        a.kcall('KeQueryPerformanceCounter');
        a.mov(R6, R0);
        a.kcall('KeSetEvent', a.event('E1'), 0, 0);
        // how long the set alone took (one dispatcher request that readies Pong)
        a.kcall('KeQueryPerformanceCounter');
        a.sub(R7, R0, R6);
        a.trace(2, R7);
        a.kcall('KeWaitForSingleObject', a.event('E2'), 0, 0, 0, 0);
        a.kcall('KeQueryPerformanceCounter');
        a.sub(R7, R0, R6);
        a.trace(1, R7);
        a.add(R5, R5, 1);
        a.store(a.var('Rounds'), 0, R5);
        a.blt(R5, PINGPONG_MAX_ROUNDS, 'loop');
        a.store(a.var('Done'), 0, 1);
        a.ret(0);
      },
      Pong: (a) => {
        a.label('loop');
        a.kcall('KeWaitForSingleObject', a.event('E1'), 0, 0, 0, 0);
        a.kcall('KeSetEvent', a.event('E2'), 0, 0);
        a.jmp('loop');
      },
      Busy: (a) => {
        a.label('loop');
        a.work(200);
        a.load(R1, a.var('Done'));
        a.beqz(R1, 'loop');
        a.ret(0);
      },
    },
    results: (run) => {
      const trips = traced(run, 1);
      return {
        roundTrips: trips.length,
        // µs, as the built-in ipi-pingpong reports its round trips (measureTrips reads both)
        roundTripP50Us: percentile(trips, 50) / 1000,
        roundTripP99Us: percentile(trips, 99) / 1000,
        setP50Us: percentile(traced(run, 2), 50) / 1000,
        contextSwitches: run.perCpu.reduce((s, c) => s + c.contextSwitches, 0),
      };
    },
  });
}

/** One CPU, two priority-8 threads yielding to each other for the whole run. */
export const yieldPair: ScenarioDefinition = defineScenario({
  name: 'perf-thread-yield',
  description: 'two priority-8 threads on one CPU call ZwYieldExecution in a loop',
  machine: { cpus: 1, durationMs: YIELD_PARALLEL_DURATION_MS },
  memory: { Yields: {}, NoYield: {} },
  threads: {
    YieldA: { routine: 'Yielder', cpu: 0, priority: 8 },
    YieldB: { routine: 'Yielder', cpu: 0, priority: 8 },
  },
  routines: {
    Yielder: (a) => {
      a.movi(R2, 1);
      a.label('loop');
      a.kcall('ZwYieldExecution');
      a.xadd(R1, a.var('Yields'), 0, R2);
      // STATUS_NO_YIELD_PERFORMED: nothing else was ready
      a.beqz(R0, 'loop');
      a.xadd(R1, a.var('NoYield'), 0, R2);
      a.jmp('loop');
    },
  },
  results: (run) => ({ yields: run.read('Yields'), noYield: run.read('NoYield') }),
});

/**
 * `threads` unpinned priority-8 threads in pairs; in each pair A and B take turns through two
 * synchronization events: A: work, set Eb, wait Ea; B: wait Eb, work, set Ea. Every iteration is
 * one work burst, one KeSetEvent that readies the partner (a wake-up, on this CPU or another) and
 * one wait that blocks (a context switch), i.e. two dispatcher requests. Iterations (of all threads)
 * are counted in `Iterations`; the thread that finishes last stamps `DoneAt` (KeQueryPerformanceCounter).
 */
export function pairHandoff(cpus: number, threadCount: number, iterationsPerThread: number): ScenarioDefinition {
  if (threadCount % 2 !== 0) throw new Error('pairHandoff: an even thread count');
  const pairs = threadCount / 2;
  const routines: Record<string, (a: RoutineBuilder) => void> = {};
  const threads: Record<string, ThreadDeclaration> = {};
  const events: Record<string, { type: 'synchronization' }> = {};
  // after the last iteration: count this thread finished; the last one stamps the time
  const finish = (a: RoutineBuilder): void => {
    a.movi(R2, 1);
    a.xadd(R1, a.var('Finished'), 0, R2);
    a.add(R1, R1, 1);
    a.blt(R1, threadCount, 'out');
    a.kcall('KeQueryPerformanceCounter');
    a.store(a.var('DoneAt'), 0, R0);
    a.label('out');
    a.ret(0);
  };
  for (let p = 0; p < pairs; p++) {
    events[`Ea${p}`] = { type: 'synchronization' };
    events[`Eb${p}`] = { type: 'synchronization' };
    routines[`A${p}`] = (a) => {
      a.movi(R5, 0);
      a.movi(R2, 1);
      a.label('loop');
      a.work(SCALING_WORK_CYCLES);
      a.kcall('KeSetEvent', a.event(`Eb${p}`), 0, 0);
      a.kcall('KeWaitForSingleObject', a.event(`Ea${p}`), 0, 0, 0, 0);
      a.xadd(R1, a.var('Iterations'), 0, R2);
      a.add(R5, R5, 1);
      a.blt(R5, iterationsPerThread, 'loop');
      finish(a);
    };
    routines[`B${p}`] = (a) => {
      a.movi(R5, 0);
      a.movi(R2, 1);
      a.label('loop');
      a.kcall('KeWaitForSingleObject', a.event(`Eb${p}`), 0, 0, 0, 0);
      a.work(SCALING_WORK_CYCLES);
      a.kcall('KeSetEvent', a.event(`Ea${p}`), 0, 0);
      a.xadd(R1, a.var('Iterations'), 0, R2);
      a.add(R5, R5, 1);
      a.blt(R5, iterationsPerThread, 'loop');
      finish(a);
    };
    threads[`A${p}`] = { routine: `A${p}`, priority: 8 };
    threads[`B${p}`] = { routine: `B${p}`, priority: 8 };
  }
  return defineScenario({
    name: `perf-thread-scaling-${threadCount}on${cpus}`,
    description: `${pairs} pairs of unpinned threads hand a turn back and forth through two events, ${iterationsPerThread} iterations each`,
    machine: { cpus, durationMs: SCALING_DURATION_MS },
    memory: { Iterations: {}, Finished: {}, DoneAt: {} },
    events,
    threads,
    routines,
    results: (run) => ({
      iterations: run.read('Iterations'),
      finished: run.read('Finished'),
      doneAtNs: run.read('DoneAt') >>> 0,
      migrated: run.threads.filter((t) => t.ranOn.length > 1).length,
      contextSwitches: run.perCpu.reduce((s, c) => s + c.contextSwitches, 0),
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// measurements
// ---------------------------------------------------------------------------------------------

interface TripSample {
  p50: number;
  p99: number;
  trips: number;
  /** thread ping-pong only: p50 of Ping's KeSetEvent(E1) alone */
  setP50: number;
}

async function measureTrips(definition: ScenarioDefinition, durationMs: number): Promise<TripSample> {
  const r = await runDefinition(definition, { cpus: 2, durationMs, pace: 'host' });
  const res = r.results as Record<string, number>;
  if (!(res.roundTrips! > 0)) throw new Error(`${definition.name}: no round trip completed in ${durationMs} ms`);
  return {
    p50: Math.round(res.roundTripP50Us! * 1000),
    p99: Math.round(res.roundTripP99Us! * 1000),
    trips: res.roundTrips!,
    setP50: Math.round((res.setP50Us ?? 0) * 1000),
  };
}

interface YieldSample {
  switchesPerHostSec: number;
  /** yields that found nothing else ready (should be 0) */
  noYield: number;
  hostTimeMs: number;
  emulatedNsPerSwitch: number;
}

async function measureYield(mode: 'parallel' | 'deterministic'): Promise<YieldSample> {
  const durationMs = mode === 'parallel' ? YIELD_PARALLEL_DURATION_MS : YIELD_DETERMINISTIC_DURATION_MS;
  const r = await runDefinition(yieldPair, { cpus: 1, durationMs, mode, ...(mode === 'parallel' ? { pace: 'host' as const } : {}) });
  const res = r.results as Record<string, number>;
  const switches = r.perCpu[0]!.contextSwitches;
  if (!(switches > 0)) throw new Error(`${yieldPair.name}: no context switch in ${durationMs} ms (${mode})`);
  return {
    switchesPerHostSec: switches / (r.hostTimeMs / 1000),
    noYield: res.noYield!,
    hostTimeMs: r.hostTimeMs,
    emulatedNsPerSwitch: r.emulatedTimeNs / switches,
  };
}

interface ScalingSample {
  /** completed iterations per host second (time scale 1: emulated ns = host ns) */
  iterationsPerHostSec: number;
  /** host ms until the last thread was done (or the whole run if they were not) */
  elapsedMs: number;
  finished: boolean;
  contextSwitches: number;
  migrated: number;
}

async function measureScaling(cpus: number, threadCount: number): Promise<ScalingSample> {
  const perThread = SCALING_TOTAL_ITERATIONS / threadCount;
  const r = await runDefinition(pairHandoff(cpus, threadCount, perThread), { cpus, durationMs: SCALING_DURATION_MS, pace: 'host' });
  const res = r.results as Record<string, number>;
  const finished = res.finished === threadCount && res.doneAtNs! > 0;
  const elapsedNs = finished ? res.doneAtNs! : r.emulatedTimeNs;
  return {
    iterationsPerHostSec: res.iterations! / (elapsedNs / 1e9),
    elapsedMs: elapsedNs / 1e6,
    finished,
    contextSwitches: res.contextSwitches!,
    migrated: res.migrated!,
  };
}

export async function runThreadsBench(opts: ThreadsBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const ipi: TripSample[] = [];
  const idle: TripSample[] = [];
  const busy: TripSample[] = [];
  const yieldPar: YieldSample[] = [];
  const yieldDet: YieldSample[] = [];
  const scaling: ScalingSample[][] = SCALING_CASES.map(() => []);
  const idlePingPong = threadPingPong(false);
  const busyPingPong = threadPingPong(true);
  for (let rep = 0; rep < reps; rep++) {
    ipi.push(await measureTrips(ipiPingpong, IPI_DURATION_MS));
    idle.push(await measureTrips(idlePingPong, PINGPONG_DURATION_MS));
    busy.push(await measureTrips(busyPingPong, PINGPONG_DURATION_MS));
    yieldPar.push(await measureYield('parallel'));
    yieldDet.push(await measureYield('deterministic'));
    for (let i = 0; i < SCALING_CASES.length; i++) scaling[i]!.push(await measureScaling(SCALING_CASES[i]!.cpus, SCALING_CASES[i]!.threads));
  }

  const ipiP50 = median(ipi.map((s) => s.p50));
  const idleP50 = median(idle.map((s) => s.p50));
  const busyP50 = median(busy.map((s) => s.p50));
  // the ratio of each run (both measured in that run), then the median of those
  const idleRatios = idle.map((s, i) => s.p50 / ipi[i]!.p50);
  const busyRatios = busy.map((s, i) => s.p50 / ipi[i]!.p50);
  const idleRatio = median(idleRatios);
  const busyRatio = median(busyRatios);
  const [small, large] = SCALING_CASES;
  const smallRate = median(scaling[0]!.map((s) => s.iterationsPerHostSec));
  const largeRate = median(scaling[1]!.map((s) => s.iterationsPerHostSec));
  const scalingRatios = scaling[1]!.map((s, i) => s.iterationsPerHostSec / scaling[0]![i]!.iterationsPerHostSec);
  const scalingRatio = median(scalingRatios);
  const unfinished = scaling.map((runs) => runs.filter((s) => !s.finished).length);

  const metrics: Record<string, number> = {
    ipiBusyP50Ns: Math.round(ipiP50),
    ipiBusyP99Ns: Math.round(median(ipi.map((s) => s.p99))),
    pingPongIdleP50Ns: Math.round(idleP50),
    pingPongIdleP99Ns: Math.round(median(idle.map((s) => s.p99))),
    pingPongIdleSetP50Ns: Math.round(median(idle.map((s) => s.setP50))),
    pingPongIdleRoundTripsPerRun: Math.round(median(idle.map((s) => s.trips))),
    pingPongIdleVsIpi: round2(idleRatio),
    pingPongIdleVsIpiMin: round2(Math.min(...idleRatios)),
    pingPongIdleVsIpiMax: round2(Math.max(...idleRatios)),
    pingPongBusyP50Ns: Math.round(busyP50),
    pingPongBusyP99Ns: Math.round(median(busy.map((s) => s.p99))),
    pingPongBusySetP50Ns: Math.round(median(busy.map((s) => s.setP50))),
    pingPongBusyRoundTripsPerRun: Math.round(median(busy.map((s) => s.trips))),
    pingPongBusyVsIpi: round2(busyRatio),
    pingPongBusyVsIpiMin: round2(Math.min(...busyRatios)),
    pingPongBusyVsIpiMax: round2(Math.max(...busyRatios)),
    yieldSwitchesPerSecParallel: Math.round(median(yieldPar.map((s) => s.switchesPerHostSec))),
    yieldSwitchesPerSecParallelMin: Math.round(Math.min(...yieldPar.map((s) => s.switchesPerHostSec))),
    yieldSwitchesPerSecParallelMax: Math.round(Math.max(...yieldPar.map((s) => s.switchesPerHostSec))),
    yieldSwitchesPerSecDeterministic: Math.round(median(yieldDet.map((s) => s.switchesPerHostSec))),
    yieldSwitchesPerSecDeterministicMin: Math.round(Math.min(...yieldDet.map((s) => s.switchesPerHostSec))),
    yieldSwitchesPerSecDeterministicMax: Math.round(Math.max(...yieldDet.map((s) => s.switchesPerHostSec))),
    yieldDeterministicHostMs: round1(median(yieldDet.map((s) => s.hostTimeMs))),
    yieldDeterministicEmulatedNsPerSwitch: Math.round(median(yieldDet.map((s) => s.emulatedNsPerSwitch))),
    yieldNoYieldPerformed: Math.max(...yieldPar.map((s) => s.noYield), ...yieldDet.map((s) => s.noYield)),
    scaling2CpuIterationsPerSec: Math.round(smallRate),
    scaling2CpuElapsedMs: round1(median(scaling[0]!.map((s) => s.elapsedMs))),
    scaling16CpuIterationsPerSec: Math.round(largeRate),
    scaling16CpuElapsedMs: round1(median(scaling[1]!.map((s) => s.elapsedMs))),
    scaling16CpuContextSwitches: Math.round(median(scaling[1]!.map((s) => s.contextSwitches))),
    scaling16CpuThreadsMigrated: Math.round(median(scaling[1]!.map((s) => s.migrated))),
    scaling2CpuUnfinishedRuns: unfinished[0]!,
    scaling16CpuUnfinishedRuns: unfinished[1]!,
    scalingRatio: round2(scalingRatio),
    scalingRatioMin: round2(Math.min(...scalingRatios)),
    scalingRatioMax: round2(Math.max(...scalingRatios)),
    repetitions: reps,
  };
  const cores = os.availableParallelism();
  const notes = [
    `medians over ${reps} runs; a ratio is taken within each run (both figures from that run) and the median of the per-run ratios is reported, with their range; host: ${cores} cores (os.availableParallelism()), which run every CPU worker, the coordinator and the main thread`,
    "every parallel run of this benchmark is host-paced (pace 'host', time scale 1, watchdogs out of reach): its figures are host latencies",
    `ping-pong: Ping on CPU 0 and Pong on CPU 1 (priority 8) bounce two synchronization events, parallel mode at time scale 1 (emulated ns = host ns); a round trip is timed on Ping with KeQueryPerformanceCounter around KeSetEvent(E1) + KeWaitForSingleObject(E2), and is at least four dispatcher requests (two sets, two waits), each a CPU-to-coordinator round trip, plus two wake-ups and two context switches`,
    `idle CPUs: a thread that waits leaves its CPU halted, asleep in Atomics.wait, so the wake-up latency of a sleeping worker thread is part of every round trip: p50 ${metrics.pingPongIdleP50Ns} ns, p99 ${metrics.pingPongIdleP99Ns} ns = ${metrics.pingPongIdleVsIpi}x the IPI p50 (${metrics.pingPongIdleVsIpiMin}-${metrics.pingPongIdleVsIpiMax}x) against the ${PINGPONG_VS_IPI_TARGET}x target: ${metOrNot(idleRatio <= PINGPONG_VS_IPI_TARGET)}`,
    `busy CPUs: a priority-1 thread on each CPU runs whenever Ping or Pong waits, so no CPU halts and a wake-up is a preemption (a DPC/reschedule IPI to the other CPU, then a dispatcher request and a switch there): p50 ${metrics.pingPongBusyP50Ns} ns, p99 ${metrics.pingPongBusyP99Ns} ns = ${metrics.pingPongBusyVsIpi}x the IPI p50 (${metrics.pingPongBusyVsIpiMin}-${metrics.pingPongBusyVsIpiMax}x) against the ${PINGPONG_VS_IPI_TARGET}x target: ${metOrNot(busyRatio <= PINGPONG_VS_IPI_TARGET)}`,
    `raw IPI round trip in the same runs (built-in ipi-pingpong, two busy CPUs, ${IPI_DURATION_MS} ms): p50 ${metrics.ipiBusyP50Ns} ns, p99 ${metrics.ipiBusyP99Ns} ns; it never involves the coordinator`,
    `what the round trip is made of: Ping's KeSetEvent(E1) alone (one dispatcher request that readies Pong; Ping does not switch) takes p50 ${metrics.pingPongIdleSetP50Ns} ns idle and ${metrics.pingPongBusySetP50Ns} ns busy, far above the ~${Math.round(1e9 / metrics.yieldSwitchesPerSecParallel!)} ns a back-to-back yield (request + switch) costs below: requests that come ~0.1 ms apart find the coordinator asleep in Atomics.wait (it spins ~16 µs after each delivery, src/shm/doorbell.ts) and the requesting CPU napping on its doorbell after 256 spins (src/cpu/processor.ts spun()), so each request pays thread wake-ups, not dispatcher work`,
    `context switches on one CPU, two priority-8 threads yielding (ZwYieldExecution) to each other for the whole run, perCpu[0].contextSwitches / hostTimeMs: parallel ${metrics.yieldSwitchesPerSecParallel}/s (${metrics.yieldSwitchesPerSecParallelMin}-${metrics.yieldSwitchesPerSecParallelMax}, ${YIELD_PARALLEL_DURATION_MS} ms runs); deterministic ${metrics.yieldSwitchesPerSecDeterministic}/s (${metrics.yieldSwitchesPerSecDeterministicMin}-${metrics.yieldSwitchesPerSecDeterministicMax}; ${YIELD_DETERMINISTIC_DURATION_MS} ms emulated took ${metrics.yieldDeterministicHostMs} host ms, ${metrics.yieldDeterministicEmulatedNsPerSwitch} emulated ns per switch); no target set`,
    'a yield is one dispatcher request served by the coordinator worker and a switch; in deterministic mode the CPU worker blocks for the reply (the coordinator serves it while it waits for the slice to end), so each switch costs one worker-to-coordinator round trip of host time; in parallel mode the CPU spins for the reply, and a run where the two keep each other awake is several times faster than one where they fall asleep between requests (hence the wide range)',
    `scaling: ${SCALING_TOTAL_ITERATIONS} iterations in all, shared by pairs of unpinned priority-8 threads that take turns through two events (an iteration: work ${SCALING_WORK_CYCLES} cycles = ${SCALING_WORK_CYCLES / 1000} µs, KeSetEvent waking the partner, KeWaitForSingleObject blocking: two dispatcher requests, a wake-up and a switch), chosen so the figure is the dispatcher, the coordinator and the switch path rather than emulated work, and the same work whatever the CPU count; completed iterations per host second up to the moment the last thread finished (KeQueryPerformanceCounter, time scale 1), or over the whole ${SCALING_DURATION_MS} ms run if not all finished`,
    `${small.threads} threads on ${small.cpus} CPUs: ${metrics.scaling2CpuIterationsPerSec} iterations/s (${metrics.scaling2CpuElapsedMs} ms); ${large.threads} threads on ${large.cpus} CPUs: ${metrics.scaling16CpuIterationsPerSec} iterations/s (${metrics.scaling16CpuElapsedMs} ms) = ${metrics.scalingRatio}x (${metrics.scalingRatioMin}-${metrics.scalingRatioMax}x) against the ${SCALING_TARGET}x target: ${metOrNot(scalingRatio >= SCALING_TARGET)}; runs that did not finish within ${SCALING_DURATION_MS} ms: ${unfinished[0]} of ${reps} and ${unfinished[1]} of ${reps}`,
    `the ${small.cpus}-CPU rate depends on where the dispatcher puts each pair (a pair on one CPU hands over with a local switch, a split pair with a cross-CPU wake-up), so it varies from run to run and grows as pairs settle; with ${large.cpus} CPU workers and the coordinator on ${cores} host cores, a CPU worker waiting for a dispatcher reply spins, then naps on its doorbell, and every reply and wake-up waits for a host core`,
  ];
  const result: BenchResult = { name: 'threads', metrics, notes };
  if (!opts.json) printResult(result, 'threads benchmark (event ping-pong, yield switches, 64 threads on 16 CPUs)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('threads', runThreadsBench);
}
