/**
 * KSEMAPHORE (nt-semantics.md §4.10): a count between 0 and Limit. A wait is satisfied while the
 * count is positive and takes one; KeReleaseSemaphore adds its adjustment and raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED past the limit. Owned by the dispatcher database
 * (src/kernel/dispatcher.ts).
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';

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
