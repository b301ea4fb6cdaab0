// The I/O path (nt-semantics.md §8), in-process: the I/O manager's objects and decisions of
// src/kernel/io.ts, with the completion APC queued and delivered through the APC functions of
// src/kernel/apc.ts the way the machine does (end to end on the machine: test/cpu/io-path.test.ts).
import { describe, expect, it } from 'vitest';
import { ApcBuiltinRoutine, NO_ROUTINE, checkAlertability, newApcThreadWords, queueApc, testAlertThread } from '../../src/kernel/apc.js';
import { kiDeliverApc } from '../../src/kernel/apc-delivery.js';
import type { ApcDeliveryStep, ApcThreadWords } from '../../src/kernel/apc.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import {
  IO_STATUS,
  IRQLAB_PENDING_MISMATCH,
  IoManager,
  IrpMajorFunction,
  SL_PENDING_RETURNED,
  USER_APC_COMPLETION_INCREMENT,
  checkDispatchReturn,
  completeRequest,
  dropDeadIrp,
  freeIrp,
  iopCompleteRequest,
  irpAddress,
  irpApcId,
  irpOfApcId,
  kapcName,
  markIrpPending,
  readFileEnd,
} from '../../src/kernel/io.js';
import type { DeviceObjectConfig, DriverObjectConfig, Irp, ReadRequest } from '../../src/kernel/io.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js';
import { KernelMode, STATUS, UserMode } from '../../src/kernel/status.js';
import { KThread, ThreadState } from '../../src/kernel/thread.js';
import { QUEUED_USER_APC_ID_BASE } from '../../src/kernel/apc-state.js';

const READ_DISPATCH = 20;
const COMPLETION_ROUTINE = 21;
const IOSB = 0x2000;
const USER_EVENT = 40;
const SYNC_FILE_EVENT = 50;
const OVERLAPPED_FILE_EVENT = 51;

function thread(): KThread {
  return new KThread({ id: 9, name: 'App', basePriority: 8, affinity: [true, true], idealProcessor: 0, quantumReset: 6, stackTop: 0 });
}

/** One driver with a synchronous device (0) and an overlapped one (1); a second driver with no read routine (device 2). */
function ioManager(): IoManager {
  const drivers: DriverObjectConfig[] = [
    { id: 0, name: 'Irql', dispatch: { [IrpMajorFunction.read]: READ_DISPATCH }, devices: [0, 1] },
    { id: 1, name: 'Mute', dispatch: {}, devices: [2] },
  ];
  const devices: DeviceObjectConfig[] = [
    { id: 0, name: 'Sync', driver: 0, io: 'synchronous', fileEvent: SYNC_FILE_EVENT },
    { id: 1, name: 'Overlapped', driver: 0, io: 'overlapped', fileEvent: OVERLAPPED_FILE_EVENT },
    { id: 2, name: 'Mute', driver: 1, io: 'synchronous', fileEvent: 52 },
  ];
  return new IoManager(drivers, devices, 3);
}

function read(app: KThread, device: number, extra: Partial<ReadRequest> = {}): ReadRequest {
  return {
    thread: app,
    device,
    buffer: 0x3000,
    length: 16,
    userIosb: IOSB,
    userEvent: 0,
    userApcRoutine: NO_ROUTINE,
    userApcContext: 0,
    requestorMode: UserMode,
    ...extra,
  };
}

/** NtReadFile up to the dispatch routine: allocate the IRP, IoCallDriver; the routine to call must be the driver's. */
function issue(io: IoManager, request: ReadRequest): Irp {
  const irp = io.allocateReadIrp(request)!;
  expect(io.callDriver(irp, PASSIVE_LEVEL)).toEqual({ kind: 'dispatch', routine: READ_DISPATCH, device: request.device });
  return irp;
}

/** A dispatch routine that pends the IRP (IoMarkIrpPending, return STATUS_PENDING). */
function pend(irp: Irp): number {
  markIrpPending(irp);
  expect(checkDispatchReturn(irp, IO_STATUS.PENDING)).toBeNull();
  return IO_STATUS.PENDING;
}

/** A DPC on CPU 1 sets IoStatus and completes the IRP; the completion APC is inserted for the issuing thread. */
function completeFromDpc(irp: Irp, words: ApcThreadWords, status: number = STATUS.SUCCESS, information = 16): ReturnType<typeof queueApc> {
  irp.ioStatus = { status, information };
  const done = completeRequest(irp, 1, DISPATCH_LEVEL);
  if (!('action' in done) || done.action.kind !== 'queue-completion-apc') throw new Error(`expected a completion APC, got ${JSON.stringify(done)}`);
  const { apc, systemArgument1, systemArgument2 } = done.action;
  return queueApc(
    apc,
    systemArgument1,
    systemArgument2,
    { cpu: 1, currentThread: new KThread({ id: 99, name: 'Other', basePriority: 8, affinity: [true, true], idealProcessor: 1, quantumReset: 6, stackTop: 0 }) },
    words,
  );
}

/** KiDeliverApc in the issuing thread, running IopCompleteRequest for the built-in KernelRoutine. Returns the steps and the memory / events the APC wrote. */
function deliverInThread(io: IoManager, app: KThread, words: ApcThreadWords, previousMode: 0 | 1) {
  const steps: string[] = [];
  const iosbWrites: Array<[number, number, number]> = [];
  const eventsSet: number[] = [];
  const userRoutines: number[] = [];
  const delivery = kiDeliverApc(app.apcState, words, previousMode);
  let reply: { irql: number; call: ApcDeliveryStep['call'] } | undefined;
  for (;;) {
    const next = delivery.next(reply);
    if (next.done) break;
    const step = next.value;
    reply = undefined;
    steps.push(
      `${step.kind}:${step.call.kernelRoutine === ApcBuiltinRoutine.IopCompleteRequest ? 'IopCompleteRequest' : step.call.kernelRoutine === ApcBuiltinRoutine.IopFreeIrpKernelApc ? 'IopFreeIrpKernelApc' : step.call.kernelRoutine}`,
    );
    if (step.kind === 'kernel-routine') {
      if (step.call.kernelRoutine === ApcBuiltinRoutine.IopCompleteRequest) {
        const irp = [...io.irps.values()].find((i) => i.apc === step.apc)!;
        const effects = iopCompleteRequest(io, irp);
        if (effects.writeIosb) iosbWrites.push([effects.writeIosb.address, effects.writeIosb.status, effects.writeIosb.information]);
        eventsSet.push(...effects.setEvents);
        if (effects.queueUserApc) {
          const { apc, systemArgument1, systemArgument2 } = effects.queueUserApc;
          // the kernel APC runs in the issuing thread: the user APC is queued to itself
          queueApc(apc, systemArgument1, systemArgument2, { cpu: 0, currentThread: app }, words);
        }
      }
      reply = { irql: APC_LEVEL, call: step.call };
    } else if (step.kind === 'user-apc') {
      userRoutines.push(step.call.normalRoutine);
    }
  }
  return { steps, iosbWrites, eventsSet, userRoutines };
}

describe('§8.1–8.2 IRPs and dispatch', () => {
  it('NtReadFile allocates an IRP for the issuing thread with IRP_MJ_READ, its IOSB, event and APC routine, and IoCallDriver names the driver’s read routine', () => {
    const io = ioManager();
    const app = thread();
    const irp = io.allocateReadIrp(read(app, 1, { userApcRoutine: COMPLETION_ROUTINE, userApcContext: 0x77 }))!;
    expect(irp.thread).toBe(app);
    expect(irp.currentStack).toEqual({ majorFunction: IrpMajorFunction.read, device: 1, control: 0 });
    expect([irp.userIosb, irp.userApcRoutine, irp.userApcContext, irp.synchronousApi]).toEqual([IOSB, COMPLETION_ROUTINE, 0x77, false]);
    expect(io.callDriver(irp, PASSIVE_LEVEL)).toEqual({ kind: 'dispatch', routine: READ_DISPATCH, device: 1 });
    expect(irp.stage).toBe('in-driver');
    expect(io.allocateReadIrp(read(app, 7))).toBeNull();
    expect(io.irpsAllocated).toBe(1);
  });

  it('a driver with no routine for the request: IopInvalidDeviceRequest, STATUS_INVALID_DEVICE_REQUEST', () => {
    const io = ioManager();
    const irp = io.allocateReadIrp(read(thread(), 2))!;
    expect(io.callDriver(irp, PASSIVE_LEVEL)).toEqual({ kind: 'invalid-request' });
    expect(irp.ioStatus.status).toBe(IO_STATUS.INVALID_DEVICE_REQUEST);
  });

  it('IoCallDriver above DISPATCH_LEVEL is 0xC9 / 0x10 with the IRQL', () => {
    const io = ioManager();
    const irp = io.allocateReadIrp(read(thread(), 0))!;
    const result = io.callDriver(irp, DISPATCH_LEVEL + 1);
    expect(result.kind === 'violation' && result.violation.bugcheck).toEqual({
      code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
      params: [0x10, DISPATCH_LEVEL + 1, 0, 0],
    });
  });

  it('IoMarkIrpPending sets SL_PENDING_RETURNED; returning STATUS_PENDING without it (or it without STATUS_PENDING) is a violation', () => {
    const io = ioManager();
    const unmarked = issue(io, read(thread(), 0));
    expect(checkDispatchReturn(unmarked, IO_STATUS.PENDING)?.bugcheck).toEqual({
      code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
      params: [IRQLAB_PENDING_MISMATCH, IO_STATUS.PENDING, irpAddress(unmarked.id), 0],
    });
    expect(checkDispatchReturn(unmarked, STATUS.SUCCESS)).toBeNull();
    markIrpPending(unmarked);
    expect(unmarked.currentStack.control & SL_PENDING_RETURNED).toBe(SL_PENDING_RETURNED);
    expect(checkDispatchReturn(unmarked, STATUS.SUCCESS)?.bugcheck.params[3]).toBe(1);
    expect(checkDispatchReturn(unmarked, IO_STATUS.PENDING)).toBeNull();
  });
});

describe('§8.3 IoCompleteRequest', () => {
  it('a pended IRP completed from a DPC on another CPU queues the special kernel APC IopCompleteRequest to the issuing thread, SA1 = the file object', () => {
    const io = ioManager();
    const app = thread();
    const irp = issue(io, read(app, 1));
    pend(irp);
    irp.ioStatus = { status: STATUS.SUCCESS, information: 16 };
    const done = completeRequest(irp, 1, DISPATCH_LEVEL);
    expect(done).toEqual({ action: { kind: 'queue-completion-apc', apc: irp.apc, systemArgument1: 1, systemArgument2: 0, boost: 1 } });
    expect(irp.pendingReturned).toBe(true);
    expect(irp.apc.special).toBe(true);
    expect([irp.apc.thread, irp.apc.kernelRoutine, irp.apc.rundownRoutine, irp.apc.apcMode]).toEqual([
      app,
      ApcBuiltinRoutine.IopCompleteRequest,
      ApcBuiltinRoutine.IopAbortRequest,
      KernelMode,
    ]);
  });

  it('the completion APC is special: it is delivered to a thread inside a critical region', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    words.kernelApcDisable = -1;
    const irp = issue(io, read(app, 0));
    pend(irp);
    completeFromDpc(irp, words);
    expect(deliverInThread(io, app, words, KernelMode).steps).toEqual(['kernel-routine:IopCompleteRequest']);
  });

  it('completed inside the dispatch routine and never pended (IRP_DEFER_IO_COMPLETION): no APC, the issuer finishes it itself', () => {
    const io = ioManager();
    const irp = issue(io, read(thread(), 0));
    irp.ioStatus = { status: STATUS.SUCCESS, information: 4 };
    expect(completeRequest(irp, 0, PASSIVE_LEVEL)).toEqual({ action: { kind: 'deferred-to-issuer' } });
    expect(irp.apc.inserted).toBe(false);
    expect(readFileEnd(io, irp, STATUS.SUCCESS)).toEqual({ kind: 'return', status: STATUS.SUCCESS });
    expect(iopCompleteRequest(io, irp).writeIosb).toEqual({ address: IOSB, status: STATUS.SUCCESS, information: 4 });
  });

  it('completing an IRP twice is 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS with the IRP', () => {
    const io = ioManager();
    const irp = issue(io, read(thread(), 0));
    pend(irp);
    completeRequest(irp, 0, DISPATCH_LEVEL);
    expect(completeRequest(irp, 0, DISPATCH_LEVEL)).toMatchObject({
      violation: { bugcheck: { code: BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS, params: [irpAddress(irp.id), 0, 0, 0] } },
    });
  });

  it('IoCompleteRequest above DISPATCH_LEVEL is 0xC9 / 0x0E; with IoStatus.Status = STATUS_PENDING it is 0xC9 / 0x06', () => {
    const io = ioManager();
    const high = issue(io, read(thread(), 0));
    expect(completeRequest(high, 0, DISPATCH_LEVEL + 1)).toMatchObject({
      violation: { bugcheck: { params: [0x0e, DISPATCH_LEVEL + 1, irpAddress(high.id), 0] } },
    });
    const pendingStatus = issue(io, read(thread(), 0));
    pendingStatus.ioStatus = { status: IO_STATUS.PENDING, information: 0 };
    expect(completeRequest(pendingStatus, 0, DISPATCH_LEVEL)).toMatchObject({
      violation: { bugcheck: { params: [0x06, IO_STATUS.PENDING, irpAddress(pendingStatus.id), 0] } },
    });
  });

  it('the issuing thread is exiting: the completion APC cannot be queued and the dead IRP is dropped', () => {
    const io = ioManager();
    const app = thread();
    const irp = issue(io, read(app, 0));
    pend(irp);
    app.apcState.apcQueueable = false;
    expect(completeFromDpc(irp, newApcThreadWords())).toEqual({ inserted: false, reason: 'thread-exiting' });
    dropDeadIrp(io, irp);
    expect(io.irp(irp.id)).toBeNull();
  });
});

describe('§8.4 IopCompleteRequest at APC_LEVEL in the issuing thread', () => {
  it('the IOSB is written only when the APC runs in the issuing thread, not when the DPC completes the IRP', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    const irp = issue(io, read(app, 0));
    expect(readFileEnd(io, irp, pend(irp))).toEqual({ kind: 'wait-file-event', event: SYNC_FILE_EVENT });
    const inserted = completeFromDpc(irp, words);
    expect(inserted.inserted).toBe(true);
    // nothing written yet: the IOSB holds its old value until the APC runs in App's context
    const ran = deliverInThread(io, app, words, KernelMode);
    expect(ran.iosbWrites).toEqual([[IOSB, STATUS.SUCCESS, 16]]);
    // a synchronous ReadFile waits on the file object's event: it is signalled
    expect(ran.eventsSet).toEqual([SYNC_FILE_EVENT]);
    expect(io.irp(irp.id)).toBeNull();
  });

  it('the caller’s event is signalled as well as a synchronous file object’s', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    const irp = issue(io, read(app, 0, { userEvent: USER_EVENT }));
    pend(irp);
    completeFromDpc(irp, words);
    expect(deliverInThread(io, app, words, KernelMode).eventsSet).toEqual([USER_EVENT, SYNC_FILE_EVENT]);
  });

  it('a request that failed synchronously (an error, never pended) notifies nobody: no IOSB, no event, no APC', () => {
    const io = ioManager();
    const irp = issue(io, read(thread(), 0, { userEvent: USER_EVENT, userApcRoutine: COMPLETION_ROUTINE }));
    irp.ioStatus = { status: IO_STATUS.INVALID_DEVICE_REQUEST, information: 0 };
    expect(completeRequest(irp, 0, PASSIVE_LEVEL)).toEqual({ action: { kind: 'deferred-to-issuer' } });
    expect(iopCompleteRequest(io, irp)).toEqual({ writeIosb: null, setEvents: [], queueUserApc: null, freeIrp: true });
  });

  it('an error status on a pended request is reported like a success: IOSB, events, APC', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    const irp = issue(io, read(app, 0));
    pend(irp);
    completeFromDpc(irp, words, IO_STATUS.CANCELLED, 0);
    expect(deliverInThread(io, app, words, KernelMode).iosbWrites).toEqual([[IOSB, IO_STATUS.CANCELLED, 0]]);
  });
});

describe('§8.5 ReadFileEx end to end', () => {
  function readFileEx(io: IoManager, app: KThread, words: ApcThreadWords): Irp {
    const irp = issue(io, read(app, 1, { userApcRoutine: COMPLETION_ROUTINE, userApcContext: 0x55 }));
    expect(readFileEnd(io, irp, pend(irp))).toEqual({ kind: 'return', status: IO_STATUS.PENDING });
    expect(completeFromDpc(irp, words).inserted).toBe(true);
    return irp;
  }

  it('the kernel APC queues the completion routine as a user APC (SA1 = the IOSB), which is not pending: it does not run on a return to user mode', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    const irp = readFileEx(io, app, words);
    const ran = deliverInThread(io, app, words, UserMode);
    expect(ran.steps).toEqual(['kernel-routine:IopCompleteRequest']);
    expect(ran.userRoutines).toEqual([]);
    expect(app.apcState.userList).toEqual([irp.apc]);
    expect([irp.apc.apcMode, irp.apc.normalRoutine, irp.apc.normalContext, irp.apc.systemArgument1, irp.apc.kernelRoutine]).toEqual([
      UserMode,
      COMPLETION_ROUTINE,
      0x55,
      IOSB,
      ApcBuiltinRoutine.IopFreeIrpKernelApc,
    ]);
    expect(words.userApcPending).toBe(false);
    // the IRP lives on until the user APC's KernelRoutine frees it
    expect(irp.stage).toBe('user-apc');
  });

  it('SleepEx(alertable): the completion APC breaks the wait with KERNEL_APC, queues the user APC in the thread, and the restarted wait returns STATUS_USER_APC', () => {
    const io = ioManager();
    const app = thread();
    app.state = ThreadState.Waiting;
    const words = newApcThreadWords();
    const irp = issue(io, read(app, 1, { userApcRoutine: COMPLETION_ROUTINE }));
    pend(irp);
    expect(completeFromDpc(irp, words)).toEqual({ inserted: true, signal: { kind: 'unwait', status: STATUS.KERNEL_APC } });
    // App runs the kernel APC before its wait restarts; IopCompleteRequest queues the user APC to App itself
    app.state = ThreadState.Running;
    deliverInThread(io, app, words, KernelMode);
    expect(app.apcState.userList).toEqual([irp.apc]);
    expect(words.userApcPending).toBe(false);
    // the wait restarts (alertable, user mode): KiCheckAlertability returns STATUS_USER_APC and makes it pending
    expect(checkAlertability(app.apcState, words, true, UserMode)).toBe(STATUS.USER_APC);
    expect(deliverInThread(io, app, words, UserMode).userRoutines).toEqual([COMPLETION_ROUTINE]);
  });

  it('with a non-alertable wait the completion routine does not run', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    readFileEx(io, app, words);
    deliverInThread(io, app, words, UserMode);
    expect(checkAlertability(app.apcState, words, false, UserMode)).toBeNull();
    expect(deliverInThread(io, app, words, UserMode).userRoutines).toEqual([]);
  });

  it('the completion routine runs only after SleepEx(alertable): two completed requests, both routines run inside one SleepEx', () => {
    const io = ioManager();
    const app = thread();
    const words = newApcThreadWords();
    const first = readFileEx(io, app, words);
    const second = readFileEx(io, app, words);
    deliverInThread(io, app, words, UserMode);
    expect(app.apcState.userList).toEqual([first.apc, second.apc]);
    // SleepEx(INFINITE, TRUE): the alertability check finds user APCs queued → STATUS_USER_APC, UserApcPending
    words.userApcPending = true;
    const routines: number[] = [];
    do routines.push(...deliverInThread(io, app, words, UserMode).userRoutines);
    while (!testAlertThread(app.apcState, words, UserMode) && words.userApcPending);
    expect(routines).toEqual([COMPLETION_ROUTINE, COMPLETION_ROUTINE]);
    expect(app.apcState.userList).toEqual([]);
  });
});

describe('I/O status helpers', () => {
  it('USER_APC_COMPLETION_INCREMENT is the fixed boost of the completion routine’s user APC (ReactOS: 2)', () => {
    expect(USER_APC_COMPLETION_INCREMENT).toBe(2);
  });
});

describe('the IRP zone and the names of IRP APCs', () => {
  it('an IRP takes the lowest free record; with every record in use a request gets none; a freed IRP gives its record back', () => {
    const drivers: DriverObjectConfig[] = [{ id: 0, name: 'Irql', dispatch: { [IrpMajorFunction.read]: READ_DISPATCH }, devices: [0] }];
    const devices: DeviceObjectConfig[] = [{ id: 0, name: 'Sync', driver: 0, io: 'synchronous', fileEvent: SYNC_FILE_EVENT }];
    const io = new IoManager(drivers, devices, 0, 2);
    const app = thread();
    const first = io.allocateReadIrp(read(app, 0))!;
    const second = io.allocateReadIrp(read(app, 0))!;
    expect([first.slot, second.slot]).toEqual([0, 1]);
    expect(io.allocateReadIrp(read(app, 0))).toBeNull();
    freeIrp(io, first);
    const third = io.allocateReadIrp(read(app, 0))!;
    expect([third.id, third.slot]).toEqual([3, 0]);
  });

  it('an IRP freed while its dispatch routine still runs keeps its record until the routine has returned', () => {
    const io = ioManager();
    const irp = io.allocateReadIrp(read(thread(), 0))!;
    irp.inDispatch = true;
    freeIrp(io, irp);
    expect(irp.stage).toBe('freed');
    expect(io.irp(irp.id)).toBe(irp);
    io.forget(irp);
    expect(io.irp(irp.id)).toBeNull();
  });

  it("a KAPC is named by its declaration, as an IRP's Tail.Apc after the declared ones, or as QueueUserAPC's", () => {
    const declared = [{ name: 'S1' }, { name: 'N1' }];
    expect(kapcName(declared, 1)).toBe('N1');
    expect(kapcName(declared, irpApcId(declared.length, 3))).toBe('Irp#3.Tail.Apc');
    expect(irpOfApcId(declared.length, irpApcId(declared.length, 3))).toBe(3);
    expect(kapcName(undefined, QUEUED_USER_APC_ID_BASE)).toBe('QueueUserAPC#1');
  });
});
