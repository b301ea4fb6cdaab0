/**
 * KTIMER and the timer table (nt-semantics.md §3.2–3.4, §3.6): a dispatcher object with a due time
 * in interrupt time (100 ns units), an optional period in milliseconds and an optional DPC, kept in
 * one global table of TIMER_TABLE_SIZE buckets hashed by the tick it is due in; each bucket is
 * sorted by due time with FIFO order among equal ones. Every thread owns one KTIMER for its wait
 * timeouts (Thread->Timer).
 *
 * Owned by the dispatcher database (src/kernel/dispatcher.ts), in the coordinator: the coordinator
 * is the timer hardware and asks the clock-owner CPU to run the expiration (KiTimerExpiration) at
 * DISPATCH_LEVEL when the table says a timer is due. Pure.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { WaiterThread } from './dispatcher-object.js';

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
