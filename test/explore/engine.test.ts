// The exploration engine (src/explore/engine.ts) on a real piscina pool of the built workers
// (dist/workers/explore-worker.js: run `npm run build` first): the table is deterministic, whatever
// the pool's size; the merged tables of shards are the unsharded one; an iteration is the run
// `irqlab run --mode deterministic --seed S` makes on worker threads (the same trace hash); a
// bugcheck is an outcome; the scenario module is loaded once per pool worker.
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/explore/engine.js';
import type { ExploreOptions } from '../../src/explore/engine.js';
import { exploreReplayCommand } from '../../src/explore/format.js';
import { mergeReports } from '../../src/explore/merge.js';
import type { WorkerIterationRecord } from '../../src/explore/pool-worker.js';
import type { ExploreReport } from '../../src/explore/table.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';

const race = 'test/fixtures/scenarios/explore-race.mjs';

function options(overrides: Partial<ExploreOptions> & { scenario?: string }): ExploreOptions {
  const { scenario = race, ...rest } = overrides;
  return { spec: { scenario }, iterations: 40, seed: 1, workers: 2, replayCommand: exploreReplayCommand, ...rest };
}

/** The table without the host's figures (time, rate, pool size). */
function table({ workers: _w, hostTimeMs: _h, iterationsPerSecond: _r, shard: _s, ...rest }: ExploreReport) {
  return rest;
}

describe('explore', () => {
  it('gives the same table for the same seed, with one worker or two', async () => {
    const one = await explore(options({ workers: 1 }));
    const two = await explore(options({ workers: 2 }));
    expect(table(two.report)).toEqual(table(one.report));
    expect(one.report.iterationsRun).toBe(40);
    // seed 17 of this fixture loses an update (and the table says so)
    const lost = one.report.outcomes.find((row) => row.grade === 'forbidden')!;
    expect(lost.firstSeeds[0]).toBe(17);
    expect(lost.replayCommand).toBe(`irqlab run ${race} --cpus 2 --mode deterministic --seed 17 --duration 1ms`);
  });

  it('gives another table for another seed range', async () => {
    const shifted = await explore(options({ seed: 1000, iterations: 10, workers: 1 }));
    expect(shifted.report.outcomes.flatMap((row) => row.firstSeeds).every((seed) => seed >= 1000 && seed < 1010)).toBe(true);
  });

  it('merges the tables of three shards into the unsharded table', async () => {
    const whole = await explore(options({}));
    const shards: ExploreReport[] = [];
    for (const index of [1, 2, 3]) shards.push((await explore(options({ shard: { index, count: 3 }, workers: 1 }))).report);
    expect(shards.map((shard) => shard.iterationsRun)).toEqual([14, 13, 13]);
    const merged = mergeReports(shards, ['1', '2', '3']);
    expect(table(merged)).toEqual(table(whole.report));
  });

  it('runs each iteration as `irqlab run --mode deterministic --seed S` does on worker threads: the same trace hash', async () => {
    const records: WorkerIterationRecord[] = [];
    await explore(options({ seed: 16, iterations: 2, onIteration: (record) => records.push(record) }));
    expect(records.map((record) => record.seed).sort()).toEqual([16, 17]);
    const loaded = await loadScenario(race);
    for (const record of records) {
      const result = await runScenario(loaded, { mode: 'deterministic', seed: record.seed, backend: 'workers' });
      expect(result.traceHash).toBe(record.traceHash);
      expect(result.emulatedTimeNs).toBe(record.emulatedTimeNs);
    }
    expect(records.find((record) => record.seed === 17)!.outcome).toBe('lost update, most');
  });

  it('runs a pct iteration as `irqlab run --strategy pct --depth 3 --seed S` does on worker threads', async () => {
    const records: WorkerIterationRecord[] = [];
    const schedule = { strategy: 'pct' as const, depth: 3 };
    const { report } = await explore({
      ...options({ iterations: 2, workers: 1, onIteration: (record) => records.push(record) }),
      spec: { scenario: race, schedule },
    });
    expect(report).toMatchObject({ strategy: 'pct', depth: 3 });
    expect(exploreReplayCommand(report, 2)).toBe(`irqlab run ${race} --cpus 2 --mode deterministic --seed 2 --duration 1ms --strategy pct --depth 3`);
    const loaded = await loadScenario(race);
    for (const record of records) {
      const result = await runScenario(loaded, { mode: 'deterministic', seed: record.seed, backend: 'workers', schedule });
      expect(result.traceHash).toBe(record.traceHash);
    }
  });

  it('makes a bugcheck the outcome, named by its code, FORBIDDEN without outcomes declared', async () => {
    const { report } = await explore(options({ scenario: 'test/fixtures/scenarios/bugcheck.mjs', iterations: 3, workers: 1 }));
    expect(report.outcomes).toHaveLength(1);
    expect(report.outcomes[0]).toMatchObject({ outcome: '0xE2 MANUALLY_INITIATED_CRASH', grade: 'forbidden', bugcheck: true, count: 3 });
    expect(report.failedIterations).toBe(3);
  });

  it('loads the scenario module once per pool worker, not once per iteration', async () => {
    const { report } = await explore(options({ scenario: 'test/fixtures/scenarios/explore-load-count.mjs', iterations: 30, workers: 2 }));
    expect(report.outcomes.map((row) => [row.outcome, row.count])).toEqual([['loaded 1 time(s)', 30]]);
    expect(report.outcomes[0]!.grade).toBe('acceptable');
  });

  it('reports a scenario that does not load as the scenario error it is', async () => {
    await expect(explore(options({ scenario: 'test/fixtures/scenarios/unknown-routine.mjs' }))).rejects.toMatchObject({ name: 'ScenarioError' });
  });

  it('stops at the time limit with the iterations that completed, marked incomplete', async () => {
    const { report } = await explore(options({ iterations: 1_000_000, timeLimitMs: 1 }));
    expect(report.incomplete).toBe(true);
    expect(report.stoppedBy).toBe('time-limit');
    expect(report.iterationsRun).toBeLessThan(1_000_000);
  });
});
