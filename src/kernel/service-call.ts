/**
 * User mode and system services (nt-semantics.md §5.6 step 3, §5.7, §12 item 12): the kernel →
 * user return, KiDeliverApc(UserMode) with KiUserApcDispatcher and NtContinue, the APC rundown at
 * thread exit, and the services NtWaitForSingleObject, SleepEx, NtTestAlert, QueueUserAPC.
 *
 * **Processor modes.** Every code frame runs in kernel or user mode (src/cpu/frames.ts CodeFrame.mode):
 * a thread declared `mode: 'user'` starts with a user-mode bottom frame, and the NormalRoutine of a
 * user APC runs in a user-mode frame; everything else (ISRs, DPCs, APC KernelRoutines, a driver's
 * dispatch routine a service calls) runs in kernel mode. A routine called with CALL runs in the
 * frame of its caller, so in its mode.
 *
 * **Declaring a system service** (what user-mode code may call):
 * 1. In src/isa/kcalls.ts, append the call with `service: true` (a call user mode may make without
 *    entering the kernel, reading its TEB or the hardware, is `user: true` instead). Any other call
 *    from a user-mode frame is 0x1E STATUS_PRIVILEGED_INSTRUCTION (irqlab's policy: a user-mode
 *    program cannot reach a kernel-only routine at all in NT).
 * 2. Implement it as any kernel call: one handler in the object of its module (`serviceCalls`
 *    here, `ioCalls` in src/kernel/io-call.ts), listed in src/kernel/kcall-table.ts. The handler runs
 *    in kernel mode; `cpu.callerMode()` (or `cpu.previousMode()`) tells it that user mode called, and a
 *    wait on the caller's behalf passes that mode as its WaitMode (an alertable user-mode wait then
 *    returns STATUS_USER_APC: `waitKcall` / `delayExecution` of src/kernel/wait-gate.ts take it).
 *    Results go in r0 (ctx[base + ContextField.R0]) as for every kernel call; a handler may push
 *    kernel frames (a dispatcher operation, a code frame it calls, such as a driver's dispatch
 *    routine: those run in kernel mode) and may block the thread.
 * 3. Nothing else: the CPU (src/cpu/cpu-core.ts kernelCall → serviceCallFromUserMode) records the
 *    service in the thread's ThreadField.SYSTEM_SERVICE word when user mode calls it, and the return
 *    to user mode runs the system-service exit below when the user-mode frame is next at the top of
 *    the stack: at once for a handler that pushed nothing, when its last kernel frame returns, or when
 *    a thread that blocked inside it is switched back in (on any CPU: the word travels with it). A
 *    wait restarted after a kernel APC (pc back on the call) is not a return (serviceCallRestarts).
 *
 * **The kernel → user return** (returnToUserMode, the last branch of src/kernel/interrupt.ts
 * dispatchPendingInterrupt, after hardware, DISPATCH and APC interrupts): whenever a kernel frame
 * returns onto a user-mode frame (a service's, an interrupt's, a DPC's, an IPI's, an APC's) or a
 * user-mode thread is switched in:
 * (a) after a system service, `systemServiceExitCheck`: IRQL above PASSIVE_LEVEL is 0x4A (P1 the
 *     service, P2 the IRQL), APCs disabled is 0x1 APC_INDEX_MISMATCH (P1 the service, P2
 *     ApcStateIndex 0, P3 CombinedApcDisable = SpecialApcDisable << 16 | KernelApcDisable, so
 *     0x0000FFFF for one critical region and 0xFFFF0000 for one guarded region, P4 0);
 * (b) kernel APCs still pending run first (the APC interrupt);
 * (c) with UserApcPending, KiDeliverApc(UserMode) takes exactly one user APC, calls its
 *     KernelRoutine at APC_LEVEL, then (KiUserApcDispatcher) its NormalRoutine(NormalContext, SA1,
 *     SA2) in a user-mode frame at PASSIVE_LEVEL, whose return is NtContinue(TestAlert = TRUE):
 *     KeTestAlertThread(UserMode) re-arms UserApcPending when more are queued, and NtContinue's own
 *     return to user mode is the next transition, which delivers the next one (§12 item 12).
 *
 * A user APC's NormalRoutine runs nested on the CPU's frame stack like a kernel APC's routine, so it
 * is held to the same policy (src/kernel/apc-call.ts's header): it may not block or switch the
 * thread (0x1E STATUS_NOT_IMPLEMENTED, saying so).
 *
 * Built-in APC routines (apc-state.ts ApcBuiltinRoutine) of user APCs are run by
 * `builtinApcRoutine` below: PspQueueApcSpecialApc here; the I/O manager's add their cases there.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL } from './cpu.js';
import { dispatcherCall, dispatcherKcall } from './dispatcher-call.js';
import { ApcRoutineStep, apcDeliveryEnded, apcName, callKernelRoutine } from './apc-call.js';
import { ioApcRoutine } from './io-call.js';
import { systemServiceExitCheck } from './apc-delivery.js';
import { ApcBuiltinRoutine, NO_ROUTINE, SharedApcWords, builtinRoutineName, isBuiltinRoutine } from './apc-state.js';
import { APC_LEVEL, PASSIVE_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { KernelMode, STATUS, UserMode, WaitReason, WaitType } from './status.js';
import { TraceEvent } from './trace-events.js';
import { delayExecution, waitApcFields, waitKcall } from './wait-gate.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { kernelCallById } from '../isa/kcalls.js';
import { ApcTakeKind } from '../ipc/dispatcher-ops.js';
import { ContextField, ThreadField } from '../shm/layout.js';

/** A stand-in kernel address of a system service's routine, for bugcheck parameters (0x1 and 0x4A's P1). */
export function systemServiceAddress(kcallId: number): number {
  return 0xfd000000 + kcallId * 0x10;
}

/** SleepEx's INFINITE */
const INFINITE = 0xffffffff;
/** the relative interval SleepEx(INFINITE) sleeps for: over three emulated years (100 ns units) */
const FOREVER = -(2 ** 50);
/** WAIT_IO_COMPLETION: what SleepEx and the Wait…Ex calls return when a user APC ended them (STATUS_USER_APC's value) */
export const WAIT_IO_COMPLETION = 0xc0;

function threadRecord(cpu: Cpu, threadId: number): number {
  return cpu.layout.thread(threadId - 1);
}

/**
 * A kernel call from a user-mode frame (src/cpu/cpu-core.ts kernelCall): a system service enters
 * the kernel (its return to user mode is a system-service exit); a `user` call stays in user mode;
 * any other is 0x1E STATUS_PRIVILEGED_INSTRUCTION.
 */
export function serviceCallFromUserMode(cpu: Cpu, kcallId: number): void {
  const spec = kernelCallById(kcallId);
  if (spec?.user) return;
  if (!spec?.service) {
    const name = spec?.name ?? `kernel call ${kcallId}`;
    throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.PRIVILEGED_INSTRUCTION, cpu.currentPc(), kcallId, 0).withDetail(
      `${name} called from user mode (${cpu.describeRunning()}): it is a kernel-mode routine, which user-mode code cannot reach (irqlab raises STATUS_PRIVILEGED_INSTRUCTION for it); user mode enters the kernel only by a system service`,
    );
  }
  cpu.i32[threadRecord(cpu, cpu.prcb.currentThread) + ThreadField.SYSTEM_SERVICE] = kcallId + 1;
  cpu.prcb.userReturnPending = true;
  cpu.workPending = true;
}

/**
 * The thread's wait is issued again (pc back on its call: a kernel APC broke it, §4.11): a system
 * service it is in has not returned, and the return to user mode that comes first is not its exit.
 * The call, issued again, records the service anew.
 */
export function serviceCallRestarts(cpu: Cpu, threadId: number): void {
  if (threadId === cpu.prcb.idleThread) return;
  const at = threadRecord(cpu, threadId) + ThreadField.SYSTEM_SERVICE;
  const service = cpu.i32[at]!;
  if (service > 0) cpu.i32[at] = -service;
}

/**
 * The kernel → user return (see the header): at an instruction boundary where the innermost frame
 * is a user-mode one and the thread entered the kernel since it last ran there. True when it pushed
 * a frame or requested an interrupt (the CPU looks again before the user-mode instruction).
 */
export function returnToUserMode(cpu: Cpu): boolean {
  const prcb = cpu.prcb;
  const record = threadRecord(cpu, prcb.currentThread);
  const serviceAt = record + ThreadField.SYSTEM_SERVICE;
  const service = cpu.i32[serviceAt]!;
  if (service < 0) {
    // the service call is issued again: no return yet
    cpu.i32[serviceAt] = 0;
    prcb.userReturnPending = false;
    return false;
  }
  const words = new SharedApcWords(cpu.i32, record);
  if (service > 0) {
    const violation = systemServiceExitCheck(words, prcb.irql, systemServiceAddress(service - 1));
    if (violation) throw serviceExitBugcheck(cpu, violation.code, violation.params, service - 1);
    cpu.i32[serviceAt] = 0;
  }
  if (prcb.irql !== PASSIVE_LEVEL) {
    // an interrupt returning to user mode always lowers to PASSIVE_LEVEL first; nothing to deliver above it
    prcb.userReturnPending = false;
    return false;
  }
  if (words.kernelApcPending && words.specialApcDisable === 0 && (prcb.softPending & (1 << APC_LEVEL)) === 0) {
    // kernel APCs first (§5.7): the APC interrupt, then this return is looked at again
    requestSoftwareInterrupt(cpu, APC_LEVEL);
    return true;
  }
  prcb.userReturnPending = false;
  if (!words.userApcPending) return false;
  setIrql(cpu, APC_LEVEL);
  prcb.apcDeliveryDepth++;
  cpu.pushKernel('KiDeliverApc', 'apc', deliverUserApc(cpu), false, PASSIVE_LEVEL);
  return true;
}

/** 0x4A or 0x1 at a system-service exit, with the service named. */
function serviceExitBugcheck(cpu: Cpu, code: number, params: readonly number[], kcallId: number): BugCheck {
  const [p1 = 0, p2 = 0, p3 = 0, p4 = 0] = params;
  const service = kernelCallById(kcallId)?.name ?? `service ${kcallId}`;
  const thread = cpu.names.thread(cpu.prcb.currentThread);
  const detail =
    code === BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE
      ? `the system service ${service} returned to user mode on thread ${thread} at ${irqlName(cpu.config.arch, cpu.prcb.irql)}`
      : `the system service ${service} returned to user mode on thread ${thread} with APCs disabled (CombinedApcDisable 0x${(p3 >>> 0).toString(16).padStart(8, '0')}: ${regionsLeftOpen(p3)} entered and never left)`;
  return new BugCheck(code, p1 >>> 0, p2 >>> 0, p3 >>> 0, p4 >>> 0).withDetail(detail);
}

function regionsLeftOpen(combined: number): string {
  const guarded = (combined >>> 16) & 0xffff;
  const critical = combined & 0xffff;
  const parts: string[] = [];
  if (critical !== 0) parts.push('a critical region');
  if (guarded !== 0) parts.push('a guarded region');
  return parts.join(' and ');
}

/**
 * KiDeliverApc(UserMode)'s user part (§5.6 step 3), pushed at APC_LEVEL by returnToUserMode: take
 * one user APC (KiTakeApc), call its KernelRoutine at APC_LEVEL (the 0xC8 check after it); then
 * KiUserApcDispatcher: its NormalRoutine in user mode at PASSIVE_LEVEL, and NtContinue(TestAlert =
 * TRUE), or KeTestAlertThread(UserMode) at once when it has none. NtContinue returns to user mode:
 * the next transition, which delivers the next APC if TestAlert re-armed UserApcPending.
 */
function* deliverUserApc(cpu: Cpu): KernelGenerator {
  const prcb = cpu.prcb;
  try {
    const reply = yield* dispatcherCall(cpu, { op: 'KiTakeApc', previousMode: UserMode, user: true }, APC_LEVEL);
    setIrql(cpu, APC_LEVEL);
    if (reply.status === ApcTakeKind.USER) {
      const [apc = 0, , normalRoutine = NO_ROUTINE, normalContext = 0, sa1 = 0, sa2 = 0] = reply.payload;
      yield* callKernelRoutine(cpu, reply.payload, (routine) => builtinApcRoutine(cpu, routine, apc));
      setIrql(cpu, PASSIVE_LEVEL);
      if (normalRoutine !== NO_ROUTINE) {
        // KiUserApcDispatcher: NormalRoutine(NormalContext, SystemArgument1, SystemArgument2) in user mode
        cpu.record(TraceEvent.APC_DELIVER, apc, normalRoutine, ApcRoutineStep.USER);
        cpu.pushCall('apc', normalRoutine, normalContext, sa1, sa2, 0, UserMode);
        yield SIGNAL_CALL;
        cpu.record(TraceEvent.APC_DELIVER_END, apc, normalRoutine, ApcRoutineStep.USER);
      }
      // NtContinue(TestAlert = TRUE), or the KeTestAlertThread of an APC without a NormalRoutine: the next one is made pending
      yield* dispatcherCall(cpu, { op: 'KeTestAlertThread', mode: UserMode }, PASSIVE_LEVEL);
    } else {
      // nothing to take (the APC was removed meanwhile): the pending flag must not send the next return here again
      new SharedApcWords(cpu.i32, threadRecord(cpu, prcb.currentThread)).userApcPending = false;
    }
  } finally {
    prcb.apcDeliveryDepth--;
  }
  setIrql(cpu, PASSIVE_LEVEL);
  prcb.userReturnPending = true;
  apcDeliveryEnded(cpu);
}

/**
 * A built-in routine of a user APC (KernelRoutine or RundownRoutine), run on the thread:
 * PspQueueApcSpecialApc frees the KAPC NtQueueApcThread allocated (the dispatcher dropped it when it
 * was taken: nothing is left to do). The I/O manager's (IopFreeIrpKernelApc, IopAbortIrpKernelApc)
 * are added here.
 */
export function* builtinApcRoutine(cpu: Cpu, routine: number, apc: number): Generator<number, void, number> {
  switch (routine) {
    case ApcBuiltinRoutine.PspQueueApcSpecialApc:
      return;
    case ApcBuiltinRoutine.IopFreeIrpKernelApc:
    case ApcBuiltinRoutine.IopAbortIrpKernelApc:
    case ApcBuiltinRoutine.IopAbortRequest:
      // the I/O manager's: the IRP of a ReadFileEx completion is freed (src/kernel/io-call.ts)
      yield* ioApcRoutine(cpu, apc, routine);
      return;
    default:
      throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.NOT_IMPLEMENTED, cpu.currentPc(), routine, apc).withDetail(
        `the built-in APC routine ${builtinRoutineName(routine) ?? routine} of ${apcName(cpu, apc)} has no implementation for a user APC`,
      );
  }
}

/**
 * The user-APC half of PspExitThread (§5.10): when user APCs are still queued, unlink them one by
 * one (PspExitThreadApcs, which also stops further insertions) and call each one's RundownRoutine(Apc)
 * at PASSIVE_LEVEL in kernel mode (none, or a built-in: freed). A thread with none queued asks nothing.
 */
export function* exitThreadUserApcs(cpu: Cpu): KernelGenerator {
  const prcb = cpu.prcb;
  if (prcb.currentThread === prcb.idleThread) return;
  const words = new SharedApcWords(cpu.i32, threadRecord(cpu, prcb.currentThread));
  if (!words.userApcsQueued) return;
  const irql = prcb.irql;
  for (;;) {
    const reply = yield* dispatcherCall(cpu, { op: 'PspExitThreadApcs' }, irql);
    setIrql(cpu, irql);
    if (reply.status === 0) return;
    const [apc = 0, rundownRoutine = NO_ROUTINE] = reply.payload;
    if (rundownRoutine === NO_ROUTINE) continue;
    cpu.record(TraceEvent.APC_DELIVER, apc, rundownRoutine, ApcRoutineStep.RUNDOWN);
    if (isBuiltinRoutine(rundownRoutine)) yield* builtinApcRoutine(cpu, rundownRoutine, apc);
    else {
      cpu.pushCall('apc', rundownRoutine, apc);
      yield SIGNAL_CALL;
    }
    cpu.record(TraceEvent.APC_DELIVER_END, apc, rundownRoutine, ApcRoutineStep.RUNDOWN);
  }
}

// ======================================================================================
// System services
// ======================================================================================

export const serviceCalls = {
  ExGetPreviousMode: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = cpu.previousMode();
    return KCALL_DONE;
  },
  /** NtWaitForSingleObject: KeWaitForSingleObject(object, UserRequest, PreviousMode, alertable, timeout). */
  NtWaitForSingleObject: (cpu, args, ctx, base) =>
    waitKcall(
      cpu,
      'NtWaitForSingleObject',
      [args[0]!],
      WaitType.WaitAny,
      WaitReason.UserRequest,
      waitApcFields(args[1]!, cpu.callerMode()),
      args[2]!,
      ctx,
      base,
    ),
  /**
   * SleepEx: NtDelayExecution(alertable, −milliseconds · 10 000). Its r0 is the delay's status:
   * STATUS_SUCCESS (0), or STATUS_USER_APC (0xC0), which is WAIT_IO_COMPLETION. INFINITE sleeps
   * for over three emulated years (kernel32 passes the longest relative delay).
   */
  SleepEx: (cpu, args, ctx, base) => {
    const milliseconds = args[0]! >>> 0;
    const interval = milliseconds === INFINITE ? FOREVER : -milliseconds * 10_000;
    return delayExecution(cpu, waitApcFields(args[1]!, cpu.callerMode()), interval, ctx, base);
  },
  /** NtTestAlert: KeTestAlertThread(PreviousMode): STATUS_ALERTED or STATUS_SUCCESS; user APCs queued are made pending (delivered on the way out). */
  NtTestAlert: (cpu, _args, ctx, base) => {
    const mode = cpu.callerMode();
    cpu.pushKernel('NtTestAlert', 'kernel', testAlert(cpu, mode, ctx, base), false);
    return KCALL_DONE;
  },
  /** QueueUserAPC(routine, thread, data): NtQueueApcThread to a user-mode thread (0: the caller). */
  QueueUserAPC: (cpu, args, ctx, base) => {
    const threadId = args[1]! === 0 ? cpu.prcb.currentThread : args[1]!;
    if (!cpu.config.threads.some((t) => t.id === threadId && t.userMode)) {
      ctx[base + ContextField.R0] = 0;
      return KCALL_DONE;
    }
    return dispatcherKcall(cpu, 'QueueUserAPC', { op: 'NtQueueApcThread', thread: threadId, routine: args[0]!, context: args[2]! }, ctx, base);
  },
} satisfies Record<string, KernelCallHandler>;

function* testAlert(cpu: Cpu, mode: number, ctx: Int32Array, base: number): KernelGenerator {
  const oldIrql = cpu.prcb.irql;
  const reply = yield* dispatcherCall(cpu, { op: 'KeTestAlertThread', mode: mode === UserMode ? UserMode : KernelMode }, oldIrql);
  ctx[base + ContextField.R0] = reply.status !== 0 ? STATUS.ALERTED : STATUS.SUCCESS;
  setIrql(cpu, oldIrql);
}
