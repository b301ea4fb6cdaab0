/**
 * KTIMER and the timer table (nt-semantics.md §3.2–3.4, §3.6): a dispatcher object with a due time
 * in interrupt time (100 ns units), an optional period in milliseconds and an optional DPC, kept in
 * one global table of TIMER_TABLE_SIZE buckets hashed by the tick it is due in; each bucket is
 * sorted by due time with FIFO order among equal ones. Every thread owns one KTIMER for its wait
 * timeouts (Thread->Timer).
 *
 * The timer operations (KeInitializeTimer, KeSetTimer(Ex), KeCancelTimer, KiTimerExpiration,
 * KeSetSystemTime) and KiComputeDueTime are here too, as functions run under the dispatcher lock
 * (src/kernel/dispatcher-lock.ts), in the coordinator: the coordinator is the timer hardware and
 * asks the clock-owner CPU to run the expiration at DISPATCH_LEVEL when the table says a timer is
 * due. Pure.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { WaiterThread } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import type { PlacementEffects } from './scheduler.js';
import type { KThread } from './thread.js';
import { STATUS } from './status.js';

export const TIMER_TABLE_SIZE = 512;

/** System time (100 ns since 1601-01-01) at boot: 2025-01-01T00:00:00Z, fixed so runs replay. */
export const BOOT_SYSTEM_TIME = (Date.UTC(2025, 0, 1) + 11_644_473_600_000) * 10_000;

export class KTimer extends DispatcherObject {
  /** interrupt time (100 ns) at which it expires, while inserted */
  dueTime = 0;
  /** milliseconds; 0: one-shot */
  period = 0;
  /** the KDPC (id) to queue at expiry, or −1 */
  dpc = -1;
  inserted = false;
  /** set with an absolute (system) time: moved when the system time is set */
  absolute = false;
  hand = 0;
  /** the thread whose wait timeout this is (Thread->Timer), or null for a timer object */
  readonly owner: WaiterThread | null;

  constructor(id: number, name: string, synchronization: boolean, owner: WaiterThread | null = null) {
    super(id, name, synchronization ? ObjectType.TimerSynchronization : ObjectType.TimerNotification, 0);
    this.owner = owner;
  }

  get synchronization(): boolean {
    return this.type === ObjectType.TimerSynchronization;
  }

  setType(synchronization: boolean): void {
    this.type = synchronization ? ObjectType.TimerSynchronization : ObjectType.TimerNotification;
  }

  get kind(): string {
    return this.synchronization ? 'synchronization timer' : 'notification timer';
  }

  isSatisfiableBy(): boolean {
    return this.signalState > 0;
  }

  /** A synchronization timer is reset by the wait it satisfies; a notification timer stays signaled. */
  satisfy(): number {
    if (this.synchronization) this.signalState = 0;
    return 0;
  }
}

/**
 * The timer table. Insertion walks a bucket from the tail back to after the last timer due no
 * later (ascending, FIFO among equals). `nextDueTime()` is what the timer hardware programs its next
 * interrupt for (so idle ticks can be skipped).
 */
export class TimerTable {
  /** KeMaximumIncrement: interrupt time per full tick, 100 ns units */
  readonly increment: number;
  readonly buckets: KTimer[][] = Array.from({ length: TIMER_TABLE_SIZE }, () => []);
  private count = 0;
  private cachedNextDue = Infinity;
  private cacheValid = true;

  constructor(increment: number) {
    this.increment = increment;
  }

  handOf(dueTime: number): number {
    return Math.floor(dueTime / this.increment) & (TIMER_TABLE_SIZE - 1);
  }

  get size(): number {
    return this.count;
  }

  insert(timer: KTimer): void {
    const hand = this.handOf(timer.dueTime);
    const bucket = this.buckets[hand]!;
    let at = bucket.length;
    while (at > 0 && bucket[at - 1]!.dueTime > timer.dueTime) at--;
    bucket.splice(at, 0, timer);
    timer.hand = hand;
    timer.inserted = true;
    this.count++;
    if (timer.dueTime < this.cachedNextDue) this.cachedNextDue = timer.dueTime;
  }

  remove(timer: KTimer): void {
    const bucket = this.buckets[timer.hand]!;
    const index = bucket.indexOf(timer);
    if (index >= 0) {
      bucket.splice(index, 1);
      this.count--;
    }
    timer.inserted = false;
    if (timer.dueTime <= this.cachedNextDue) this.cacheValid = false;
  }

  /** The earliest due time of any inserted timer, or Infinity. */
  nextDueTime(): number {
    if (!this.cacheValid) {
      let next = Infinity;
      for (const bucket of this.buckets) if (bucket.length > 0 && bucket[0]!.dueTime < next) next = bucket[0]!.dueTime;
      this.cachedNextDue = next;
      this.cacheValid = true;
    }
    return this.count === 0 ? Infinity : this.cachedNextDue;
  }

  /**
   * The next timer due at or before `now`, scanning the buckets of ticks `fromTick` … `toTick`
   * (absolute tick numbers) in order: the walk KiTimerExpiration makes. When more than a table's
   * worth of ticks went by, every bucket is scanned once (from fromTick's). Returns the timer and
   * the tick whose bucket held it, or null when none is due.
   */
  nextExpired(now: number, fromTick: number, toTick: number): { timer: KTimer; tick: number } | null {
    const span = Math.min(toTick - fromTick + 1, TIMER_TABLE_SIZE);
    for (let k = 0; k < span; k++) {
      const head = this.buckets[(fromTick + k) & (TIMER_TABLE_SIZE - 1)]![0];
      if (head && head.dueTime <= now) return { timer: head, tick: fromTick + k };
    }
    return null;
  }

  /** Every inserted timer, in no particular order (for KeSetSystemTime's absolute-timer pass). */
  all(): KTimer[] {
    return this.buckets.flat();
  }
}

/** 1 ms in interrupt-time units (100 ns): a timer's Period is in milliseconds. */
const PERIOD_UNIT = 10_000;

/** A due time as KiComputeDueTime computes it. */
export interface DueTime {
  /** interrupt time (100 ns) */
  due: number;
  absolute: boolean;
  /** already in the past (an absolute time ≤ now, or zero) */
  expired: boolean;
}

/** KiComputeDueTime: negative = relative to now, positive or zero = absolute system time. */
export function computeDueTime(lock: DispatcherLock, value: number, nowNs: number): DueTime {
  const interruptNow = lock.interruptTime(nowNs);
  if (value < 0) return { due: interruptNow - value, absolute: false, expired: false };
  const systemNow = lock.systemTime(nowNs);
  if (systemNow - value >= 0) return { due: interruptNow, absolute: true, expired: true };
  return { due: interruptNow + (value - systemNow), absolute: true, expired: false };
}

/** A restarted wait's relative timeout (§4.11 step 7): what is left of the one it started with. */
export function remainingDueTime(lock: DispatcherLock, thread: KThread, nowNs: number): DueTime {
  return { due: thread.waitDueTime, absolute: false, expired: thread.waitDueTime <= lock.interruptTime(nowNs) };
}

/** The emulated ns of the tick at which the earliest inserted timer expires, or Infinity. */
export function nextTimerTickNs(lock: DispatcherLock): number {
  const due = lock.timerTable.nextDueTime();
  if (!Number.isFinite(due)) return Infinity;
  return Math.ceil(due / lock.timerTable.increment) * lock.clockIntervalNs;
}

/** Whether a timer is due at the tick of emulated time `nowNs` (the clock ISR's TimerRequest test). */
export function timerDue(lock: DispatcherLock, nowNs: number): boolean {
  return lock.timerTable.nextDueTime() <= lock.interruptTime(nowNs);
}

/** KeInitializeTimer(Ex): notification (default) or synchronization; not signaled, not inserted. */
export function initializeTimer(lock: DispatcherLock, caller: Caller, timerId: number, synchronization: boolean): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const timer = lock.object(timerId, KTimer);
  if (!timer) return lock.raise(prcb, STATUS.INVALID_HANDLE, timerId, thread.id);
  if (timer.inserted) lock.timerTable.remove(timer);
  timer.setType(synchronization);
  timer.signalState = 0;
  timer.dpc = -1;
  timer.period = 0;
  return lock.outcome(prcb, effects, 0, null);
}

/**
 * KeSetTimer / KeSetTimerEx: cancel the old due time (a DPC already queued stays queued), then
 * arm for `dueValue` (negative relative, positive absolute; zero or past: expire now). Returns
 * whether the timer was still set.
 */
export function setTimer(lock: DispatcherLock, caller: Caller, timerId: number, dueValue: number, periodMs: number, dpc: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const timer = lock.object(timerId, KTimer);
  if (!timer) return lock.raise(prcb, STATUS.INVALID_HANDLE, timerId, thread.id);
  const wasInserted = timer.inserted;
  if (wasInserted) lock.timerTable.remove(timer);
  timer.dpc = dpc;
  timer.period = Math.max(0, periodMs);
  const due = computeDueTime(lock, dueValue, caller.timeNs);
  if (due.expired) {
    expireTimer(lock, timer, caller, effects);
  } else {
    timer.signalState = 0;
    timer.dueTime = due.due;
    timer.absolute = due.absolute;
    lock.timerTable.insert(timer);
  }
  return lock.exitDispatcher(caller, prcb, effects, wasInserted ? 1 : 0);
}

/** KeCancelTimer: remove it if set; returns whether it was. Its signal state and a queued DPC are left alone. */
export function cancelTimer(lock: DispatcherLock, caller: Caller, timerId: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const timer = lock.object(timerId, KTimer);
  if (!timer) return lock.raise(prcb, STATUS.INVALID_HANDLE, timerId, thread.id);
  const wasInserted = timer.inserted;
  if (wasInserted) lock.timerTable.remove(timer);
  return lock.outcome(prcb, effects, wasInserted ? 1 : 0, null);
}

/**
 * One expiry: unlink, signal, release the waiters (all for a notification timer, one WaitAny
 * waiter for a synchronization timer; a thread's own timer ends its wait), re-arm a periodic
 * timer from now, then hand its DPC to the caller. Waiters are released before the DPC runs and
 * the re-arm happens before it too, so a DPC may cancel its own periodic timer.
 */
function expireTimer(lock: DispatcherLock, timer: KTimer, caller: Caller, effects: PlacementEffects): void {
  if (timer.inserted) lock.timerTable.remove(timer);
  lock.timersExpired++;
  if (timer.owner) {
    lock.timeOutWait(timer.owner as KThread, caller.cpu, effects);
    return;
  }
  timer.signalState = 1;
  if (timer.waitList.length > 0) lock.wake(timer, 0, caller.cpu, effects);
  if (timer.period > 0) {
    timer.dueTime = lock.interruptTime(caller.timeNs) + timer.period * PERIOD_UNIT;
    timer.absolute = false;
    lock.timerTable.insert(timer);
  }
  if (timer.dpc >= 0) {
    effects.dpcs.push(timer.dpc);
    effects.systemTime = lock.systemTime(caller.timeNs);
  }
}

/**
 * KiTimerExpiration, run by the clock-owner CPU at DISPATCH_LEVEL when the clock set TimerRequest:
 * expire the due timers bucket by bucket from TimerHand up to now's, at most `batch` per call
 * (NT drops the dispatcher lock every 4 to call the DPCs). Returns status 1 when nothing due is
 * left, 0 when the caller should call again after running the DPCs.
 */
export function expireTimers(lock: DispatcherLock, caller: Caller, batch = 4): DispatchOutcome {
  const { prcb, effects } = lock.enter(caller);
  const now = lock.interruptTime(caller.timeNs);
  const limitTick = Math.floor(now / lock.timerTable.increment);
  let expired = 0;
  let found = lock.timerTable.nextExpired(now, lock.timerTick, limitTick);
  while (found && expired < batch) {
    lock.timerTick = found.tick;
    expireTimer(lock, found.timer, caller, effects);
    expired++;
    found = lock.timerTable.nextExpired(now, lock.timerTick, limitTick);
  }
  if (!found) lock.timerTick = limitTick;
  return lock.exitDispatcher(caller, prcb, effects, found ? 0 : 1);
}

/**
 * KeSetSystemTime (§3.8): system time moves by delta; every absolute timer moves with it (those
 * now due expire at the next expiration pass); relative timers and interrupt time do not.
 * Returns the change in 100 ns units (low 32 bits).
 */
export function setSystemTime(lock: DispatcherLock, caller: Caller, newSystemTime: number): DispatchOutcome {
  const { prcb, effects } = lock.enter(caller);
  const delta = newSystemTime - lock.systemTime(caller.timeNs);
  lock.systemTimeBias += delta;
  const now = lock.interruptTime(caller.timeNs);
  for (const timer of lock.timerTable.all()) {
    if (!timer.absolute) continue;
    lock.timerTable.remove(timer);
    timer.dueTime = Math.max(now, timer.dueTime - delta);
    lock.timerTable.insert(timer);
  }
  return lock.outcome(prcb, effects, delta | 0, null);
}
