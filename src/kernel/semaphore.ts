/**
 * KSEMAPHORE (nt-semantics.md §4.10): a count between 0 and Limit. A wait is satisfied while the
 * count is positive and takes one; KeReleaseSemaphore adds its adjustment and raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED past the limit. Its operation runs under the dispatcher lock
 * (src/kernel/dispatcher-lock.ts), which owns every dispatcher object.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import { STATUS } from './status.js';

export class KSemaphore extends DispatcherObject {
  readonly limit: number;

  constructor(id: number, name: string, count: number, limit: number) {
    super(id, name, ObjectType.Semaphore, count);
    this.limit = limit;
  }

  get kind(): string {
    return 'semaphore';
  }

  isSatisfiableBy(): boolean {
    return this.signalState > 0;
  }

  satisfy(): number {
    this.signalState--;
    return 0;
  }

  /** Whether adding `adjustment` stays within the limit (and within a LONG). */
  canRelease(adjustment: number): boolean {
    const next = this.signalState + adjustment;
    return adjustment > 0 && next <= this.limit && next <= 0x7fffffff;
  }
}

/** KeReleaseSemaphore: returns the previous count; past the limit it raises STATUS_SEMAPHORE_LIMIT_EXCEEDED. */
export function releaseSemaphore(
  lock: DispatcherLock,
  caller: Caller,
  semaphoreId: number,
  increment: number,
  adjustment: number,
  wait: boolean,
): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const semaphore = lock.object(semaphoreId, KSemaphore);
  if (!semaphore) return lock.raise(prcb, STATUS.INVALID_HANDLE, semaphoreId, thread.id);
  const previous = semaphore.signalState;
  if (!semaphore.canRelease(adjustment)) return lock.raise(prcb, STATUS.SEMAPHORE_LIMIT_EXCEEDED, semaphoreId, thread.id);
  semaphore.signalState = previous + adjustment;
  if (previous === 0 && semaphore.waitList.length > 0) lock.wake(semaphore, increment, caller.cpu, effects);
  return lock.finishSignal(caller, prcb, thread, effects, previous, wait);
}
