/**
 * KTHREAD: the dispatcher's view of a thread (nt-semantics.md §4.1–4.2): its state and the legal
 * transitions between states, its base and current priority with the dynamic-range boost and decay,
 * its hard affinity, ideal and last processor, its quantum, and its wait state (wait blocks, wait
 * status, the IRQL it switched out at). A thread is also a dispatcher object: it is signaled when
 * it terminates, and threads may wait on it.
 *
 * The thread operations (PsCreateSystemThread's start, KeQueryPriorityThread, KeSetPriorityThread,
 * termination) are here too, as functions run under the dispatcher lock
 * (src/kernel/dispatcher-lock.ts) in the coordinator, which owns every KTHREAD. The execution
 * context (PC, SP, registers) is not here: it lives in the shared thread table (ThreadField in
 * src/shm/layout.ts), written by whichever CPU runs the thread, so the thread can resume anywhere.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { WaitBlock } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import type { PlacementEffects } from './scheduler.js';
import { KTimer } from './timer.js';
import { KMutant } from './mutant.js';
import { KApcState } from './apc-state.js';
import { BUGCHECK } from './bugcheck.js';
import { LOW_REALTIME_PRIORITY, STATUS, THREAD_QUANTUM } from './status.js';

/** KTHREAD_STATE */
export const ThreadState = {
  Initialized: 0,
  Ready: 1,
  Running: 2,
  Standby: 3,
  Terminated: 4,
  Waiting: 5,
  Transition: 6,
  DeferredReady: 7,
} as const;
export type ThreadStateCode = (typeof ThreadState)[keyof typeof ThreadState];

const STATE_NAMES = Object.fromEntries(Object.entries(ThreadState).map(([name, value]) => [value, name])) as Record<number, string>;

export function threadStateName(state: number): string {
  return STATE_NAMES[state] ?? `state ${state}`;
}

/** §4.1: the transitions NT makes. Anything else is an emulator bug. */
const LEGAL: Record<number, readonly number[]> = {
  [ThreadState.Initialized]: [ThreadState.DeferredReady, ThreadState.Ready, ThreadState.Standby],
  // Ready → DeferredReady: KiSetPriorityThread takes a ready thread off its list and places it again
  [ThreadState.Ready]: [ThreadState.Standby, ThreadState.Running, ThreadState.DeferredReady],
  [ThreadState.Standby]: [ThreadState.Running, ThreadState.DeferredReady],
  [ThreadState.Running]: [ThreadState.Ready, ThreadState.Waiting, ThreadState.Terminated, ThreadState.DeferredReady],
  [ThreadState.Waiting]: [ThreadState.DeferredReady, ThreadState.Ready, ThreadState.Standby, ThreadState.Transition],
  [ThreadState.Transition]: [ThreadState.Ready],
  [ThreadState.DeferredReady]: [ThreadState.Ready, ThreadState.Standby],
  [ThreadState.Terminated]: [],
};

export function isLegalTransition(from: number, to: number): boolean {
  return LEGAL[from]?.includes(to) ?? false;
}

/** An illegal state transition or a broken dispatcher invariant: a bug in the emulator. */
export class DispatcherInvariantError extends Error {
  override get name(): string {
    return 'DispatcherInvariantError';
  }
}

/**
 * What happens to a thread's execution when a CPU resumes it: nothing (it was preempted between two
 * instructions), r0 receives the result of the kernel call it switched out in, or the kernel call
 * is executed again (a WaitAll waiter re-testing, a wait broken by a kernel APC), on a thread's
 * first run r1 receives the StartContext given to PsCreateSystemThread, or (a page fault's disk read
 * done) the page becomes resident and the faulting instruction runs again.
 */
export const ResumeAction = { None: 0, SetResult: 1, RestartCall: 2, StartContext: 3, PageIn: 4 } as const;

export interface ThreadInit {
  /** object id (1-based); also the thread's index + 1 in the shared thread table */
  id: number;
  name: string;
  basePriority: number;
  /** CPUs the thread may run on */
  affinity: readonly boolean[];
  idealProcessor: number;
  quantumReset: number;
  /** lowest address of its stack (the "initial stack" reported by 0xB8 is its top) */
  stackTop: number;
  /** the idle thread of a CPU: never on a ready list, never waits */
  idleOf?: number;
}

export class KThread extends DispatcherObject {
  state: ThreadStateCode = ThreadState.Initialized;
  priority: number;
  basePriority: number;
  /** how much of `priority` is boost (removed at quantum end) */
  priorityDecrement = 0;
  readonly affinity: readonly boolean[];
  idealProcessor: number;
  /** the CPU whose ready list, standby slot or current slot holds it (NT's NextProcessor), −1 before its first placement */
  nextProcessor = -1;
  /** the CPU it last ran on, −1 if it never ran */
  lastProcessor = -1;
  quantum: number;
  readonly quantumReset: number;
  /** set when a strictly higher-priority thread took its CPU: it goes back at the head of its list */
  preempted = false;
  /** the IRQL it switched out at; it resumes at this IRQL */
  waitIrql = 0;
  waitReason = 0;
  waitBlocks: WaitBlock[] = [];
  waitStatus = 0;
  /** the IRQL-independent result of the call it switched out in, delivered when it resumes */
  resume: { action: number; value: number } = { action: ResumeAction.None, value: 0 };
  /** the pc of the kernel call to execute again for ResumeAction.RestartCall */
  restartPc = 0;
  /** Wait = TRUE on a set/release: the next call must be a wait, which then runs as one operation with it */
  waitNext = false;
  /** Thread->Timer: its wait timeouts and delays */
  readonly timer: KTimer;
  /** what the thread resumes with if its timer ends the wait (STATUS_TIMEOUT; SUCCESS for a delay; a page-in) */
  onTimeout: { action: number; value: number } = { action: ResumeAction.SetResult, value: 0 };
  /** the interrupt time its current wait times out at: a restarted wait keeps counting down from it */
  waitDueTime = 0;
  /** the wait was broken to re-test (RestartCall): its next wait continues with the remaining time */
  restartingWait = false;
  adjustIncrement = 0;
  /** a pending unwait boost, applied when the thread is placed (AdjustUnwait) */
  adjustUnwait = false;
  /**
   * The latency report's ready → running: when KiUnwaitThread last made it Ready (the releasing
   * caller's emulated ns) and that wake's serial (0: not woken since it last ran). Handed to the CPU
   * that switches it in, then cleared: a thread preempted back to Ready is not a wake.
   */
  readiedAtNs = 0;
  wakeSerial = 0;
  readonly ownedMutants: DispatcherObject[] = [];
  readonly stackTop: number;
  readonly idleOf: number;
  /** how many times it blocked in a wait */
  waits = 0;
  exitStatus = 0;
  /** declared to start at boot; others wait for PsCreateSystemThread */
  startAtBoot = true;
  /** KTHREAD.ApcState: its APC lists and alert state (src/kernel/apc.ts); the APC words it changes itself are in the thread table */
  readonly apcState = new KApcState();

  constructor(init: ThreadInit) {
    super(init.id, init.name, ObjectType.Thread, 0);
    this.basePriority = init.basePriority;
    this.priority = init.basePriority;
    this.affinity = init.affinity;
    this.idealProcessor = init.idealProcessor;
    this.quantumReset = init.quantumReset || THREAD_QUANTUM;
    this.quantum = this.quantumReset;
    this.stackTop = init.stackTop;
    this.idleOf = init.idleOf ?? -1;
    this.timer = new KTimer(0, `${init.name}.Timer`, false, this);
  }

  get kind(): string {
    return 'thread';
  }

  get isIdle(): boolean {
    return this.idleOf >= 0;
  }

  canRunOn(cpu: number): boolean {
    return this.affinity[cpu] === true;
  }

  /** A thread object is signaled once the thread has terminated (notification semantics). */
  isSatisfiableBy(): boolean {
    return this.signalState > 0;
  }

  satisfy(): number {
    return 0;
  }

  /** Move to `to`, asserting the transition is one NT makes (§4.1). Idle threads are not tracked. */
  setState(to: ThreadStateCode): void {
    if (this.isIdle) {
      this.state = to;
      return;
    }
    if (!isLegalTransition(this.state, to)) {
      throw new DispatcherInvariantError(`thread ${this.name}: illegal state transition ${threadStateName(this.state)} → ${threadStateName(to)}`);
    }
    this.state = to;
  }

  /**
   * AdjustUnwait (§4.2): a dynamic-priority thread woken with `increment` runs at Base + increment
   * (at most 15) if that is higher than its priority and it carries no boost already.
   */
  applyUnwaitBoost(increment: number): void {
    if (this.priority >= LOW_REALTIME_PRIORITY || this.priorityDecrement !== 0 || increment <= 0) return;
    const boosted = Math.min(this.basePriority + increment, LOW_REALTIME_PRIORITY - 1);
    if (boosted > this.priority) {
      this.priorityDecrement = boosted - this.basePriority;
      this.priority = boosted;
    }
  }

  /** KiComputeNewPriority(thread, adjustment): drop the boost and `adjustment` more, never below base. */
  computeNewPriority(adjustment: number): number {
    if (this.priority >= LOW_REALTIME_PRIORITY) return this.priority;
    const decayed = Math.max(this.basePriority, this.priority - this.priorityDecrement - adjustment);
    this.priorityDecrement = 0;
    return decayed;
  }
}

// -----------------------------------------------------------------------------------------------
// Thread operations, under the dispatcher lock
// -----------------------------------------------------------------------------------------------

/**
 * The current thread ends (its body returned, or PsTerminateSystemThread): mutants it owns are
 * abandoned (owning a KMUTEX is 0x46 THREAD_TERMINATE_HELD_MUTEX), the thread object is signaled,
 * and the CPU switches to the next thread.
 */
export function terminateThread(lock: DispatcherLock, caller: Caller, exitStatus: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot terminate`);
  const heldMutex = thread.ownedMutants.find((m) => m instanceof KMutant && m.apcDisable !== 0);
  if (heldMutex) {
    return lock.fail({ code: BUGCHECK.THREAD_TERMINATE_HELD_MUTEX, params: [thread.id, heldMutex.id, 0, 0] }, prcb);
  }
  for (const owned of [...thread.ownedMutants]) {
    const mutant = owned as KMutant;
    mutant.signalState = 1;
    mutant.abandoned = true;
    mutant.disown();
    if (mutant.waitList.length > 0) lock.wake(mutant, 0, caller.cpu, effects);
  }
  thread.exitStatus = exitStatus;
  thread.setState(ThreadState.Terminated);
  thread.signalState = 1;
  if (thread.waitList.length > 0) lock.wake(thread, 0, caller.cpu, effects);
  lock.scheduler.processDeferredReadyList(caller.cpu, effects);
  const next = lock.scheduler.selectNextThread(prcb);
  return lock.outcome(prcb, effects, 0, next);
}

/** PsCreateSystemThread on a declared thread that has not started: it is readied with `startContext` in r1. */
export function startThread(lock: DispatcherLock, caller: Caller, threadId: number, startContext: number): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const thread = lock.thread(threadId);
  if (!thread || thread.isIdle) return lock.raise(prcb, STATUS.INVALID_HANDLE, threadId, current.id);
  if (thread.state !== ThreadState.Initialized) return lock.exitDispatcher(caller, prcb, effects, STATUS.INVALID_PARAMETER);
  thread.resume = { action: ResumeAction.StartContext, value: startContext };
  lock.scheduler.readyThread(thread, caller.cpu, effects);
  return lock.exitDispatcher(caller, prcb, effects, STATUS.SUCCESS);
}

/** KeQueryPriorityThread */
export function queryPriority(lock: DispatcherLock, caller: Caller, threadId: number): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const thread = lock.thread(threadId);
  if (!thread) return lock.raise(prcb, STATUS.INVALID_HANDLE, threadId, current.id);
  return lock.outcome(prcb, effects, thread.priority, null);
}

/**
 * KeSetPriorityThread / KiSetPriorityThread: returns the old priority. A Ready thread is placed
 * again at its new priority; a running or standby thread lowered below a ready thread of its CPU
 * gives way to it; a raised one may preempt.
 */
export function setPriority(lock: DispatcherLock, caller: Caller, threadId: number, priority: number): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const thread = lock.thread(threadId);
  if (!thread || thread.isIdle || thread.state === ThreadState.Terminated) return lock.raise(prcb, STATUS.INVALID_HANDLE, threadId, current.id);
  if (!(priority >= 1 && priority <= 31)) return lock.raise(prcb, STATUS.INVALID_PARAMETER, threadId, current.id);
  const old = thread.priority;
  thread.priorityDecrement = 0;
  if (priority !== old) {
    thread.quantum = thread.quantumReset;
    setPriorityInternal(lock, thread, priority, caller.cpu, effects);
  }
  return lock.exitDispatcher(caller, prcb, effects, old);
}

function setPriorityInternal(lock: DispatcherLock, thread: KThread, priority: number, currentCpu: number, effects: PlacementEffects): void {
  const old = thread.priority;
  const scheduler = lock.scheduler;
  switch (thread.state) {
    case ThreadState.Ready:
      scheduler.removeReady(thread);
      thread.priority = priority;
      thread.setState(ThreadState.DeferredReady);
      scheduler.deferredReadyThread(thread, currentCpu, effects);
      return;
    case ThreadState.Standby: {
      thread.priority = priority;
      const prcb = lock.prcb(thread.nextProcessor);
      if (priority < old && scheduler.highestReadyPriority(prcb) > priority) {
        const better = scheduler.selectReadyThread(prcb, priority + 1)!;
        better.setState(ThreadState.Standby);
        prcb.nextThread = better;
        thread.setState(ThreadState.DeferredReady);
        scheduler.deferredReadyThread(thread, currentCpu, effects);
      }
      return;
    }
    case ThreadState.Running: {
      thread.priority = priority;
      const prcb = lock.prcb(thread.nextProcessor);
      if (priority < old && !prcb.nextThread) {
        const better = scheduler.selectReadyThread(prcb, priority + 1);
        if (better) {
          better.setState(ThreadState.Standby);
          prcb.nextThread = better;
          if (prcb.number === currentCpu) effects.requestDispatchSelf = true;
          else effects.ipiTargets.add(prcb.number);
        }
      }
      return;
    }
    default:
      thread.priority = priority;
  }
}
