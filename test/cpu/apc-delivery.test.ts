// nt-semantics.md §5 end to end on the in-process machine: KeInsertQueueApc, the APC software
// interrupt when the IRQL drops below APC_LEVEL, KiDeliverApc's order (special KernelRoutine at
// APC_LEVEL; normal KernelRoutine then NormalRoutine at PASSIVE_LEVEL), the critical and guarded
// regions, delivery at switch-in (§12 item 2), IPI(APC) to a thread running on another CPU, and a
// kernel APC breaking a PASSIVE_LEVEL wait that then restarts with its remaining timeout (§12 item 10).
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { APC_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { apcAddress } from '../../src/kernel/apc-state.js';
import { STATUS } from '../../src/kernel/status.js';
import { R0, R1 } from '../../src/isa/registers.js';
import { runInProcess } from '../smp/harness.js';

import { NORMAL_KERNEL, NORMAL_NORMAL, SPECIAL_KERNEL, apcRoutines, apcs, oneThread, traced } from './apc-fixtures.js';

describe('KeInsertQueueApc to the running thread at PASSIVE_LEVEL', () => {
  it('a special APC runs its KernelRoutine at APC_LEVEL before the next instruction of the inserting thread', async () => {
    const run = await runInProcess(
      oneThread('apc-self-special', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(1, R0);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(traced(run)).toEqual([
      [SPECIAL_KERNEL, APC_LEVEL],
      [1, 1],
    ]);
  });

  it('a normal kernel APC runs its KernelRoutine at APC_LEVEL, then its NormalRoutine at PASSIVE_LEVEL', async () => {
    const run = await runInProcess(
      oneThread('apc-self-normal', (a) => {
        a.kcall('KeInitializeApc', a.apc('Normal'), 0, 0);
        a.kcall('KeInsertQueueApc', a.apc('Normal'), 0, 0, 0);
        a.trace(1, R0);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [NORMAL_KERNEL, APC_LEVEL],
      [NORMAL_NORMAL, PASSIVE_LEVEL],
      [1, 1],
    ]);
  });

  it('inserting an APC that is already queued returns FALSE', async () => {
    const run = await runInProcess(
      oneThread('apc-insert-twice', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeRaiseIrql', APC_LEVEL);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(1, R0);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(2, R0);
        a.kcall('KeLowerIrql', PASSIVE_LEVEL);
        a.trace(3);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [1, 1],
      [2, 0],
      [SPECIAL_KERNEL, APC_LEVEL],
      [3, 0],
    ]);
  });
});

describe('KeRemoveQueueApc and KeAlertThread', () => {
  it('an APC removed before the IRQL drops never runs; removing it again returns FALSE', async () => {
    const run = await runInProcess(
      oneThread('apc-removed', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeRaiseIrql', APC_LEVEL);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.kcall('KeRemoveQueueApc', a.apc('Special'));
        a.trace(1, R0);
        a.kcall('KeRemoveQueueApc', a.apc('Special'));
        a.trace(2, R0);
        a.kcall('KeLowerIrql', PASSIVE_LEVEL);
        a.trace(3);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [1, 1],
      [2, 0],
      [3, 0],
    ]);
  });

  it('KeAlertThread ends an alertable kernel-mode wait with STATUS_ALERTED', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-alert',
        description: 'W waits alertably on an event nobody sets; A alerts it',
        events: { Never: { type: 'notification' } },
        threads: { W: { routine: 'W', cpu: 0 }, A: { routine: 'A', cpu: 1 } },
        routines: {
          W: (a) => {
            a.kcall('KeWaitForSingleObject', a.event('Never'), 0, 0, 1, 0);
            a.trace(1, R0);
            a.ret(0);
          },
          A: (a) => {
            a.work(100_000);
            a.kcall('KeAlertThread', a.thread('W'), 0);
            a.trace(2, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value >>> 0).toBe(STATUS.ALERTED);
    expect(run.first(2).value).toBe(0);
  });
});

describe('the APC software interrupt and the IRQL', () => {
  it('an APC queued at APC_LEVEL waits, and runs when KeLowerIrql reaches PASSIVE_LEVEL', async () => {
    const run = await runInProcess(
      oneThread('apc-lower-irql', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeRaiseIrql', APC_LEVEL);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(1);
        a.kcall('KeLowerIrql', PASSIVE_LEVEL);
        a.trace(2);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [1, 0],
      [SPECIAL_KERNEL, APC_LEVEL],
      [2, 0],
    ]);
  });

  it('HalRequestSoftwareInterrupt(APC_LEVEL) with no APC queued delivers nothing and is no bugcheck', async () => {
    const run = await runInProcess(
      oneThread('apc-request-empty', (a) => {
        a.kcall('HalRequestSoftwareInterrupt', APC_LEVEL);
        a.trace(1);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1]);
  });

  it('a KernelRoutine that returns at another IRQL than APC_LEVEL is 0xC8 IRQL_UNEXPECTED_VALUE naming the APC', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-kernel-routine-raises',
        description: 'a KernelRoutine raises to DISPATCH_LEVEL and returns',
        threads: { T: { routine: 'Main', cpu: 0 } },
        apcs: { Raiser: { kernelRoutine: 'RaisingKernel', mode: 'kernel' } },
        routines: {
          Main: (a) => {
            a.kcall('KeInitializeApc', a.apc('Raiser'), 0, 0);
            a.kcall('KeInsertQueueApc', a.apc('Raiser'), 0, 0, 0);
            a.trace(1);
            a.ret(0);
          },
          RaisingKernel: (a) => {
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_UNEXPECTED_VALUE);
    expect(bugcheck.params[0] >>> 0).toBe((2 << 16) | (APC_LEVEL << 8));
    expect(bugcheck.detail).toMatch(/RaisingKernel of Raiser returned at DISPATCH_LEVEL/);
    expect(run.tags(0)).toEqual([]);
    // the report's last events name the APC and its routine
    const events = bugcheck.cpus[0]!.lastEvents.map((e) => `${e.event}: ${e.detail}`);
    expect(events).toContain('apc-insert: APC Raiser queued: APC interrupt here');
    expect(events).toContain('apc-deliver: APC Raiser: KernelRoutine RaisingKernel');
  });
});

describe('the software interrupts on one IRQL drop (§1.4)', () => {
  it('lowering from DISPATCH_LEVEL to PASSIVE_LEVEL with a DPC and an APC pending runs the DPC first, then the APC', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-after-dpc',
        description: 'a thread at DISPATCH_LEVEL queues a DPC and an APC to itself, then lowers',
        threads: { T: { routine: 'Main', cpu: 0 } },
        dpcs: { Local: { routine: 'LocalDpc' } },
        apcs,
        routines: {
          Main: (a) => {
            a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
            a.kcall('KeInsertQueueDpc', a.dpc('Local'), 0, 0);
            a.trace(1);
            a.kcall('KeLowerIrql', PASSIVE_LEVEL);
            a.trace(3);
            a.ret(0);
          },
          LocalDpc: (a) => {
            a.trace(2);
            a.ret(0);
          },
          ...apcRoutines,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, SPECIAL_KERNEL, 3]);
  });
});

describe('APC_LEVEL belongs to the thread (article 001)', () => {
  it('a thread that waits at APC_LEVEL resumes at APC_LEVEL; the PASSIVE_LEVEL thread that ran meanwhile on its CPU ran at PASSIVE_LEVEL', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-level-per-thread',
        description: 'A waits at APC_LEVEL; B runs on the same CPU at PASSIVE_LEVEL and wakes it',
        events: { Go: { type: 'notification' } },
        threads: { A: { routine: 'A', cpu: 0, priority: 9 }, B: { routine: 'B', cpu: 0 } },
        routines: {
          A: (a) => {
            a.kcall('KeRaiseIrql', APC_LEVEL);
            a.kcall('KeWaitForSingleObject', a.event('Go'), 0, 0, 0, 0);
            a.kcall('KeGetCurrentIrql');
            a.trace(2, R0);
            a.kcall('KeLowerIrql', PASSIVE_LEVEL);
            a.ret(0);
          },
          B: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(1, R0);
            a.kcall('KeSetEvent', a.event('Go'), 0, 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(traced(run)).toEqual([
      [1, PASSIVE_LEVEL],
      [2, APC_LEVEL],
    ]);
  });
});

describe('critical and guarded regions (§5.8)', () => {
  it('a critical region holds off the normal APC but not the special one; leaving it delivers the normal one', async () => {
    const run = await runInProcess(
      oneThread('apc-critical-region', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeInitializeApc', a.apc('Normal'), 0, 0);
        a.kcall('KeEnterCriticalRegion');
        a.kcall('KeAreApcsDisabled');
        a.trace(1, R0);
        a.kcall('KeInsertQueueApc', a.apc('Normal'), 0, 0, 0);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(2);
        a.kcall('KeLeaveCriticalRegion');
        a.trace(3);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [1, 1],
      [SPECIAL_KERNEL, APC_LEVEL],
      [2, 0],
      [NORMAL_KERNEL, APC_LEVEL],
      [NORMAL_NORMAL, PASSIVE_LEVEL],
      [3, 0],
    ]);
  });

  it('a guarded region holds off special APCs too, nests, and the outermost leave delivers them', async () => {
    const run = await runInProcess(
      oneThread('apc-guarded-region', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeEnterGuardedRegion');
        a.kcall('KeEnterGuardedRegion');
        a.kcall('KeAreAllApcsDisabled');
        a.trace(1, R0);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(2);
        a.kcall('KeLeaveGuardedRegion');
        a.trace(3);
        a.kcall('KeLeaveGuardedRegion');
        a.trace(4);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(traced(run)).toEqual([
      [1, 1],
      [2, 0],
      [3, 0],
      [SPECIAL_KERNEL, APC_LEVEL],
      [4, 0],
    ]);
  });

  it('a KMUTEX held blocks normal kernel APCs (not special ones) until its release', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-kmutex-held',
        description: 'a thread owning a KMUTEX queues a normal and a special APC to itself',
        threads: { T: { routine: 'Main', cpu: 0 } },
        mutexes: { M: {} },
        apcs,
        routines: {
          Main: (a) => {
            a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
            a.kcall('KeInitializeApc', a.apc('Normal'), 0, 0);
            a.kcall('KeWaitForSingleObject', a.mutex('M'), 0, 0, 0, 0);
            a.kcall('KeInsertQueueApc', a.apc('Normal'), 0, 0, 0);
            a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
            a.trace(1);
            a.kcall('KeReleaseMutex', a.mutex('M'), 0);
            a.trace(2);
            a.ret(0);
          },
          ...apcRoutines,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(traced(run)).toEqual([
      [SPECIAL_KERNEL, APC_LEVEL],
      [1, 0],
      [NORMAL_KERNEL, APC_LEVEL],
      [NORMAL_NORMAL, PASSIVE_LEVEL],
      [2, 0],
    ]);
  });

  it('a thread that exits inside a critical region with a normal APC still queued is 0x20 KERNEL_APC_PENDING_DURING_EXIT', async () => {
    const run = await runInProcess(
      oneThread('apc-pending-at-exit', (a) => {
        a.kcall('KeInitializeApc', a.apc('Normal'), 0, 0);
        a.kcall('KeEnterCriticalRegion');
        a.kcall('KeInsertQueueApc', a.apc('Normal'), 0, 0, 0);
        a.trace(1);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT);
    expect(bugcheck.params.map((p) => p >>> 0)).toEqual([apcAddress(1), 0xffff, PASSIVE_LEVEL, 0]);
    expect(bugcheck.detail).toMatch(/exited with APC Normal still queued, APCs disabled \(CombinedApcDisable 0xffff/);
    expect(run.tags(0)).toEqual([1]);
  });

  it('leaving a critical region never entered is 0xC4 / 0x3E', async () => {
    const run = await runInProcess(
      oneThread('apc-unbalanced-region', (a) => {
        a.kcall('KeLeaveCriticalRegion');
        a.trace(1);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
    expect(run.result.bugcheck?.params[0]).toBe(0x3e);
  });
});

/** Two CPUs: T on CPU 0 inserts the APC for U, which spins at PASSIVE_LEVEL on CPU 1 until the APC's routine sets `Done`. */
function crossCpu(name: string): ScenarioDefinition {
  return defineScenario({
    name,
    description: name,
    memory: { Done: {} },
    threads: { T: { routine: 'Inserter', cpu: 0 }, U: { routine: 'Spinner', cpu: 1 } },
    apcs: { ForU: { kernelRoutine: 'ForUKernel', mode: 'kernel' } },
    routines: {
      Inserter: (a) => {
        a.work(50_000);
        a.kcall('KeInitializeApc', a.apc('ForU'), a.thread('U'), 0);
        a.kcall('KeInsertQueueApc', a.apc('ForU'), 7, 0, 0);
        a.trace(1, R0);
        a.ret(0);
      },
      Spinner: (a) => {
        a.label('spin');
        a.work(100);
        a.load(R1, a.var('Done'));
        a.beqz(R1, 'spin');
        a.trace(3);
        a.ret(0);
      },
      ForUKernel: (a) => {
        a.kcall('KeGetCurrentThread');
        a.trace(2, R0);
        a.store(a.var('Done'), 0, 1);
        a.ret(0);
      },
    },
  });
}

describe('cross-processor APC delivery (§5.4 step 4)', () => {
  it('a kernel APC for a thread not yet switched in (Ready/Standby) sends no IPI: it runs when the thread is switched in, before its code', async () => {
    const definition = crossCpu('apc-standby');
    const run = await runInProcess(
      {
        ...definition,
        routines: {
          ...definition.routines,
          // insert at once, before CPU 1 has switched U in
          Inserter: (a) => {
            a.kcall('KeInitializeApc', a.apc('ForU'), a.thread('U'), 0);
            a.kcall('KeInsertQueueApc', a.apc('ForU'), 7, 0, 0);
            a.trace(1, R0);
            a.ret(0);
          },
        },
      },
      { cpus: 2, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(1)).toEqual([2, 3]);
    expect(run.result.perCpu[0]!.ipisSent).toBe(0);
  });

  it('a kernel APC for a thread running on another CPU is sent there by IPI(APC) and runs in that thread', async () => {
    const run = await runInProcess(crossCpu('apc-cross-cpu'), { cpus: 2, durationMs: 2 });
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1]);
    expect(run.tags(1)).toEqual([2, 3]);
    const [cpu0, cpu1] = run.result.perCpu;
    expect(cpu0!.ipisSent).toBe(1);
    expect(cpu1!.ipisReceived).toBe(1);
  });
});

describe('a kernel APC and a wait at PASSIVE_LEVEL (§4.11, §12 item 10)', () => {
  it('the wait is broken, the APC runs in the waiter, and the wait restarts: the caller sees STATUS_TIMEOUT at its full timeout', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-breaks-wait',
        description: 'a special APC to a thread in a 1 ms wait',
        memory: { Timeout: { words: 2, init: [-10_000, -1] } },
        events: { Never: { type: 'notification' } },
        threads: { W: { routine: 'Waiter', cpu: 0 }, I: { routine: 'Inserter', cpu: 1 } },
        apcs: { ForW: { kernelRoutine: 'ForWKernel', mode: 'kernel' } },
        routines: {
          Waiter: (a) => {
            a.kcall('KeQueryPerformanceCounter');
            a.trace(1, R0);
            a.kcall('KeWaitForSingleObject', a.event('Never'), 0, 0, 0, a.var('Timeout'));
            a.mov(R1, R0);
            a.kcall('KeQueryPerformanceCounter');
            a.trace(3, R0);
            a.trace(4, R1);
            a.ret(0);
          },
          Inserter: (a) => {
            a.kcall('KeInitializeApc', a.apc('ForW'), a.thread('W'), 0);
            a.work(200_000);
            a.kcall('KeInsertQueueApc', a.apc('ForW'), 0, 0, 0);
            a.ret(0);
          },
          ForWKernel: (a) => {
            a.kcall('KeGetCurrentThread');
            a.trace(2, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 40 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, 3, 4]);
    expect(run.first(4).value >>> 0).toBe(STATUS.TIMEOUT);
    const waitedNs = run.first(3).value - run.first(1).value;
    expect(waitedNs).toBeGreaterThanOrEqual(1_000_000);
    expect(waitedNs).toBeLessThan(1_000_000 + 16_000_000);
  });
});
