/**
 * KEVENT (nt-semantics.md §4.10): a notification event (EventNotification: stays signaled and
 * releases every waiter) or a synchronization event (EventSynchronization: released by one WaitAny
 * waiter, which resets it). Its rules, and its operations KeSetEvent / KeResetEvent / KePulseEvent
 * and KeReadState*, run under the dispatcher lock (src/kernel/dispatcher-lock.ts), which owns every
 * dispatcher object.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import { STATUS } from './status.js';

export class KEvent extends DispatcherObject {
  constructor(id: number, name: string, synchronization: boolean, signaled: boolean) {
    super(id, name, synchronization ? ObjectType.EventSynchronization : ObjectType.EventNotification, signaled ? 1 : 0);
  }

  get synchronization(): boolean {
    return this.type === ObjectType.EventSynchronization;
  }

  get kind(): string {
    return this.synchronization ? 'synchronization event' : 'notification event';
  }

  isSatisfiableBy(): boolean {
    return this.signalState > 0;
  }

  /** A synchronization event is consumed by the wait it satisfies; a notification event is not. */
  satisfy(): number {
    if (this.synchronization) this.signalState = 0;
    return 0;
  }
}

/** KeSetEvent: returns the previous state. */
export function setEvent(lock: DispatcherLock, caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const event = lock.object(eventId, KEvent);
  if (!event) return lock.raise(prcb, STATUS.INVALID_HANDLE, eventId, thread.id);
  const previous = event.signalState;
  if (!event.synchronization && previous === 1 && !wait) return lock.outcome(prcb, effects, previous, null);
  event.signalState = 1;
  if (previous === 0 && event.waitList.length > 0) lock.wake(event, increment, caller.cpu, effects);
  return lock.finishSignal(caller, prcb, thread, effects, previous, wait);
}

/** KeResetEvent (returns the previous state) and KeClearEvent (the caller ignores it). */
export function resetEvent(lock: DispatcherLock, caller: Caller, eventId: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const event = lock.object(eventId, KEvent);
  if (!event) return lock.raise(prcb, STATUS.INVALID_HANDLE, eventId, thread.id);
  const previous = event.signalState;
  event.signalState = 0;
  return lock.outcome(prcb, effects, previous, null);
}

/** KePulseEvent: signal and run the wait test if unsignaled with waiters, then reset; returns the previous state. */
export function pulseEvent(lock: DispatcherLock, caller: Caller, eventId: number, increment: number, wait: boolean): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const event = lock.object(eventId, KEvent);
  if (!event) return lock.raise(prcb, STATUS.INVALID_HANDLE, eventId, thread.id);
  const previous = event.signalState;
  if (previous === 0 && event.waitList.length > 0) {
    event.signalState = 1;
    lock.wake(event, increment, caller.cpu, effects);
  }
  event.signalState = 0;
  return lock.finishSignal(caller, prcb, thread, effects, previous, wait);
}

/** KeReadStateEvent / KeReadStateSemaphore / KeReadStateMutex / KeReadStateTimer: the signal state of any object. */
export function readState(lock: DispatcherLock, caller: Caller, objectId: number): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const object = lock.objects[objectId];
  if (!object) return lock.raise(prcb, STATUS.INVALID_HANDLE, objectId, thread.id);
  return lock.outcome(prcb, effects, object.signalState, null);
}
