/**
 * IRQL: the interrupt request levels of NT, for x64 (0–15) and x86 (0–31), and the mapping from an
 * interrupt vector to its IRQL (x64: vector >> 4, the APIC priority class; x86: the APIC HAL's
 * table); and the CPU-side rules over them: KeRaiseIrql / KeLowerIrql, HalRequestSoftwareInterrupt
 * (delivered when the IRQL drops below its level: DISPATCH and APC; the delivery order, hardware by
 * level, then DISPATCH, then APC, is interrupt.ts's). The per-CPU current IRQL lives in the Prcb
 * (src/kernel/prcb.ts) and only its own CPU changes it. Source: nt-semantics.md §1.1–1.5.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler } from './cpu.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { ContextField, CounterField, PrcbField } from '../shm/layout.js';
import { TraceEvent } from './trace-events.js';

/** Which IRQL table a machine uses. */
export type Arch = 'x64' | 'x86';

export const PASSIVE_LEVEL = 0;
export const APC_LEVEL = 1;
export const DISPATCH_LEVEL = 2;

/** The architecture-dependent levels. Everything that compares against SYNCH/CLOCK/IPI/HIGH reads them from here. */
export interface IrqlTable {
  readonly arch: Arch;
  readonly count: number;
  readonly minDevice: number;
  readonly maxDevice: number;
  readonly synch: number;
  readonly clock: number;
  readonly ipi: number;
  readonly profile: number;
  readonly high: number;
  /** the vector of the clock interrupt on the clock owner, and of the clock IPI on the others */
  readonly clockVector: number;
  readonly clockIpiVector: number;
  readonly ipiVector: number;
  readonly apcVector: number;
  readonly dpcVector: number;
  /** device vectors a scenario may use */
  readonly minDeviceVector: number;
  readonly maxDeviceVector: number;
}

export const X64: IrqlTable = {
  arch: 'x64',
  count: 16,
  minDevice: 3,
  maxDevice: 11,
  synch: 12,
  clock: 13,
  ipi: 14,
  profile: 15,
  high: 15,
  clockVector: 0xd1,
  clockIpiVector: 0xd2,
  ipiVector: 0xe1,
  apcVector: 0x1f,
  dpcVector: 0x2f,
  minDeviceVector: 0x30,
  maxDeviceVector: 0xcf,
};

export const X86: IrqlTable = {
  arch: 'x86',
  count: 32,
  minDevice: 3,
  maxDevice: 26,
  synch: 27,
  clock: 28,
  ipi: 29,
  profile: 27,
  high: 31,
  clockVector: 0xd1,
  clockIpiVector: 0xd2,
  ipiVector: 0xe1,
  apcVector: 0x3d,
  dpcVector: 0x41,
  minDeviceVector: 0x30,
  maxDeviceVector: 0xbf,
};

export function irqlTable(arch: Arch): IrqlTable {
  return arch === 'x86' ? X86 : X64;
}

/** The IRQL a vector interrupts at. x64: the APIC priority class; x86: ReactOS HalpVectorToIrql. */
export function vectorToIrql(table: IrqlTable, vector: number): number {
  if (table.arch === 'x64') return vector >> 4;
  if (vector === X86.apcVector) return APC_LEVEL;
  if (vector === X86.dpcVector) return DISPATCH_LEVEL;
  const cls = vector >> 4;
  if (cls <= 0x4) return 3; // the lowest device level
  if (cls <= 0xb) return cls - 1; // 0x5..0xB → IRQL 4..10
  if (cls === 0xc) return 27;
  if (cls === 0xd) return 28;
  if (cls === 0xe) return 29;
  return 31;
}

const X64_NAMES: Record<number, string> = {
  0: 'PASSIVE_LEVEL',
  1: 'APC_LEVEL',
  2: 'DISPATCH_LEVEL',
  12: 'SYNCH_LEVEL',
  13: 'CLOCK_LEVEL',
  14: 'IPI_LEVEL',
  15: 'HIGH_LEVEL',
};

const X86_NAMES: Record<number, string> = {
  0: 'PASSIVE_LEVEL',
  1: 'APC_LEVEL',
  2: 'DISPATCH_LEVEL',
  27: 'PROFILE_LEVEL',
  28: 'CLOCK2_LEVEL',
  29: 'IPI_LEVEL',
  30: 'POWER_LEVEL',
  31: 'HIGH_LEVEL',
};

/** The name `!irql` prints for a level, e.g. 'DISPATCH_LEVEL', 'DIRQL 5'. */
export function irqlName(arch: Arch, irql: number): string {
  const names = arch === 'x86' ? X86_NAMES : X64_NAMES;
  return names[irql] ?? (irql >= 3 && irql <= (arch === 'x86' ? 26 : 11) ? `DIRQL ${irql}` : `IRQL ${irql}`);
}

// ======================================================================================
// The current IRQL (KPCR.Irql) of the CPU running the routine
// ======================================================================================

/** Change this CPU's IRQL: charge the time at the old level, trace it, publish it. */
export function setIrql(cpu: Cpu, newIrql: number): void {
  const prcb = cpu.prcb;
  if (newIrql === prcb.irql) return;
  const now = cpu.countedNow();
  cpu.f64[cpu.counters + CounterField.TIME_AT_IRQL + prcb.irql] += now - prcb.lastIrqlChangeNs;
  prcb.lastIrqlChangeNs = now;
  cpu.record(TraceEvent.IRQL, prcb.irql, newIrql, 0);
  if (newIrql < prcb.irql) {
    cpu.workPending = true;
    // §2.9: the DPC watchdog counts consecutive ticks at ≥ DISPATCH_LEVEL "without dropping below
    // it". The drop ends the stretch here, not at the next tick: a CPU that drops and halts takes
    // no ticks (tick skipping), and its next DPC would otherwise continue the old count
    if (newIrql < DISPATCH_LEVEL && prcb.irql >= DISPATCH_LEVEL) {
      prcb.dpcWatchdogCount = 0;
      prcb.dpcTimeCount = 0;
      prcb.watchdogSerial = 0;
    }
  }
  // the local APIC's task priority (§1.4): eager IRQL writes it at every change; lazy IRQL only when
  // the new level is below what it holds (it was raised for an interrupt that arrived at or below
  // the IRQL, see taskPriorityOnArrival); each change that writes nothing is a write saved
  const apic = cpu.apic;
  if (!apic.lazyIrql || newIrql < apic.taskPriority) {
    apic.taskPriority = newIrql;
    cpu.f64[cpu.counters + CounterField.TASK_PRIORITY_WRITES] += 1;
  } else {
    cpu.f64[cpu.counters + CounterField.TASK_PRIORITY_WRITES_SAVED] += 1;
  }
  prcb.irql = newIrql;
  cpu.i32[prcb.shared + PrcbField.IRQL] = newIrql;
}

/**
 * An interrupt (device, clock, IPI) reached this CPU's local APIC. With lazy IRQL the TPR may lag
 * the IRQL, so the APIC would deliver one at or below the IRQL unless the vector in service masks
 * it (the processor priority is the higher of the TPR and the in-service class): the HAL's
 * begin-interrupt path notices, writes TPR := IRQL and leaves the interrupt pending until the IRQL
 * drops (§1.4). It stays pending here exactly as with eager IRQL, since delivery compares with
 * prcb.irql. With eager IRQL the TPR is the IRQL already: nothing to do.
 */
export function taskPriorityOnArrival(cpu: Cpu, vector: number): void {
  const apic = cpu.apic;
  if (!apic.lazyIrql) return;
  const irql = cpu.prcb.irql;
  const level = apic.irqlOfVector[vector]!;
  if (level > apic.taskPriority && level <= irql && level > inServiceLevel(apic.inService, apic.irqlOfVector)) {
    apic.taskPriority = irql;
    cpu.f64[cpu.counters + CounterField.TASK_PRIORITY_WRITES] += 1;
    // a write eager IRQL does not make
    cpu.f64[cpu.counters + CounterField.TASK_PRIORITY_WRITES_SAVED] -= 1;
  }
}

/** The level of the innermost vector in service (nested ones are higher), −1 when none is. */
function inServiceLevel(inService: readonly number[], irqlOfVector: Int32Array): number {
  return inService.length === 0 ? -1 : irqlOfVector[inService[inService.length - 1]!]!;
}

export function checkIrqlInRange(cpu: Cpu, irql: number): void {
  if (irql < 0 || irql > cpu.table.high) throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, irql, cpu.prcb.irql, 0, cpu.currentPc());
}

/** KeLowerIrql's rules, shared by the release calls. */
export function lowerIrql(cpu: Cpu, newIrql: number, name: string): void {
  const irql = cpu.prcb.irql;
  if (newIrql > irql) {
    throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, newIrql, irql, 0, cpu.currentPc()).withDetail(
      `${name} lowering to ${irqlName(cpu.config.arch, newIrql)} while at ${irqlName(cpu.config.arch, irql)}`,
    );
  }
  checkIrqlInRange(cpu, newIrql);
  setIrql(cpu, newIrql);
}

/** KeRaiseIrql to a fixed level (DISPATCH, SYNCH): 0x9 when it is below the current one; r0 = old IRQL. */
function raiseTo(cpu: Cpu, level: number, ctx: Int32Array, base: number): number {
  const irql = cpu.prcb.irql;
  if (level < irql) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, irql, level, 0, cpu.currentPc());
  ctx[base + ContextField.R0] = irql;
  setIrql(cpu, level);
  return KCALL_DONE;
}

/** HalRequestSoftwareInterrupt: delivered when the IRQL drops below `level`. */
export function requestSoftwareInterrupt(cpu: Cpu, level: number): void {
  cpu.prcb.softPending |= 1 << level;
  cpu.workPending = true;
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const irqlCalls = {
  KeGetCurrentIrql: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = cpu.prcb.irql;
    return KCALL_DONE;
  },
  KeRaiseIrql: (cpu, args, ctx, base) => {
    const newIrql = args[0]!;
    const irql = cpu.prcb.irql;
    if (newIrql < irql) {
      throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, irql, newIrql, 0, cpu.currentPc()).withDetail(
        `KeRaiseIrql to ${irqlName(cpu.config.arch, newIrql)} while at ${irqlName(cpu.config.arch, irql)}`,
      );
    }
    checkIrqlInRange(cpu, newIrql);
    ctx[base + ContextField.R0] = irql;
    setIrql(cpu, newIrql);
    return KCALL_DONE;
  },
  KeRaiseIrqlToDpcLevel: (cpu, _args, ctx, base) => raiseTo(cpu, DISPATCH_LEVEL, ctx, base),
  KeRaiseIrqlToSynchLevel: (cpu, _args, ctx, base) => raiseTo(cpu, cpu.table.synch, ctx, base),
  KeLowerIrql: (cpu, args) => {
    lowerIrql(cpu, args[0]!, 'KeLowerIrql');
    return KCALL_DONE;
  },
  KeGetCurrentProcessorNumber: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = cpu.prcb.number;
    return KCALL_DONE;
  },
  HalRequestSoftwareInterrupt: (cpu, args) => {
    const level = args[0]!;
    // APC_LEVEL: KiDeliverApc on the current thread when the IRQL drops below APC_LEVEL (interrupt.ts)
    if (level === DISPATCH_LEVEL || level === APC_LEVEL) cpu.prcb.softPending |= 1 << level;
    cpu.workPending = true;
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
