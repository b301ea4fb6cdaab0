/**
 * The CPU side of APCs (nt-semantics.md §5): the APC software interrupt (KiDeliverApc driven on
 * the processor, one take of the dispatcher's list at a time), the critical and guarded regions as
 * kernel calls over the running thread's words in the shared thread table, and the kernel calls
 * that are one dispatcher operation on a KAPC or a thread's alert state.
 *
 * The order of delivery is src/kernel/apc.ts's kiDeliverApc (the specification, pure); the frame
 * here follows it step for step, except that each take of the list is a dispatcher operation
 * (KiTakeApc): the lists are the dispatcher database's (see apc-state.ts's header).
 *
 * Emulator policy: an APC routine runs as a code frame nested on the thread's own frame, which a
 * context switch cannot carry; while one runs (Prcb.apcDeliveryDepth) the thread is not switched
 * (a reschedule or quantum end waits for the delivery to end: apcDeliveryEnded asks again) and a
 * routine that would block is refused with 0x1E STATUS_NOT_IMPLEMENTED, saying so.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL } from './cpu.js';
import { dispatcherCall, dispatcherKcall } from './dispatcher-call.js';
import { checkNotWaitNext } from './wait-gate.js';
import { ApcTakeKind, ReplyFlag } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequestOf } from '../ipc/dispatcher-ops.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { NO_ROUTINE, SharedApcWords, apcAddress, isBuiltinRoutine } from './apc-state.js';
import { ioApcRoutine } from './io-call.js';
import { kapcName } from './io.js';
import { areAllApcsDisabled, areApcsDisabled, enterCriticalRegion, enterGuardedRegion, leaveCriticalRegion, leaveGuardedRegion } from './apc.js';
import type { RegionExit } from './apc.js';
import { KernelMode, STATUS } from './status.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { ContextField } from '../shm/layout.js';

/** APC_DELIVER's third word: which routine of the APC runs. */
export const ApcRoutineStep = { KERNEL: 1, NORMAL: 2, USER: 3, RUNDOWN: 4 } as const;

/** The running thread's APC words in the shared thread table. */
export function currentApcWords(cpu: Cpu): SharedApcWords {
  return new SharedApcWords(cpu.i32, cpu.layout.thread(cpu.prcb.currentThread - 1));
}

/** The name of a declared KAPC, for reports. */
export function apcName(cpu: Cpu, apc: number): string {
  return kapcName(cpu.config.apcs, apc);
}

/**
 * The APC software interrupt (§1.4, taken at PASSIVE_LEVEL by a thread, last after hardware and
 * DISPATCH): raise to APC_LEVEL and run KiDeliverApc(KernelMode) on the current thread.
 */
export function apcInterrupt(cpu: Cpu): void {
  setIrql(cpu, APC_LEVEL);
  cpu.prcb.apcDeliveryDepth++;
  cpu.pushKernel('KiDeliverApc', 'apc', deliverKernelApcs(cpu), false, PASSIVE_LEVEL);
}

/**
 * KiDeliverApc(KernelMode) at APC_LEVEL, in §5.6's order: KernelApcPending cleared; nothing in a
 * guarded region; the kernel list head by head (each take a KiTakeApc operation): a special APC's
 * KernelRoutine; a normal one's KernelRoutine, then its NormalRoutine at PASSIVE_LEVEL with
 * KernelApcInProgress set; after each KernelRoutine the 0xC8 check. A critical region or a
 * NormalRoutine in progress stops the delivery (the rest stay queued). Lowers to PASSIVE_LEVEL at the end.
 */
function* deliverKernelApcs(cpu: Cpu): KernelGenerator {
  const prcb = cpu.prcb;
  const words = currentApcWords(cpu);
  try {
    words.kernelApcPending = false;
    if (words.specialApcDisable === 0) {
      for (;;) {
        const reply = yield* dispatcherCall(cpu, { op: 'KiTakeApc', previousMode: KernelMode, user: false }, APC_LEVEL);
        setIrql(cpu, APC_LEVEL);
        const kind = reply.status;
        if (kind !== ApcTakeKind.SPECIAL && kind !== ApcTakeKind.NORMAL) break;
        const [apc = 0, , normalRoutine = NO_ROUTINE, normalContext = 0, sa1 = 0, sa2 = 0] = reply.payload;
        yield* callKernelRoutine(cpu, reply.payload, (routine) => ioApcRoutine(cpu, apc, routine));
        if (kind !== ApcTakeKind.NORMAL) continue;
        if (normalRoutine !== NO_ROUTINE) {
          words.kernelApcInProgress = true;
          setIrql(cpu, PASSIVE_LEVEL);
          cpu.record(TraceEvent.APC_DELIVER, apc, normalRoutine, ApcRoutineStep.NORMAL);
          cpu.pushCall('apc', normalRoutine, normalContext, sa1, sa2);
          yield SIGNAL_CALL;
          cpu.record(TraceEvent.APC_DELIVER_END, apc, normalRoutine, ApcRoutineStep.NORMAL);
          setIrql(cpu, APC_LEVEL);
        }
        // only a normal APC's turn clears it: a special APC delivered inside a NormalRoutine leaves it set
        words.kernelApcInProgress = false;
      }
    }
  } finally {
    prcb.apcDeliveryDepth--;
  }
  setIrql(cpu, PASSIVE_LEVEL);
  apcDeliveryEnded(cpu);
}

/** A reschedule or quantum end held off while an APC routine ran (Prcb.apcDeliveryDepth) is asked for now. */
/**
 * One APC's KernelRoutine(Apc, NormalContext, SystemArgument1, SystemArgument2) at APC_LEVEL, from
 * KiTakeApc's payload [apc, kernelRoutine, normalRoutine, normalContext, sa1, sa2] (irqlab passes the
 * values, not their addresses): an interpreted routine as a code frame, a built-in one (the I/O
 * manager's, NtQueueApcThread's) by `builtin`; then §5.5's check that it came back at APC_LEVEL (0xC8).
 */
export function* callKernelRoutine(cpu: Cpu, payload: readonly number[], builtin: (routine: number) => KernelGenerator): KernelGenerator {
  const [apc = 0, kernelRoutine = NO_ROUTINE, normalRoutine = NO_ROUTINE, normalContext = 0, sa1 = 0, sa2 = 0] = payload;
  cpu.record(TraceEvent.APC_DELIVER, apc, kernelRoutine, ApcRoutineStep.KERNEL);
  if (isBuiltinRoutine(kernelRoutine)) yield* builtin(kernelRoutine);
  else {
    cpu.pushCall('apc', kernelRoutine, apc, normalContext, sa1, sa2);
    yield SIGNAL_CALL;
  }
  cpu.record(TraceEvent.APC_DELIVER_END, apc, kernelRoutine, ApcRoutineStep.KERNEL);
  if (cpu.prcb.irql !== APC_LEVEL) throw kernelRoutineIrql(cpu, apc, kernelRoutine, normalRoutine);
}

export function apcDeliveryEnded(cpu: Cpu): void {
  const prcb = cpu.prcb;
  if (prcb.apcDeliveryDepth === 0 && (prcb.quantumEnd || prcb.reschedulePending)) requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
}

/** 0xC8 IRQL_UNEXPECTED_VALUE: a KernelRoutine returned at another IRQL than APC_LEVEL (apc.ts irqlUnexpectedValue's parameters). */
export function kernelRoutineIrql(cpu: Cpu, apc: number, kernelRoutine: number, normalRoutine: number): BugCheck {
  const irql = cpu.prcb.irql;
  return new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, ((irql << 16) | (APC_LEVEL << 8)) >>> 0, kernelRoutine, apcAddress(apc), normalRoutine).withDetail(
    `the KernelRoutine ${cpu.names.routine(kernelRoutine)} of ${apcName(cpu, apc)} returned at ${irqlName(cpu.config.arch, irql)}; KiDeliverApc expects APC_LEVEL`,
  );
}

/** A wait, delay, yield or exit from inside an APC routine: the emulator cannot switch the thread there (see the header). */
export function apcRoutineCannotBlock(cpu: Cpu, name: string): BugCheck {
  return new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.NOT_IMPLEMENTED, cpu.currentPc(), APC_LEVEL, 0).withDetail(
    `${name} from ${cpu.describeRunning()} on thread ${cpu.names.thread(cpu.prcb.currentThread)}, nested on the thread's frame (an APC routine, or a driver's dispatch routine): irqlab does not yet let such a routine block or switch the thread`,
  );
}

/**
 * What leaving a region made deliverable (§5.7): KernelApcPending is set and the APC interrupt
 * requested; at PASSIVE_LEVEL it is taken at the next boundary, before the caller's next
 * instruction; above, when this thread drops below APC_LEVEL. Leaving one never entered: 0xC4/0x3E.
 */
function regionLeft(cpu: Cpu, name: string, exit: RegionExit, words: SharedApcWords): number {
  if (exit.kind === 'not-entered') {
    const [p1, p2, p3, p4] = exit.bugcheck.params;
    throw new BugCheck(exit.bugcheck.code, p1, p2, p3, p4).withDetail(
      `${name} on thread ${cpu.names.thread(cpu.prcb.currentThread)}, which is not inside such a region`,
    );
  }
  if (exit.kind !== 'none') {
    words.kernelApcPending = true;
    requestSoftwareInterrupt(cpu, APC_LEVEL);
  }
  return KCALL_DONE;
}

/** KeInsertQueueApc's frame: the dispatcher operation, recorded with what it asked of which processor (APC_INSERT). */
function* insertQueueApc(cpu: Cpu, request: DispatcherRequestOf<'KeInsertQueueApc'>, ctx: Int32Array, base: number): KernelGenerator {
  const oldIrql = cpu.prcb.irql;
  const reply = yield* dispatcherCall(cpu, request, oldIrql);
  const signal = (reply.apcIpiLo | reply.apcIpiHi) !== 0 ? 2 : reply.flags & ReplyFlag.APC_INTERRUPT_SELF ? 1 : 0;
  cpu.record(TraceEvent.APC_INSERT, request.apc, reply.status, signal);
  if (reply.flags & ReplyFlag.SWITCH) {
    // preempted inside the call (§4.7): r0 reaches the caller when it resumes
    setIrql(cpu, reply.nextWaitIrql);
    return;
  }
  ctx[base + ContextField.R0] = reply.status;
  setIrql(cpu, oldIrql);
}

/** The region calls act on the running thread: a DPC or an ISR has none of its own (emulator policy: 0xA). */
function checkThreadContext(cpu: Cpu, name: string, maxIrql: number): SharedApcWords {
  const prcb = cpu.prcb;
  if (prcb.currentThread === prcb.idleThread || prcb.irql > maxIrql || prcb.dpcRoutineActive) {
    throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, prcb.irql, 0, cpu.currentPc()).withDetail(
      `${name} at ${irqlName(cpu.config.arch, prcb.irql)}${prcb.dpcRoutineActive ? ' in a DPC routine' : ''}: it changes the running thread's APC state and needs a thread at IRQL ≤ ${irqlName(cpu.config.arch, maxIrql)}`,
    );
  }
  return currentApcWords(cpu);
}

function booleanResult(ctx: Int32Array, base: number, value: boolean): number {
  ctx[base + ContextField.R0] = value ? 1 : 0;
  return KCALL_DONE;
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const apcCalls = {
  KeInitializeApc: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeInitializeApc', { op: 'KeInitializeApc', apc: args[0]!, thread: args[1]!, environment: args[2]! }, ctx, base),
  KeInsertQueueApc: (cpu, args, ctx, base) => {
    checkNotWaitNext(cpu, 'KeInsertQueueApc');
    const irql = cpu.prcb.irql;
    if (irql > DISPATCH_LEVEL) {
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, args[0]!, irql, 0, cpu.currentPc()).withDetail(
        `KeInsertQueueApc called at ${irqlName(cpu.config.arch, irql)}; it needs IRQL ≤ DISPATCH_LEVEL`,
      );
    }
    const request = { op: 'KeInsertQueueApc', apc: args[0]!, systemArgument1: args[1]!, systemArgument2: args[2]!, increment: args[3]! } as const;
    cpu.pushKernel('KeInsertQueueApc', 'kernel', insertQueueApc(cpu, request, ctx, base), false);
    return KCALL_DONE;
  },
  KeRemoveQueueApc: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeRemoveQueueApc', { op: 'KeRemoveQueueApc', apc: args[0]! }, ctx, base),
  KeFlushQueueApc: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeFlushQueueApc', { op: 'KeFlushQueueApc', thread: args[0]!, mode: args[1]! }, ctx, base),
  KeAlertThread: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeAlertThread', { op: 'KeAlertThread', thread: args[0]!, mode: args[1]! }, ctx, base),
  KeTestAlertThread: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeTestAlertThread', { op: 'KeTestAlertThread', mode: args[0]! }, ctx, base),
  KeAreApcsDisabled: (cpu, _args, ctx, base) => booleanResult(ctx, base, areApcsDisabled(checkThreadContext(cpu, 'KeAreApcsDisabled', DISPATCH_LEVEL))),
  KeAreAllApcsDisabled: (cpu, _args, ctx, base) =>
    booleanResult(ctx, base, areAllApcsDisabled(checkThreadContext(cpu, 'KeAreAllApcsDisabled', DISPATCH_LEVEL), cpu.prcb.irql)),
  KeEnterCriticalRegion: (cpu) => {
    enterCriticalRegion(checkThreadContext(cpu, 'KeEnterCriticalRegion', APC_LEVEL));
    return KCALL_DONE;
  },
  KeLeaveCriticalRegion: (cpu) => {
    const words = checkThreadContext(cpu, 'KeLeaveCriticalRegion', DISPATCH_LEVEL);
    return regionLeft(cpu, 'KeLeaveCriticalRegion', leaveCriticalRegion(words, words.kernelApcsQueued, cpu.prcb.irql), words);
  },
  KeEnterGuardedRegion: (cpu) => {
    enterGuardedRegion(checkThreadContext(cpu, 'KeEnterGuardedRegion', APC_LEVEL));
    return KCALL_DONE;
  },
  KeLeaveGuardedRegion: (cpu) => {
    const words = checkThreadContext(cpu, 'KeLeaveGuardedRegion', APC_LEVEL);
    return regionLeft(cpu, 'KeLeaveGuardedRegion', leaveGuardedRegion(words, words.kernelApcsQueued, cpu.prcb.irql), words);
  },
} satisfies Record<string, KernelCallHandler>;
