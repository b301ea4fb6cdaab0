/**
 * Helpers shared by the perf/ benchmarks (main thread only): run a scenario definition in a given
 * mode, medians and rounding, host facts, the standalone command line of each benchmark module,
 * and the human-readable printer. Owned by perf/; never part of irqlab's public API.
 */

import os from 'node:os';
import { parseArgs } from 'node:util';
import { executeScenario } from '../src/machine/execute.js';
import type { RunMode, RunResult } from '../src/machine/result.js';
import type { Pace } from '../src/contract/config.js';
import { defineScenario, relativeTime } from '../src/scenario/define.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import { R1 } from '../src/isa/registers.js';
import { MAX_CLOCK_WATCHDOG_TICKS, validateScenario } from '../src/scenario/validate.js';
import type { BenchResult } from './bench-result.js';

export interface HostInfo {
  /** os.availableParallelism(): the cores this process may use */
  cores: number;
  cpuModel: string;
  node: string;
  platform: string;
}

export function hostInfo(): HostInfo {
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface ScenarioRunOptions {
  cpus: number;
  durationMs: number;
  mode?: RunMode;
  /**
   * parallel mode's time source: 'virtual' (the default, what users get: emulated time is executed
   * cycles, so KeQueryPerformanceCounter measures emulated time, and host-time figures must count
   * events per host second) or 'host' (emulated ns = host ns x timeScale: at time scale 1,
   * KeQueryPerformanceCounter is a host clock). Runs with pace 'host' get HOST_PACED_WATCHDOGS.
   */
  pace?: Pace;
  /** parallel mode, pace 'virtual': the slack, emulated ns (default: the product's, DEFAULT_SLACK_NS) */
  slackNs?: number;
  /** parallel mode, pace 'host' only: emulated ns per host ns (default 1) */
  timeScale?: number;
  seed?: number;
}

/**
 * Host-paced runs tie emulated time to the host clock, so a host that deschedules a worker for a
 * few ms (a loaded 2-core host does) would fire the emulated watchdogs (0x101 for a CPU that took
 * no clock tick or did not acknowledge an IPI, 0x133, the spin-lock deadlock report) and end the
 * benchmark in a false bugcheck. No benchmark tests the watchdogs, so host-paced runs raise them
 * all out of reach (the clock watchdog to the largest value the validator allows).
 */
export const HOST_PACED_WATCHDOGS = {
  ipiAckTimeoutTicks: 1_000_000,
  clockWatchdogTicks: MAX_CLOCK_WATCHDOG_TICKS,
  spinTimeoutTicks: 1_000_000,
  dpcTimeLimitTicks: 1_000_000,
  dpcWatchdogPeriodTicks: 1_000_000,
} as const;

/** `definition` with its watchdogs out of reach of host descheduling (for pace 'host'). */
export function withHostPacedWatchdogs(definition: ScenarioDefinition): ScenarioDefinition {
  return { ...definition, machine: { ...definition.machine, ...HOST_PACED_WATCHDOGS } };
}

/** The options executeScenario gets for a run's mode and pace (it does not check them: this does, as runScenario does). */
export function paceOptions(opts: Pick<ScenarioRunOptions, 'mode' | 'pace' | 'slackNs' | 'timeScale'>): {
  pace?: Pace;
  slackNs?: number;
  timeScale?: number;
  flags: string;
} {
  const mode = opts.mode ?? 'parallel';
  if (mode === 'deterministic') {
    if (opts.pace !== undefined || opts.slackNs !== undefined || opts.timeScale !== undefined)
      throw new Error('perf: pace, slackNs and timeScale apply to parallel mode only');
    return { flags: '' };
  }
  const pace = opts.pace ?? 'virtual';
  if (opts.timeScale !== undefined && pace !== 'host') throw new Error("perf: timeScale applies to pace 'host' only");
  if (opts.slackNs !== undefined && pace !== 'virtual') throw new Error("perf: slackNs applies to pace 'virtual' only");
  if (pace === 'host') {
    const timeScale = opts.timeScale ?? 1;
    return { pace, timeScale, flags: ` --pace host${timeScale !== 1 ? ` --time-scale ${timeScale}` : ''}` };
  }
  return {
    pace,
    ...(opts.slackNs !== undefined ? { slackNs: opts.slackNs } : {}),
    flags: opts.slackNs !== undefined ? ` --slack ${opts.slackNs / 1000}us` : '',
  };
}

/**
 * Validate and run a definition written in a perf/ module (no native routines), the way
 * `irqlab run` does. Throws if the run bugchecked: a benchmark figure from a crashed machine means
 * nothing. With pace 'host' the definition's watchdogs are raised (HOST_PACED_WATCHDOGS).
 */
export async function runDefinition(definition: ScenarioDefinition, opts: ScenarioRunOptions): Promise<RunResult> {
  const arch = definition.machine?.arch ?? 'x64';
  const mode = opts.mode ?? 'parallel';
  const { flags, ...pacing } = paceOptions(opts);
  const runnable = pacing.pace === 'host' ? withHostPacedWatchdogs(definition) : definition;
  const validated = validateScenario(runnable, { cpus: opts.cpus, arch });
  const seed = opts.seed ?? 1;
  const result = await holdingEventLoop(() =>
    executeScenario(validated, null, {
      cpus: opts.cpus,
      mode,
      seed,
      durationNs: Math.round(opts.durationMs * 1e6),
      ...pacing,
      verbose: false,
      command: `irqlab run ${definition.name} --cpus ${opts.cpus} --mode ${mode} --seed ${seed} --duration ${opts.durationMs}ms${flags}`,
    }),
  );
  if (result.bugcheck) {
    throw new Error(`${definition.name}: the machine bugchecked (${result.bugcheck.name} on CPU ${result.bugcheck.cpu}: ${result.bugcheck.detail})`);
  }
  return result;
}

/**
 * Run `fn` with the event loop held open. Machine.waitFor waits with Atomics.waitAsync (which does
 * not keep the loop alive) plus a keep-alive timer 1 ms longer than the wait; once the workers
 * have exited at the end of a run, a late waitAsync timeout lets the loop go empty and the process
 * exits 13 (unsettled top-level await) with the run still pending. Seen once in a full bench run.
 */
export async function holdingEventLoop<T>(fn: () => Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(hold);
  }
}

/** The host's 1-minute load average, rounded (what else was running: reported before and after a benchmark). */
export function loadSummary(): number {
  return round2(os.loadavg()[0] ?? 0);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function metOrNot(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/** One benchmark module run on its own: `node dist/perf/<name>.js [--json]`. */
export async function standalone(name: string, run: (opts: { json: boolean }) => Promise<BenchResult>): Promise<void> {
  let json = false;
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(`usage: node dist/perf/${name}.js [--json]   (see perf/README.md)`);
      return;
    }
    json = values.json ?? false;
  } catch (error) {
    console.error(`irqlab bench: ${(error as Error).message.split('\n', 1)[0]}`);
    process.exit(1);
  }
  const result = await run({ json });
  if (json) console.log(JSON.stringify({ host: hostInfo(), results: [result] }));
}

/** The human-readable form every benchmark prints: its metrics, one a line, then its notes. */
export function printResult(r: BenchResult, title: string): void {
  console.log(title);
  const width = Math.max(...Object.keys(r.metrics).map((k) => k.length));
  for (const [key, value] of Object.entries(r.metrics)) console.log(`  ${key.padEnd(width)}  ${formatNumber(value)}`);
  for (const note of r.notes) console.log(`  - ${note}`);
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return String(x);
}

/**
 * An idle machine: no devices, and no threads, so every CPU halts at once and only the clock (and
 * due timers) wake it; or, withPeriodicTimer, a thread that arms one 1 s periodic KTIMER whose DPC
 * counts its firings (results.firings), and ends. CPUs and duration come from the run options.
 */
export function idleScenario(withPeriodicTimer: boolean, clockIntervalMs = 15.625): ScenarioDefinition {
  return defineScenario({
    name: withPeriodicTimer ? 'perf-idle-periodic-timer' : 'perf-idle',
    description: withPeriodicTimer ? 'idle but for one 1 s periodic KTIMER with a DPC' : 'no threads, no devices: every CPU halted',
    machine: { clockIntervalMs },
    memory: { Due: { words: 2, init: relativeTime(1000) }, Firings: {} },
    timers: withPeriodicTimer ? { Tick: { type: 'notification' } } : {},
    dpcs: withPeriodicTimer ? { TickDpc: { routine: 'OnTick' } } : {},
    threads: withPeriodicTimer ? { Setup: { routine: 'Setup', cpu: 0 } } : {},
    routines: withPeriodicTimer
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
