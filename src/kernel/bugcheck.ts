/**
 * KeBugCheckEx: the stop codes the emulator raises, their names, descriptions and what each of
 * the four parameters means (nt-semantics.md §11; Microsoft's bug-check reference). A CPU that
 * detects a fatal condition throws a BugCheck; the processor's run loop catches it, freezes the
 * machine and reports it. Pure: no Node, no transport.
 */

import type { KernelCallHandler } from './cpu.js';

export const BUGCHECK = {
  APC_INDEX_MISMATCH: 0x1,
  IRQL_NOT_GREATER_OR_EQUAL: 0x9,
  IRQL_NOT_LESS_OR_EQUAL: 0xa,
  MAXIMUM_WAIT_OBJECTS_EXCEEDED: 0xc,
  SPIN_LOCK_ALREADY_OWNED: 0xf,
  SPIN_LOCK_NOT_OWNED: 0x10,
  KERNEL_APC_PENDING_DURING_EXIT: 0x20,
  MULTIPLE_IRP_COMPLETE_REQUESTS: 0x44,
  THREAD_TERMINATE_HELD_MUTEX: 0x46,
  IRQL_GT_ZERO_AT_SYSTEM_SERVICE: 0x4a,
  PAGE_FAULT_IN_NONPAGED_AREA: 0x50,
  UNEXPECTED_KERNEL_MODE_TRAP: 0x7f,
  KMODE_EXCEPTION_NOT_HANDLED: 0x1e,
  ATTEMPTED_SWITCH_FROM_DPC: 0xb8,
  DRIVER_VERIFIER_DETECTED_VIOLATION: 0xc4,
  DRIVER_VERIFIER_IOMANAGER_VIOLATION: 0xc9,
  IRQL_UNEXPECTED_VALUE: 0xc8,
  DRIVER_IRQL_NOT_LESS_OR_EQUAL: 0xd1,
  HARDWARE_INTERRUPT_STORM: 0xf2,
  CLOCK_WATCHDOG_TIMEOUT: 0x101,
  DPC_WATCHDOG_VIOLATION: 0x133,
  MANUALLY_INITIATED_CRASH: 0xe2,
} as const;

interface BugcheckSpec {
  name: string;
  description: string;
  params: [string, string, string, string];
}

const SPECS: Record<number, BugcheckSpec> = {
  1: {
    name: 'APC_INDEX_MISMATCH',
    description: 'A thread returned to user mode (or a worker routine returned) with APCs disabled or attached to another process.',
    params: [
      'the system service or worker routine',
      'ApcStateIndex',
      'CombinedApcDisable (SpecialApcDisable << 16 | KernelApcDisable)',
      '0: system call, 1: worker routine',
    ],
  },
  9: {
    name: 'IRQL_NOT_GREATER_OR_EQUAL',
    description: 'KeRaiseIrql was asked to raise to a level below the current IRQL.',
    params: ['the current IRQL', 'the requested IRQL', 'reserved', 'the address of the call'],
  },
  10: {
    name: 'IRQL_NOT_LESS_OR_EQUAL',
    description: 'An attempt was made to access pageable memory, lower the IRQL to a higher level, or block at an IRQL that is too high.',
    params: ['memory referenced (or the object / requested IRQL)', 'IRQL at the time', 'bit 0: write, bit 3: execute', 'the address of the instruction'],
  },
  12: {
    name: 'MAXIMUM_WAIT_OBJECTS_EXCEEDED',
    description: 'A wait named more objects than the wait-block array holds.',
    params: ['object count', 'limit', 'reserved', 'reserved'],
  },
  15: {
    name: 'SPIN_LOCK_ALREADY_OWNED',
    description: 'A spin lock was acquired again by the CPU that already holds it.',
    params: ['the spin lock address', 'owning CPU', 'reserved', 'reserved'],
  },
  16: {
    name: 'SPIN_LOCK_NOT_OWNED',
    description: 'A spin lock was released by a CPU that does not hold it.',
    params: ['the spin lock address', 'owning CPU (−1: none)', 'reserved', 'reserved'],
  },
  32: {
    name: 'KERNEL_APC_PENDING_DURING_EXIT',
    description: 'A thread exited with kernel APCs still queued or with APCs disabled.',
    params: ['the first kernel APC still queued (0: none)', 'CombinedApcDisable', 'the IRQL', 'reserved'],
  },
  68: {
    name: 'MULTIPLE_IRP_COMPLETE_REQUESTS',
    description: 'A driver completed an IRP that was already completed (or not owned by a driver).',
    params: ['the IRP', 'reserved', 'reserved', 'reserved'],
  },
  30: {
    name: 'KMODE_EXCEPTION_NOT_HANDLED',
    description: 'Kernel-mode code raised an exception nobody handled (arithmetic fault, bad call).',
    params: ['exception code', 'the address of the instruction', 'reserved', 'reserved'],
  },
  70: {
    name: 'THREAD_TERMINATE_HELD_MUTEX',
    description: 'A thread terminated while holding a kernel mutex.',
    params: ['the thread', 'the mutex', 'reserved', 'reserved'],
  },
  74: {
    name: 'IRQL_GT_ZERO_AT_SYSTEM_SERVICE',
    description: 'A thread returned to user mode from a system call at an IRQL above PASSIVE_LEVEL.',
    params: ['the system service routine', 'the IRQL', 'reserved', 'reserved'],
  },
  80: {
    name: 'PAGE_FAULT_IN_NONPAGED_AREA',
    description: 'Invalid memory was referenced (page 0, outside emulated memory, or unaligned).',
    params: ['memory referenced', '0: read, 1: write, 8: execute', 'the address of the instruction', 'reserved'],
  },
  127: {
    name: 'UNEXPECTED_KERNEL_MODE_TRAP',
    description: 'A trap the kernel cannot handle (here: a kernel stack overflow, the double-fault case).',
    params: ['8: double fault (stack overflow)', 'the address of the instruction', 'reserved', 'reserved'],
  },
  184: {
    name: 'ATTEMPTED_SWITCH_FROM_DPC',
    description: 'A wait, yield or other context switch was attempted from a DPC routine.',
    params: ['the original thread', 'the new thread', "the original thread's initial stack", 'reserved'],
  },
  196: {
    name: 'DRIVER_VERIFIER_DETECTED_VIOLATION',
    description: 'Driver Verifier detected a rule violation (Parameter 1 is the subcode).',
    params: ['subcode', 'usually the current IRQL', 'subcode-specific', 'subcode-specific'],
  },
  200: {
    name: 'IRQL_UNEXPECTED_VALUE',
    description: 'A routine returned at a different IRQL from the one it was called at (a DPC routine must return at DISPATCH_LEVEL).',
    params: ['(current IRQL << 16) | (expected IRQL << 8)', 'the routine', 'the DPC or APC object', 'reserved (an APC: its NormalRoutine)'],
  },
  201: {
    name: 'DRIVER_VERIFIER_IOMANAGER_VIOLATION',
    description: 'An I/O rule was broken (irqlab checks these always, as Driver Verifier I/O verification would).',
    params: [
      'the violation: 0x06 IoCompleteRequest with STATUS_PENDING, 0x0E IoCompleteRequest above DISPATCH_LEVEL, 0x10 IoCallDriver above DISPATCH_LEVEL, 0x1000 (irqlab) STATUS_PENDING returned without IoMarkIrpPending or the reverse',
      'per violation: the status or the IRQL',
      'per violation: the IRP',
      'reserved (0x1000: 1 if the IRP was marked pending)',
    ],
  },
  209: {
    name: 'DRIVER_IRQL_NOT_LESS_OR_EQUAL',
    description: 'A driver accessed pageable or invalid memory at an IRQL that was too high.',
    params: ['memory referenced', 'IRQL at the time', '0: read, 1: write, 8: execute', 'the address of the instruction'],
  },
  213: {
    name: 'DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL',
    description: 'A driver referenced memory it had already freed (raised by the scenario, standing in for Driver Verifier special pool).',
    params: ['memory referenced', '0: read, 1: write', 'the address that referenced it (if known)', 'reserved'],
  },
  226: {
    name: 'MANUALLY_INITIATED_CRASH',
    description: 'The scenario called KeBugCheckEx on purpose.',
    params: ['caller-defined', 'caller-defined', 'caller-defined', 'caller-defined'],
  },
  242: {
    name: 'HARDWARE_INTERRUPT_STORM',
    description: 'A level-triggered interrupt that no ISR claimed kept firing.',
    params: ['the vector', 'the first ISR of the chain', 'reserved', 'reserved'],
  },
  257: {
    name: 'CLOCK_WATCHDOG_TIMEOUT',
    description: 'An expected clock interrupt or IPI acknowledgement on a secondary processor was not received within the allocated interval.',
    params: [
      'clock interrupt time-out interval, in nominal clock ticks',
      'reserved (0)',
      'the PRCB address of the hung processor',
      'the index of the hung processor',
    ],
  },
  307: {
    name: 'DPC_WATCHDOG_VIOLATION',
    description: 'A DPC or ISR ran too long, or the CPU stayed at DISPATCH_LEVEL or above too long.',
    params: [
      '0: a single DPC/ISR over its allotment; 1: cumulative time at ≥ DISPATCH_LEVEL',
      'time count (ticks)',
      'allotment (ticks)',
      "triage block (irqlab's spin-lock deadlock detector: the spin lock's address)",
    ],
  },
  313: {
    name: 'KERNEL_SECURITY_CHECK_FAILURE',
    description: 'A kernel data structure was found corrupted (raised by the scenario: P1 = 3 is a corrupted list entry).',
    params: ['the kind of corruption (3: a LIST_ENTRY)', 'the trap frame (irqlab scenarios pass the corrupted entry)', 'the exception record', 'reserved'],
  },
};

export function bugcheckName(code: number): string {
  return SPECS[code]?.name ?? `BUGCHECK_${code.toString(16).toUpperCase()}`;
}

export function bugcheckDescription(code: number): string {
  return SPECS[code]?.description ?? 'A bugcheck raised by the scenario (KeBugCheckEx).';
}

export function bugcheckParamMeanings(code: number): [string, string, string, string] {
  return SPECS[code]?.params ?? ['caller-defined', 'caller-defined', 'caller-defined', 'caller-defined'];
}

/**
 * Thrown by kernel code on the CPU that detected a fatal condition. The processor catches it at
 * the run loop (never inside kernel logic), freezes the other CPUs and reports it.
 */
export class BugCheck extends Error {
  readonly code: number;
  readonly params: [number, number, number, number];
  /** one human line naming the objects behind the parameters (routine and DPC names, …) */
  detail = '';
  constructor(code: number, p1 = 0, p2 = 0, p3 = 0, p4 = 0) {
    super(`bugcheck 0x${code.toString(16)} ${bugcheckName(code)} (${[p1, p2, p3, p4].map((p) => `0x${(p >>> 0).toString(16)}`).join(', ')})`);
    this.code = code;
    this.params = [p1, p2, p3, p4];
  }
  override get name(): string {
    return 'BugCheck';
  }

  withDetail(detail: string): this {
    this.detail = detail;
    return this;
  }
}

/** KeBugCheckEx, the kernel call: the scenario's own bugcheck. */
export const bugCheckCalls = {
  KeBugCheckEx: (_cpu, args) => {
    throw new BugCheck(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!);
  },
} satisfies Record<string, KernelCallHandler>;
