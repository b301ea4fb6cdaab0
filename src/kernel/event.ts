/**
 * KEVENT (nt-semantics.md §4.10): a notification event (EventNotification: stays signaled and
 * releases every waiter) or a synchronization event (EventSynchronization: released by one WaitAny
 * waiter, which resets it). KeSetEvent / KeResetEvent / KePulseEvent run in the dispatcher database
 * (src/kernel/dispatcher.ts), which owns these objects; this module holds the object's own rules.
 */

import { DispatcherObject, ObjectType } from './dispatcher-object.js';

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
