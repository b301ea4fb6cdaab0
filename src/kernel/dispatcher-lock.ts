/**
 * The dispatcher lock (KiDispatcherLock, nt-semantics.md §4.7) and the database it guards: every
 * KTHREAD, every dispatcher object with its wait list, the scheduler's per-CPU ready lists, the
 * timer table and system time. A `DispatcherLock` is what a dispatcher operation holds while it
 * runs; the operations themselves live next to their objects (event.ts, semaphore.ts, mutant.ts,
 * timer.ts, thread.ts, scheduler.ts, wait-block.ts) as functions over `(lock, caller, …)`, and a new
 * object (an APC, a KQUEUE, an IRP) is a new module of such functions.
 *
 * This module holds what every operation shares: entering (KiAcquireDispatcherLock, checking who
 * calls), the outcome a CPU gets back, KiUnwaitThread and KiWaitTest, and KiExitDispatcher.
 *
 * The coordinator's one-request-at-a-time loop *is* the lock: only code it runs touches these
 * objects. Pure: no Node, no transport, no shared memory.
 */

import { KThread, ThreadState, ResumeAction, DispatcherInvariantError, threadStateName } from './thread.js';
import type { ThreadInit } from './thread.js';
import { KEvent } from './event.js';
import { KSemaphore } from './semaphore.js';
import { KMutant } from './mutant.js';
import type { DispatcherObject } from './dispatcher-object.js';
import { Scheduler, newEffects } from './scheduler.js';
import type { PlacementEffects, SchedulerPrcb } from './scheduler.js';
import { unlinkWaitBlocks, waitTest } from './wait-block.js';
import { KTimer, TimerTable } from './timer.js';
import { BUGCHECK } from './bugcheck.js';
import { STATUS, WaitReason } from './status.js';
import { DISPATCH_LEVEL } from './irql.js';
import { KApc } from './apc-state.js';
import type { ApcObjectConfig } from './apc-state.js';
import { IoManager } from './io.js';
import type { DeviceObjectConfig, DriverObjectConfig } from './io.js';

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
  /** the scenario's KAPCs, by id (absent: none declared) */
  apcs?: readonly ApcObjectConfig[];
  /** the scenario's drivers, device objects and IRP zone size (absent: none declared) */
  drivers?: readonly DriverObjectConfig[];
  deviceObjects?: readonly DeviceObjectConfig[];
  irpZoneRecords?: number;
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
  /** other CPUs to send IPI(APC): a kernel APC was queued to the thread running there (APC operations only) */
  apcInterruptCpus?: number[];
  /** request an APC software interrupt on the caller's CPU (a kernel APC queued to its own thread) */
  apcInterruptSelf?: boolean;
  /** an operation's extra answer words (KiTakeApc: the APC's call fields) */
  payload?: number[];
}

/** What an operation holds once it has entered: the caller's PRCB, its current thread, and the placements it makes. */
export interface Entered {
  prcb: SchedulerPrcb;
  thread: KThread;
  effects: PlacementEffects;
}

export class DispatcherLock {
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
  timerTick = 0;
  readonly clockIntervalNs: number;
  readonly bootSystemTime: number;
  /** KeSetSystemTime moves system time by this much against interrupt time */
  systemTimeBias = 0;
  /** the scenario's KAPCs by id, and their declarations (KeInitializeApc re-reads the routines) */
  readonly apcs: KApc[];
  readonly apcConfigs: readonly ApcObjectConfig[];
  /** waits ended so far (KiUnwaitThread): each wake's serial, for the latency report and the timeline's wake arrows */
  wakeSerials = 0;
  /** the emulated ns of the operation in progress (its caller's time): when the threads it wakes become Ready */
  private operationTimeNs = 0;
  /** the I/O database: drivers, device and file objects, the IRPs alive (src/kernel/io.ts) */
  readonly io: IoManager;
  /** KAPCs NtQueueApcThread has allocated so far (src/kernel/apc-operations.ts) */
  queuedUserApcs = 0;

  constructor(config: DispatcherConfig) {
    this.cpus = config.cpus;
    this.clockIntervalNs = config.clockIntervalNs;
    this.bootSystemTime = config.bootSystemTime;
    this.apcConfigs = config.apcs ?? [];
    this.apcs = this.apcConfigs.map((apc) => KApc.fromConfig(apc));
    this.io = new IoManager(config.drivers ?? [], config.deviceObjects ?? [], this.apcConfigs.length, config.irpZoneRecords ?? 0);
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
    const objects: DispatcherObject[] = [
      ...config.events.map((e) => new KEvent(e.id, e.name, e.synchronization, e.signaled)),
      ...config.semaphores.map((s) => new KSemaphore(s.id, s.name, s.count, s.limit)),
      ...config.mutexes.map((m) => new KMutant(m.id, m.name, m.kernelMutex)),
      ...config.timers.map((t) => new KTimer(t.id, t.name, t.synchronization)),
    ];
    // by id: the file objects' events come after every declared object, timers included
    for (const object of objects.sort((a, b) => a.id - b.id)) this.register(object);
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

  /** The object with this id if it is of this kind, else null (an invalid handle). */
  object<T extends DispatcherObject>(id: number, kind: abstract new (...args: never[]) => T): T | null {
    const object = this.objects[id];
    return object instanceof kind ? object : null;
  }

  prcb(cpu: number): SchedulerPrcb {
    return this.scheduler.prcbs[cpu]!;
  }

  /** Interrupt time (100 ns) at emulated `nowNs`: it advances a clock increment at each tick. */
  interruptTime(nowNs: number): number {
    return Math.floor(nowNs / this.clockIntervalNs) * this.timerTable.increment;
  }

  /** System time (100 ns since 1601) at emulated `nowNs`. */
  systemTime(nowNs: number): number {
    return this.bootSystemTime + this.interruptTime(nowNs) + this.systemTimeBias;
  }

  // ---------------------------------------------------------------------------------------------
  // Entry and exit
  // ---------------------------------------------------------------------------------------------

  /** Take the lock for `caller`: check that the CPU runs the thread the database says, and take its charged quantum. */
  enter(caller: Caller): Entered {
    const prcb = this.prcb(caller.cpu);
    const thread = prcb.currentThread;
    if (thread.id !== caller.thread) {
      throw new DispatcherInvariantError(
        `CPU ${caller.cpu} says it runs thread #${caller.thread}, the dispatcher has ${thread.name} (#${thread.id}) current there`,
      );
    }
    if (!thread.isIdle) thread.quantum = caller.quantum;
    this.operationTimeNs = caller.timeNs;
    return { prcb, thread, effects: newEffects() };
  }

  /** Leave without KiExitDispatcher: return `status`, switching to `switchTo` if the operation chose a thread. */
  outcome(prcb: SchedulerPrcb, effects: PlacementEffects, status: number, switchTo: KThread | null, requestDispatch = false): DispatchOutcome {
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

  fail(bugcheck: DispatchBugcheck, prcb: SchedulerPrcb): DispatchOutcome {
    return { status: 0, switchTo: null, requestDispatch: false, ipiTargets: [], quantum: prcb.currentThread.quantum, bugcheck, dpcs: [], systemTime: 0 };
  }

  /** An exception raised inside the operation: unhandled in kernel mode, it is 0x1E with the status as P1. */
  raise(prcb: SchedulerPrcb, status: number, objectId: number, threadId: number): DispatchOutcome {
    return this.fail({ code: BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, params: [status >>> 0, 0, objectId, threadId] }, prcb);
  }

  /**
   * KiExitDispatcher (§4.7): place the threads readied on this CPU's behalf; then, if this CPU now
   * has a NextThread, switch at once when the caller ran below DISPATCH_LEVEL (the caller is
   * preempted inside the call and gets `status` when it resumes), or have it request a DISPATCH
   * interrupt otherwise.
   */
  exitDispatcher(caller: Caller, prcb: SchedulerPrcb, effects: PlacementEffects, status: number): DispatchOutcome {
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

  /** Finish a set/release: with Wait = TRUE the caller keeps the dispatcher lock for the wait that must follow. */
  finishSignal(caller: Caller, prcb: SchedulerPrcb, thread: KThread, effects: PlacementEffects, status: number, wait: boolean): DispatchOutcome {
    if (wait && !thread.isIdle) {
      thread.waitNext = true;
      thread.waitIrql = caller.oldIrql;
      this.lockedBy = caller.cpu;
      return this.outcome(prcb, effects, status, null);
    }
    return this.exitDispatcher(caller, prcb, effects, status);
  }

  /** The wait that follows a set/release with Wait = TRUE releases the lock that call kept. */
  releaseKeptLock(thread: KThread): void {
    if (thread.waitNext) {
      thread.waitNext = false;
      this.lockedBy = -1;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Releasing waiters (§4.11)
  // ---------------------------------------------------------------------------------------------

  /** KiUnwaitThread: release a waiting thread with `status` and ready it on the current CPU's behalf. */
  unwaitThread(thread: KThread, status: number, increment: number, cpu: number, effects: PlacementEffects): void {
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
    thread.readiedAtNs = this.operationTimeNs;
    thread.wakeSerial = ++this.wakeSerials;
    this.scheduler.readyThread(thread, cpu, effects);
  }

  /** A thread's own timer (Thread->Timer) expired: its wait, if it still waits, ends with STATUS_TIMEOUT. */
  timeOutWait(thread: KThread, cpu: number, effects: PlacementEffects): void {
    if (thread.state === ThreadState.Waiting) this.unwaitThread(thread, STATUS.TIMEOUT, 0, cpu, effects);
  }

  /** KiWaitTest on an object that just became signaled: release its waiters with `increment`. */
  wake(object: DispatcherObject, increment: number, cpu: number, effects: PlacementEffects): void {
    waitTest(object, (thread, status) => this.unwaitThread(thread, status, increment, cpu, effects));
  }
}
