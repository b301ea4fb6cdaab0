/**
 * The I/O manager's path from a read to its completion routine (nt-semantics.md §8): driver and
 * device objects with their file objects, the IRP NtReadFile allocates, IoCallDriver, the dispatch
 * rule (STATUS_PENDING ⇔ IoMarkIrpPending), IoCompleteRequest(irp, boost) at ≤ DISPATCH_LEVEL
 * (which queues the special kernel APC IopCompleteRequest to the issuing thread), what that APC
 * does at APC_LEVEL in the issuing thread (write the IO_STATUS_BLOCK, signal the events, queue the
 * user APC of a ReadFileEx completion routine, or free the IRP), and the end of NtReadFile
 * (return STATUS_PENDING to an overlapped caller, or wait on the file object's event).
 *
 * Pure data and decisions, like the APC module (src/kernel/apc.ts): each function returns what the
 * caller must then do (call a dispatch routine, queue an APC, write memory, set an event) instead of
 * doing it. The I/O database (`IoManager`) lives with the dispatcher database in the coordinator
 * (DispatcherLock.io; its operations: src/kernel/io-operations.ts), because an IRP's completion
 * queues an APC atomically with the APC lists; the driver code itself (dispatch routines, DPCs
 * calling IoCompleteRequest) runs on the CPUs (src/kernel/io-call.ts).
 *
 * One stack location per IRP (a single driver, no filter stack, no completion routines: the articles'
 * drivers need no more), no MDLs, no buffered-I/O copy (the driver writes the caller's buffer).
 */

import { ApcBuiltinRoutine, ApcEnvironment, KApc, NO_ROUTINE, QUEUED_USER_APC_ID_BASE } from './apc-state.js';
import { initializeApc } from './apc.js';
import type { DispatchBugcheck } from './dispatcher-lock.js';
import type { KThread } from './thread.js';
import { BUGCHECK } from './bugcheck.js';
import { DISPATCH_LEVEL } from './irql.js';
import { KernelMode, STATUS, UserMode } from './status.js';

/** IRP_MJ_* codes the scenario's drivers may handle. */
export const IrpMajorFunction = { create: 0x00, close: 0x02, read: 0x03, write: 0x04, deviceControl: 0x0e, cleanup: 0x12 } as const;
export type IrpMajorName = keyof typeof IrpMajorFunction;
export const IRP_MAJOR_NAMES = Object.keys(IrpMajorFunction) as IrpMajorName[];

/** The I/O path's status values (src/kernel/status.ts). */
export const IO_STATUS = {
  PENDING: STATUS.PENDING,
  MORE_PROCESSING_REQUIRED: STATUS.MORE_PROCESSING_REQUIRED,
  INVALID_DEVICE_REQUEST: STATUS.INVALID_DEVICE_REQUEST,
  CANCELLED: STATUS.CANCELLED,
} as const;

/** NT_ERROR(status): severity error (the two top bits set). */
export function ntError(status: number): boolean {
  return status >>> 30 === 3;
}

/** IO_STACK_LOCATION.Control: the dispatch routine called IoMarkIrpPending. */
export const SL_PENDING_RETURNED = 0x01;

/** The boost of the user APC IopCompleteRequest queues (ReactOS passes 2). */
export const USER_APC_COMPLETION_INCREMENT = 2;

/** How a device's file object does I/O: synchronous (ReadFile waits inside the system service) or overlapped (ReadFileEx, FILE_FLAG_OVERLAPPED). */
export type FileIoMode = 'synchronous' | 'overlapped';

/** A DEVICE_OBJECT the scenario declares, with the one FILE_OBJECT opened on it at boot. */
export interface DeviceObjectConfig {
  /** index in the machine's device-object table; also the handle of its file object */
  id: number;
  name: string;
  /** its driver's index */
  driver: number;
  io: FileIoMode;
  /** FILE_OBJECT.Event: a notification event in the dispatcher database (its object id) */
  fileEvent: number;
}

/** A DRIVER_OBJECT the scenario declares. */
export interface DriverObjectConfig {
  id: number;
  name: string;
  /** MajorFunction[]: routine index per IRP_MJ code (NO_ROUTINE: IopInvalidDeviceRequest) */
  dispatch: Record<number, number>;
  /** its device objects' ids */
  devices: number[];
}

/** IO_STACK_LOCATION (the one location an IRP has here). */
export interface IoStackLocation {
  majorFunction: number;
  device: number;
  /** SL_PENDING_RETURNED */
  control: number;
}

/** Where an IRP is in its life (the emulator's bookkeeping; NT knows it from who holds the pointer). */
export type IrpStage = 'allocated' | 'in-driver' | 'completing' | 'completion-apc' | 'user-apc' | 'freed';

/** What NtReadFile / ReadFile / ReadFileEx gave the I/O manager. */
export interface ReadRequest {
  /** the issuing thread */
  thread: KThread;
  /** the device object's id (its file's handle is the id + 1: src/kernel/io-operations.ts deviceOfFileHandle) */
  device: number;
  buffer: number;
  length: number;
  /** IoStatusBlock: byte address of the caller's IO_STATUS_BLOCK (Status, Information), 0 for none */
  userIosb: number;
  /** the caller's Event (a dispatcher object id), 0 for none */
  userEvent: number;
  /** ApcRoutine (ReadFileEx's completion routine, run in user mode), NO_ROUTINE for none */
  userApcRoutine: number;
  userApcContext: number;
  requestorMode: typeof KernelMode | typeof UserMode;
  /** DeviceIoControl's IoControlCode (0 for a read) */
  ioControlCode?: number;
}

/** IRP (§8.1): the fields of the path from NtReadFile to the completion routine. */
export class Irp {
  readonly id: number;
  /** Tail.Overlay.Thread */
  readonly thread: KThread;
  /** Tail.Overlay.OriginalFileObject (its device's id: one file object per device) */
  readonly fileObject: number;
  readonly userIosb: number;
  readonly userEvent: number;
  /** Overlay.AsynchronousParameters.UserApcRoutine / UserApcContext */
  readonly userApcRoutine: number;
  readonly userApcContext: number;
  readonly requestorMode: number;
  readonly buffer: number;
  readonly length: number;
  readonly ioControlCode: number;
  /** its record in the IRP zone (the IRP pointer a driver gets), −1 without a zone */
  slot = -1;
  /** IRP_DEFER_IO_COMPLETION: NtReadFile sets it; a request completed inside the dispatch routine is finished by the issuer itself */
  readonly deferIoCompletion = true;
  /** the file object is synchronous (FO_SYNCHRONOUS_IO): the issuer waits on its event */
  readonly synchronousApi: boolean;
  pendingReturned = false;
  cancel = false;
  /** its dispatch routine has not returned yet: a completion meanwhile keeps the IRP until it has (IoDispatchReturned reads it) */
  inDispatch = false;
  /** the PriorityBoost IoCompleteRequest was given: the completion's event sets use it */
  priorityBoost = 0;
  /** IoStatus, which the driver sets before it completes the IRP */
  ioStatus = { status: 0, information: 0 };
  readonly stack: IoStackLocation[];
  currentLocation = 0;
  /** Tail.Apc: the KAPC of the completion, re-initialised as the user APC of a ReadFileEx */
  readonly apc: KApc;
  stage: IrpStage = 'allocated';

  constructor(id: number, request: ReadRequest, apcId: number, majorFunction: number, synchronous: boolean) {
    this.id = id;
    this.thread = request.thread;
    this.fileObject = request.device;
    this.userIosb = request.userIosb;
    this.userEvent = request.userEvent;
    this.userApcRoutine = request.userApcRoutine;
    this.userApcContext = request.userApcContext;
    this.requestorMode = request.requestorMode;
    this.buffer = request.buffer;
    this.length = request.length;
    this.ioControlCode = request.ioControlCode ?? 0;
    this.synchronousApi = synchronous;
    this.stack = [{ majorFunction, device: request.device, control: 0 }];
    this.apc = new KApc(apcId, `Irp#${id}.Tail.Apc`, ApcBuiltinRoutine.IopCompleteRequest, NO_ROUTINE, ApcBuiltinRoutine.IopAbortRequest);
  }

  get currentStack(): IoStackLocation {
    return this.stack[this.currentLocation]!;
  }
}

/**
 * The IRP's memory record: the words a driver reads and writes through the IRP pointer it gets in
 * r2 (emulated memory, like a KLOCK_QUEUE_HANDLE: not shared-memory layout). The I/O manager fills
 * it before the dispatch routine runs; the driver sets IoStatus with stores, as real drivers do,
 * and IoCompleteRequest reads it back. IoMarkIrpPending sets SL_PENDING_RETURNED in CONTROL.
 */
export const IrpField = {
  /** IoStatus.Status */
  STATUS: 0,
  /** IoStatus.Information */
  INFORMATION: 1,
  /** the caller's buffer (UserBuffer) */
  USER_BUFFER: 2,
  /** Parameters.Read.Length / DeviceIoControl.OutputBufferLength */
  LENGTH: 3,
  /** the current stack location's MajorFunction */
  MAJOR: 4,
  /** the I/O manager's id of the IRP */
  ID: 5,
  /** the current stack location's Control (SL_PENDING_RETURNED) */
  CONTROL: 6,
  /** Parameters.DeviceIoControl.IoControlCode */
  IO_CONTROL_CODE: 7,
  WORDS: 8,
} as const;

/** Bytes of one IRP record in the IRP zone. */
export const IRP_RECORD_BYTES = IrpField.WORDS * 4;
/** IRP records in the zone when the scenario does not say (machine.irpZone). */
export const DEFAULT_IRP_ZONE_RECORDS = 16;

/** Where the IRP zone lies in emulated memory (compile.ts places it; absent without drivers). */
export interface IrpZoneConfig {
  /** byte address of record 0 */
  address: number;
  records: number;
}

/** The byte address of IRP record `slot`. */
export function irpRecordAddress(zone: IrpZoneConfig, slot: number): number {
  return zone.address + slot * IRP_RECORD_BYTES;
}

/** The KAPC id of IRP `irpId`'s Tail.Apc: IRPs' APCs follow the `declaredApcs` the scenario declares. */
export function irpApcId(declaredApcs: number, irpId: number): number {
  return declaredApcs + irpId - 1;
}

/** The IRP whose Tail.Apc has KAPC id `apcId` (the inverse of irpApcId). */
export function irpOfApcId(declaredApcs: number, apcId: number): number {
  return apcId - declaredApcs + 1;
}

/** The name of a KAPC by id: a declared one's, an IRP's embedded Tail.Apc after them, or one QueueUserAPC allocated. */
export function kapcName(declared: readonly { name: string }[] | undefined, apcId: number): string {
  const count = declared?.length ?? 0;
  if (apcId >= 0 && apcId < count) return declared![apcId]!.name;
  if (apcId >= QUEUED_USER_APC_ID_BASE) return `QueueUserAPC#${apcId - QUEUED_USER_APC_ID_BASE + 1}`;
  return apcId >= count ? `Irp#${irpOfApcId(count, apcId)}.Tail.Apc` : `APC#${apcId}`;
}

/** The IRP trace event's stage word (TraceEvent.IRP: a = the IRP, b = the stage, c = as named here). */
export const IrpTraceStage = {
  /** NtReadFile / DeviceIoControl built it; c = the major function */
  ALLOCATED: 1,
  /** IoCallDriver calls the dispatch routine; c = the routine */
  DISPATCHED: 2,
  /** the dispatch routine returned STATUS_PENDING; c = that status */
  PENDING: 3,
  /** IoCompleteRequest; c = IoStatus.Status */
  COMPLETED: 4,
  /** IopCompleteRequest ran in the issuing thread, as its completion APC or at once for an IRP completed inside its dispatch routine (the IOSB written); c = IoStatus.Status */
  COMPLETION_APC: 5,
  /** IoFreeIrp */
  FREED: 6,
  /** the dispatch routine returned another status; c = that status */
  RETURNED: 7,
} as const;

const IRP_STAGE_NAMES: Record<number, string> = {
  1: 'allocated',
  2: 'dispatched',
  3: 'pending',
  4: 'completed',
  5: 'IopCompleteRequest',
  6: 'freed',
  7: 'dispatch returned',
};

export function irpStageName(stage: number): string {
  return IRP_STAGE_NAMES[stage] ?? `stage ${stage}`;
}

/** A stand-in kernel address of an IRP for bugcheck parameters. */
export function irpAddress(irpId: number): number {
  return 0xfa000000 + irpId * 0x100;
}

/** The IRP id of a stand-in address (irpAddress), or null for another address. */
function irpOfAddress(address: number): number | null {
  const offset = (address >>> 0) - irpAddress(0);
  return offset > 0 && offset % 0x100 === 0 ? offset / 0x100 : null;
}

/**
 * The "in this run" prose of an I/O bugcheck the dispatcher raised (its reply carries only the
 * code and parameters): 0xC9 by its subcode, 0x44. Null for any other bugcheck.
 */
export function ioBugcheckDetail(code: number, params: readonly number[]): string | null {
  const [p1 = 0, p2 = 0, p3 = 0, p4 = 0] = params.map((p) => p >>> 0);
  const hex = (value: number): string => `0x${value.toString(16)}`;
  if (code === BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS) {
    const irp = irpOfAddress(p1);
    return `IoCompleteRequest on ${irp === null ? `IRP ${hex(p1)}` : `IRP #${irp}`}, which no driver owns any more (completed already) or was never sent`;
  }
  if (code !== BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION) return null;
  const irp = irpOfAddress(p3);
  const name = irp === null ? 'an IRP' : `IRP #${irp}`;
  switch (p1) {
    case IRQLAB_PENDING_MISMATCH:
      return p4 !== 0
        ? `the dispatch routine called IoMarkIrpPending on ${name} but returned ${hex(p2)}, not STATUS_PENDING`
        : `the dispatch routine returned STATUS_PENDING for ${name} without calling IoMarkIrpPending`;
    case 0x06:
      return `IoCompleteRequest on ${name} with IoStatus.Status = STATUS_PENDING`;
    case 0x0e:
      return `IoCompleteRequest on ${name} at IRQL ${p2}, above DISPATCH_LEVEL`;
    case 0x10:
      return `IoCallDriver at IRQL ${p2}, above DISPATCH_LEVEL`;
    default:
      return null;
  }
}

/** A broken I/O rule: the bugcheck, with the prose of its report. */
export interface IoViolation {
  bugcheck: DispatchBugcheck;
  detail: string;
}

/** The I/O database: drivers, devices with their file objects, and the IRPs alive. */
export class IoManager {
  readonly drivers: readonly DriverObjectConfig[];
  readonly devices: readonly DeviceObjectConfig[];
  readonly irps = new Map<number, Irp>();
  /** IRPs allocated so far (an IRP's id is its number in this count) */
  irpsAllocated = 0;
  /** the APC ids of IRPs' Tail.Apc start after the declared APCs */
  private readonly firstIrpApcId: number;
  /** IRP records in the zone (0: no zone, IRPs are not limited) and which are in use */
  private readonly zoneSlots: boolean[];
  /**
   * A synchronous request's issuer waiting on the file object, by thread id: the final status once
   * IopCompleteRequest ran (null before). The wait inside NtReadFile restarts as the system service
   * call itself (a kernel APC breaks it: §4.11), so the restarted call finds its request here
   * instead of issuing a new one (src/kernel/io-call.ts).
   */
  readonly synchronousWaits = new Map<number, { irp: number; event: number; finalStatus: number | null }>();

  constructor(drivers: readonly DriverObjectConfig[], devices: readonly DeviceObjectConfig[], declaredApcs: number, zoneRecords = 0) {
    this.drivers = drivers;
    this.devices = devices;
    this.firstIrpApcId = declaredApcs;
    this.zoneSlots = new Array<boolean>(zoneRecords).fill(false);
  }

  device(id: number): DeviceObjectConfig | null {
    return this.devices[id] ?? null;
  }

  /**
   * NtReadFile's IRP (§8.1): Tail.Overlay.Thread = the caller, the file object, the caller's IOSB,
   * event and APC routine; IRP_MJ_READ in its stack location. Null for a handle that is no file.
   * The file's event is reset by the caller (NtReadFile clears FileObject->Event before it calls the driver).
   */
  allocateReadIrp(request: ReadRequest): Irp | null {
    return this.allocateIrp(request, IrpMajorFunction.read);
  }

  /**
   * An IRP for `majorFunction` (IRP_MJ_READ from NtReadFile, IRP_MJ_DEVICE_CONTROL from
   * NtDeviceIoControlFile), in the lowest free record of the IRP zone. Null for a handle that is no
   * file, or when every record is in use (the caller fails with STATUS_INSUFFICIENT_RESOURCES).
   */
  allocateIrp(request: ReadRequest, majorFunction: number): Irp | null {
    const device = this.device(request.device);
    if (!device) return null;
    const slot = this.zoneSlots.indexOf(false);
    if (this.zoneSlots.length > 0 && slot < 0) return null;
    this.irpsAllocated += 1;
    const id = this.irpsAllocated;
    const irp = new Irp(id, request, irpApcId(this.firstIrpApcId, id), majorFunction, device.io === 'synchronous');
    if (slot >= 0) {
      irp.slot = slot;
      this.zoneSlots[slot] = true;
    }
    this.irps.set(id, irp);
    return irp;
  }

  /** A freed IRP leaves the database; its record can hold the next one. */
  forget(irp: Irp): void {
    if (irp.slot >= 0) this.zoneSlots[irp.slot] = false;
    this.irps.delete(irp.id);
  }

  /**
   * IoCallDriver(DeviceObject, Irp): the dispatch routine of the device's driver for the IRP's
   * major function, to call as DispatchRoutine(DeviceObject, Irp) at the caller's IRQL (≤
   * DISPATCH_LEVEL; above it is Driver Verifier's 0xC9 / 0x10). A driver with no routine for it
   * gets IopInvalidDeviceRequest: the IRP is completed at once with STATUS_INVALID_DEVICE_REQUEST.
   */
  callDriver(
    irp: Irp,
    irql: number,
  ): { kind: 'dispatch'; routine: number; device: number } | { kind: 'invalid-request' } | { kind: 'violation'; violation: IoViolation } {
    if (irql > DISPATCH_LEVEL) {
      return {
        kind: 'violation',
        violation: {
          bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, params: [0x10, irql, 0, 0] },
          detail: `IoCallDriver called at IRQL ${irql}, above DISPATCH_LEVEL`,
        },
      };
    }
    const location = irp.currentStack;
    const device = this.device(location.device)!;
    const driver = this.drivers[device.driver]!;
    irp.stage = 'in-driver';
    const routine = driver.dispatch[location.majorFunction] ?? NO_ROUTINE;
    if (routine === NO_ROUTINE) {
      irp.ioStatus = { status: IO_STATUS.INVALID_DEVICE_REQUEST, information: 0 };
      return { kind: 'invalid-request' };
    }
    return { kind: 'dispatch', routine, device: device.id };
  }

  irp(id: number): Irp | null {
    return this.irps.get(id) ?? null;
  }
}

/** IoMarkIrpPending: SL_PENDING_RETURNED in the current stack location. */
export function markIrpPending(irp: Irp): void {
  irp.currentStack.control |= SL_PENDING_RETURNED;
}

/**
 * P1 of the 0xC9 irqlab raises when a dispatch routine's STATUS_PENDING and its IoMarkIrpPending
 * disagree. Not one of Microsoft's documented subcodes (those are below 0x1000): irqlab's own,
 * documented as such.
 */
export const IRQLAB_PENDING_MISMATCH = 0x1000;

/**
 * The dispatch rule of §8.2, checked when a dispatch routine returns: returning STATUS_PENDING ⇔
 * the location was marked pending. Either half broken loses a completion or completes twice.
 * Emulator policy (§8.2 asks to assert it): 0xC9 with P1 = IRQLAB_PENDING_MISMATCH, P2 the status,
 * P3 the IRP, P4 1 if it was marked.
 */
export function checkDispatchReturn(irp: Irp, status: number): IoViolation | null {
  const marked = (irp.currentStack.control & SL_PENDING_RETURNED) !== 0;
  if ((status === IO_STATUS.PENDING) === marked) return null;
  return {
    bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, params: [IRQLAB_PENDING_MISMATCH, status >>> 0, irpAddress(irp.id), marked ? 1 : 0] },
    detail: marked
      ? `the dispatch routine called IoMarkIrpPending on IRP #${irp.id} but returned 0x${(status >>> 0).toString(16)}, not STATUS_PENDING`
      : `the dispatch routine returned STATUS_PENDING for IRP #${irp.id} without calling IoMarkIrpPending`,
  };
}

/**
 * What IoCompleteRequest asks for (§8.3):
 * - `queue-completion-apc`: KeInsertQueueApc(irp.apc, SA1 = the file object, SA2 = 0, boost) to the
 *   issuing thread (the APC is initialised: special, IopCompleteRequest / IopAbortRequest). If the
 *   insertion returns FALSE (the thread is exiting) the IRP is dropped (`dropDeadIrp`).
 * - `deferred-to-issuer`: the request completed inside its dispatch routine and was never pended
 *   (IRP_DEFER_IO_COMPLETION): the issuer, back from IoCallDriver, runs IopCompleteRequest itself.
 */
export type CompletionAction =
  | { kind: 'queue-completion-apc'; apc: KApc; systemArgument1: number; systemArgument2: number; boost: number }
  | { kind: 'deferred-to-issuer' };

/**
 * IoCompleteRequest(Irp, PriorityBoost) at ≤ DISPATCH_LEVEL (§8.3). Completing an IRP no driver
 * owns (completed already, or never sent) is 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS; a status of
 * STATUS_PENDING is Driver Verifier's 0xC9 / 0x06; above DISPATCH_LEVEL, 0xC9 / 0x0E (irqlab checks
 * both always, as if I/O verification were on).
 */
export function completeRequest(irp: Irp, boost: number, irql: number): { action: CompletionAction } | { violation: IoViolation } {
  if (irp.stage !== 'in-driver') {
    return {
      violation: {
        bugcheck: { code: BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS, params: [irpAddress(irp.id), 0, 0, 0] },
        detail: `IoCompleteRequest on IRP #${irp.id}, which is ${irp.stage === 'allocated' ? 'not in a driver' : 'already completed'}`,
      },
    };
  }
  if (irql > DISPATCH_LEVEL) {
    return {
      violation: {
        bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, params: [0x0e, irql, irpAddress(irp.id), 0] },
        detail: `IoCompleteRequest on IRP #${irp.id} at IRQL ${irql}, above DISPATCH_LEVEL`,
      },
    };
  }
  if (irp.ioStatus.status === IO_STATUS.PENDING || irp.ioStatus.status === -1) {
    return {
      violation: {
        bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, params: [0x06, irp.ioStatus.status >>> 0, irpAddress(irp.id), 0] },
        detail: `IoCompleteRequest on IRP #${irp.id} with IoStatus.Status = STATUS_PENDING`,
      },
    };
  }
  // step 1: walk the locations towards the originator (one here): a location marked pending sets PendingReturned
  for (let location = irp.currentLocation; location >= 0; location--) {
    if (irp.stack[location]!.control & SL_PENDING_RETURNED) irp.pendingReturned = true;
  }
  irp.stage = 'completing';
  // step 3: still inside IoCallDriver, never pended: the issuer does the final stage itself
  if (!irp.pendingReturned && irp.deferIoCompletion) return { action: { kind: 'deferred-to-issuer' } };
  // step 4: the special kernel APC to the issuing thread
  initializeApc(irp.apc, irp.thread, ApcEnvironment.Original, {
    kernelRoutine: ApcBuiltinRoutine.IopCompleteRequest,
    rundownRoutine: ApcBuiltinRoutine.IopAbortRequest,
    normalRoutine: NO_ROUTINE,
    mode: KernelMode,
    context: 0,
  });
  irp.stage = 'completion-apc';
  return { action: { kind: 'queue-completion-apc', apc: irp.apc, systemArgument1: irp.fileObject, systemArgument2: 0, boost } };
}

/**
 * What IopCompleteRequest does at APC_LEVEL in the issuing thread (§8.4), in order:
 * `writeIosb` (Status, Information at the caller's IO_STATUS_BLOCK), `setEvents` (the caller's
 * event, then the file object's event of a synchronous file; with the boost), then either
 * `queueUserApc` (the IRP's KAPC re-initialised as a user APC: NormalRoutine = the completion
 * routine, NormalContext = its context, SA1 = the IOSB) or `freeIrp`.
 * A request that failed synchronously (an error status, never pended) notifies nobody: the caller
 * sees the error as the system service's status.
 */
export interface CompletionEffects {
  writeIosb: { address: number; status: number; information: number } | null;
  setEvents: number[];
  queueUserApc: { apc: KApc; systemArgument1: number; systemArgument2: number; boost: number } | null;
  freeIrp: boolean;
}

export function iopCompleteRequest(io: IoManager, irp: Irp): CompletionEffects {
  const effects: CompletionEffects = { writeIosb: null, setEvents: [], queueUserApc: null, freeIrp: false };
  const notify = !ntError(irp.ioStatus.status) || irp.pendingReturned;
  if (!notify) {
    effects.freeIrp = true;
    freeIrp(io, irp);
    return effects;
  }
  if (irp.userIosb !== 0) effects.writeIosb = { address: irp.userIosb, status: irp.ioStatus.status, information: irp.ioStatus.information };
  if (irp.userEvent !== 0) effects.setEvents.push(irp.userEvent);
  const device = io.device(irp.fileObject);
  if (device && irp.synchronousApi) effects.setEvents.push(device.fileEvent);
  if (irp.userApcRoutine !== NO_ROUTINE) {
    initializeApc(irp.apc, irp.thread, ApcEnvironment.Original, {
      kernelRoutine: ApcBuiltinRoutine.IopFreeIrpKernelApc,
      rundownRoutine: ApcBuiltinRoutine.IopAbortIrpKernelApc,
      normalRoutine: irp.userApcRoutine,
      mode: UserMode,
      context: irp.userApcContext,
    });
    irp.stage = 'user-apc';
    effects.queueUserApc = { apc: irp.apc, systemArgument1: irp.userIosb, systemArgument2: 0, boost: USER_APC_COMPLETION_INCREMENT };
    return effects;
  }
  effects.freeIrp = true;
  freeIrp(io, irp);
  return effects;
}

/** IoFreeIrp: the IRP is gone (the user APC's KernelRoutine IopFreeIrpKernelApc, its rundown, or the end of IopCompleteRequest). */
export function freeIrp(io: IoManager, irp: Irp): void {
  irp.stage = 'freed';
  // still inside its dispatch routine: the issuer's IoDispatchReturned forgets it
  if (!irp.inDispatch) io.forget(irp);
}

/** The completion APC could not be queued (the issuing thread is exiting): the "dead IRP" path drops it. */
export function dropDeadIrp(io: IoManager, irp: Irp): void {
  freeIrp(io, irp);
}

/**
 * How NtReadFile ends once the dispatch routine returned `status` (and, for a request completed
 * inside it, once the issuer ran the deferred IopCompleteRequest):
 * - `return`: the system service returns `status` (STATUS_PENDING to an overlapped caller: ReadFileEx
 *   returns TRUE; the completion routine runs later, in an alertable wait);
 * - `wait-file-event`: a synchronous file's request is pending: wait (non-alertable, in the caller's
 *   mode) on the file object's event, then return the IRP's final IoStatus.Status
 *   (as IopCompleteRequest wrote it into the IOSB) after the wait.
 */
export type ReadEnd = { kind: 'return'; status: number } | { kind: 'wait-file-event'; event: number };

export function readFileEnd(io: IoManager, irp: Irp, status: number): ReadEnd {
  const device = io.device(irp.fileObject);
  if (status === IO_STATUS.PENDING && irp.synchronousApi && device) return { kind: 'wait-file-event', event: device.fileEvent };
  return { kind: 'return', status };
}
