/**
 * irql-test: the experiment of the article "Windows IRQL 1" (a Korean post, "Dispatch Level에서 Dispatcher 호출하기"):
 * calling the dispatcher at DISPATCH_LEVEL. An application thread reads from the driver; the read
 * dispatch routine pends the IRP and sets a 10 s timer with a DPC; ten seconds later the DPC routine
 * calls KeDelayExecutionThread to give up its quantum, and the machine crashes:
 * ATTEMPTED_SWITCH_FROM_DPC (0xB8) on the CPU that ran the DPC, at IRQL 2.
 *
 *   NTSTATUS ReadDispatch(pDevObj, pIrp) { …; IoMarkIrpPending(pIrp);
 *       Result.QuadPart = -1 * 10 * 10000000; KeSetTimer(&pDE->Timer, Result, &pDE->Dpc);
 *       return STATUS_PENDING; }
 *   VOID DpcRoutine(…) { …; KeDelayExecutionThread(KernelMode, FALSE, &Result); IoCompleteRequest(…); }
 *
 * The application waits for the read like a synchronous ReadFile does (the I/O manager waits on
 * the file object's event; the IRP itself arrives with the I/O issue). The crash report's timeline
 * on CPU 0 shows the read, the timer being set, the ten idle seconds skipped, the timer's DPC and
 * the attempted switch; in the article's debugger session the DPC likewise ran on a system thread,
 * not on the application's.
 */

import { defineScenario, relativeTime } from '../scenario/define.js';
import { STATUS } from '../kernel/status.js';

const TAG = { ReadFile: 1, ReadDispatch: 2, DpcRoutine: 3 } as const;

export default defineScenario({
  name: 'irql-test',
  description: "the driver of the article 'Windows IRQL 1': a DPC set by a 10 s timer calls KeDelayExecutionThread and crashes with 0xB8",
  machine: { cpus: 2, durationMs: 30_000 },
  memory: { TenSeconds: { words: 2, init: relativeTime(10_000) }, PendingIrp: {}, Completed: {} },
  timers: { Timer: {} },
  events: { ReadDone: { type: 'notification' } },
  dpcs: { Dpc: { routine: 'DpcRoutine' } },
  threads: { ConsoleApplication1: { routine: 'Application', cpu: 0 } },
  traceTags: {
    [TAG.ReadFile]: 'ReadFile',
    [TAG.ReadDispatch]: 'ReadDispatch: IoMarkIrpPending + KeSetTimer(10 s) → STATUS_PENDING',
    [TAG.DpcRoutine]: 'DpcRoutine',
  },
  routines: {
    Application: (a) => {
      // bRet = ReadFile(handle, NULL, NULL, NULL, NULL): the I/O manager calls the read dispatch routine…
      a.trace(TAG.ReadFile);
      a.call('ReadDispatch');
      // …which returned STATUS_PENDING, so the synchronous ReadFile waits for completion
      a.kcall('KeWaitForSingleObject', a.event('ReadDone'), 0, 0, 0, 0);
      a.ret(0);
    },
    ReadDispatch: (a) => {
      a.store(a.var('PendingIrp'), 0, 1); // pDE->pPendingIrp = pIrp; IoMarkIrpPending(pIrp)
      a.kcall('KeSetTimer', a.timer('Timer'), a.var('TenSeconds'), a.dpc('Dpc'));
      a.trace(TAG.ReadDispatch, STATUS.PENDING);
      a.ret(STATUS.PENDING);
    },
    DpcRoutine: (a) => {
      a.trace(TAG.DpcRoutine);
      // "give back the quantum" from DISPATCH_LEVEL: blocking here is what the dispatcher cannot do
      a.kcall('KeDelayExecutionThread', 0, 0, a.var('TenSeconds'));
      a.store(a.var('Completed'), 0, 1); // IoCompleteRequest(pDE->pPendingIrp, IO_NO_INCREMENT)
      a.kcall('KeSetEvent', a.event('ReadDone'), 0, 0);
      a.ret();
    },
  },
});
