/**
 * irql-test-fixed: the driver of the article "Windows IRQL 1" (irql-test) with the one line that
 * crashes it removed: the DPC routine no longer calls KeDelayExecutionThread at DISPATCH_LEVEL; it
 * completes the pended IRP, as the article's driver meant to ten seconds after the read.
 *
 *   NTSTATUS ReadDispatch(pDevObj, pIrp) { pIrp->IoStatus.Status = STATUS_SUCCESS;
 *       pDE->pPendingIrp = pIrp; IoMarkIrpPending(pIrp);
 *       Result.QuadPart = -1 * 10 * 10000000; KeSetTimer(&pDE->Timer, Result, &pDE->Dpc);
 *       return STATUS_PENDING; }
 *   VOID DpcRoutine(…) { IoCompleteRequest(pDE->pPendingIrp, IO_NO_INCREMENT); }
 *   application: bRet = ReadFile(handle, …);
 *
 * Unlike irql-test (which plays the I/O manager with a call and an event), this one goes through
 * irqlab's I/O path (src/kernel/io-call.ts): ReadFile on the synchronous device IRQL builds the IRP
 * and calls ReadDispatch with it (r2); ReadDispatch pends it; the synchronous ReadFile waits on the
 * file object's event; ten seconds later the DPC (on whichever CPU the timer expired) completes
 * the IRP, which queues the special kernel APC IopCompleteRequest to ConsoleApplication1; that APC
 * breaks its wait, runs in its context at APC_LEVEL, writes the IO_STATUS_BLOCK and sets the file
 * event; ReadFile returns STATUS_SUCCESS. No bugcheck. (kernel32's ReadFile passes an IOSB of its
 * own even when the caller passes none: here it is the variable Iosb.)
 */

import { defineScenario, relativeTime } from '../scenario/define.js';
import type { RunView } from '../scenario/define.js';
import { STATUS } from '../kernel/status.js';
import { R0, R1, R2 } from '../isa/registers.js';

const TAG = { ReadFile: 1, ReadDispatch: 2, DpcRoutine: 3, ReadFileReturned: 4 } as const;

/** IRP record words (src/kernel/io.ts IrpField): IoStatus.Status */
const IRP_STATUS = 0;

function readFileReturned(run: RunView): number | null {
  const returned = run.userEvents.find((e) => e.tag === TAG.ReadFileReturned);
  return returned ? returned.value >>> 0 : null;
}

export default defineScenario({
  name: 'irql-test-fixed',
  description:
    "the driver of the article 'Windows IRQL 1' without the KeDelayExecutionThread in its DPC: the DPC completes the IRP, ReadFile returns STATUS_SUCCESS",
  machine: { cpus: 2, durationMs: 30_000 },
  memory: { TenSeconds: { words: 2, init: relativeTime(10_000) }, PendingIrp: {}, Iosb: { words: 2, init: [-1, -1] } },
  timers: { Timer: {} },
  dpcs: { Dpc: { routine: 'DpcRoutine' } },
  drivers: { IrqlTest: { dispatch: { read: 'ReadDispatch' }, devices: { IRQL: { io: 'synchronous' } } } },
  threads: { ConsoleApplication1: { routine: 'Application', cpu: 0 } },
  traceTags: {
    [TAG.ReadFile]: 'ReadFile',
    [TAG.ReadDispatch]: 'ReadDispatch: IoMarkIrpPending + KeSetTimer(10 s) → STATUS_PENDING',
    [TAG.DpcRoutine]: 'DpcRoutine: IoCompleteRequest',
    [TAG.ReadFileReturned]: 'ReadFile returned (NTSTATUS)',
  },
  routines: {
    Application: (a) => {
      a.trace(TAG.ReadFile);
      a.kcall('ReadFile', a.file('IRQL'), 0, 0, a.var('Iosb'));
      a.trace(TAG.ReadFileReturned, R0);
      a.ret(0);
    },
    // DispatchRoutine(r1 = DeviceObject, r2 = Irp)
    ReadDispatch: (a) => {
      a.store(R2, IRP_STATUS, STATUS.SUCCESS); // pIrp->IoStatus.Status = STATUS_SUCCESS
      a.store(a.var('PendingIrp'), 0, R2); // pDE->pPendingIrp = pIrp
      a.kcall('IoMarkIrpPending', R2);
      a.kcall('KeSetTimer', a.timer('Timer'), a.var('TenSeconds'), a.dpc('Dpc'));
      a.trace(TAG.ReadDispatch, STATUS.PENDING);
      a.ret(STATUS.PENDING);
    },
    DpcRoutine: (a) => {
      a.trace(TAG.DpcRoutine);
      a.load(R1, a.var('PendingIrp'));
      a.kcall('IoCompleteRequest', R1, 0); // IO_NO_INCREMENT
      a.ret();
    },
  },
  results: (run) => ({
    readFileStatus: readFileReturned(run) ?? -1,
    iosbStatus: run.read('Iosb', 0) >>> 0,
  }),
  checks: (run) => {
    const returned = readFileReturned(run);
    return [
      {
        name: 'ReadFile returned STATUS_SUCCESS once the DPC completed the IRP',
        passed: returned === STATUS.SUCCESS,
        detail: returned === null ? 'ReadFile never returned' : `ReadFile returned 0x${returned.toString(16)}`,
      },
      {
        name: 'IopCompleteRequest wrote the IO_STATUS_BLOCK in the application',
        passed: run.read('Iosb', 0) === STATUS.SUCCESS,
        detail: `Iosb.Status = 0x${(run.read('Iosb', 0) >>> 0).toString(16)}`,
      },
    ];
  },
});
