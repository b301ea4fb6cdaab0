// The built-in race scenarios and their fixes, graded as `irqlab explore` grades them: each race
// shows its FORBIDDEN outcome on a known seed, replays it exactly, and its fixed variant shows only
// ACCEPTABLE outcomes over a handful of seeds (in-process deterministic backend). The fixed variants
// also pass their checks in parallel mode, where the CPUs really race (checks never demand a race).
import { describe, expect, it } from 'vitest';
import { bugcheckOutcome, gradeOutcome, outcomeText } from '../../src/explore/outcome.js';
import type { Grade } from '../../src/explore/outcome.js';
import type { RunView, ScenarioDefinition } from '../../src/scenario/define.js';
import dpcListRace from '../../src/scenarios/dpc-list-race.js';
import dpcListRaceFixed from '../../src/scenarios/dpc-list-race-fixed.js';
import dpcDoubleInsert from '../../src/scenarios/dpc-double-insert.js';
import dpcDoubleInsertFixed from '../../src/scenarios/dpc-double-insert-fixed.js';
import timerCancelRace from '../../src/scenarios/timer-cancel-race.js';
import timerCancelRaceFixed from '../../src/scenarios/timer-cancel-race-fixed.js';
import isrTornRead from '../../src/scenarios/isr-torn-read.js';
import isrTornReadFixed from '../../src/scenarios/isr-torn-read-fixed.js';
import dpcSpinlockDeadlock from '../../src/scenarios/dpc-spinlock-deadlock.js';
import { lostUpdateScenario } from '../../src/scenarios/lost-update.js';
import { executeScenario } from '../../src/machine/execute.js';
import { validateScenario } from '../../src/scenario/validate.js';
import type { ScheduleOptions } from '../../src/contract/schedule.js';
import { runOnWorkers } from '../smp/harness.js';

interface Graded {
  outcome: string;
  grade: Grade;
  traceHash: string;
  results: Record<string, number | string | boolean | number[]>;
}

/** One deterministic iteration (in-process), graded: a bugcheck is its own outcome, else the scenario's outcome(run). */
async function explore(definition: ScenarioDefinition, seed: number, schedule?: ScheduleOptions): Promise<Graded> {
  let outcome = '';
  let view: Record<string, number | string | boolean | number[]> = {};
  const capturing: ScenarioDefinition = {
    ...definition,
    results: (run: RunView) => {
      outcome = outcomeText(definition.name, definition.outcome!(run));
      view = definition.results ? definition.results(run) : {};
      return view;
    },
  };
  const cpus = definition.machine?.cpus ?? 2;
  const durationMs = definition.machine?.durationMs ?? 100;
  const result = await executeScenario(validateScenario(capturing, { cpus, arch: 'x64' }), null, {
    cpus,
    mode: 'deterministic',
    seed,
    durationNs: durationMs * 1e6,
    verbose: false,
    command: `irqlab run ${definition.name}`,
    backend: 'in-process',
    ...(schedule ? { schedule } : {}),
  });
  if (result.bugcheck) outcome = bugcheckOutcome(result.bugcheck.code);
  const { grade } = gradeOutcome(definition.name, outcome, definition.outcomes, {
    bugcheck: result.bugcheck !== null,
    checkFailed: result.checks.some((check) => !check.passed),
  });
  return { outcome, grade, traceHash: result.traceHash, results: view };
}

const SEEDS = [1, 2, 3, 4, 5, 6];
const PERTURB: ScheduleOptions = { strategy: 'perturb' };

const RACES = [
  {
    race: dpcListRace,
    fixed: dpcListRaceFixed,
    forbidden: [
      { seed: 2, outcome: '0x139 KERNEL_SECURITY_CHECK_FAILURE', what: 'a cycle in the list ends in 0x139' },
      { seed: 5, outcome: 'lost node', what: "the DPC's empty head overwrites a new node" },
      { seed: 135, outcome: 'completed twice', what: 'a node pushed onto freed ones is completed twice' },
    ],
  },
  {
    race: dpcDoubleInsert,
    fixed: dpcDoubleInsertFixed,
    forbidden: [{ seed: 5, outcome: 'work lost', what: "an insert from the other CPU returns FALSE and its item's count is dropped" }],
  },
  {
    race: timerCancelRace,
    fixed: timerCancelRaceFixed,
    forbidden: [
      {
        seed: 16,
        outcome: '0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL',
        what: 'KeCancelTimer returns FALSE during the DPC and the freed context is touched: 0xD5',
      },
    ],
  },
  {
    race: isrTornRead,
    fixed: isrTornReadFixed,
    forbidden: [
      {
        seed: 1,
        schedule: PERTURB,
        outcome: 'torn read',
        shows: { tornReadsCpu0: 1, tornReadsCpu1: 0 },
        what: 'an early interrupt lands between the two loads of a read on its CPU',
      },
      {
        seed: 5,
        schedule: PERTURB,
        outcome: 'torn read',
        shows: { tornReadsCpu0: 0, tornReadsCpu1: 2 },
        what: 'an early interrupt runs its ISR between the two loads of a read on the other CPU',
      },
    ],
  },
] as const;

describe('the race built-ins', () => {
  for (const { race, fixed, forbidden } of RACES) {
    describe(race.name, () => {
      for (const entry of forbidden) {
        const { seed, outcome, what } = entry;
        const schedule = 'schedule' in entry ? entry.schedule : undefined;
        it(`${what} (seed ${seed}, ${schedule?.strategy ?? 'random'}: FORBIDDEN), and replays exactly`, async () => {
          const first = await explore(race, seed, schedule);
          expect(first).toMatchObject({ outcome, grade: 'forbidden' });
          if ('shows' in entry) expect(first.results).toMatchObject(entry.shows);
          expect((await explore(race, seed, schedule)).traceHash).toBe(first.traceHash);
        });
      }

      it(`${fixed.name} shows only ACCEPTABLE outcomes, with random slices and with perturbed interrupts`, async () => {
        const graded = await Promise.all(SEEDS.flatMap((seed) => [explore(fixed, seed), explore(fixed, seed, PERTURB)]));
        expect(graded.filter((run) => run.grade !== 'acceptable')).toEqual([]);
      });

      it(`${fixed.name} passes its checks in parallel mode`, async () => {
        const { result } = await runOnWorkers(fixed, { cpus: 2, mode: 'parallel' });
        expect(result.bugcheck).toBeNull();
        expect(result.checks.filter((check) => !check.passed)).toEqual([]);
      });
    });
  }
});

describe('isr-torn-read: only an interrupt that comes early tears a read', () => {
  it('with evenly spaced interrupts (random slices) every read is done before the next interrupt', async () => {
    const random = await Promise.all(SEEDS.map((seed) => explore(isrTornRead, seed)));
    expect(random.map((run) => run.outcome)).toEqual(SEEDS.map(() => 'every read consistent'));
    expect(random.map((run) => run.results.earlyInterrupts)).toEqual(SEEDS.map(() => 0));
  });

  it('perturbed arrival bunches interrupts: an early one during the reads is INTERESTING when it misses the window', async () => {
    const perturbed = await explore(isrTornRead, 2, PERTURB);
    expect(perturbed).toMatchObject({ outcome: 'every read consistent, an interrupt came during the reads', grade: 'interesting' });
    expect(perturbed.results.earlyInterrupts).toBeGreaterThan(0);
  });
});

describe('lost-update and dpc-spinlock-deadlock declare their outcomes', () => {
  it('lost-update (1,000 rounds): lost plain updates are INTERESTING, no loss ACCEPTABLE, a lost locked or interlocked update FORBIDDEN', async () => {
    const scaled = lostUpdateScenario(1000, 5);
    expect(await explore(scaled, 6)).toMatchObject({ outcome: 'plain lost, spin lock exact, interlocked exact', grade: 'interesting' });
    expect(await explore(scaled, 1)).toMatchObject({ outcome: 'plain exact, spin lock exact, interlocked exact', grade: 'acceptable' });
    const grade = (text: string) => gradeOutcome(scaled.name, text, scaled.outcomes, { bugcheck: false, checkFailed: false }).grade;
    expect(grade('plain lost, spin lock lost, interlocked exact')).toBe('forbidden');
    expect(grade('plain exact, spin lock exact, interlocked lost')).toBe('forbidden');
    expect(grade('unfinished')).toBe('unknown');
  });

  it('dpc-spinlock-deadlock: the deadlock (0x133) is FORBIDDEN, a DPC that ran after the release ACCEPTABLE', () => {
    const grade = (text: string, bugcheck: boolean) =>
      gradeOutcome(dpcSpinlockDeadlock.name, text, dpcSpinlockDeadlock.outcomes, { bugcheck, checkFailed: false }).grade;
    expect(grade(bugcheckOutcome(0x133), true)).toBe('forbidden');
    expect(grade('the DPC ran after the lock was released', false)).toBe('acceptable');
  });
});
