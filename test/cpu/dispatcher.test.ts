// nt-semantics.md §4 (threads, scheduling, waits) in process (the in-process backend), deterministic
// mode: the dispatcher database lives in the coordinator; threads migrate between CPUs through the
// shared thread table. (The real races of lost-update stay on workers: test/smp/dispatcher.test.ts.)
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { R0, R1, R5, R6 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { STATUS } from '../../src/kernel/status.js';
import priorityPreemption from '../../src/scenarios/priority-preemption.js';
import schedulerMix from '../../src/scenarios/scheduler-mix.js';
import { runInProcess } from '../smp/harness.js';

/** KeWaitForSingleObject(object) with no timeout, KernelMode, not alertable */
const wait = (a: RoutineBuilder, object: ReturnType<RoutineBuilder['event']>): void => {
  a.kcall('KeWaitForSingleObject', object, 0, 0, 0, 0);
};

const spinUntil = (a: RoutineBuilder, variable: string, label: string): void => {
  a.label(label);
  a.work(100);
  a.load(R1, a.var(variable));
  a.beqz(R1, label);
};

describe('§4 waits and dispatcher objects (in process)', () => {
  it('WaitAny returns the lowest satisfiable index and resets only that synchronization event', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'wait-any',
        description: 'WaitAny on [E1 unsignaled, E2 signaled, E3 signaled]',
        memory: { Objects: { words: 3 } },
        events: { E1: { type: 'synchronization' }, E2: { type: 'synchronization', signaled: true }, E3: { type: 'synchronization', signaled: true } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.store(a.var('Objects'), 0, a.event('E1'));
            a.store(a.var('Objects'), 4, a.event('E2'));
            a.store(a.var('Objects'), 8, a.event('E3'));
            a.kcall('KeWaitForMultipleObjects', 3, a.var('Objects'), 1, 0, 0, 0, 0, 0);
            a.trace(1, R0);
            a.kcall('KeReadStateEvent', a.event('E2'));
            a.trace(2, R0);
            a.kcall('KeReadStateEvent', a.event('E3'));
            a.trace(3, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 1],
      [2, 0],
      [3, 1],
    ]);
  });

  it('WaitAll on a mutex the caller owns and a semaphore of count 1 succeeds: recursion 2, count 0', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'wait-all',
        description: 'WaitAll on [M owned by the caller, S count 1]',
        memory: { Objects: { words: 2 } },
        mutexes: { M: {} },
        semaphores: { S: { count: 1, limit: 1 } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            wait(a, a.mutex('M'));
            a.store(a.var('Objects'), 0, a.mutex('M'));
            a.store(a.var('Objects'), 4, a.semaphore('S'));
            a.kcall('KeWaitForMultipleObjects', 2, a.var('Objects'), 0, 0, 0, 0, 0, 0);
            a.trace(1, R0);
            a.kcall('KeReadStateMutex', a.mutex('M'));
            a.trace(2, R0);
            a.kcall('KeReadStateSemaphore', a.semaphore('S'));
            a.trace(3, R0);
            a.kcall('KeReleaseMutex', a.mutex('M'), 0);
            a.kcall('KeReleaseMutex', a.mutex('M'), 0);
            a.trace(4, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    // state 1 free; two acquisitions: −1 (recursion 2); the last release returns the previous state 0
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 0],
      [2, -1],
      [3, 0],
      [4, 0],
    ]);
  });

  it('KeSetEvent on a synchronization event: a WaitAll waiter in front re-tests and blocks again, the first WaitAny waiter is released, the next stays blocked', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'sync-event-waiters',
        description: 'waiters B (WaitAll on E + X), A and C (WaitAny on E) in that order; one KeSetEvent(E)',
        memory: { Pair: { words: 2 }, Ready: {} },
        events: { E: { type: 'synchronization' }, X: { type: 'notification' } },
        threads: {
          B: { routine: 'B', cpu: 0, priority: 10 },
          A: { routine: 'A', cpu: 0, priority: 9 },
          C: { routine: 'C', cpu: 0, priority: 9 },
          Setter: { routine: 'Setter', cpu: 0, priority: 8 },
        },
        routines: {
          B: (a) => {
            a.store(a.var('Pair'), 0, a.event('E'));
            a.store(a.var('Pair'), 4, a.event('X'));
            a.kcall('KeWaitForMultipleObjects', 2, a.var('Pair'), 0, 0, 0, 0, 0, 0);
            a.trace(2, R0);
            a.ret(0);
          },
          A: (a) => {
            wait(a, a.event('E'));
            a.trace(1, R0);
            a.ret(0);
          },
          C: (a) => {
            wait(a, a.event('E'));
            a.trace(3, R0);
            a.ret(0);
          },
          Setter: (a) => {
            a.kcall('KeSetEvent', a.event('E'), 0, 0);
            a.kcall('KeReadStateEvent', a.event('E'));
            a.trace(9, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 9]);
    expect(run.first(1).value, 'A gets STATUS_WAIT_0').toBe(0);
    expect(run.first(9).value, 'the event was consumed by A').toBe(0);
    const state = Object.fromEntries(run.result.threads.map((t) => [t.name, t]));
    expect(state.B!.state, 'B woke to re-test (STATUS_KERNEL_APC is never returned) and blocked again').toBe('Waiting');
    expect(state.B!.waits).toBe(2);
    expect(state.C!.state).toBe('Waiting');
    expect(state.C!.waits).toBe(1);
    expect(state.A!.state).toBe('Terminated');
  });

  it('a notification event releases every waiter and stays signaled', async () => {
    const waiters = Object.fromEntries([1, 2, 3].map((i) => [`W${i}`, { routine: 'Waiter', cpu: 0, priority: 10, args: [i] }]));
    const run = await runInProcess(
      defineScenario({
        name: 'notification-event',
        description: 'three waiters, one KeSetEvent',
        events: { Go: { type: 'notification' } },
        threads: { ...waiters, Setter: { routine: 'Setter', cpu: 0, priority: 8 } },
        routines: {
          Waiter: (a) => {
            wait(a, a.event('Go'));
            a.trace(1, R1);
            a.ret(0);
          },
          Setter: (a) => {
            a.kcall('KeSetEvent', a.event('Go'), 0, 0);
            a.kcall('KeReadStateEvent', a.event('Go'));
            a.trace(9, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 2 },
    );
    expect(run.all(1).map((e) => e.value)).toEqual([1, 2, 3]);
    expect(run.first(9).value).toBe(1);
  });

  it('a semaphore release of 2 releases two waiters; past the limit it raises STATUS_SEMAPHORE_LIMIT_EXCEEDED (0x1E)', async () => {
    const waiters = Object.fromEntries([1, 2, 3].map((i) => [`W${i}`, { routine: 'Waiter', cpu: 0, priority: 10, args: [i] }]));
    const run = await runInProcess(
      defineScenario({
        name: 'semaphore',
        description: 'three waiters, a release of 2, then a release past the limit',
        semaphores: { S: { count: 0, limit: 3 } },
        threads: { ...waiters, Releaser: { routine: 'Releaser', cpu: 0, priority: 8 } },
        routines: {
          Waiter: (a) => {
            wait(a, a.semaphore('S'));
            a.trace(1, R1);
            a.ret(0);
          },
          Releaser: (a) => {
            a.kcall('KeReleaseSemaphore', a.semaphore('S'), 0, 2, 0);
            a.trace(2, R0);
            a.kcall('KeReleaseSemaphore', a.semaphore('S'), 0, 4, 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 2 },
    );
    expect(run.all(1).map((e) => e.value)).toEqual([1, 2]);
    expect(run.first(2).value, 'the previous count').toBe(0);
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0]).toBe(STATUS.SEMAPHORE_LIMIT_EXCEEDED);
    expect(bugcheck.detail).toMatch(/KeReleaseSemaphore on semaphore S would pass its limit/);
  });

  it('releasing a mutex the caller does not own raises STATUS_MUTANT_NOT_OWNED (0x1E)', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'mutex-not-owned',
        description: 'thread B releases the mutex thread A holds',
        memory: { Held: {} },
        mutexes: { M: {} },
        threads: { A: { routine: 'A', cpu: 0 }, B: { routine: 'B', cpu: 1 } },
        routines: {
          A: (a) => {
            wait(a, a.mutex('M'));
            a.store(a.var('Held'), 0, 1);
            a.work(100_000);
            a.ret(0);
          },
          B: (a) => {
            spinUntil(a, 'Held', 'wait');
            a.kcall('KeReleaseMutex', a.mutex('M'), 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0]).toBe(STATUS.MUTANT_NOT_OWNED);
    expect(bugcheck.cpu).toBe(1);
    expect(bugcheck.detail).toMatch(/mutex M, which thread B does not own/);
  });

  it('a thread that ends while owning a KMUTEX is bugcheck 0x46 THREAD_TERMINATE_HELD_MUTEX', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'exit-holding-mutex',
        description: 'a thread acquires a mutex and returns',
        mutexes: { M: {} },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            wait(a, a.mutex('M'));
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.THREAD_TERMINATE_HELD_MUTEX);
    expect(run.result.bugcheck?.detail).toMatch(/thread Main terminated while holding mutex M/);
  });

  it('a thread that ends owning a mutant abandons it: the next owner gets STATUS_ABANDONED_WAIT_0', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'abandoned-mutant',
        description: 'Owner takes a mutant and exits; Next waits for it',
        mutexes: { M: { kind: 'mutant' } },
        threads: { Owner: { routine: 'Owner', cpu: 0, priority: 10 }, Next: { routine: 'Next', cpu: 0, priority: 8 } },
        routines: {
          Owner: (a) => {
            wait(a, a.mutex('M'));
            a.ret(0);
          },
          Next: (a) => {
            wait(a, a.mutex('M'));
            a.trace(1, R0);
            a.kcall('KeReleaseMutant', a.mutex('M'), 0, 0, 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(STATUS.ABANDONED_WAIT_0);
  });

  it('waiting on a thread object returns when that thread terminates', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'wait-on-thread',
        description: 'Joiner waits for Worker to end',
        threads: { Worker: { routine: 'Worker', cpu: 1 }, Joiner: { routine: 'Joiner', cpu: 0 } },
        routines: {
          Worker: (a) => {
            a.work(50_000);
            a.trace(1);
            a.ret(0);
          },
          Joiner: (a) => {
            wait(a, a.thread('Worker'));
            a.trace(2, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    expect(run.first(2).value).toBe(0);
    expect(run.first(2).timeNs).toBeGreaterThan(run.first(1).timeNs);
  });

  it('a zero timeout polls: STATUS_TIMEOUT without blocking, and it is allowed at DISPATCH_LEVEL', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'poll',
        description: 'KeWaitForSingleObject with *Timeout == 0 at PASSIVE and at DISPATCH_LEVEL',
        memory: { Zero: { words: 2 } },
        events: { E: { type: 'notification' } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeWaitForSingleObject', a.event('E'), 0, 0, 0, a.var('Zero'));
            a.trace(1, R0);
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.kcall('KeWaitForSingleObject', a.event('E'), 0, 0, 0, a.var('Zero'));
            a.trace(2, R0);
            a.kcall('KeLowerIrql', 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, STATUS.TIMEOUT],
      [2, STATUS.TIMEOUT],
    ]);
    expect(run.result.threads[0]!.waits, 'never blocked').toBe(0);
  });

  it('a wait that may block inside a DPC is bugcheck 0xB8 ATTEMPTED_SWITCH_FROM_DPC naming both threads', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'wait-in-dpc',
        description: 'a DPC routine waits on an event',
        events: { E: { type: 'notification' } },
        dpcs: { D: { routine: 'Dpc' } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
            a.ret(0);
          },
          Dpc: (a) => {
            wait(a, a.event('E'));
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.ATTEMPTED_SWITCH_FROM_DPC);
    expect(bugcheck.irql).toBe(2);
    expect(bugcheck.detail).toMatch(/KeWaitForSingleObject was called from a DPC routine \(DPC routine Dpc\) on thread Main/);
    expect(bugcheck.faultingInstruction).toMatch(/^Dpc\+0x0: kcall KeWaitForSingleObject/);
  });

  it('a wait that may block at DISPATCH_LEVEL in a thread is bugcheck 0xA (verifier-strict policy)', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'wait-at-dispatch',
        description: 'a thread raises to DISPATCH_LEVEL and waits with no timeout',
        events: { E: { type: 'notification' } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrqlToDpcLevel');
            wait(a, a.event('E'));
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
    expect(run.result.bugcheck?.params[1]).toBe(2);
  });
});

describe('§4 scheduling (in process)', () => {
  it('KeSetEvent waking a higher-priority thread on the caller’s CPU preempts the caller inside the call; head and tail queueing (priority-preemption)', async () => {
    const run = await runInProcess(priorityPreemption, { cpus: 1 });
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results.story).toEqual([1, 10, 2, 3, 20, 3]);
  });

  it('waking a higher-priority thread whose affinity is another, busy CPU sends that CPU one IPI(DPC); it switches and the caller continues', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'remote-preempt',
        description: 'CPU 0 sets an event that wakes a priority-12 thread pinned to busy CPU 1',
        memory: { Stop: {} },
        events: { Go: { type: 'synchronization' } },
        threads: {
          Setter: { routine: 'Setter', cpu: 0, priority: 8 },
          Busy: { routine: 'Busy', cpu: 1, priority: 8 },
          Urgent: { routine: 'Urgent', cpu: 1, priority: 12 },
        },
        routines: {
          Setter: (a) => {
            a.work(20_000);
            a.kcall('KeSetEvent', a.event('Go'), 0, 0);
            a.trace(1);
            a.ret(0);
          },
          Busy: (a) => {
            a.label('loop');
            a.work(200);
            a.trace(3);
            a.load(R1, a.var('Stop'));
            a.beqz(R1, 'loop');
            a.ret(0);
          },
          Urgent: (a) => {
            wait(a, a.event('Go'));
            a.trace(2);
            a.store(a.var('Stop'), 0, 1);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.result.perCpu[0]!.ipisSent, 'exactly one IPI, from the setter').toBe(1);
    expect(run.result.perCpu[1]!.ipisReceived).toBe(1);
    expect(run.first(2).cpu, 'Urgent ran on CPU 1').toBe(1);
    expect(run.first(1).cpu, 'the setter continued on CPU 0').toBe(0);
    const busy = run.result.threads.find((t) => t.name === 'Busy')!;
    expect(busy.ranOn).toEqual([1]);
    const traces = run.tags(1);
    expect(traces.indexOf(2), 'CPU 1 switched to Urgent while Busy still ran').toBeGreaterThan(0);
    expect(traces.slice(traces.indexOf(2) + 1).includes(3), 'Busy resumed after Urgent').toBe(true);
  });

  it('a thread readied at the same priority as the running one does not preempt it: it waits for the quantum end (round robin)', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'equal-priority',
        description: 'an equal-priority thread is readied on a busy CPU',
        machine: { clockIntervalMs: 1 },
        memory: { Turns: { words: 8 }, Next: {} },
        events: { Go: { type: 'synchronization' } },
        threads: { Runner: { routine: 'Runner', cpu: 0 }, Woken: { routine: 'Woken', cpu: 0 } },
        routines: {
          Runner: (a) => {
            a.kcall('KeSetEvent', a.event('Go'), 0, 0);
            a.trace(1);
            a.movi(R5, 0);
            a.label('loop');
            a.work(100_000);
            a.trace(2);
            a.add(R5, R5, 1);
            a.blt(R5, 50, 'loop');
            a.ret(0);
          },
          Woken: (a) => {
            wait(a, a.event('Go'));
            a.trace(3);
            a.movi(R5, 0);
            a.label('loop');
            a.work(100_000);
            a.trace(4);
            a.add(R5, R5, 1);
            a.blt(R5, 50, 'loop');
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 20 },
    );
    const tags = run.tags(0);
    expect(tags.indexOf(1), 'KeSetEvent returned to Runner first').toBeLessThan(tags.indexOf(3));
    // 6 quantum units, 3 per 1 ms tick: each thread runs ~2 ms (~20 iterations) before the other gets its turn
    const firstTurn = tags.indexOf(3);
    const runnerBefore = tags.slice(0, firstTurn).filter((t) => t === 2).length;
    expect(runnerBefore).toBeGreaterThanOrEqual(10);
    expect(runnerBefore).toBeLessThanOrEqual(25);
    const switches = tags.filter((t, i) => i > 0 && (t === 2 || t === 4) && (tags[i - 1] === 2 || tags[i - 1] === 4) && t !== tags[i - 1]).length;
    expect(switches, 'they alternate at quantum ends').toBeGreaterThanOrEqual(3);
  });

  it('ZwYieldExecution gives the CPU to a ready thread and goes to the tail; with nothing ready it returns STATUS_NO_YIELD_PERFORMED', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'yield',
        description: 'two equal-priority threads yield to each other; then one yields alone',
        threads: { A: { routine: 'A', cpu: 0 }, B: { routine: 'B', cpu: 0 } },
        routines: {
          A: (a) => {
            a.movi(R5, 0);
            a.label('loop');
            a.trace(1, 1);
            a.kcall('ZwYieldExecution');
            a.trace(3, R0);
            a.add(R5, R5, 1);
            a.blt(R5, 3, 'loop');
            wait(a, a.thread('B'));
            a.kcall('ZwYieldExecution');
            a.trace(4, R0);
            a.ret(0);
          },
          B: (a) => {
            a.movi(R5, 0);
            a.label('loop');
            a.trace(1, 2);
            a.kcall('ZwYieldExecution');
            a.add(R5, R5, 1);
            a.blt(R5, 3, 'loop');
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.all(1).map((e) => e.value)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(run.all(3).map((e) => e.value >>> 0)).toEqual([STATUS.SUCCESS, STATUS.SUCCESS, STATUS.SUCCESS]);
    expect(run.first(4).value >>> 0, 'alone on the CPU').toBe(STATUS.NO_YIELD_PERFORMED);
  });

  it('a thread migrates: blocked on one CPU, woken while that CPU is busy, it resumes on an idle CPU with its registers intact', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'migration',
        description: 'Traveller waits on CPU 0; a higher-priority thread takes CPU 0; Traveller resumes on idle CPU 1',
        memory: { Hog: {} },
        events: { Go: { type: 'synchronization' } },
        threads: {
          Traveller: { routine: 'Traveller', idealProcessor: 0, priority: 8 },
          Hog: { routine: 'Hog', cpu: 0, priority: 15, start: 'created' },
          Waker: { routine: 'Waker', cpu: 2, priority: 8 },
        },
        routines: {
          Traveller: (a) => {
            a.movi(R5, 1234);
            a.movi(R6, -77);
            a.kcall('KeGetCurrentProcessorNumber');
            a.trace(1, R0);
            wait(a, a.event('Go'));
            a.kcall('KeGetCurrentProcessorNumber');
            a.trace(2, R0);
            a.trace(3, R5);
            a.trace(4, R6);
            a.store(a.var('Hog'), 0, 1);
            a.ret(0);
          },
          Hog: (a) => {
            spinUntil(a, 'Hog', 'spin');
            a.ret(0);
          },
          Waker: (a) => {
            a.work(20_000);
            a.kcall('PsCreateSystemThread', a.thread('Hog'), 0);
            a.work(20_000);
            a.kcall('KeSetEvent', a.event('Go'), 0, 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 3, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value, 'started on its ideal CPU 0').toBe(0);
    expect(run.first(2).value, 'resumed on idle CPU 1').toBe(1);
    expect(run.first(3).value).toBe(1234);
    expect(run.first(4).value).toBe(-77);
    expect(run.result.threads.find((t) => t.name === 'Traveller')!.ranOn).toEqual([0, 1]);
  });

  it('an idle CPU takes a ready thread queued behind a busy CPU (idle-time stealing) before it halts', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'stealing',
        description: 'three threads on CPU 0’s list; CPU 1 finishes its thread and steals',
        memory: { Done: {} },
        threads: {
          Short: { routine: 'Short', cpu: 1 },
          First: { routine: 'Work', idealProcessor: 0, args: [1] },
          Second: { routine: 'Work', idealProcessor: 0, args: [2] },
          Third: { routine: 'Work', idealProcessor: 0, args: [3] },
        },
        routines: {
          Short: (a) => {
            a.work(1_000_000);
            a.ret(0);
          },
          Work: (a) => {
            a.kcall('KeGetCurrentProcessorNumber');
            a.trace(1, R0);
            a.work(5_000_000);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 20 },
    );
    expect(run.result.bugcheck).toBeNull();
    const cpusRun = run.result.threads.filter((t) => t.name !== 'Short').map((t) => t.ranOn);
    expect(
      cpusRun.some((cpus) => cpus.includes(1)),
      `some thread ran on CPU 1: ${JSON.stringify(cpusRun)}`,
    ).toBe(true);
    expect(run.result.perCpu[1]!.contextSwitches).toBeGreaterThanOrEqual(2);
  });

  it('scheduler-mix: every item processed once, hard affinity kept, everything finished', async () => {
    const run = await runInProcess(schedulerMix, { cpus: 4 });
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.threads.filter((t) => t.ranOn.length > 1).length, 'threads migrate').toBeGreaterThan(0);
  });
});
