/**
 * NTSTATUS values the dispatcher returns or raises (nt-semantics.md Appendix A), and the kernel's
 * priority, quantum and wait constants. Pure data; anyone may read it.
 */

export const STATUS = {
  SUCCESS: 0x0,
  WAIT_0: 0x0,
  ABANDONED_WAIT_0: 0x80,
  USER_APC: 0xc0,
  /** internal: a wait was broken so that a kernel APC could run, or a WaitAll waiter must re-test; never returned to callers */
  KERNEL_APC: 0x100,
  ALERTED: 0x101,
  TIMEOUT: 0x102,
  PENDING: 0x103,
  NO_YIELD_PERFORMED: 0x40000024,
  /** a completion routine keeps the IRP (§8.3) */
  MORE_PROCESSING_REQUIRED: 0xc0000016,
  /** IopInvalidDeviceRequest: the driver has no dispatch routine for the request */
  INVALID_DEVICE_REQUEST: 0xc0000010,
  /** every record of the IRP zone is in use (src/kernel/io.ts) */
  INSUFFICIENT_RESOURCES: 0xc000009a,
  CANCELLED: 0xc0000120,
  INVALID_PARAMETER: 0xc000000d,
  MUTANT_NOT_OWNED: 0xc0000046,
  SEMAPHORE_LIMIT_EXCEEDED: 0xc0000047,
  MUTANT_LIMIT_EXCEEDED: 0xc0000191,
  ABANDONED: 0x80,
  THREAD_IS_TERMINATING: 0xc000004b,
  INVALID_HANDLE: 0xc0000008,
  UNSUCCESSFUL: 0xc0000001,
  NOT_IMPLEMENTED: 0xc0000002,
  INTEGER_DIVIDE_BY_ZERO: 0xc0000094,
  /** a kernel-only call from user mode (irqlab's 0x1E policy: src/kernel/service-call.ts) */
  PRIVILEGED_INSTRUCTION: 0xc0000096,
} as const;

/** WaitType of KeWaitForMultipleObjects. */
export const WaitType = { WaitAll: 0, WaitAny: 1 } as const;

/** KWAIT_REASON values the emulator uses and displays. */
export const WaitReason = {
  Executive: 0,
  FreePage: 1,
  PageIn: 2,
  PoolAllocation: 3,
  DelayExecution: 4,
  Suspended: 5,
  UserRequest: 6,
  WrExecutive: 7,
  WrQueue: 15,
  WrMutex: 29,
  WrQuantumEnd: 30,
  WrDispatchInt: 31,
  WrPreempted: 32,
  WrYieldExecution: 33,
} as const;

const WAIT_REASON_NAMES: Record<number, string> = Object.fromEntries(Object.entries(WaitReason).map(([name, value]) => [value, name]));

export function waitReasonName(reason: number): string {
  return WAIT_REASON_NAMES[reason] ?? `WaitReason ${reason}`;
}

/** KPROCESSOR_MODE */
export const KernelMode = 0;
export const UserMode = 1;

export const LOW_PRIORITY = 0;
export const LOW_REALTIME_PRIORITY = 16;
export const HIGH_PRIORITY = 31;
export const MAXIMUM_PRIORITY = 32;

/** Quantum units: 3 units are charged per clock tick; a client thread starts with 6 (2 ticks). */
export const CLOCK_QUANTUM_DECREMENT = 3;
export const THREAD_QUANTUM = 6;
export const MAX_QUANTUM = 0x7f;

export const MAXIMUM_WAIT_OBJECTS = 64;
export const THREAD_WAIT_OBJECTS = 3;

/** Priority increments for the waking calls (wdm.h). */
export const IO_NO_INCREMENT = 0;
export const EVENT_INCREMENT = 1;
export const SEMAPHORE_INCREMENT = 1;
export const MUTANT_INCREMENT = 1;
