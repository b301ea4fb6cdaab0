/**
 * KMUTANT (nt-semantics.md §4.10): a mutex with an owner thread, recursion and abandonment.
 * SignalState 1 means free; each acquisition decrements it, so a recursively held mutant is ≤ 0.
 * A KMUTEX (KeInitializeMutex) is a mutant whose holder is in a critical region (ApcDisable = 1)
 * and whose owner may not terminate while holding it (0x46); a mutant of the user-mode kind
 * (ApcDisable = 0) is abandoned instead. Its release runs under the dispatcher lock
 * (src/kernel/dispatcher-lock.ts), which owns every dispatcher object; abandonment at thread exit
 * is in thread.ts (terminateThread).
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { WaiterThread } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import { STATUS } from './status.js';

/** SignalState at which one more recursive acquisition would overflow (MINLONG). */
export const MUTANT_MINIMUM_STATE = -0x80000000;

export class KMutant extends DispatcherObject {
  owner: WaiterThread | null = null;
  abandoned = false;
  /** 1 for a KMUTEX (holding it is a critical region), 0 for a mutant */
  readonly apcDisable: number;

  constructor(id: number, name: string, kernelMutex: boolean) {
    super(id, name, ObjectType.Mutant, 1);
    this.apcDisable = kernelMutex ? 1 : 0;
  }

  get kind(): string {
    return this.apcDisable ? 'mutex' : 'mutant';
  }

  /** Satisfiable when free, or already owned by this very thread (recursion). */
  isSatisfiableBy(thread: WaiterThread): boolean {
    return this.signalState > 0 || this.owner === thread;
  }

  /** The owner lets go of it for good (last release, or abandonment at exit). */
  disown(): void {
    if (this.owner) {
      const list = this.owner.ownedMutants;
      const index = list.indexOf(this);
      if (index >= 0) list.splice(index, 1);
    }
    this.owner = null;
  }

  /** Whether acquiring once more would overflow the recursion count (STATUS_MUTANT_LIMIT_EXCEEDED). */
  wouldOverflow(thread: WaiterThread): boolean {
    return this.owner === thread && this.signalState === MUTANT_MINIMUM_STATE;
  }

  /** Acquire: take ownership on the first acquisition; report an abandonment once. */
  satisfy(thread: WaiterThread): number {
    this.signalState--;
    if (this.signalState === 0) {
      this.owner = thread;
      thread.ownedMutants.push(this);
    }
    if (this.abandoned) {
      this.abandoned = false;
      return STATUS.ABANDONED_WAIT_0;
    }
    return 0;
  }
}

/**
 * KeReleaseMutant / KeReleaseMutex: returns the previous state. A release by a thread that does
 * not own it raises STATUS_MUTANT_NOT_OWNED (STATUS_ABANDONED if it was abandoned).
 */
export function releaseMutant(lock: DispatcherLock, caller: Caller, mutantId: number, increment: number, abandon: boolean, wait: boolean): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const mutant = lock.object(mutantId, KMutant);
  if (!mutant) return lock.raise(prcb, STATUS.INVALID_HANDLE, mutantId, thread.id);
  const previous = mutant.signalState;
  if (abandon) {
    mutant.signalState = 1;
    mutant.abandoned = true;
  } else {
    if (mutant.owner !== thread) return lock.raise(prcb, mutant.abandoned ? STATUS.ABANDONED : STATUS.MUTANT_NOT_OWNED, mutantId, thread.id);
    mutant.signalState++;
  }
  if (mutant.signalState === 1) {
    mutant.disown();
    if (mutant.waitList.length > 0) lock.wake(mutant, increment, caller.cpu, effects);
  }
  return lock.finishSignal(caller, prcb, thread, effects, previous, wait);
}
