/**
 * Time benchmark: what the clock and the timer table cost, against the two targets of the time
 * issue.
 *
 *  - timers (parallel mode, 1 emulated CPU, time scale 1): a thread arms TIMER_COUNT periodic
 *    KTIMERs (no DPC; periods spread over 1–10 s, first due times spread over each period, so about
 *    2,500 expire per second at steady state), stamps KeQueryPerformanceCounter, then spins
 *    (add, store, jump) to the end of the run. Its iterations per emulated (= host) second after the
 *    stamp, side by side in the same run with a machine whose clock ticks every 15.625 ms and has
 *    no timers, give the share of the CPU worker's time the 1 ms clock plus expiration took:
 *    1 − rate(1 ms clock, 10,000 timers) / rate(15.625 ms clock, none). The 1 ms clock without
 *    timers is measured too, to split the clock from the expiration. Expiration runs on CPU 0 and
 *    waits on the coordinator (which holds the timer table), so the coordinator's share of the work
 *    lands in CPU 0's loss. The emulator's own view, time at CLOCK_LEVEL and DISPATCH_LEVEL on CPU
 *    0 as a share of the window, is reported beside it.
 *  - idle (deterministic mode, 4 CPUs, 15.625 ms clock): host ms per emulated second of a machine
 *    with nothing to do, and of the same machine with one 1 s periodic timer and its DPC; the
 *    speed-up over real time is emulated ms / host ms.
 * Configurations alternate within each repetition, so drift in the host's load hits them alike.
 * Main thread only: `node dist/perf/time.js [--json]`, or runTimeBench() from the runner.
 */

import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/scenario/define.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import { R0, R1, R2, R5, R6, R7 } from '../src/isa/registers.js';
import type { RunResult } from '../src/machine/result.js';
import type { BenchResult } from './bench-result.js';
import { median, metOrNot, printResult, round1, round2, runDefinition, standalone } from './common.js';

export interface TimeBenchOptions {
  json: boolean;
  /** repetitions of each configuration (default 5) */
  repetitions?: number;
}

const TIMER_COUNT = 10_000;
const TIMERS_DURATION_MS = 2500;
const SHARE_TARGET_PCT = 5;

const IDLE_CPUS = 4;
const IDLE_EMULATED_MS = 60_000;
const IDLE_SPEEDUP_TARGET = 100;

/** x64 CLOCK_LEVEL and DISPATCH_LEVEL */
const CLOCK_LEVEL = 13;
const DISPATCH_LEVEL = 2;

interface TimersConfig {
  key: 'quiet' | 'clock1ms' | 'timers1ms';
  clockIntervalMs: number;
  timers: number;
}

const TIMERS_CONFIGS: readonly TimersConfig[] = [
  { key: 'quiet', clockIntervalMs: 15.625, timers: 0 },
  { key: 'clock1ms', clockIntervalMs: 1, timers: 0 },
  { key: 'timers1ms', clockIntervalMs: 1, timers: TIMER_COUNT },
];

/**
 * One CPU: Setup arms `timerCount` periodic timers (timer i: period 1000 + (i·7919 mod 9000) ms,
 * first due (1 + i·37 mod period) ms from now), stamps the performance counter, and spins.
 */
export function timerLoad(clockIntervalMs: number, timerCount: number): ScenarioDefinition {
  const timers: Record<string, { type: 'notification' }> = {};
  for (let i = 0; i < Math.max(1, timerCount); i++) timers[`T${i}`] = { type: 'notification' };
  return defineScenario({
    name: `perf-timers-${timerCount}-clock-${clockIntervalMs}ms`,
    description: `${timerCount} periodic KTIMERs armed, then one thread spins; clock every ${clockIntervalMs} ms`,
    machine: { cpus: 1, clockIntervalMs, durationMs: TIMERS_DURATION_MS },
    memory: { Due: { words: 2 }, ArmedAtNs: {}, Iterations: {} },
    timers,
    threads: { Spinner: { routine: 'Spinner', cpu: 0, priority: 8 } },
    routines: {
      Spinner: (a) => {
        a.movi(R5, a.timer('T0'));
        a.movi(R6, 0);
        a.label('arm');
        a.bge(R6, timerCount, 'armed');
        a.kcall('KeInitializeTimerEx', R5, 0);
        // R1 = period (ms), R2 = first due time (ms) within it
        a.mul(R1, R6, 7919);
        a.mod(R1, R1, 9000);
        a.add(R1, R1, 1000);
        a.mul(R2, R6, 37);
        a.mod(R2, R2, R1);
        a.add(R2, R2, 1);
        // relative due time: −ms × 10,000 (100 ns units), sign-extended into the high word
        a.mul(R2, R2, -10_000);
        a.store(a.var('Due'), 0, R2);
        a.store(a.var('Due'), 4, -1);
        a.kcall('KeSetTimerEx', R5, a.var('Due'), R1, 0);
        a.add(R5, R5, 1);
        a.add(R6, R6, 1);
        a.jmp('arm');
        a.label('armed');
        a.kcall('KeQueryPerformanceCounter');
        a.store(a.var('ArmedAtNs'), 0, R0);
        a.movi(R7, 0);
        a.label('spin');
        a.add(R7, R7, 1);
        a.store(a.var('Iterations'), 0, R7);
        a.jmp('spin');
      },
    },
    results: (run) => ({ armedAtNs: run.read('ArmedAtNs') >>> 0, iterations: run.read('Iterations') >>> 0 }),
  });
}

/** Nothing runs, or (withTimer) a thread arms one 1 s periodic timer whose DPC counts its firings, and ends. */
export function idleMachine(withTimer: boolean): ScenarioDefinition {
  return defineScenario({
    name: withTimer ? 'perf-idle-periodic-timer' : 'perf-idle',
    description: withTimer ? 'idle but for one 1 s periodic KTIMER with a DPC' : 'no threads, no devices: every CPU halted',
    machine: { cpus: IDLE_CPUS, clockIntervalMs: 15.625, durationMs: IDLE_EMULATED_MS },
    memory: { Due: { words: 2, init: [-10_000_000, -1] }, Firings: {} },
    timers: withTimer ? { Tick: { type: 'notification' } } : {},
    dpcs: withTimer ? { TickDpc: { routine: 'OnTick' } } : {},
    threads: withTimer ? { Setup: { routine: 'Setup', cpu: 0 } } : {},
    routines: withTimer
      ? {
          Setup: (a) => {
            a.kcall('KeInitializeTimer', a.timer('Tick'));
            a.kcall('KeInitializeDpc', a.dpc('TickDpc'), a.routine('OnTick'), 0);
            a.kcall('KeSetTimerEx', a.timer('Tick'), a.var('Due'), 1000, a.dpc('TickDpc'));
            a.ret(0);
          },
          OnTick: (a) => {
            a.load(R1, a.var('Firings'));
            a.add(R1, R1, 1);
            a.store(a.var('Firings'), 0, R1);
            a.ret();
          },
        }
      : {},
    results: (run) => ({ firings: run.read('Firings') }),
  });
}

interface TimersSample {
  iterationsPerSecond: number;
  windowMs: number;
  clockShare: number;
  dispatchShare: number;
  expirationsPerSecond: number;
  armedAtEnd: number;
}

function timersSample(result: RunResult): TimersSample {
  const armedAtNs = Number(result.results.armedAtNs);
  const iterations = Number(result.results.iterations);
  const windowNs = result.emulatedTimeNs - armedAtNs;
  if (!(armedAtNs > 0) || !(windowNs > 0.25 * result.emulatedTimeNs)) {
    throw new Error(`${result.scenario}: arming the timers took ${(armedAtNs / 1e6).toFixed(0)} ms of a ${(result.emulatedTimeNs / 1e6).toFixed(0)} ms run; too little steady state left to measure`);
  }
  const cpu0 = result.perCpu[0]!;
  return {
    iterationsPerSecond: iterations / (windowNs / 1e9),
    windowMs: windowNs / 1e6,
    // the arming phase is at PASSIVE_LEVEL, so CLOCK and DISPATCH time over the whole run falls almost all in the window
    clockShare: (cpu0.timeAtIrqlNs[String(CLOCK_LEVEL)] ?? 0) / windowNs,
    dispatchShare: (cpu0.timeAtIrqlNs[String(DISPATCH_LEVEL)] ?? 0) / windowNs,
    expirationsPerSecond: result.timers.expired / (windowNs / 1e9),
    armedAtEnd: result.timers.armedAtEnd,
  };
}

export async function runTimeBench(opts: TimeBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const timers: Record<TimersConfig['key'], TimersSample[]> = { quiet: [], clock1ms: [], timers1ms: [] };
  const idle: number[] = [];
  const idleTimer: number[] = [];
  let firings = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const config of TIMERS_CONFIGS) {
      const result = await runDefinition(timerLoad(config.clockIntervalMs, config.timers), { cpus: 1, durationMs: TIMERS_DURATION_MS });
      timers[config.key].push(timersSample(result));
    }
    idle.push((await runDefinition(idleMachine(false), { cpus: IDLE_CPUS, durationMs: IDLE_EMULATED_MS, mode: 'deterministic', seed: rep + 1 })).hostTimeMs);
    const withTimer = await runDefinition(idleMachine(true), { cpus: IDLE_CPUS, durationMs: IDLE_EMULATED_MS, mode: 'deterministic', seed: rep + 1 });
    idleTimer.push(withTimer.hostTimeMs);
    firings = Number(withTimer.results.firings);
  }
  const rate = (key: TimersConfig['key']): number => median(timers[key].map((s) => s.iterationsPerSecond));
  const pct = (x: number): number => round2(x * 100);
  const quietRate = rate('quiet');
  // per repetition, against the quiet run of the same repetition, then the median
  const sharePerRep = (key: TimersConfig['key']): number => median(timers[key].map((s, i) => 1 - s.iterationsPerSecond / timers.quiet[i]!.iterationsPerSecond));
  const timersShare = sharePerRep('timers1ms');
  const clockShare = sharePerRep('clock1ms');
  const emulatorView = (key: TimersConfig['key']): number => median(timers[key].map((s) => s.clockShare + s.dispatchShare));
  const idleMsPerS = median(idle) / (IDLE_EMULATED_MS / 1000);
  const idleTimerMsPerS = median(idleTimer) / (IDLE_EMULATED_MS / 1000);

  const metrics: Record<string, number> = {
    spinRateQuietPerSecond: Math.round(quietRate),
    spinRateClock1msPerSecond: Math.round(rate('clock1ms')),
    spinRateTimers1msPerSecond: Math.round(rate('timers1ms')),
    clock1msSharePct: pct(clockShare),
    clock1msPlus10kTimersSharePct: pct(timersShare),
    expirationsPerSecond: Math.round(median(timers.timers1ms.map((s) => s.expirationsPerSecond))),
    timersArmedAtEnd: median(timers.timers1ms.map((s) => s.armedAtEnd)),
    windowMs: round1(median(timers.timers1ms.map((s) => s.windowMs))),
    emulatorViewClockPlusDispatchQuietPct: pct(emulatorView('quiet')),
    emulatorViewClockPlusDispatchClock1msPct: pct(emulatorView('clock1ms')),
    emulatorViewClockPlusDispatchTimers1msPct: pct(emulatorView('timers1ms')),
    idle4CpusHostMsPerEmulatedSecond: round2(idleMsPerS),
    idle4CpusSpeedup: round1(1000 / idleMsPerS),
    idle4CpusPeriodicTimerHostMsPerEmulatedSecond: round2(idleTimerMsPerS),
    idle4CpusPeriodicTimerSpeedup: round1(1000 / idleTimerMsPerS),
    periodicTimerFirings: firings,
    repetitions: reps,
  };
  const notes = [
    `timers: 1 emulated CPU, parallel mode, time scale 1, ${TIMERS_DURATION_MS} ms runs; medians of ${reps} repetitions, the three machines alternating`,
    `${TIMER_COUNT.toLocaleString('en-US')} armed periodic timers with a 1 ms clock cost ${metrics.clock1msPlus10kTimersSharePct}% of the CPU's time (1 − spin rate / spin rate with a 15.625 ms clock and no timers; ${metrics.expirationsPerSecond} expirations/s), of which the 1 ms clock alone ${metrics.clock1msSharePct}% (target ≤ ${SHARE_TARGET_PCT}%): ${metOrNot(timersShare * 100 <= SHARE_TARGET_PCT)}`,
    `the emulator's own view of CPU 0 (time at CLOCK_LEVEL + DISPATCH_LEVEL over the window): ${metrics.emulatorViewClockPlusDispatchTimers1msPct}% with the timers, ${metrics.emulatorViewClockPlusDispatchClock1msPct}% with the 1 ms clock alone, ${metrics.emulatorViewClockPlusDispatchQuietPct}% quiet`,
    `idle ${IDLE_CPUS}-CPU machine, deterministic mode, 15.625 ms clock, ${IDLE_EMULATED_MS / 1000} emulated s: ${metrics.idle4CpusHostMsPerEmulatedSecond} host ms per emulated second, ${metrics.idle4CpusSpeedup}× real time (target ≥ ${IDLE_SPEEDUP_TARGET}×): ${metOrNot(1000 / idleMsPerS >= IDLE_SPEEDUP_TARGET)}`,
    `the same with one 1 s periodic timer and its DPC (${firings} firings): ${metrics.idle4CpusPeriodicTimerHostMsPerEmulatedSecond} host ms per emulated second, ${metrics.idle4CpusPeriodicTimerSpeedup}× real time: ${metOrNot(1000 / idleTimerMsPerS >= IDLE_SPEEDUP_TARGET)}`,
  ];
  const result: BenchResult = { name: 'time', metrics, notes };
  if (!opts.json) printResult(result, 'time benchmark (clock, timer table, idle deterministic machine)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone('time', runTimeBench);
}
