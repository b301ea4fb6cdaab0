/**
 * The SMP scheduler of NT 5.2/Vista (nt-semantics.md §4.3–4.6): each processor's scheduling state
 * (KPRCB CurrentThread, NextThread, IdleThread, DispatcherReadyListHead[32], ReadySummary,
 * DeferredReadyListHead), the idle summary (KiIdleSummary), and the routines that place threads:
 * KiReadyThread, KiDeferredReadyThread (processor selection, standby, preemption, head/tail
 * queueing), KxQueueReadyThread, KiSelectReadyThread, KiSwapThread's choice of the next thread
 * with idle-time stealing; and the switching operations run under the dispatcher lock
 * (src/kernel/dispatcher-lock.ts): KiDispatchInterrupt with KiQuantumEnd, and NtYieldExecution.
 *
 * Owned by the dispatcher lock, that is by the coordinator, which serializes every call (it plays
 * the dispatcher and PRCB locks). CPUs learn the outcome by message:
 * a standby placed on another CPU becomes an IPI(DPC) that CPU's current CPU sends; the CPU itself
 * switches only when the dispatcher hands it the next thread. Pure: no Node, no transport.
 */

import { type KThread, ThreadState, ResumeAction, DispatcherInvariantError } from './thread.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import { MAXIMUM_PRIORITY, STATUS, WaitReason } from './status.js';

export class SchedulerPrcb {
  readonly number: number;
  readonly idleThread: KThread;
  currentThread: KThread;
  /** the Standby thread chosen to run next here, or null */
  nextThread: KThread | null = null;
  /** DispatcherReadyListHead: one FIFO per priority */
  readonly readyLists: KThread[][] = Array.from({ length: MAXIMUM_PRIORITY }, () => []);
  /** bit p set iff readyLists[p] is non-empty */
  readySummary = 0;
  /** threads readied on this CPU's behalf, not yet placed (KiExitDispatcher places them) */
  readonly deferredReady: KThread[] = [];
  readyCount = 0;
  /** deepest this CPU's ready lists have been (all priorities together) */
  maxReadyCount = 0;

  constructor(number: number, idleThread: KThread) {
    this.number = number;
    this.idleThread = idleThread;
    this.currentThread = idleThread;
  }
}

/** What a placement asks of the processors: IPIs to send, or a DISPATCH interrupt on the current CPU. */
export interface PlacementEffects {
  /** CPUs (other than the current one) that must take an IPI(DPC) to reschedule */
  readonly ipiTargets: Set<number>;
  /** the current CPU now has a NextThread: request a DISPATCH interrupt on it */
  requestDispatchSelf: boolean;
  /** KDPCs of timers that expired during the operation, in order, for the current CPU to queue or call */
  readonly dpcs: number[];
  /** the system time to pass them (SystemArgument1/2) */
  systemTime: number;
}

export function newEffects(): PlacementEffects {
  return { ipiTargets: new Set<number>(), requestDispatchSelf: false, dpcs: [], systemTime: 0 };
}

export class Scheduler {
  readonly prcbs: SchedulerPrcb[];
  /** KiIdleSummary: CPU i is running its idle thread with no NextThread */
  readonly idleSummary: boolean[];

  constructor(idleThreads: readonly KThread[]) {
    this.prcbs = idleThreads.map((idle, cpu) => {
      idle.setState(ThreadState.Running);
      idle.nextProcessor = cpu;
      return new SchedulerPrcb(cpu, idle);
    });
    this.idleSummary = this.prcbs.map(() => true);
  }

  get cpus(): number {
    return this.prcbs.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Ready lists
  // ---------------------------------------------------------------------------------------------

  private insertReady(prcb: SchedulerPrcb, thread: KThread, atHead: boolean): void {
    thread.setState(ThreadState.Ready);
    thread.nextProcessor = prcb.number;
    const list = prcb.readyLists[thread.priority]!;
    if (atHead) list.unshift(thread);
    else list.push(thread);
    prcb.readySummary |= 1 << thread.priority;
    prcb.readyCount++;
    if (prcb.readyCount > prcb.maxReadyCount) prcb.maxReadyCount = prcb.readyCount;
  }

  /** Unlink a Ready thread from its CPU's list (it stays in state Ready; the caller moves it on). */
  removeReady(thread: KThread): void {
    const prcb = this.prcbs[thread.nextProcessor]!;
    const list = prcb.readyLists[thread.priority]!;
    const index = list.indexOf(thread);
    if (index < 0) throw new DispatcherInvariantError(`thread ${thread.name} is Ready but not on CPU ${prcb.number}'s ready list ${thread.priority}`);
    list.splice(index, 1);
    if (list.length === 0) prcb.readySummary &= ~(1 << thread.priority);
    prcb.readyCount--;
  }

  /** KiSelectReadyThread: unlink the head of the highest non-empty list at or above `minPriority`. */
  selectReadyThread(prcb: SchedulerPrcb, minPriority: number): KThread | null {
    const summary = prcb.readySummary >>> minPriority;
    if (summary === 0) return null;
    const priority = 31 - Math.clz32(summary) + minPriority;
    const thread = prcb.readyLists[priority]![0]!;
    this.removeReady(thread);
    return thread;
  }

  /** The priority of the highest ready thread on this CPU, or −1. */
  highestReadyPriority(prcb: SchedulerPrcb): number {
    return prcb.readySummary === 0 ? -1 : 31 - Math.clz32(prcb.readySummary);
  }

  // ---------------------------------------------------------------------------------------------
  // Readying (§4.5)
  // ---------------------------------------------------------------------------------------------

  /**
   * KiReadyThread: the thread becomes DeferredReady on the current CPU's deferred-ready list;
   * nothing is placed until that list is processed (KiExitDispatcher). With no current CPU (the
   * coordinator at boot) it is placed at once.
   */
  readyThread(thread: KThread, currentCpu: number, effects: PlacementEffects): void {
    thread.setState(ThreadState.DeferredReady);
    if (currentCpu < 0) {
      this.deferredReadyThread(thread, currentCpu, effects);
      return;
    }
    this.prcbs[currentCpu]!.deferredReady.push(thread);
  }

  processDeferredReadyList(currentCpu: number, effects: PlacementEffects): void {
    const list = this.prcbs[currentCpu]!.deferredReady;
    while (list.length > 0) this.deferredReadyThread(list.shift()!, currentCpu, effects);
  }

  /**
   * §4.5 b: processor selection. With idle candidates: the ideal processor, else the last one it ran
   * on, else the current one, else the lowest-numbered idle candidate. With none: the ideal
   * processor, else the last, else the lowest CPU of its affinity.
   */
  selectProcessor(thread: KThread, currentCpu: number): number {
    const eligibleIdle = (cpu: number): boolean => cpu >= 0 && cpu < this.cpus && this.idleSummary[cpu] === true && thread.canRunOn(cpu);
    let anyIdle = -1;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (eligibleIdle(cpu)) {
        anyIdle = cpu;
        break;
      }
    }
    if (anyIdle >= 0) {
      if (eligibleIdle(thread.idealProcessor)) return thread.idealProcessor;
      if (eligibleIdle(thread.lastProcessor)) return thread.lastProcessor;
      if (eligibleIdle(currentCpu)) return currentCpu;
      return anyIdle;
    }
    if (thread.canRunOn(thread.idealProcessor)) return thread.idealProcessor;
    if (thread.lastProcessor >= 0 && thread.canRunOn(thread.lastProcessor)) return thread.lastProcessor;
    for (let cpu = 0; cpu < this.cpus; cpu++) if (thread.canRunOn(cpu)) return cpu;
    throw new DispatcherInvariantError(`thread ${thread.name} has an empty affinity`);
  }

  /** Tell `cpu` it has a new NextThread: an IPI(DPC) if it is another CPU, a DISPATCH request if it is the current one. */
  private notify(cpu: number, currentCpu: number, effects: PlacementEffects): void {
    if (cpu === currentCpu) effects.requestDispatchSelf = true;
    else effects.ipiTargets.add(cpu);
  }

  /**
   * KiDeferredReadyThread (§4.5 a–c): apply the unwait boost, choose the processor, then make the
   * thread that CPU's Standby (the CPU is idle, or its Standby or running thread has a strictly
   * lower priority) or queue it: at the head of its priority's list if it was preempted, else at
   * the tail.
   */
  deferredReadyThread(thread: KThread, currentCpu: number, effects: PlacementEffects): void {
    if (thread.adjustUnwait) {
      thread.applyUnwaitBoost(thread.adjustIncrement);
      thread.adjustUnwait = false;
    }
    const target = this.selectProcessor(thread, currentCpu);
    const prcb = this.prcbs[target]!;
    thread.nextProcessor = target;
    if (this.idleSummary[target]) {
      this.idleSummary[target] = false;
      thread.setState(ThreadState.Standby);
      prcb.nextThread = thread;
      this.notify(target, currentCpu, effects);
      return;
    }
    const standby = prcb.nextThread;
    if (standby) {
      if (thread.priority > standby.priority) {
        // the new thread takes the standby slot; the displaced one is placed again
        standby.preempted = true;
        standby.setState(ThreadState.DeferredReady);
        thread.setState(ThreadState.Standby);
        prcb.nextThread = thread;
        this.deferredReadyThread(standby, currentCpu, effects);
        return;
      }
    } else {
      const running = prcb.currentThread;
      if (!running.isIdle && thread.priority > running.priority) {
        running.preempted = true;
        thread.setState(ThreadState.Standby);
        prcb.nextThread = thread;
        this.notify(target, currentCpu, effects);
        return;
      }
    }
    this.insertReady(prcb, thread, thread.preempted);
    thread.preempted = false;
  }

  /**
   * KxQueueReadyThread: a thread giving up this CPU (preempted, quantum end, yield) goes back on this
   * CPU's list if its affinity allows (head if preempted, else tail); otherwise it is placed anew.
   */
  queueReadyThread(thread: KThread, prcb: SchedulerPrcb, effects: PlacementEffects): void {
    if (thread.canRunOn(prcb.number)) {
      this.insertReady(prcb, thread, thread.preempted);
      thread.preempted = false;
      return;
    }
    thread.setState(ThreadState.DeferredReady);
    this.deferredReadyThread(thread, prcb.number, effects);
  }

  // ---------------------------------------------------------------------------------------------
  // Choosing what runs next (§4.6)
  // ---------------------------------------------------------------------------------------------

  /**
   * Idle scheduling: before a CPU falls back to its idle thread it takes the highest-priority ready
   * thread whose affinity allows it from the other CPUs' lists (the oldest of that priority, looking
   * at the CPUs after this one first), so threads do not strand behind busy CPUs.
   */
  steal(prcb: SchedulerPrcb): KThread | null {
    let best: KThread | null = null;
    for (let k = 1; k < this.cpus; k++) {
      const other = this.prcbs[(prcb.number + k) % this.cpus]!;
      let summary = other.readySummary;
      while (summary !== 0) {
        const priority = 31 - Math.clz32(summary);
        summary &= ~(1 << priority);
        if (best && priority <= best.priority) break;
        const candidate = other.readyLists[priority]!.find((t) => t.canRunOn(prcb.number));
        if (candidate) {
          best = candidate;
          break;
        }
      }
    }
    if (best) this.removeReady(best);
    return best;
  }

  /**
   * KiSwapThread's choice: NextThread if set, else the highest ready thread here, else one stolen
   * from another CPU, else the idle thread (the CPU joins the idle summary). The chosen thread
   * becomes Running and current; the caller has already moved the old thread out.
   */
  selectNextThread(prcb: SchedulerPrcb): KThread {
    let next = prcb.nextThread;
    prcb.nextThread = null;
    if (!next) next = this.selectReadyThread(prcb, 0) ?? this.steal(prcb);
    if (!next) {
      this.idleSummary[prcb.number] = true;
      next = prcb.idleThread;
    }
    this.makeCurrent(prcb, next);
    return next;
  }

  /** Take the standby thread (the caller checked there is one) and make it current. */
  takeNextThread(prcb: SchedulerPrcb): KThread {
    const next = prcb.nextThread;
    if (!next) throw new DispatcherInvariantError(`CPU ${prcb.number} has no NextThread to switch to`);
    prcb.nextThread = null;
    this.makeCurrent(prcb, next);
    return next;
  }

  private makeCurrent(prcb: SchedulerPrcb, thread: KThread): void {
    thread.setState(ThreadState.Running);
    thread.nextProcessor = prcb.number;
    thread.lastProcessor = prcb.number;
    prcb.currentThread = thread;
    if (!thread.isIdle) this.idleSummary[prcb.number] = false;
  }
}

// -----------------------------------------------------------------------------------------------
// Switching operations: the DISPATCH interrupt, quantum end, yield (§4.4, §4.6)
// -----------------------------------------------------------------------------------------------

/**
 * Who this CPU would switch to if its current thread blocked now, without changing anything: the
 * "new thread" of the 0xB8 a DPC routine gets for trying to wait (§4.13).
 */
export function peekNextThread(lock: DispatcherLock, cpu: number): KThread {
  const prcb = lock.prcb(cpu);
  if (prcb.nextThread) return prcb.nextThread;
  const priority = lock.scheduler.highestReadyPriority(prcb);
  if (priority >= 0) return prcb.readyLists[priority]![0]!;
  return prcb.idleThread;
}

/**
 * KiDispatchInterrupt after the DPCs (and the idle loop): KiQuantumEnd if the quantum ran out,
 * then a switch to NextThread if there is one. The old thread goes back on a ready list: at the
 * head if it was preempted, at the tail if its quantum ended.
 */
export function dispatch(lock: DispatcherLock, caller: Caller, quantumEnd: boolean): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  let reason: number = WaitReason.WrDispatchInt;
  if (quantumEnd && !thread.isIdle) {
    reason = WaitReason.WrQuantumEnd;
    if (thread.quantum <= 0) {
      thread.quantum = thread.quantumReset;
      thread.priority = thread.computeNewPriority(1);
      if (!prcb.nextThread) {
        const next = lock.scheduler.selectReadyThread(prcb, thread.priority);
        if (next) {
          next.setState(ThreadState.Standby);
          prcb.nextThread = next;
        }
      } else {
        thread.preempted = false;
      }
    }
  }
  if (!prcb.nextThread) return lock.outcome(prcb, effects, 0, null);
  if (!thread.isIdle) {
    thread.waitIrql = caller.oldIrql;
    thread.waitReason = reason;
    thread.resume = { action: ResumeAction.None, value: 0 };
    lock.scheduler.queueReadyThread(thread, prcb, effects);
  }
  const next = lock.scheduler.takeNextThread(prcb);
  return lock.outcome(prcb, effects, 0, next);
}

/**
 * NtYieldExecution (§4.4): if another thread of priority ≥ 1 is ready here, reset the quantum,
 * decay the priority and switch, the yielder going to the tail; else STATUS_NO_YIELD_PERFORMED.
 */
export function yieldExecution(lock: DispatcherLock, caller: Caller): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  if (prcb.readySummary === 0 || thread.isIdle) return lock.outcome(prcb, effects, STATUS.NO_YIELD_PERFORMED, null);
  if (!prcb.nextThread) {
    const next = lock.scheduler.selectReadyThread(prcb, 1);
    if (next) {
      next.setState(ThreadState.Standby);
      prcb.nextThread = next;
    }
  }
  if (!prcb.nextThread) return lock.outcome(prcb, effects, STATUS.NO_YIELD_PERFORMED, null);
  thread.quantum = thread.quantumReset;
  thread.priority = thread.computeNewPriority(1);
  thread.preempted = false;
  thread.waitIrql = caller.oldIrql;
  thread.waitReason = WaitReason.WrYieldExecution;
  thread.resume = { action: ResumeAction.SetResult, value: STATUS.SUCCESS };
  lock.scheduler.queueReadyThread(thread, prcb, effects);
  const next = lock.scheduler.takeNextThread(prcb);
  return lock.outcome(prcb, effects, STATUS.SUCCESS, next);
}
