// Timers and the clock (nt-semantics.md §3), wait timeouts (§4.11), KeDelayExecutionThread (§4.12)
// and page-fault waits, in-process and deterministic, on the KernelMachine of kernel-machine.ts
// (emulated time is its `nowNs`; interrupt time is tick-granular; each expiration outcome's dpcs
// are the KDPCs to run, in order, with SystemArgument = outcome.systemTime).
import { describe, expect, it } from 'vitest';
import { ResumeAction, ThreadState } from '../../src/kernel/thread.js';
import { BOOT_SYSTEM_TIME } from '../../src/kernel/timer.js';
import { STATUS, WaitReason, WaitType } from '../../src/kernel/status.js';
import { CALL_PC, CLOCK_NS, DISPATCH_LEVEL, KernelMachine } from './kernel-machine.js';
import type { MachineSpec } from './kernel-machine.js';

/** 100 ns units */
const MS = 10_000;
const SECOND = 10_000_000;
const HOUR = 3600 * SECOND;

/** every timer test expects its operations to end without a bugcheck */
class Machine extends KernelMachine {
  constructor(spec: MachineSpec) {
    super({ failOnBugcheck: true, ...spec });
  }
}

const S = ThreadState;
/** 1 s relative, as a LARGE_INTEGER */
const ONE_SECOND = -SECOND;
/** one 64 Hz tick, relative */
const ONE_TICK = -CLOCK_NS / 100;

// -------------------------------------------------------------------------------------------------
// §3.3 due times, §3.4 the timer table, §3.6 expiration order and batches
// -------------------------------------------------------------------------------------------------

describe('§3.3 due times', () => {
  it('a relative due time of 1 s on a 15.625 ms clock is due ⌈1 s / 15.625 ms⌉ = 64 ticks (± 1) after the insert tick: timerDue false the tick before, true at it; nextTimerTickNs names that tick', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    m.at(3, 7_000_000); // mid-tick: interrupt time is still tick 3's
    const insertTick = m.tick;
    expect(m.setTimer(0, 'T', ONE_SECOND, 0, 5).status).toBe(0);
    const due = m.firstDueTick(insertTick, insertTick + 100);
    expect(due - insertTick).toBeGreaterThanOrEqual(63);
    expect(due - insertTick).toBeLessThanOrEqual(65);
    expect(m.db.timerDue(m.tickNs(due - 1))).toBe(false);
    expect(m.db.timerDue(m.tickNs(due))).toBe(true);
    expect(m.db.nextTimerTickNs()).toBe(m.tickNs(due));
    // the expiration one tick early finds nothing; at the due tick it runs the DPC
    expect(m.clock(due - 1)).toEqual([]);
    m.at(due - 1);
    const early = m.expire();
    expect(early.map((o) => [o.status, o.dpcs])).toEqual([[1, []]]);
    expect(m.timer('T').signalState).toBe(0);
    expect(m.clock(due)).toEqual([5]);
    expect(m.timer('T').signalState).toBe(1);
    expect(m.db.nextTimerTickNs()).toBe(Infinity);
  });

  it('an absolute due time in the past (or zero) expires inside KeSetTimer: signaled, waiters released, DPC handed out, and it returns the OLD inserted state', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'W', priority: 8 },
      ],
      timers: [{ name: 'T' }],
    });
    m.start();
    expect(m.running()).toEqual(['A']);
    m.at(10);
    // zero: "already in the past"; the timer was not set before → FALSE
    const zero = m.setTimer(0, 'T', 0, 0, 3);
    expect(zero.status).toBe(0);
    expect(zero.dpcs).toEqual([3]);
    expect(zero.systemTime).toBe(m.db.systemTime(m.nowNs));
    expect(m.timer('T').inserted).toBe(false);
    expect(m.readState(0, 'T')).toBe(1);

    // set again for 1 s (clears the signal), a waiter blocks on it; then a past absolute time
    expect(m.setTimer(0, 'T', ONE_SECOND, 0, 3).status).toBe(0);
    expect(m.readState(0, 'T')).toBe(0);
    m.wait(0, ['T']); // A blocks, W runs
    expect(m.running()).toEqual(['W']);
    m.at(12);
    const past = m.setTimer(0, 'T', m.db.systemTime(m.nowNs) - 1, 0, 4);
    expect(past.status).toBe(1); // it was still set
    expect(past.dpcs).toEqual([4]);
    expect(m.timer('T').inserted).toBe(false);
    expect(m.readState(0, 'T')).toBe(1);
    expect(m.t('A').state).toBe(S.Ready); // released before KeSetTimer returned
    expect(m.t('A').resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(m.db.timerTable.size).toBe(0);
    // the old 1 s due time is gone: nothing expires later
    expect(m.ticks(13, 100)).toEqual([]);
  });

  it('KeSetTimer returns whether the timer was already set; setting it again replaces the old due time (one expiry, at the new one)', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    expect(m.setTimer(0, 'T', ONE_SECOND, 0, 1).status).toBe(0);
    m.at(10);
    expect(m.setTimer(0, 'T', 2 * ONE_SECOND, 0, 2).status).toBe(1);
    expect(m.db.timerTable.size).toBe(1);
    const ran = m.ticks(11, 200);
    expect(ran.map(([, dpc]) => dpc)).toEqual([2]);
    expect(ran[0]![0] - 10).toBeGreaterThanOrEqual(127);
    expect(ran[0]![0] - 10).toBeLessThanOrEqual(129);
    // expired: no longer set
    expect(m.setTimer(0, 'T', ONE_SECOND, 0, 1).status).toBe(0);
  });

  it('an absolute due time in the future fires on the first tick at or after it', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    m.at(2);
    // 100 ms after tick 2's system time: 2 + 6.4 ticks → tick 9
    expect(m.setTimer(0, 'T', m.db.systemTime(m.nowNs) + 100 * MS, 0, 1).status).toBe(0);
    expect(m.timer('T').absolute).toBe(true);
    const ran = m.ticks(3, 50);
    expect(ran).toEqual([[9, 1]]);
    expect(m.db.systemTime(m.tickNs(9))).toBeGreaterThanOrEqual(BOOT_SYSTEM_TIME + m.tickNs(2) / 100 + 100 * MS);
  });
});

describe('§3.4/§3.6 expiration order and batches', () => {
  it('two timers with the same due time expire in insertion order, their DPCs in that order', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T1' }, { name: 'T2' }, { name: 'T3' }] });
    m.start();
    m.setTimer(0, 'T2', ONE_SECOND, 0, 20);
    m.setTimer(0, 'T3', ONE_SECOND, 0, 30);
    m.setTimer(0, 'T1', ONE_SECOND, 0, 10);
    expect(m.ticks(1, 100).map(([, dpc]) => dpc)).toEqual([20, 30, 10]);
  });

  it('earlier due times expire first, across buckets and within one, whatever the insertion order', () => {
    const m = new Machine({
      cpus: 1,
      threads: [{ name: 'A', priority: 8 }],
      timers: [{ name: 'Late' }, { name: 'Mid' }, { name: 'Early' }, { name: 'EarlyB' }],
    });
    m.start();
    m.setTimer(0, 'Late', 6 * ONE_TICK, 0, 6); // bucket 6
    m.setTimer(0, 'Mid', 4 * ONE_TICK - 100, 0, 4); // bucket 4, late in its tick
    m.setTimer(0, 'EarlyB', 4 * ONE_TICK, 0, 40); // bucket 4, at its start: ahead of Mid
    m.setTimer(0, 'Early', 2 * ONE_TICK, 0, 2); // bucket 2
    // the clock owner was busy: the first expiration pass is at tick 8, all four are due
    m.at(8);
    const dpcs = m.expire().flatMap((o) => o.dpcs);
    expect(dpcs).toEqual([2, 40, 4, 6]);
  });

  it('expiry runs in batches of at most 4: with 6 timers due at once the first call hands out 4 DPCs (status 0), the second 2 (status 1)', () => {
    const names = ['T0', 'T1', 'T2', 'T3', 'T4', 'T5'];
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: names.map((name) => ({ name })) });
    m.start();
    names.forEach((name, i) => void m.setTimer(0, name, 5 * ONE_TICK, 0, i));
    expect(m.db.timerTable.size).toBe(6);
    expect(m.firstDueTick(1, 10)).toBe(5);
    m.at(5);
    const outcomes = m.expire();
    expect(outcomes.map((o) => [o.status, o.dpcs])).toEqual([
      [0, [0, 1, 2, 3]],
      [1, [4, 5]],
    ]);
    expect(m.db.timerTable.size).toBe(0);
    expect(names.map((n) => m.timer(n).signalState)).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

// -------------------------------------------------------------------------------------------------
// §3.6/§3.7 periodic timers, KeCancelTimer, KeInitializeTimer
// -------------------------------------------------------------------------------------------------

describe('§3.6/§3.7 periodic timers and KeCancelTimer', () => {
  // A 1 ms clock (§3.1: the minimum increment of older HALs), so that 50 ms is a whole number of
  // ticks; see the report on the 64 Hz clock.
  const FINE = 1_000_000;

  it('a periodic timer (Period 50 ms) re-arms Period × 10 000 from its expiry; after N ms it has fired ⌊N/50⌋ ± 1 times', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'P' }], clockIntervalNs: FINE });
    m.start();
    expect(m.setTimer(0, 'P', -50 * MS, 50, 9).status).toBe(0);
    const first = m.firstDueTick(0, 100);
    expect(m.clock(first)).toEqual([9]);
    // re-armed before the DPC was handed out, from the expiry time
    const p = m.timer('P');
    expect(p.inserted).toBe(true);
    expect(p.dueTime).toBe(m.db.interruptTime(m.tickNs(first)) + 50 * MS);
    const N = 1000; // ms = ticks
    const ran = m.ticks(first + 1, N);
    const fired = 1 + ran.length;
    expect(fired).toBeGreaterThanOrEqual(Math.floor(N / 50) - 1);
    expect(fired).toBeLessThanOrEqual(Math.floor(N / 50) + 1);
    expect(new Set(ran.map(([, dpc]) => dpc))).toEqual(new Set([9]));
  });

  it("KeCancelTimer from the periodic timer's DPC finds it set (re-armed before the DPC) and stops further firings", () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'P' }], clockIntervalNs: FINE });
    m.start();
    m.setTimer(0, 'P', -50 * MS, 50, 9);
    const first = m.firstDueTick(1, 100);
    expect(m.ticks(1, first)).toEqual([[first, 9]]);
    const second = m.firstDueTick(first + 1, first + 100);
    expect(m.ticks(first + 1, second - 1)).toEqual([]);
    m.at(second);
    const outcomes = m.expire();
    expect(outcomes.flatMap((o) => o.dpcs)).toEqual([9]);
    // its DPC routine, on CPU 0 at DISPATCH_LEVEL: KeCancelTimer on its own timer
    expect(m.cancelTimer(0, 'P', { oldIrql: DISPATCH_LEVEL, dpcActive: true }).status).toBe(1);
    expect(m.timer('P').inserted).toBe(false);
    expect(m.db.nextTimerTickNs()).toBe(Infinity);
    expect(m.ticks(second + 1, second + 500)).toEqual([]);
    expect(m.cancelTimer(0, 'P').status).toBe(0);
  });

  it('KeCancelTimer returns whether the timer was set and leaves its signal state alone', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }, { name: 'P' }] });
    m.start();
    expect(m.cancelTimer(0, 'T').status).toBe(0); // never set
    m.setTimer(0, 'T', ONE_SECOND, 0, 1);
    expect(m.cancelTimer(0, 'T').status).toBe(1);
    expect(m.timer('T').inserted).toBe(false);
    expect(m.readState(0, 'T')).toBe(0);
    expect(m.ticks(1, 100)).toEqual([]); // cancelled: never expires
    expect(m.cancelTimer(0, 'T').status).toBe(0);
    // a periodic timer after an expiry is both signaled and set: cancel unsets it, the signal stays
    m.at(100);
    m.setTimer(0, 'P', ONE_TICK, 100, 2);
    expect(m.clock(101)).toEqual([2]);
    expect(m.timer('P').inserted).toBe(true);
    expect(m.cancelTimer(0, 'P').status).toBe(1);
    expect(m.readState(0, 'P')).toBe(1);
  });

  it('a DPC already handed out is not taken back: KeCancelTimer after the expiry returns FALSE, the outcome still lists the DPC, the timer stays signaled', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    m.setTimer(0, 'T', 3 * ONE_TICK, 0, 7);
    m.at(3);
    const outcomes = m.expire();
    expect(m.cancelTimer(0, 'T').status).toBe(0);
    expect(outcomes.flatMap((o) => o.dpcs)).toEqual([7]);
    expect(m.readState(0, 'T')).toBe(1);
  });

  it('KeInitializeTimer: not signaled, not inserted, of the type asked; an inserted timer is removed', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    m.setTimer(0, 'T', 0, 0, 1); // signaled
    m.setTimer(0, 'T', ONE_SECOND, 50, 1);
    m.initializeTimer(0, 'T', true);
    const t = m.timer('T');
    expect([t.synchronization, t.signalState, t.inserted, t.period, t.dpc]).toEqual([true, 0, false, 0, -1]);
    expect(m.db.timerTable.size).toBe(0);
    expect(m.ticks(1, 100)).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------
// §3.6/§3.7 waiters of timers
// -------------------------------------------------------------------------------------------------

describe('§3.6/§3.7 waiting on timers', () => {
  /** One CPU: A, B, C wait (WaitAny) on timer T in that order; S is left running. */
  function threeWaiters(sync: boolean): Machine {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      timers: [{ name: 'T', sync }],
    });
    m.start();
    m.wait(0, ['T']);
    m.wait(0, ['T']);
    m.wait(0, ['T']);
    expect(m.running()).toEqual(['S']);
    expect(m.waiters('T')).toEqual(['A', 'B', 'C']);
    return m;
  }

  it('a synchronization timer with 3 WaitAny waiters releases exactly one per expiry, in FIFO order, and is reset', () => {
    const m = threeWaiters(true);
    const released: string[][] = [];
    for (let k = 0; k < 3; k++) {
      m.setTimer(0, 'T', ONE_TICK, 0, -1);
      m.clock(m.tick + 1);
      released.push(['A', 'B', 'C'].filter((n) => m.t(n).state !== S.Waiting));
      expect(m.timer('T').signalState).toBe(0);
    }
    expect(released).toEqual([['A'], ['A', 'B'], ['A', 'B', 'C']]);
    for (const n of ['A', 'B', 'C']) expect(m.t(n).resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(m.readState(0, 'T')).toBe(0);
  });

  it('a notification timer releases all three waiters at one expiry and stays signaled (KeReadStateTimer = 1)', () => {
    const m = threeWaiters(false);
    m.setTimer(0, 'T', ONE_TICK, 0, -1);
    m.clock(1);
    expect(m.waiters('T')).toEqual([]);
    expect(['A', 'B', 'C'].map((n) => m.t(n).resume)).toEqual([
      { action: ResumeAction.SetResult, value: STATUS.WAIT_0 },
      { action: ResumeAction.SetResult, value: STATUS.WAIT_0 },
      { action: ResumeAction.SetResult, value: STATUS.WAIT_0 },
    ]);
    expect(m.readyList(0, 8)).toEqual(['A', 'B', 'C']);
    expect(m.readState(0, 'T')).toBe(1);
    // a later wait is satisfied at once
    expect(m.wait(0, ['T']).switchTo).toBeNull();
  });

  it('a synchronization timer that expires with no waiter stays signaled until one wait consumes it', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      timers: [{ name: 'T', sync: true }],
    });
    m.start();
    m.setTimer(0, 'T', ONE_TICK, 0, -1);
    m.clock(1);
    expect(m.readState(0, 'T')).toBe(1);
    const first = m.wait(0, ['T']);
    expect(first.status).toBe(STATUS.WAIT_0);
    expect(first.switchTo).toBeNull();
    expect(m.readState(0, 'T')).toBe(0);
    expect(m.wait(0, ['T']).switchTo?.name).toBe('S'); // the second wait blocks
  });

  it("waiters are released before the timer's DPC runs: the expiration outcome that hands out the DPC already made the waiter Standby and IPIs its CPU", () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'S', priority: 8, ideal: 0 },
        { name: 'W', priority: 8, ideal: 1, affinity: [1] },
      ],
      timers: [{ name: 'T' }],
    });
    m.start();
    expect(m.running()).toEqual(['S', 'W']);
    m.wait(1, ['T']);
    expect(m.running()).toEqual(['S', 'Idle#1']);
    m.setTimer(0, 'T', 2 * ONE_TICK, 0, 11);
    m.at(2);
    const [outcome] = m.expire();
    expect(outcome!.dpcs).toEqual([11]);
    expect(outcome!.ipiTargets).toEqual([1]);
    expect(m.t('W').state).toBe(S.Standby);
    expect(m.db.prcb(1).nextThread?.name).toBe('W');
    expect(m.t('W').resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('W');
  });
});

// -------------------------------------------------------------------------------------------------
// §4.11 wait timeouts
// -------------------------------------------------------------------------------------------------

describe('§4.11 wait timeouts', () => {
  function waiterMachine(): Machine {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    return m;
  }

  it('a wait with a relative timeout that is not satisfied blocks and ends with STATUS_TIMEOUT at its due tick', () => {
    const m = waiterMachine();
    m.at(5, 3_000_000);
    const out = m.wait(0, ['E'], { timeout: ONE_SECOND });
    expect(out.switchTo?.name).toBe('S');
    const a = m.t('A');
    expect(a.state).toBe(S.Waiting);
    expect(a.timer.inserted).toBe(true);
    expect(m.db.timerTable.size).toBe(1);
    const due = m.firstDueTick(6, 200);
    expect(due - 5).toBeGreaterThanOrEqual(63);
    expect(due - 5).toBeLessThanOrEqual(65);
    expect(m.db.nextTimerTickNs()).toBe(m.tickNs(due));
    expect(m.ticks(6, due - 1)).toEqual([]);
    expect(a.state).toBe(S.Waiting);
    const dpcs = m.clock(due); // a thread's timeout has no DPC
    expect(dpcs).toEqual([]);
    expect(a.state).toBe(S.Ready);
    expect(a.waitStatus).toBe(STATUS.TIMEOUT);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.TIMEOUT });
    expect(m.waiters('E')).toEqual([]);
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a wait satisfied before its due time removes its timeout timer: the table shrinks and no later expiry touches the thread', () => {
    const m = waiterMachine();
    m.wait(0, ['E'], { timeout: ONE_SECOND });
    expect(m.db.timerTable.size).toBe(1);
    m.at(10);
    m.setEvent(0, 'E');
    const a = m.t('A');
    expect(a.state).toBe(S.Ready);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(a.timer.inserted).toBe(false);
    expect(m.db.timerTable.size).toBe(0);
    expect(m.db.nextTimerTickNs()).toBe(Infinity);
    expect(m.ticks(11, 200)).toEqual([]);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(a.waitStatus).toBe(STATUS.WAIT_0);
  });

  it('a wait with a zero timeout never blocks: STATUS_TIMEOUT at once, no timer', () => {
    const m = waiterMachine();
    m.at(7);
    const out = m.wait(0, ['E'], { timeout: 0 });
    expect(out.status).toBe(STATUS.TIMEOUT);
    expect(out.switchTo).toBeNull();
    expect(m.t('A').state).toBe(S.Running);
    expect(m.t('A').waits).toBe(0);
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a wait with an absolute timeout in the past never blocks: STATUS_TIMEOUT at once', () => {
    const m = waiterMachine();
    m.at(7);
    for (const timeout of [1, BOOT_SYSTEM_TIME, m.db.systemTime(m.nowNs)]) {
      const out = m.wait(0, ['E'], { timeout });
      expect(out.status).toBe(STATUS.TIMEOUT);
      expect(out.switchTo).toBeNull();
    }
    expect(m.t('A').waits).toBe(0);
    expect(m.db.timerTable.size).toBe(0);
    expect(m.waiters('E')).toEqual([]);
  });

  it('a satisfiable wait with a timeout returns at once and arms no timer', () => {
    const m = waiterMachine();
    m.setEvent(0, 'E');
    const out = m.wait(0, ['E'], { timeout: ONE_SECOND });
    expect(out.status).toBe(STATUS.WAIT_0);
    expect(out.switchTo).toBeNull();
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a wait broken to re-test (a WaitAll waiter released with STATUS_KERNEL_APC) and restarted keeps its remaining relative timeout: it times out at the original due tick', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'B', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'E', sync: true }, { name: 'X' }, { name: 'F' }],
    });
    m.start();
    expect(m.running()).toEqual(['B']);
    m.wait(0, ['E', 'X'], { type: WaitType.WaitAll, timeout: ONE_SECOND }); // at tick 0
    const due = m.firstDueTick(1, 200);
    expect(due).toBeGreaterThanOrEqual(63);
    expect(due).toBeLessThanOrEqual(65);
    m.at(10);
    m.setEvent(0, 'E'); // E is sync: B (WaitAll) re-tests
    const b = m.t('B');
    expect(b.waitStatus).toBe(STATUS.KERNEL_APC);
    expect(b.resume).toEqual({ action: ResumeAction.RestartCall, value: CALL_PC });
    expect(b.timer.inserted).toBe(false);
    m.at(20);
    expect(m.wait(0, ['F']).switchTo?.name).toBe('B'); // S blocks for good; B runs and restarts its call
    const again = m.wait(0, ['E', 'X'], { type: WaitType.WaitAll, timeout: ONE_SECOND });
    expect(again.switchTo?.name).toBe('Idle#0');
    expect(b.state).toBe(S.Waiting);
    expect(m.firstDueTick(21, 300)).toBe(due); // not 20 + 64
    expect(m.ticks(21, due - 1)).toEqual([]);
    m.clock(due);
    expect(b.state).toBe(S.Standby);
    expect(b.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.TIMEOUT });
    expect(m.waiters('E')).toEqual([]);
    expect(m.waiters('X')).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.12 KeDelayExecutionThread, page-fault waits
// -------------------------------------------------------------------------------------------------

describe('restarted waits and late expiration passes', () => {
  it('a restarted wait whose remaining timeout has already run out returns STATUS_TIMEOUT without blocking (§4.11 steps 5 and 7)', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'B', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'E', sync: true }, { name: 'X' }, { name: 'F' }],
    });
    m.start();
    m.wait(0, ['E', 'X'], { type: WaitType.WaitAll, timeout: ONE_SECOND }); // at tick 0: due at tick 64
    m.at(10);
    m.setEvent(0, 'E'); // B re-tests later
    m.at(70);
    expect(m.wait(0, ['F']).switchTo?.name).toBe('B');
    const again = m.wait(0, ['E', 'X'], { type: WaitType.WaitAll, timeout: ONE_SECOND });
    expect(again.switchTo).toBeNull();
    expect(again.status).toBe(STATUS.TIMEOUT);
    expect(m.t('B').state).toBe(S.Running);
    expect(m.t('B').timer.inserted).toBe(false);
  });

  it('an expiration pass more than a table (512 ticks) late scans every bucket once and finds the timer due', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'T' }] });
    m.start();
    m.setTimer(0, 'T', (-100 * m.clockNs) / 100, 0, 1); // due at tick 100
    expect(m.clock(600)).toEqual([1]);
  });
});

describe('§4.12 KeDelayExecutionThread and page-in waits', () => {
  it('KeDelayExecutionThread blocks on the thread timer alone (WaitReason DelayExecution) and resumes with STATUS_SUCCESS at the due tick', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'S', priority: 8 },
      ],
    });
    m.start();
    m.at(4);
    const out = m.delay(0, -100 * MS); // 100 ms: 6.4 ticks
    expect(out.switchTo?.name).toBe('S');
    const a = m.t('A');
    expect([a.state, a.waitReason, a.waitBlocks.length, a.timer.inserted]).toEqual([S.Waiting, WaitReason.DelayExecution, 0, true]);
    expect(m.db.timerTable.size).toBe(1);
    const due = m.firstDueTick(5, 100);
    expect(due - 4).toBeGreaterThanOrEqual(6);
    expect(due - 4).toBeLessThanOrEqual(8);
    expect(m.ticks(5, due - 1)).toEqual([]);
    expect(a.state).toBe(S.Waiting);
    m.clock(due);
    expect(a.state).toBe(S.Ready);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.SUCCESS });
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a zero delay does not block: it yields to a ready thread of the same priority and returns STATUS_SUCCESS', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'S', priority: 8 },
      ],
    });
    m.start();
    const out = m.delay(0, 0);
    expect(out.status).toBe(STATUS.SUCCESS);
    expect(out.switchTo?.name).toBe('S');
    const a = m.t('A');
    expect(a.state).toBe(S.Ready);
    expect(a.waits).toBe(0);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.SUCCESS });
    expect(m.readyList(0, 8)).toEqual(['A']);
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a zero delay with nothing else ready returns STATUS_SUCCESS and keeps running', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }] });
    m.start();
    const out = m.delay(0, 0);
    expect(out.status).toBe(STATUS.SUCCESS);
    expect(out.switchTo).toBeNull();
    expect(m.t('A').state).toBe(S.Running);
    expect(m.db.timerTable.size).toBe(0);
  });

  it('a page fault blocks the thread with WaitReason PageIn and resumes it with ResumeAction.PageIn and the page at the first tick at/after the latency', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'S', priority: 8 },
      ],
    });
    m.start();
    m.at(3);
    const out = m.pageFault(0, 0x42, 20_000_000); // 20 ms: done at tick 3 + 1.28 → first tick after: 5
    expect(out.switchTo?.name).toBe('S');
    const a = m.t('A');
    expect([a.state, a.waitReason, a.waitBlocks.length]).toEqual([S.Waiting, WaitReason.PageIn, 0]);
    expect(m.firstDueTick(4, 100)).toBe(5);
    expect(m.db.nextTimerTickNs()).toBe(m.tickNs(5));
    expect(m.clock(4)).toEqual([]);
    expect(a.state).toBe(S.Waiting);
    m.clock(5);
    expect(a.state).toBe(S.Ready);
    expect(a.resume).toEqual({ action: ResumeAction.PageIn, value: 0x42 });
    expect(m.db.timerTable.size).toBe(0);
  });
});

// -------------------------------------------------------------------------------------------------
// §3.8 KeSetSystemTime
// -------------------------------------------------------------------------------------------------

describe('§3.8 KeSetSystemTime', () => {
  it('setting the clock 1 h forward makes an absolute timer due within that hour due at the next expiration pass; relative timers do not move; it returns the change', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], timers: [{ name: 'Abs' }, { name: 'Rel' }, { name: 'Far' }] });
    m.start();
    const sys0 = m.db.systemTime(m.nowNs);
    m.setTimer(0, 'Abs', sys0 + HOUR / 2, 0, 1); // in 30 min
    m.setTimer(0, 'Rel', -HOUR / 2, 0, 2); // in 30 min, relative
    m.setTimer(0, 'Far', sys0 + 2 * HOUR, 0, 3); // in 2 h
    const relDue = m.timer('Rel').dueTime;
    const farDue = m.timer('Far').dueTime;
    m.at(10);
    expect(m.db.timerDue(m.nowNs)).toBe(false);
    const before = m.db.systemTime(m.nowNs);
    const out = m.setSystemTime(0, before + HOUR);
    expect(out.status).toBe(Number(BigInt.asIntN(32, BigInt(HOUR))));
    expect(m.db.systemTime(m.nowNs)).toBe(before + HOUR);
    expect(m.db.interruptTime(m.nowNs)).toBe(10 * (CLOCK_NS / 100));
    expect(m.timer('Rel').dueTime).toBe(relDue);
    expect(m.timer('Far').dueTime).toBe(farDue - HOUR);
    // the next expiration pass (this tick's or the next) expires Abs alone
    const ran = m.ticks(10, 11);
    expect(ran.map(([, dpc]) => dpc)).toEqual([1]);
    expect(m.timer('Abs').signalState).toBe(1);
    expect(m.timer('Rel').inserted).toBe(true);
    expect(m.timer('Far').inserted).toBe(true);
    // Rel still fires 30 min of interrupt time after it was set, Far 1 h after the change
    expect(m.db.nextTimerTickNs()).toBe(Math.ceil(relDue / (CLOCK_NS / 100)) * CLOCK_NS);
  });
});
