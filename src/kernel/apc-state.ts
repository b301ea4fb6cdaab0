/**
 * The data of APCs (nt-semantics.md §5.1): KAPC, the per-thread KAPC_STATE, and the APC words a
 * thread carries with it (with SharedApcWords, their view in the shared thread table). The
 * operations on them (KeInitializeApc, KeInsertQueueApc, KiDeliverApc, the regions, the alerts) are
 * src/kernel/apc.ts's; this file holds only the data so that KTHREAD (src/kernel/thread.ts) can
 * embed its KAPC_STATE without an import cycle.
 *
 * Where each piece of NT's APC state lives in the emulator, and why:
 * - **The dispatcher database (the coordinator)** holds the two APC lists (ApcListHead[Kernel/User]),
 *   ApcQueueable, Alerted[2], and the Alertable/WaitMode of the
 *   thread's current wait: `KApcState`, embedded in KThread as NT embeds ApcState in KTHREAD. An
 *   APC is inserted from any CPU (a DPC completing an IRP on CPU 1 for a thread on CPU 0) and the
 *   insertion's decision (IPI the CPU running it, unwait it with STATUS_KERNEL_APC/USER_APC, or
 *   nothing for Ready/Standby) needs the target's thread state, which only the dispatcher database
 *   knows: NT takes the thread's APC lock and then the dispatcher lock for exactly this reason. One
 *   serialization point for both makes the decision atomic with the state it reads.
 * - **The shared thread table** (ThreadField in src/shm/layout.ts) holds what the running thread
 *   changes on its own, many times, without asking anyone: KernelApcDisable, SpecialApcDisable
 *   (KeEnter/LeaveCriticalRegion, KeEnter/LeaveGuardedRegion are a decrement and an increment in
 *   NT, never a lock) and KernelApcInProgress (set by KiDeliverApc around a NormalRoutine, which may
 *   block). These travel with the thread's context when it migrates between CPU workers, and they
 *   are written only by whoever owns the thread's execution at that moment: the CPU running it, or
 *   the dispatcher while the thread is blocked in a dispatcher call (a KMUTEX acquired by a
 *   satisfied wait enters a critical region on the waiter's behalf). The dispatcher reads them only
 *   for a thread that is not running (a Waiting target of an insertion), when they cannot change.
 * - **KernelApcPending and UserApcPending** are thread-table words too (APC_PENDING), set and
 *   cleared with Atomics: the dispatcher sets them when it inserts and clears them when KiDeliverApc
 *   takes an APC (both under its lock), the running thread sets KernelApcPending when it leaves a
 *   region at APC_LEVEL; any CPU that switches the thread in reads them there. The dispatcher also
 *   publishes whether each list is non-empty (APC_QUEUED), so that a CPU can decide at every IRQL
 *   drop, region exit and return to user mode without a round trip.
 * - **The CPU** (its PRCB) holds only the APC_LEVEL software-interrupt request bit, which is a
 *   request, not state: it is re-derived from the incoming thread at every context switch (§12
 *   item 2).
 */

import type { KThread } from './thread.js';
import { KernelMode, UserMode } from './status.js';
import { ApcPendingBit, ApcQueuedBit, ThreadField } from '../shm/layout.js';

/** KAPC_ENVIRONMENT (§5.1): which ApcState of the thread the APC is queued to. */
export const ApcEnvironment = { Original: 0, Attached: 1, Current: 2, Insert: 3 } as const;
export type ApcEnvironmentCode = (typeof ApcEnvironment)[keyof typeof ApcEnvironment];

/** KPROCESSOR_MODE of an APC: which list it goes to and where its NormalRoutine runs. */
export type ApcMode = typeof KernelMode | typeof UserMode;

/** "No routine": a NULL NormalRoutine (a special APC) or RundownRoutine. Interpreted routines are ≥ 0. */
export const NO_ROUTINE = -1;

/**
 * Kernel routines that are the kernel's own, not the scenario's code: the I/O manager's completion
 * APC and the routines of the user APC it re-initialises (§8.3–8.4). Negative, so that one Int32
 * names either an interpreted routine (≥ 0) or one of these.
 */
export const ApcBuiltinRoutine = {
  /** KernelRoutine of the special APC IoCompleteRequest queues: the I/O completion at APC_LEVEL */
  IopCompleteRequest: -2,
  /** RundownRoutine of that APC: the thread exits with the completion still queued */
  IopAbortRequest: -3,
  /** KernelRoutine of the user APC of a ReadFileEx completion: frees the IRP */
  IopFreeIrpKernelApc: -4,
  /** RundownRoutine of that user APC */
  IopAbortIrpKernelApc: -5,
  /** KernelRoutine of the user APC NtQueueApcThread (QueueUserAPC) allocates: frees it (ExFreePool) */
  PspQueueApcSpecialApc: -6,
} as const;

/** ids of the KAPCs QueueUserAPC allocates: after this (declared APCs and IRPs' APCs come first) */
export const QUEUED_USER_APC_ID_BASE = 0x10000;

const BUILTIN_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ApcBuiltinRoutine).map(([name, value]) => [value, name]));

export function isBuiltinRoutine(routine: number): boolean {
  return routine <= ApcBuiltinRoutine.IopCompleteRequest;
}

/** The name of a built-in routine, or null for an interpreted one (or NO_ROUTINE). */
export function builtinRoutineName(routine: number): string | null {
  return BUILTIN_NAMES[routine] ?? null;
}

/** A KAPC the scenario declares (`apcs: { Name: { … } }`), as the compiler hands it to the machine. */
export interface ApcObjectConfig {
  /** index in the machine's APC table (declared APCs first; IRPs' embedded APCs follow) */
  id: number;
  name: string;
  /** routine index of the KernelRoutine, run at APC_LEVEL */
  kernelRoutine: number;
  /** routine index, or NO_ROUTINE: a special kernel APC */
  normalRoutine: number;
  /** routine index, or NO_ROUTINE */
  rundownRoutine: number;
  mode: ApcMode;
  /** NormalContext */
  context: number;
}

/** KAPC (§5.1). Owned by the dispatcher database while inserted; its fields are what KeInitializeApc set. */
export class KApc {
  readonly id: number;
  readonly name: string;
  /** the thread it is initialised for (KeInitializeApc's Thread), null before the first initialisation */
  thread: KThread | null = null;
  kernelRoutine: number;
  rundownRoutine: number;
  /** NO_ROUTINE: a special kernel APC */
  normalRoutine: number;
  normalContext: number;
  apcMode: ApcMode;
  /** KAPC_ENVIRONMENT: Insert (3) until KeInsertQueueApc resolves it */
  apcStateIndex: number = ApcEnvironment.Original;
  systemArgument1 = 0;
  systemArgument2 = 0;
  inserted = false;

  constructor(
    id: number,
    name: string,
    kernelRoutine: number,
    normalRoutine = NO_ROUTINE,
    rundownRoutine = NO_ROUTINE,
    mode: ApcMode = KernelMode,
    context = 0,
  ) {
    this.id = id;
    this.name = name;
    this.kernelRoutine = kernelRoutine;
    this.normalRoutine = normalRoutine;
    this.rundownRoutine = rundownRoutine;
    this.apcMode = normalRoutine === NO_ROUTINE ? KernelMode : mode;
    this.normalContext = normalRoutine === NO_ROUTINE ? 0 : context;
  }

  static fromConfig(config: ApcObjectConfig): KApc {
    return new KApc(config.id, config.name, config.kernelRoutine, config.normalRoutine, config.rundownRoutine, config.mode, config.context);
  }

  /** A special kernel APC: no NormalRoutine (always kernel mode). */
  get special(): boolean {
    return this.normalRoutine === NO_ROUTINE;
  }

  /** What kind of APC it is, for reports: 'special kernel', 'normal kernel' or 'user'. */
  get kind(): string {
    return this.special ? 'special kernel' : this.apcMode === KernelMode ? 'normal kernel' : 'user';
  }
}

/** A stand-in kernel address of a KAPC for bugcheck parameters (the emulator has no kernel address space). */
export function apcAddress(apcId: number): number {
  return 0xfc000000 + apcId * 0x40;
}

/**
 * KAPC_STATE plus the KTHREAD APC fields the dispatcher database owns (§5.1); see the module header
 * for the split (the pending flags are ApcThreadWords').
 */
export class KApcState {
  /** ApcListHead[KernelMode], ApcListHead[UserMode] */
  readonly apcListHead: [KApc[], KApc[]] = [[], []];
  /** cleared when the thread starts to exit: KeInsertQueueApc then returns FALSE */
  apcQueueable = true;
  /** Alerted[KernelMode], Alerted[UserMode] (KeAlertThread) */
  readonly alerted: [boolean, boolean] = [false, false];
  /** the current (or last) wait's Alertable and WaitMode, recorded when the thread blocks */
  alertable = false;
  waitMode: ApcMode = KernelMode;
  /** ApcStateIndex: always Original (0): the emulator has one process, so nothing attaches */
  readonly apcStateIndex = ApcEnvironment.Original;

  get kernelList(): KApc[] {
    return this.apcListHead[KernelMode];
  }

  get userList(): KApc[] {
    return this.apcListHead[UserMode];
  }
}

/**
 * The APC words of a thread that live in the shared thread table (ThreadField.KERNEL_APC_DISABLE …).
 * NT's signs: a count below 0 means "inside a region". The two pending flags are here too, not in
 * KApcState: the dispatcher sets them when it inserts (under its lock), KiDeliverApc clears them
 * (under the same lock: taking the next APC is a dispatcher operation), and the running thread sets
 * KernelApcPending itself when it leaves a region at APC_LEVEL; each CPU that switches the thread in
 * reads them there, which is what §12 item 2 asks (APC-pending belongs to the thread).
 */
export interface ApcThreadWords {
  /** KernelApcDisable: −1 per critical region entered (and per KMUTEX held) */
  kernelApcDisable: number;
  /** SpecialApcDisable: −1 per guarded region entered */
  specialApcDisable: number;
  /** KernelApcInProgress: a normal kernel APC's NormalRoutine is running on this thread */
  kernelApcInProgress: boolean;
  /** ApcState.KernelApcPending */
  kernelApcPending: boolean;
  /** ApcState.UserApcPending */
  userApcPending: boolean;
}

export function newApcThreadWords(): ApcThreadWords {
  return { kernelApcDisable: 0, specialApcDisable: 0, kernelApcInProgress: false, kernelApcPending: false, userApcPending: false };
}

/** CombinedApcDisable: the ULONG union of the two SHORT counts, Special << 16 | Kernel (0x1's P3). */
export function combinedApcDisable(words: ApcThreadWords): number {
  return (((words.specialApcDisable & 0xffff) << 16) | (words.kernelApcDisable & 0xffff)) >>> 0;
}

/**
 * ApcThreadWords over a thread's record of the shared thread table (ThreadField), for the CPU that
 * runs the thread and for the dispatcher while the thread is blocked on it. The pending bits are
 * changed with Atomics.or / Atomics.and: the dispatcher (inserting) and the running CPU (leaving a
 * region at APC_LEVEL) may both write them.
 */
export class SharedApcWords implements ApcThreadWords {
  private readonly i32: Int32Array;
  private readonly record: number;

  /** `record`: the thread's record (layout.thread(id − 1)) */
  constructor(i32: Int32Array, record: number) {
    this.i32 = i32;
    this.record = record;
  }

  get kernelApcDisable(): number {
    return this.i32[this.record + ThreadField.KERNEL_APC_DISABLE]!;
  }

  set kernelApcDisable(value: number) {
    this.i32[this.record + ThreadField.KERNEL_APC_DISABLE] = value;
  }

  get specialApcDisable(): number {
    return this.i32[this.record + ThreadField.SPECIAL_APC_DISABLE]!;
  }

  set specialApcDisable(value: number) {
    this.i32[this.record + ThreadField.SPECIAL_APC_DISABLE] = value;
  }

  get kernelApcInProgress(): boolean {
    return this.i32[this.record + ThreadField.KERNEL_APC_IN_PROGRESS] !== 0;
  }

  set kernelApcInProgress(value: boolean) {
    this.i32[this.record + ThreadField.KERNEL_APC_IN_PROGRESS] = value ? 1 : 0;
  }

  get kernelApcPending(): boolean {
    return (Atomics.load(this.i32, this.record + ThreadField.APC_PENDING) & ApcPendingBit.KERNEL) !== 0;
  }

  set kernelApcPending(value: boolean) {
    this.setPending(ApcPendingBit.KERNEL, value);
  }

  get userApcPending(): boolean {
    return (Atomics.load(this.i32, this.record + ThreadField.APC_PENDING) & ApcPendingBit.USER) !== 0;
  }

  set userApcPending(value: boolean) {
    this.setPending(ApcPendingBit.USER, value);
  }

  /** APC_QUEUED: whether the dispatcher's kernel list of the thread is non-empty (a region exit's test) */
  get kernelApcsQueued(): boolean {
    return (Atomics.load(this.i32, this.record + ThreadField.APC_QUEUED) & ApcQueuedBit.KERNEL) !== 0;
  }

  get userApcsQueued(): boolean {
    return (Atomics.load(this.i32, this.record + ThreadField.APC_QUEUED) & ApcQueuedBit.USER) !== 0;
  }

  /** The dispatcher publishes which of the thread's lists are non-empty, after every change to them. */
  publishQueued(state: KApcState): void {
    const bits = (state.kernelList.length > 0 ? ApcQueuedBit.KERNEL : 0) | (state.userList.length > 0 ? ApcQueuedBit.USER : 0);
    Atomics.store(this.i32, this.record + ThreadField.APC_QUEUED, bits);
  }

  private setPending(bit: number, value: boolean): void {
    if (value) Atomics.or(this.i32, this.record + ThreadField.APC_PENDING, bit);
    else Atomics.and(this.i32, this.record + ThreadField.APC_PENDING, ~bit);
  }
}
