/**
 * The dispatcher database (nt-semantics.md §4): every KTHREAD, every dispatcher object (events,
 * semaphores, mutants, thread objects) with its wait list, and the scheduler's per-CPU ready lists
 * and idle summary. Each public method is one dispatcher operation as a CPU performs it in NT:
 * raise to SYNCH_LEVEL, take the dispatcher lock, do the work, then KiExitDispatcher (place the
 * readied threads, send the IPIs, switch at once if the caller ran below DISPATCH_LEVEL and now has
 * a NextThread).
 *
 * It lives in the coordinator, whose one-request-at-a-time loop *is* the dispatcher lock: CPUs send
 * a request and wait for the DispatchOutcome, which tells the caller what to return, which thread
 * to switch to, whom to IPI, or which bugcheck to raise. Pure: no Node, no transport, no shared
 * memory; the same code runs in-process under test (test/kernel/dispatcher.test.ts).
 */

import { KThread, ThreadState, ResumeAction, DispatcherInvariantError, threadStateName } from './thread.js';
import type { ThreadInit } from './thread.js';
import { KEvent } from './event.js';
import { KSemaphore } from './semaphore.js';
import { KMutant } from './mutant.js';
import type { DispatcherObject } from './dispatcher-object.js';
import { Scheduler, newEffects } from './scheduler.js';
import type { PlacementEffects, SchedulerPrcb } from './scheduler.js';
import { trySatisfy, linkWaitBlocks, unlinkWaitBlocks, waitTest } from './wait.js';
import { KTimer, TimerTable } from './timer.js';
import { BUGCHECK } from './bugcheck.js';
import { STATUS, WaitReason, LOW_REALTIME_PRIORITY } from './status.js';
import { DISPATCH_LEVEL } from './irql.js';

export interface DispatcherConfig {
  cpus: number;
  /** the scenario's threads, ids cpus + 1 … (ids 1 … cpus are the idle threads) */
  threads: Array<ThreadInit & { startAtBoot: boolean }>;
  events: Array<{ id: number; name: string; synchronization: boolean; signaled: boolean }>;
  semaphores: Array<{ id: number; name: string; count: number; limit: number }>;
  mutexes: Array<{ id: number; name: string; kernelMutex: boolean }>;
  timers: Array<{ id: number; name: string; synchronization: boolean }>;
  /** the idle threads' initial stack, per CPU (their interrupt stack top) */
  idleStackTops: readonly number[];
  /** the clock interval (KeMaximumIncrement), in emulated ns */
  clockIntervalNs: number;
  /** system time (100 ns since 1601) at interrupt time 0 */
  bootSystemTime: number;
}

/** 1 ms in interrupt-time units (100 ns): a timer's Period is in milliseconds. */
const PERIOD_UNIT = 10_000;

/** A due time as KiComputeDueTime computes it. */
interface DueTime {
  /** interrupt time (100 ns) */
  due: number;
  absolute: boolean;
  /** already in the past (an absolute time ≤ now, or zero) */
  expired: boolean;
}

/** Who is calling: the CPU, the thread it runs, and the IRQL the call started at. */
export interface Caller {
  cpu: number;
  /** the id of the thread the CPU is running (checked against the database) */
  thread: number;
  /** the IRQL before the call raised to SYNCH_LEVEL: the caller returns to it, or resumes at it after a switch */
  oldIrql: number;
  /** the running thread's remaining quantum as the CPU has charged it */
  quantum: number;
  /** a DPC routine is running on the caller's CPU (DpcRoutineActive) */
  dpcActive: boolean;
  /** the caller's emulated time in ns (due times and timeouts count from it) */
  timeNs: number;
}

export interface DispatchBugcheck {
  code: number;
  params: [number, number, number, number];
}

/** What the calling CPU does once the operation is done. */
export interface DispatchOutcome {
  /** r0 for the caller (delivered when it resumes, if it switched out) */
  status: number;
  /** the caller's CPU switches to this thread now; the calling thread was moved out (Ready, Waiting or Terminated) */
  switchTo: KThread | null;
  /** the caller's CPU has a NextThread it cannot switch to yet (IRQL ≥ DISPATCH): request a DISPATCH interrupt */
  requestDispatch: boolean;
  /** other CPUs to send IPI(DPC) so they reschedule, ascending */
  ipiTargets: number[];
  /** the remaining quantum of the thread that runs on the caller's CPU after the operation */
  quantum: number;
  /** the operation raised an exception the kernel cannot handle, or hit a fatal rule */
  bugcheck: DispatchBugcheck | null;
  /**
   * KDPCs of expired timers, in expiration order, for the caller to queue (targeted elsewhere) or
   * call at DISPATCH_LEVEL (untargeted), with SystemArgument1/2 = the system time (low, high)
   */
  dpcs: number[];
  systemTime: number;
}

/** An exception raised inside a dispatcher operation: unhandled in kernel mode, it is 0x1E with the status as P1. */
function unhandled(status: number, objectId: number, threadId: number): DispatchBugcheck {
  return { code: BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, params: [status >>> 0, 0, objectId, threadId] };
}

export class DispatcherDatabase {
  readonly cpus: number;
  readonly scheduler: Scheduler;
  /** every dispatcher object by id (index 0 is NULL) */
  readonly objects: Array<DispatcherObject | null> = [null];
  readonly threads: KThread[] = [];
  /** set while a thread holds the dispatcher lock across a set/release with Wait = TRUE (its CPU) */
  lockedBy = -1;
  readonly timerTable: TimerTable;
  /** timers that have expired so far, wait timeouts included (reported at the end of the run) */
  timersExpired = 0;
  /** TimerHand, as an absolute tick: where the last expiration pass reached */
  private timerTick = 0;
  readonly clockIntervalNs: number;
  private readonly bootSystemTime: number;
  /** KeSetSystemTime moves system time by this much against interrupt time */
  systemTimeBias = 0;

  constructor(config: DispatcherConfig) {
    this.cpus = config.cpus;
    this.clockIntervalNs = config.clockIntervalNs;
    this.bootSystemTime = config.bootSystemTime;
    this.timerTable = new TimerTable(Math.round(config.clockIntervalNs / 100));
    const idle: KThread[] = [];
    for (let cpu = 0; cpu < config.cpus; cpu++) {
      const thread = new KThread({
        id: cpu + 1,
        name: `Idle#${cpu}`,
        basePriority: 0,
        affinity: Array.from({ length: config.cpus }, (_, c) => c === cpu),
        idealProcessor: cpu,
        quantumReset: 0,
        stackTop: config.idleStackTops[cpu] ?? 0,
        idleOf: cpu,
      });
      idle.push(thread);
      this.register(thread);
    }
    this.scheduler = new Scheduler(idle);
    for (const init of config.threads) {
      const thread = new KThread(init);
      thread.startAtBoot = init.startAtBoot;
      this.register(thread);
    }
    for (const e of config.events) this.register(new KEvent(e.id, e.name, e.synchronization, e.signaled));
    for (const s of config.semaphores) this.register(new KSemaphore(s.id, s.name, s.count, s.limit));
    for (const m of config.mutexes) this.register(new KMutant(m.id, m.name, m.kernelMutex));
    for (const t of config.timers) this.register(new KTimer(t.id, t.name, t.synchronization));
  }

  private register(object: DispatcherObject): void {
    if (object.id !== this.objects.length) throw new DispatcherInvariantError(`object ${object.name} has id ${object.id}, expected ${this.objects.length}`);
    this.objects.push(object);
    if (object instanceof KThread) this.threads.push(object);
  }

  thread(id: number): KThread | null {
    const object = this.objects[id];
    return object instanceof KThread ? object : null;
  }

  prcb(cpu: number): SchedulerPrcb {
    return this.scheduler.prcbs[cpu]!;
  }

  /** At boot: ready every thread declared to start at boot, in declaration order. Returns the CPUs given a standby thread. */
  boot(): number[] {
    const effects = newEffects();
    for (const thread of this.threads) {
      if (!thread.isIdle && thread.startAtBoot) this.scheduler.readyThread(thread, -1, effects);
    }
    return [...effects.ipiTargets].sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------------------------------------
  // Entry and exit
  // ---------------------------------------------------------------------------------------------

  private enter(caller: Caller): { prcb: SchedulerPrcb; thread: KThread; effects: PlacementEffects } {
    const prcb = this.prcb(caller.cpu);
    const thread = prcb.currentThread;
    if (thread.id !== caller.thread) {
      throw new DispatcherInvariantError(
        `CPU ${caller.cpu} says it runs thread #${caller.thread}, the dispatcher has ${thread.name} (#${thread.id}) current there`,
      );
    }
    if (!thread.isIdle) thread.quantum = caller.quantum;
    return { prcb, thread, effects: newEffects() };
  }

  private outcome(prcb: SchedulerPrcb, effects: PlacementEffects, status: number, switchTo: KThread | null, requestDispatch = false): DispatchOutcome {
    const running = switchTo ?? prcb.currentThread;
    return {
      status,
      switchTo,
      requestDispatch: requestDispatch || (effects.requestDispatchSelf && !switchTo && prcb.nextThread !== null),
      ipiTargets: [...effects.ipiTargets].sort((a, b) => a - b),
      quantum: running.quantum,
      bugcheck: null,
      dpcs: effects.dpcs,
      systemTime: effects.systemTime,
    };
  }

  private fail(bugcheck: DispatchBugcheck, prcb: SchedulerPrcb): DispatchOutcome {
    return { status: 0, switchTo: null, requestDispatch: false, ipiTargets: [], quantum: prcb.currentThread.quantum, bugcheck, dpcs: [], systemTime: 0 };
  }

  // ---------------------------------------------------------------------------------------------
  // Time (§3.1, §3.3)
  // ---------------------------------------------------------------------------------------------

  /** Interrupt time (100 ns) at emulated `nowNs`: it advances a clock increment at each tick. */
  interruptTime(nowNs: number): number {
    return Math.floor(nowNs / this.clockIntervalNs) * this.timerTable.increment;
  }

  /** System time (100 ns since 1601) at emulated `nowNs`. */
  systemTime(nowNs: number): number {
    return this.bootSystemTime + this.interruptTime(nowNs) + this.systemTimeBias;
  }

  /** A restarted wait's relative timeout (§4.11 step 7): what is left of the one it started with. */
  private remaining(thread: KThread, nowNs: number): DueTime {
    return { due: thread.waitDueTime, absolute: false, expired: thread.waitDueTime <= this.interruptTime(nowNs) };
  }

  /** KiComputeDueTime: negative = relative to now, positive or zero = absolute system time. */
  private computeDueTime(value: number, nowNs: number): DueTime {
    const interruptNow = this.interruptTime(nowNs);
    if (value < 0) return { due: interruptNow - value, absolute: false, expired: false };
    const systemNow = this.systemTime(nowNs);
    if (systemNow - value >= 0) return { due: interruptNow, absolute: true, expired: true };
    return { due: interruptNow + (value - systemNow), absolute: true, expired: false };
  }

  /** The emulated ns of the tick at which the earliest inserted timer expires, or Infinity. */
  nextTimerTickNs(): number {
    const due = this.timerTable.nextDueTime();
    if (!Number.isFinite(due)) return Infinity;
    return Math.ceil(due / this.timerTable.increment) * this.clockIntervalNs;
  }

  /** Whether a timer is due at the tick of emulated time `nowNs` (the clock ISR's TimerRequest test). */
  timerDue(nowNs: number): boolean {
    return this.timerTable.nextDueTime() <= this.interruptTime(nowNs);
  }

  /**
   * KiExitDispatcher (§4.7): place the threads readied on this CPU's behalf; then, if this CPU now
   * has a NextThread, switch at once when the caller ran below DISPATCH_LEVEL (the caller is
   * preempted inside the call and gets `status` when it resumes), or have it request a DISPATCH
   * interrupt otherwise.
   */
  private exitDispatcher(caller: Caller, prcb: SchedulerPrcb, effects: PlacementEffects, status: number): DispatchOutcome {
    this.scheduler.processDeferredReadyList(caller.cpu, effects);
    if (!prcb.nextThread) return this.outcome(prcb, effects, status, null);
    if (caller.oldIrql >= DISPATCH_LEVEL) return this.outcome(prcb, effects, status, null, true);
    const old = prcb.currentThread;
    if (!old.isIdle) {
      old.waitIrql = caller.oldIrql;
      old.waitReason = WaitReason.WrPreempted;
      old.resume = { action: ResumeAction.SetResult, value: status };
      this.scheduler.queueReadyThread(old, prcb, effects);
    }
    return this.outcome(prcb, effects, status, this.scheduler.takeNextThread(prcb));
  }

  /** KiUnwaitThread: release a waiting thread with `status` and ready it on the current CPU's behalf. */
  private unwaitThread(thread: KThread, status: number, increment: number, cpu: number, effects: PlacementEffects): void {
    if (thread.state !== ThreadState.Waiting) {
      throw new DispatcherInvariantError(`unwait of thread ${thread.name} in state ${threadStateName(thread.state)}`);
    }
    unlinkWaitBlocks(thread);
    if (thread.timer.inserted) this.timerTable.remove(thread.timer);
    thread.waitStatus = status;
    if (status === STATUS.KERNEL_APC) {
      thread.resume = { action: ResumeAction.RestartCall, value: thread.restartPc };
      thread.restartingWait = true;
    } else if (status === STATUS.TIMEOUT) {
      thread.resume = thread.onTimeout;
    } else {
      thread.resume = { action: ResumeAction.SetResult, value: status };
    }
    thread.adjustUnwait = true;
    thread.adjustIncrement = increment;
    this.scheduler.readyThread(thread, cpu, effects);
  }

  private wake(object: DispatcherObject, increment: number, cpu: number, effects: PlacementEffects): void {
    waitTest(object, (thread, status) => this.unwaitThread(thread, status, increment, cpu, effects));
  }

  /** Finish a set/release: with Wait = TRUE the caller keeps the dispatcher lock for the wait that must follow. */
  private finishSignal(caller: Caller, prcb: SchedulerPrcb, thread: KThread, effects: PlacementEffects, status: number, wait: boolean): DispatchOutcome {
    if (wait && !thread.isIdle) {
      thread.waitNext = true;
      thread.waitIrql = caller.oldIrql;
      this.lockedBy = caller.cpu;
      return this.outcome(prcb, effects, status, null);
    }
    return this.exitDispatcher(caller, prcb, effects, status);
  }

  private object<T extends DispatcherObject>(id: number, kind: abstract new (...args: never[]) => T): T | null {
    const object = this.objects[id];
    return object instanceof kind ? object : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Events (§4.10)
  // ---------------------------------------------------------------------------------------------

  /** KeSetEvent: returns the previous state. */
  setEvent(caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const event = this.object(eventId, KEvent);
    if (!event) return this.fail(unhandled(STATUS.INVALID_HANDLE, eventId, thread.id), prcb);
    const previous = event.signalState;
    if (!event.synchronization && previous === 1 && !wait) return this.outcome(prcb, effects, previous, null);
    event.signalState = 1;
    if (previous === 0 && event.waitList.length > 0) this.wake(event, increment, caller.cpu, effects);
    return this.finishSignal(caller, prcb, thread, effects, previous, wait);
  }

  /** KeResetEvent (returns the previous state) and KeClearEvent (the caller ignores it). */
  resetEvent(caller: Caller, eventId: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const event = this.object(eventId, KEvent);
    if (!event) return this.fail(unhandled(STATUS.INVALID_HANDLE, eventId, thread.id), prcb);
    const previous = event.signalState;
    event.signalState = 0;
    return this.outcome(prcb, effects, previous, null);
  }

  /** KePulseEvent: signal and run the wait test if unsignaled with waiters, then reset; returns the previous state. */
  pulseEvent(caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const event = this.object(eventId, KEvent);
    if (!event) return this.fail(unhandled(STATUS.INVALID_HANDLE, eventId, thread.id), prcb);
    const previous = event.signalState;
    if (previous === 0 && event.waitList.length > 0) {
      event.signalState = 1;
      this.wake(event, increment, caller.cpu, effects);
    }
    event.signalState = 0;
    return this.finishSignal(caller, prcb, thread, effects, previous, wait);
  }

  /** KeReadStateEvent / KeReadStateSemaphore / KeReadStateMutex / KeReadStateTimer: the signal state. */
  readState(caller: Caller, objectId: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const object = this.objects[objectId];
    if (!object) return this.fail(unhandled(STATUS.INVALID_HANDLE, objectId, thread.id), prcb);
    return this.outcome(prcb, effects, object.signalState, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Semaphores and mutants (§4.10)
  // ---------------------------------------------------------------------------------------------

  /** KeReleaseSemaphore: returns the previous count; past the limit it raises STATUS_SEMAPHORE_LIMIT_EXCEEDED. */
  releaseSemaphore(caller: Caller, semaphoreId: number, increment: number, adjustment: number, wait: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const semaphore = this.object(semaphoreId, KSemaphore);
    if (!semaphore) return this.fail(unhandled(STATUS.INVALID_HANDLE, semaphoreId, thread.id), prcb);
    const previous = semaphore.signalState;
    if (!semaphore.canRelease(adjustment)) return this.fail(unhandled(STATUS.SEMAPHORE_LIMIT_EXCEEDED, semaphoreId, thread.id), prcb);
    semaphore.signalState = previous + adjustment;
    if (previous === 0 && semaphore.waitList.length > 0) this.wake(semaphore, increment, caller.cpu, effects);
    return this.finishSignal(caller, prcb, thread, effects, previous, wait);
  }

  /**
   * KeReleaseMutant / KeReleaseMutex: returns the previous state. A release by a thread that does
   * not own it raises STATUS_MUTANT_NOT_OWNED (STATUS_ABANDONED if it was abandoned).
   */
  releaseMutant(caller: Caller, mutantId: number, increment: number, abandon: boolean, wait: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const mutant = this.object(mutantId, KMutant);
    if (!mutant) return this.fail(unhandled(STATUS.INVALID_HANDLE, mutantId, thread.id), prcb);
    const previous = mutant.signalState;
    if (abandon) {
      mutant.signalState = 1;
      mutant.abandoned = true;
    } else {
      if (mutant.owner !== thread) return this.fail(unhandled(mutant.abandoned ? STATUS.ABANDONED : STATUS.MUTANT_NOT_OWNED, mutantId, thread.id), prcb);
      mutant.signalState++;
    }
    if (mutant.signalState === 1) {
      mutant.disown();
      if (mutant.waitList.length > 0) this.wake(mutant, increment, caller.cpu, effects);
    }
    return this.finishSignal(caller, prcb, thread, effects, previous, wait);
  }

  // ---------------------------------------------------------------------------------------------
  // Waits (§4.11, §4.13)
  // ---------------------------------------------------------------------------------------------

  /**
   * KeWaitForSingleObject / KeWaitForMultipleObjects. `timeout`: null for none (wait forever), 0 to
   * poll. Satisfied at once: the status. Not satisfiable with a zero timeout: STATUS_TIMEOUT.
   * Otherwise the thread blocks and the CPU switches to the next thread; the status reaches the
   * thread when it resumes. `callPc` is where the call restarts if a WaitAll waiter must re-test.
   */
  waitForObjects(caller: Caller, objectIds: readonly number[], waitType: number, waitReason: number, timeout: number | null, callPc: number): DispatchOutcome {
    // a wait broken to re-test keeps its relative timeout running from where it was (§4.11 step 7)
    const restarting = this.prcb(caller.cpu).currentThread.restartingWait;
    const { prcb, thread, effects } = this.enter(caller);
    if (thread.waitNext) {
      thread.waitNext = false;
      this.lockedBy = -1;
    }
    if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot wait`);
    // §4.11 step 2: a wait clears Preempted (a woken waiter is queued at the tail, not the head)
    thread.preempted = false;
    const objects: DispatcherObject[] = [];
    for (const id of objectIds) {
      const object = this.objects[id];
      if (!object) return this.fail(unhandled(STATUS.INVALID_HANDLE, id, thread.id), prcb);
      if (object instanceof KMutant && object.wouldOverflow(thread)) return this.fail(unhandled(STATUS.MUTANT_LIMIT_EXCEEDED, id, thread.id), prcb);
      objects.push(object);
    }
    thread.restartingWait = false;
    const satisfied = trySatisfy(thread, objects, waitType);
    if (satisfied >= 0) return this.exitDispatcher(caller, prcb, effects, satisfied);
    let due: DueTime | null = null;
    if (timeout !== null) {
      due = restarting && timeout < 0 ? this.remaining(thread, caller.timeNs) : this.computeDueTime(timeout, caller.timeNs);
      if (due.expired) return this.exitDispatcher(caller, prcb, effects, STATUS.TIMEOUT);
    }
    thread.waits++;
    linkWaitBlocks(thread, objects, waitType);
    thread.restartPc = callPc;
    thread.onTimeout = { action: ResumeAction.SetResult, value: STATUS.TIMEOUT };
    return this.block(caller, prcb, thread, effects, waitReason, due);
  }

  /**
   * Block the current thread (its wait blocks already linked, if any), arm its timer for `due`, and
   * switch this CPU to the next thread (KiSwapThread).
   */
  private block(caller: Caller, prcb: SchedulerPrcb, thread: KThread, effects: PlacementEffects, waitReason: number, due: DueTime | null): DispatchOutcome {
    if (due) {
      thread.timer.dueTime = due.due;
      thread.timer.absolute = due.absolute;
      thread.waitDueTime = due.due;
      this.timerTable.insert(thread.timer);
    }
    thread.setState(ThreadState.Waiting);
    thread.waitReason = waitReason;
    thread.waitIrql = caller.oldIrql;
    thread.resume = { action: ResumeAction.SetResult, value: 0 };
    this.scheduler.processDeferredReadyList(caller.cpu, effects);
    // placing the threads a signal-and-wait readied compared them with this (now waiting) thread
    thread.preempted = false;
    const next = this.scheduler.selectNextThread(prcb);
    return this.outcome(prcb, effects, 0, next);
  }

  /**
   * KeDelayExecutionThread (§4.12): block on the thread's timer alone; STATUS_SUCCESS when the
   * interval elapses. An interval already expired (zero, or an absolute time in the past) yields.
   */
  delayExecution(caller: Caller, interval: number, callPc: number): DispatchOutcome {
    const prcb = this.prcb(caller.cpu);
    const current = prcb.currentThread;
    if (current.waitNext) {
      current.waitNext = false;
      this.lockedBy = -1;
    }
    const restarting = current.restartingWait;
    current.restartingWait = false;
    const due = restarting && interval < 0 ? this.remaining(current, caller.timeNs) : this.computeDueTime(interval, caller.timeNs);
    if (due.expired && restarting) {
      // a restarted delay whose time ran out while it was away: done
      const { effects } = this.enter(caller);
      return this.exitDispatcher(caller, prcb, effects, STATUS.SUCCESS);
    }
    if (due.expired) {
      // a zero interval, or an absolute time already past: a yield (§4.12)
      const yielded = this.yieldExecution(caller);
      return { ...yielded, status: STATUS.SUCCESS };
    }
    const { effects, thread } = this.enter(caller);
    if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot delay`);
    thread.preempted = false;
    thread.waits++;
    thread.restartPc = callPc;
    thread.onTimeout = { action: ResumeAction.SetResult, value: STATUS.SUCCESS };
    return this.block(caller, prcb, thread, effects, WaitReason.DelayExecution, due);
  }

  /**
   * MmAccessFault on a non-resident pageable page below DISPATCH_LEVEL: the thread waits for the
   * simulated disk read (WaitReason PageIn); when its timer fires the page becomes resident on the
   * CPU that resumes the thread, and the faulting instruction runs again.
   */
  pageFault(caller: Caller, page: number, latencyNs: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot take a page fault`);
    thread.preempted = false;
    const ticks = Math.max(1, Math.ceil(latencyNs / this.clockIntervalNs));
    const due = { due: this.interruptTime(caller.timeNs) + ticks * this.timerTable.increment, absolute: false, expired: false };
    thread.onTimeout = { action: ResumeAction.PageIn, value: page };
    return this.block(caller, prcb, thread, effects, WaitReason.PageIn, due);
  }

  // ---------------------------------------------------------------------------------------------
  // Timers (§3.6, §3.7)
  // ---------------------------------------------------------------------------------------------

  private timer(id: number): KTimer | null {
    return this.object(id, KTimer);
  }

  /** KeInitializeTimer(Ex): notification (default) or synchronization; not signaled, not inserted. */
  initializeTimer(caller: Caller, timerId: number, synchronization: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const timer = this.timer(timerId);
    if (!timer) return this.fail(unhandled(STATUS.INVALID_HANDLE, timerId, thread.id), prcb);
    if (timer.inserted) this.timerTable.remove(timer);
    timer.setType(synchronization);
    timer.signalState = 0;
    timer.dpc = -1;
    timer.period = 0;
    return this.outcome(prcb, effects, 0, null);
  }

  /**
   * KeSetTimer / KeSetTimerEx: cancel the old due time (a DPC already queued stays queued), then
   * arm for `dueValue` (negative relative, positive absolute; zero or past: expire now). Returns
   * whether the timer was still set.
   */
  setTimer(caller: Caller, timerId: number, dueValue: number, periodMs: number, dpc: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const timer = this.timer(timerId);
    if (!timer) return this.fail(unhandled(STATUS.INVALID_HANDLE, timerId, thread.id), prcb);
    const wasInserted = timer.inserted;
    if (wasInserted) this.timerTable.remove(timer);
    timer.dpc = dpc;
    timer.period = Math.max(0, periodMs);
    const due = this.computeDueTime(dueValue, caller.timeNs);
    if (due.expired) {
      this.expireTimer(timer, caller, effects);
    } else {
      timer.signalState = 0;
      timer.dueTime = due.due;
      timer.absolute = due.absolute;
      this.timerTable.insert(timer);
    }
    return this.exitDispatcher(caller, prcb, effects, wasInserted ? 1 : 0);
  }

  /** KeCancelTimer: remove it if set; returns whether it was. Its signal state and a queued DPC are left alone. */
  cancelTimer(caller: Caller, timerId: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    const timer = this.timer(timerId);
    if (!timer) return this.fail(unhandled(STATUS.INVALID_HANDLE, timerId, thread.id), prcb);
    const wasInserted = timer.inserted;
    if (wasInserted) this.timerTable.remove(timer);
    return this.outcome(prcb, effects, wasInserted ? 1 : 0, null);
  }

  /**
   * One expiry: unlink, signal, release the waiters (all for a notification timer, one WaitAny
   * waiter for a synchronization timer; a thread's own timer ends its wait), re-arm a periodic
   * timer from now, then hand its DPC to the caller. Waiters are released before the DPC runs and
   * the re-arm happens before it too, so a DPC may cancel its own periodic timer.
   */
  private expireTimer(timer: KTimer, caller: Caller, effects: PlacementEffects): void {
    if (timer.inserted) this.timerTable.remove(timer);
    this.timersExpired++;
    if (timer.owner) {
      const owner = timer.owner as KThread;
      if (owner.state === ThreadState.Waiting) this.unwaitThread(owner, STATUS.TIMEOUT, 0, caller.cpu, effects);
      return;
    }
    timer.signalState = 1;
    if (timer.waitList.length > 0) this.wake(timer, 0, caller.cpu, effects);
    if (timer.period > 0) {
      timer.dueTime = this.interruptTime(caller.timeNs) + timer.period * PERIOD_UNIT;
      timer.absolute = false;
      this.timerTable.insert(timer);
    }
    if (timer.dpc >= 0) {
      effects.dpcs.push(timer.dpc);
      effects.systemTime = this.systemTime(caller.timeNs);
    }
  }

  /**
   * KiTimerExpiration, run by the clock-owner CPU at DISPATCH_LEVEL when the clock set TimerRequest:
   * expire the due timers bucket by bucket from TimerHand up to now's, at most `batch` per call
   * (NT drops the dispatcher lock every 4 to call the DPCs). Returns status 1 when nothing due is
   * left, 0 when the caller should call again after running the DPCs.
   */
  expireTimers(caller: Caller, batch = 4): DispatchOutcome {
    const { prcb, effects } = this.enter(caller);
    const now = this.interruptTime(caller.timeNs);
    const limitTick = Math.floor(now / this.timerTable.increment);
    let expired = 0;
    let found = this.timerTable.nextExpired(now, this.timerTick, limitTick);
    while (found && expired < batch) {
      this.timerTick = found.tick;
      this.expireTimer(found.timer, caller, effects);
      expired++;
      found = this.timerTable.nextExpired(now, this.timerTick, limitTick);
    }
    if (!found) this.timerTick = limitTick;
    return this.exitDispatcher(caller, prcb, effects, found ? 0 : 1);
  }

  /**
   * KeSetSystemTime (§3.8): system time moves by delta; every absolute timer moves with it (those
   * now due expire at the next expiration pass); relative timers and interrupt time do not.
   * Returns the change in 100 ns units (low 32 bits).
   */
  setSystemTime(caller: Caller, newSystemTime: number): DispatchOutcome {
    const { prcb, effects } = this.enter(caller);
    const delta = newSystemTime - this.systemTime(caller.timeNs);
    this.systemTimeBias += delta;
    const now = this.interruptTime(caller.timeNs);
    for (const timer of this.timerTable.all()) {
      if (!timer.absolute) continue;
      this.timerTable.remove(timer);
      timer.dueTime = Math.max(now, timer.dueTime - delta);
      this.timerTable.insert(timer);
    }
    return this.outcome(prcb, effects, delta | 0, null);
  }

  /**
   * Who this CPU would switch to if its current thread blocked now, without changing anything: the
   * "new thread" of the 0xB8 a DPC routine gets for trying to wait (§4.13).
   */
  peekNextThread(cpu: number): KThread {
    const prcb = this.prcb(cpu);
    if (prcb.nextThread) return prcb.nextThread;
    const priority = this.scheduler.highestReadyPriority(prcb);
    if (priority >= 0) return prcb.readyLists[priority]![0]!;
    return prcb.idleThread;
  }

  // ---------------------------------------------------------------------------------------------
  // Switching: the DISPATCH interrupt, quantum end, yield, termination (§4.4, §4.6)
  // ---------------------------------------------------------------------------------------------

  /**
   * KiDispatchInterrupt after the DPCs (and the idle loop): KiQuantumEnd if the quantum ran out,
   * then a switch to NextThread if there is one. The old thread goes back on a ready list: at the
   * head if it was preempted, at the tail if its quantum ended.
   */
  dispatch(caller: Caller, quantumEnd: boolean): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    let reason: number = WaitReason.WrDispatchInt;
    if (quantumEnd && !thread.isIdle) {
      reason = WaitReason.WrQuantumEnd;
      if (thread.quantum <= 0) {
        thread.quantum = thread.quantumReset;
        thread.priority = thread.computeNewPriority(1);
        if (!prcb.nextThread) {
          const next = this.scheduler.selectReadyThread(prcb, thread.priority);
          if (next) {
            next.setState(ThreadState.Standby);
            prcb.nextThread = next;
          }
        } else {
          thread.preempted = false;
        }
      }
    }
    if (!prcb.nextThread) return this.outcome(prcb, effects, 0, null);
    if (!thread.isIdle) {
      thread.waitIrql = caller.oldIrql;
      thread.waitReason = reason;
      thread.resume = { action: ResumeAction.None, value: 0 };
      this.scheduler.queueReadyThread(thread, prcb, effects);
    }
    const next = this.scheduler.takeNextThread(prcb);
    return this.outcome(prcb, effects, 0, next);
  }

  /**
   * NtYieldExecution (§4.4): if another thread of priority ≥ 1 is ready here, reset the quantum,
   * decay the priority and switch, the yielder going to the tail; else STATUS_NO_YIELD_PERFORMED.
   */
  yieldExecution(caller: Caller): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    if (prcb.readySummary === 0 || thread.isIdle) return this.outcome(prcb, effects, STATUS.NO_YIELD_PERFORMED, null);
    if (!prcb.nextThread) {
      const next = this.scheduler.selectReadyThread(prcb, 1);
      if (next) {
        next.setState(ThreadState.Standby);
        prcb.nextThread = next;
      }
    }
    if (!prcb.nextThread) return this.outcome(prcb, effects, STATUS.NO_YIELD_PERFORMED, null);
    thread.quantum = thread.quantumReset;
    thread.priority = thread.computeNewPriority(1);
    thread.preempted = false;
    thread.waitIrql = caller.oldIrql;
    thread.waitReason = WaitReason.WrYieldExecution;
    thread.resume = { action: ResumeAction.SetResult, value: STATUS.SUCCESS };
    this.scheduler.queueReadyThread(thread, prcb, effects);
    const next = this.scheduler.takeNextThread(prcb);
    return this.outcome(prcb, effects, STATUS.SUCCESS, next);
  }

  /**
   * The current thread ends (its body returned, or PsTerminateSystemThread): mutants it owns are
   * abandoned (owning a KMUTEX is 0x46 THREAD_TERMINATE_HELD_MUTEX), the thread object is signaled,
   * and the CPU switches to the next thread.
   */
  terminateThread(caller: Caller, exitStatus: number): DispatchOutcome {
    const { prcb, thread, effects } = this.enter(caller);
    if (thread.isIdle) throw new DispatcherInvariantError(`the idle thread of CPU ${caller.cpu} cannot terminate`);
    const heldMutex = thread.ownedMutants.find((m) => m instanceof KMutant && m.apcDisable !== 0);
    if (heldMutex) {
      return this.fail({ code: BUGCHECK.THREAD_TERMINATE_HELD_MUTEX, params: [thread.id, heldMutex.id, 0, 0] }, prcb);
    }
    for (const owned of [...thread.ownedMutants]) {
      const mutant = owned as KMutant;
      mutant.signalState = 1;
      mutant.abandoned = true;
      mutant.disown();
      if (mutant.waitList.length > 0) this.wake(mutant, 0, caller.cpu, effects);
    }
    thread.exitStatus = exitStatus;
    thread.setState(ThreadState.Terminated);
    thread.signalState = 1;
    if (thread.waitList.length > 0) this.wake(thread, 0, caller.cpu, effects);
    this.scheduler.processDeferredReadyList(caller.cpu, effects);
    const next = this.scheduler.selectNextThread(prcb);
    return this.outcome(prcb, effects, 0, next);
  }

  // ---------------------------------------------------------------------------------------------
  // Threads: start, priority
  // ---------------------------------------------------------------------------------------------

  /** PsCreateSystemThread on a declared thread that has not started: it is readied with `startContext` in r1. */
  startThread(caller: Caller, threadId: number, startContext: number): DispatchOutcome {
    const { prcb, thread: current, effects } = this.enter(caller);
    const thread = this.thread(threadId);
    if (!thread || thread.isIdle) return this.fail(unhandled(STATUS.INVALID_HANDLE, threadId, current.id), prcb);
    if (thread.state !== ThreadState.Initialized) return this.exitDispatcher(caller, prcb, effects, STATUS.INVALID_PARAMETER);
    thread.resume = { action: ResumeAction.StartContext, value: startContext };
    this.scheduler.readyThread(thread, caller.cpu, effects);
    return this.exitDispatcher(caller, prcb, effects, STATUS.SUCCESS);
  }

  /** KeQueryPriorityThread */
  queryPriority(caller: Caller, threadId: number): DispatchOutcome {
    const { prcb, thread: current, effects } = this.enter(caller);
    const thread = this.thread(threadId);
    if (!thread) return this.fail(unhandled(STATUS.INVALID_HANDLE, threadId, current.id), prcb);
    return this.outcome(prcb, effects, thread.priority, null);
  }

  /**
   * KeSetPriorityThread / KiSetPriorityThread: returns the old priority. A Ready thread is placed
   * again at its new priority; a running or standby thread lowered below a ready thread of its CPU
   * gives way to it; a raised one may preempt.
   */
  setPriority(caller: Caller, threadId: number, priority: number): DispatchOutcome {
    const { prcb, thread: current, effects } = this.enter(caller);
    const thread = this.thread(threadId);
    if (!thread || thread.isIdle || thread.state === ThreadState.Terminated) return this.fail(unhandled(STATUS.INVALID_HANDLE, threadId, current.id), prcb);
    if (!(priority >= 1 && priority <= 31)) return this.fail(unhandled(STATUS.INVALID_PARAMETER, threadId, current.id), prcb);
    const old = thread.priority;
    thread.priorityDecrement = 0;
    if (priority !== old) {
      thread.quantum = thread.quantumReset;
      this.setPriorityInternal(thread, priority, caller.cpu, effects);
    }
    return this.exitDispatcher(caller, prcb, effects, old);
  }

  private setPriorityInternal(thread: KThread, priority: number, currentCpu: number, effects: PlacementEffects): void {
    const old = thread.priority;
    switch (thread.state) {
      case ThreadState.Ready:
        this.scheduler.removeReady(thread);
        thread.priority = priority;
        thread.setState(ThreadState.DeferredReady);
        this.scheduler.deferredReadyThread(thread, currentCpu, effects);
        return;
      case ThreadState.Standby: {
        thread.priority = priority;
        const prcb = this.prcb(thread.nextProcessor);
        if (priority < old && this.scheduler.highestReadyPriority(prcb) > priority) {
          const better = this.scheduler.selectReadyThread(prcb, priority + 1)!;
          better.setState(ThreadState.Standby);
          prcb.nextThread = better;
          thread.setState(ThreadState.DeferredReady);
          this.scheduler.deferredReadyThread(thread, currentCpu, effects);
        }
        return;
      }
      case ThreadState.Running: {
        thread.priority = priority;
        const prcb = this.prcb(thread.nextProcessor);
        if (priority < old && !prcb.nextThread) {
          const better = this.scheduler.selectReadyThread(prcb, priority + 1);
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

  /** A thread's real-time class (priorities 16–31 never get boosts or decay). */
  static isRealTime(priority: number): boolean {
    return priority >= LOW_REALTIME_PRIORITY;
  }
}
