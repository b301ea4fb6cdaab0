/**
 * Inter-processor interrupts (nt-semantics.md §7): request bits (KiIpiSend), packets
 * (KiIpiSendPacket: a routine run at IPI_LEVEL on each target, the sender spinning until all have
 * finished), KeIpiGenericCall (every CPU runs the routine at once, after a barrier), and the
 * receiving side, KiIpiServiceRoutine: APC, then DPC, then freeze, then packets. A sender that
 * waits past ipiAckTimeoutTicks clock ticks for an acknowledgement is 0x101
 * CLOCK_WATCHDOG_TIMEOUT. Runs on the CPU; the packet words are in the sender's shared PRCB and
 * the generic call's in the shared control block.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL, SIGNAL_SPIN } from './cpu.js';
import { requestDpcInterrupt } from './dpc.js';
import { endInterrupt } from './interrupt.js';
import { APC_LEVEL, DISPATCH_LEVEL, requestSoftwareInterrupt, setIrql, taskPriorityOnArrival } from './irql.js';
import { prcbAddress } from './prcb.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { IpiRequest, Kind, actorOfCpu, timeHi, timeLo } from '../ipc/messages.js';
import { ContextField, ControlField, CounterField, PrcbField } from '../shm/layout.js';

/** irqlab's mark, in a packet source and on the wire, for a KeIpiGenericCall (not a packet) */
export const PACKET_GENERIC = 1 << 16;

/** KiIpiSend: post request bits to a CPU's IPI vector. */
export function sendIpi(cpu: Cpu, target: number, bits: number): void {
  const now = cpu.now();
  cpu.f64[cpu.counters + CounterField.IPIS_SENT] += 1;
  cpu.record(TraceEvent.IPI_SEND, target, bits, 0);
  cpu.send(actorOfCpu(target), Kind.IPI, 4, cpu.prcb.number, bits, timeLo(now), timeHi(now));
  cpu.wakingHalted(target);
}

/**
 * An IPI message arrived: record its request bits for KiIpiServiceRoutine and post the IPI vector.
 * Returns false for a freeze (the caller freezes the CPU at once, at any IRQL, like an NMI).
 */
export function ipiArrived(cpu: Cpu, from: number, bits: number, timeNs: number): boolean {
  const prcb = cpu.prcb;
  cpu.f64[cpu.counters + CounterField.IPIS_RECEIVED] += 1;
  cpu.record(TraceEvent.IPI_RECEIVE, from, bits, 0);
  prcb.ipiRequests |= bits & ~(IpiRequest.PACKET_READY | PACKET_GENERIC);
  if (bits & IpiRequest.PACKET_READY) prcb.packetSources.push(from);
  if (bits & PACKET_GENERIC) prcb.packetSources.push(from | PACKET_GENERIC);
  if (bits & IpiRequest.FREEZE) return false;
  cpu.apic.postOnce(cpu.table.ipiVector, timeNs);
  taskPriorityOnArrival(cpu, cpu.table.ipiVector);
  return true;
}

/** KiIpiServiceRoutine (§7.1): APC, then DPC, then freeze, then packets. */
export function* ipiInterrupt(cpu: Cpu, oldIrql: number): KernelGenerator {
  const prcb = cpu.prcb;
  const bits = prcb.ipiRequests;
  prcb.ipiRequests = 0;
  if (bits & IpiRequest.APC) requestSoftwareInterrupt(cpu, APC_LEVEL);
  if (bits & IpiRequest.DPC) requestDpcInterrupt(cpu);
  if (bits & IpiRequest.RESCHEDULE) {
    prcb.reschedulePending = true;
    requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
  }
  while (prcb.packetSources.length > 0) {
    const source = prcb.packetSources.shift()!;
    if (source & PACKET_GENERIC) yield* genericCallTarget(cpu);
    else yield* packetTarget(cpu, source);
  }
  endInterrupt(cpu, oldIrql);
}

/** KiIpiSendPacket: run `routine(argument)` at IPI_LEVEL on each target; return when all have finished. */
function* sendPacket(cpu: Cpu, targets: number[], routine: number, argument: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
  const prcb = cpu.prcb;
  const i32 = cpu.i32;
  const self = prcb.number;
  const oldIrql = prcb.irql;
  if (prcb.irql < DISPATCH_LEVEL) setIrql(cpu, DISPATCH_LEVEL);
  const remote = targets.filter((t) => t !== self);
  i32[prcb.shared + PrcbField.PACKET_ROUTINE] = routine;
  i32[prcb.shared + PrcbField.PACKET_ARGUMENT] = argument;
  Atomics.store(i32, prcb.shared + PrcbField.PACKET_REMAINING, remote.length);
  let lo = 0;
  let hi = 0;
  for (const t of remote) {
    if (t < 32) lo |= 1 << t;
    else hi |= 1 << (t - 32);
  }
  Atomics.store(i32, prcb.shared + PrcbField.PACKET_PENDING_LO, lo);
  Atomics.store(i32, prcb.shared + PrcbField.PACKET_PENDING_HI, hi);
  for (const t of remote) sendIpi(cpu, t, IpiRequest.PACKET_READY);
  let result = 1;
  if (targets.includes(self)) {
    const before = prcb.irql;
    setIrql(cpu, cpu.table.ipi);
    cpu.pushCall('ipi', routine, argument);
    result = yield SIGNAL_CALL;
    setIrql(cpu, before);
  }
  const startTick = prcb.ticksTaken;
  const timeout = cpu.config.ipiAckTimeoutTicks;
  while (Atomics.load(i32, prcb.shared + PrcbField.PACKET_REMAINING) > 0) {
    if (prcb.ticksTaken - startTick > timeout) {
      const pending = firstPendingTarget(cpu);
      throw new BugCheck(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, timeout, 0, prcbAddress(pending), pending).withDetail(
        `CPU ${self} waited ${timeout} clock ticks for CPU ${pending} to acknowledge an IPI packet`,
      );
    }
    yield SIGNAL_SPIN;
  }
  setIrql(cpu, oldIrql);
  callerCtx[callerBase + ContextField.R0] = result;
}

function firstPendingTarget(cpu: Cpu): number {
  const lo = Atomics.load(cpu.i32, cpu.prcb.shared + PrcbField.PACKET_PENDING_LO);
  const hi = Atomics.load(cpu.i32, cpu.prcb.shared + PrcbField.PACKET_PENDING_HI);
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  if (hi !== 0) return 32 + 31 - Math.clz32(hi & -hi);
  return -1;
}

/** A packet target: run the source's worker routine, then acknowledge. */
function* packetTarget(cpu: Cpu, source: number): KernelGenerator {
  const i32 = cpu.i32;
  const self = cpu.prcb.number;
  const sourcePrcb = cpu.layout.prcb(source);
  const routine = i32[sourcePrcb + PrcbField.PACKET_ROUTINE]!;
  const argument = i32[sourcePrcb + PrcbField.PACKET_ARGUMENT]!;
  cpu.record(TraceEvent.IPI_PACKET, source, routine, 0);
  cpu.pushCall('ipi', routine, argument);
  yield SIGNAL_CALL;
  if (self < 32) Atomics.and(i32, sourcePrcb + PrcbField.PACKET_PENDING_LO, ~(1 << self));
  else Atomics.and(i32, sourcePrcb + PrcbField.PACKET_PENDING_HI, ~(1 << (self - 32)));
  Atomics.sub(i32, sourcePrcb + PrcbField.PACKET_REMAINING, 1);
  // the source spins on PACKET_REMAINING and may be napping: wake it
  cpu.nudge(source);
}

/** KeIpiGenericCall (§7.2): every CPU runs the routine at IPI_LEVEL at the same time. */
function* genericCall(cpu: Cpu, routine: number, argument: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
  const prcb = cpu.prcb;
  const i32 = cpu.i32;
  const self = prcb.number;
  const control = cpu.layout.control;
  const oldIrql = prcb.irql;
  if (prcb.irql < DISPATCH_LEVEL) setIrql(cpu, DISPATCH_LEVEL);
  while (Atomics.compareExchange(i32, control + ControlField.GENERIC_LOCK, 0, self + 1) !== 0) yield SIGNAL_SPIN;
  const cpus = cpu.config.cpus;
  prcb.genericGeneration = (Atomics.load(i32, control + ControlField.GENERIC_SOURCE) >>> 8) + 1;
  Atomics.store(i32, control + ControlField.GENERIC_ROUTINE, routine);
  Atomics.store(i32, control + ControlField.GENERIC_ARGUMENT, argument);
  Atomics.store(i32, control + ControlField.GENERIC_REMAINING, cpus - 1);
  Atomics.store(i32, control + ControlField.GENERIC_SOURCE, (prcb.genericGeneration << 8) | self);
  Atomics.store(i32, control + ControlField.GENERIC_COUNT, cpus);
  for (let t = 0; t < cpus; t++) if (t !== self) sendIpi(cpu, t, PACKET_GENERIC);
  const startTick = prcb.ticksTaken;
  const timeout = cpu.config.ipiAckTimeoutTicks;
  while (Atomics.load(i32, control + ControlField.GENERIC_COUNT) > 1) {
    if (prcb.ticksTaken - startTick > timeout) {
      let hung = -1;
      for (let t = 0; t < cpus && hung < 0; t++) {
        if (t !== self && Atomics.load(i32, cpu.layout.prcb(t) + PrcbField.GENERIC_ARRIVED) !== prcb.genericGeneration) hung = t;
      }
      throw new BugCheck(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, timeout, 0, prcbAddress(hung), hung).withDetail(
        `CPU ${self} waited ${timeout} clock ticks in KeIpiGenericCall for CPU ${hung} to arrive`,
      );
    }
    yield SIGNAL_SPIN;
  }
  setIrql(cpu, cpu.table.ipi);
  Atomics.store(i32, control + ControlField.GENERIC_COUNT, 0);
  for (let t = 0; t < cpus; t++) if (t !== self) cpu.nudge(t);
  cpu.record(TraceEvent.GENERIC_CALL, routine, argument, 0);
  cpu.pushCall('ipi', routine, argument);
  const result = yield SIGNAL_CALL;
  while (Atomics.load(i32, control + ControlField.GENERIC_REMAINING) > 0) yield SIGNAL_SPIN;
  setIrql(cpu, DISPATCH_LEVEL);
  Atomics.store(i32, control + ControlField.GENERIC_LOCK, 0);
  setIrql(cpu, oldIrql);
  callerCtx[callerBase + ContextField.R0] = result;
}

/** A KeIpiGenericCall target: arrive at the barrier, wait for everyone, run the routine, acknowledge. */
function* genericCallTarget(cpu: Cpu): KernelGenerator {
  const i32 = cpu.i32;
  const control = cpu.layout.control;
  const generation = Atomics.load(i32, control + ControlField.GENERIC_SOURCE) >>> 8;
  Atomics.store(i32, cpu.prcb.shared + PrcbField.GENERIC_ARRIVED, generation);
  Atomics.sub(i32, control + ControlField.GENERIC_COUNT, 1);
  const source = Atomics.load(i32, control + ControlField.GENERIC_SOURCE) & 0xff;
  cpu.nudge(source);
  while (Atomics.load(i32, control + ControlField.GENERIC_COUNT) !== 0) yield SIGNAL_SPIN;
  const routine = Atomics.load(i32, control + ControlField.GENERIC_ROUTINE);
  const argument = Atomics.load(i32, control + ControlField.GENERIC_ARGUMENT);
  cpu.record(TraceEvent.GENERIC_CALL, routine, argument, 1);
  cpu.pushCall('ipi', routine, argument);
  yield SIGNAL_CALL;
  Atomics.sub(i32, control + ControlField.GENERIC_REMAINING, 1);
  cpu.nudge(source);
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const ipiCalls = {
  KeIpiGenericCall: (cpu, args, ctx, base) => {
    cpu.pushKernel('KeIpiGenericCall', 'ipi-call', genericCall(cpu, args[0]!, args[1]!, ctx, base), false);
    return KCALL_DONE;
  },
  KiIpiSendPacket: (cpu, args, ctx, base) => {
    const mask = args[0]!;
    const targets: number[] = [];
    for (let t = 0; t < Math.min(32, cpu.config.cpus); t++) if (mask & (1 << t)) targets.push(t);
    cpu.pushKernel('KiIpiSendPacket', 'ipi-call', sendPacket(cpu, targets, args[1]!, args[2]!, ctx, base), false);
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
