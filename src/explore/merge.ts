/**
 * `irqlab explore --merge FILE…`: add the JSON tables of one exploration's shards (or of any
 * disjoint parts of it) together. The result is the table the unsharded exploration prints: counts
 * add up, each outcome keeps the lowest iterations that showed it. Tables of different
 * explorations (another scenario, seed, CPU count, duration, clock, strategy or iteration count)
 * and overlapping tables are refused, one line naming the file. Pure apart from reading the files.
 */

import { readFileSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { exploreReplayCommand } from './format.js';
import { GRADE_LABELS } from './outcome.js';
import type { Grade } from './outcome.js';
import type { IterationRange } from './plan.js';
import { CONFIG_KEYS, OutcomeTable, REPORT_FORMAT, REPORT_VERSION, buildReport, rowKey } from './table.js';
import type { ExploreConfig, ExploreReport } from './table.js';

/** Read one table written by `irqlab explore --json` or `--out`; every problem is a UsageError naming the file. */
export function readExploreReport(path: string): ExploreReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read '${path}': ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`'${path}' is not JSON (give tables written by 'irqlab explore --json' or --out)`);
  }
  const report = value as Partial<ExploreReport> | null;
  if (typeof report !== 'object' || report === null || report.format !== REPORT_FORMAT) {
    throw new UsageError(`'${path}' is not an irqlab explore table (its format is not '${REPORT_FORMAT}')`);
  }
  if (report.version !== REPORT_VERSION) {
    throw new UsageError(`'${path}' is an explore table of version ${String(report.version)}; this irqlab reads version ${REPORT_VERSION}`);
  }
  const bad = (what: string): never => {
    throw new UsageError(`'${path}' is not a well-formed explore table: ${what}`);
  };
  if (!Array.isArray(report.completed) || !report.completed.every((r) => Array.isArray(r) && r.length === 2 && r.every(Number.isSafeInteger)))
    bad('completed must be [start, end] ranges');
  if (!Array.isArray(report.outcomes)) bad('outcomes must be an array');
  for (const row of report.outcomes!) {
    if (typeof row.outcome !== 'string' || !Number.isSafeInteger(row.count) || !Array.isArray(row.firstIterations) || !(row.grade in GRADE_LABELS))
      bad('an outcome row lacks outcome, count, grade or firstIterations');
  }
  for (const key of CONFIG_KEYS) if (!(key in report)) bad(`'${key}' is missing`);
  return report as ExploreReport;
}

/** Add tables together (at least one). `names`: the files, for messages. */
export function mergeReports(reports: readonly ExploreReport[], names: readonly string[]): ExploreReport {
  const base = reports[0];
  if (!base) throw new UsageError('--merge needs at least one table');
  const config = Object.fromEntries(CONFIG_KEYS.map((key) => [key, base[key]])) as unknown as ExploreConfig;
  const table = new OutcomeTable();
  const replayFiles = new Map<string, { index: number; file: string }>();
  let hostTimeMs = 0;
  let workers = 0;
  for (let i = 0; i < reports.length; i++) {
    const report = reports[i]!;
    for (const key of CONFIG_KEYS) {
      if (JSON.stringify(report[key]) !== JSON.stringify(config[key])) {
        throw new UsageError(
          `'${names[i]}' is a table of another exploration than '${names[0]}': its ${key} is ${JSON.stringify(report[key])}, not ${JSON.stringify(config[key])}`,
        );
      }
    }
    try {
      table.addRanges(report.completed as IterationRange[]);
    } catch (error) {
      throw new UsageError(`'${names[i]}' overlaps another table: ${(error as Error).message}`);
    }
    for (const row of report.outcomes) {
      table.addRow({
        outcome: row.outcome,
        grade: row.grade as Grade,
        description: row.description ?? '',
        bugcheck: row.bugcheck === true,
        count: row.count,
        firstIterations: row.firstIterations,
      });
      // the replay file of the lowest first iteration: the one the merged row's first seed names
      const first = row.firstIterations[0];
      const known = replayFiles.get(rowKey(row));
      if (row.replayFile && first !== undefined && (!known || first < known.index)) replayFiles.set(rowKey(row), { index: first, file: row.replayFile });
    }
    // shards ran side by side: the merged run took as long as its longest shard
    hostTimeMs = Math.max(hostTimeMs, report.hostTimeMs ?? 0);
    workers += report.workers ?? 0;
  }
  const completed = table.iterationsRun;
  const incompleteInput = reports.find((report) => report.stoppedBy !== null);
  return buildReport(config, table, {
    shard: null,
    stoppedBy: completed < config.iterations ? (incompleteInput?.stoppedBy ?? null) : null,
    workers,
    hostTimeMs,
    replayCommand: (seed) => exploreReplayCommand(config, seed),
    replayFiles: new Map([...replayFiles].map(([key, { file }]) => [key, file])),
    planned: config.iterations,
  });
}
