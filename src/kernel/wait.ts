/**
 * Waits (nt-semantics.md §4.11): the satisfaction test of KeWaitForSingleObject /
 * KeWaitForMultipleObjects (WaitAny takes the lowest satisfiable index and consumes only it;
 * WaitAll consumes all or nothing), linking and unlinking a thread's wait blocks, and the waking
 * side, KiWaitTest, which walks an object's wait list while it is signaled: a WaitAny waiter is
 * satisfied and released with its wait key, a WaitAll waiter is released with STATUS_KERNEL_APC so
 * that it re-tests its whole wait itself.
 *
 * Used by the dispatcher database (src/kernel/dispatcher.ts) only, under its serialization.
 */

import type { DispatcherObject, WaitBlock } from './dispatcher-object.js';
import type { KThread } from './thread.js';
import { STATUS, WaitType } from './status.js';

/** The index WaitAny would be satisfied by (the lowest satisfiable one), or −1. */
export function firstSatisfiable(thread: KThread, objects: readonly DispatcherObject[]): number {
  for (let i = 0; i < objects.length; i++) if (objects[i]!.isSatisfiableBy(thread)) return i;
  return -1;
}

/** Whether every object of a WaitAll is satisfiable at once. */
export function allSatisfiable(thread: KThread, objects: readonly DispatcherObject[]): boolean {
  return objects.every((object) => object.isSatisfiableBy(thread));
}

/**
 * Test a wait without blocking; on success, satisfy it (the side effects of acquiring) and return
 * the wait status (STATUS_WAIT_0 + index, or STATUS_ABANDONED_WAIT_0 + index for an abandoned
 * mutant; WaitAll returns 0 or STATUS_ABANDONED_WAIT_0). Returns −1 when it cannot be satisfied.
 */
export function trySatisfy(thread: KThread, objects: readonly DispatcherObject[], waitType: number): number {
  if (waitType === WaitType.WaitAny) {
    const index = firstSatisfiable(thread, objects);
    return index < 0 ? -1 : objects[index]!.satisfy(thread) + index;
  }
  if (!allSatisfiable(thread, objects)) return -1;
  let abandoned = 0;
  for (const object of objects) abandoned |= object.satisfy(thread);
  return abandoned;
}

/** Block: link one wait block per object at the tail of each object's wait list (FIFO fairness). */
export function linkWaitBlocks(thread: KThread, objects: readonly DispatcherObject[], waitType: number): void {
  thread.waitBlocks = objects.map((object, waitKey) => {
    const block: WaitBlock = { thread, object, waitKey, waitType };
    object.waitList.push(block);
    return block;
  });
}

/** Remove every wait block of the thread from every object it waited on. */
export function unlinkWaitBlocks(thread: KThread): void {
  for (const block of thread.waitBlocks) {
    const list = block.object.waitList;
    const index = list.indexOf(block);
    if (index >= 0) list.splice(index, 1);
  }
  thread.waitBlocks = [];
}

/**
 * KiWaitTest: the object just became signaled. Walk its waiters from the head while it stays
 * signaled. `unwait` releases a thread (it must unlink all of that thread's blocks).
 */
export function waitTest(object: DispatcherObject, unwait: (thread: KThread, status: number) => void): void {
  let i = 0;
  while (i < object.waitList.length && object.signalState > 0) {
    const block = object.waitList[i]!;
    const thread = block.thread as KThread;
    const before = object.waitList.length;
    if (block.waitType === WaitType.WaitAny) {
      const status = object.satisfy(thread) + block.waitKey;
      unwait(thread, status);
    } else {
      // WaitAll: the waiter re-tests its whole wait; nothing is consumed on its behalf
      unwait(thread, STATUS.KERNEL_APC);
    }
    if (object.waitList.length === before) i++;
  }
}
