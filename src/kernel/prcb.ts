/**
 * KPRCB: the processor control block, all of one CPU's kernel state (nt-semantics.md §1, §2, §3,
 * §4, §6, §7). Only its own CPU reads or writes these fields; what other actors must see (IRQL, the
 * DPC queue depth and request flags, IDLE, the packet words) is published in the shared PRCB words
 * (src/shm/layout.ts PrcbField, at `shared`). No PRCB field is declared anywhere else: kernel
 * routines (src/kernel/*.ts) reach it as `cpu.prcb`.
 */

import type { KInterruptConfig } from './cpu.js';
import type { DpcRateState, DpcTunables } from './dpc.js';
import { PASSIVE_LEVEL } from './irql.js';
import { MAXIMUM_WAIT_OBJECTS } from './status.js';
import { DISPATCH_REQUEST_FIXED_WORDS } from '../ipc/dispatcher-ops.js';

/** A DPC on this CPU's queue (KDPC.DpcListEntry): which DPC, the DpcData tag it was claimed with. */
export interface DpcEntry {
  dpc: number;
  tag: number;
  insertedNs: number;
  fromIsr: boolean;
}

/**
 * A spin lock this CPU took: who in its frame stack took it and at which IRQL (the deadlock
 * report's holder). The holder is kept as the code frame's role and routine, not as a sentence:
 * a lock is taken millions of times a run and described only when something goes wrong.
 */
export interface HeldLock {
  address: number;
  /** the frame that called the acquire */
  frame: number;
  irql: number;
  thread: number;
  /** the innermost code frame at or below `frame`: its role ('thread', 'dpc', 'isr', …) and routine (−1: no code frame) */
  holderRole: string;
  holderRoutine: number;
}

/**
 * The spin locks one CPU holds (few at a time), as reused records: acquiring and releasing a lock
 * allocates nothing (a Map of fresh records cost ~80 % of an exploration iteration's allocation).
 */
export class HeldLocks {
  private readonly records: HeldLock[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(address: number): HeldLock | undefined {
    for (let i = 0; i < this.count; i++) if (this.records[i]!.address === address) return this.records[i];
    return undefined;
  }

  /** Records `address` as held (a lock already recorded is overwritten). */
  take(address: number, frame: number, irql: number, thread: number, holderRole: string, holderRoutine: number): void {
    let held = this.get(address);
    if (held === undefined) {
      held = this.records[this.count];
      if (held === undefined) {
        held = { address, frame, irql, thread, holderRole, holderRoutine };
        this.records.push(held);
      }
      this.count++;
    }
    held.address = address;
    held.frame = frame;
    held.irql = irql;
    held.thread = thread;
    held.holderRole = holderRole;
    held.holderRoutine = holderRoutine;
  }

  delete(address: number): void {
    for (let i = 0; i < this.count; i++) {
      if (this.records[i]!.address !== address) continue;
      // the last record moves into the hole; the freed record is kept for the next take
      const freed = this.records[i]!;
      this.count--;
      this.records[i] = this.records[this.count]!;
      this.records[this.count] = freed;
      return;
    }
  }

  /** The held locks, in no particular order (a copy: for reports, not the hot path). */
  list(): HeldLock[] {
    return this.records.slice(0, this.count).map((held) => ({ ...held }));
  }
}

export class Prcb {
  // ---- identity and the shared-memory half (PrcbField words other actors read) ----
  /** KPRCB.Number */
  readonly number: number;
  /** Int32 index of this CPU's shared PRCB words (layout.prcb(number)) */
  readonly shared: number;

  // ---- IRQL and software interrupts (irql.ts) ----
  /** the current IRQL (KPCR.Irql); mirrored in PrcbField.IRQL */
  irql = PASSIVE_LEVEL;
  /** pending software interrupts (HalRequestSoftwareInterrupt): bit 1 APC, bit 2 DISPATCH */
  softPending = 0;
  /** emulated ns of the last IRQL change: time at each IRQL is charged from here */
  lastIrqlChangeNs = 0;

  // ---- hardware interrupts (interrupt.ts) ----
  /** the interrupt dispatch table: each vector's connected KINTERRUPTs, in connection order (its chain) */
  readonly interruptChains: KInterruptConfig[][] = [];
  /** hardware interrupt frames on the stack (KPRCB InterruptCount's nesting) */
  nesting = 0;
  /** consecutive unclaimed level-triggered interrupts (the storm rule) */
  unclaimedInARow = 0;
  /** numbers each DPC or ISR run, so the DPC watchdog can tell one run from the next */
  routineSerial = 0;

  // ---- DPCs (dpc.ts): the DPC queue and DpcData ----
  /** DpcListHead: High importance at the head, the rest at the tail */
  readonly dpcQueue: DpcEntry[] = [];
  /** DpcRoutineActive; mirrored in PrcbField.DPC_ROUTINE_ACTIVE */
  dpcRoutineActive = false;
  /** when the DPC whose routine runs now was queued (emulated ns; −1 outside a queued DPC's routine): the latency report's DPC queued → thread ready */
  dpcInsertedNs = -1;
  /** MaximumDpcQueueDepth, MinimumDpcRate, DpcRequestRate, DpcLastCount, DpcCount, AdjustDpcThreshold */
  readonly dpcRate: DpcRateState;
  /** TimerRequest: the clock found a timer due; the next KiRetireDpcList runs the expiration */
  timerRequest = false;

  // ---- IPIs (ipi.ts) ----
  /** RequestSummary: IPI request bits not yet serviced */
  ipiRequests = 0;
  /** CPUs whose packet (or generic call, marked) this CPU is still to run, in arrival order */
  readonly packetSources: number[] = [];
  /** the KeIpiGenericCall generation this CPU last started as its source */
  genericGeneration = 0;

  // ---- the clock and the DPC watchdog (clock.ts) ----
  /** clock interrupts taken */
  ticksTaken = 0;
  /** clock tick messages drained (ticks pending in the APIC coalesce); published as PrcbField.TICKS_TAKEN */
  ticksDelivered = 0;
  /** DpcTimeCount: ticks the same DPC/ISR run has been interrupted by; watchdogSerial: which run */
  dpcTimeCount = 0;
  watchdogSerial = 0;
  /** DpcWatchdogCount: consecutive ticks that found this CPU at ≥ DISPATCH_LEVEL */
  dpcWatchdogCount = 0;

  // ---- the thread this CPU runs (dispatcher-call.ts: SwapContext; the dispatcher database in the coordinator is authoritative) ----
  /** CurrentThread: object id of the running thread; this CPU's idle thread is number + 1 */
  currentThread: number;
  /** IdleThread */
  readonly idleThread: number;
  /** the running thread's remaining quantum units (charged CLOCK_QUANTUM_DECREMENT per tick) */
  quantum = 0;
  /** QuantumEnd: KiQuantumEnd is due at the next DISPATCH interrupt */
  quantumEnd = false;
  /** the dispatcher may have placed a NextThread here (a reschedule IPI, a reply): ask at the next DISPATCH interrupt */
  reschedulePending = false;
  /**
   * KiDeliverApc frames on this CPU's stack (apc-call.ts). An APC routine runs nested on the
   * thread's frame, which a context switch cannot carry: while one runs, a reschedule waits for the
   * delivery to end and the routine may not block (emulator policy).
   */
  apcDeliveryDepth = 0;
  /**
   * The running thread entered the kernel from user mode (a system service, an interrupt, a
   * switch-in of a user-mode thread): when its user-mode frame is next at the top of the stack, the
   * kernel → user return runs first (src/kernel/service-call.ts).
   */
  userReturnPending = false;
  /** emulated ns the running thread was switched in (or last charged) */
  threadSinceNs = 0;

  // ---- the dispatcher lock held across a Wait = TRUE set/release (wait-gate.ts) ----
  /** a set/release with Wait = TRUE returned holding the dispatcher lock: the next kernel call must be a wait */
  waitNext = false;
  /** the IRQL the caller had before that set/release (its wait returns there) */
  waitNextIrql = 0;
  /** the instruction count when it began (a thread may not run on forever holding the lock) */
  waitNextInstructions = 0;
  /** scratch words of the dispatcher request being built (dispatcher-call.ts) */
  readonly requestWords = new Int32Array(DISPATCH_REQUEST_FIXED_WORDS + MAXIMUM_WAIT_OBJECTS);

  // ---- spin locks (spinlock.ts): owner records ----
  /** spin locks this CPU holds, by address */
  readonly heldLocks = new HeldLocks();

  constructor(number: number, shared: number, dpc: DpcTunables, interrupts: readonly KInterruptConfig[]) {
    for (let vector = 0; vector < 256; vector++) this.interruptChains.push([]);
    for (const intr of interrupts) this.interruptChains[intr.vector]!.push(intr);
    this.number = number;
    this.shared = shared;
    this.idleThread = number + 1;
    this.currentThread = this.idleThread;
    this.dpcRate = {
      maximumDpcQueueDepth: dpc.maximumDpcQueueDepth,
      minimumDpcRate: dpc.minimumDpcRate,
      dpcRequestRate: 0,
      dpcLastCount: 0,
      dpcCount: 0,
      adjustDpcThreshold: dpc.adjustDpcThreshold,
    };
  }
}

/** A stand-in PRCB address for reports and bugcheck parameters (the emulator has no kernel virtual addresses). */
export function prcbAddress(cpu: number): number {
  return cpu < 0 ? 0 : 0xf8000000 + cpu * 0x1000;
}
