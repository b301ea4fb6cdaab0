/**
 * `irqlab explore`: run many seeds of a scenario on a pool of worker threads and print the outcome
 * table (src/explore/), or with --merge add finished tables together. Runs on the main thread
 * (the scenario's code runs only in the pool), so Ctrl-C is always heard: it stops the pool, prints
 * the table of the iterations that completed and exits 130 (SIGTERM: 143).
 *
 * Exit codes (Coyote's): 0 nothing FORBIDDEN and no bugcheck, 1 usage or scenario error, 2 a
 * FORBIDDEN outcome or a bugcheck, 3 internal error, 4 incomplete with --strict.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDefaults, shellQuote } from './args.js';
import type { ExploreArgs } from './explore-args.js';
import type { CliIo } from './main.js';
import type { ProgressStream } from './progress.js';
import { ExitCode } from '../machine/result.js';
import { DEFAULT_PCT_DEPTH } from '../contract/schedule.js';
import type { ScheduleOptions } from '../contract/schedule.js';
import { ExploreInterrupted, explore } from '../explore/engine.js';
import type { ExploreProgress, ExploreRun } from '../explore/engine.js';
import { exploreReplayCommand, formatExploreReport } from '../explore/format.js';
import { Journal } from '../explore/journal.js';
import { mergeReports, readExploreReport } from '../explore/merge.js';
import { GRADE_LABELS } from '../explore/outcome.js';
import type { ExploreSpec } from '../explore/pool-worker.js';
import { irqlabVersion, writeReplayFile } from '../explore/replay-file.js';
import { reportFailed, rowKey } from '../explore/table.js';
import type { ExploreReport } from '../explore/table.js';
import { ScenarioError, UsageError } from '../util/errors.js';

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof SIGNAL_EXIT_CODES;

/** The exit code a finished table gives. */
export function exploreExitCode(report: ExploreReport, strict: boolean): number {
  if (reportFailed(report)) return ExitCode.SystemFailed;
  if (strict && report.incomplete) return ExitCode.Incomplete;
  return ExitCode.Ok;
}

export async function exploreCommand(args: ExploreArgs, io: CliIo, handleSignals: boolean): Promise<number> {
  if (args.merge) return mergeCommand(args, io);
  const scenario = args.scenario!;
  const controller = new AbortController();
  let signalled: HandledSignal | null = null;
  const onSignal = (signal: HandledSignal): void => {
    // a second signal does not wait for the pool any more
    if (signalled !== null) process.exit(SIGNAL_EXIT_CODES[signal]);
    signalled = signal;
    controller.abort();
  };

  const outDir = args.out;
  if (outDir !== undefined) {
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        `--out '${outDir}' cannot be a folder here: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : (error as Error).message}`,
      );
    }
  }
  // the journal: under --out, kept; else a temporary one, removed unless the emulator failed
  const temporaryJournalDir = outDir === undefined ? mkdtempSync(join(tmpdir(), 'irqlab-explore-')) : null;
  const journalPath = outDir !== undefined ? join(outDir, 'journal.log') : join(temporaryJournalDir!, 'journal.log');
  const journal = Journal.open(journalPath);
  journal.line(`# irqlab explore ${commandLine(args)} (${new Date().toISOString()})`);

  const schedule: ScheduleOptions | undefined =
    args.strategy === undefined
      ? undefined
      : args.strategy === 'pct'
        ? { strategy: 'pct', depth: args.depth ?? DEFAULT_PCT_DEPTH }
        : { strategy: args.strategy };
  const spec: ExploreSpec = {
    scenario,
    journal: journalPath,
    ...(args.cpus !== undefined ? { cpus: args.cpus } : {}),
    ...(args.durationNs !== undefined ? { durationNs: args.durationNs } : {}),
    ...(args.clockMs !== undefined ? { clockMs: args.clockMs } : {}),
    ...(schedule !== undefined ? { schedule } : {}),
  };
  const progress = createExploreProgress(scenario, io.stderr, args.verbose);
  let keepJournal = false;
  if (handleSignals) for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) process.on(signal, onSignal);
  try {
    let run: ExploreRun;
    try {
      run = await explore({
        spec,
        iterations: args.iterations,
        seed: args.seed,
        workers: args.workers ?? hostDefaults().availableParallelism,
        ...(args.shard ? { shard: args.shard } : {}),
        ...(args.timeLimitMs !== undefined ? { timeLimitMs: args.timeLimitMs } : {}),
        signal: controller.signal,
        onProgress: (state) => progress.update(state),
        onPrepared: (info) => {
          if (args.verbose) io.stderr.write(`irqlab: ${info.name}: ${info.cpus} CPUs, ${info.durationNs / 1e6} ms per iteration; journal ${journalPath}\n`);
        },
        replayCommand: exploreReplayCommand,
      });
    } catch (error) {
      progress.clear();
      if (error instanceof ExploreInterrupted && signalled !== null) {
        io.stderr.write(`irqlab: interrupted (${signalled}) before the first iteration\n`);
        return SIGNAL_EXIT_CODES[signalled];
      }
      // a failure of the emulator itself: the journal's unfinished 'start' lines name the seeds that were running
      if (!(error instanceof UsageError || error instanceof ScenarioError)) {
        keepJournal = true;
        if (error instanceof Error) error.message = `${error.message} (the journal ${journalPath} lists every seed started)`;
      }
      throw error;
    } finally {
      progress.clear();
    }
    const { report } = run;
    if (outDir !== undefined) writeOutputs(outDir, run, args, spec);
    journal.line(
      `# ${report.iterationsRun} iterations, ${report.failedIterations} FORBIDDEN or crashed${report.stoppedBy ? `, stopped: ${report.stoppedBy}` : ''}`,
    );
    io.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatExploreReport(report));
    if (signalled !== null) {
      io.stderr.write(`irqlab: interrupted (${signalled}): the table has the ${report.iterationsRun} iterations that completed\n`);
      return SIGNAL_EXIT_CODES[signalled];
    }
    return exploreExitCode(report, args.strict);
  } finally {
    if (handleSignals) for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) process.removeListener(signal, onSignal);
    journal.close();
    if (temporaryJournalDir !== null && !keepJournal) rmSync(temporaryJournalDir, { recursive: true, force: true });
  }
}

/** --out: report.json, and a replay file for the first seed of each FORBIDDEN outcome and bugcheck. */
function writeOutputs(outDir: string, run: ExploreRun, args: ExploreArgs, spec: ExploreSpec): void {
  const { report, info, firstFailures } = run;
  if (info.identity !== null) {
    for (const row of report.outcomes) {
      const record = firstFailures.get(rowKey(row));
      if (!record) continue;
      row.replayFile = writeReplayFile(outDir, {
        scenario: info.identity,
        run: {
          mode: 'deterministic',
          cpus: report.cpus,
          durationNs: report.durationNs,
          ...(report.clockMs !== null ? { clockIntervalMs: report.clockMs } : {}),
        },
        seed: record.seed,
        schedule: spec.schedule ?? { strategy: 'random' },
        recorded: {
          outcome: record.outcome,
          grade: record.grade,
          bugcheck: record.bugcheckCode !== null ? { code: record.bugcheckCode, name: record.outcome.replace(/^0x[0-9A-F]+ /, '') } : null,
          traceHash: record.traceHash,
          emulatedTimeNs: record.emulatedTimeNs,
        },
        created: { at: new Date().toISOString(), by: `irqlab explore ${commandLine(args)}`, irqlabVersion: irqlabVersion() },
      });
    }
  }
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
}

async function mergeCommand(args: ExploreArgs, io: CliIo): Promise<number> {
  const files = args.merge!;
  const report = mergeReports(
    files.map((file) => readExploreReport(file)),
    files,
  );
  io.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatExploreReport(report));
  return exploreExitCode(report, args.strict);
}

/** The explore command line as given (for the journal and replay files). */
function commandLine(args: ExploreArgs): string {
  const parts = [shellQuote(args.scenario ?? ''), '-i', String(args.iterations), '--seed', String(args.seed)];
  if (args.cpus !== undefined) parts.push('--cpus', String(args.cpus));
  if (args.durationNs !== undefined) parts.push('--duration', `${args.durationNs / 1e6}ms`);
  if (args.clockMs !== undefined) parts.push('--clock', String(args.clockMs));
  if (args.strategy !== undefined) parts.push('--strategy', args.strategy);
  if (args.depth !== undefined) parts.push('--depth', String(args.depth));
  if (args.shard) parts.push('--shard', `${args.shard.index}/${args.shard.count}`);
  if (args.timeLimitMs !== undefined) parts.push('--time-limit', String(args.timeLimitMs / 1000));
  return parts.join(' ');
}

export interface ExploreProgressLine {
  update(progress: ExploreProgress): void;
  clear(): void;
}

const TTY_INTERVAL_MS = 100;
const LOG_INTERVAL_MS = 1000;

/**
 * The progress of an exploration on stderr: on a terminal one line redrawn at most 10 times a
 * second (iterations done, rate, ETA, the outcomes so far), erased at the end; elsewhere, with
 * --verbose, a plain line at the first batch and then at most once a second; else nothing.
 */
export function createExploreProgress(
  label: string,
  stream: ProgressStream,
  verbose: boolean,
  now: () => number = () => performance.now(),
): ExploreProgressLine {
  let last = -Infinity;
  let drawn = false;
  if (!stream.isTTY && !verbose) return { update: () => {}, clear: () => {} };
  return {
    update(progress) {
      const t = now();
      if (t - last < (stream.isTTY ? TTY_INTERVAL_MS : LOG_INTERVAL_MS)) return;
      last = t;
      const columns = stream.columns && stream.columns >= 20 ? stream.columns : 80;
      const line = exploreProgressLine(label, progress, stream.isTTY ? columns : 1000);
      if (stream.isTTY) {
        stream.write(`\r${line}\x1b[K`);
        drawn = true;
      } else {
        stream.write(`${line}\n`);
      }
    },
    clear() {
      if (!drawn) return;
      drawn = false;
      stream.write('\r\x1b[K');
    },
  };
}

/** `irqlab explore lost-update  412/1000 41%  243/s  ETA 2s  plain lost 1000 ×300, checks passed ×112`, at most `columns - 1` wide. */
export function exploreProgressLine(label: string, progress: ExploreProgress, columns: number): string {
  const { done, planned, elapsedMs } = progress;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? (planned - done) / rate : NaN;
  const pct = planned > 0 ? Math.floor((done / planned) * 100) : 0;
  const outcomes = progress.counts
    .slice(0, 4)
    .map((row) => `${row.grade === 'acceptable' ? '' : `${GRADE_LABELS[row.grade]} `}${row.outcome} ×${row.count}`)
    .join(', ');
  const line = `irqlab explore ${label}  ${done}/${planned} ${pct}%  ${rate.toFixed(rate < 10 ? 1 : 0)}/s  ETA ${Number.isFinite(eta) ? formatSeconds(eta) : '?'}  ${outcomes}${progress.counts.length > 4 ? ', …' : ''}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
