/**
 * `irqlab explore`'s text output: the outcome table (jcstress's observed state, occurrences,
 * expectation, interpretation) and a replay line per FORBIDDEN outcome and bugcheck. Pure.
 */

import { reproduceCommand } from '../cli/args.js';
import { GRADE_LABELS, isFailure } from './outcome.js';
import { rangesSize } from './plan.js';
import { iterationSeed } from './plan.js';
import type { ExploreConfig, ExploreReport } from './table.js';

/** `irqlab run <scenario> --cpus N --mode deterministic --seed S --duration Dms [--clock C] [--strategy X [--depth d]]`: replays one iteration. */
export function exploreReplayCommand(config: ExploreConfig, seed: number): string {
  const line = reproduceCommand({
    scenario: config.scenario,
    cpus: config.cpus,
    mode: 'deterministic',
    seed,
    durationNs: config.durationNs,
    ...(config.clockMs !== null ? { clockMs: config.clockMs } : {}),
  });
  if (config.strategy === 'random') return line;
  return `${line} --strategy ${config.strategy}${config.strategy === 'pct' && config.depth !== null ? ` --depth ${config.depth}` : ''}`;
}

function formatMs(ns: number): string {
  return `${Number((ns / 1e6).toPrecision(6))}ms`;
}

function percent(share: number): string {
  if (share > 0 && share < 0.001) return '<0.1%';
  return `${(share * 100).toFixed(1)}%`;
}

/** The seeds a report covers, as the heading says them: `seeds 1–1000`, or the ranges. */
function seedSpan(report: ExploreReport): string {
  if (report.completed.length === 0) return 'no iterations completed';
  const spans = report.completed.slice(0, 3).map(([start, end]) => {
    const first = iterationSeed(report.seed, start);
    const last = iterationSeed(report.seed, end - 1);
    return first === last ? `${first}` : `${first}–${last}`;
  });
  return `seed${rangesSize(report.completed) > 1 ? 's' : ''} ${spans.join(', ')}${report.completed.length > 3 ? ', …' : ''}`;
}

/** The table and its replay lines, as `irqlab explore` prints them. */
export function formatExploreReport(report: ExploreReport): string {
  const lines: string[] = [];
  const strategy = report.strategy === 'pct' && report.depth !== null ? `pct, depth ${report.depth}` : report.strategy;
  const shard = report.shard ? `, shard ${report.shard.index}/${report.shard.count}` : '';
  lines.push(
    `irqlab explore ${report.scenario}: ${report.iterationsRun} iteration${report.iterationsRun === 1 ? '' : 's'} (${seedSpan(report)}${shard}), ${report.cpus} CPU${report.cpus === 1 ? '' : 's'}, ${formatMs(report.durationNs)} each, strategy ${strategy}`,
  );
  if (report.hostTimeMs > 0) {
    lines.push(
      `  ${report.workers} worker${report.workers === 1 ? '' : 's'}, ${(report.hostTimeMs / 1000).toFixed(1)} s of host time, ${report.iterationsPerSecond} iterations/s`,
    );
  }
  lines.push('');
  const header = ['Outcome', 'Count', 'Share', 'Grade', 'First seeds', 'Description'];
  const rows = report.outcomes.map((row) => [
    row.outcome,
    String(row.count),
    percent(row.share),
    GRADE_LABELS[row.grade],
    row.firstSeeds.join(', '),
    row.description || (row.grade === 'unknown' ? '(no grade matches this outcome)' : ''),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const numeric = new Set([1, 2]);
  const render = (cells: string[]): string =>
    `  ${cells
      .map((cell, column) => (column === cells.length - 1 ? cell : numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')}`.trimEnd();
  lines.push(render(header));
  for (const row of rows) lines.push(render(row));
  if (rows.length === 0) lines.push('  (no iteration completed)');

  const failing = report.outcomes.filter((row) => isFailure(row.grade, row.bugcheck));
  if (failing.length > 0) lines.push('');
  for (const row of failing) {
    const what = row.grade === 'forbidden' ? 'FORBIDDEN' : `${GRADE_LABELS[row.grade]} bugcheck`;
    lines.push(`${what} ${row.outcome} (${row.count} of ${report.iterationsRun}): replay with`);
    lines.push(`  ${row.replayCommand ?? '(no command: the scenario was given as a module)'}`);
    if (row.replayFile) lines.push(`  replay file: ${row.replayFile} (irqlab replay ${row.replayFile})`);
  }
  lines.push('');
  lines.push(verdict(report));
  return `${lines.join('\n')}\n`;
}

/** The closing line: what was found, and whether the exploration covered what it was asked to. */
export function verdict(report: ExploreReport): string {
  const failing = report.outcomes.filter((row) => isFailure(row.grade, row.bugcheck));
  const parts: string[] = [];
  if (failing.length > 0) {
    parts.push(
      `${report.failedIterations} of ${report.iterationsRun} iterations FORBIDDEN or crashed (${failing.length} outcome${failing.length === 1 ? '' : 's'})`,
    );
  } else {
    parts.push(`nothing FORBIDDEN in ${report.iterationsRun} iteration${report.iterationsRun === 1 ? '' : 's'}`);
  }
  if (report.unknownIterations > 0) parts.push(`${report.unknownIterations} UNKNOWN (add grades for them to the scenario's outcomes)`);
  if (report.incomplete) {
    const why =
      report.stoppedBy === 'time-limit'
        ? 'the time limit stopped it'
        : report.stoppedBy === 'interrupted'
          ? 'interrupted'
          : 'the tables do not cover every iteration';
    parts.push(`incomplete: ${why}`);
  }
  return `Result: ${parts.join('; ')}`;
}
