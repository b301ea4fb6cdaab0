/**
 * apc-delivery: the kernel-APC rules of the article "시스템 메커니즘 05 - APC" (a Korean post on
 * Windows Internals' APC chapter), each shown once on one thread, in order:
 *
 * 1. Inside a critical region (KeEnterCriticalRegion) the thread queues a special APC (S1) and a
 *    normal kernel APC (N1) to itself: S1's KernelRoutine runs at once, at APC_LEVEL; N1 waits.
 *    KeLeaveCriticalRegion delivers N1: its KernelRoutine at APC_LEVEL, then its NormalRoutine at
 *    PASSIVE_LEVEL.
 * 2. Inside a guarded region (KeEnterGuardedRegion) even the special APC S2 waits, until
 *    KeLeaveGuardedRegion.
 * 3. At APC_LEVEL (KeRaiseIrql) the special APC S3 waits; KeLowerIrql to PASSIVE_LEVEL delivers it
 *    (the APC software interrupt fires when the IRQL drops below APC_LEVEL).
 * 4. A special APC (S4) for thread U, which spins at PASSIVE_LEVEL on CPU 1: CPU 0 sends CPU 1 an
 *    IPI(APC) and S4's KernelRoutine runs there, in U's context, at U's next instruction boundary.
 *
 * Every APC routine traces the IRQL it runs at; S4 also traces the thread it runs in.
 */

import { defineScenario } from '../scenario/define.js';
import type { RoutineBuilder } from '../isa/builder.js';
import type { RunView } from '../scenario/define.js';
import { R0, R1 } from '../isa/registers.js';

const APC_LEVEL = 1;
const PASSIVE_LEVEL = 0;

const TAG = {
  CriticalEntered: 1,
  QueuedInCritical: 2,
  CriticalLeft: 3,
  QueuedInGuarded: 4,
  GuardedLeft: 5,
  QueuedAtApcLevel: 6,
  Lowered: 7,
  QueuedForU: 8,
  S1: 11,
  N1Kernel: 21,
  N1Normal: 22,
  S2: 31,
  S3: 41,
  S4: 51,
  S4Thread: 52,
  UDone: 60,
} as const;

/** what each APC routine's tag stands for in the delivery order */
const ROUTINE_LABELS: Record<number, string> = {
  [TAG.S1]: 'S1',
  [TAG.N1Kernel]: 'N1k',
  [TAG.N1Normal]: 'N1n',
  [TAG.S2]: 'S2',
  [TAG.S3]: 'S3',
};

const EXPECTED_ORDER = 'S1@1 N1k@1 N1n@0 S2@1 S3@1';

/** an APC routine that traces `tag` with the IRQL it runs at */
function traceIrql(tag: number) {
  return (a: RoutineBuilder): void => {
    a.kcall('KeGetCurrentIrql');
    a.trace(tag, R0);
    a.ret(0);
  };
}

/** CPU 0's APC routines in the order they ran, each as `label@IRQL` */
function deliveryOrder(run: RunView): string {
  return run.userEvents
    .filter((e) => e.cpu === 0 && ROUTINE_LABELS[e.tag] !== undefined)
    .map((e) => `${ROUTINE_LABELS[e.tag]}@${e.value}`)
    .join(' ');
}

function s4(run: RunView): { cpu: number; irql: number; thread: number } | null {
  const irql = run.userEvents.find((e) => e.tag === TAG.S4);
  const thread = run.userEvents.find((e) => e.tag === TAG.S4Thread);
  return irql && thread ? { cpu: irql.cpu, irql: irql.value, thread: thread.value } : null;
}

export default defineScenario({
  name: 'apc-delivery',
  description:
    "kernel APCs of the article 'System mechanisms 05 - APC': special vs normal in a critical region, a guarded region, APC_LEVEL, and an IPI(APC) to a thread on the other CPU",
  machine: { cpus: 2, durationMs: 5 },
  memory: { URunning: {}, S4Ran: {}, UThread: {} },
  threads: {
    T: { routine: 'T', cpu: 0 },
    U: { routine: 'U', cpu: 1 },
  },
  apcs: {
    S1: { kernelRoutine: 'S1Kernel', mode: 'kernel' },
    N1: { kernelRoutine: 'N1Kernel', normalRoutine: 'N1Normal', mode: 'kernel' },
    S2: { kernelRoutine: 'S2Kernel', mode: 'kernel' },
    S3: { kernelRoutine: 'S3Kernel', mode: 'kernel' },
    S4: { kernelRoutine: 'S4Kernel', mode: 'kernel' },
  },
  traceTags: {
    [TAG.CriticalEntered]: 'KeEnterCriticalRegion',
    [TAG.QueuedInCritical]: 'S1 and N1 queued to self in the critical region',
    [TAG.CriticalLeft]: 'KeLeaveCriticalRegion returned',
    [TAG.QueuedInGuarded]: 'S2 queued to self in the guarded region',
    [TAG.GuardedLeft]: 'KeLeaveGuardedRegion returned',
    [TAG.QueuedAtApcLevel]: 'S3 queued to self at APC_LEVEL',
    [TAG.Lowered]: 'KeLowerIrql(PASSIVE_LEVEL) returned',
    [TAG.QueuedForU]: 'S4 queued to U (running on CPU 1)',
    [TAG.S1]: 'S1 KernelRoutine (IRQL)',
    [TAG.N1Kernel]: 'N1 KernelRoutine (IRQL)',
    [TAG.N1Normal]: 'N1 NormalRoutine (IRQL)',
    [TAG.S2]: 'S2 KernelRoutine (IRQL)',
    [TAG.S3]: 'S3 KernelRoutine (IRQL)',
    [TAG.S4]: 'S4 KernelRoutine (IRQL)',
    [TAG.S4Thread]: 'S4 KernelRoutine (thread)',
    [TAG.UDone]: 'U saw S4 run',
  },
  routines: {
    T: (a) => {
      for (const apc of ['S1', 'N1', 'S2', 'S3']) a.kcall('KeInitializeApc', a.apc(apc), 0, 0);
      a.kcall('KeInitializeApc', a.apc('S4'), a.thread('U'), 0);
      // 1. a critical region holds off normal kernel APCs only
      a.kcall('KeEnterCriticalRegion');
      a.trace(TAG.CriticalEntered);
      a.kcall('KeInsertQueueApc', a.apc('S1'), 0, 0, 0);
      a.kcall('KeInsertQueueApc', a.apc('N1'), 0, 0, 0);
      a.trace(TAG.QueuedInCritical);
      a.kcall('KeLeaveCriticalRegion');
      a.trace(TAG.CriticalLeft);
      // 2. a guarded region holds off special kernel APCs too
      a.kcall('KeEnterGuardedRegion');
      a.kcall('KeInsertQueueApc', a.apc('S2'), 0, 0, 0);
      a.trace(TAG.QueuedInGuarded);
      a.kcall('KeLeaveGuardedRegion');
      a.trace(TAG.GuardedLeft);
      // 3. at APC_LEVEL the APC interrupt is masked until the IRQL drops
      a.kcall('KeRaiseIrql', APC_LEVEL);
      a.kcall('KeInsertQueueApc', a.apc('S3'), 0, 0, 0);
      a.trace(TAG.QueuedAtApcLevel);
      a.kcall('KeLowerIrql', PASSIVE_LEVEL);
      a.trace(TAG.Lowered);
      // 4. U runs on CPU 1 once it has said so: the APC goes there by IPI
      a.label('wait-for-u');
      a.work(50);
      a.load(R1, a.var('URunning'));
      a.beqz(R1, 'wait-for-u');
      a.kcall('KeInsertQueueApc', a.apc('S4'), 0, 0, 0);
      a.trace(TAG.QueuedForU, R0);
      a.ret(0);
    },
    U: (a) => {
      a.kcall('KeGetCurrentThread');
      a.store(a.var('UThread'), 0, R0);
      a.store(a.var('URunning'), 0, 1);
      a.label('spin');
      a.work(50);
      a.load(R1, a.var('S4Ran'));
      a.beqz(R1, 'spin');
      a.trace(TAG.UDone);
      a.ret(0);
    },
    S1Kernel: traceIrql(TAG.S1),
    N1Kernel: traceIrql(TAG.N1Kernel),
    N1Normal: traceIrql(TAG.N1Normal),
    S2Kernel: traceIrql(TAG.S2),
    S3Kernel: traceIrql(TAG.S3),
    S4Kernel: (a) => {
      a.kcall('KeGetCurrentIrql');
      a.trace(TAG.S4, R0);
      a.kcall('KeGetCurrentThread');
      a.trace(TAG.S4Thread, R0);
      a.store(a.var('S4Ran'), 0, 1);
      a.ret(0);
    },
  },
  results: (run) => {
    const remote = s4(run);
    return {
      deliveryOrder: deliveryOrder(run),
      s4Cpu: remote?.cpu ?? -1,
      s4Irql: remote?.irql ?? -1,
      s4InU: remote !== null && remote.thread === run.read('UThread'),
      ipisSentByCpu0: run.perCpu[0]?.ipisSent ?? 0,
      ipisReceivedByCpu1: run.perCpu[1]?.ipisReceived ?? 0,
    };
  },
  checks: (run) => {
    const remote = s4(run);
    return [
      {
        name: 'S1 at once, N1 after the critical region (KernelRoutine at APC_LEVEL, NormalRoutine at PASSIVE_LEVEL), S2 after the guarded region, S3 at the drop to PASSIVE_LEVEL',
        passed: deliveryOrder(run) === EXPECTED_ORDER,
        detail: `order: ${deliveryOrder(run) || '(none)'}; expected ${EXPECTED_ORDER}`,
      },
      {
        name: 'S4 ran on CPU 1, at APC_LEVEL, in U',
        passed: remote !== null && remote.cpu === 1 && remote.irql === APC_LEVEL && remote.thread === run.read('UThread'),
        detail: remote ? `CPU ${remote.cpu}, IRQL ${remote.irql}, thread ${remote.thread} (U is ${run.read('UThread')})` : 'S4 never ran',
      },
      {
        name: 'CPU 0 sent CPU 1 an IPI for it',
        passed: (run.perCpu[0]?.ipisSent ?? 0) >= 1 && (run.perCpu[1]?.ipisReceived ?? 0) >= 1,
        detail: `CPU 0 sent ${run.perCpu[0]?.ipisSent ?? 0} IPIs, CPU 1 received ${run.perCpu[1]?.ipisReceived ?? 0}`,
      },
    ];
  },
});
