/**
 * dpc-importance: KeInsertQueueDpc's request rules (nt-semantics.md §2.3) side by side. A driver
 * thread on CPU 0 queues five DPCs and records when each was queued and when it ran:
 *
 *   0 local  Medium at PASSIVE      → runs before KeInsertQueueDpc returns to the thread
 *   1 local  Low (rate ≥ minimum)   → waits for CPU 0's next clock tick
 *   2 remote High   → busy CPU 1    → IPI(DPC); runs at once
 *   3 remote Medium → busy CPU 1    → no IPI; runs at CPU 1's next clock tick
 *   4 remote Medium → idle CPU 2    → no IPI; the idle loop drains it at once
 *
 * Case 1 needs the DPC request rate (averaged per tick) at or above MinimumDpcRate (3), or the low
 * rate itself triggers a request: the thread first queues 8 DPCs in each of two ticks.
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2, R3, R5, R6 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

const CASES = ['LocalMedium', 'LocalLow', 'RemoteHighBusy', 'RemoteMediumBusy', 'RemoteMediumIdle'] as const;

/** Queue case `index`'s DPC, recording the insert time in InsertAt[index]. */
function queueCase(a: RoutineBuilder, index: number): void {
  a.kcall('KeQueryPerformanceCounter');
  a.store(a.var('InsertAt'), index * 4, R0);
  a.kcall('KeInsertQueueDpc', a.dpc(CASES[index]!), index, 0);
}

/** Spin (at PASSIVE, so interrupts and DPCs keep running) until RanAt[index] is set. */
function waitForCase(a: RoutineBuilder, index: number): void {
  const label = `wait-${index}`;
  a.label(label);
  a.work(500);
  a.load(R1, a.var('RanAt'), index * 4);
  a.beqz(R1, label);
}

export default defineScenario({
  name: 'dpc-importance',
  description: 'KeInsertQueueDpc request rules side by side: Low/Medium/High, local and remote, busy and idle targets',
  machine: { cpus: 3, durationMs: 120 },
  memory: {
    InsertAt: { words: 5 },
    RanAt: { words: 5 },
    RanOn: { words: 5, init: -1 },
    LocalMediumBeforeNext: {},
    LocalLowBeforeNext: {},
    Done: {},
  },
  dpcs: {
    LocalMedium: { routine: 'Record', context: 0, importance: 'Medium' },
    LocalLow: { routine: 'Record', context: 1, importance: 'Low' },
    RemoteHighBusy: { routine: 'Record', context: 2, importance: 'High', targetCpu: 1 },
    RemoteMediumBusy: { routine: 'Record', context: 3, importance: 'Medium', targetCpu: 1 },
    RemoteMediumIdle: { routine: 'Record', context: 4, importance: 'Medium', targetCpu: 2 },
    Warm: { routine: 'WarmUp', importance: 'Medium' },
  },
  threads: {
    Driver: { routine: 'Driver', cpu: 0 },
    Busy: { routine: 'BusyLoop', cpu: 1 },
  },
  routines: {
    Driver: (a) => {
      // case 0: a local Medium DPC at PASSIVE runs as the IRQL drops back, before the next instruction
      queueCase(a, 0);
      a.load(R1, a.var('RanAt'), 0);
      a.store(a.var('LocalMediumBeforeNext'), 0, R1);
      // warm the DPC request rate: 8 DPCs in each of two clock ticks
      a.movi(R5, 0);
      a.label('warm-tick');
      a.movi(R6, 0);
      a.label('warm-one');
      a.kcall('KeInsertQueueDpc', a.dpc('Warm'), 0, 0);
      a.add(R6, R6, 1);
      a.blt(R6, 8, 'warm-one');
      a.kcall('KeQueryTickCount');
      a.mov(R2, R0);
      a.label('wait-tick');
      a.work(500);
      a.kcall('KeQueryTickCount');
      a.beq(R0, R2, 'wait-tick');
      a.add(R5, R5, 1);
      a.blt(R5, 2, 'warm-tick');
      // case 1: a local Low DPC with depth 1 < 4 and rate >= 3 is not requested: it waits for a tick
      queueCase(a, 1);
      a.load(R1, a.var('RanAt'), 4);
      a.store(a.var('LocalLowBeforeNext'), 0, R1);
      waitForCase(a, 1);
      // case 2 first, and wait for it: its IPI would otherwise retire case 3 along with it
      queueCase(a, 2);
      waitForCase(a, 2);
      queueCase(a, 3);
      queueCase(a, 4);
      waitForCase(a, 3);
      waitForCase(a, 4);
      a.store(a.var('Done'), 0, 1);
      a.ret(0);
    },
    // DeferredRoutine(Dpc, DeferredContext = case index, …)
    Record: (a) => {
      a.shl(R3, R2, 2);
      a.movi(R1, a.var('RanOn'));
      a.add(R1, R1, R3);
      a.kcall('KeGetCurrentProcessorNumber');
      a.store(R1, 0, R0);
      a.kcall('KeQueryPerformanceCounter');
      a.movi(R1, a.var('RanAt'));
      a.add(R1, R1, R3);
      a.store(R1, 0, R0);
      a.ret();
    },
    WarmUp: (a) => {
      a.work(50);
      a.ret();
    },
    BusyLoop: (a) => {
      a.label('loop');
      a.work(300);
      a.load(R1, a.var('Done'));
      a.beqz(R1, 'loop');
      a.ret(0);
    },
  },
  results: (run) => {
    const out: Record<string, number> = {};
    CASES.forEach((name, i) => {
      const ran = run.read('RanAt', i);
      out[`${name}DelayUs`] = ran === 0 ? -1 : Math.round(((ran - run.read('InsertAt', i)) | 0) / 10) / 100;
      out[`${name}RanOnCpu`] = run.read('RanOn', i);
    });
    out.cpu0IpisSent = run.perCpu[0]!.ipisSent;
    return out;
  },
  checks: (run) => {
    const delayUs = (i: number): number => ((run.read('RanAt', i) - run.read('InsertAt', i)) | 0) / 1000;
    const ran = (i: number): boolean => run.read('RanAt', i) !== 0;
    const tickUs = 15625 + 1000;
    // "at once" means well inside one tick; deterministic runs take a few µs, parallel runs pay the
    // host's thread wake-ups and scheduling (milliseconds on a loaded 2-core host)
    const atOnceUs = 5000;
    return [
      {
        name: 'a local Medium DPC runs before KeInsertQueueDpc returns to PASSIVE code',
        passed: run.read('LocalMediumBeforeNext') !== 0,
        detail: `delay ${delayUs(0).toFixed(2)} µs`,
      },
      {
        name: 'a local Low DPC (depth 1 < 4, rate ≥ 3) waits for the next clock tick',
        passed: run.read('LocalLowBeforeNext') === 0 && ran(1) && delayUs(1) <= tickUs,
        detail: ran(1) ? `ran ${delayUs(1).toFixed(1)} µs after the insert` : 'never ran',
      },
      {
        name: 'a remote High DPC to a busy CPU is sent an IPI and runs at once',
        passed: ran(2) && run.read('RanOn', 2) === 1 && delayUs(2) < atOnceUs,
        detail: ran(2) ? `ran on CPU ${run.read('RanOn', 2)} after ${delayUs(2).toFixed(2)} µs` : 'never ran',
      },
      {
        name: 'a remote Medium DPC to a busy CPU gets no IPI and runs within one tick',
        passed: ran(3) && run.read('RanOn', 3) === 1 && delayUs(3) <= tickUs,
        detail: ran(3) ? `ran on CPU ${run.read('RanOn', 3)} after ${delayUs(3).toFixed(1)} µs` : 'never ran',
      },
      {
        name: 'a remote Medium DPC to an idle CPU gets no IPI and is drained by its idle loop',
        passed: ran(4) && run.read('RanOn', 4) === 2 && delayUs(4) < atOnceUs,
        detail: ran(4) ? `ran on CPU ${run.read('RanOn', 4)} after ${delayUs(4).toFixed(2)} µs` : 'never ran',
      },
      {
        name: 'CPU 0 sent exactly one IPI (for the High DPC)',
        passed: run.perCpu[0]!.ipisSent === 1,
        detail: `CPU 0 sent ${run.perCpu[0]!.ipisSent} IPIs`,
      },
    ];
  },
});
