/**
 * The Cpu port: what a kernel routine needs from the processor that runs it. Kernel routines
 * (src/kernel/irql.ts, dpc.ts, ipi.ts, spinlock.ts, clock.ts, interrupt.ts, idle.ts, mm.ts,
 * wait-gate.ts, dispatcher-call.ts) are functions over `(cpu: Cpu, …)`, or
 * generators (kernel frames) where they spin or call code. The CPU actor implements it
 * (src/cpu/cpu-core.ts, the base of src/cpu/processor.ts); nothing here knows about workers,
 * rings or the main thread.
 *
 * A kernel frame's generator yields a signal to the run loop: SIGNAL_SPIN (one turn of a spin
 * loop: interrupts above the IRQL are taken before the next), SIGNAL_CALL (run the code frame just
 * pushed; its r0 comes back as the value of the yield), SIGNAL_HALT (the idle loop has nothing to
 * do), SIGNAL_SWITCHED (the bottom frame was replaced by another thread's) or SIGNAL_WAIT (waiting
 * for another actor's answer, which costs no emulated time: interrupts are still taken meanwhile).
 */

import type { LocalApic } from '../hal/lapic.js';
import type { Message } from '../ipc/messages.js';
import type { MachineLayout } from '../shm/layout.js';
import type { DpcTunables } from './dpc.js';
import type { Arch, IrqlTable } from './irql.js';
import type { HeldLock, Prcb } from './prcb.js';
import type { ApcObjectConfig } from './apc-state.js';
import type { IrpZoneConfig } from './io.js';

export const SIGNAL_SPIN = 1;
export const SIGNAL_CALL = 2;

/**
 * What a kernel frame written as a state machine (not a generator) returns from next(): shared
 * and frozen, since the run loop only reads them; the hot kernel frames (KiInterruptDispatch, a
 * spin on a lock) are written so, as a generator allocates a result object per step.
 */
export const YIELD_CALL: IteratorResult<number, void> = Object.freeze({ value: SIGNAL_CALL, done: false });
export const YIELD_SPIN: IteratorResult<number, void> = Object.freeze({ value: SIGNAL_SPIN, done: false });
export const RETURNED: IteratorResult<number, void> = Object.freeze({ value: undefined, done: true });
export const SIGNAL_HALT = 3;
/** a bottom frame (idle loop, thread exit) replaced itself with another thread's frame: it is never resumed in place */
export const SIGNAL_SWITCHED = 4;
/** waiting for an answer from another actor (the dispatcher's): no cycles pass; the CPU sleeps until a message comes */
export const SIGNAL_WAIT = 5;

/**
 * A kernel call's implementation: `args` are the KCALL's operands (a scratch array: copy what you
 * keep), results go in r0 (ctx[base + ContextField.R0]); returns KCALL_DONE or KCALL_RETRY. One per
 * call of src/isa/kcalls.ts, in the module of its object (the table: src/kernel/kcall-table.ts).
 */
export type KernelCallHandler = (cpu: Cpu, args: Int32Array, ctx: Int32Array, base: number) => number;

/** A kernel frame: yields signals, receives a called routine's r0. */
export type KernelGenerator = Generator<number, void, number>;

/** The dispatcher's answer to this CPU's last request (DISPATCH_REPLY). */
export type DispatchReply = Extract<Message, { type: 'dispatch/reply' }>;

/** A KINTERRUPT as the scenario connected it (src/cpu/config.ts InterruptObjectConfig is this type). */
export interface KInterruptConfig {
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

/** The machine configuration kernel routines read (a structural subset of ProcessorConfig). */
export interface CpuConfig {
  readonly cpus: number;
  readonly arch: Arch;
  readonly mode: 'parallel' | 'deterministic';
  readonly cyclesPerNs: number;
  readonly clockIntervalNs: number;
  readonly durationNs: number;
  readonly ipiAckTimeoutTicks: number;
  readonly interruptStormThreshold: number;
  readonly spinTimeoutTicks: number;
  readonly dpcTimeLimitTicks: number;
  readonly dpcWatchdogPeriodTicks: number;
  readonly dpcCount: number;
  readonly dpcNames: readonly string[];
  readonly interrupts: readonly KInterruptConfig[];
  readonly interruptStackTops: readonly number[];
  readonly threads: ReadonlyArray<{ readonly id: number; readonly stackTop: number; readonly userMode?: boolean }>;
  readonly dpc: DpcTunables;
  /** the scenario's KAPCs, for names in reports (absent: none declared) */
  readonly apcs?: readonly ApcObjectConfig[];
  /** the IRP records in emulated memory (absent: no drivers declared) */
  readonly irpZone?: IrpZoneConfig;
}

/** Names for bugcheck detail text (src/cpu/report.ts implements them from the scenario's tables). */
export interface ReportNames {
  routine(index: number): string;
  thread(id: number): string;
  object(id: number): string;
  /** an address, by the scenario variable that holds it when there is one */
  address(address: number): string;
}

/** What the frame below a kernel routine is, for the DPC watchdog and reports. */
export interface RunningRoutine {
  role: string;
  routine: number;
  serial: number;
}

export interface Cpu {
  readonly prcb: Prcb;
  readonly config: CpuConfig;
  readonly table: IrqlTable;
  readonly layout: MachineLayout;
  /** the shared buffer as Int32 (PRCB words, KDPCs, threads, control) and Float64 (counters) */
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** emulated memory, by word */
  readonly memory: Int32Array;
  /** Float64 index of this CPU's counters (CounterField) */
  readonly counters: number;
  /** this CPU's local APIC */
  readonly apic: LocalApic;
  /** one byte per page (PAGE_FLAG_*) */
  readonly pageFlags: Uint8Array;
  readonly names: ReportNames;
  /** something may have become deliverable (an IRQL drop, a request): check before the next instruction */
  workPending: boolean;

  /** this CPU's emulated time in ns */
  now(): number;
  /** now, but never past the run's end (what counters are charged up to) */
  countedNow(): number;
  /** charge emulated cycles for work the kernel did */
  chargeCycles(cycles: number): void;
  /** KeStallExecutionProcessor: burn `cycles` of a busy-wait, resumable; true when it is done */
  stall(ctx: Int32Array, base: number, cycles: number): boolean;
  /** instructions executed so far */
  readonly instructions: number;
  /** a trace record (hash, last-events window, trace file) */
  record(event: number, a: number, b: number, c: number): void;
  /** a latency sample: 0 assert → ISR, 1 ISR → DPC, 2 DPC queued → thread ready, 3 ready → running */
  sampleLatency(which: number, ns: number): void;
  /**
   * A timeline annotation (src/kernel/trace-annotations.ts): sent with the trace records when they
   * go to the main thread, never hashed, never among the last events; nothing when the run is not traced.
   */
  annotate(event: number, a: number, b: number, c: number): void;

  /** send a message to another actor (see ActorPort.send) */
  send(to: number, kind: number, length: number, w0?: number, w1?: number, w2?: number, w3?: number, w4?: number): void;
  /** deterministic mode: a message went to a halted CPU; end this slice at the next boundary */
  wakingHalted(target: number): void;
  /** parallel mode: ring a CPU that may be napping on its doorbell while it spins */
  nudge(target: number): void;
  /** send a dispatcher request (words already marshalled) and wait for the reply (dispatcher-call.ts) */
  requestDispatcher(words: Int32Array, length: number): Generator<number, DispatchReply, number>;

  /** push a code frame (an ISR, a DPC, an IPI worker…) that the kernel frame below waits on (yield SIGNAL_CALL next); in kernel mode unless `mode` is UserMode (a user APC's NormalRoutine) */
  pushCall(role: string, routine: number, a1?: number, a2?: number, a3?: number, a4?: number, mode?: number): void;
  /** the processor mode of the innermost code frame (the caller of the kernel call being run): KernelMode 0 / UserMode 1 */
  callerMode(): number;
  /** ExGetPreviousMode: UserMode when a user-mode frame is on this CPU's stack (the kernel was entered from user mode), else KernelMode */
  previousMode(): number;
  /** push a kernel frame; `interruptedIrql` is the level of the frame below, for reports */
  pushKernel(name: string, role: string, gen: KernelGenerator, hardware: boolean, interruptedIrql?: number): void;
  /** make `threadId` (or the idle loop) the bottom frame: the context switch's last step */
  switchBottomFrame(threadId: number): void;
  /** frames on the stack (the innermost is frameCount − 1) */
  frameCount(): number;
  frameRole(index: number): string | undefined;
  /** the innermost DPC or ISR code frame, or null */
  runningRoutine(): RunningRoutine | null;
  /** whether the innermost interrupt-level activity is an ISR (a DPC queued from it samples ISR → DPC latency) */
  inIsr(): boolean;
  /** the pc of the innermost code frame */
  currentPc(): number;
  /** "DPC routine Foo", "ISR Bar", "thread Main (Main)": the innermost code frame at or below frameIndex */
  describeRunning(frameIndex?: number): string;
  /** the innermost code frame at or below `frameIndex` (−1: none) */
  codeFrameAt(frameIndex: number): number;
  /** a code frame's routine id (−1 for a kernel frame or no frame) */
  frameRoutine(index: number): number;
  /** a held lock's holder as describeRunning words it ("thread T (Routine)", "DPC routine R", …) */
  describeLockHolder(held: HeldLock): string;
  /** the kernel routine running for the caller (a kernel frame's name, or the KCALL's), for reports */
  kernelRoutineName(): string;
}
