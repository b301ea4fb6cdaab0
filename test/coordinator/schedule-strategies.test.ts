// The exploration strategies (src/coordinator/schedule-strategy.ts, pct.ts, perturbation.ts,
// src/cpu/held-ipis.ts) and the decision points they all go through (src/contract/decision-source.ts),
// on the in-process backend: each strategy is a function of the seed, PCT draws exactly d − 1 change
// points, perturb stays within its bounds, a recorded run replays from its non-neutral decisions,
// and under pct and perturb no CPU takes an IPI before it was sent (plus its delay).
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunScenarioOptions } from '../../src/machine/run.js';
import type { LoadedScenario } from '../../src/scenario/load.js';
import type { RecordedDecision } from '../../src/contract/decision-source.js';
import { DecisionSource } from '../../src/contract/decision-source.js';
import type { ScheduleDecision, ScheduleOptions, StrategyName } from '../../src/contract/schedule.js';
import { PctStrategy } from '../../src/coordinator/pct.js';
import { Prng } from '../../src/util/prng.js';
import { TraceEvent } from '../../src/kernel/trace-events.js';
import { defineScenario } from '../../src/scenario/define.js';
import { R1, R5 } from '../../src/isa/registers.js';

const STRATEGIES: StrategyName[] = ['random', 'pct', 'perturb'];

interface Recorded {
  traceHash: string;
  decisions: RecordedDecision[];
}

async function record(loaded: LoadedScenario, seed: number, schedule: ScheduleOptions, extra: RunScenarioOptions = {}): Promise<Recorded> {
  let decisions: RecordedDecision[] | null = null;
  const result = await runScenario(loaded, {
    cpus: 2,
    mode: 'deterministic',
    durationNs: 3_000_000,
    seed,
    backend: 'in-process',
    schedule,
    onDecisions: (taken) => {
      decisions = taken;
    },
    ...extra,
  });
  if (decisions === null) throw new Error('onDecisions was not called');
  return { traceHash: result.traceHash, decisions };
}

const nonNeutral = (decisions: readonly RecordedDecision[]): ScheduleDecision[] =>
  decisions.filter((d) => d.value !== d.neutral).map(({ neutral: _neutral, ...decision }) => decision);

describe('each strategy is a function of the seed', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: the same seed gives the same decisions and trace hash; another seed another schedule`, async () => {
      const loaded = await loadScenario('ipi-pingpong');
      const a = await record(loaded, 5, { strategy });
      const b = await record(loaded, 5, { strategy });
      const other = await record(loaded, 6, { strategy });
      expect(a.decisions.length).toBeGreaterThan(10);
      expect(b.decisions).toEqual(a.decisions);
      expect(b.traceHash).toBe(a.traceHash);
      expect(other.decisions).not.toEqual(a.decisions);
      expect(other.traceHash).not.toBe(a.traceHash);
    });
  }

  it('random is the default: no schedule and { strategy: random } are the same run', async () => {
    const loaded = await loadScenario('ipi-pingpong');
    const plain = await runScenario(loaded, { cpus: 2, mode: 'deterministic', durationNs: 3_000_000, seed: 5, backend: 'in-process' });
    const random = await record(loaded, 5, { strategy: 'random' });
    expect(random.traceHash).toBe(plain.traceHash);
  });

  it('the strategies schedule differently from one another with the same seed', async () => {
    const loaded = await loadScenario('ipi-pingpong');
    const hashes = await Promise.all(STRATEGIES.map(async (strategy) => (await record(loaded, 5, { strategy })).traceHash));
    expect(new Set(hashes).size).toBe(3);
  });
});

describe('pct', () => {
  it('draws exactly d − 1 distinct change points within the estimated steps, for every depth and seed', () => {
    for (let depth = 1; depth <= 6; depth++) {
      for (let seed = 0; seed < 20; seed++) {
        const pct = new PctStrategy(
          { cpus: 4, depth, durationNs: 1_000_000, cyclesPerNs: 1, windowNs: 16384 },
          new Prng(seed),
          new DecisionSource(undefined, false),
        );
        expect(pct.changePoints.size).toBe(depth - 1);
        for (const point of pct.changePoints) {
          expect(Number.isInteger(point)).toBe(true);
          expect(point).toBeGreaterThanOrEqual(0);
          expect(point).toBeLessThan(pct.estimatedSteps);
        }
      }
    }
  });

  it('a run reaching every change point drops a priority exactly d − 1 times; the CPUs get a seeded priority order', async () => {
    const loaded = await loadScenario('ipi-pingpong');
    for (const seed of [1, 2, 3]) {
      const { decisions } = await record(loaded, seed, { strategy: 'pct', depth: 4, steps: 50 });
      const steps = decisions.filter((d) => d.kind === 'priority-change');
      expect(steps.length).toBeGreaterThan(50);
      expect(steps.filter((d) => d.value === 1)).toHaveLength(3);
      expect(steps.every((d) => d.ordinal < 50 || d.value === 0)).toBe(true);
      const priorities = decisions.filter((d) => d.kind === 'priority').map((d) => d.value);
      expect([...priorities].sort()).toEqual([0, 1]);
    }
  });
});

describe('pct’s step estimate', () => {
  /** Two CPUs race through a short stretch of work, then the run idles on to its end. */
  const shortRace = defineScenario({
    name: 'short-race',
    description: 'two CPUs work for a few µs of a 50 ms run',
    machine: { cpus: 2, durationMs: 50 },
    memory: { Shared: {} },
    threads: { A: { routine: 'Worker', cpu: 0 }, B: { routine: 'Worker', cpu: 1 } },
    routines: {
      Worker: (a) => {
        a.movi(R5, 0);
        a.label('loop');
        a.load(R1, a.var('Shared'));
        a.work(200);
        a.add(R1, R1, 1);
        a.store(a.var('Shared'), 0, R1);
        a.add(R5, R5, 1);
        a.blt(R5, 50, 'loop');
        a.ret(0);
      },
    },
  });

  it('without steps, the change points are drawn over the neutral run’s steps: a race over early still gets them', async () => {
    const loaded: LoadedScenario = { kind: 'file', source: 'short-race', modulePath: '', definition: shortRace, dispose: () => {} };
    let taken = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const { decisions } = await record(loaded, seed, { strategy: 'pct' }, { durationNs: 50_000_000 });
      const steps = decisions.filter((d) => d.kind === 'priority-change');
      // the CPUs contend for a few dozen steps of a run an estimate from its duration puts at ~100,000
      expect(steps.length).toBeLessThan(200);
      taken += steps.filter((d) => d.value === 1).length;
    }
    expect(taken).toBeGreaterThanOrEqual(5);
  });
});

describe('perturb', () => {
  it('moves device assertions, the clock phase and IPIs within the declared bounds', async () => {
    const storm = await loadScenario('interrupt-storm');
    const bounds = { deviceNs: 700, tickPhaseNs: 5000, ipiDelayNs: 300 };
    const { decisions } = await record(storm, 3, { strategy: 'perturb', bounds });
    const pingpong = await loadScenario('ipi-pingpong');
    const ipis = await record(pingpong, 3, { strategy: 'perturb', bounds });
    const all = [...decisions, ...ipis.decisions];
    const within = (kind: string, bound: number): void => {
      const values = all.filter((d) => d.kind === kind).map((d) => d.value);
      expect(values.length, kind).toBeGreaterThan(0);
      expect(Math.min(...values), kind).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values), kind).toBeLessThanOrEqual(bound);
      expect(Math.max(...values), kind).toBeGreaterThan(0);
      expect(values.every((v) => Number.isInteger(v))).toBe(true);
    };
    within('device-delay', 700);
    within('tick-phase', 5000);
    within('ipi-delay', 300);
  });

  it("takes its bounds from the scenario's explore.jitter; a field the jitter leaves out is not varied", async () => {
    const loaded = await loadScenario('interrupt-storm');
    const declared: LoadedScenario = { ...loaded, definition: { ...loaded.definition, explore: { jitter: { deviceNs: 50 } } } };
    const { decisions } = await record(declared, 3, { strategy: 'perturb' });
    const delays = decisions.filter((d) => d.kind === 'device-delay').map((d) => d.value);
    expect(delays.length).toBeGreaterThan(10);
    expect(Math.max(...delays)).toBeLessThanOrEqual(50);
    expect(decisions.some((d) => d.kind === 'tick-phase' || d.kind === 'ipi-delay')).toBe(false);
  });

  it('a delayed device assertion is taken no earlier than its delay after its place in the schedule', async () => {
    // every device of this scenario first asserts at time 0: delayed by 1 µs, no ISR runs before 1 µs
    const loaded = await loadScenario('interrupt-storm');
    const asserts = async (schedule: ScheduleOptions): Promise<number[]> => {
      const times: number[] = [];
      await record(loaded, 3, schedule, {
        durationNs: 300_000,
        on: { trace: (_cpu, timeNs, event) => void (event === TraceEvent.ISR_ENTER && times.push(timeNs)) },
      });
      return times;
    };
    const bounds = { deviceNs: 1000, tickPhaseNs: 0, ipiDelayNs: 0 };
    const neutral = await asserts({ strategy: 'perturb', bounds, decisions: [] });
    const delayed = await asserts({
      strategy: 'perturb',
      bounds,
      decisions: Array.from({ length: 5000 }, (_, ordinal) => ({ kind: 'device-delay' as const, ordinal, value: 1000 })),
    });
    expect(neutral.length).toBeGreaterThan(5);
    expect(neutral[0]!).toBeLessThan(1000);
    expect(Math.min(...delayed)).toBeGreaterThanOrEqual(1000);
  });
});

describe('explicit decisions', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: all-neutral decisions run, every decision neutral, the same run twice`, async () => {
      const loaded = await loadScenario('ipi-pingpong');
      const a = await record(loaded, 5, { strategy, decisions: [] });
      const b = await record(loaded, 9, { strategy, decisions: [] });
      expect(a.decisions.length).toBeGreaterThan(0);
      expect(a.decisions.every((d) => d.value === d.neutral)).toBe(true);
      // the seed only chose the strategy's proposals, and none was taken (this scenario has no device jitter)
      expect(b.traceHash).toBe(a.traceHash);
      expect(b.decisions).toEqual(a.decisions);
    });

    it(`${strategy}: a recorded run replays exactly from its non-neutral decisions`, async () => {
      for (const name of ['ipi-pingpong', 'interrupt-storm']) {
        const loaded = await loadScenario(name);
        const original = await record(loaded, 7, { strategy });
        const kept = nonNeutral(original.decisions);
        expect(kept.length).toBeGreaterThan(0);
        const replayed = await record(loaded, 7, { strategy, decisions: kept });
        expect(replayed.traceHash, name).toBe(original.traceHash);
        expect(replayed.decisions, name).toEqual(original.decisions);
      }
    });
  }

  it('are refused with one clear line when they do not fit the run', async () => {
    const loaded = await loadScenario('ipi-pingpong');
    const run = (options: RunScenarioOptions): Promise<unknown> => runScenario(loaded, { cpus: 2, mode: 'deterministic', backend: 'in-process', ...options });
    await expect(run({ schedule: { strategy: 'random', decisions: [{ kind: 'priority', ordinal: 0, value: 1 }] } })).rejects.toThrow(
      /strategy 'random' has no 'priority' decisions \(its kinds: slice, tie\)/,
    );
    await expect(run({ schedule: { strategy: 'perturb', decisions: [{ kind: 'ipi-delay', ordinal: 0, value: 1 }] } })).rejects.toThrow(
      /\.cpu \(the receiving CPU/,
    );
    await expect(run({ schedule: { strategy: 'perturb', decisions: [{ kind: 'ipi-delay', ordinal: 0, value: 1, cpu: 2 }] } })).rejects.toThrow(
      /decisions\[0\]\.cpu is 2, but the machine has 2 CPUs/,
    );
    await expect(run({ schedule: { strategy: 'random', depth: 3 } })).rejects.toThrow(/depth applies to strategy 'pct' only/);
    await expect(run({ schedule: { strategy: 'fair' as StrategyName } })).rejects.toThrow(/strategy must be one of 'random', 'pct', 'perturb'/);
    await expect(runScenario(loaded, { cpus: 2, mode: 'parallel', schedule: { strategy: 'pct' } })).rejects.toThrow(/applies to mode 'deterministic' only/);
    await expect(runScenario(loaded, { cpus: 2, mode: 'deterministic', onDecisions: () => {} })).rejects.toThrow(/onDecisions needs backend 'in-process'/);
  });
});

describe('causality under pct and perturb', () => {
  /** Each IPI's send and take times, matched first-in first-out per (sender, receiver). */
  async function ipiTimes(schedule: ScheduleOptions): Promise<Array<{ sentNs: number; takenNs: number }>> {
    const sent = new Map<string, number[]>();
    const taken = new Map<string, number[]>();
    const push = (map: Map<string, number[]>, key: string, timeNs: number): void => {
      const list = map.get(key) ?? [];
      list.push(timeNs);
      map.set(key, list);
    };
    const loaded = await loadScenario('ipi-pingpong');
    await record(loaded, 1, schedule, {
      on: {
        trace: (cpu, timeNs, event, a) => {
          if (event === TraceEvent.IPI_SEND) push(sent, `${cpu}>${a}`, timeNs);
          if (event === TraceEvent.IPI_RECEIVE) push(taken, `${a}>${cpu}`, timeNs);
        },
      },
    });
    const pairs: Array<{ sentNs: number; takenNs: number }> = [];
    for (const [key, times] of taken) {
      const sends = sent.get(key)!;
      for (let i = 0; i < times.length; i++) pairs.push({ sentNs: sends[i]!, takenNs: times[i]! });
    }
    return pairs;
  }

  it('random keeps its old acausality: some IPIs are taken before they were sent (why pct and perturb hold them)', async () => {
    const pairs = await ipiTimes({ strategy: 'random' });
    expect(pairs.some((p) => p.takenNs < p.sentNs)).toBe(true);
  });

  it('pct: no IPI is taken before it was sent', async () => {
    const pairs = await ipiTimes({ strategy: 'pct' });
    expect(pairs.length).toBeGreaterThan(100);
    expect(pairs.filter((p) => p.takenNs < p.sentNs)).toEqual([]);
  });

  it('perturb: no IPI is taken before its send time plus its delay', async () => {
    // the same delay for every IPI keeps them in order, so the pairs match first-in first-out
    const delayNs = 1500;
    const decisions: ScheduleDecision[] = [];
    for (let cpu = 0; cpu < 2; cpu++) for (let ordinal = 0; ordinal < 4000; ordinal++) decisions.push({ kind: 'ipi-delay', ordinal, value: delayNs, cpu });
    const pairs = await ipiTimes({ strategy: 'perturb', bounds: { deviceNs: 0, tickPhaseNs: 0, ipiDelayNs: delayNs }, decisions });
    expect(pairs.length).toBeGreaterThan(100);
    expect(pairs.filter((p) => p.takenNs < p.sentNs + delayNs)).toEqual([]);
  });
});
