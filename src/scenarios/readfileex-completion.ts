/**
 * readfileex-completion: the ReadFileEx completion routine of the articles "시스템 메커니즘 05 -
 * APC" (a Korean post on Windows Internals' APC chapter: "ReadFileEx, WriteFileEx, QueueUserAPC …
 * the completion is implemented by delivering an APC to the thread that issued the I/O; the
 * callback need not run when the APC is inserted, because user-mode APCs are delivered only in an
 * alertable wait") and "소프트웨어 인터럽트 요청 레벨(IRQL)" (APC_LEVEL as a software interrupt).
 *
 * The user-mode thread App issues ReadFileEx on the overlapped device Disk. The driver's
 * ReadDispatch marks the IRP pending, sets a 1 ms timer and returns STATUS_PENDING; the timer's DPC
 * (CompleteDpc, targeted at CPU 1) sets IoStatus = STATUS_SUCCESS / 16 bytes and calls
 * IoCompleteRequest(Irp, IO_DISK_INCREMENT). Then, in three phases:
 *
 * 1. App waits 5 ms, non-alertably, for an event nobody sets. The completion's special kernel APC
 *    (IopCompleteRequest) breaks the wait, runs in App at APC_LEVEL (the OVERLAPPED's Status and
 *    Information are written) and queues the completion routine as a user APC; the wait restarts
 *    and times out. The completion routine has run 0 times.
 * 2. SleepEx(10 ms, TRUE): the queued user APC ends the alertable wait at once; on the way back to
 *    user mode KiDeliverApc(UserMode) runs the completion routine in App, in user mode; SleepEx
 *    returns WAIT_IO_COMPLETION (0xC0). The routine has run once.
 * 3. QueueUserAPC(Routine2, App) then SleepEx(0, TRUE): Routine2 runs on the return from SleepEx,
 *    which returns 0xC0.
 *
 * The completion routine traces the thread it runs in and its previous mode (ExGetPreviousMode: 1
 * is UserMode).
 */

import { defineScenario, relativeTime } from '../scenario/define.js';
import type { RunView } from '../scenario/define.js';
import { STATUS } from '../kernel/status.js';
import { R0, R1, R2 } from '../isa/registers.js';

const TAG = {
  ReadFileEx: 1,
  Phase1: 2,
  Phase1Runs: 3,
  Phase1Iosb: 4,
  Phase2: 5,
  Phase2Runs: 6,
  Phase3: 7,
  Phase3Routine2Runs: 8,
  RoutineThread: 11,
  RoutineMode: 12,
  Routine2Thread: 21,
  Dispatch: 31,
  CompleteDpc: 32,
} as const;

/** byte offsets in the IRP's record (src/kernel/io.ts IrpField): IoStatus.Status, IoStatus.Information */
const IRP_STATUS = 0;
const IRP_INFORMATION = 4;
const IO_DISK_INCREMENT = 1;
const WAIT_IO_COMPLETION = 0xc0;
const USER_MODE = 1;
const BYTES = 16;

function traced(run: RunView, tag: number): number | null {
  const event = run.userEvents.find((e) => e.tag === tag);
  return event ? event.value >>> 0 : null;
}

interface Outcome {
  readFileEx: number | null;
  phase1Wait: number | null;
  phase1Runs: number | null;
  phase1IosbStatus: number | null;
  phase2SleepEx: number | null;
  phase2Runs: number | null;
  routineThread: number | null;
  routineMode: number | null;
  phase3SleepEx: number | null;
  phase3Routine2Runs: number | null;
}

function outcome(run: RunView): Outcome {
  return {
    readFileEx: traced(run, TAG.ReadFileEx),
    phase1Wait: traced(run, TAG.Phase1),
    phase1Runs: traced(run, TAG.Phase1Runs),
    phase1IosbStatus: traced(run, TAG.Phase1Iosb),
    phase2SleepEx: traced(run, TAG.Phase2),
    phase2Runs: traced(run, TAG.Phase2Runs),
    routineThread: traced(run, TAG.RoutineThread),
    routineMode: traced(run, TAG.RoutineMode),
    phase3SleepEx: traced(run, TAG.Phase3),
    phase3Routine2Runs: traced(run, TAG.Phase3Routine2Runs),
  };
}

const hex = (value: number | null): string => (value === null ? 'never' : `0x${value.toString(16)}`);

export default defineScenario({
  name: 'readfileex-completion',
  description:
    "a ReadFileEx completion routine (articles 'System mechanisms 05 - APC' and 'Software IRQL'): not run in a non-alertable wait though the IOSB is written; run by an alertable SleepEx in user mode; QueueUserAPC + SleepEx",
  machine: { cpus: 2, durationMs: 40, clockIntervalMs: 0.5 },
  memory: {
    OneMs: { words: 2, init: relativeTime(1) },
    FiveMs: { words: 2, init: relativeTime(5) },
    PendingIrp: {},
    Buffer: { words: 4 },
    // OVERLAPPED: Internal (Status), InternalHigh (Information): −1 until the completion writes them
    Overlapped: { words: 2, init: [-1, -1] },
    RoutineRuns: {},
    Routine2Runs: {},
    AppThread: {},
  },
  events: { NeverSet: { type: 'notification' } },
  timers: { Timer: {} },
  dpcs: { CompleteDpc: { routine: 'CompleteDpc', targetCpu: 1 } },
  drivers: { DiskDriver: { dispatch: { read: 'ReadDispatch' }, devices: { Disk: { io: 'overlapped' } } } },
  threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
  traceTags: {
    [TAG.ReadFileEx]: 'ReadFileEx returned (NTSTATUS)',
    [TAG.Phase1]: 'phase 1: non-alertable wait returned',
    [TAG.Phase1Runs]: 'phase 1: completion routine runs so far',
    [TAG.Phase1Iosb]: 'phase 1: OVERLAPPED.Internal (Status)',
    [TAG.Phase2]: 'phase 2: SleepEx(10 ms, TRUE) returned',
    [TAG.Phase2Runs]: 'phase 2: completion routine runs so far',
    [TAG.Phase3]: 'phase 3: SleepEx(0, TRUE) returned',
    [TAG.Phase3Routine2Runs]: 'phase 3: Routine2 runs so far',
    [TAG.RoutineThread]: 'completion routine: thread',
    [TAG.RoutineMode]: 'completion routine: previous mode (1 user)',
    [TAG.Routine2Thread]: 'Routine2: thread',
    [TAG.Dispatch]: 'ReadDispatch: IoMarkIrpPending + KeSetTimer(1 ms) → STATUS_PENDING',
    [TAG.CompleteDpc]: 'CompleteDpc: IoCompleteRequest (CPU)',
  },
  routines: {
    App: (a) => {
      a.kcall('KeGetCurrentThread');
      a.store(a.var('AppThread'), 0, R0);
      a.kcall('ReadFileEx', a.file('Disk'), a.var('Buffer'), BYTES, a.var('Overlapped'), a.routine('CompletionRoutine'));
      a.trace(TAG.ReadFileEx, R0);
      // phase 1: a non-alertable wait; the completion arrives meanwhile
      a.kcall('NtWaitForSingleObject', a.event('NeverSet'), 0, a.var('FiveMs'));
      a.trace(TAG.Phase1, R0);
      a.load(R1, a.var('RoutineRuns'));
      a.trace(TAG.Phase1Runs, R1);
      a.load(R1, a.var('Overlapped'));
      a.trace(TAG.Phase1Iosb, R1);
      // phase 2: an alertable wait delivers the completion routine
      a.kcall('SleepEx', 10, 1);
      a.trace(TAG.Phase2, R0);
      a.load(R1, a.var('RoutineRuns'));
      a.trace(TAG.Phase2Runs, R1);
      // phase 3: a user APC to itself, delivered on the return from an alertable SleepEx(0)
      a.kcall('QueueUserAPC', a.routine('Routine2'), 0, 7);
      a.kcall('SleepEx', 0, 1);
      a.trace(TAG.Phase3, R0);
      a.load(R1, a.var('Routine2Runs'));
      a.trace(TAG.Phase3Routine2Runs, R1);
      a.ret(0);
    },
    // CompletionRoutine(Overlapped, IoStatusBlock, 0), in user mode
    CompletionRoutine: (a) => {
      a.kcall('KeGetCurrentThread');
      a.trace(TAG.RoutineThread, R0);
      a.kcall('ExGetPreviousMode');
      a.trace(TAG.RoutineMode, R0);
      a.load(R1, a.var('RoutineRuns'));
      a.add(R1, R1, 1);
      a.store(a.var('RoutineRuns'), 0, R1);
      a.ret(0);
    },
    Routine2: (a) => {
      a.kcall('KeGetCurrentThread');
      a.trace(TAG.Routine2Thread, R0);
      a.load(R1, a.var('Routine2Runs'));
      a.add(R1, R1, 1);
      a.store(a.var('Routine2Runs'), 0, R1);
      a.ret(0);
    },
    // DispatchRoutine(r1 = DeviceObject, r2 = Irp)
    ReadDispatch: (a) => {
      a.store(a.var('PendingIrp'), 0, R2);
      a.kcall('IoMarkIrpPending', R2);
      a.kcall('KeSetTimer', a.timer('Timer'), a.var('OneMs'), a.dpc('CompleteDpc'));
      a.trace(TAG.Dispatch, STATUS.PENDING);
      a.ret(STATUS.PENDING);
    },
    CompleteDpc: (a) => {
      a.kcall('KeGetCurrentProcessorNumber');
      a.trace(TAG.CompleteDpc, R0);
      a.load(R1, a.var('PendingIrp'));
      a.store(R1, IRP_STATUS, STATUS.SUCCESS);
      a.store(R1, IRP_INFORMATION, BYTES);
      a.kcall('IoCompleteRequest', R1, IO_DISK_INCREMENT);
      a.ret();
    },
  },
  results: (run) => {
    const o = outcome(run);
    return {
      readFileEx: o.readFileEx ?? -1,
      phase1Wait: o.phase1Wait ?? -1,
      phase1RoutineRuns: o.phase1Runs ?? -1,
      phase1IosbStatus: o.phase1IosbStatus ?? -1,
      phase2SleepEx: o.phase2SleepEx ?? -1,
      phase2RoutineRuns: o.phase2Runs ?? -1,
      routineInApp: o.routineThread !== null && o.routineThread === run.read('AppThread'),
      routineMode: o.routineMode ?? -1,
      phase3SleepEx: o.phase3SleepEx ?? -1,
      phase3Routine2Runs: o.phase3Routine2Runs ?? -1,
      informationWritten: run.read('Overlapped', 1),
    };
  },
  checks: (run) => {
    const o = outcome(run);
    return [
      {
        name: 'ReadFileEx returned STATUS_PENDING (the request is queued)',
        passed: o.readFileEx === STATUS.PENDING,
        detail: `ReadFileEx returned ${hex(o.readFileEx)}`,
      },
      {
        name: 'phase 1: the non-alertable wait timed out, the completion routine ran 0 times, the IOSB was written by the kernel APC',
        passed: o.phase1Wait === STATUS.TIMEOUT && o.phase1Runs === 0 && o.phase1IosbStatus === STATUS.SUCCESS,
        detail: `wait ${hex(o.phase1Wait)}, routine runs ${o.phase1Runs ?? 'never traced'}, OVERLAPPED.Internal ${hex(o.phase1IosbStatus)}`,
      },
      {
        name: 'phase 2: SleepEx(10 ms, TRUE) returned WAIT_IO_COMPLETION after the routine ran once, on App, in user mode',
        passed: o.phase2SleepEx === WAIT_IO_COMPLETION && o.phase2Runs === 1 && o.routineThread === run.read('AppThread') && o.routineMode === USER_MODE,
        detail: `SleepEx ${hex(o.phase2SleepEx)}, runs ${o.phase2Runs ?? 'never traced'}, thread ${o.routineThread ?? 'none'} (App is ${run.read('AppThread')}), mode ${o.routineMode ?? 'none'}`,
      },
      {
        name: 'phase 3: QueueUserAPC(self) + SleepEx(0, TRUE) ran Routine2 on the return; SleepEx returned WAIT_IO_COMPLETION',
        passed: o.phase3SleepEx === WAIT_IO_COMPLETION && o.phase3Routine2Runs === 1,
        detail: `SleepEx ${hex(o.phase3SleepEx)}, Routine2 runs ${o.phase3Routine2Runs ?? 'never traced'}`,
      },
    ];
  },
});
