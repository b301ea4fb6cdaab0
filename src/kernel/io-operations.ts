/**
 * The I/O dispatcher operations (src/ipc/dispatcher-ops.ts codes 28–32: IoCallDriver (NtReadFile's
 * and NtDeviceIoControlFile's common part), IoDispatchReturned, IoCompleteRequest, IopCompleteRequest, IopFreeIrp) as the coordinator's
 * dispatcher-lock server serves them: src/kernel/io.ts's decisions under the dispatcher lock, over
 * the I/O database (`lock.io`), with what they ask of the dispatcher (reset or set an event, queue
 * an APC to the issuing thread) done here atomically with them, and what they ask of the calling
 * processor (call a dispatch routine, write an IO_STATUS_BLOCK, wait on the file object) in the
 * outcome's payload. The CPU side is src/kernel/io-call.ts.
 *
 * None of these switches the caller inside the operation: NtReadFile's steps continue on the CPU
 * after each (a switch would drop them), so a thread readied by a completion on the caller's CPU
 * is placed and asks for a DISPATCH interrupt (taken when the caller lowers), except
 * IoCompleteRequest, which is KeInsertQueueApc's exit (a caller below DISPATCH_LEVEL may be
 * preempted inside it, as by any set).
 */

import type { ApcWordsOf } from './apc-operations.js';
import { queueApc, insertQueueApc } from './apc.js';
import { KEvent } from './event.js';
import type { Caller, DispatcherLock, DispatchOutcome, Entered } from './dispatcher-lock.js';
import type { SchedulerPrcb } from './scheduler.js';
import type { PlacementEffects } from './scheduler.js';
import { NO_ROUTINE } from './apc-state.js';
import {
  IO_STATUS,
  SL_PENDING_RETURNED,
  completeRequest,
  checkDispatchReturn,
  dropDeadIrp,
  freeIrp,
  iopCompleteRequest,
  irpAddress,
  markIrpPending,
  readFileEnd,
} from './io.js';
import type { Irp } from './io.js';
import { BUGCHECK } from './bugcheck.js';
import { KernelMode, STATUS } from './status.js';
import { IoRequestKind } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequestOf } from '../ipc/dispatcher-ops.js';

/** A file handle is its device object's id + 1 (0 is NULL): src/scenario/compile.ts resolves `a.file(name)` so. */
export function deviceOfFileHandle(handle: number): number {
  return handle - 1;
}

function withPayload(outcome: DispatchOutcome, payload: number[]): DispatchOutcome {
  outcome.payload = payload;
  return outcome;
}

/** Leave without switching: readied threads are placed; a NextThread here is taken by a DISPATCH interrupt when the caller lowers. */
function exitWithoutSwitch(lock: DispatcherLock, caller: Caller, prcb: SchedulerPrcb, effects: PlacementEffects, status: number): DispatchOutcome {
  lock.scheduler.processDeferredReadyList(caller.cpu, effects);
  return lock.outcome(prcb, effects, status, null, prcb.nextThread !== null);
}

/**
 * IoCallDriver: NtReadFile (and NtDeviceIoControlFile) up to the driver: the IRP, the events reset, the
 * dispatch routine to call. A thread coming back into the call after its synchronous wait was
 * broken (src/kernel/io.ts IoManager.synchronousWaits) gets its request's end instead.
 */
export function readFileOperation(lock: DispatcherLock, caller: Caller, request: DispatcherRequestOf<'IoCallDriver'>): DispatchOutcome {
  const entered = lock.enter(caller);
  const { prcb, thread, effects } = entered;
  const io = lock.io;
  const waiting = io.synchronousWaits.get(thread.id);
  if (waiting) {
    if (waiting.finalStatus === null) return withPayload(lock.outcome(prcb, effects, 0, null), [IoRequestKind.WAIT, waiting.event, 0, 0, 0]);
    io.synchronousWaits.delete(thread.id);
    return withPayload(lock.outcome(prcb, effects, 0, null), [IoRequestKind.RETURN, waiting.finalStatus, 0, 0, 0]);
  }
  const device = io.device(deviceOfFileHandle(request.file));
  if (!device || thread.isIdle) return withPayload(lock.outcome(prcb, effects, 0, null), [IoRequestKind.RETURN, STATUS.INVALID_HANDLE, 0, 0, 0]);
  const irp = io.allocateIrp(
    {
      thread,
      device: device.id,
      buffer: request.buffer,
      length: request.length,
      userIosb: request.iosb,
      userEvent: request.event,
      userApcRoutine: request.apcRoutine < 0 ? NO_ROUTINE : request.apcRoutine,
      userApcContext: request.apcContext,
      // RequestorMode only records who asked; nothing on this path decides by it
      requestorMode: KernelMode,
      ioControlCode: request.ioControlCode,
    },
    request.majorFunction,
  );
  if (!irp) return withPayload(lock.outcome(prcb, effects, 0, null), [IoRequestKind.RETURN, STATUS.INSUFFICIENT_RESOURCES, 0, 0, 0]);
  // NtReadFile clears FileObject->Event and the caller's Event before the driver sees the request
  resetEventObject(lock, device.fileEvent);
  if (request.event !== 0 && !resetEventObject(lock, request.event)) {
    freeIrp(io, irp);
    return lock.raise(prcb, STATUS.INVALID_HANDLE, request.event, thread.id);
  }
  const call = io.callDriver(irp, caller.oldIrql);
  if (call.kind === 'violation') {
    freeIrp(io, irp);
    return lock.fail(call.violation.bugcheck, prcb);
  }
  if (call.kind === 'invalid-request') {
    // IopInvalidDeviceRequest completes it at once; an error never pended notifies nobody (§8.4)
    freeIrp(io, irp);
    return withPayload(lock.outcome(prcb, effects, 0, null), [IoRequestKind.RETURN, IO_STATUS.INVALID_DEVICE_REQUEST, irp.slot, 0, 0]);
  }
  irp.inDispatch = true;
  return withPayload(lock.outcome(prcb, effects, irp.id, null), [IoRequestKind.DISPATCH, irp.id, irp.slot, call.routine, call.device]);
}

function resetEventObject(lock: DispatcherLock, eventId: number): boolean {
  const event = lock.object(eventId, KEvent);
  if (!event) return false;
  event.signalState = 0;
  return true;
}

/** Set an event the completion signals (KeSetEvent without Wait), releasing its waiters with the boost. */
function signalEvent(lock: DispatcherLock, caller: Caller, effects: PlacementEffects, eventId: number, boost: number): void {
  const event = lock.object(eventId, KEvent);
  if (!event) return;
  const previous = event.signalState;
  event.signalState = 1;
  if (previous === 0 && event.waitList.length > 0) lock.wake(event, boost, caller.cpu, effects);
}

/**
 * IopCompleteRequest's work in the dispatcher (§8.4): events set, the ReadFileEx user APC queued to
 * the issuing thread (the caller: it runs in that thread's context), or the IRP freed. Returns the
 * IOSB write for the CPU ([iosb, status, information], iosb 0 for none) and whether the IRP is gone.
 */
function finishCompletion(lock: DispatcherLock, caller: Caller, entered: Entered, irp: Irp, wordsOf: ApcWordsOf): number[] {
  const io = lock.io;
  const effects = iopCompleteRequest(io, irp);
  for (const event of effects.setEvents) signalEvent(lock, caller, entered.effects, event, irp.priorityBoost);
  const waiting = io.synchronousWaits.get(irp.thread.id);
  if (waiting && waiting.irp === irp.id) waiting.finalStatus = irp.ioStatus.status;
  if (effects.queueUserApc) {
    const { apc, systemArgument1, systemArgument2 } = effects.queueUserApc;
    const words = wordsOf(irp.thread.id);
    const result = queueApc(apc, systemArgument1, systemArgument2, { cpu: caller.cpu, currentThread: entered.thread }, words);
    if (result.inserted) words.publishQueued(irp.thread.apcState);
    else freeIrp(io, irp);
  }
  const iosb = effects.writeIosb;
  return [iosb?.address ?? 0, iosb?.status ?? 0, iosb?.information ?? 0, irp.stage === 'freed' ? 1 : 0];
}

/**
 * The dispatch routine returned `status`, with the IRP's Control word as it left it: the §8.2 rule
 * (0xC9), then the end of the service: the deferred completion of an IRP completed inside the
 * dispatch routine (the issuer runs IopCompleteRequest itself, IRP_DEFER_IO_COMPLETION), and either
 * return a status or wait on the file object's event.
 */
export function dispatchReturnedOperation(
  lock: DispatcherLock,
  caller: Caller,
  irpId: number,
  status: number,
  control: number,
  wordsOf: ApcWordsOf,
): DispatchOutcome {
  const entered = lock.enter(caller);
  const { prcb, thread, effects } = entered;
  const io = lock.io;
  const irp = io.irp(irpId);
  if (!irp?.inDispatch) return lock.raise(prcb, STATUS.INVALID_PARAMETER, irpId, thread.id);
  if (control & SL_PENDING_RETURNED) markIrpPending(irp);
  const violation = checkDispatchReturn(irp, status);
  irp.inDispatch = false;
  if (violation) {
    if (irp.stage === 'freed') io.forget(irp);
    return lock.fail(violation.bugcheck, prcb);
  }
  // [completed here, iosb, status, information, freed]
  let completion = [0, 0, 0, 0, 0];
  if (irp.stage === 'completing') {
    // completed inside its dispatch routine and never pended: the issuer finishes it here, at APC_LEVEL on the CPU
    completion = [1, ...finishCompletion(lock, caller, entered, irp, wordsOf)];
  }
  const end = readFileEnd(io, irp, status);
  const completed = irp.stage === 'freed' || irp.stage === 'user-apc';
  if (irp.stage === 'freed') io.forget(irp);
  let payload: number[];
  if (end.kind === 'return') payload = [IoRequestKind.RETURN, status, ...completion];
  else if (completed) payload = [IoRequestKind.RETURN, irp.ioStatus.status, ...completion];
  else {
    io.synchronousWaits.set(thread.id, { irp: irp.id, event: end.event, finalStatus: null });
    payload = [IoRequestKind.WAIT, end.event, ...completion];
  }
  return withPayload(exitWithoutSwitch(lock, caller, prcb, effects, 0), payload);
}

/**
 * IoCompleteRequest(Irp, PriorityBoost) with the IoStatus and Control the driver left in the IRP's
 * record (§8.3): 0x44 / 0xC9 as io.ts decides; otherwise the completion APC queued to the issuing
 * thread (an IPI(APC) to the CPU running it, an unwait of a waiting one), or, when the IRP was
 * completed inside its dispatch routine, nothing yet (the issuer finishes it).
 */
export function completeRequestOperation(
  lock: DispatcherLock,
  caller: Caller,
  request: DispatcherRequestOf<'IoCompleteRequest'>,
  wordsOf: ApcWordsOf,
): DispatchOutcome {
  const io = lock.io;
  const irp = io.irp(request.irp);
  if (!irp) {
    const { prcb } = lock.enter(caller);
    return lock.fail({ code: BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS, params: [irpAddress(request.irp), 0, 0, 0] }, prcb);
  }
  if (irp.stage === 'in-driver') irp.ioStatus = { status: request.status, information: request.information };
  if (request.control & SL_PENDING_RETURNED) markIrpPending(irp);
  irp.priorityBoost = request.boost;
  const decision = completeRequest(irp, request.boost, caller.oldIrql);
  if ('violation' in decision) {
    const { prcb } = lock.enter(caller);
    return lock.fail(decision.violation.bugcheck, prcb);
  }
  const action = decision.action;
  if (action.kind === 'deferred-to-issuer') {
    const { prcb, effects } = lock.enter(caller);
    return lock.outcome(prcb, effects, 0, null);
  }
  const words = wordsOf(irp.thread.id);
  const { outcome, result } = insertQueueApc(lock, caller, action.apc, action.systemArgument1, action.systemArgument2, action.boost, words);
  if (!result.inserted) {
    // the issuing thread is exiting: the "dead IRP" path drops it
    dropDeadIrp(io, irp);
    outcome.status = 0;
    return outcome;
  }
  words.publishQueued(irp.thread.apcState);
  if (result.signal.kind === 'apc-interrupt') {
    if (result.signal.remote) outcome.apcInterruptCpus = [result.signal.cpu];
    else outcome.apcInterruptSelf = true;
  }
  return outcome;
}

/** The completion APC's KernelRoutine, IopCompleteRequest, in the issuing thread at APC_LEVEL (§8.4). */
export function iopCompleteRequestOperation(lock: DispatcherLock, caller: Caller, irpId: number, wordsOf: ApcWordsOf): DispatchOutcome {
  const entered = lock.enter(caller);
  const { prcb, thread, effects } = entered;
  const irp = lock.io.irp(irpId);
  if (irp?.stage !== 'completion-apc') return lock.raise(prcb, STATUS.INVALID_PARAMETER, irpId, thread.id);
  // freed here unless its dispatch routine is still running (io.ts freeIrp)
  const payload = finishCompletion(lock, caller, entered, irp, wordsOf);
  return withPayload(exitWithoutSwitch(lock, caller, prcb, effects, 0), payload);
}

/** IoFreeIrp from the user APC's KernelRoutine (IopFreeIrpKernelApc) or a rundown routine. */
export function freeIrpOperation(lock: DispatcherLock, caller: Caller, irpId: number): DispatchOutcome {
  const { prcb, effects } = lock.enter(caller);
  const irp = lock.io.irp(irpId);
  if (irp) freeIrp(lock.io, irp);
  return lock.outcome(prcb, effects, 0, null);
}
