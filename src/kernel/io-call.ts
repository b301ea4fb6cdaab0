/**
 * The CPU side of the I/O path (nt-semantics.md §8): the system services that send a request to a
 * driver (NtReadFile, ReadFile, ReadFileEx, DeviceIoControl), the driver's kernel calls
 * IoMarkIrpPending and IoCompleteRequest, and the I/O manager's built-in APC routines
 * (IopCompleteRequest, IopFreeIrpKernelApc and the rundowns) that KiDeliverApc runs. The decisions
 * are src/kernel/io.ts's, made in the dispatcher (src/kernel/io-operations.ts, codes 28–32).
 *
 * A request, step by step on the issuing thread's CPU: NtReadFile (the IRP, its record filled in
 * the IRP zone) → the dispatch routine called as a kernel-mode code frame, r1 = the device object,
 * r2 = the IRP, at the caller's IRQL → IoDispatchReturned (0xC9 when STATUS_PENDING and
 * IoMarkIrpPending disagree; an IRP completed inside the dispatch routine is finished here, at
 * APC_LEVEL, IRP_DEFER_IO_COMPLETION) → the service returns the status, or (a synchronous file,
 * STATUS_PENDING) waits on the file object's event. IoCompleteRequest on a pended IRP queues the
 * special kernel APC IopCompleteRequest to the issuing thread; it runs there at APC_LEVEL and
 * writes the IO_STATUS_BLOCK, sets the events and queues a ReadFileEx completion routine as a user APC.
 *
 * Emulator policy: the dispatch routine runs nested on the thread's frame, which a context switch
 * cannot carry, so it is under the rule of an APC routine (Prcb.apcDeliveryDepth, apc-call.ts): it
 * may not block, and a reschedule waits until it returns. The synchronous wait is the service's
 * last step: when a kernel APC breaks it (the completion APC does), the thread comes back into the
 * service call itself (the wait's restart, §4.11), which the I/O manager recognises and turns into
 * the request's end (io.ts IoManager.synchronousWaits) instead of a new request.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL } from './cpu.js';
import { dispatcherCall } from './dispatcher-call.js';
import { apcDeliveryEnded } from './apc-call.js';
import { ApcBuiltinRoutine } from './apc-state.js';
import { APC_LEVEL, DISPATCH_LEVEL, irqlName, requestSoftwareInterrupt, setIrql } from './irql.js';
import { IRP_RECORD_BYTES, IrpField, IrpMajorFunction, IrpTraceStage, SL_PENDING_RETURNED, irpAddress, irpApcId, irpOfApcId, irpRecordAddress } from './io.js';
import { blockingCallGate, checkNotWaitNext } from './wait-gate.js';
import { touch } from './mm.js';
import { STATUS, WaitReason, WaitType } from './status.js';
import { serviceCallRestarts } from './service-call.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { IoRequestKind, ReplyFlag } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequestOf } from '../ipc/dispatcher-ops.js';
import { ContextField } from '../shm/layout.js';

/** A ReadFile / DeviceIoControl without a completion routine (NtReadFile's ApcRoutine = NULL). */
const NO_APC_ROUTINE = -1;

/** The id of the IRP whose Tail.Apc this APC is. */
function irpOfApc(cpu: Cpu, apcId: number): number {
  return irpOfApcId(cpu.config.apcs?.length ?? 0, apcId);
}

/** The APC id of an IRP's Tail.Apc. */
function apcOfIrp(cpu: Cpu, irpId: number): number {
  return irpApcId(cpu.config.apcs?.length ?? 0, irpId);
}

/** The IRP record at `address` (the IRP pointer a driver was given): its word index, or a bugcheck for a pointer that is no IRP. */
function irpRecord(cpu: Cpu, address: number, name: string): number {
  const zone = cpu.config.irpZone;
  const offset = address - (zone?.address ?? 0);
  if (!zone || offset < 0 || offset >= zone.records * IRP_RECORD_BYTES || offset % IRP_RECORD_BYTES !== 0) {
    throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INVALID_PARAMETER, cpu.currentPc(), address, 0).withDetail(
      `${name} was given 0x${(address >>> 0).toString(16)}, which is no IRP (the I/O manager hands a dispatch routine its IRP in r2)`,
    );
  }
  return address >>> 2;
}

/** Write the IO_STATUS_BLOCK (Status, Information) at `address` in the issuing thread's memory. */
function writeIoStatusBlock(cpu: Cpu, address: number, status: number, information: number): void {
  touch(cpu, address, 1);
  touch(cpu, address + 4, 1);
  cpu.memory[address >>> 2] = status;
  cpu.memory[(address >>> 2) + 1] = information;
}

/**
 * The frame of a system service that sends a request to a driver (see the header for its steps).
 * `callPc` is the service call's pc: a broken synchronous wait comes back there.
 */
function* ioRequest(cpu: Cpu, request: DispatcherRequestOf<'IoCallDriver'>, waitMode: number, ctx: Int32Array, base: number, callPc: number): KernelGenerator {
  const prcb = cpu.prcb;
  const oldIrql = prcb.irql;
  const started = yield* dispatcherCall(cpu, request, oldIrql);
  setIrql(cpu, oldIrql);
  let [kind = IoRequestKind.RETURN, value = 0] = started.payload;
  if (kind === IoRequestKind.DISPATCH) {
    const [, irpId = 0, slot = 0, routine = 0, device = 0] = started.payload;
    [kind, value] = yield* callDispatchRoutine(cpu, request, irpId, slot, routine, device, oldIrql);
  }
  while (kind === IoRequestKind.WAIT) {
    // a synchronous file's pending request: wait (non-alertable, in the caller's mode) on FileObject->Event
    const wait: DispatcherRequestOf<'KeWaitForObjects'> = {
      op: 'KeWaitForObjects',
      waitType: WaitType.WaitAny,
      waitReason: WaitReason.Executive,
      timeout: null,
      alertable: false,
      waitMode,
      objects: [value],
    };
    const reply = yield* dispatcherCall(cpu, wait, oldIrql, callPc);
    if (reply.flags & ReplyFlag.SWITCH) {
      setIrql(cpu, reply.nextWaitIrql);
      return;
    }
    if (reply.status === STATUS.KERNEL_APC) {
      // the APC runs when the IRQL drops, then the service call comes back to find its request
      ctx[base + ContextField.PC] = callPc;
      serviceCallRestarts(cpu, prcb.currentThread);
      requestSoftwareInterrupt(cpu, APC_LEVEL);
      setIrql(cpu, oldIrql);
      return;
    }
    const again = yield* dispatcherCall(cpu, request, oldIrql);
    setIrql(cpu, oldIrql);
    [kind = IoRequestKind.RETURN, value = 0] = again.payload;
  }
  ctx[base + ContextField.R0] = value;
}

/** IoCallDriver: fill the IRP's record, call DispatchRoutine(DeviceObject, Irp), then IoDispatchReturned. Returns how the service ends. */
function* callDispatchRoutine(
  cpu: Cpu,
  request: DispatcherRequestOf<'IoCallDriver'>,
  irpId: number,
  slot: number,
  routine: number,
  device: number,
  oldIrql: number,
): Generator<number, [number, number], number> {
  const prcb = cpu.prcb;
  const address = irpRecordAddress(cpu.config.irpZone!, slot);
  const word = address >>> 2;
  const memory = cpu.memory;
  memory[word + IrpField.STATUS] = 0;
  memory[word + IrpField.INFORMATION] = 0;
  memory[word + IrpField.USER_BUFFER] = request.buffer;
  memory[word + IrpField.LENGTH] = request.length;
  memory[word + IrpField.MAJOR] = request.majorFunction;
  memory[word + IrpField.ID] = irpId;
  memory[word + IrpField.CONTROL] = 0;
  memory[word + IrpField.IO_CONTROL_CODE] = request.ioControlCode;
  cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.ALLOCATED, request.majorFunction);
  cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.DISPATCHED, routine);
  prcb.apcDeliveryDepth++;
  let status: number;
  try {
    // DeviceObject: its handle (the device's id + 1, like the file's); Irp: the record's address
    cpu.pushCall('driver', routine, device + 1, address);
    status = yield SIGNAL_CALL;
  } finally {
    prcb.apcDeliveryDepth--;
  }
  const control = Atomics.load(memory, word + IrpField.CONTROL);
  const reply = yield* dispatcherCall(cpu, { op: 'IoDispatchReturned', irp: irpId, status, control }, oldIrql);
  const [kind = IoRequestKind.RETURN, value = 0, completedHere = 0, iosb = 0, iosbStatus = 0, information = 0, freed = 0] = reply.payload;
  cpu.record(TraceEvent.IRP, irpId, status === STATUS.PENDING ? IrpTraceStage.PENDING : IrpTraceStage.RETURNED, status);
  if (completedHere) {
    // IRP_DEFER_IO_COMPLETION: completed inside the dispatch routine; the issuer is IopCompleteRequest, at APC_LEVEL
    setIrql(cpu, APC_LEVEL);
    if (iosb !== 0) writeIoStatusBlock(cpu, iosb, iosbStatus, information);
    cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.COMPLETION_APC, iosbStatus);
    if (freed) cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.FREED, 0);
  }
  setIrql(cpu, oldIrql);
  // a reschedule held off while the dispatch routine ran is asked for now
  apcDeliveryEnded(cpu);
  return [kind, value];
}

/**
 * The I/O manager's own APC routines, run by KiDeliverApc in place of a routine of the scenario:
 * IopCompleteRequest (the completion APC's KernelRoutine, at APC_LEVEL in the issuing thread: the
 * dispatcher sets the events and queues the user APC, this CPU writes the IO_STATUS_BLOCK), and
 * IopFreeIrpKernelApc / IopAbortRequest / IopAbortIrpKernelApc, which free the IRP.
 */
export function* ioApcRoutine(cpu: Cpu, apcId: number, routine: number): KernelGenerator {
  const irpId = irpOfApc(cpu, apcId);
  const irql = cpu.prcb.irql;
  if (routine === ApcBuiltinRoutine.IopCompleteRequest) {
    const reply = yield* dispatcherCall(cpu, { op: 'IopCompleteRequest', irp: irpId }, irql);
    setIrql(cpu, irql);
    const [iosb = 0, status = 0, information = 0, freed = 0] = reply.payload;
    if (iosb !== 0) writeIoStatusBlock(cpu, iosb, status, information);
    cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.COMPLETION_APC, status);
    if (freed) cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.FREED, 0);
    return;
  }
  yield* dispatcherCall(cpu, { op: 'IopFreeIrp', irp: irpId }, irql);
  setIrql(cpu, irql);
  cpu.record(TraceEvent.IRP, irpId, IrpTraceStage.FREED, 0);
}

/** IoCompleteRequest's frame: the dispatcher operation (the completion APC queued, or deferred to the issuer). */
function* completeRequest(cpu: Cpu, request: DispatcherRequestOf<'IoCompleteRequest'>): KernelGenerator {
  const oldIrql = cpu.prcb.irql;
  const reply = yield* dispatcherCall(cpu, request, oldIrql);
  cpu.record(TraceEvent.IRP, request.irp, IrpTraceStage.COMPLETED, request.status);
  if (reply.status !== 0) {
    const signal = (reply.apcIpiLo | reply.apcIpiHi) !== 0 ? 2 : reply.flags & ReplyFlag.APC_INTERRUPT_SELF ? 1 : 0;
    cpu.record(TraceEvent.APC_INSERT, apcOfIrp(cpu, request.irp), 1, signal);
  }
  setIrql(cpu, reply.flags & ReplyFlag.SWITCH ? reply.nextWaitIrql : oldIrql);
}

/**
 * The IRQL gate of a service that sends a request (a system service runs at PASSIVE_LEVEL; a
 * synchronous one may wait): from a DPC 0xB8, elsewhere above APC_LEVEL 0xA.
 */
function serviceGate(cpu: Cpu, name: string): boolean {
  checkNotWaitNext(cpu, name);
  const irql = cpu.prcb.irql;
  return blockingCallGate(cpu, name, irql, 'wait', () =>
    new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, cpu.currentPc()).withDetail(
      `${name} at ${irqlName(cpu.config.arch, irql)} on thread ${cpu.names.thread(cpu.prcb.currentThread)}: an I/O request may wait, which needs IRQL ≤ APC_LEVEL`,
    ),
  );
}

interface IoServiceArgs {
  file: number;
  buffer: number;
  length: number;
  iosb: number;
  event: number;
  apcRoutine: number;
  apcContext: number;
  majorFunction: number;
  ioControlCode: number;
}

function ioService(cpu: Cpu, name: string, fields: IoServiceArgs, ctx: Int32Array, base: number): number {
  if (!serviceGate(cpu, name)) return KCALL_DONE;
  const callPc = ctx[base + ContextField.PC]!;
  cpu.pushKernel(name, 'kernel', ioRequest(cpu, { op: 'IoCallDriver', ...fields }, cpu.callerMode(), ctx, base, callPc), false);
  return KCALL_DONE;
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const ioCalls = {
  IoMarkIrpPending: (cpu, args) => {
    const word = irpRecord(cpu, args[0]!, 'IoMarkIrpPending');
    Atomics.or(cpu.memory, word + IrpField.CONTROL, SL_PENDING_RETURNED);
    return KCALL_DONE;
  },
  IoCompleteRequest: (cpu, args) => {
    checkNotWaitNext(cpu, 'IoCompleteRequest');
    const word = irpRecord(cpu, args[0]!, 'IoCompleteRequest');
    const memory = cpu.memory;
    const irp = memory[word + IrpField.ID]!;
    const irql = cpu.prcb.irql;
    if (irql > DISPATCH_LEVEL) {
      // Driver Verifier's I/O check, which irqlab always makes (src/kernel/io.ts completeRequest)
      throw new BugCheck(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x0e, irql, irpAddress(irp), 0).withDetail(
        `IoCompleteRequest on IRP #${irp} at ${irqlName(cpu.config.arch, irql)}: it must be called at IRQL ≤ DISPATCH_LEVEL`,
      );
    }
    const request = {
      op: 'IoCompleteRequest',
      irp,
      boost: args[1]!,
      status: memory[word + IrpField.STATUS]!,
      information: memory[word + IrpField.INFORMATION]!,
      control: Atomics.load(memory, word + IrpField.CONTROL),
    } as const;
    cpu.pushKernel('IoCompleteRequest', 'kernel', completeRequest(cpu, request), false);
    return KCALL_DONE;
  },
  NtReadFile: (cpu, args, ctx, base) =>
    ioService(
      cpu,
      'NtReadFile',
      {
        file: args[0]!,
        event: args[1]!,
        apcRoutine: args[2]!,
        apcContext: args[3]!,
        iosb: args[4]!,
        buffer: args[5]!,
        length: args[6]!,
        majorFunction: IrpMajorFunction.read,
        ioControlCode: 0,
      },
      ctx,
      base,
    ),
  ReadFile: (cpu, args, ctx, base) =>
    ioService(
      cpu,
      'ReadFile',
      {
        file: args[0]!,
        buffer: args[1]!,
        length: args[2]!,
        iosb: args[3]!,
        event: 0,
        apcRoutine: NO_APC_ROUTINE,
        apcContext: 0,
        majorFunction: IrpMajorFunction.read,
        ioControlCode: 0,
      },
      ctx,
      base,
    ),
  ReadFileEx: (cpu, args, ctx, base) =>
    ioService(
      cpu,
      'ReadFileEx',
      {
        file: args[0]!,
        buffer: args[1]!,
        length: args[2]!,
        // the OVERLAPPED's Internal / InternalHigh are the IO_STATUS_BLOCK
        iosb: args[3]!,
        event: 0,
        apcRoutine: args[4]!,
        apcContext: args[3]!,
        majorFunction: IrpMajorFunction.read,
        ioControlCode: 0,
      },
      ctx,
      base,
    ),
  DeviceIoControl: (cpu, args, ctx, base) =>
    ioService(
      cpu,
      'DeviceIoControl',
      {
        file: args[0]!,
        ioControlCode: args[1]!,
        buffer: args[2]!,
        length: args[3]!,
        iosb: args[4]!,
        event: 0,
        apcRoutine: NO_APC_ROUTINE,
        apcContext: 0,
        majorFunction: IrpMajorFunction.deviceControl,
      },
      ctx,
      base,
    ),
} satisfies Record<string, KernelCallHandler>;
