/**
 * APCs (nt-semantics.md §5): KeInitializeApc, KeInsertQueueApc (KiInsertQueueApc's queue order and
 * its decision of what the insertion must then do to the target), KeRemoveQueueApc,
 * KeFlushQueueApc, KeAreApcsDisabled / KeAreAllApcsDisabled, KeTestAlertThread / KeAlertThread and
 * the wait's alertability test (KiCheckAlertability), the critical and guarded regions with what
 * became deliverable when one is left (KiCheckForKernelApcDelivery). KiDeliverApc's order, the
 * system-service exit check and the rundown at thread exit are src/kernel/apc-delivery.ts.
 *
 * The data (KAPC, KAPC_STATE, the thread-table words) and where each piece lives is
 * src/kernel/apc-state.ts. Everything here is a pure function over that state: the functions that
 * change the dispatcher's half (the lists, ApcQueueable, Alerted) run under the dispatcher lock
 * (the coordinator); the regions and the delivery order run on the CPU that runs the thread, over
 * its thread-table words (apc-state.ts's SharedApcWords is the view of them in shared memory). What an
 * operation asks of a processor (an APC software interrupt here, an IPI(APC) to another CPU, an
 * unwait) is returned as a value for the caller to act on; nothing here sends a message.
 */

import { type KApc, type KApcState, NO_ROUTINE, ApcEnvironment, combinedApcDisable } from './apc-state.js';
import type { ApcEnvironmentCode, ApcMode, ApcObjectConfig, ApcThreadWords } from './apc-state.js';
import type { Caller, DispatcherLock, DispatchOutcome, DispatchBugcheck } from './dispatcher-lock.js';
import { type KThread, ThreadState } from './thread.js';
import { BUGCHECK } from './bugcheck.js';
import { KMutant } from './mutant.js';
import { APC_LEVEL, PASSIVE_LEVEL } from './irql.js';
import { KernelMode, STATUS, UserMode, WaitReason } from './status.js';

export {
  KApc,
  KApcState,
  NO_ROUTINE,
  ApcEnvironment,
  ApcBuiltinRoutine,
  SharedApcWords,
  apcAddress,
  combinedApcDisable,
  newApcThreadWords,
} from './apc-state.js';
export type { ApcEnvironmentCode, ApcMode, ApcObjectConfig, ApcThreadWords } from './apc-state.js';

/** THREAD_ALERT_INCREMENT: the boost of a thread KeAlertThread wakes. */
export const THREAD_ALERT_INCREMENT = 2;

// -----------------------------------------------------------------------------------------------
// §5.3 KeInitializeApc
// -----------------------------------------------------------------------------------------------

/** The routines and mode KeInitializeApc is given (a declared APC supplies them from its declaration). */
export interface ApcRoutines {
  kernelRoutine: number;
  rundownRoutine: number;
  /** NO_ROUTINE: a special kernel APC (its mode is then KernelMode and its context NULL, whatever is passed) */
  normalRoutine: number;
  mode: ApcMode;
  context: number;
}

/** The routines and mode of a declared APC. */
export function declaredRoutines(config: ApcObjectConfig): ApcRoutines {
  return {
    kernelRoutine: config.kernelRoutine,
    rundownRoutine: config.rundownRoutine,
    normalRoutine: config.normalRoutine,
    mode: config.mode,
    context: config.context,
  };
}

/**
 * KeInitializeApc(Apc, Thread, Environment, KernelRoutine, RundownRoutine, NormalRoutine, Mode,
 * Context). Returns false, changing nothing, when the APC is still inserted: NT would overwrite a
 * queued KAPC and corrupt its thread's list; the emulator refuses (the caller reports it).
 */
export function initializeApc(apc: KApc, thread: KThread, environment: ApcEnvironmentCode, routines: ApcRoutines): boolean {
  if (apc.inserted) return false;
  apc.thread = thread;
  // CurrentApcEnvironment is resolved now; InsertApcEnvironment at insertion
  apc.apcStateIndex = environment === ApcEnvironment.Current ? thread.apcState.apcStateIndex : environment;
  apc.kernelRoutine = routines.kernelRoutine;
  apc.rundownRoutine = routines.rundownRoutine;
  apc.normalRoutine = routines.normalRoutine;
  if (routines.normalRoutine !== NO_ROUTINE) {
    apc.apcMode = routines.mode;
    apc.normalContext = routines.context;
  } else {
    apc.apcMode = KernelMode;
    apc.normalContext = 0;
  }
  apc.inserted = false;
  return true;
}

// -----------------------------------------------------------------------------------------------
// §5.4 KeInsertQueueApc
// -----------------------------------------------------------------------------------------------

/**
 * What an insertion asks for once the APC is queued (§5.4 step 4):
 * - `apc-interrupt`: request an APC software interrupt on `cpu`: HalRequestSoftwareInterrupt(APC_LEVEL)
 *   when it is the inserting CPU, IPI(APC) otherwise (the target runs there);
 * - `unwait`: the target was waiting and is released with `status` (STATUS_KERNEL_APC: it runs the
 *   APC and restarts its wait; STATUS_USER_APC: its alertable user-mode wait returns);
 * - `none`: nothing now; it is delivered at the target's next switch-in, IRQL drop below APC_LEVEL,
 *   region exit or alertable wait.
 */
export type ApcSignal =
  | { kind: 'none' }
  | { kind: 'apc-interrupt'; cpu: number; remote: boolean }
  | { kind: 'unwait'; status: typeof STATUS.KERNEL_APC | typeof STATUS.USER_APC };

export type ApcInsertResult = { inserted: false; reason: 'already-inserted' | 'thread-exiting' | 'not-initialized' } | { inserted: true; signal: ApcSignal };

/** Who inserts: the inserting CPU and the thread it runs (KeGetCurrentThread, perhaps under a DPC). */
export interface ApcInserter {
  cpu: number;
  currentThread: KThread;
}

/**
 * KiInsertQueueApc's queue position (§5.4 step 3): a normal APC (kernel or user) at the tail; a
 * special APC after the last special one, so that specials stay FIFO at the front, ahead of every
 * normal kernel APC.
 */
export function enqueueApc(state: KApcState, apc: KApc): void {
  const list = state.apcListHead[apc.apcMode];
  if (!apc.special) {
    list.push(apc);
    return;
  }
  let at = 0;
  while (at < list.length && list[at]!.special) at++;
  list.splice(at, 0, apc);
}

/**
 * KeInsertQueueApc(Apc, SystemArgument1, SystemArgument2, Increment) on the dispatcher's and the
 * target's state, with the decision of §5.4 step 4 returned. The target's words are its
 * thread-table words (read for a Waiting target, whose words cannot change while it waits; the
 * pending flags are written). FALSE (changing nothing) when the APC is already inserted or the
 * thread is exiting (ApcQueueable clear).
 */
export function queueApc(apc: KApc, systemArgument1: number, systemArgument2: number, inserter: ApcInserter, targetWords: ApcThreadWords): ApcInsertResult {
  const thread = apc.thread;
  if (!thread) return { inserted: false, reason: 'not-initialized' };
  const state = thread.apcState;
  if (!state.apcQueueable) return { inserted: false, reason: 'thread-exiting' };
  if (apc.inserted) return { inserted: false, reason: 'already-inserted' };
  apc.systemArgument1 = systemArgument1;
  apc.systemArgument2 = systemArgument2;
  apc.inserted = true;
  if (apc.apcStateIndex === ApcEnvironment.Insert) apc.apcStateIndex = state.apcStateIndex;
  enqueueApc(state, apc);
  // an APC for another environment waits until the thread attaches to or detaches from it (never, here)
  if (apc.apcStateIndex !== state.apcStateIndex) return { inserted: true, signal: { kind: 'none' } };
  return { inserted: true, signal: signalTarget(apc, thread, inserter, targetWords) };
}

function signalTarget(apc: KApc, thread: KThread, inserter: ApcInserter, words: ApcThreadWords): ApcSignal {
  const state = thread.apcState;
  if (thread === inserter.currentThread) {
    // a user APC to yourself is queued, not made pending: it runs at your next alertable wait or NtTestAlert
    if (apc.apcMode !== KernelMode) return { kind: 'none' };
    words.kernelApcPending = true;
    return words.specialApcDisable === 0 ? { kind: 'apc-interrupt', cpu: inserter.cpu, remote: false } : { kind: 'none' };
  }
  if (apc.apcMode === KernelMode) {
    words.kernelApcPending = true;
    if (thread.state === ThreadState.Running) {
      const cpu = thread.nextProcessor;
      return { kind: 'apc-interrupt', cpu, remote: cpu !== inserter.cpu };
    }
    if (thread.state === ThreadState.Waiting && breaksKernelWait(apc, thread, words)) return { kind: 'unwait', status: STATUS.KERNEL_APC };
    // Ready, Standby, DeferredReady, Transition, or a wait at APC_LEVEL / in a guarded region: at its next switch-in or IRQL drop
    return { kind: 'none' };
  }
  if (thread.state === ThreadState.Waiting && state.waitMode === UserMode && (state.alertable || words.userApcPending)) {
    words.userApcPending = true;
    return { kind: 'unwait', status: STATUS.USER_APC };
  }
  return { kind: 'none' };
}

/**
 * Whether a kernel APC breaks the target's wait (§5.4, Waiting): it waits at PASSIVE_LEVEL outside
 * a guarded region, and the APC is special or normal kernel APCs are deliverable (no critical
 * region, no NormalRoutine in progress). Emulator policy: the page-in wait of a page fault is never
 * broken (its restart is the faulting instruction, not a wait call); it gets the APC when it resumes.
 */
function breaksKernelWait(apc: KApc, thread: KThread, words: ApcThreadWords): boolean {
  if (thread.waitIrql !== PASSIVE_LEVEL || words.specialApcDisable !== 0) return false;
  if (thread.waitReason === WaitReason.PageIn) return false;
  return apc.special || (words.kernelApcDisable === 0 && !holdsKernelMutex(thread) && !words.kernelApcInProgress);
}

/**
 * A KMUTEX held blocks normal kernel APCs, as NT's KeWaitForMutexObject's KernelApcDisable does.
 * The emulator keeps it in the dispatcher (which knows what the thread owns) rather than in the
 * thread-table word: the count a driver's KeAreApcsDisabled reads covers the regions only.
 */
export function holdsKernelMutex(thread: KThread): boolean {
  return thread.ownedMutants.some((mutant) => mutant instanceof KMutant && mutant.apcDisable !== 0);
}

/** What KeInsertQueueApc did, under the dispatcher lock: the outcome for the inserting CPU and the APC interrupt it must request. */
export interface ApcInsertOutcome {
  outcome: DispatchOutcome;
  result: ApcInsertResult;
}

/**
 * KeInsertQueueApc as a dispatcher operation: queue, signal, unwait the target if the decision says
 * so (boosted by `increment`), then KiExitDispatcher. The reply's status is TRUE (1) or FALSE (0).
 * An `apc-interrupt` signal is left to the caller (IPI(APC) or a local software interrupt).
 */
export function insertQueueApc(
  lock: DispatcherLock,
  caller: Caller,
  apc: KApc,
  systemArgument1: number,
  systemArgument2: number,
  increment: number,
  targetWords: ApcThreadWords,
): ApcInsertOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const result = queueApc(apc, systemArgument1, systemArgument2, { cpu: caller.cpu, currentThread: current }, targetWords);
  if (result.inserted && result.signal.kind === 'unwait') lock.unwaitThread(apc.thread!, result.signal.status, increment, caller.cpu, effects);
  return { outcome: lock.exitDispatcher(caller, prcb, effects, result.inserted ? 1 : 0), result };
}

// -----------------------------------------------------------------------------------------------
// §5.10 KeRemoveQueueApc, KeFlushQueueApc
// -----------------------------------------------------------------------------------------------

/**
 * KeRemoveQueueApc: unlink an inserted APC (TRUE); when that empties its list, the list's pending
 * flag is cleared. FALSE if it was not inserted.
 */
export function removeQueueApc(apc: KApc, words: ApcThreadWords): boolean {
  if (!apc.inserted || !apc.thread) return false;
  const list = apc.thread.apcState.apcListHead[apc.apcMode];
  const index = list.indexOf(apc);
  if (index >= 0) list.splice(index, 1);
  apc.inserted = false;
  if (list.length === 0) {
    if (apc.apcMode === KernelMode) words.kernelApcPending = false;
    else words.userApcPending = false;
  }
  return true;
}

/** KeFlushQueueApc(thread, mode): detach the whole list, every APC marked not inserted, and return it (the caller runs the rundowns). */
export function flushQueueApc(state: KApcState, mode: ApcMode): KApc[] {
  const list = state.apcListHead[mode];
  const flushed = list.splice(0, list.length);
  for (const apc of flushed) apc.inserted = false;
  return flushed;
}

// -----------------------------------------------------------------------------------------------
// §5.8 KeAreApcsDisabled, KeAreAllApcsDisabled
// -----------------------------------------------------------------------------------------------

/** KeAreApcsDisabled: inside a critical or a guarded region (CombinedApcDisable ≠ 0). */
export function areApcsDisabled(words: ApcThreadWords): boolean {
  return combinedApcDisable(words) !== 0;
}

/** KeAreAllApcsDisabled: inside a guarded region, or at APC_LEVEL or above. */
export function areAllApcsDisabled(words: ApcThreadWords, irql: number): boolean {
  return words.specialApcDisable !== 0 || irql >= APC_LEVEL;
}

// -----------------------------------------------------------------------------------------------
// Alerts (§4.11 step 4, KeTestAlertThread, KeAlertThread)
// -----------------------------------------------------------------------------------------------

/**
 * KeTestAlertThread(mode): TRUE (and cleared) if the thread was alerted in `mode`; otherwise, for
 * user mode with user APCs queued, UserApcPending is set so that the next return to user mode
 * delivers one. This is NtTestAlert, and NtContinue's TestAlert that chains user APCs (§5.6 step 3).
 */
export function testAlertThread(state: KApcState, words: ApcThreadWords, mode: ApcMode): boolean {
  if (state.alerted[mode]) {
    state.alerted[mode] = false;
    return true;
  }
  if (mode !== KernelMode && state.userList.length > 0) words.userApcPending = true;
  return false;
}

/**
 * KiCheckAlertability (§4.11 step 4), run by a wait before it blocks: STATUS_ALERTED or
 * STATUS_USER_APC if the wait must return at once, else null (go on). It records the wait's
 * Alertable and WaitMode, which a later insertion of a user APC looks at.
 */
export function checkAlertability(state: KApcState, words: ApcThreadWords, alertable: boolean, waitMode: ApcMode): number | null {
  state.alertable = alertable;
  state.waitMode = waitMode;
  if (alertable) {
    if (state.alerted[waitMode]) {
      state.alerted[waitMode] = false;
      return STATUS.ALERTED;
    }
    if (waitMode !== KernelMode && state.userList.length > 0) {
      words.userApcPending = true;
      return STATUS.USER_APC;
    }
    if (state.alerted[KernelMode]) {
      state.alerted[KernelMode] = false;
      return STATUS.ALERTED;
    }
    return null;
  }
  return waitMode !== KernelMode && words.userApcPending ? STATUS.USER_APC : null;
}

/**
 * §4.11 step 2, the wait's pre-check: with a kernel APC pending, deliverable (no guarded region) and
 * the wait starting below APC_LEVEL, the wait must not block: the caller drops its IRQL (which
 * delivers the APC) and starts the wait over.
 */
export function kernelApcBeforeWait(words: ApcThreadWords, waitIrql: number): boolean {
  return words.kernelApcPending && words.specialApcDisable === 0 && waitIrql < APC_LEVEL;
}

/** What KeAlertThread decided: the previous Alerted[mode], and whether the target's alertable wait is broken with STATUS_ALERTED. */
export interface AlertDecision {
  previous: boolean;
  unwait: boolean;
}

/** KeAlertThread(thread, mode) on the dispatcher's state: wake an alertable wait of that mode or lower, else set Alerted[mode]. */
export function alertDecision(thread: KThread, mode: ApcMode): AlertDecision {
  const state = thread.apcState;
  const previous = state.alerted[mode];
  if (previous) return { previous, unwait: false };
  if (thread.state === ThreadState.Waiting && state.alertable && mode <= state.waitMode) return { previous, unwait: true };
  state.alerted[mode] = true;
  return { previous, unwait: false };
}

/** KeAlertThread as a dispatcher operation: the reply's status is the previous Alerted[mode] (TRUE/FALSE). */
export function alertThread(lock: DispatcherLock, caller: Caller, threadId: number, mode: ApcMode): DispatchOutcome {
  const { prcb, thread: current, effects } = lock.enter(caller);
  const thread = lock.thread(threadId);
  if (!thread || thread.isIdle) return lock.raise(prcb, STATUS.INVALID_HANDLE, threadId, current.id);
  const decision = alertDecision(thread, mode);
  if (decision.unwait) lock.unwaitThread(thread, STATUS.ALERTED, THREAD_ALERT_INCREMENT, caller.cpu, effects);
  return lock.exitDispatcher(caller, prcb, effects, decision.previous ? 1 : 0);
}

// -----------------------------------------------------------------------------------------------
// §5.8 Critical and guarded regions, and what their exit makes deliverable (§5.7)
// -----------------------------------------------------------------------------------------------

/**
 * KiCheckForKernelApcDelivery's decision: `deliver-now` at PASSIVE_LEVEL (raise to APC_LEVEL,
 * KiDeliverApc(KernelMode), lower); `request-apc-interrupt` above it (KernelApcPending is set and an
 * APC software interrupt requested: it fires when this thread drops to PASSIVE_LEVEL); `none` when
 * nothing became deliverable.
 */
export type ApcDeliveryCheck = { kind: 'none' } | { kind: 'deliver-now' } | { kind: 'request-apc-interrupt' };

/** A region left that was never entered: the count would go above 0. */
export type RegionExit = ApcDeliveryCheck | { kind: 'not-entered'; bugcheck: DispatchBugcheck };

/** KiCheckForKernelApcDelivery, at `irql`, for a thread with kernel APCs queued. */
export function checkForKernelApcDelivery(words: ApcThreadWords, irql: number): ApcDeliveryCheck {
  if (irql === PASSIVE_LEVEL) return { kind: 'deliver-now' };
  words.kernelApcPending = true;
  return { kind: 'request-apc-interrupt' };
}

/** KeEnterCriticalRegion: normal kernel APCs and user APCs are held off (special kernel APCs are not). */
export function enterCriticalRegion(words: ApcThreadWords): void {
  words.kernelApcDisable--;
}

/**
 * KeLeaveCriticalRegion: when the count returns to 0 with kernel APCs queued and no guarded region,
 * what became deliverable is delivered (§5.7). Leaving one never entered is Driver Verifier's
 * 0xC4 / 0x3E (emulator policy: always checked); the count is left unchanged then.
 */
export function leaveCriticalRegion(words: ApcThreadWords, kernelApcsQueued: boolean, irql: number): RegionExit {
  if (words.kernelApcDisable >= 0) {
    return { kind: 'not-entered', bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, params: [0x3e, 0, 0, 0] } };
  }
  words.kernelApcDisable++;
  if (words.kernelApcDisable === 0 && kernelApcsQueued && words.specialApcDisable === 0) return checkForKernelApcDelivery(words, irql);
  return { kind: 'none' };
}

/** KeEnterGuardedRegion: every APC is held off, special kernel APCs included; nests, and travels with the thread. */
export function enterGuardedRegion(words: ApcThreadWords): void {
  words.specialApcDisable--;
}

/**
 * KeLeaveGuardedRegion: when the count returns to 0 with kernel APCs queued, they are delivered
 * (§5.7). Leaving one never entered: NT has no verifier code for it; the emulator reports it with
 * the same 0xC4 / 0x3E as an unbalanced critical region (emulator policy) and leaves the count.
 */
export function leaveGuardedRegion(words: ApcThreadWords, kernelApcsQueued: boolean, irql: number): RegionExit {
  if (words.specialApcDisable >= 0) {
    return { kind: 'not-entered', bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, params: [0x3e, 1, 0, 0] } };
  }
  words.specialApcDisable++;
  if (words.specialApcDisable === 0 && kernelApcsQueued) return checkForKernelApcDelivery(words, irql);
  return { kind: 'none' };
}
