/**
 * The CPU side of the dispatcher lock (nt-semantics.md §4): a dispatcher operation raises to
 * SYNCH_LEVEL and asks the dispatcher database (src/kernel/dispatcher.ts, served by the
 * coordinator one request at a time: holding the dispatcher lock is being served), then acts on
 * the answer: the IPIs it asks for, timer DPCs that expired inside the call, SwapContext when it
 * switches threads (0xB8 from inside a DPC), a DISPATCH interrupt it requests. Also the kernel calls
 * that are one dispatcher operation on an event, semaphore, mutant or thread, and the translation
 * of a bugcheck the dispatcher raised into its report. The operations, their typed fields and
 * their wire format are src/ipc/dispatcher-ops.ts's.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import { apcAddress } from './apc-state.js';
import { apcName } from './apc-call.js';
import { ioBugcheckDetail } from './io.js';
import type { Cpu, DispatchReply, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_SPIN } from './cpu.js';
import { insertQueueDpc } from './dpc.js';
import { sendIpi } from './ipi.js';
import { APC_LEVEL, DISPATCH_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { STATUS } from './status.js';
import { ResumeAction } from './thread.js';
import { TraceEvent } from './trace-events.js';
import { TraceAnnotation } from './trace-annotations.js';
import { checkNotWaitNext } from './wait-gate.js';
import { serviceCallRestarts } from './service-call.js';
import { KCALL_DONE, PAGE_SHIFT } from '../isa/interpreter.js';
import { IpiRequest, timeHi, timeLo } from '../ipc/messages.js';
import { ReplyFlag, encodeDispatchRequest, operationDefinition, requestSubject } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequest } from '../ipc/dispatcher-ops.js';
import { ApcPendingBit, ApcQueuedBit, ContextField, CounterField, ThreadCounterField, ThreadField } from '../shm/layout.js';

/** Cpu.sampleLatency's series (src/cpu/latency-recorder.ts LatencySeriesId) */
const LATENCY_DPC_TO_READY = 2;
const LATENCY_READY_TO_RUNNING = 3;

/** stand-in kernel addresses of KTHREADs for bugcheck parameters (the emulator has no kernel address space) */
export function threadAddress(threadId: number): number {
  return threadId <= 0 ? 0 : 0xfb000000 + threadId * 0x400;
}

/**
 * One dispatcher operation: raise to SYNCH_LEVEL, send the request and wait for the answer, then
 * send the IPIs it asks for and switch threads if it says so. The caller lowers the IRQL
 * afterwards: to its own old IRQL, or to the new thread's when the reply switched.
 */
export function* dispatcherCall(cpu: Cpu, request: DispatcherRequest, oldIrql: number, callPc = 0): Generator<number, DispatchReply, number> {
  const prcb = cpu.prcb;
  if (prcb.irql < cpu.table.synch) setIrql(cpu, cpu.table.synch);
  const w = prcb.requestWords;
  const header = {
    cpu: prcb.number,
    thread: prcb.currentThread,
    // inside an APC routine the thread cannot be switched (see Prcb.apcDeliveryDepth): the dispatcher then requests a DISPATCH interrupt instead
    oldIrql: prcb.apcDeliveryDepth > 0 && oldIrql < DISPATCH_LEVEL ? DISPATCH_LEVEL : oldIrql,
    quantum: prcb.quantum,
    dpcActive: prcb.dpcRoutineActive,
    callPc,
    timeNs: Math.round(cpu.now()),
  };
  const length = encodeDispatchRequest(w, header, request);
  const definition = operationDefinition(request.op);
  const running = prcb.currentThread !== prcb.idleThread ? cpu.layout.thread(prcb.currentThread - 1) : -1;
  // from here until the CPU has switched away from it, the thread may be readied elsewhere: SwapBusy
  if (running >= 0) Atomics.store(cpu.i32, running + ThreadField.SWAP_BUSY, 1);
  const reply = yield* cpu.requestDispatcher(w, length);
  cpu.record(TraceEvent.DISPATCHER, definition.code, reply.status, reply.flags);
  if (reply.woken > 0) threadsWoken(cpu, reply, definition.code, header.timeNs);
  for (let i = 0; i + 1 < reply.readyQueues.length; i += 2) cpu.annotate(TraceAnnotation.READY_QUEUE, reply.readyQueues[i]!, reply.readyQueues[i + 1]!, 0);
  if (reply.flags & ReplyFlag.BUGCHECK) {
    if (running >= 0) Atomics.store(cpu.i32, running + ThreadField.SWAP_BUSY, 0);
    throw dispatcherBugcheck(cpu, reply);
  }
  for (let target = 0; target < cpu.config.cpus; target++) {
    const bit = target < 32 ? (reply.ipiLo >>> target) & 1 : (reply.ipiHi >>> (target - 32)) & 1;
    if (bit) sendIpi(cpu, target, IpiRequest.DPC | IpiRequest.RESCHEDULE);
  }
  // a kernel APC queued to a thread running on another CPU: that CPU takes it at its next boundary below APC_LEVEL (§5.4 step 4)
  if ((reply.apcIpiLo | reply.apcIpiHi) !== 0) {
    for (let target = 0; target < cpu.config.cpus; target++) {
      const bit = target < 32 ? (reply.apcIpiLo >>> target) & 1 : (reply.apcIpiHi >>> (target - 32)) & 1;
      if (bit) sendIpi(cpu, target, IpiRequest.APC);
    }
  }
  // a timer that expired inside the call (KeSetTimer with a due time already past): queue its DPC
  if (!definition.callerRunsTimerDpcs) {
    for (const dpc of reply.dpcs) insertQueueDpc(cpu, dpc, timeLo(reply.systemTime), timeHi(reply.systemTime));
  }
  if (reply.flags & ReplyFlag.SWITCH) {
    // an APC for the thread switched out stays pending in its own words: the switch-in re-derives the request
    yield* swapContext(cpu, reply);
  } else {
    if (running >= 0) Atomics.store(cpu.i32, running + ThreadField.SWAP_BUSY, 0);
    prcb.quantum = reply.quantum;
    if (reply.flags & ReplyFlag.APC_INTERRUPT_SELF) requestSoftwareInterrupt(cpu, APC_LEVEL);
  }
  if (reply.flags & ReplyFlag.REQUEST_DISPATCH) {
    prcb.reschedulePending = true;
    // inside a DPC retirement the DISPATCH interrupt already running checks it when the DPCs are done
    if (!prcb.dpcRoutineActive) requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
  }
  return reply;
}

/**
 * The operation ended `reply.woken` waits, making those threads Ready at `readyNs` (the call's
 * time). Called from a queued DPC's routine, each is a DPC queued → thread ready sample: from the
 * DPC's KeInsertQueueDpc to now. The timeline's wake arrows start here.
 */
function threadsWoken(cpu: Cpu, reply: DispatchReply, operation: number, readyNs: number): void {
  const insertedNs = cpu.prcb.dpcInsertedNs;
  for (let i = 0; i < reply.woken; i++) {
    if (insertedNs >= 0) cpu.sampleLatency(LATENCY_DPC_TO_READY, readyNs - insertedNs);
    cpu.annotate(TraceAnnotation.WAKE_READIED, reply.firstWakeSerial + i, operation, 0);
  }
}

/**
 * SwapContext (§4.8): switch this CPU from its current thread to the one the dispatcher chose.
 * The old thread's context is already in the shared thread table; the new one's is loaded by
 * making its frame the bottom frame. A switch while a DPC routine is active is 0xB8. The new
 * thread may still be switching out on another CPU: wait for its SwapBusy to clear.
 */
function* swapContext(cpu: Cpu, reply: DispatchReply): Generator<number, void, number> {
  const prcb = cpu.prcb;
  const i32 = cpu.i32;
  const self = prcb.number;
  const old = prcb.currentThread;
  const next = reply.next;
  if (prcb.dpcRoutineActive) throw attemptedSwitchFromDpc(cpu, old, next);
  if (next !== prcb.idleThread) {
    const record = cpu.layout.thread(next - 1);
    while (Atomics.load(i32, record + ThreadField.SWAP_BUSY) !== 0) yield SIGNAL_SPIN;
    const base = record + ThreadField.CONTEXT;
    if (reply.resumeAction === ResumeAction.SetResult) i32[base + ContextField.R0] = reply.resumeValue;
    else if (reply.resumeAction === ResumeAction.RestartCall) {
      i32[base + ContextField.PC] = reply.resumeValue;
      serviceCallRestarts(cpu, next);
    } else if (reply.resumeAction === ResumeAction.StartContext) i32[base + ContextField.R0 + 1] = reply.resumeValue;
    else if (reply.resumeAction === ResumeAction.PageIn) {
      // the disk read is done: the page is resident, and the faulting instruction (pc unchanged) runs again
      Atomics.store(i32, cpu.layout.pageState(reply.resumeValue), 0);
      cpu.record(TraceEvent.PAGE_IN, reply.resumeValue << PAGE_SHIFT, next, 0);
    }
    if (self < 32) Atomics.or(i32, record + ThreadField.RAN_ON_LO, 1 << self);
    else Atomics.or(i32, record + ThreadField.RAN_ON_HI, 1 << (self - 32));
  }
  chargeThreadTime(cpu, cpu.now());
  cpu.switchBottomFrame(next);
  if (old !== prcb.idleThread) Atomics.store(i32, cpu.layout.thread(old - 1) + ThreadField.SWAP_BUSY, 0);
  cpu.f64[cpu.counters + CounterField.CONTEXT_SWITCHES] += 1;
  cpu.f64[cpu.layout.threadCounters(next - 1) + ThreadCounterField.CONTEXT_SWITCHES] += 1;
  prcb.currentThread = next;
  prcb.quantum = reply.quantum;
  prcb.quantumEnd = false;
  requestApcForIncomingThread(cpu, next);
  // a thread woken from a wait runs: the ready → running sample, and the end of its wake arrow
  if (reply.nextWakeSerial !== 0) cpu.sampleLatency(LATENCY_READY_TO_RUNNING, cpu.now() - reply.nextReadyNs);
  cpu.record(TraceEvent.CONTEXT_SWITCH, old, next, reply.nextWaitIrql);
  if (reply.nextWakeSerial !== 0) cpu.annotate(TraceAnnotation.WAKE_SWITCH_IN, reply.nextWakeSerial, next, 0);
}

/**
 * §12 item 2: APC-pending belongs to the thread. An APC request left on this CPU belonged to the
 * thread switched out (its KernelApcPending keeps it); the incoming thread's own KernelApcPending,
 * outside a guarded region, requests the APC interrupt here. It fires when that thread's IRQL is
 * below APC_LEVEL: at once for a thread that waited at PASSIVE_LEVEL (before its code, §4.8 step 7),
 * when it lowers for one that waited at APC_LEVEL.
 */
function requestApcForIncomingThread(cpu: Cpu, next: number): void {
  const prcb = cpu.prcb;
  prcb.softPending &= ~(1 << APC_LEVEL);
  if (next === prcb.idleThread) return;
  const record = cpu.layout.thread(next - 1);
  if ((Atomics.load(cpu.i32, record + ThreadField.APC_PENDING) & ApcPendingBit.KERNEL) === 0) return;
  if (cpu.i32[record + ThreadField.SPECIAL_APC_DISABLE] !== 0) return;
  requestSoftwareInterrupt(cpu, APC_LEVEL);
}

/** The running thread has kernel APCs queued (APC_QUEUED): request the APC interrupt; KiDeliverApc decides what may run. */
function requestQueuedKernelApcs(cpu: Cpu): void {
  const prcb = cpu.prcb;
  if (prcb.currentThread === prcb.idleThread) return;
  const record = cpu.layout.thread(prcb.currentThread - 1);
  if ((Atomics.load(cpu.i32, record + ThreadField.APC_QUEUED) & ApcQueuedBit.KERNEL) === 0) return;
  requestSoftwareInterrupt(cpu, APC_LEVEL);
}

/** Add the running thread's time since it was switched in (or since the last charge) to its counter. */
export function chargeThreadTime(cpu: Cpu, at: number): void {
  const prcb = cpu.prcb;
  const now = Math.min(at, cpu.config.durationNs);
  if (now > prcb.threadSinceNs) cpu.f64[cpu.layout.threadCounters(prcb.currentThread - 1) + ThreadCounterField.RUN_NS] += now - prcb.threadSinceNs;
  prcb.threadSinceNs = now;
}

function threadStackTop(cpu: Cpu, id: number): number {
  if (id >= 1 && id <= cpu.config.cpus) return cpu.config.interruptStackTops[id - 1] ?? 0;
  return cpu.config.threads.find((t) => t.id === id)?.stackTop ?? 0;
}

/** 0xB8 ATTEMPTED_SWITCH_FROM_DPC: P1 the thread the DPC interrupted, P2 the one that would run, P3 the old thread's initial stack. */
function attemptedSwitchFromDpc(cpu: Cpu, old: number, next: number): BugCheck {
  return new BugCheck(BUGCHECK.ATTEMPTED_SWITCH_FROM_DPC, threadAddress(old), threadAddress(next), threadStackTop(cpu, old), 0).withDetail(
    `a DPC routine running on thread ${cpu.names.thread(old)} tried to block or switch (to ${cpu.names.thread(next)}); a DPC does not own the thread it runs on`,
  );
}

/** The fail-fast policy of §4.13 inside a DPC: ask who would run next (without switching), then raise 0xB8. */
export function* switchFromDpc(cpu: Cpu, what: string): KernelGenerator {
  const prcb = cpu.prcb;
  const irql = prcb.irql;
  const reply = yield* dispatcherCall(cpu, { op: 'PeekNextThread' }, irql);
  setIrql(cpu, irql);
  const bugcheck = attemptedSwitchFromDpc(cpu, prcb.currentThread, reply.status);
  bugcheck.detail = `${what} was called from a DPC routine (${cpu.describeRunning()}) on thread ${cpu.names.thread(prcb.currentThread)}; a wait there would switch to ${cpu.names.thread(reply.status)}`;
  throw bugcheck;
}

/** A bugcheck the dispatcher raised, with the names and prose of its report. */
function dispatcherBugcheck(cpu: Cpu, reply: DispatchReply): BugCheck {
  const [p1, p2, p3, p4] = reply.bugcheckParams;
  const code = reply.bugcheckCode;
  const names = cpu.names;
  if (code === BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED) {
    const status = p1 >>> 0;
    const object = names.object(p3);
    const reason =
      status === STATUS.MUTANT_NOT_OWNED
        ? `KeReleaseMutant/KeReleaseMutex on ${object}, which thread ${names.thread(p4)} does not own, raised STATUS_MUTANT_NOT_OWNED`
        : status === STATUS.SEMAPHORE_LIMIT_EXCEEDED
          ? `KeReleaseSemaphore on ${object} would pass its limit: STATUS_SEMAPHORE_LIMIT_EXCEEDED`
          : status === STATUS.MUTANT_LIMIT_EXCEEDED
            ? `thread ${names.thread(p4)} acquired ${object} recursively too many times: STATUS_MUTANT_LIMIT_EXCEEDED`
            : status === STATUS.ABANDONED
              ? `${object} was abandoned; releasing it raised STATUS_ABANDONED`
              : status === STATUS.INVALID_HANDLE
                ? `object id ${p3} is not the kind of dispatcher object this call takes: STATUS_INVALID_HANDLE`
                : `the dispatcher raised status 0x${status.toString(16)} for ${object}`;
    return new BugCheck(code, status, cpu.currentPc(), p3, 0).withDetail(`${reason}; nobody handles exceptions in kernel mode`);
  }
  if (code === BUGCHECK.THREAD_TERMINATE_HELD_MUTEX) {
    return new BugCheck(code, threadAddress(p1), p2, 0, 0).withDetail(`thread ${names.thread(p1)} terminated while holding ${names.object(p2)} (a KMUTEX)`);
  }
  if (code === BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT) {
    const apcId = ((p1 >>> 0) - apcAddress(0)) / (apcAddress(1) - apcAddress(0));
    const queued = p1 !== 0 ? `APC ${apcName(cpu, apcId)} still queued` : 'no kernel APC queued';
    const disabled = p2 !== 0 ? `, APCs disabled (CombinedApcDisable 0x${(p2 >>> 0).toString(16)}: a critical or guarded region never left)` : '';
    return new BugCheck(code, p1 >>> 0, p2 >>> 0, p3 >>> 0, p4 >>> 0).withDetail(
      `thread ${names.thread(cpu.prcb.currentThread)} exited with ${queued}${disabled}`,
    );
  }
  const bugcheck = new BugCheck(code, p1 >>> 0, p2 >>> 0, p3 >>> 0, p4 >>> 0);
  const ioDetail = ioBugcheckDetail(code, reply.bugcheckParams);
  return ioDetail === null ? bugcheck : bugcheck.withDetail(ioDetail);
}

/**
 * A kernel call that is one dispatcher operation. IRQL rules (emulator policy, §1.5/§4.13): set,
 * release, read and priority calls need IRQL ≤ DISPATCH_LEVEL, else 0xA; after a set/release
 * with Wait = TRUE only a wait may come next.
 */
export function dispatcherKcall(cpu: Cpu, name: string, request: DispatcherRequest, ctx: Int32Array, base: number): number {
  checkNotWaitNext(cpu, name);
  const irql = cpu.prcb.irql;
  if (irql > DISPATCH_LEVEL) {
    throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, requestSubject(request), irql, 0, cpu.currentPc()).withDetail(
      `${name} called at ${irqlName(cpu.config.arch, irql)}; dispatcher calls need IRQL ≤ DISPATCH_LEVEL`,
    );
  }
  cpu.pushKernel(name, 'kernel', dispatcherOperation(cpu, request, ctx, base), false);
  return KCALL_DONE;
}

/**
 * The kernel frame of a dispatcher kernel call: r0 = the reply's status (or, when it switched, when
 * the caller resumes). A set or release with Wait = TRUE keeps the dispatcher lock for the wait
 * that must follow.
 */
export function* dispatcherOperation(cpu: Cpu, request: DispatcherRequest, ctx: Int32Array, base: number): KernelGenerator {
  const prcb = cpu.prcb;
  const oldIrql = prcb.irql;
  const reply = yield* dispatcherCall(cpu, request, oldIrql);
  if (reply.flags & ReplyFlag.SWITCH) {
    // preempted inside the call (§4.7): r0 reaches the caller when it resumes
    setIrql(cpu, reply.nextWaitIrql);
    return;
  }
  ctx[base + ContextField.R0] = reply.status;
  // releasing a KMUTEX may end what held normal kernel APCs off (apc.ts holdsKernelMutex): let KiDeliverApc look
  if (request.op === 'KeReleaseMutant') requestQueuedKernelApcs(cpu);
  const keepLock = 'wait' in request && request.wait;
  if (keepLock && prcb.currentThread !== prcb.idleThread) {
    // Wait = TRUE: return at SYNCH_LEVEL holding the dispatcher lock; the wait that must follow releases it
    prcb.waitNext = true;
    prcb.waitNextIrql = oldIrql;
    prcb.waitNextInstructions = cpu.instructions;
    return;
  }
  setIrql(cpu, oldIrql);
}

// ======================================================================================
// Kernel calls on events, semaphores, mutants and threads
// ======================================================================================

export const dispatcherObjectCalls = {
  KeSetEvent: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeSetEvent', { op: 'KeSetEvent', event: args[0]!, increment: args[1]!, wait: args[2] !== 0 }, ctx, base),
  KeResetEvent: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeResetEvent', { op: 'KeResetEvent', event: args[0]! }, ctx, base),
  KeClearEvent: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeClearEvent', { op: 'KeResetEvent', event: args[0]! }, ctx, base),
  KePulseEvent: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KePulseEvent', { op: 'KePulseEvent', event: args[0]!, increment: args[1]!, wait: args[2] !== 0 }, ctx, base),
  KeReadStateEvent: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeReadStateEvent', { op: 'KeReadState', object: args[0]! }, ctx, base),
  KeReadStateSemaphore: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeReadStateSemaphore', { op: 'KeReadState', object: args[0]! }, ctx, base),
  KeReadStateMutex: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeReadStateMutex', { op: 'KeReadState', object: args[0]! }, ctx, base),
  KeReleaseSemaphore: (cpu, args, ctx, base) =>
    dispatcherKcall(
      cpu,
      'KeReleaseSemaphore',
      { op: 'KeReleaseSemaphore', semaphore: args[0]!, increment: args[1]!, adjustment: args[2]!, wait: args[3] !== 0 },
      ctx,
      base,
    ),
  KeReleaseMutex: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeReleaseMutex', { op: 'KeReleaseMutant', mutant: args[0]!, increment: 1, abandon: false, wait: args[1] !== 0 }, ctx, base),
  KeReleaseMutant: (cpu, args, ctx, base) =>
    dispatcherKcall(
      cpu,
      'KeReleaseMutant',
      { op: 'KeReleaseMutant', mutant: args[0]!, increment: args[1]!, abandon: args[2] !== 0, wait: args[3] !== 0 },
      ctx,
      base,
    ),
  KeSetPriorityThread: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeSetPriorityThread', { op: 'KeSetPriorityThread', thread: args[0]!, priority: args[1]! }, ctx, base),
  KeQueryPriorityThread: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeQueryPriorityThread', { op: 'KeQueryPriorityThread', thread: args[0]! }, ctx, base),
  PsCreateSystemThread: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'PsCreateSystemThread', { op: 'PsCreateSystemThread', thread: args[0]!, startContext: args[1]! }, ctx, base),
  KeGetCurrentThread: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = cpu.prcb.currentThread;
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
