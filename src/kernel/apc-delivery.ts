/**
 * APC delivery (nt-semantics.md §5.6, §5.7, §11): KiDeliverApc's exact order (special kernel APCs,
 * then normal ones one at a time with KernelApcInProgress, then one user APC) as the takes the
 * dispatcher serves and as a pure iterator the CPU-side delivery is tested against; the 0xC8 check
 * after a KernelRoutine; the system-service exit check (0x4A IRQL_GT_ZERO_AT_SYSTEM_SERVICE, 0x1
 * APC_INDEX_MISMATCH); the APC rundown at thread exit (0x20 KERNEL_APC_PENDING_DURING_EXIT).
 * Pure functions over apc-state.ts's state, like apc.ts: the takes and the rundown run under the
 * dispatcher lock (the coordinator), the checks on the CPU that runs the thread.
 */

import { type KApc, type KApcState, NO_ROUTINE, ApcEnvironment, apcAddress, combinedApcDisable } from './apc-state.js';
import type { ApcMode, ApcThreadWords } from './apc-state.js';
import type { DispatchBugcheck } from './dispatcher-lock.js';
import { BUGCHECK } from './bugcheck.js';
import { APC_LEVEL, PASSIVE_LEVEL } from './irql.js';
import { KernelMode, UserMode } from './status.js';
import { flushQueueApc, testAlertThread } from './apc.js';

// -----------------------------------------------------------------------------------------------
// §5.6 KiDeliverApc
// -----------------------------------------------------------------------------------------------

/** The fields KiDeliverApc copies out of a KAPC before calling it; a KernelRoutine may change the last four. */
export interface ApcCall {
  kernelRoutine: number;
  normalRoutine: number;
  normalContext: number;
  systemArgument1: number;
  systemArgument2: number;
}

function callOf(apc: KApc): ApcCall {
  return {
    kernelRoutine: apc.kernelRoutine,
    normalRoutine: apc.normalRoutine,
    normalContext: apc.normalContext,
    systemArgument1: apc.systemArgument1,
    systemArgument2: apc.systemArgument2,
  };
}

/** What the kernel list's head allows, taken under the APC lock (one step of §5.6 step 2). */
export type KernelApcTake =
  | { kind: 'special'; apc: KApc; call: ApcCall }
  | { kind: 'normal'; apc: KApc; call: ApcCall }
  | { kind: 'blocked'; reason: 'kernel-apc-disable' | 'kernel-apc-in-progress' }
  | { kind: 'empty' };

/**
 * One turn of §5.6 step 2, under the APC lock: clear KernelApcPending, look at the head of the
 * kernel list; a special APC is unlinked; a normal one is unlinked unless a critical region or a
 * NormalRoutine in progress holds it (then delivery stops, the rest stay queued).
 */
export function takeNextKernelApc(state: KApcState, words: ApcThreadWords): KernelApcTake {
  const list = state.kernelList;
  if (list.length === 0) return { kind: 'empty' };
  words.kernelApcPending = false;
  const apc = list[0]!;
  if (!apc.special) {
    if (words.kernelApcInProgress) return { kind: 'blocked', reason: 'kernel-apc-in-progress' };
    if (words.kernelApcDisable !== 0) return { kind: 'blocked', reason: 'kernel-apc-disable' };
  }
  list.shift();
  apc.inserted = false;
  return { kind: apc.special ? 'special' : 'normal', apc, call: callOf(apc) };
}

/**
 * §5.6 step 3, under the APC lock: on a return to user mode with UserApcPending and a user APC
 * queued, clear UserApcPending and unlink exactly one. Null otherwise.
 */
export function takeUserApc(state: KApcState, words: ApcThreadWords, previousMode: ApcMode): { apc: KApc; call: ApcCall } | null {
  if (previousMode !== UserMode || state.userList.length === 0 || !words.userApcPending) return null;
  words.userApcPending = false;
  const apc = state.userList.shift()!;
  apc.inserted = false;
  return { apc, call: callOf(apc) };
}

/**
 * One thing KiDeliverApc asks the CPU to do, in order:
 * - `kernel-routine`: call KernelRoutine(Apc, &NormalRoutine, &NormalContext, &SA1, &SA2) at
 *   APC_LEVEL and answer with the IRQL it returned at and the four values it left;
 * - `normal-routine`: KernelApcInProgress is set; lower to PASSIVE_LEVEL, call
 *   NormalRoutine(NormalContext, SA1, SA2) (special APCs may interrupt it), raise back to APC_LEVEL;
 * - `user-apc`: rewrite the user-mode return context so that NormalRoutine(NormalContext, SA1, SA2)
 *   runs in user mode (ntdll's KiUserApcDispatcher, then NtContinue with TestAlert).
 */
export type ApcDeliveryStep =
  | { kind: 'kernel-routine'; apc: KApc; call: ApcCall; user: boolean }
  | { kind: 'normal-routine'; apc: KApc; call: ApcCall }
  | { kind: 'user-apc'; apc: KApc; call: ApcCall };

/** What a KernelRoutine left: the IRQL it returned at, and NormalRoutine, NormalContext, SA1, SA2. */
export interface KernelRoutineReturn {
  irql: number;
  call: ApcCall;
}

/** Why KiDeliverApc returned. */
export type ApcDeliveryEnd =
  | { kind: 'done'; reason: 'nothing-left' | 'guarded-region' | 'kernel-apc-disable' | 'kernel-apc-in-progress' | 'user-apc-delivered' | 'user-apc-consumed' }
  | { kind: 'bugcheck'; bugcheck: DispatchBugcheck };

/**
 * 0xC8 IRQL_UNEXPECTED_VALUE after a KernelRoutine that returned at another IRQL than APC_LEVEL:
 * P1 (current << 16) | (expected << 8), P2 the KernelRoutine, P3 the APC, P4 the NormalRoutine.
 */
export function irqlUnexpectedValue(irql: number, apc: KApc, call: ApcCall): DispatchBugcheck {
  return {
    code: BUGCHECK.IRQL_UNEXPECTED_VALUE,
    params: [((irql << 16) | (APC_LEVEL << 8)) >>> 0, call.kernelRoutine, apcAddress(apc.id), call.normalRoutine],
  };
}

/**
 * KiDeliverApc(PreviousMode) at APC_LEVEL on the thread, in §5.6's exact order: KernelApcPending
 * cleared; nothing if in a guarded region; the kernel list in order (specials first, each
 * KernelRoutine then the 0xC8 check; normal ones one at a time, each NormalRoutine at PASSIVE_LEVEL
 * with KernelApcInProgress set; a critical region or a NormalRoutine in progress stops the whole
 * delivery); then, returning to user mode only, one user APC.
 *
 * A generator the CPU drives: it yields each step and is resumed with the KernelRoutine's return
 * (KernelRoutineReturn) after a `kernel-routine` step, with nothing after the others. Here the
 * lists are taken directly from `state`; on the machine, each take (takeNextKernelApc,
 * takeUserApc) is a dispatcher operation, since the lists are the dispatcher's.
 */
export function* kiDeliverApc(
  state: KApcState,
  words: ApcThreadWords,
  previousMode: ApcMode,
): Generator<ApcDeliveryStep, ApcDeliveryEnd, KernelRoutineReturn | undefined> {
  words.kernelApcPending = false;
  if (words.specialApcDisable !== 0) return { kind: 'done', reason: 'guarded-region' };
  for (;;) {
    const take = takeNextKernelApc(state, words);
    if (take.kind === 'empty') break;
    if (take.kind === 'blocked') return { kind: 'done', reason: take.reason };
    const returned = (yield { kind: 'kernel-routine', apc: take.apc, call: take.call, user: false }) ?? { irql: APC_LEVEL, call: take.call };
    if (returned.irql !== APC_LEVEL) return { kind: 'bugcheck', bugcheck: irqlUnexpectedValue(returned.irql, take.apc, take.call) };
    if (take.kind === 'normal') {
      if (returned.call.normalRoutine !== NO_ROUTINE) {
        words.kernelApcInProgress = true;
        yield { kind: 'normal-routine', apc: take.apc, call: returned.call };
      }
      // only a normal APC's turn clears it: a special APC delivered inside a NormalRoutine leaves it set
      words.kernelApcInProgress = false;
    }
  }
  const user = takeUserApc(state, words, previousMode);
  if (!user) return { kind: 'done', reason: 'nothing-left' };
  const returned = (yield { kind: 'kernel-routine', apc: user.apc, call: user.call, user: true }) ?? { irql: APC_LEVEL, call: user.call };
  if (returned.call.normalRoutine === NO_ROUTINE) {
    // the KernelRoutine cancelled the user-mode part: re-arm UserApcPending if more are queued
    testAlertThread(state, words, UserMode);
    return { kind: 'done', reason: 'user-apc-consumed' };
  }
  yield { kind: 'user-apc', apc: user.apc, call: returned.call };
  return { kind: 'done', reason: 'user-apc-delivered' };
}

// -----------------------------------------------------------------------------------------------
// §5.7 System-service exit, §11 thread exit
// -----------------------------------------------------------------------------------------------

/**
 * The checks at a system-service exit (and after a worker-thread work item): IRQL above PASSIVE is
 * 0x4A (P1 the service routine, P2 the IRQL); APCs disabled (CombinedApcDisable ≠ 0) or attached is
 * 0x1 APC_INDEX_MISMATCH (P1 the routine, P2 ApcStateIndex, P3 CombinedApcDisable, P4 0 for a
 * system call / 1 for a worker routine). Null when the return may go on.
 */
export function systemServiceExitCheck(words: ApcThreadWords, irql: number, routine: number, workerRoutine = false): DispatchBugcheck | null {
  if (irql !== PASSIVE_LEVEL) return { code: BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, params: [routine, irql, 0, 0] };
  const combined = combinedApcDisable(words);
  const apcStateIndex = ApcEnvironment.Original;
  if (combined !== 0) return { code: BUGCHECK.APC_INDEX_MISMATCH, params: [routine, apcStateIndex, combined, workerRoutine ? 1 : 0] };
  return null;
}

/** What the APC half of PspExitThread leaves to do: the rundown routines to call (or APCs to free), or 0x20. */
export interface ApcRundown {
  /** user APCs still queued, in order: call each one's RundownRoutine (NO_ROUTINE: just free it) */
  rundown: KApc[];
  bugcheck: DispatchBugcheck | null;
}

/**
 * PspExitThread's APC half (under the APC lock): no more insertions (ApcQueueable cleared); the
 * user APCs still queued are flushed for their rundown routines; kernel APCs still queued, or APCs
 * still disabled, are 0x20 KERNEL_APC_PENDING_DURING_EXIT (P1 the first such APC, P2
 * CombinedApcDisable, P3 the IRQL).
 */
export function rundownThreadApcs(state: KApcState, words: ApcThreadWords, irql: number): ApcRundown {
  state.apcQueueable = false;
  const rundown = flushQueueApc(state, UserMode);
  words.userApcPending = false;
  const kernel = flushQueueApc(state, KernelMode);
  const combined = combinedApcDisable(words);
  if (kernel.length > 0 || combined !== 0) {
    const first = kernel[0];
    return { rundown, bugcheck: { code: BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT, params: [first ? apcAddress(first.id) : 0, combined, irql, 0] } };
  }
  return { rundown, bugcheck: null };
}
