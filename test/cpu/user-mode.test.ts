// User mode and system services end to end on the in-process machine (nt-semantics.md §5.6 step 3,
// §5.7, §12 item 12; src/kernel/service-call.ts): threads declared `mode: 'user'`, the 0x1E of a
// kernel-only call from user mode, user APCs delivered one per kernel → user transition and chained
// through NtContinue, alertable and non-alertable user-mode waits, the system-service exit checks
// (0x1 APC_INDEX_MISMATCH), and the rundown of user APCs still queued at thread exit.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { RunView, ScenarioDefinition } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { KernelMode, STATUS, UserMode } from '../../src/kernel/status.js';
import { TraceEvent } from '../../src/kernel/trace-events.js';
import { ApcRoutineStep } from '../../src/kernel/apc-call.js';
import { systemServiceAddress } from '../../src/kernel/service-call.js';
import { KC } from '../../src/isa/kcalls.js';
import { DISPATCHER_OPERATIONS, ApcTakeKind } from '../../src/ipc/dispatcher-ops.js';
import { R0, R1 } from '../../src/isa/registers.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { runInProcess } from '../smp/harness.js';

const WAIT_IO_COMPLETION = 0xc0;
const INFINITE = -1;

/** A user APC routine: traces `tag` with its NormalContext (r1). */
function traceContext(tag: number) {
  return (a: RoutineBuilder): void => {
    a.trace(tag, R1);
    a.ret(0);
  };
}

interface TraceRecord {
  cpu: number;
  event: number;
  a: number;
  b: number;
  c: number;
}

/** The run with every trace record (the in-process backend, deterministic mode), and the TRACE events. */
async function runTraced(definition: ScenarioDefinition, cpus: number, durationMs: number) {
  const records: TraceRecord[] = [];
  let events: Array<{ cpu: number; tag: number; value: number }> = [];
  const capturing: ScenarioDefinition = {
    ...definition,
    results: (view: RunView) => {
      events = view.userEvents.map((e) => ({ cpu: e.cpu, tag: e.tag, value: e.value }));
      return {};
    },
  };
  const result = await executeScenario(validateScenario(capturing, { cpus, arch: 'x64' }), null, {
    cpus,
    mode: 'deterministic',
    seed: 1,
    durationNs: durationMs * 1e6,
    timeScale: 1,
    verbose: false,
    command: 'test',
    backend: 'in-process',
    on: { trace: (cpu, _time, event, a, b, c) => records.push({ cpu, event, a, b, c }) },
  });
  return { result, records, events };
}

describe('user-mode threads', () => {
  it("a thread declared mode: 'user' runs its body in user mode; a kernel thread's body runs in kernel mode", async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-mode-previous-mode',
        description: 'ExGetPreviousMode from a user and a kernel thread',
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Sys: { routine: 'Sys', cpu: 1 } },
        routines: {
          App: (a) => {
            a.kcall('ExGetPreviousMode');
            a.trace(1, R0);
            a.ret(0);
          },
          Sys: (a) => {
            a.kcall('ExGetPreviousMode');
            a.trace(2, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(UserMode);
    expect(run.first(2).value).toBe(KernelMode);
  });

  it('a kernel-only call from user mode is 0x1E STATUS_PRIVILEGED_INSTRUCTION', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-mode-privileged',
        description: 'KeRaiseIrql from user mode',
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.trace(1);
            a.kcall('KeRaiseIrql', 2);
            a.trace(2);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0]! >>> 0).toBe(STATUS.PRIVILEGED_INSTRUCTION);
    expect(bugcheck.params[2]).toBe(KC.KeRaiseIrql);
    expect(bugcheck.detail).toMatch(/KeRaiseIrql called from user mode/);
    expect(bugcheck.frames.map((f) => f.routine)).toEqual(['App (user mode)']);
    expect(run.tags(0)).toEqual([1]);
  });

  it("a thread's mode other than 'kernel' or 'user' is refused with one clear line", () => {
    const definition = defineScenario({
      name: 'user-mode-bad-mode',
      description: 'a bad mode',
      threads: { App: { routine: 'App', mode: 'supervisor' as 'user' } },
      routines: { App: (a) => a.ret(0) },
    });
    expect(() => validateScenario(definition, { cpus: 1, arch: 'x64' })).toThrow(/threads\.App\.mode must be 'kernel' or 'user' \(got "supervisor"\)/);
  });
});

describe('user APCs (§5.6 step 3, §12 item 12)', () => {
  it('QueueUserAPC to the caller then SleepEx(0, TRUE): the APC runs in user mode, on the caller, on the return, and SleepEx returns WAIT_IO_COMPLETION', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-self',
        description: 'QueueUserAPC(self) + SleepEx(0, TRUE)',
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('QueueUserAPC', a.routine('Completion'), 0, 42);
            a.trace(1, R0);
            a.kcall('SleepEx', 0, 1);
            a.trace(3, R0);
            a.ret(0);
          },
          Completion: (a) => {
            a.trace(2, R1);
            a.kcall('ExGetPreviousMode');
            a.trace(20, R0);
            a.kcall('KeGetCurrentThread');
            a.trace(21, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 1],
      [2, 42],
      [20, UserMode],
      [21, 2],
      [3, WAIT_IO_COMPLETION],
    ]);
  });

  it('SleepEx with three user APCs queued runs all three before it returns, one per kernel → user transition, chained through NtContinue', async () => {
    const run = await runTraced(
      defineScenario({
        name: 'user-apc-three',
        description: 'three QueueUserAPC then SleepEx(INFINITE, TRUE)',
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('QueueUserAPC', a.routine('First'), 0, 1);
            a.kcall('QueueUserAPC', a.routine('Second'), 0, 2);
            a.kcall('QueueUserAPC', a.routine('Third'), 0, 3);
            a.trace(1);
            a.kcall('SleepEx', INFINITE, 1);
            a.trace(2, R0);
            a.ret(0);
          },
          First: traceContext(11),
          Second: traceContext(12),
          Third: traceContext(13),
        },
      }),
      1,
      2,
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 0],
      [11, 1],
      [12, 2],
      [13, 3],
      [2, WAIT_IO_COMPLETION],
    ]);
    // from the SleepEx on: each user take (KiTakeApc returning one user APC) is followed by that
    // APC's user-mode routine and NtContinue's TestAlert before the next take
    const takeCode = DISPATCHER_OPERATIONS.KiTakeApc.code;
    const testAlertCode = DISPATCHER_OPERATIONS.KeTestAlertThread.code;
    const steps = run.records
      .filter((r) => r.event === TraceEvent.DISPATCHER || (r.event === TraceEvent.APC_DELIVER && r.c === ApcRoutineStep.USER))
      .map((r) =>
        r.event === TraceEvent.APC_DELIVER
          ? 'user routine'
          : r.a === takeCode
            ? `take ${r.b === ApcTakeKind.USER ? 'one user APC' : r.b}`
            : r.a === testAlertCode
              ? 'NtContinue TestAlert'
              : 'other',
      )
      .filter((step) => step !== 'other');
    expect(steps).toEqual([
      'take one user APC',
      'user routine',
      'NtContinue TestAlert',
      'take one user APC',
      'user routine',
      'NtContinue TestAlert',
      'take one user APC',
      'user routine',
      'NtContinue TestAlert',
    ]);
  });

  it('a user APC queued to a thread in a non-alertable wait stays queued; the next alertable wait returns STATUS_USER_APC after running it', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-non-alertable',
        description: 'a user APC to a thread in a non-alertable user-mode wait',
        memory: { TwoMs: { words: 2, init: [-20_000, -1] }, OneMs: { words: 2, init: [-10_000, -1] } },
        events: { Never: { type: 'notification' } },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Queuer: { routine: 'Queuer', cpu: 1, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('NtWaitForSingleObject', a.event('Never'), 0, a.var('TwoMs'));
            a.trace(1, R0);
            a.kcall('NtWaitForSingleObject', a.event('Never'), 1, a.var('OneMs'));
            a.trace(3, R0);
            a.ret(0);
          },
          Queuer: (a) => {
            a.work(200_000);
            a.kcall('QueueUserAPC', a.routine('Completion'), a.thread('App'), 7);
            a.trace(4, R0);
            a.ret(0);
          },
          Completion: traceContext(2),
        },
      }),
      { cpus: 2, durationMs: 40 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(4).value).toBe(1);
    expect(run.tags(0)).toEqual([1, 2, 3]);
    expect(run.first(1).value >>> 0).toBe(STATUS.TIMEOUT);
    expect(run.first(2).value).toBe(7);
    expect(run.first(3).value >>> 0).toBe(STATUS.USER_APC);
  });

  it('an alertable user-mode wait is ended by a user APC queued meanwhile: STATUS_USER_APC, the APC having run on the way out', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-alertable-wait',
        description: 'a user APC to a thread in an alertable user-mode wait',
        memory: { FiveMs: { words: 2, init: [-50_000, -1] } },
        events: { Never: { type: 'notification' } },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Queuer: { routine: 'Queuer', cpu: 1, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('KeQueryPerformanceCounter');
            a.trace(1, R0);
            a.kcall('NtWaitForSingleObject', a.event('Never'), 1, a.var('FiveMs'));
            a.mov(R1, R0);
            a.kcall('KeQueryPerformanceCounter');
            a.trace(3, R0);
            a.trace(4, R1);
            a.ret(0);
          },
          Queuer: (a) => {
            a.work(200_000);
            a.kcall('QueueUserAPC', a.routine('Completion'), a.thread('App'), 9);
            a.ret(0);
          },
          Completion: traceContext(2),
        },
      }),
      { cpus: 2, durationMs: 40 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, 3, 4]);
    expect(run.first(2).value).toBe(9);
    expect(run.first(4).value >>> 0).toBe(STATUS.USER_APC);
    expect(run.first(3).value - run.first(1).value).toBeLessThan(5_000_000);
  });

  it('NtTestAlert makes a queued user APC pending: it runs on the return from NtTestAlert', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-test-alert',
        description: 'QueueUserAPC(self), then NtTestAlert',
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('QueueUserAPC', a.routine('Completion'), 0, 5);
            a.kcall('KeGetCurrentProcessorNumber');
            a.trace(1);
            a.kcall('NtTestAlert');
            a.trace(3, R0);
            a.ret(0);
          },
          Completion: traceContext(2),
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 0],
      [2, 5],
      [3, STATUS.SUCCESS],
    ]);
  });
});

describe('the return to user mode after an interrupt', () => {
  it('a kernel APC sent by IPI to a thread running user code makes a user APC pending (KeTestAlertThread): it runs when the APC interrupt returns to user mode', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-after-interrupt',
        description: 'IPI(APC) to a user-mode spinner whose KernelRoutine arms its user APC',
        memory: { Done: {} },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Sys: { routine: 'Sys', cpu: 1 } },
        apcs: { Poke: { kernelRoutine: 'PokeKernel', mode: 'kernel' } },
        routines: {
          App: (a) => {
            a.kcall('QueueUserAPC', a.routine('Completion'), 0, 5);
            a.trace(1);
            a.label('spin');
            a.work(100);
            a.load(R1, a.var('Done'));
            a.beqz(R1, 'spin');
            a.trace(3);
            a.ret(0);
          },
          Sys: (a) => {
            a.kcall('KeInitializeApc', a.apc('Poke'), a.thread('App'), 0);
            a.work(200_000);
            a.kcall('KeInsertQueueApc', a.apc('Poke'), 0, 0, 0);
            a.ret(0);
          },
          PokeKernel: (a) => {
            a.kcall('KeTestAlertThread', UserMode);
            a.kcall('ExGetPreviousMode');
            a.trace(4, R0);
            a.ret(0);
          },
          Completion: (a) => {
            a.trace(2, R1);
            a.store(a.var('Done'), 0, 1);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 4, 2, 3]);
    expect(run.first(4).value, 'the KernelRoutine interrupted user mode').toBe(UserMode);
    expect(run.first(2).value).toBe(5);
    expect(run.result.perCpu[1]!.ipisSent).toBe(1);
  });
});

/** A user thread in SleepEx(2 ms) gets a special kernel APC from a kernel thread; its KernelRoutine enters a region it never leaves. */
function regionLeftOpen(name: string, enter: 'KeEnterCriticalRegion' | 'KeEnterGuardedRegion'): ScenarioDefinition {
  return defineScenario({
    name,
    description: `a system service returns to user mode inside a region (${enter})`,
    threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Sys: { routine: 'Sys', cpu: 1 } },
    apcs: { Leaky: { kernelRoutine: 'LeakyKernel', mode: 'kernel' } },
    routines: {
      App: (a) => {
        a.kcall('SleepEx', 2, 0);
        a.trace(2, R0);
        a.ret(0);
      },
      Sys: (a) => {
        a.kcall('KeInitializeApc', a.apc('Leaky'), a.thread('App'), 0);
        a.work(200_000);
        a.kcall('KeInsertQueueApc', a.apc('Leaky'), 0, 0, 0);
        a.ret(0);
      },
      LeakyKernel: (a) => {
        a.kcall(enter);
        a.trace(1);
        a.ret(0);
      },
    },
  });
}

describe('the system-service exit (§5.7)', () => {
  it('a service returning to user mode inside a critical region is 0x1 APC_INDEX_MISMATCH with P3 0x0000FFFF', async () => {
    const run = await runInProcess(regionLeftOpen('service-exit-critical', 'KeEnterCriticalRegion'), { cpus: 2, durationMs: 40 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.APC_INDEX_MISMATCH);
    expect(bugcheck.params.map((p) => p >>> 0)).toEqual([systemServiceAddress(KC.SleepEx), 0, 0x0000ffff, 0]);
    expect(bugcheck.detail).toMatch(/SleepEx returned to user mode .* a critical region entered and never left/);
    // at SleepEx's return, after its 2 ms: the wait restarted after the APC (pc back on the call) was no return to user mode
    expect(bugcheck.emulatedTimeNs).toBeGreaterThan(2_000_000);
    expect(run.tags(0)).toEqual([1]);
  });

  it('a service returning to user mode inside a guarded region is 0x1 APC_INDEX_MISMATCH with P3 0xFFFF0000', async () => {
    const run = await runInProcess(regionLeftOpen('service-exit-guarded', 'KeEnterGuardedRegion'), { cpus: 2, durationMs: 40 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.APC_INDEX_MISMATCH);
    expect(bugcheck.params.map((p) => p >>> 0)).toEqual([systemServiceAddress(KC.SleepEx), 0, 0xffff0000, 0]);
    expect(run.tags(0)).toEqual([1]);
  });
});

describe('thread exit (§5.10)', () => {
  it('the RundownRoutine of a user APC still queued at thread exit runs instead of its NormalRoutine; a QueueUserAPC one is freed', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'user-apc-rundown',
        description: 'a user thread exits with user APCs queued',
        memory: { Queued: {} },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' }, Sys: { routine: 'Sys', cpu: 1 } },
        apcs: { ForApp: { kernelRoutine: 'ForAppKernel', normalRoutine: 'ForAppNormal', rundownRoutine: 'ForAppRundown', mode: 'user', context: 3 } },
        routines: {
          App: (a) => {
            a.kcall('QueueUserAPC', a.routine('Queued'), 0, 8);
            a.label('spin');
            a.work(100);
            a.load(R1, a.var('Queued'));
            a.beqz(R1, 'spin');
            a.trace(1);
            a.ret(0);
          },
          Sys: (a) => {
            a.kcall('KeInitializeApc', a.apc('ForApp'), a.thread('App'), 0);
            a.kcall('KeInsertQueueApc', a.apc('ForApp'), 0, 0, 0);
            a.trace(2, R0);
            a.store(a.var('Queued'), 0, 1);
            a.ret(0);
          },
          ForAppKernel: traceContext(10),
          ForAppNormal: traceContext(11),
          ForAppRundown: (a) => {
            a.kcall('KeGetCurrentThread');
            a.trace(12, R0);
            a.ret(0);
          },
          Queued: traceContext(13),
        },
      }),
      { cpus: 2, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(2).value).toBe(1);
    expect(run.tags(0)).toEqual([1, 12]);
    expect(run.first(12).value).toBe(3);
  });
});
