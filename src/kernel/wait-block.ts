/**
 * Dispatcher waits (nt-semantics.md §4.11–4.13): KWAIT_BLOCK linking and unlinking, the
 * satisfaction test of KeWaitForSingleObject / KeWaitForMultipleObjects (WaitAny takes the lowest
 * satisfiable index and consumes only it; WaitAll consumes all or nothing), the waking side,
 * KiWaitTest, and the blocking operations: KeWaitForMultipleObjects, KeDelayExecutionThread and the
 * page-in wait of MmAccessFault.
 *
 * The dispatcher side only, run under the dispatcher lock (src/kernel/dispatcher-lock.ts). The CPU
 * side of a wait (the IRQL rules a CPU checks before it asks) is not here.
 */

import type { DispatcherObject, WaitBlock } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import type { PlacementEffects, SchedulerPrcb } from './scheduler.js';
import { yieldExecution } from './scheduler.js';
import { type KThread, ThreadState, ResumeAction, DispatcherInvariantError } from './thread.js';
import { KMutant } from './mutant.js';
import { computeDueTime, remainingDueTime, type DueTime } from './timer.js';
import { STATUS, WaitType, WaitReason } from './status.js';
import type { ApcMode, ApcThreadWords } from './apc-state.js';
import { checkAlertability, kernelApcBeforeWait } from './apc.js';

/**
 * A wait's APC side (§4.11 steps 2 and 4): its Alertable and WaitMode, and the waiting thread's
 * words in the shared thread table (the coordinator hands them in; absent in tests of the pure
 * database, where no APC is ever pending).
 */
export interface WaitApc {
  alertable: boolean;
  waitMode: ApcMode;
  words: ApcThreadWords;
}

/** The index WaitAny would be satisfied by (the lowest satisfiable one), or −1. */
export function firstSatisfiable(thread: KThread, objects: readonly DispatcherObject[]): number {
  for (let i = 0; i < objects.length; i++) if (objects[i]!.isSatisfiableBy(thread)) return i;
  return -1;
}

/** Whether every object of a WaitAll is satisfiable at once. */
export function allSatisfiable(thread: KThread, objects: readonly DispatcherObject[]): boolean {
  return objects.every((object) => object.isSatisfiableBy(thread));
}

/**
 * Test a wait without blocking; on success, satisfy it (the side effects of acquiring) and return
 * the wait status (STATUS_WAIT_0 + index, or STATUS_ABANDONED_WAIT_0 + index for an abandoned
 * mutant; WaitAll returns 0 or STATUS_ABANDONED_WAIT_0). Returns −1 when it cannot be satisfied.
 */
export function trySatisfy(thread: KThread, objects: readonly DispatcherObject[], waitType: number): number {
  if (waitType === WaitType.WaitAny) {
    const index = firstSatisfiable(thread, objects);
    return index < 0 ? -1 : objects[index]!.satisfy(thread) + index;
  }
  if (!allSatisfiable(thread, objects)) return -1;
  let abandoned = 0;
  for (const object of objects) abandoned |= object.satisfy(thread);
  return abandoned;
}

/** Block: link one wait block per object at the tail of each object's wait list (FIFO fairness). */
export function linkWaitBlocks(thread: KThread, objects: readonly DispatcherObject[], waitType: number): void {
  thread.waitBlocks = objects.map((object, waitKey) => {
    const block: WaitBlock = { thread, object, waitKey, waitType };
    object.waitList.push(block);
    return block;
  });
}

/** Remove every wait block of the thread from every object it waited on. */
export function unlinkWaitBlocks(thread: KThread): void {
  for (const block of thread.waitBlocks) {
    const list = block.object.waitList;
    const index = list.indexOf(block);
    if (index >= 0) list.splice(index, 1);
  }
  thread.waitBlocks = [];
}

/**
 * KiWaitTest: the object just became signaled. Walk its waiters from the head while it stays
 * signaled: a WaitAny waiter is satisfied and released with its wait key, a WaitAll waiter is
 * released with STATUS_KERNEL_APC so that it re-tests its whole wait itself. `unwait` releases a
 * thread (it must unlink all of that thread's blocks).
 */
export function waitTest(object: DispatcherObject, unwait: (thread: KThread, status: number) => void): void {
  let i = 0;
  while (i < object.waitList.length && object.signalState > 0) {
    const block = object.waitList[i]!;
    const thread = block.thread as KThread;
    const before = object.waitList.length;
    if (block.waitType === WaitType.WaitAny) {
      const status = object.satisfy(thread) + block.waitKey;
      unwait(thread, status);
    } else {
      // WaitAll: the waiter re-tests its whole wait; nothing is consumed on its behalf
      unwait(thread, STATUS.KERNEL_APC);
    }
    if (object.waitList.length === before) i++;
  }
}

/**
 * KeWaitForSingleObject / KeWaitForMultipleObjects. `timeout`: null for none (wait forever), 0 to
 * poll. Satisfied at once: the status. Not satisfiable with a zero timeout: STATUS_TIMEOUT.
 * Otherwise the thread blocks and the CPU switches to the next thread; the status reaches the
 * thread when it resumes. `callPc` is where the call restarts if a WaitAll waiter must re-test.
 */
export function waitForObjects(
  lock: DispatcherLock,
  caller: Caller,
  objectIds: readonly number[],
  waitType: number,
  waitReason: number,
  timeout: number | null,
  callPc: number,
  apc?: WaitApc,
): DispatchOutcome {
  // a wait broken to re-test keeps its relative timeout running from where it was (§4.11 step 7)
  const restarting = lock.prcb(caller.cpu).currentThread.restartingWait;
  const { prcb, thread, effects } = lock.enter(caller);
  lock.releaseKeptLock(thread);
  if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot wait`);
  if (apc && kernelApcBeforeWait(apc.words, caller.oldIrql)) return restartAfterKernelApc(lock, prcb, effects);
  // §4.11 step 2: a wait clears Preempted (a woken waiter is queued at the tail, not the head)
  thread.preempted = false;
  const objects: DispatcherObject[] = [];
  for (const id of objectIds) {
    const object = lock.objects[id];
    if (!object) return lock.raise(prcb, STATUS.INVALID_HANDLE, id, thread.id);
    if (object instanceof KMutant && object.wouldOverflow(thread)) return lock.raise(prcb, STATUS.MUTANT_LIMIT_EXCEEDED, id, thread.id);
    objects.push(object);
  }
  thread.restartingWait = false;
  const satisfied = trySatisfy(thread, objects, waitType);
  if (satisfied >= 0) return lock.exitDispatcher(caller, prcb, effects, satisfied);
  const alerted = apc ? checkAlertability(thread.apcState, apc.words, apc.alertable, apc.waitMode) : null;
  if (alerted !== null) return lock.exitDispatcher(caller, prcb, effects, alerted);
  let due: DueTime | null = null;
  if (timeout !== null) {
    due = restarting && timeout < 0 ? remainingDueTime(lock, thread, caller.timeNs) : computeDueTime(lock, timeout, caller.timeNs);
    if (due.expired) return lock.exitDispatcher(caller, prcb, effects, STATUS.TIMEOUT);
  }
  thread.waits++;
  linkWaitBlocks(thread, objects, waitType);
  thread.restartPc = callPc;
  thread.onTimeout = { action: ResumeAction.SetResult, value: STATUS.TIMEOUT };
  return block(lock, caller, prcb, thread, effects, waitReason, due);
}

/**
 * §4.11 step 2: a kernel APC is pending for a wait that starts below APC_LEVEL: the wait does not
 * block; STATUS_KERNEL_APC tells the caller's CPU to deliver it (lower its IRQL) and issue the
 * wait again (wait-gate.ts). Never a switch here: the caller must get this status itself, now.
 */
function restartAfterKernelApc(lock: DispatcherLock, prcb: SchedulerPrcb, effects: PlacementEffects): DispatchOutcome {
  return lock.outcome(prcb, effects, STATUS.KERNEL_APC, null);
}

/**
 * Block the current thread (its wait blocks already linked, if any), arm its timer for `due`, and
 * switch this CPU to the next thread (KiSwapThread).
 */
function block(
  lock: DispatcherLock,
  caller: Caller,
  prcb: SchedulerPrcb,
  thread: KThread,
  effects: PlacementEffects,
  waitReason: number,
  due: DueTime | null,
): DispatchOutcome {
  if (due) {
    thread.timer.dueTime = due.due;
    thread.timer.absolute = due.absolute;
    thread.waitDueTime = due.due;
    lock.timerTable.insert(thread.timer);
  }
  thread.setState(ThreadState.Waiting);
  thread.waitReason = waitReason;
  thread.waitIrql = caller.oldIrql;
  thread.resume = { action: ResumeAction.SetResult, value: 0 };
  lock.scheduler.processDeferredReadyList(caller.cpu, effects);
  // placing the threads a signal-and-wait readied compared them with this (now waiting) thread
  thread.preempted = false;
  const next = lock.scheduler.selectNextThread(prcb);
  return lock.outcome(prcb, effects, 0, next);
}

/**
 * KeDelayExecutionThread (§4.12): block on the thread's timer alone; STATUS_SUCCESS when the
 * interval elapses. An interval already expired (zero, or an absolute time in the past) yields.
 */
export function delayExecution(lock: DispatcherLock, caller: Caller, interval: number, callPc: number, apc?: WaitApc): DispatchOutcome {
  const prcb = lock.prcb(caller.cpu);
  const current = prcb.currentThread;
  lock.releaseKeptLock(current);
  if (apc && !current.isIdle && kernelApcBeforeWait(apc.words, caller.oldIrql)) return restartAfterKernelApc(lock, prcb, lock.enter(caller).effects);
  const restarting = current.restartingWait;
  current.restartingWait = false;
  const due = restarting && interval < 0 ? remainingDueTime(lock, current, caller.timeNs) : computeDueTime(lock, interval, caller.timeNs);
  if (due.expired && restarting) {
    // a restarted delay whose time ran out while it was away: done
    const { effects } = lock.enter(caller);
    return lock.exitDispatcher(caller, prcb, effects, STATUS.SUCCESS);
  }
  if (due.expired && apc && !current.isIdle) {
    // KiCheckAlertability comes before the interval's test: SleepEx(0, TRUE) with a user APC queued returns STATUS_USER_APC
    const alerted = checkAlertability(current.apcState, apc.words, apc.alertable, apc.waitMode);
    if (alerted !== null) return lock.exitDispatcher(caller, prcb, lock.enter(caller).effects, alerted);
  }
  if (due.expired) {
    // a zero interval, or an absolute time already past: a yield (§4.12)
    const yielded = yieldExecution(lock, caller);
    return { ...yielded, status: STATUS.SUCCESS };
  }
  const { effects, thread } = lock.enter(caller);
  if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot delay`);
  const alerted = apc ? checkAlertability(thread.apcState, apc.words, apc.alertable, apc.waitMode) : null;
  if (alerted !== null) return lock.exitDispatcher(caller, prcb, effects, alerted);
  thread.preempted = false;
  thread.waits++;
  thread.restartPc = callPc;
  thread.onTimeout = { action: ResumeAction.SetResult, value: STATUS.SUCCESS };
  return block(lock, caller, prcb, thread, effects, WaitReason.DelayExecution, due);
}

/**
 * MmAccessFault on a non-resident pageable page below DISPATCH_LEVEL: the thread waits for the
 * simulated disk read (WaitReason PageIn); when its timer fires the page becomes resident on the
 * CPU that resumes the thread, and the faulting instruction runs again.
 */
export function pageFault(lock: DispatcherLock, caller: Caller, page: number, latencyNs: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot take a page fault`);
  thread.preempted = false;
  const ticks = Math.max(1, Math.ceil(latencyNs / lock.clockIntervalNs));
  const due = { due: lock.interruptTime(caller.timeNs) + ticks * lock.timerTable.increment, absolute: false, expired: false };
  thread.onTimeout = { action: ResumeAction.PageIn, value: page };
  return block(lock, caller, prcb, thread, effects, WaitReason.PageIn, due);
}
