/**
 * The outcome table of an exploration (jcstress's: observed outcome, occurrences, grade) and the
 * JSON report `irqlab explore --json` prints, `--out` writes and `--merge` adds together. Pure.
 *
 * The table depends only on which iterations ran, never on their order or on how many workers
 * ran them: a row keeps the lowest iteration indexes that showed it (FIRST_SEEDS of them), so the
 * table of N merged shards is the table of the unsharded run, row for row.
 */

import type { StrategyName } from '../contract/schedule.js';
import type { Grade } from './outcome.js';
import { isFailure } from './outcome.js';
import type { IterationRange, Shard } from './plan.js';
import { iterationSeed, joinRanges, rangesSize } from './plan.js';

/** How many of an outcome's first seeds the table shows. */
export const FIRST_SEEDS = 3;

export const REPORT_FORMAT = 'irqlab-explore';
export const REPORT_VERSION = 1;

/** One iteration, as a pool worker reports it. */
export interface IterationRecord {
  index: number;
  seed: number;
  outcome: string;
  grade: Grade;
  description: string;
  bugcheck: boolean;
  /** the run's trace hash: the same as `irqlab run --mode deterministic --seed <seed>` gives */
  traceHash: string;
}

export interface OutcomeRow {
  outcome: string;
  grade: Grade;
  description: string;
  bugcheck: boolean;
  count: number;
  /** the lowest iteration indexes that showed it, ascending, at most FIRST_SEEDS */
  firstIterations: number[];
}

/** What every table of one exploration shares: merging tables of different explorations is refused. */
export interface ExploreConfig {
  /** the scenario as given on the command line (a built-in name or a path) */
  scenario: string;
  /** its definition's name */
  scenarioName: string;
  cpus: number;
  durationNs: number;
  /** --clock, ms (null: the scenario's) */
  clockMs: number | null;
  strategy: StrategyName;
  /** pct's depth (null for other strategies) */
  depth: number | null;
  /** --seed: iteration i runs seed (seed + i) mod 2^32 */
  seed: number;
  /** the whole iteration space (-i), whatever slice of it this table covers */
  iterations: number;
}

export interface OutcomeReportRow extends OutcomeRow {
  /** count / iterations run */
  share: number;
  /** the seeds of firstIterations */
  firstSeeds: number[];
  /** for a FORBIDDEN or bugcheck outcome: the `irqlab run` line that replays its first seed (null otherwise) */
  replayCommand: string | null;
  /** the replay file written for it under --out (null: none written) */
  replayFile: string | null;
}

export interface ExploreReport extends ExploreConfig {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  /** the slice this table was asked to cover (null: all of it, or a merge) */
  shard: Shard | null;
  /** the iterations that ran to the end, as [start, end) ranges of indexes */
  completed: Array<[number, number]>;
  iterationsRun: number;
  /** fewer iterations ran than were asked for (a time limit, Ctrl-C, or a merge missing shards) */
  incomplete: boolean;
  /** why it stopped early: 'time-limit', 'interrupted', or null */
  stoppedBy: 'time-limit' | 'interrupted' | null;
  /** rows by count, most frequent first (ties: the outcome seen first) */
  outcomes: OutcomeReportRow[];
  /** iterations whose outcome is FORBIDDEN or a bugcheck */
  failedIterations: number;
  unknownIterations: number;
  /** host facts of this run (not compared by merges): pool workers, host time, rate */
  workers: number;
  hostTimeMs: number;
  iterationsPerSecond: number;
}

/** Accumulates iterations into rows. */
export class OutcomeTable {
  private readonly rows = new Map<string, OutcomeRow>();
  private ranges: IterationRange[] = [];

  get iterationsRun(): number {
    return rangesSize(this.ranges);
  }

  /** The rows so far with their counts, most frequent first (the progress line's "outcomes so far"). */
  counts(): Array<{ outcome: string; grade: Grade; count: number }> {
    return this.sortedRows().map(({ outcome, grade, count }) => ({ outcome, grade, count }));
  }

  add(record: IterationRecord): void {
    this.addRow({
      outcome: record.outcome,
      grade: record.grade,
      description: record.description,
      bugcheck: record.bugcheck,
      count: 1,
      firstIterations: [record.index],
    });
  }

  addRow(row: OutcomeRow): void {
    // the same text may grade differently (no outcomes declared: the checks decide): one row each
    const key = `${row.grade}\u0000${row.outcome}`;
    const existing = this.rows.get(key);
    if (!existing) {
      this.rows.set(key, { ...row, firstIterations: [...row.firstIterations].sort((a, b) => a - b).slice(0, FIRST_SEEDS) });
      return;
    }
    existing.count += row.count;
    existing.firstIterations = [...existing.firstIterations, ...row.firstIterations].sort((a, b) => a - b).slice(0, FIRST_SEEDS);
  }

  addRanges(ranges: readonly IterationRange[]): void {
    this.ranges = joinRanges([...this.ranges, ...ranges]);
  }

  /** The iterations whose records were added, as ranges (the caller adds a batch's range with its records). */
  completed(): Array<[number, number]> {
    return this.ranges.map(([start, end]) => [start, end]);
  }

  sortedRows(): OutcomeRow[] {
    return [...this.rows.values()].sort((a, b) => b.count - a.count || a.firstIterations[0]! - b.firstIterations[0]! || (a.outcome < b.outcome ? -1 : 1));
  }
}

export interface ReportExtras {
  shard: Shard | null;
  stoppedBy: ExploreReport['stoppedBy'];
  workers: number;
  hostTimeMs: number;
  /** the replay line for a seed (null: not replayable by a command) */
  replayCommand: (seed: number) => string | null;
  replayFiles?: ReadonlyMap<string, string>;
  /** the iterations asked for (the shard's slice); fewer completed makes the report incomplete */
  planned: number;
}

export function buildReport(config: ExploreConfig, table: OutcomeTable, extras: ReportExtras): ExploreReport {
  const completed = table.completed();
  const run = rangesSize(completed);
  const outcomes = table.sortedRows().map((row): OutcomeReportRow => {
    const firstSeeds = row.firstIterations.map((index) => iterationSeed(config.seed, index));
    const failing = isFailure(row.grade, row.bugcheck);
    return {
      ...row,
      share: run === 0 ? 0 : row.count / run,
      firstSeeds,
      replayCommand: failing && firstSeeds.length > 0 ? extras.replayCommand(firstSeeds[0]!) : null,
      replayFile: extras.replayFiles?.get(rowKey(row)) ?? null,
    };
  });
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    ...config,
    shard: extras.shard,
    completed,
    iterationsRun: run,
    incomplete: run < extras.planned,
    stoppedBy: extras.stoppedBy,
    outcomes,
    failedIterations: outcomes.filter((row) => isFailure(row.grade, row.bugcheck)).reduce((sum, row) => sum + row.count, 0),
    unknownIterations: outcomes.filter((row) => row.grade === 'unknown').reduce((sum, row) => sum + row.count, 0),
    workers: extras.workers,
    hostTimeMs: Math.round(extras.hostTimeMs * 10) / 10,
    iterationsPerSecond: extras.hostTimeMs > 0 ? Math.round((run / (extras.hostTimeMs / 1000)) * 10) / 10 : 0,
  };
}

/** A row's identity: its grade and outcome. */
export function rowKey(row: Pick<OutcomeRow, 'grade' | 'outcome'>): string {
  return `${row.grade}\u0000${row.outcome}`;
}

/** Whether the report fails the exploration (exit 2). */
export function reportFailed(report: Pick<ExploreReport, 'outcomes'>): boolean {
  return report.outcomes.some((row) => isFailure(row.grade, row.bugcheck));
}

export const CONFIG_KEYS: ReadonlyArray<keyof ExploreConfig> = [
  'scenario',
  'scenarioName',
  'cpus',
  'durationNs',
  'clockMs',
  'strategy',
  'depth',
  'seed',
  'iterations',
];
