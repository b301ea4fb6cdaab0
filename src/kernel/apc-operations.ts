/**
 * The APC dispatcher operations (src/ipc/dispatcher-ops.ts codes 22–27: KeInitializeApc,
 * KeInsertQueueApc, KeRemoveQueueApc, KiTakeApc, KeAlertThread, KeTestAlertThread; 33–35:
 * PspExitThreadApcs, NtQueueApcThread, KeFlushQueueApc) as the
 * coordinator's dispatcher-lock server serves them: src/kernel/apc.ts's functions under the lock,
 * over the dispatcher's half of the APC state and the target thread's words in the shared thread
 * table (handed in as `wordsOf`: the dispatcher itself touches no shared memory), with what the
 * operation asks of a processor turned into the outcome's APC fields.
 */

import { ApcBuiltinRoutine, ApcEnvironment, KApc, NO_ROUTINE, QUEUED_USER_APC_ID_BASE } from './apc-state.js';
import type { KApcState } from './apc-state.js';
import type { ApcEnvironmentCode, ApcMode, ApcThreadWords } from './apc-state.js';
import type { ApcCall, KernelApcTake } from './apc-delivery.js';
import { rundownThreadApcs, takeNextKernelApc, takeUserApc } from './apc-delivery.js';
import { alertThread, declaredRoutines, flushQueueApc, holdsKernelMutex, initializeApc, insertQueueApc, removeQueueApc, testAlertThread } from './apc.js';
import type { Caller, DispatcherLock, DispatchOutcome } from './dispatcher-lock.js';
import { KernelMode, STATUS, UserMode } from './status.js';
import { ApcTakeKind } from '../ipc/dispatcher-ops.js';

/** The thread-table words of a thread, by id (the coordinator's view of the shared thread table). */
export type ApcWordsOf = (threadId: number) => ApcThreadWords & { publishQueued(state: KApcState): void };

function declaredApc(lock: DispatcherLock, apcId: number): KApc | null {
  return lock.apcs[apcId] ?? null;
}

/** KeInitializeApc(apc, thread, environment) on a declared KAPC: TRUE, or FALSE when it is still inserted. */
export function initializeApcOperation(lock: DispatcherLock, caller: Caller, apcId: number, threadId: number, environment: number): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const apc = declaredApc(lock, apcId);
  const thread = threadId === 0 ? current : lock.thread(threadId);
  if (!apc || !thread || thread.isIdle) return lock.raise(prcb, STATUS.INVALID_HANDLE, apc ? threadId : apcId, current.id);
  const initialized = initializeApc(apc, thread, environment as ApcEnvironmentCode, declaredRoutines(lock.apcConfigs[apcId]!));
  return lock.outcome(prcb, effects, initialized ? 1 : 0, null);
}

/**
 * KeInsertQueueApc as the coordinator serves it: insertQueueApc, then the signal turned into what
 * the reply carries (an IPI(APC) to the CPU running the target, or an APC interrupt on the caller's).
 */
export function insertQueueApcOperation(
  lock: DispatcherLock,
  caller: Caller,
  apcId: number,
  systemArgument1: number,
  systemArgument2: number,
  increment: number,
  wordsOf: ApcWordsOf,
): DispatchOutcome {
  const apc = declaredApc(lock, apcId);
  if (!apc) {
    const { prcb, thread } = lock.enter(caller);
    return lock.raise(prcb, STATUS.INVALID_HANDLE, apcId, thread.id);
  }
  if (!apc.thread) {
    const { prcb, effects } = lock.enter(caller);
    return lock.outcome(prcb, effects, 0, null);
  }
  const words = wordsOf(apc.thread.id);
  const { outcome, result } = insertQueueApc(lock, caller, apc, systemArgument1, systemArgument2, increment, words);
  if (result.inserted) words.publishQueued(apc.thread.apcState);
  if (result.inserted && result.signal.kind === 'apc-interrupt') {
    if (result.signal.remote) outcome.apcInterruptCpus = [result.signal.cpu];
    else outcome.apcInterruptSelf = true;
  }
  return outcome;
}

/** KeRemoveQueueApc: TRUE if it was inserted. */
export function removeQueueApcOperation(lock: DispatcherLock, caller: Caller, apcId: number, wordsOf: ApcWordsOf): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const apc = declaredApc(lock, apcId);
  if (!apc) return lock.raise(prcb, STATUS.INVALID_HANDLE, apcId, current.id);
  if (!apc.thread) return lock.outcome(prcb, effects, 0, null);
  const words = wordsOf(apc.thread.id);
  const removed = removeQueueApc(apc, words);
  words.publishQueued(apc.thread.apcState);
  return lock.outcome(prcb, effects, removed ? 1 : 0, null);
}

/**
 * KeFlushQueueApc(thread, mode) (§5.10): every APC of `mode` unlinked from `thread`'s list (0: the
 * caller's thread), each marked not inserted, and handed to the caller, which owns them now: the
 * dispatcher runs none of their routines. The status is how many were removed (emulator policy: a
 * scenario has no list to walk; 0 is NT's NULL). Emulator policy: the flushed list's pending flag
 * (KernelApcPending / UserApcPending) is cleared, as KeRemoveQueueApc does when it empties a list;
 * NT's own flush leaves it (its one user-mode caller is thread exit, after which the thread never
 * returns to user mode), and a stale UserApcPending would end the thread's next non-alertable
 * user-mode wait with STATUS_USER_APC and nothing to deliver. The idle thread or a mode other than
 * KernelMode/UserMode is an exception (0x1E: STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER).
 */
export function flushQueueApcOperation(lock: DispatcherLock, caller: Caller, threadId: number, mode: number, wordsOf: ApcWordsOf): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const thread = threadId === 0 ? current : lock.thread(threadId);
  if (!thread || thread.isIdle) return lock.raise(prcb, STATUS.INVALID_HANDLE, threadId, current.id);
  if (mode !== KernelMode && mode !== UserMode) return lock.raise(prcb, STATUS.INVALID_PARAMETER, threadId, current.id);
  const words = wordsOf(thread.id);
  const flushed = flushQueueApc(thread.apcState, mode);
  if (mode === KernelMode) words.kernelApcPending = false;
  else words.userApcPending = false;
  words.publishQueued(thread.apcState);
  return lock.outcome(prcb, effects, flushed.length, null);
}

/** A normal kernel APC at the head while the thread owns a KMUTEX: delivery stops, as for a critical region. */
function heldByKernelMutex(words: ApcThreadWords): KernelApcTake {
  words.kernelApcPending = false;
  return { kind: 'blocked', reason: 'kernel-apc-disable' };
}

function takePayload(apc: KApc, call: ApcCall): number[] {
  return [apc.id, call.kernelRoutine, call.normalRoutine, call.normalContext, call.systemArgument1, call.systemArgument2];
}

/**
 * One take of KiDeliverApc (§5.6) on the caller's current thread, under the lock: the kernel list's
 * head (`user` false) or, returning to user mode, one user APC (`user` true).
 */
export function takeApcOperation(lock: DispatcherLock, caller: Caller, previousMode: number, user: boolean, wordsOf: ApcWordsOf): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const words = wordsOf(thread.id);
  const state = thread.apcState;
  let status: number = ApcTakeKind.EMPTY;
  let payload: number[] = [];
  if (user) {
    const taken = takeUserApc(state, words, previousMode as ApcMode);
    if (taken) {
      status = ApcTakeKind.USER;
      payload = takePayload(taken.apc, taken.call);
    }
  } else {
    const head = state.kernelList[0];
    const take = head && !head.special && holdsKernelMutex(thread) ? heldByKernelMutex(words) : takeNextKernelApc(state, words);
    if (take.kind === 'special' || take.kind === 'normal') {
      status = take.kind === 'special' ? ApcTakeKind.SPECIAL : ApcTakeKind.NORMAL;
      payload = takePayload(take.apc, take.call);
    } else if (take.kind === 'blocked') {
      status = take.reason === 'kernel-apc-disable' ? ApcTakeKind.BLOCKED_DISABLE : ApcTakeKind.BLOCKED_IN_PROGRESS;
    }
  }
  words.publishQueued(state);
  const outcome = lock.outcome(prcb, effects, status, null);
  outcome.payload = payload;
  return outcome;
}

/** KeAlertThread as the coordinator serves it (an invalid thread is 0x1E STATUS_INVALID_HANDLE). */
export function alertThreadOperation(lock: DispatcherLock, caller: Caller, threadId: number, mode: number): DispatchOutcome {
  return alertThread(lock, caller, threadId, mode as ApcMode);
}

/** KeTestAlertThread(mode) on the caller's current thread. */
export function testAlertThreadOperation(lock: DispatcherLock, caller: Caller, mode: number, wordsOf: ApcWordsOf): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const alerted = testAlertThread(thread.apcState, wordsOf(thread.id), mode as ApcMode);
  return lock.outcome(prcb, effects, alerted ? 1 : 0, null);
}

/**
 * The APC half of PspExitThread, before the thread is terminated: no more insertions, user APCs
 * flushed (the exiting CPU has already called the rundown routines of those queued when it began
 * to exit: exitThreadUserApcsOperation), and kernel APCs still queued or APCs still disabled are
 * 0x20 KERNEL_APC_PENDING_DURING_EXIT. Null: go on.
 */
export function exitThreadApcs(lock: DispatcherLock, caller: Caller, wordsOf: ApcWordsOf): DispatchOutcome | null {
  const prcb = lock.prcb(caller.cpu);
  const thread = prcb.currentThread;
  if (thread.isIdle) return null;
  const words = wordsOf(thread.id);
  const { bugcheck } = rundownThreadApcs(thread.apcState, words, caller.oldIrql);
  words.publishQueued(thread.apcState);
  return bugcheck ? lock.fail(bugcheck, prcb) : null;
}

/**
 * The user-APC half of PspExitThread, one APC per call (a reply carries one rundown): the first call
 * clears ApcQueueable (KeInsertQueueApc and NtQueueApcThread then return FALSE); each call unlinks
 * the next user APC still queued (KeFlushQueueApc) for the CPU to call its RundownRoutine. Status 1
 * with the payload [apc, rundownRoutine], 0 when none is left.
 */
export function exitThreadUserApcsOperation(lock: DispatcherLock, caller: Caller, wordsOf: ApcWordsOf): DispatchOutcome {
  const { prcb, thread, effects } = lock.enter(caller);
  const state = thread.apcState;
  const words = wordsOf(thread.id);
  state.apcQueueable = false;
  const apc = state.userList.shift();
  if (apc) apc.inserted = false;
  if (state.userList.length === 0) words.userApcPending = false;
  words.publishQueued(state);
  const outcome = lock.outcome(prcb, effects, apc ? 1 : 0, null);
  outcome.payload = apc ? [apc.id, apc.rundownRoutine] : [];
  return outcome;
}

/**
 * NtQueueApcThread (QueueUserAPC): allocate a user APC for `threadId` (0: the caller) whose
 * NormalRoutine is `routine` (run in user mode with `context`), KernelRoutine the built-in
 * PspQueueApcSpecialApc (it frees the APC) and no RundownRoutine (the exit frees it), then
 * KeInsertQueueApc. FALSE for no thread or an exiting one.
 */
export function queueUserApcOperation(
  lock: DispatcherLock,
  caller: Caller,
  threadId: number,
  routine: number,
  context: number,
  wordsOf: ApcWordsOf,
): DispatchOutcome {
  const current = lock.prcb(caller.cpu).currentThread;
  const thread = threadId === 0 ? current : lock.thread(threadId);
  if (!thread || thread.isIdle) {
    const { prcb, effects } = lock.enter(caller);
    return lock.outcome(prcb, effects, 0, null);
  }
  lock.queuedUserApcs += 1;
  const apc = new KApc(QUEUED_USER_APC_ID_BASE + lock.queuedUserApcs - 1, `QueueUserAPC#${lock.queuedUserApcs}`, ApcBuiltinRoutine.PspQueueApcSpecialApc);
  initializeApc(apc, thread, ApcEnvironment.Original, {
    kernelRoutine: ApcBuiltinRoutine.PspQueueApcSpecialApc,
    rundownRoutine: NO_ROUTINE,
    normalRoutine: routine,
    mode: UserMode,
    context,
  });
  const words = wordsOf(thread.id);
  const { outcome, result } = insertQueueApc(lock, caller, apc, 0, 0, 0, words);
  if (result.inserted) words.publishQueued(thread.apcState);
  return outcome;
}
