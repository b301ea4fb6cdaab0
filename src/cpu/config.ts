/**
 * ProcessorConfig: everything a CPU worker needs to boot, produced on the main thread by the
 * scenario compiler (src/scenario/compile.ts) and sent in the worker's startup data (structured
 * clone). Plain data only.
 */

import type { Arch, RunMode } from '../machine/result.js';
import type { DpcTunables } from '../kernel/dpc.js';
import type { LayoutParams } from '../shm/layout.js';

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

export interface MachineConfig {
  cpus: number;
  arch: Arch;
  mode: RunMode;
  seed: number;
  cyclesPerNs: number;
  clockIntervalNs: number;
  durationNs: number;
  timeScale: number;
  ipiAckTimeoutTicks: number;
  clockWatchdogTicks: number;
  interruptStormThreshold: number;
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
}

export interface ThreadConfig {
  name: string;
  routine: number;
  args: number[];
  stackTop: number;
  stackLimit: number;
}

export interface ProcessorConfig extends MachineConfig {
  cpu: number;
  interruptStack: { top: number; limit: number };
  thread: ThreadConfig | null;
}
