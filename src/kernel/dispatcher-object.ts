/**
 * DISPATCHER_HEADER: what every waitable object shares (nt-semantics.md §4.10): its type, its
 * signal state and the FIFO list of wait blocks of the threads waiting on it. KEVENT, KSEMAPHORE,
 * KMUTANT, KTIMER and KTHREAD (src/kernel/event.ts, semaphore.ts, mutant.ts, timer.ts, thread.ts)
 * extend it; each of those modules also holds the object's dispatcher operations.
 *
 * Owned by the dispatcher lock (src/kernel/dispatcher-lock.ts), which lives in the coordinator: the
 * single serialization point that plays NT's dispatcher lock. Nothing else touches these objects.
 */

/** KOBJECTS type codes. */
export const ObjectType = {
  EventNotification: 0,
  EventSynchronization: 1,
  Mutant: 2,
  Process: 3,
  Queue: 4,
  Semaphore: 5,
  Thread: 6,
  Gate: 7,
  TimerNotification: 8,
  TimerSynchronization: 9,
} as const;
export type ObjectTypeCode = (typeof ObjectType)[keyof typeof ObjectType];

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ObjectType).map(([name, value]) => [value, name]));

export function objectTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/**
 * KWAIT_BLOCK: one thread waiting on one object. Linked at the tail of the object's wait list
 * (FIFO fairness); `waitKey` is the object's index in the wait (the WaitAny result).
 */
export interface WaitBlock {
  readonly thread: WaiterThread;
  readonly object: DispatcherObject;
  readonly waitKey: number;
  /** WaitType.WaitAll (0) or WaitType.WaitAny (1); single-object waits use WaitAny */
  readonly waitType: number;
}

/** What a wait block and a mutant need to know of a thread (KThread implements it; kept minimal to avoid a cycle). */
export interface WaiterThread {
  readonly id: number;
  readonly name: string;
  /** the mutants it owns, in acquisition order (released or abandoned at exit) */
  readonly ownedMutants: DispatcherObject[];
}

export abstract class DispatcherObject {
  /** the object's id: what `a.event('Name')` and friends resolve to (1-based; 0 is NULL) */
  readonly id: number;
  readonly name: string;
  type: ObjectTypeCode;
  signalState: number;
  readonly waitList: WaitBlock[] = [];

  constructor(id: number, name: string, type: ObjectTypeCode, signalState: number) {
    this.id = id;
    this.name = name;
    this.type = type;
    this.signalState = signalState;
  }

  /** Could a wait by `thread` be satisfied right now (without changing anything)? */
  abstract isSatisfiableBy(thread: WaiterThread): boolean;

  /**
   * Satisfy one wait by `thread` (KiSatisfyObjectWait): the side effect of acquiring the object.
   * Returns the status to add to the wait key (0, or ABANDONED_WAIT_0 for an abandoned mutant).
   */
  abstract satisfy(thread: WaiterThread): number;

  /** A readable kind for reports: 'event', 'semaphore', 'mutex', 'thread', … */
  abstract get kind(): string;
}
