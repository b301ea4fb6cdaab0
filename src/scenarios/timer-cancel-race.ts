/**
 * timer-cancel-race: KeCancelTimer racing the timer's expiry and its DPC, in a driver that frees
 * the DPC's context as soon as it has cancelled.
 *
 * The driver (a thread on CPU 1) allocates a context, sets a one-shot KTIMER with a DPC that uses
 * the context, and unloads about when the timer is due: KeCancelTimer, then free the context.
 * KeCancelTimer returns TRUE only if the timer was still in the timer table; once it has expired
 * (on CPU 0, which owns the clock), the DPC is called or about to be, and KeCancelTimer returns FALSE
 * without waiting for it (nt-semantics.md §3.7: it "does not remove a queued DPC"). The driver frees
 * the context anyway, and the DPC, still running on CPU 0, touches freed memory. The context stands
 * in for special pool: a freed context is marked, and the DPC stops the machine the way Driver
 * Verifier would, with 0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL (P1 = the address, P2 = 0 read
 * / 1 write).
 *
 * The cancel comes 3 µs after the clock tick that expires the timer, closer than one slice, so
 * which of the three outcomes a run shows depends on the order the CPUs' slices run in around the
 * tick (`--strategy random` shows all three) and on where the tick falls: `--strategy perturb` moves
 * the clock's phase by up to explore.jitter.tickPhaseNs (later ticks: more cancels in time).
 *
 * The fix, timer-cancel-race-fixed, is the rundown drivers use: the DPC signals an event as its last
 * act, and an unload whose KeCancelTimer returned FALSE waits for that event before it frees the
 * context.
 */

import { defineScenario, relativeTime } from '../scenario/define.js';
import type { OutcomeGrade, RunView, ScenarioDefinition } from '../scenario/define.js';
import { R0, R2, R5 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

const TAG = { Cancel: 1, DpcStart: 2, DpcEnd: 3, Freed: 4 } as const;
/** the timer is due 15 ms after it is set: at the first clock tick after that (15.625 ms) */
const DUE_MS = 15;
/** the driver works this long after setting the timer, then unloads: about 3 µs after the tick at 15.625 ms */
const UNLOAD_AFTER_CYCLES = 15_627_000;
/** cycles the DPC works between its two touches of the context */
const DPC_WORK_CYCLES = 6_000;
const DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL = 0xd5;

/** Touch the context from the DPC: a freed one is 0xD5 (P2: 0 read, 1 write). */
function touchContext(a: RoutineBuilder, write: 0 | 1): void {
  a.load(R2, a.var('Context'));
  a.bnez(R2, write ? 'alive-write' : 'alive-read');
  a.kcall('KeBugCheckEx', DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, a.var('Context'), write, 0, 0);
  a.label(write ? 'alive-write' : 'alive-read');
}

function unloadOutcome(run: RunView): string {
  const cancel = run.userEvents.find((event) => event.tag === TAG.Cancel);
  if (!cancel || run.read('Unloaded') !== 1) return 'unfinished';
  return cancel.value === 1 ? 'cancelled before it fired' : 'fired before the cancel, freed after its DPC';
}

function grades(fixed: boolean): readonly OutcomeGrade[] {
  return [
    { match: 'cancelled before it fired', expect: 'acceptable', description: 'KeCancelTimer returned TRUE: the timer was still set, no DPC ran' },
    {
      match: 'fired before the cancel, freed after its DPC',
      expect: fixed ? 'acceptable' : 'interesting',
      description: fixed
        ? 'KeCancelTimer returned FALSE; the unload waited for the DPC to signal its event, then freed the context'
        : 'KeCancelTimer returned FALSE and the context was freed anyway, but the DPC had already finished: luck, not design',
    },
    {
      match: '0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL',
      expect: 'forbidden',
      description: 'KeCancelTimer returned FALSE while the DPC was running; the driver freed the context and the DPC touched it',
    },
  ];
}

/** The scenario, freeing at once or after the DPC's rundown event (timer-cancel-race-fixed). */
export function timerCancelRace(fixed: boolean): ScenarioDefinition {
  return defineScenario({
    name: fixed ? 'timer-cancel-race-fixed' : 'timer-cancel-race',
    description: fixed
      ? 'timer-cancel-race with a rundown: when KeCancelTimer returns FALSE the unload waits for the DPC to signal an event before freeing'
      : "KeCancelTimer returns FALSE while the timer's DPC runs on another CPU; the driver frees the DPC's context anyway: 0xD5",
    machine: { cpus: 2, durationMs: 20 },
    memory: { Context: { words: 2 }, DueTime: { words: 2, init: relativeTime(DUE_MS) }, Unloaded: {} },
    timers: { Timer: {} },
    dpcs: { TimerDpc: { routine: 'TimerDpcRoutine' } },
    events: { DpcDone: { type: 'notification' } },
    threads: { Driver: { routine: 'DriverThread', cpu: 1 } },
    traceTags: { [TAG.Cancel]: 'KeCancelTimer returned', [TAG.DpcStart]: 'DPC start', [TAG.DpcEnd]: 'DPC end', [TAG.Freed]: 'context freed' },
    routines: {
      DriverThread: (a) => {
        // DriverEntry: allocate the context, set the timer
        a.store(a.var('Context'), 0, 1);
        a.kcall('KeSetTimer', a.timer('Timer'), a.var('DueTime'), a.dpc('TimerDpc'));
        a.work(UNLOAD_AFTER_CYCLES);
        // DriverUnload
        a.kcall('KeCancelTimer', a.timer('Timer'));
        a.mov(R5, R0);
        a.trace(TAG.Cancel, R5);
        if (fixed) {
          a.bnez(R5, 'free');
          // the timer fired: its DPC is queued, running or done; wait until it has signalled it is done
          a.kcall('KeWaitForSingleObject', a.event('DpcDone'), 0, 0, 0, 0);
          a.label('free');
        }
        // ExFreePool(context)
        a.store(a.var('Context'), 0, 0);
        a.trace(TAG.Freed);
        a.store(a.var('Unloaded'), 0, 1);
        a.ret(0);
      },
      TimerDpcRoutine: (a) => {
        a.trace(TAG.DpcStart);
        touchContext(a, 0);
        a.work(DPC_WORK_CYCLES);
        touchContext(a, 1);
        a.load(R2, a.var('Context', 4));
        a.add(R2, R2, 1);
        a.store(a.var('Context', 4), 0, R2);
        a.trace(TAG.DpcEnd);
        if (fixed) a.kcall('KeSetEvent', a.event('DpcDone'), 0, 0);
        a.ret();
      },
    },
    results: (run) => ({
      cancelReturned: run.userEvents.find((event) => event.tag === TAG.Cancel)?.value ?? -1,
      dpcRuns: run.read('Context', 1),
    }),
    checks: (run) => [{ name: 'the driver unloaded', passed: run.read('Unloaded') === 1, detail: run.read('Unloaded') === 1 ? '' : 'raise --duration' }],
    outcome: unloadOutcome,
    outcomes: grades(fixed),
    // perturb: the clock's phase anywhere in 8 µs, which moves the expiry across the driver's cancel
    explore: { jitter: { tickPhaseNs: 8_000 } },
  });
}

export default timerCancelRace(false);
