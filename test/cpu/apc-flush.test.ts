// KeFlushQueueApc as a kernel call (nt-semantics.md §5.10; README "APCs" and "Emulator policies")
// on the in-process machine: the flushed APCs never run and can be inserted again, the user list's
// flush clears UserApcPending, an empty list gives 0 (NT's NULL), and above DISPATCH_LEVEL it is 0xA.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { KernelMode, STATUS, UserMode } from '../../src/kernel/status.js';
import { R0 } from '../../src/isa/registers.js';
import { runInProcess } from '../smp/harness.js';

import { SPECIAL_KERNEL, oneThread, traceIrql, traced } from './apc-fixtures.js';

describe('KeFlushQueueApc', () => {
  it("flushing a thread's kernel APCs at DISPATCH_LEVEL removes them all: none runs when the IRQL drops, and each can be inserted again", async () => {
    const run = await runInProcess(
      oneThread('apc-flush-kernel', (a) => {
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeInitializeApc', a.apc('Normal'), 0, 0);
        a.kcall('KeRaiseIrql', DISPATCH_LEVEL);
        a.kcall('KeInsertQueueApc', a.apc('Normal'), 0, 0, 0);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.kcall('KeFlushQueueApc', 0, KernelMode);
        a.trace(1, R0);
        a.kcall('KeLowerIrql', PASSIVE_LEVEL);
        a.trace(2);
        // no longer inserted: KeInsertQueueApc accepts it again, and it runs at once at PASSIVE_LEVEL
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.trace(3, R0);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(traced(run)).toEqual([
      [1, 2],
      [2, 0],
      [SPECIAL_KERNEL, APC_LEVEL],
      [3, 1],
    ]);
  });

  it('flushing an empty list returns 0 (NULL); flushing the user list leaves the kernel APCs queued', async () => {
    const run = await runInProcess(
      oneThread('apc-flush-empty', (a) => {
        a.kcall('KeFlushQueueApc', 0, KernelMode);
        a.trace(1, R0);
        a.kcall('KeInitializeApc', a.apc('Special'), 0, 0);
        a.kcall('KeRaiseIrql', APC_LEVEL);
        a.kcall('KeInsertQueueApc', a.apc('Special'), 0, 0, 0);
        a.kcall('KeGetCurrentThread');
        a.kcall('KeFlushQueueApc', R0, UserMode);
        a.trace(2, R0);
        a.kcall('KeLowerIrql', PASSIVE_LEVEL);
        a.trace(3);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(traced(run)).toEqual([
      [1, 0],
      [2, 0],
      [SPECIAL_KERNEL, APC_LEVEL],
      [3, 0],
    ]);
  });

  it('a user APC flushed after its insertion ended an alertable wait never runs: that wait still returns STATUS_USER_APC, the later ones block to their timeout', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-flush-user',
        description: 'Sys queues a user APC to App in an alertable wait, then flushes it before App runs again',
        memory: { OneMs: { words: 2, init: [-10_000, -1] }, FortyMs: { words: 2, init: [-400_000, -1] } },
        events: { Never: { type: 'notification' } },
        threads: {
          App: { routine: 'App', cpu: 0, mode: 'user' },
          // higher priority on the same CPU: App, readied by the insertion, runs only after Sys has flushed
          Sys: { routine: 'Sys', cpu: 0, priority: 16 },
        },
        apcs: { ForApp: { kernelRoutine: 'ForAppKernel', normalRoutine: 'ForAppNormal', rundownRoutine: 'ForAppRundown', mode: 'user', context: 3 } },
        routines: {
          App: (a) => {
            a.kcall('NtWaitForSingleObject', a.event('Never'), 1, a.var('FortyMs'));
            a.trace(3, R0);
            a.kcall('NtWaitForSingleObject', a.event('Never'), 0, a.var('OneMs'));
            a.trace(4, R0);
            a.kcall('NtWaitForSingleObject', a.event('Never'), 1, a.var('OneMs'));
            a.trace(5, R0);
            a.ret(0);
          },
          Sys: (a) => {
            a.kcall('KeDelayExecutionThread', KernelMode, 0, a.var('OneMs'));
            a.kcall('KeInitializeApc', a.apc('ForApp'), a.thread('App'), 0);
            a.kcall('KeInsertQueueApc', a.apc('ForApp'), 0, 0, 0);
            a.trace(1, R0);
            a.kcall('KeFlushQueueApc', a.thread('App'), UserMode);
            a.trace(2, R0);
            a.ret(0);
          },
          ForAppKernel: traceIrql(10),
          ForAppNormal: traceIrql(11),
          ForAppRundown: traceIrql(12),
        },
      }),
      // the waits end at clock ticks (15.625 ms apart)
      { cpus: 1, durationMs: 120 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, 3, 4, 5]);
    expect(run.first(1).value).toBe(1);
    expect(run.first(2).value).toBe(1);
    // the insertion had already ended the alertable wait: that status stands
    expect(run.first(3).value >>> 0).toBe(STATUS.USER_APC);
    expect(run.first(4).value >>> 0).toBe(STATUS.TIMEOUT);
    expect(run.first(5).value >>> 0).toBe(STATUS.TIMEOUT);
  });

  it('flushing the user APCs clears UserApcPending: the next non-alertable user-mode wait blocks to its timeout instead of returning STATUS_USER_APC', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-flush-user-pending',
        description: 'a kernel thread makes its own user APC pending (KeTestAlertThread), flushes it, then waits in UserMode',
        memory: { OneMs: { words: 2, init: [-10_000, -1] } },
        events: { Never: { type: 'notification' } },
        // a kernel thread never returns to user mode, whose exit would also drop a pending flag with nothing queued
        threads: { T: { routine: 'T', cpu: 0 } },
        apcs: { ForT: { kernelRoutine: 'ForTKernel', normalRoutine: 'ForTNormal', rundownRoutine: 'ForTRundown', mode: 'user', context: 3 } },
        routines: {
          T: (a) => {
            a.kcall('KeInitializeApc', a.apc('ForT'), 0, 0);
            a.kcall('KeInsertQueueApc', a.apc('ForT'), 0, 0, 0);
            // a user APC queued: UserApcPending is set
            a.kcall('KeTestAlertThread', UserMode);
            a.kcall('KeFlushQueueApc', 0, UserMode);
            a.trace(1, R0);
            a.kcall('KeWaitForSingleObject', a.event('Never'), 0, UserMode, 0, a.var('OneMs'));
            a.trace(2, R0);
            a.kcall('KeWaitForSingleObject', a.event('Never'), 0, UserMode, 1, a.var('OneMs'));
            a.trace(3, R0);
            a.ret(0);
          },
          ForTKernel: traceIrql(10),
          ForTNormal: traceIrql(11),
          ForTRundown: traceIrql(12),
        },
      }),
      { cpus: 1, durationMs: 80 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, 3]);
    expect(run.first(1).value).toBe(1);
    expect(run.first(2).value >>> 0).toBe(STATUS.TIMEOUT);
    expect(run.first(3).value >>> 0).toBe(STATUS.TIMEOUT);
  });

  it('KeFlushQueueApc above DISPATCH_LEVEL is 0xA IRQL_NOT_LESS_OR_EQUAL naming the thread and the IRQL', async () => {
    const run = await runInProcess(
      oneThread('apc-flush-irql', (a) => {
        a.kcall('KeGetCurrentThread');
        a.trace(1, R0);
        a.kcall('KeRaiseIrql', DISPATCH_LEVEL + 1);
        a.kcall('KeFlushQueueApc', a.thread('T'), KernelMode);
        a.trace(2);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
    expect(bugcheck.params.slice(0, 3)).toEqual([run.first(1).value, DISPATCH_LEVEL + 1, 0]);
    expect(bugcheck.detail).toMatch(/KeFlushQueueApc called at .*IRQL ≤ DISPATCH_LEVEL/);
    expect(run.tags(0)).toEqual([1]);
  });

  it('a mode other than KernelMode or UserMode is 0x1E with STATUS_INVALID_PARAMETER', async () => {
    const run = await runInProcess(
      oneThread('apc-flush-bad-mode', (a) => {
        a.kcall('KeFlushQueueApc', 0, 2);
        a.trace(1);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0]! >>> 0).toBe(STATUS.INVALID_PARAMETER);
    expect(run.tags(0)).toEqual([]);
  });
});
