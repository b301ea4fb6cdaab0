/**
 * periodic-dpc-timer: the DPC timer driver of a Chinese post on IRQL, APCs and DPCs (untitled; its
 * sections are "IRQL 中断请求级别", "APC 异步过程调用" and "DPC 延迟调用"). DriverEntry
 * initializes a KTIMER and a KDPC and sets the timer 3 s ahead (DueTime −30,000,000: relative, in
 * 100 ns units); the DPC routine prints and sets the timer again, so it fires every 3 s of emulated
 * time. DriverUnload cancels the timer; no firing follows.
 *
 *   VOID dpcCall(...) { DbgPrint("I'm DPC \n"); KeSetTimer(&ktimer, duetime, &dpc); }
 *   VOID DriverUnload(...) { KeCancelTimer(&ktimer); }
 *
 * Here the driver's thread plays the I/O manager too: it loads the driver, sleeps 10.5 s, and unloads
 * it. In deterministic mode the 20 emulated seconds take a fraction of a host second: idle time is
 * skipped (the clock only interrupts when a timer is due).
 */

import { defineScenario, relativeTime } from '../scenario/define.js';
import { R0 } from '../isa/registers.js';
import type { RunView } from '../scenario/define.js';

const TAG = { DbgPrint: 1, Unload: 2, CancelResult: 3 } as const;
const PERIOD_MS = 3000;
const UNLOAD_MS = 10_500;

const firings = (run: RunView): number[] => run.userEvents.filter((e) => e.tag === TAG.DbgPrint).map((e) => Math.round(e.timeNs / 1e5) / 10);

export default defineScenario({
  name: 'periodic-dpc-timer',
  description:
    "the DPC timer driver of the Chinese article on IRQL, APC and DPC (section 'DPC 延迟调用'): a KTIMER re-armed from its own DPC every 3 s; DriverUnload cancels it",
  machine: { cpus: 2, durationMs: 20_000 },
  memory: { DueTime: { words: 2, init: relativeTime(PERIOD_MS) }, UnloadAfter: { words: 2, init: relativeTime(UNLOAD_MS) } },
  timers: { KTimer: {} },
  dpcs: { Dpc: { routine: 'DpcCall' } },
  threads: { Loader: { routine: 'Loader' } },
  traceTags: { [TAG.DbgPrint]: 'DbgPrint("I\'m DPC")', [TAG.Unload]: 'DriverUnload', [TAG.CancelResult]: 'KeCancelTimer returned' },
  routines: {
    Loader: (a) => {
      a.call('DriverEntry');
      a.kcall('KeDelayExecutionThread', 0, 0, a.var('UnloadAfter'));
      a.call('DriverUnload');
      a.ret(0);
    },
    DriverEntry: (a) => {
      a.kcall('KeInitializeTimer', a.timer('KTimer'));
      a.kcall('KeInitializeDpc', a.dpc('Dpc'), a.routine('DpcCall'), 0);
      a.kcall('KeSetTimer', a.timer('KTimer'), a.var('DueTime'), a.dpc('Dpc'));
      a.ret(0);
    },
    // VOID dpcCall(Dpc, DeferredContext, SystemArgument1, SystemArgument2)
    DpcCall: (a) => {
      a.kcall('KeQueryTickCount');
      a.trace(TAG.DbgPrint, R0);
      a.kcall('KeSetTimer', a.timer('KTimer'), a.var('DueTime'), a.dpc('Dpc'));
      a.ret();
    },
    DriverUnload: (a) => {
      a.trace(TAG.Unload);
      a.kcall('KeCancelTimer', a.timer('KTimer'));
      a.trace(TAG.CancelResult, R0);
      a.ret(0);
    },
  },
  results: (run) => {
    const unload = run.userEvents.find((e) => e.tag === TAG.Unload);
    return {
      firingsMs: firings(run),
      unloadMs: unload ? Math.round(unload.timeNs / 1e5) / 10 : -1,
      cancelReturned: run.userEvents.find((e) => e.tag === TAG.CancelResult)?.value ?? -1,
    };
  },
  checks: (run) => {
    const times = firings(run);
    const unload = run.userEvents.find((e) => e.tag === TAG.Unload);
    const unloadMs = unload ? unload.timeNs / 1e6 : Infinity;
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // a relative timer fires on a clock tick: within one tick (15.625 ms) of its due time
    const tickMs = 15.625;
    return [
      {
        name: 'the DPC fired every 3 s until the unload',
        passed: times.length === 3 && gaps.every((g) => Math.abs(g - PERIOD_MS) <= tickMs) && Math.abs(times[0]! - PERIOD_MS) <= tickMs,
        detail: `firings at ${times.join(', ')} ms`,
      },
      {
        name: 'KeCancelTimer in DriverUnload found the timer set (returned TRUE)',
        passed: run.userEvents.some((e) => e.tag === TAG.CancelResult && e.value === 1),
        detail: `unload at ${unloadMs.toFixed(1)} ms`,
      },
      { name: 'no firing after the unload', passed: times.every((t) => t < unloadMs), detail: `${times.filter((t) => t >= unloadMs).length} late firings` },
    ];
  },
});
