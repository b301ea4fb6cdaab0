/**
 * The startup config: MachineConfig (the coordinator's) and ProcessorConfig (each CPU's), produced
 * on the main thread by the scenario compiler (src/scenario/compile.ts), and WorkerData, the
 * startup data a worker is created with (structured clone). Plain data only.
 *
 * It lives here, in src/contract/ below the actors and the main thread, because both sides read
 * it: the compiler and the machine write it, the CPU and coordinator actors boot from it, and
 * neither may import the other's modules (test/architecture.test.ts).
 */

import type { Arch, RunMode } from './result.js';
import type { DpcTunables } from '../kernel/dpc.js';
import type { DeviceConfig } from '../hal/device.js';
import type { LayoutParams } from '../shm/layout.js';
import type { ApcObjectConfig } from '../kernel/apc-state.js';
import type { DeviceObjectConfig, DriverObjectConfig, IrpZoneConfig } from '../kernel/io.js';
import type { PerturbationBounds, ScheduleDecision, StrategyName } from './schedule.js';

export interface InterruptObjectConfig {
  /** index of the KINTERRUPT (what `interrupt(name)` resolves to) */
  id: number;
  name: string;
  vector: number;
  irql: number;
  synchronizeIrql: number;
  routine: number;
  context: number;
  /** 0 level-sensitive, 1 latched (edge) */
  mode: number;
  /** index of its ActualLock word (layout.interruptLock) */
  lock: number;
}

export interface RoutineInfo {
  name: string;
  entry: number;
}

/** A scenario thread as the machine boots it (the dispatcher database and every CPU get the list). */
export interface ThreadConfig {
  /** object id: also (id − 1) is its record in the shared thread table */
  id: number;
  name: string;
  routine: number;
  args: number[];
  stackTop: number;
  stackLimit: number;
  priority: number;
  /** CPUs it may run on */
  affinity: boolean[];
  idealProcessor: number;
  startAtBoot: boolean;
  /** declared `mode: 'user'`: its body runs in user mode (src/kernel/service-call.ts); absent for a kernel-mode thread */
  userMode?: boolean;
}

/** A dispatcher object other than a thread (events, semaphores, mutexes), by object id. */
export type DispatcherObjectConfig =
  | { id: number; name: string; kind: 'event'; synchronization: boolean; signaled: boolean }
  | { id: number; name: string; kind: 'semaphore'; count: number; limit: number }
  | { id: number; name: string; kind: 'mutex' | 'mutant' }
  | { id: number; name: string; kind: 'timer'; synchronization: boolean };

/**
 * Deterministic mode's schedule as the actors run it (src/contract/schedule.ts, resolved by the
 * compiler): the strategy with every parameter filled in, the explicit decisions if any, and
 * whether the actors keep a log of their decisions (the in-process backend hands it to the caller).
 */
export interface MachineSchedule {
  strategy: StrategyName;
  /** pct: the bug depth d */
  depth: number;
  /** pct: the steps the change points are drawn over (absent: the neutral run's, filled in by src/machine/pct-steps.ts) */
  steps?: number;
  /** perturb: how far interrupt arrivals may move (the scenario's explore.jitter, else defaults) */
  bounds: PerturbationBounds;
  decisions?: ScheduleDecision[];
  recordDecisions: boolean;
}

/** Parallel mode's time source (MachineConfig.pace). */
export type Pace = 'virtual' | 'host';

/**
 * Parallel mode's default slack (emulated ns), the bound on how far a CPU runs ahead of the global
 * virtual time; chosen from measurements (see README, "Parallel mode and virtual time").
 */
export const DEFAULT_SLACK_NS = 10_000;

export interface MachineConfig {
  cpus: number;
  arch: Arch;
  mode: RunMode;
  seed: number;
  cyclesPerNs: number;
  clockIntervalNs: number;
  durationNs: number;
  /**
   * parallel mode: where emulated time comes from. 'virtual' (default): each CPU's clock is its
   * executed cycles, bounded by `slackNs` ahead of the global virtual time; 'host': the host clock
   * times `timeScale` (latencies include the host). Deterministic mode ignores it.
   */
  pace: Pace;
  /** parallel mode, virtual pace: how far (emulated ns) a CPU may run ahead of the slowest running CPU */
  slackNs: number;
  /** parallel mode, host pace: emulated ns per host ns */
  timeScale: number;
  ipiAckTimeoutTicks: number;
  clockWatchdogTicks: number;
  interruptStormThreshold: number;
  /** clock ticks a spin-lock acquire may spin before the deadlock detector reports it */
  spinTimeoutTicks: number;
  /**
   * lazy IRQL (§1.4, machine.lazyIrql or --lazy-irql): KeRaiseIrql only records the IRQL, and the
   * local APIC's task priority is written when an interrupt arrives at or below it; false: eager
   */
  lazyIrql: boolean;
  /** QuantumReset of every thread, in quantum units (3 per clock tick) */
  threadQuantum: number;
  /** DPC watchdog (§2.9): clock ticks one DPC or ISR may run (DpcTimeLimit) … */
  dpcTimeLimitTicks: number;
  /** … and consecutive ticks a CPU may stay at ≥ DISPATCH_LEVEL (DpcWatchdogPeriod) */
  dpcWatchdogPeriodTicks: number;
  /** emulated ns a page-in (the simulated disk read of a page fault) takes */
  pagingLatencyNs: number;
  /** pages (4 KB, by number) of pageable memory, and which of them start out of memory */
  pageable: number[];
  initiallyPagedOut: number[];
  threads: ThreadConfig[];
  objects: DispatcherObjectConfig[];
  /** each CPU's interrupt stack top (its idle thread's initial stack, reported by 0xB8) */
  interruptStackTops: number[];
  /** names of TRACE tags, for reports */
  traceTags: Record<number, string>;
  /** the scenario's memory variables, to name addresses (spin locks) in reports */
  variableNames: Array<[string, { address: number; words: number }]>;
  layout: LayoutParams;
  routines: RoutineInfo[];
  dpcCount: number;
  dpcNames: string[];
  interrupts: InterruptObjectConfig[];
  dpc: DpcTunables;
  /** absolute path of the scenario module, imported by workers only when it has native routines */
  nativeModule: string | null;
  nativeNames: string[];
  /** whether CPUs stream trace records to the main thread (a trace file was asked for) */
  traceToMain: boolean;
  /** the scenario's KAPCs (src/kernel/apc-state.ts), by id; absent when it declares none */
  apcs?: ApcObjectConfig[];
  /** the scenario's drivers and device objects (src/kernel/io.ts), by id; absent when it declares none */
  drivers?: DriverObjectConfig[];
  deviceObjects?: DeviceObjectConfig[];
  /** where the IRP records lie in emulated memory (src/kernel/io.ts IrpField); present with drivers */
  irpZone?: IrpZoneConfig;
  /** deterministic mode: the exploration strategy and its decisions (absent: 'random', today's seeded slices) */
  schedule?: MachineSchedule;
  /** --breaktrace: an ISR or DPC routine executing longer than this (emulated ns) annotates the trace, and the main thread stops the run */
  latencyBreakAboveNs?: number;
}

export interface ProcessorConfig extends MachineConfig {
  cpu: number;
  interruptStack: { top: number; limit: number };
}

/**
 * What a worker is created with: its role, the machine's shared memory, and the compiled scenario's
 * configs (the code and memory image are already in shared memory; the main thread sends more
 * fields than this, which workers do not read).
 */
export interface WorkerData {
  role: 'cpu' | 'coordinator';
  sab: SharedArrayBuffer;
  compiled: { machine: MachineConfig; processors: ProcessorConfig[]; devices: DeviceConfig[] };
  cpu: number;
}
