/**
 * The CPU side of waits, delays, yields and thread exits (nt-semantics.md §1.5, §4.11, §4.13):
 * the one IRQL gate they all pass (blockingCallGate: a call that may block or switch inside a DPC
 * is 0xB8 ATTEMPTED_SWITCH_FROM_DPC; elsewhere at too high an IRQL the caller's own bugcheck), the
 * dispatcher lock held across a set/release with Wait = TRUE (only a wait may follow), and the
 * kernel calls KeWaitForSingleObject, KeWaitForMultipleObjects, KeDelayExecutionThread,
 * ZwYieldExecution and PsTerminateSystemThread. The waits themselves (satisfaction, wait blocks)
 * are the dispatcher's: src/kernel/wait-block.ts.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { dispatcherCall, dispatcherOperation, switchFromDpc } from './dispatcher-call.js';
import { apcRoutineCannotBlock } from './apc-call.js';
import { exitThreadUserApcs, serviceCallRestarts } from './service-call.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { readLargeInteger, readWord } from './mm.js';
import { MAXIMUM_WAIT_OBJECTS, STATUS, THREAD_WAIT_OBJECTS, WaitType } from './status.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { ReplyFlag } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequest } from '../ipc/dispatcher-ops.js';
import { ContextField } from '../shm/layout.js';

/**
 * A wait's APC-related arguments (Alertable, WaitMode), carried to the dispatcher as the caller
 * passed them (KiCheckAlertability, §4.11 step 4: src/kernel/wait-block.ts).
 */
interface WaitApcFields {
  alertable: boolean;
  waitMode: number;
}

export function waitApcFields(alertable: number, waitMode: number): WaitApcFields {
  return { alertable: alertable !== 0, waitMode };
}

/** What a call does to its thread, for the gate: a wait that may block, one that cannot (zero timeout), a switch, an exit. */
export type BlockingKind = 'wait' | 'poll' | 'switch' | 'exit';

/**
 * The IRQL gate of every call that may block or switch the calling thread. Returns true when the
 * call may go on. Inside a DPC (DpcRoutineActive at DISPATCH_LEVEL; for an exit, at or above it)
 * it pushes the 0xB8 report's frame (who would have run) and returns false. Otherwise a wait or a
 * switch at DISPATCH_LEVEL or above (a poll: above DISPATCH_LEVEL), or an exit above
 * PASSIVE_LEVEL, throws `refuse()`.
 */
export function blockingCallGate(cpu: Cpu, name: string, oldIrql: number, kind: BlockingKind, refuse: () => BugCheck): boolean {
  if (cpu.prcb.apcDeliveryDepth > 0 && kind !== 'poll') throw apcRoutineCannotBlock(cpu, name);
  const inDpc = cpu.prcb.dpcRoutineActive;
  const fromDpc = kind === 'exit' ? inDpc && oldIrql >= DISPATCH_LEVEL : kind !== 'poll' && inDpc && oldIrql === DISPATCH_LEVEL;
  if (fromDpc) {
    cpu.pushKernel(name, 'kernel', switchFromDpc(cpu, name), false);
    return false;
  }
  const refused = kind === 'exit' ? oldIrql !== PASSIVE_LEVEL : kind === 'poll' ? oldIrql > DISPATCH_LEVEL : oldIrql >= DISPATCH_LEVEL;
  if (refused) throw refuse();
  return true;
}

/** After a Wait = TRUE set/release the caller holds the dispatcher lock at SYNCH_LEVEL: anything but a wait is a bug. */
export function checkNotWaitNext(cpu: Cpu, name: string): void {
  if (!cpu.prcb.waitNext) return;
  throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, cpu.prcb.irql, 0, cpu.currentPc()).withDetail(
    `${name} was called after a set/release with Wait = TRUE, which returns at SYNCH_LEVEL holding the dispatcher lock; the next call must be KeWaitForSingleObject or KeWaitForMultipleObjects`,
  );
}

/** The IRQL a blocking call returns to: the caller's, or the one it had before its Wait = TRUE set/release. */
function callerIrql(cpu: Cpu): number {
  return cpu.prcb.waitNext ? cpu.prcb.waitNextIrql : cpu.prcb.irql;
}

/**
 * KeWaitForSingleObject / KeWaitForMultipleObjects: the IRQL rules of §4.13 (emulator policy: a
 * wait that could block at DISPATCH_LEVEL is 0xB8 inside a DPC, else 0xA; above DISPATCH_LEVEL
 * always 0xA), then the dispatcher operation. A blocked thread gets its status when it resumes.
 */
export function waitKcall(
  cpu: Cpu,
  name: string,
  objects: ArrayLike<number>,
  waitType: number,
  waitReason: number,
  apc: WaitApcFields,
  timeoutAddress: number,
  ctx: Int32Array,
  base: number,
): number {
  const prcb = cpu.prcb;
  const oldIrql = callerIrql(cpu);
  // a wait's timeout: null for none (a NULL pointer: wait forever), else the LARGE_INTEGER's value in 100 ns units (negative: relative)
  const timeout = timeoutAddress === 0 ? null : readLargeInteger(cpu, timeoutAddress);
  const mayBlock = timeout !== 0;
  const refuse = (): BugCheck =>
    new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, objects[0] ?? 0, oldIrql, 0, cpu.currentPc()).withDetail(
      `${name} ${mayBlock ? 'with a timeout that may block' : ''} at ${irqlName(cpu.config.arch, oldIrql)} on thread ${cpu.names.thread(prcb.currentThread)}: ` +
        (oldIrql > DISPATCH_LEVEL
          ? 'waits need IRQL ≤ DISPATCH_LEVEL'
          : 'a wait that can block needs IRQL ≤ APC_LEVEL (irqlab raises 0xA for it outside a DPC: a verifier-strict policy)'),
    );
  if (!blockingCallGate(cpu, name, oldIrql, mayBlock ? 'wait' : 'poll', refuse)) return KCALL_DONE;
  const waitNext = prcb.waitNext;
  prcb.waitNext = false;
  const callPc = ctx[base + ContextField.PC]!;
  const request: DispatcherRequest = { op: 'KeWaitForObjects', waitType, waitReason, timeout, ...apc, objects: Array.from(objects) };
  cpu.pushKernel(name, 'kernel', waitOperation(cpu, request, waitNext ? oldIrql : -1, callPc, ctx, base), false);
  return KCALL_DONE;
}

function* waitOperation(cpu: Cpu, request: DispatcherRequest, waitNextIrql: number, callPc: number, ctx: Int32Array, base: number): KernelGenerator {
  const oldIrql = waitNextIrql >= 0 ? waitNextIrql : cpu.prcb.irql;
  const reply = yield* dispatcherCall(cpu, request, oldIrql, callPc);
  if (reply.flags & ReplyFlag.SWITCH) {
    setIrql(cpu, reply.nextWaitIrql);
    return;
  }
  if (reply.status === STATUS.KERNEL_APC) {
    restartAfterKernelApc(cpu, oldIrql, callPc, ctx, base);
    return;
  }
  ctx[base + ContextField.R0] = reply.status;
  setIrql(cpu, oldIrql);
}

/**
 * KeDelayExecutionThread(mode, alertable, interval): the IRQL rules of a wait that can block (a DPC
 * gets 0xB8: the first seed's crash); the thread sleeps on its own timer.
 */
function delayKcall(cpu: Cpu, apc: WaitApcFields, intervalAddress: number, ctx: Int32Array, base: number): number {
  return delayExecution(cpu, apc, readLargeInteger(cpu, intervalAddress), ctx, base);
}

/** KeDelayExecutionThread for `interval` (100 ns units, negative: relative): r0 = its status. */
export function delayExecution(cpu: Cpu, apc: WaitApcFields, interval: number, ctx: Int32Array, base: number): number {
  const prcb = cpu.prcb;
  const oldIrql = callerIrql(cpu);
  const refuse = (): BugCheck =>
    new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, oldIrql, 0, cpu.currentPc()).withDetail(
      `KeDelayExecutionThread at ${irqlName(cpu.config.arch, oldIrql)} on thread ${cpu.names.thread(prcb.currentThread)}: a delay blocks, which needs IRQL ≤ APC_LEVEL`,
    );
  if (!blockingCallGate(cpu, 'KeDelayExecutionThread', oldIrql, 'wait', refuse)) return KCALL_DONE;
  prcb.waitNext = false;
  const callPc = ctx[base + ContextField.PC]!;
  cpu.pushKernel(
    'KeDelayExecutionThread',
    'kernel',
    delayOperation(cpu, { op: 'KeDelayExecutionThread', interval, ...apc }, oldIrql, callPc, ctx, base),
    false,
  );
  return KCALL_DONE;
}

function* delayOperation(cpu: Cpu, request: DispatcherRequest, oldIrql: number, callPc: number, ctx: Int32Array, base: number): KernelGenerator {
  const reply = yield* dispatcherCall(cpu, request, oldIrql, callPc);
  if (reply.flags & ReplyFlag.SWITCH) {
    setIrql(cpu, reply.nextWaitIrql);
    return;
  }
  if (reply.status === STATUS.KERNEL_APC) {
    restartAfterKernelApc(cpu, oldIrql, callPc, ctx, base);
    return;
  }
  ctx[base + ContextField.R0] = reply.status;
  setIrql(cpu, oldIrql);
}

/**
 * §4.11 step 2 on the CPU: the dispatcher found a kernel APC pending as the wait began. The wait
 * call is issued again (pc back on it) after the APC interrupt, which lowering to the caller's
 * PASSIVE_LEVEL takes first: the caller never sees STATUS_KERNEL_APC.
 */
function restartAfterKernelApc(cpu: Cpu, oldIrql: number, callPc: number, ctx: Int32Array, base: number): void {
  ctx[base + ContextField.PC] = callPc;
  serviceCallRestarts(cpu, cpu.prcb.currentThread);
  requestSoftwareInterrupt(cpu, APC_LEVEL);
  setIrql(cpu, oldIrql);
}

/** PspExitThread: the running thread ends; the CPU switches to the next one and never comes back here. */
function* exitThread(cpu: Cpu, exitStatus: number): KernelGenerator {
  yield* exitThreadUserApcs(cpu);
  // the reply always switches: this frame's thread is gone; the CPU continues at the next thread's IRQL
  const reply = yield* dispatcherCall(cpu, { op: 'PspExitThread', exitStatus }, cpu.prcb.irql);
  setIrql(cpu, reply.nextWaitIrql);
}

/**
 * A thread body returned: it plays a system service, so returning from it returns to user mode,
 * which must happen at PASSIVE_LEVEL (§1.5); its return is PsTerminateSystemThread(r0). Its frame
 * stays until the switch replaces it.
 */
export function threadBodyReturned(cpu: Cpu, routine: number, result: number): void {
  const prcb = cpu.prcb;
  cpu.record(TraceEvent.THREAD_EXIT, routine, result, 0);
  if (prcb.irql !== PASSIVE_LEVEL) {
    throw new BugCheck(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, routine, prcb.irql, 0, 0).withDetail(
      `thread ${cpu.names.thread(prcb.currentThread)} (body ${cpu.names.routine(routine)}) returned to user mode at ${irqlName(cpu.config.arch, prcb.irql)}`,
    );
  }
  cpu.pushKernel('PspExitThread', 'thread', exitThread(cpu, result), false);
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const waitCalls = {
  KeWaitForSingleObject: (cpu, args, ctx, base) =>
    waitKcall(cpu, 'KeWaitForSingleObject', [args[0]!], WaitType.WaitAny, args[1]!, waitApcFields(args[3]!, args[2]!), args[4]!, ctx, base),
  KeWaitForMultipleObjects: (cpu, args, ctx, base) => {
    const count = args[0]!;
    if (count < 1 || count > MAXIMUM_WAIT_OBJECTS || (count > THREAD_WAIT_OBJECTS && args[7] === 0)) {
      const limit = count > MAXIMUM_WAIT_OBJECTS || count < 1 ? MAXIMUM_WAIT_OBJECTS : THREAD_WAIT_OBJECTS;
      throw new BugCheck(BUGCHECK.MAXIMUM_WAIT_OBJECTS_EXCEEDED, count, limit, 0, 0).withDetail(
        count > THREAD_WAIT_OBJECTS && count <= MAXIMUM_WAIT_OBJECTS
          ? `KeWaitForMultipleObjects on ${count} objects without a wait-block array (the thread's own blocks hold ${THREAD_WAIT_OBJECTS})`
          : `KeWaitForMultipleObjects on ${count} objects (1 to ${MAXIMUM_WAIT_OBJECTS})`,
      );
    }
    const objects: number[] = [];
    for (let i = 0; i < count; i++) objects.push(readWord(cpu, args[1]! + i * 4));
    const waitType = args[2] === WaitType.WaitAll ? WaitType.WaitAll : WaitType.WaitAny;
    return waitKcall(cpu, 'KeWaitForMultipleObjects', objects, waitType, args[3]!, waitApcFields(args[5]!, args[4]!), args[6]!, ctx, base);
  },
  KeDelayExecutionThread: (cpu, args, ctx, base) => delayKcall(cpu, waitApcFields(args[1]!, args[0]!), args[2]!, ctx, base),
  /** ZwYieldExecution: like a wait, a switch from a DPC is 0xB8; at or above DISPATCH_LEVEL in a thread, 0xA. */
  ZwYieldExecution: (cpu, _args, ctx, base) => {
    checkNotWaitNext(cpu, 'ZwYieldExecution');
    const irql = cpu.prcb.irql;
    const refuse = (): BugCheck =>
      new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, cpu.currentPc()).withDetail(
        `ZwYieldExecution at ${irqlName(cpu.config.arch, irql)}: a switch needs IRQL < DISPATCH_LEVEL`,
      );
    if (!blockingCallGate(cpu, 'ZwYieldExecution', irql, 'switch', refuse)) return KCALL_DONE;
    cpu.pushKernel('ZwYieldExecution', 'kernel', dispatcherOperation(cpu, { op: 'NtYieldExecution' }, ctx, base), false);
    return KCALL_DONE;
  },
  PsTerminateSystemThread: (cpu, args) => {
    const prcb = cpu.prcb;
    const irql = prcb.irql;
    const refuse = (): BugCheck =>
      new BugCheck(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, cpu.currentPc(), irql, 0, 0).withDetail(
        `PsTerminateSystemThread at ${irqlName(cpu.config.arch, irql)} on thread ${cpu.names.thread(prcb.currentThread)}`,
      );
    if (!blockingCallGate(cpu, 'PsTerminateSystemThread', irql, 'exit', refuse)) return KCALL_DONE;
    cpu.pushKernel('PspExitThread', 'thread', exitThread(cpu, args[0]!), false);
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
