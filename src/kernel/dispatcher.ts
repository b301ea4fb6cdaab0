/**
 * The dispatcher database (nt-semantics.md §4): every KTHREAD, every dispatcher object (events,
 * semaphores, mutants, timers, thread objects) with its wait list, and the scheduler's per-CPU
 * ready lists and idle summary. Each public method is one dispatcher operation as a CPU performs
 * it in NT: raise to SYNCH_LEVEL, take the dispatcher lock, do the work, then KiExitDispatcher
 * (place the readied threads, send the IPIs, switch at once if the caller ran below DISPATCH_LEVEL
 * and now has a NextThread).
 *
 * This class is the coordinator's entry point only: the state and the shared entry/exit are the
 * dispatcher lock (src/kernel/dispatcher-lock.ts), and each operation lives next to its object:
 * event.ts, semaphore.ts, mutant.ts, timer.ts, thread.ts, scheduler.ts (dispatch, yield),
 * wait-block.ts (waits, delays, the page-in wait). A new object adds its module and its methods here.
 *
 * It lives in the coordinator, whose one-request-at-a-time loop *is* the dispatcher lock: CPUs send
 * a request and wait for the DispatchOutcome, which tells the caller what to return, which thread
 * to switch to, whom to IPI, or which bugcheck to raise. Pure: no Node, no transport, no shared
 * memory; the same code runs in-process under test (test/kernel/dispatcher.test.ts).
 */

import type { KThread } from './thread.js';
import { startThread, queryPriority, setPriority, terminateThread } from './thread.js';
import { setEvent, resetEvent, pulseEvent, readState } from './event.js';
import { releaseSemaphore } from './semaphore.js';
import { releaseMutant } from './mutant.js';
import { newEffects, peekNextThread, dispatch, yieldExecution } from './scheduler.js';
import { waitForObjects, delayExecution, pageFault } from './wait-block.js';
import type { WaitApc } from './wait-block.js';
import { initializeTimer, setTimer, cancelTimer, expireTimers, setSystemTime, nextTimerTickNs, timerDue } from './timer.js';
import { DispatcherLock } from './dispatcher-lock.js';
import type { Caller, DispatchOutcome } from './dispatcher-lock.js';
import { LOW_REALTIME_PRIORITY } from './status.js';

export type { Caller, DispatchBugcheck, DispatchOutcome, DispatcherConfig } from './dispatcher-lock.js';

export class DispatcherDatabase extends DispatcherLock {
  /** At boot: ready every thread declared to start at boot, in declaration order. Returns the CPUs given a standby thread. */
  boot(): number[] {
    const effects = newEffects();
    for (const thread of this.threads) {
      if (!thread.isIdle && thread.startAtBoot) this.scheduler.readyThread(thread, -1, effects);
    }
    return [...effects.ipiTargets].sort((a, b) => a - b);
  }

  // Time (§3.1, §3.3)

  /** The emulated ns of the tick at which the earliest inserted timer expires, or Infinity. */
  nextTimerTickNs(): number {
    return nextTimerTickNs(this);
  }

  /** Whether a timer is due at the tick of emulated time `nowNs` (the clock ISR's TimerRequest test). */
  timerDue(nowNs: number): boolean {
    return timerDue(this, nowNs);
  }

  // Events (§4.10): src/kernel/event.ts

  setEvent(caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
    return setEvent(this, caller, eventId, increment, wait);
  }

  resetEvent(caller: Caller, eventId: number): DispatchOutcome {
    return resetEvent(this, caller, eventId);
  }

  pulseEvent(caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
    return pulseEvent(this, caller, eventId, increment, wait);
  }

  readState(caller: Caller, objectId: number): DispatchOutcome {
    return readState(this, caller, objectId);
  }

  // Semaphores and mutants (§4.10): src/kernel/semaphore.ts, src/kernel/mutant.ts

  releaseSemaphore(caller: Caller, semaphoreId: number, increment: number, adjustment: number, wait: boolean): DispatchOutcome {
    return releaseSemaphore(this, caller, semaphoreId, increment, adjustment, wait);
  }

  releaseMutant(caller: Caller, mutantId: number, increment: number, abandon: boolean, wait: boolean): DispatchOutcome {
    return releaseMutant(this, caller, mutantId, increment, abandon, wait);
  }

  // Waits (§4.11–4.13): src/kernel/wait-block.ts

  waitForObjects(
    caller: Caller,
    objectIds: readonly number[],
    waitType: number,
    waitReason: number,
    timeout: number | null,
    callPc: number,
    apc?: WaitApc,
  ): DispatchOutcome {
    return waitForObjects(this, caller, objectIds, waitType, waitReason, timeout, callPc, apc);
  }

  delayExecution(caller: Caller, interval: number, callPc: number, apc?: WaitApc): DispatchOutcome {
    return delayExecution(this, caller, interval, callPc, apc);
  }

  pageFault(caller: Caller, page: number, latencyNs: number): DispatchOutcome {
    return pageFault(this, caller, page, latencyNs);
  }

  // Timers (§3.6–3.8): src/kernel/timer.ts

  initializeTimer(caller: Caller, timerId: number, synchronization: boolean): DispatchOutcome {
    return initializeTimer(this, caller, timerId, synchronization);
  }

  setTimer(caller: Caller, timerId: number, dueValue: number, periodMs: number, dpc: number): DispatchOutcome {
    return setTimer(this, caller, timerId, dueValue, periodMs, dpc);
  }

  cancelTimer(caller: Caller, timerId: number): DispatchOutcome {
    return cancelTimer(this, caller, timerId);
  }

  expireTimers(caller: Caller, batch = 4): DispatchOutcome {
    return expireTimers(this, caller, batch);
  }

  setSystemTime(caller: Caller, newSystemTime: number): DispatchOutcome {
    return setSystemTime(this, caller, newSystemTime);
  }

  // Switching (§4.4, §4.6): src/kernel/scheduler.ts

  peekNextThread(cpu: number): KThread {
    return peekNextThread(this, cpu);
  }

  dispatch(caller: Caller, quantumEnd: boolean): DispatchOutcome {
    return dispatch(this, caller, quantumEnd);
  }

  yieldExecution(caller: Caller): DispatchOutcome {
    return yieldExecution(this, caller);
  }

  // Threads (§4.1–4.2): src/kernel/thread.ts

  terminateThread(caller: Caller, exitStatus: number): DispatchOutcome {
    return terminateThread(this, caller, exitStatus);
  }

  startThread(caller: Caller, threadId: number, startContext: number): DispatchOutcome {
    return startThread(this, caller, threadId, startContext);
  }

  queryPriority(caller: Caller, threadId: number): DispatchOutcome {
    return queryPriority(this, caller, threadId);
  }

  setPriority(caller: Caller, threadId: number, priority: number): DispatchOutcome {
    return setPriority(this, caller, threadId, priority);
  }

  /** A thread's real-time class (priorities 16–31 never get boosts or decay). */
  static isRealTime(priority: number): boolean {
    return priority >= LOW_REALTIME_PRIORITY;
  }
}
