/**
 * lost-update: two threads on two CPUs each add 1 to a shared counter N times, three ways, one
 * after the other (a barrier between the phases):
 *
 *   1. plain:        load, add, store       — updates from the two CPUs overwrite each other
 *   2. spin lock:    KeAcquireSpinLock around the same load/add/store
 *   3. interlocked:  one XADD (InterlockedIncrement)
 *
 * In parallel mode the CPU workers run at the same time on the host's cores and touch the same
 * shared memory with plain loads and stores, so phase 1 really races (how much is lost depends on
 * the host); in deterministic mode the loss is decided by the seed's slice interleaving and replays
 * exactly. Phases 2 and 3 are exact in both modes.
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2, R3, R5, R6 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

const ROUNDS = 100_000;
const THREADS = 2;

/** Every thread arrives, then waits until all THREADS have arrived `phase` times. */
function barrier(a: RoutineBuilder, phase: number): void {
  a.movi(R2, 1);
  a.xadd(R0, a.var('Arrived'), 0, R2);
  a.label(`barrier-${phase}`);
  a.pause();
  a.load(R3, a.var('Arrived'));
  a.blt(R3, THREADS * phase, `barrier-${phase}`);
}

/**
 * lost-update with `rounds` increments per thread in each phase and an emulated run of `durationMs`:
 * the built-in is lostUpdateScenario(); perf/explore.ts explores a scaled-down one (1,000 rounds).
 */
export const lostUpdateScenario = (rounds = ROUNDS, durationMs = 400) =>
  defineScenario({
    name: 'lost-update',
    description: 'two CPUs add 1 to a shared counter N times each: plain load/add/store loses updates, a spin lock and an interlocked add do not',
    machine: { cpus: 2, durationMs },
    memory: { Plain: {}, Locked: {}, Interlocked: {}, Lock: {}, Arrived: {}, Finished: {} },
    threads: {
      AdderA: { routine: 'Adder', args: [rounds] },
      AdderB: { routine: 'Adder', args: [rounds] },
    },
    routines: {
      // r1 = rounds
      Adder: (a) => {
        // 1. plain load / add / store
        a.movi(R5, 0);
        a.label('plain');
        a.load(R2, a.var('Plain'));
        a.add(R2, R2, 1);
        a.store(a.var('Plain'), 0, R2);
        a.add(R5, R5, 1);
        a.blt(R5, R1, 'plain');
        barrier(a, 1);
        // 2. the same under a spin lock
        a.movi(R5, 0);
        a.label('locked');
        a.kcall('KeAcquireSpinLock', a.lock('Lock'));
        a.mov(R6, R0);
        a.load(R2, a.var('Locked'));
        a.add(R2, R2, 1);
        a.store(a.var('Locked'), 0, R2);
        a.kcall('KeReleaseSpinLock', a.lock('Lock'), R6);
        a.add(R5, R5, 1);
        a.blt(R5, R1, 'locked');
        barrier(a, 2);
        // 3. InterlockedIncrement
        a.movi(R5, 0);
        a.movi(R2, 1);
        a.label('interlocked');
        a.xadd(R0, a.var('Interlocked'), 0, R2);
        a.add(R5, R5, 1);
        a.blt(R5, R1, 'interlocked');
        a.movi(R2, 1);
        a.xadd(R0, a.var('Finished'), 0, R2);
        a.ret(0);
      },
    },
    results: (run) => {
      const expected = THREADS * rounds;
      return {
        expected,
        plain: run.read('Plain'),
        plainLost: expected - run.read('Plain'),
        spinLock: run.read('Locked'),
        interlocked: run.read('Interlocked'),
        threadsFinished: run.read('Finished'),
      };
    },
    checks: (run) => {
      const expected = THREADS * rounds;
      const finished = run.read('Finished') === THREADS;
      return [
        {
          name: 'both threads finished all three phases',
          passed: finished,
          detail: `${run.read('Finished')} of ${THREADS} finished (raise --duration if this fails)`,
        },
        { name: 'the spin-locked count is exact', passed: run.read('Locked') === expected, detail: `${run.read('Locked')} of ${expected}` },
        { name: 'the interlocked count is exact', passed: run.read('Interlocked') === expected, detail: `${run.read('Interlocked')} of ${expected}` },
      ];
    },
    // `irqlab explore lost-update`: each count exact or not; losing plain updates is the lesson, the others must never lose one
    outcome: (run) => {
      if (run.read('Finished') !== THREADS) return 'unfinished';
      const count = (variable: string): string => (run.read(variable) === THREADS * rounds ? 'exact' : 'lost');
      return [`plain ${count('Plain')}`, `spin lock ${count('Locked')}`, `interlocked ${count('Interlocked')}`];
    },
    outcomes: [
      {
        match: /spin lock lost|interlocked lost/,
        expect: 'forbidden',
        description: 'the spin-locked or the interlocked count lost an update: the lock or XADD did not exclude the other CPU',
      },
      {
        match: 'plain exact, spin lock exact, interlocked exact',
        expect: 'acceptable',
        description: "no update lost: this schedule never cut a CPU's plain load/add/store in two with the other CPU's in between",
      },
      {
        match: 'plain lost, spin lock exact, interlocked exact',
        expect: 'interesting',
        description: 'the plain count lost updates (a CPU stored a value the other had already replaced); the locked and interlocked ones did not',
      },
    ],
  });

export default lostUpdateScenario();
