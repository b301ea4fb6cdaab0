/**
 * KDPC: deferred procedure calls (nt-semantics.md §2): KeInsertQueueDpc, KeRemoveQueueDpc and
 * KiRetireDpcList (where a DPC routine runs), with their pure rules: KeInsertQueueDpc's decision to
 * request a DISPATCH interrupt (locally) or an IPI (remotely), the DpcData tag that marks a DPC as
 * queued, and the per-tick rate/depth adaptation of KeUpdateRunTime. The KDPC objects live in shared
 * memory (layout DpcField) because any CPU may queue any DPC; each CPU's DPC queue is in its own
 * Prcb (src/kernel/prcb.ts), which only that CPU touches; an inserter on another CPU updates the
 * target's published depth and request flag (as NT's does under the target's DPC lock) and sends
 * the entry in a DPC link message.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL, SIGNAL_SPIN } from './cpu.js';
import { DISPATCH_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { dispatcherCall } from './dispatcher-call.js';
import { sendIpi } from './ipi.js';
import { timerExpiration } from './clock.js';
import type { DpcEntry } from './prcb.js';
import { STATUS } from './status.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { IpiRequest, Kind, actorOfCpu, timeHi, timeLo } from '../ipc/messages.js';
import { ReplyFlag } from '../ipc/dispatcher-ops.js';
import { ContextField, CounterField, DpcField, PrcbField } from '../shm/layout.js';

export const DpcImportanceValue = { Low: 0, Medium: 1, High: 2, MediumHigh: 3 } as const;

/** NT 5.2 defaults (KiMaximumDpcQueueDepth, KiMinimumDpcRate, KiAdjustDpcThreshold, KiIdealDpcRate). */
export interface DpcTunables {
  maximumDpcQueueDepth: number;
  minimumDpcRate: number;
  adjustDpcThreshold: number;
  idealDpcRate: number;
}

export const DEFAULT_DPC_TUNABLES: DpcTunables = {
  maximumDpcQueueDepth: 4,
  minimumDpcRate: 3,
  adjustDpcThreshold: 20,
  idealDpcRate: 20,
};

/** The PRCB fields the request rules and the tick adaptation read and write. */
export interface DpcRateState {
  maximumDpcQueueDepth: number;
  minimumDpcRate: number;
  dpcRequestRate: number;
  dpcLastCount: number;
  /** cumulative inserts into this CPU's queue (DpcCount) */
  dpcCount: number;
  adjustDpcThreshold: number;
}

/**
 * DpcData tag: which CPU's queue holds the DPC, plus a generation so an entry left behind by a
 * KeRemoveQueueDpc (then re-queued) is recognised as stale. 0 is NULL: not queued.
 */
export function dpcTag(cpu: number, generation: number): number {
  return ((generation & 0xffffff) << 8) | (cpu + 1);
}

export function dpcTagCpu(tag: number): number {
  return (tag & 0xff) - 1;
}

/**
 * KeInsertQueueDpc, target == current CPU (§2.3 step 5): request a DISPATCH interrupt unless one is
 * already running or requested, if the DPC is not Low, or the queue is deep, or the request rate low.
 */
export function shouldRequestLocalDpc(
  importance: number,
  depthAfterInsert: number,
  rate: DpcRateState,
  dpcRoutineActive: boolean,
  dpcInterruptRequested: boolean,
): boolean {
  if (dpcRoutineActive || dpcInterruptRequested) return false;
  return importance !== DpcImportanceValue.Low || depthAfterInsert >= rate.maximumDpcQueueDepth || rate.dpcRequestRate < rate.minimumDpcRate;
}

/**
 * KeInsertQueueDpc, target ≠ current CPU: an IPI only for High/MediumHigh importance or a deep
 * queue, and only if the target is not already retiring or requested. (The "idle but not halted"
 * exception of NT never applies: an idle emulated CPU is halted, and the DPC link message that
 * carries the DPC wakes it, so its idle loop drains the queue without an IPI.)
 */
export function shouldRequestRemoteDpc(
  importance: number,
  targetDepthAfterInsert: number,
  targetMaximumDepth: number,
  targetRoutineActive: boolean,
  targetInterruptRequested: boolean,
): boolean {
  if (targetRoutineActive || targetInterruptRequested) return false;
  return importance === DpcImportanceValue.High || importance === DpcImportanceValue.MediumHigh || targetDepthAfterInsert >= targetMaximumDepth;
}

/**
 * KeUpdateRunTime's DPC part (§2.6), once per clock tick. Returns whether to request a DISPATCH
 * interrupt (how Low DPCs and unsignalled remote DPCs eventually run).
 */
export function updateDpcRate(rate: DpcRateState, queueDepth: number, dpcRoutineActive: boolean, tunables: DpcTunables): boolean {
  rate.dpcRequestRate = Math.floor((rate.dpcCount - rate.dpcLastCount + rate.dpcRequestRate) / 2);
  rate.dpcLastCount = rate.dpcCount;
  if (queueDepth > 0 && !dpcRoutineActive) {
    rate.adjustDpcThreshold = tunables.adjustDpcThreshold;
    if (rate.dpcRequestRate < tunables.idealDpcRate && rate.maximumDpcQueueDepth > 1) rate.maximumDpcQueueDepth--;
    return true;
  }
  rate.adjustDpcThreshold--;
  if (rate.adjustDpcThreshold <= 0) {
    rate.adjustDpcThreshold = tunables.adjustDpcThreshold;
    if (rate.maximumDpcQueueDepth !== tunables.maximumDpcQueueDepth) rate.maximumDpcQueueDepth++;
  }
  return false;
}

export function importanceFromName(name: string | undefined): number {
  switch (name) {
    case 'Low':
      return DpcImportanceValue.Low;
    case 'High':
      return DpcImportanceValue.High;
    case 'MediumHigh':
      return DpcImportanceValue.MediumHigh;
    default:
      return DpcImportanceValue.Medium;
  }
}

// ======================================================================================
// The DPC queue of the CPU running the routine
// ======================================================================================

/**
 * DpcQueueDepth (§2.3): the DPCs claimed for this CPU's queue and not yet dequeued. An inserter
 * on any CPU adds to it when it claims a DPC for this CPU (as NT's does under this CPU's DPC
 * lock); whoever clears the DPC's DpcData (KiRetireDpcList here, KeRemoveQueueDpc anywhere)
 * takes it off. A remote DPC whose link message is still on its way counts already.
 */
export function dpcQueueDepth(cpu: Cpu): number {
  return Atomics.load(cpu.i32, cpu.prcb.shared + PrcbField.DPC_QUEUE_DEPTH);
}

/** DpcInterruptRequested plus a DISPATCH software interrupt: the DPC queue is to be retired. */
export function requestDpcInterrupt(cpu: Cpu): void {
  Atomics.store(cpu.i32, cpu.prcb.shared + PrcbField.DPC_INTERRUPT_REQUESTED, 1);
  requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
}

export function clearDpcRequest(cpu: Cpu): void {
  Atomics.store(cpu.i32, cpu.prcb.shared + PrcbField.DPC_INTERRUPT_REQUESTED, 0);
}

/** Put a DPC claimed for this CPU on its queue (its depth was counted by the inserter). */
export function linkDpc(cpu: Cpu, dpc: number, tag: number, insertedNs: number, fromIsr: boolean): void {
  const prcb = cpu.prcb;
  const importance = cpu.i32[cpu.layout.dpc(dpc) + DpcField.IMPORTANCE]!;
  const entry: DpcEntry = { dpc, tag, insertedNs, fromIsr };
  if (importance === DpcImportanceValue.High) prcb.dpcQueue.unshift(entry);
  else prcb.dpcQueue.push(entry);
  prcb.dpcRate.dpcCount++;
  const depth = dpcQueueDepth(cpu);
  if (depth > cpu.f64[cpu.counters + CounterField.MAX_DPC_QUEUE_DEPTH]!) cpu.f64[cpu.counters + CounterField.MAX_DPC_QUEUE_DEPTH] = depth;
}

/** The DPC link message (the remote half of KeInsertQueueDpc) reached this CPU. */
export function dpcLinkArrived(cpu: Cpu, dpc: number, tag: number, insertedNs: number, fromIsr: boolean): void {
  // a KeRemoveQueueDpc may have won since the sender claimed it
  if (Atomics.load(cpu.i32, cpu.layout.dpc(dpc) + DpcField.DPC_DATA) !== tag) return;
  linkDpc(cpu, dpc, tag, insertedNs, fromIsr);
}

/** KeInsertQueueDpc (§2.3): 1 if queued, 0 if it was already queued. */
export function insertQueueDpc(cpu: Cpu, dpc: number, sa1: number, sa2: number): number {
  const i32 = cpu.i32;
  const self = cpu.prcb.number;
  const record = cpu.layout.dpc(dpc);
  const targetField = i32[record + DpcField.TARGET]!;
  const target = targetField >= 0 ? targetField : self;
  const generation = (Atomics.add(i32, record + DpcField.GENERATION, 1) + 1) & 0xffffff;
  const tag = dpcTag(target, generation);
  if (Atomics.compareExchange(i32, record + DpcField.DPC_DATA, 0, tag) !== 0) {
    cpu.record(TraceEvent.DPC_INSERT, dpc, target, 0);
    return 0;
  }
  i32[record + DpcField.SYSTEM_ARGUMENT1] = sa1;
  i32[record + DpcField.SYSTEM_ARGUMENT2] = sa2;
  const importance = i32[record + DpcField.IMPORTANCE]!;
  const now = cpu.now();
  const fromIsr = cpu.inIsr();
  cpu.record(TraceEvent.DPC_INSERT, dpc, target, 1);
  // DpcQueueDepth++ and the request decision on the target's PRCB, by the inserter, as NT's
  // KeInsertQueueDpc does under the target's DPC lock: the request flag is claimed with a
  // compare-exchange, so of several inserters (or this one, several times) exactly one requests
  const targetPrcb = cpu.layout.prcb(target);
  const depth = Atomics.add(i32, targetPrcb + PrcbField.DPC_QUEUE_DEPTH, 1) + 1;
  const routineActive = Atomics.load(i32, targetPrcb + PrcbField.DPC_ROUTINE_ACTIVE) === 1;
  const requested = Atomics.load(i32, targetPrcb + PrcbField.DPC_INTERRUPT_REQUESTED) === 1;
  const claimRequest = (): boolean => Atomics.compareExchange(i32, targetPrcb + PrcbField.DPC_INTERRUPT_REQUESTED, 0, 1) === 0;
  if (target === self) {
    linkDpc(cpu, dpc, tag, now, fromIsr);
    if (shouldRequestLocalDpc(importance, depth, cpu.prcb.dpcRate, routineActive, requested) && claimRequest()) requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
    return 1;
  }
  cpu.send(actorOfCpu(target), Kind.DPC_LINK, 5, dpc, tag, timeLo(now), timeHi(now), fromIsr ? 1 : 0);
  cpu.wakingHalted(target);
  const maximumDepth = Atomics.load(i32, targetPrcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH);
  if (shouldRequestRemoteDpc(importance, depth, maximumDepth, routineActive, requested) && claimRequest()) sendIpi(cpu, target, IpiRequest.DPC);
  return 1;
}

/** KeRemoveQueueDpc (§2.4): 1 if it was queued (on any CPU). */
export function removeQueueDpc(cpu: Cpu, dpc: number): number {
  const i32 = cpu.i32;
  const record = cpu.layout.dpc(dpc);
  for (;;) {
    const tag = Atomics.load(i32, record + DpcField.DPC_DATA);
    if (tag === 0) return 0;
    if (Atomics.compareExchange(i32, record + DpcField.DPC_DATA, tag, 0) !== tag) continue;
    // clearing DpcData took the DPC: its queue's depth goes down here, whichever CPU owns it
    Atomics.sub(i32, cpu.layout.prcb(dpcTagCpu(tag)) + PrcbField.DPC_QUEUE_DEPTH, 1);
    if (dpcTagCpu(tag) === cpu.prcb.number) {
      const queue = cpu.prcb.dpcQueue;
      const index = queue.findIndex((entry) => entry.tag === tag && entry.dpc === dpc);
      if (index >= 0) queue.splice(index, 1);
    }
    // a remote queue finds a stale entry when it pops it (or its link arrives) and skips it
    return 1;
  }
}

/**
 * KiDispatchInterrupt (§2.5), the DISPATCH_LEVEL software interrupt: retire the DPC list, then
 * KiQuantumEnd if the quantum ran out, or a switch to NextThread if the dispatcher placed one here.
 * After a switch the CPU drops to the new thread's IRQL, not the interrupted one.
 */
export function* dispatchInterrupt(cpu: Cpu, oldIrql: number): KernelGenerator {
  const prcb = cpu.prcb;
  if (dpcQueueDepth(cpu) > 0 || prcb.timerRequest) yield* retireDpcList(cpu);
  else clearDpcRequest(cpu);
  let resumeIrql = oldIrql;
  // a thread inside an APC routine is switched when the delivery ends (apc-call.ts asks again then)
  if ((prcb.quantumEnd || prcb.reschedulePending) && prcb.apcDeliveryDepth === 0) {
    const quantumEnd = prcb.quantumEnd;
    prcb.quantumEnd = false;
    prcb.reschedulePending = false;
    const reply = yield* dispatcherCall(cpu, { op: 'KiDispatchInterrupt', quantumEnd }, oldIrql);
    if (reply.flags & ReplyFlag.SWITCH) resumeIrql = reply.nextWaitIrql;
  }
  setIrql(cpu, resumeIrql);
}

/** A reschedule message (the dispatcher placed a NextThread here): ask at the next DISPATCH interrupt. */
export function requestReschedule(cpu: Cpu): void {
  cpu.prcb.reschedulePending = true;
  requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
}

/** KiRetireDpcList (§2.5), in its exact order: where a DPC routine runs. */
export function* retireDpcList(cpu: Cpu): KernelGenerator {
  const prcb = cpu.prcb;
  const i32 = cpu.i32;
  do {
    prcb.dpcRoutineActive = true;
    Atomics.store(i32, prcb.shared + PrcbField.DPC_ROUTINE_ACTIVE, 1);
    if (prcb.timerRequest) {
      prcb.timerRequest = false;
      yield* timerExpiration(cpu);
    }
    while (dpcQueueDepth(cpu) > 0) {
      // parallel mode: a remote inserter has counted a DPC whose link message is still on its way
      if (prcb.dpcQueue.length === 0) {
        yield SIGNAL_SPIN;
        continue;
      }
      const entry = prcb.dpcQueue.shift()!;
      const record = cpu.layout.dpc(entry.dpc);
      // DpcData is cleared before the routine runs, so the DPC may be queued again meanwhile; a
      // KeRemoveQueueDpc that won left a stale entry (and took it off the depth itself)
      if (Atomics.compareExchange(i32, record + DpcField.DPC_DATA, entry.tag, 0) !== entry.tag) continue;
      Atomics.sub(i32, prcb.shared + PrcbField.DPC_QUEUE_DEPTH, 1);
      const routine = i32[record + DpcField.ROUTINE]!;
      const context = i32[record + DpcField.CONTEXT]!;
      const sa1 = i32[record + DpcField.SYSTEM_ARGUMENT1]!;
      const sa2 = i32[record + DpcField.SYSTEM_ARGUMENT2]!;
      const now = cpu.now();
      if (entry.fromIsr) cpu.sampleLatency(1, now - entry.insertedNs);
      cpu.f64[cpu.counters + CounterField.DPCS] += 1;
      cpu.record(TraceEvent.DPC_START, entry.dpc, routine, 0);
      prcb.dpcInsertedNs = entry.insertedNs;
      cpu.pushCall('dpc', routine, entry.dpc + 1, context, sa1, sa2);
      yield SIGNAL_CALL;
      prcb.dpcInsertedNs = -1;
      cpu.record(TraceEvent.DPC_END, entry.dpc, 0, 0);
      checkDpcReturnIrql(cpu, entry.dpc, routine);
    }
    prcb.dpcRoutineActive = false;
    Atomics.store(i32, prcb.shared + PrcbField.DPC_ROUTINE_ACTIVE, 0);
    clearDpcRequest(cpu);
    // an inserter that saw DpcRoutineActive still set made no request: its DPC is in the depth
  } while (dpcQueueDepth(cpu) > 0);
}

/** A DPC routine must return at DISPATCH_LEVEL (emulator policy: 0xC8 otherwise). */
export function checkDpcReturnIrql(cpu: Cpu, dpc: number, routine: number): void {
  const irql = cpu.prcb.irql;
  if (irql === DISPATCH_LEVEL) return;
  throw new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, (irql << 16) | (DISPATCH_LEVEL << 8), routine, dpc, 0).withDetail(
    `DPC ${cpu.config.dpcNames[dpc] ?? dpc} (routine ${cpu.names.routine(routine)}) returned at ${irqlName(cpu.config.arch, irql)} instead of DISPATCH_LEVEL`,
  );
}

/** A KDPC handle (what `a.dpc(name)` resolves to: its index + 1, so that 0 is NULL) → its index. */
export function dpcIndex(cpu: Cpu, handle: number): number {
  const index = handle - 1;
  if (index < 0 || index >= cpu.config.dpcCount) {
    throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INVALID_HANDLE, cpu.currentPc(), handle, 0).withDetail(
      `${handle} is not a KDPC (the scenario declares ${cpu.config.dpcCount})`,
    );
  }
  return index;
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const dpcCalls = {
  KeInitializeDpc: (cpu, args) => {
    const record = cpu.layout.dpc(dpcIndex(cpu, args[0]!));
    cpu.i32[record + DpcField.ROUTINE] = args[1]!;
    cpu.i32[record + DpcField.CONTEXT] = args[2]!;
    cpu.i32[record + DpcField.IMPORTANCE] = DpcImportanceValue.Medium;
    cpu.i32[record + DpcField.TARGET] = -1;
    return KCALL_DONE;
  },
  KeInsertQueueDpc: (cpu, args, ctx, base) => {
    ctx[base + ContextField.R0] = insertQueueDpc(cpu, dpcIndex(cpu, args[0]!), args[1]!, args[2]!);
    return KCALL_DONE;
  },
  KeRemoveQueueDpc: (cpu, args, ctx, base) => {
    ctx[base + ContextField.R0] = removeQueueDpc(cpu, dpcIndex(cpu, args[0]!));
    return KCALL_DONE;
  },
  KeSetImportanceDpc: (cpu, args) => {
    cpu.i32[cpu.layout.dpc(dpcIndex(cpu, args[0]!)) + DpcField.IMPORTANCE] = args[1]! & 3;
    return KCALL_DONE;
  },
  KeSetTargetProcessorDpc: (cpu, args) => {
    const target = args[1]!;
    if (target < 0 || target >= cpu.config.cpus) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INVALID_PARAMETER, cpu.currentPc(), 0, 0);
    cpu.i32[cpu.layout.dpc(dpcIndex(cpu, args[0]!)) + DpcField.TARGET] = target;
    return KCALL_DONE;
  },
  KeIsExecutingDpc: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = cpu.prcb.dpcRoutineActive ? 1 : 0;
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
