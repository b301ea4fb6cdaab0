// nt-semantics.md §3 (time, timers), §2.9 (the DPC watchdog), §1.5 (paged memory) and §4.12
// (delays) in process (deterministic mode), with the source articles' scenarios and their exact outcomes.
import { describe, expect, it } from 'vitest';
import { defineScenario, relativeTime, largeInteger } from '../../src/scenario/define.js';
import { R0, R1, R2 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { STATUS } from '../../src/kernel/status.js';
import { BOOT_SYSTEM_TIME } from '../../src/kernel/timer.js';
import { threadAddress } from '../../src/cpu/processor.js';
import periodicDpcTimer from '../../src/scenarios/periodic-dpc-timer.js';
import irqlTest from '../../src/scenarios/irql-test.js';
import pagedAtDispatch from '../../src/scenarios/paged-at-dispatch.js';
import dpcWatchdog from '../../src/scenarios/dpc-watchdog.js';
import { runInProcess } from '../smp/harness.js';

const TICK_NS = 15_625_000;

describe('the seeds’ scenarios, deterministic mode', () => {
  it('periodic-dpc-timer: the DPC fires at exactly 3, 6 and 9 s; DriverUnload’s KeCancelTimer returns TRUE and nothing fires after it', async () => {
    const run = await runInProcess(periodicDpcTimer, { cpus: 2 });
    expect(run.result.bugcheck).toBeNull();
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results).toEqual({ firingsMs: [3000, 6000, 9000], unloadMs: 10500, cancelReturned: 1 });
    expect(run.result.emulatedTimeNs).toBe(20e9);
    // each firing's KeQueryTickCount: 3 s is tick 192 at 15.625 ms
    expect(run.all(1).map((e) => e.value)).toEqual([192, 384, 576]);
    // three firings and the loader's 10.5 s KeDelayExecutionThread timeout; the cancelled timer is not left set
    expect(run.result.timers).toEqual({ expired: 4, armedAtEnd: 0 });
  });

  it('irql-test: ten seconds after the read, the timer’s DPC calls KeDelayExecutionThread: 0xB8 on CPU 0 at DISPATCH_LEVEL, with the story in its timeline', async () => {
    const run = await runInProcess(irqlTest, { cpus: 2 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.ATTEMPTED_SWITCH_FROM_DPC);
    expect(bugcheck.cpu).toBe(0);
    expect(bugcheck.irql).toBe(2);
    // the DPC ran on CPU 0's idle thread (the application thread was waiting for its read)
    expect(bugcheck.params).toEqual([threadAddress(1), threadAddress(1), 0x6000, 0]);
    expect(bugcheck.routine).toBe('KeDelayExecutionThread');
    expect(bugcheck.frames.map((f) => `${f.kind} ${f.routine}`)).toEqual([
      'idle KiIdleLoop',
      'dispatch KiDispatchInterrupt',
      'dpc DpcRoutine',
      'kernel KeDelayExecutionThread',
    ]);
    expect(bugcheck.emulatedTimeNs).toBeGreaterThanOrEqual(10e9);
    expect(bugcheck.emulatedTimeNs).toBeLessThan(10e9 + TICK_NS);
    const timeline = bugcheck.cpus.find((c) => c.cpu === 0)!.lastEvents.map((e) => `${e.event} ${e.detail}`);
    const at = (pattern: RegExp): number => timeline.findIndex((line) => pattern.test(line));
    const order = [
      /^trace ReadFile/,
      /^dispatcher KeSetTimer/,
      /^switch ConsoleApplication1 → Idle#0/,
      /^timer expired: its DPC Dpc/,
      /^dpc-start Dpc → DpcRoutine/,
      /^trace DpcRoutine/,
      /^bugcheck ATTEMPTED_SWITCH_FROM_DPC/,
    ];
    const positions = order.map(at);
    expect(
      positions.every((p) => p >= 0),
      timeline.join('\n'),
    ).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    const app = run.result.threads.find((t) => t.name === 'ConsoleApplication1')!;
    expect(app.state).toBe('Waiting');
  });

  it('paged-at-dispatch: the PASSIVE touch waits for the page-in and continues; the same touch under a spin lock is 0xD1 with P2 = 2', async () => {
    const run = await runInProcess(pagedAtDispatch, { cpus: 1 });
    expect(run.first(1).value, 'LookupEntry(0) read the table after the page-in').toBe(1000);
    expect(run.first(1).timeNs, 'it waited a clock tick for the disk (5 ms, on the next tick)').toBeGreaterThanOrEqual(TICK_NS);
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL);
    expect(bugcheck.params[0], 'the last entry: the second page of LookupTable').toBe(0x2000 + 2047 * 4);
    expect(bugcheck.params.slice(1, 3)).toEqual([2, 0]);
    expect(bugcheck.faultingInstruction).toMatch(/^LookupEntry\+0x[0-9a-f]+: load r0, \[r2\]/);
    expect(bugcheck.detail).toMatch(/touched pageable memory LookupTable\+8188 \(0x3ffc\) \(read\) that is not resident, at DISPATCH_LEVEL/);
  });

  it('dpc-watchdog: a DPC running past DpcTimeLimit ticks is 0x133 with P1 = 0, P2 = the ticks, P3 = the limit', async () => {
    const run = await runInProcess(dpcWatchdog, { cpus: 2 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.DPC_WATCHDOG_VIOLATION);
    expect(bugcheck.params).toEqual([0, 17, 16, 0]);
    expect(bugcheck.cpu).toBe(1);
    expect(bugcheck.detail).toMatch(/DPC routine PollDevice on CPU 1 has run for 17 clock ticks; its allotment \(DpcTimeLimit\) is 16/);
  });
});

describe('§3 time and §2.9 watchdogs on real workers', () => {
  it('a CPU that stays at DISPATCH_LEVEL past the watchdog period is 0x133 with P1 = 1', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'cumulative-watchdog',
        description: 'a thread raises to DISPATCH_LEVEL and never comes down',
        machine: { clockIntervalMs: 1, dpcWatchdogPeriodTicks: 20 },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.label('forever');
            a.work(10_000);
            a.jmp('forever');
          },
        },
      }),
      { cpus: 1, durationMs: 100 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.DPC_WATCHDOG_VIOLATION);
    expect(bugcheck.params).toEqual([1, 20, 0, 0]);
    expect(bugcheck.emulatedTimeNs).toBe(21e6);
  });

  it('a wait with a relative timeout ends with STATUS_TIMEOUT on the tick it is due; KeDelayExecutionThread resumes with STATUS_SUCCESS', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'timeouts',
        description: 'a 30 ms wait timeout, then a 20 ms delay',
        machine: { clockIntervalMs: 1 },
        memory: { Thirty: { words: 2, init: relativeTime(30) }, Twenty: { words: 2, init: relativeTime(20) } },
        events: { Never: { type: 'notification' } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeWaitForSingleObject', a.event('Never'), 0, 0, 0, a.var('Thirty'));
            a.trace(1, R0);
            a.kcall('KeDelayExecutionThread', 0, 0, a.var('Twenty'));
            a.trace(2, R0);
            a.kcall('KeQueryTickCount');
            a.trace(3, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 100 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(STATUS.TIMEOUT);
    expect(Math.floor(run.first(1).timeNs / 1e6), 'woken on the 30 ms tick').toBe(30);
    expect(run.first(2).value).toBe(STATUS.SUCCESS);
    expect(Math.floor(run.first(2).timeNs / 1e6)).toBe(50);
    expect(run.first(3).value).toBe(50);
    const main = run.result.threads[0]!;
    expect(main.waits).toBe(2);
    expect(main.waitReason).toBe('DelayExecution');
  });

  it('waiting on a synchronization timer releases one waiter per expiry; KeSetTimer in the past expires at once and queues the DPC', async () => {
    const waiters = Object.fromEntries([1, 2, 3].map((i) => [`W${i}`, { routine: 'Waiter', args: [i], cpu: 0, priority: 10 }]));
    const run = await runInProcess(
      defineScenario({
        name: 'sync-timer',
        description: 'three waiters on a periodic synchronization timer',
        machine: { clockIntervalMs: 1 },
        memory: { Ten: { words: 2, init: relativeTime(10) }, Past: { words: 2, init: largeInteger(1) } },
        timers: { Tick: { type: 'synchronization' }, Now: {} },
        dpcs: { NowDpc: { routine: 'NowDpc' } },
        threads: { ...waiters, Setter: { routine: 'Setter', cpu: 0, priority: 8 } },
        routines: {
          Waiter: (a) => {
            a.kcall('KeWaitForSingleObject', a.timer('Tick'), 0, 0, 0, 0);
            a.kcall('KeQueryTickCount');
            a.trace(1, R0);
            a.ret(0);
          },
          Setter: (a) => {
            a.kcall('KeSetTimerEx', a.timer('Tick'), a.var('Ten'), 10, 0);
            a.trace(2, R0);
            a.kcall('KeSetTimer', a.timer('Now'), a.var('Past'), a.dpc('NowDpc'));
            a.trace(3, R0);
            a.kcall('KeReadStateTimer', a.timer('Now'));
            a.trace(4, R0);
            a.ret(0);
          },
          NowDpc: (a) => {
            a.trace(5);
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 60 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(
      run.all(1).map((e) => e.value),
      'one waiter per period',
    ).toEqual([10, 20, 30]);
    // KeSetTimer with a due time in the past: returns FALSE (it was not set), its DPC (a local Medium
    // DPC) runs as the call lowers the IRQL, and the timer is signaled
    expect(run.events.map((e) => [e.tag, e.value]).slice(0, 4)).toEqual([
      [2, 0],
      [5, 0],
      [3, 0],
      [4, 1],
    ]);
  });

  it('idle CPUs take no clock ticks; a busy one takes all of them', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'tick-skipping',
        description: 'one busy thread on CPU 2 of 4',
        threads: { Busy: { routine: 'Busy', cpu: 2 } },
        routines: {
          Busy: (a) => {
            a.label('loop');
            a.work(100_000);
            a.jmp('loop');
          },
        },
      }),
      { cpus: 4, durationMs: 100 },
    );
    expect(run.result.perCpu.map((c) => c.clockTicks)).toEqual([0, 0, 6, 0]);
    expect(run.result.perCpu[2]!.interruptsByVector).toEqual({ '0xd2': 6 });
  });

  it('KeQuerySystemTime reads boot time plus interrupt time; KeSetSystemTime moves it (and fires absolute timers now due)', async () => {
    const hour = 36_000_000_000;
    const run = await runInProcess(
      defineScenario({
        name: 'system-time',
        description: 'read the system time, set it an hour ahead, read it again',
        machine: { clockIntervalMs: 1 },
        memory: {
          Now: { words: 2 },
          Later: { words: 2, init: largeInteger(BOOT_SYSTEM_TIME + hour) },
          HalfHour: { words: 2, init: largeInteger(BOOT_SYSTEM_TIME + hour / 2) },
          Relative: { words: 2, init: relativeTime(30) },
        },
        timers: { Absolute: {}, RelativeTimer: {} },
        dpcs: { AbsoluteDpc: { routine: 'Fired', context: 1 }, RelativeDpc: { routine: 'Fired', context: 2 } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeSetTimer', a.timer('Absolute'), a.var('HalfHour'), a.dpc('AbsoluteDpc'));
            a.kcall('KeSetTimer', a.timer('RelativeTimer'), a.var('Relative'), a.dpc('RelativeDpc'));
            a.kcall('KeDelayExecutionThread', 0, 0, a.var('Relative'));
            a.kcall('KeQuerySystemTime', a.var('Now'));
            a.load(R1, a.var('Now'));
            a.trace(1, R1);
            a.kcall('KeSetSystemTime', a.var('Later'));
            a.kcall('KeQuerySystemTime', a.var('Now'));
            a.load(R1, a.var('Now'));
            a.trace(2, R1);
            a.ret(0);
          },
          Fired: (a) => {
            a.kcall('KeQueryTickCount');
            a.trace(10, R0);
            a.trace(11, R2);
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 100 },
    );
    expect(run.result.bugcheck).toBeNull();
    // 30 ms after boot (1 ms ticks): boot time + 300,000 × 100 ns
    expect(run.first(1).value).toBe(largeInteger(BOOT_SYSTEM_TIME + 300_000)[0]);
    expect(run.first(2).value).toBe(largeInteger(BOOT_SYSTEM_TIME + hour)[0]);
    const fired = run.all(11).map((e) => e.value);
    expect(fired, 'the relative timer at its tick, then the absolute one once the clock jumped past it').toEqual([2, 1]);
    expect(run.all(10).map((e) => e.value)).toEqual([30, 31]);
  });
});

void R1;
