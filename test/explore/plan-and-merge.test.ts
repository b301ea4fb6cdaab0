// The iteration space (src/explore/plan.ts) and tables (table.ts, merge.ts): seeds follow --seed,
// shards are disjoint and cover every iteration, and the merged table of N shards is the unsharded
// table row for row, first seeds included.
import { describe, expect, it } from 'vitest';
import { iterationSeed, joinRanges, shardRange } from '../../src/explore/plan.js';
import { OutcomeTable, buildReport } from '../../src/explore/table.js';
import type { ExploreConfig, ExploreReport, IterationRecord } from '../../src/explore/table.js';
import { mergeReports } from '../../src/explore/merge.js';
import { exploreReplayCommand } from '../../src/explore/format.js';

describe('the iteration space', () => {
  it('runs iteration i with seed S + i, wrapping at 2^32', () => {
    expect(iterationSeed(1, 0)).toBe(1);
    expect(iterationSeed(1, 999)).toBe(1000);
    expect(iterationSeed(0xffffffff, 1)).toBe(0);
  });

  it('cuts N shards that are disjoint, contiguous and cover every iteration', () => {
    for (const [iterations, count] of [
      [10, 3],
      [7, 7],
      [3, 5],
      [1000, 8],
    ] as const) {
      const ranges = Array.from({ length: count }, (_, k) => shardRange(iterations, { index: k + 1, count }));
      expect(joinRanges(ranges)).toEqual([[0, iterations]]);
      const sizes = ranges.map(([start, end]) => end - start);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('refuses overlapping ranges', () => {
    expect(() =>
      joinRanges([
        [0, 5],
        [4, 8],
      ]),
    ).toThrow(/iterations 4–4 are in two of the tables/);
  });
});

const config: ExploreConfig = {
  scenario: 'lost-update',
  scenarioName: 'lost-update',
  cpus: 2,
  durationNs: 1e6,
  clockMs: null,
  strategy: 'random',
  depth: null,
  seed: 5,
  iterations: 40,
};

/** A made-up outcome per iteration: a few kinds, at scattered indexes. */
function recordFor(index: number): IterationRecord {
  const kind = index % 7 === 3 ? 'lost' : index % 11 === 5 ? 'crash' : 'exact';
  return {
    index,
    seed: iterationSeed(config.seed, index),
    outcome: kind === 'crash' ? '0xE2 MANUALLY_INITIATED_CRASH' : kind,
    grade: kind === 'exact' ? 'acceptable' : kind === 'lost' ? 'forbidden' : 'unknown',
    description: kind,
    bugcheck: kind === 'crash',
    traceHash: `h${index}`,
  };
}

function tableOf(start: number, end: number, order: 'forward' | 'backward' = 'forward'): ExploreReport {
  const table = new OutcomeTable();
  const indexes = Array.from({ length: end - start }, (_, i) => start + i);
  if (order === 'backward') indexes.reverse();
  for (const index of indexes) table.add(recordFor(index));
  table.addRanges([[start, end]]);
  return buildReport(config, table, {
    shard: null,
    stoppedBy: null,
    workers: 1,
    hostTimeMs: 0,
    replayCommand: (seed) => exploreReplayCommand(config, seed),
    planned: end - start,
  });
}

describe('tables', () => {
  it('do not depend on the order iterations completed in', () => {
    expect(tableOf(0, 40, 'backward')).toEqual(tableOf(0, 40));
  });

  it('keep the first three seeds of each outcome and a replay line for FORBIDDEN outcomes and bugchecks', () => {
    const report = tableOf(0, 40);
    const lost = report.outcomes.find((row) => row.outcome === 'lost')!;
    expect(lost.firstIterations).toEqual([3, 10, 17]);
    expect(lost.firstSeeds).toEqual([8, 15, 22]);
    expect(lost.replayCommand).toBe('irqlab run lost-update --cpus 2 --mode deterministic --seed 8 --duration 1ms');
    expect(report.outcomes.find((row) => row.bugcheck)!.replayCommand).toContain('--seed 10');
    expect(report.outcomes.find((row) => row.outcome === 'exact')!.replayCommand).toBeNull();
    expect(report.failedIterations).toBe(lost.count + report.outcomes.find((row) => row.bugcheck)!.count);
  });

  it('of N shards merge into the unsharded table', () => {
    const whole = tableOf(0, 40);
    for (const count of [2, 3, 8]) {
      const shards = Array.from({ length: count }, (_, k) => {
        const [start, end] = shardRange(40, { index: k + 1, count });
        return tableOf(start, end);
      });
      // given in any order
      const merged = mergeReports([...shards].reverse(), shards.map((_, k) => `shard${k}.json`).reverse());
      const strip = ({ workers: _w, hostTimeMs: _h, iterationsPerSecond: _r, shard: _s, ...rest }: ExploreReport) => rest;
      expect(strip(merged)).toEqual(strip(whole));
      expect(merged.incomplete).toBe(false);
    }
  });

  it('refuse to merge tables of another exploration or overlapping ones, naming the file', () => {
    const a = tableOf(0, 20);
    expect(() => mergeReports([a, { ...tableOf(20, 40), seed: 6 }], ['a.json', 'b.json'])).toThrow(
      /'b.json' is a table of another exploration than 'a.json': its seed is 6, not 5/,
    );
    expect(() => mergeReports([a, tableOf(10, 30)], ['a.json', 'b.json'])).toThrow(/'b.json' overlaps another table/);
  });

  it('merged from shards that miss some iterations is incomplete', () => {
    const merged = mergeReports([tableOf(0, 10), tableOf(20, 40)], ['a', 'b']);
    expect(merged.incomplete).toBe(true);
    expect(merged.iterationsRun).toBe(30);
  });
});
