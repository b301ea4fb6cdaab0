/**
 * The kernel-call table: each kernel call of src/isa/kcalls.ts, by name, to its handler in the
 * module of its object. Typed as a Record over KernelCallName, so a call without a handler, a
 * handler for no call, or a call listed twice does not compile. The CPU (src/cpu/processor.ts)
 * indexes KERNEL_CALL_HANDLERS by the KCALL's id.
 */

import type { KernelCallHandler } from './cpu.js';
import { bugCheckCalls } from './bugcheck.js';
import { clockCalls } from './clock.js';
import { dispatcherObjectCalls } from './dispatcher-call.js';
import { dpcCalls } from './dpc.js';
import { interruptCalls } from './interrupt.js';
import { ipiCalls } from './ipi.js';
import { irqlCalls } from './irql.js';
import { spinLockCalls } from './spinlock.js';
import { waitCalls } from './wait-gate.js';
import { KERNEL_CALLS } from '../isa/kcalls.js';
import type { KernelCallName } from '../isa/kcalls.js';

const handlers: Record<KernelCallName, KernelCallHandler> = {
  KeGetCurrentIrql: irqlCalls.KeGetCurrentIrql,
  KeRaiseIrql: irqlCalls.KeRaiseIrql,
  KeLowerIrql: irqlCalls.KeLowerIrql,
  KeRaiseIrqlToDpcLevel: irqlCalls.KeRaiseIrqlToDpcLevel,
  KeGetCurrentProcessorNumber: irqlCalls.KeGetCurrentProcessorNumber,
  KeInitializeDpc: dpcCalls.KeInitializeDpc,
  KeInsertQueueDpc: dpcCalls.KeInsertQueueDpc,
  KeRemoveQueueDpc: dpcCalls.KeRemoveQueueDpc,
  KeSetImportanceDpc: dpcCalls.KeSetImportanceDpc,
  KeSetTargetProcessorDpc: dpcCalls.KeSetTargetProcessorDpc,
  KeIsExecutingDpc: dpcCalls.KeIsExecutingDpc,
  KeIpiGenericCall: ipiCalls.KeIpiGenericCall,
  KiIpiSendPacket: ipiCalls.KiIpiSendPacket,
  KeBugCheckEx: bugCheckCalls.KeBugCheckEx,
  KeStallExecutionProcessor: clockCalls.KeStallExecutionProcessor,
  KeQueryInterruptTime: clockCalls.KeQueryInterruptTime,
  KeQueryTickCount: clockCalls.KeQueryTickCount,
  HalRequestSoftwareInterrupt: irqlCalls.HalRequestSoftwareInterrupt,
  KeSynchronizeExecution: interruptCalls.KeSynchronizeExecution,
  KeQueryPerformanceCounter: clockCalls.KeQueryPerformanceCounter,
  KeRaiseIrqlToSynchLevel: irqlCalls.KeRaiseIrqlToSynchLevel,
  KeGetCurrentThread: dispatcherObjectCalls.KeGetCurrentThread,
  KeSetEvent: dispatcherObjectCalls.KeSetEvent,
  KeResetEvent: dispatcherObjectCalls.KeResetEvent,
  KeClearEvent: dispatcherObjectCalls.KeClearEvent,
  KePulseEvent: dispatcherObjectCalls.KePulseEvent,
  KeReadStateEvent: dispatcherObjectCalls.KeReadStateEvent,
  KeReleaseSemaphore: dispatcherObjectCalls.KeReleaseSemaphore,
  KeReadStateSemaphore: dispatcherObjectCalls.KeReadStateSemaphore,
  KeReleaseMutex: dispatcherObjectCalls.KeReleaseMutex,
  KeReleaseMutant: dispatcherObjectCalls.KeReleaseMutant,
  KeReadStateMutex: dispatcherObjectCalls.KeReadStateMutex,
  KeWaitForSingleObject: waitCalls.KeWaitForSingleObject,
  KeWaitForMultipleObjects: waitCalls.KeWaitForMultipleObjects,
  ZwYieldExecution: waitCalls.ZwYieldExecution,
  KeSetPriorityThread: dispatcherObjectCalls.KeSetPriorityThread,
  KeQueryPriorityThread: dispatcherObjectCalls.KeQueryPriorityThread,
  PsCreateSystemThread: dispatcherObjectCalls.PsCreateSystemThread,
  PsTerminateSystemThread: waitCalls.PsTerminateSystemThread,
  KeAcquireSpinLock: spinLockCalls.KeAcquireSpinLock,
  KeReleaseSpinLock: spinLockCalls.KeReleaseSpinLock,
  KeAcquireSpinLockAtDpcLevel: spinLockCalls.KeAcquireSpinLockAtDpcLevel,
  KeReleaseSpinLockFromDpcLevel: spinLockCalls.KeReleaseSpinLockFromDpcLevel,
  KeTryToAcquireSpinLockAtDpcLevel: spinLockCalls.KeTryToAcquireSpinLockAtDpcLevel,
  KeAcquireInStackQueuedSpinLock: spinLockCalls.KeAcquireInStackQueuedSpinLock,
  KeReleaseInStackQueuedSpinLock: spinLockCalls.KeReleaseInStackQueuedSpinLock,
  KeAcquireInStackQueuedSpinLockAtDpcLevel: spinLockCalls.KeAcquireInStackQueuedSpinLockAtDpcLevel,
  KeReleaseInStackQueuedSpinLockFromDpcLevel: spinLockCalls.KeReleaseInStackQueuedSpinLockFromDpcLevel,
  KeQuerySystemTime: clockCalls.KeQuerySystemTime,
  KeQueryTimeIncrement: clockCalls.KeQueryTimeIncrement,
  KeInitializeTimer: clockCalls.KeInitializeTimer,
  KeInitializeTimerEx: clockCalls.KeInitializeTimerEx,
  KeSetTimer: clockCalls.KeSetTimer,
  KeSetTimerEx: clockCalls.KeSetTimerEx,
  KeCancelTimer: clockCalls.KeCancelTimer,
  KeReadStateTimer: clockCalls.KeReadStateTimer,
  KeDelayExecutionThread: waitCalls.KeDelayExecutionThread,
  KeSetSystemTime: clockCalls.KeSetSystemTime,
  KeQueryDpcWatchdogInformation: clockCalls.KeQueryDpcWatchdogInformation,
};

/** The handlers by kernel-call id. */
export const KERNEL_CALL_HANDLERS: readonly KernelCallHandler[] = KERNEL_CALLS.map((spec) => handlers[spec.name as KernelCallName]);
