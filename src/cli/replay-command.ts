/**
 * `irqlab replay FILE`: re-run the deterministic run a replay file records (src/explore/replay-file.ts)
 * on worker threads, as `irqlab run --mode deterministic` would (src/explore/replay.ts), print the
 * usual summary, and say whether the run showed the recorded outcome again (and the recorded trace
 * hash: the same run, event for event).
 *
 * Exit codes, as `irqlab explore` counts one run: 2 when the run shows a FORBIDDEN outcome or a
 * bugcheck (a replayed failure reproduces with 2), 0 when it does not (a failure that no longer
 * shows); 1 for a file that is not a replay file, has an unknown version or names a scenario that
 * changed; 3 internal error.
 */

import type { CliIo } from './main.js';
import type { ReplayArgs } from './replay-args.js';
import { formatBugcheck, formatSummary, formatDuration } from './format.js';
import { createProgress } from './progress.js';
import { shellQuote } from './args.js';
import { readReplayFile } from '../explore/replay-file.js';
import type { ReplayFile, ReplayGrade } from '../explore/replay-file.js';
import { GRADE_LABELS, isFailure } from '../explore/outcome.js';
import { loadRecordedScenario, replayVerdict, runRecorded } from '../explore/replay.js';
import type { RecordedRun, ReplayVerdict } from '../explore/replay.js';
import { ExitCode } from '../machine/result.js';
import { sealInterruptedTrace } from '../machine/chrome-trace.js';
import type { ScenarioDefinition } from '../scenario/define.js';
import { MODULE_TOP_LEVEL, inScenarioCodeAsync, watchScenarioCode } from './scenario-code.js';
import type { ScenarioCodeListener } from './scenario-code.js';

// the run of a replay file is src/explore/replay.ts's; inspect and minimize import it from here too
export { loadRecordedScenario, runRecorded } from '../explore/replay.js';
export type { RecordedRun, RecordedRunOptions } from '../explore/replay.js';

/** `irqlab replay <file>`, shell-quoted: the command that replays a replay file. */
export function replayCommandLine(path: string): string {
  return `irqlab replay ${shellQuote(path)}`;
}

/** `'lost update' (FORBIDDEN)` */
export function outcomeLabel(outcome: string, grade: ReplayGrade): string {
  return `'${outcome}' (${GRADE_LABELS[grade]})`;
}

export async function replayCommand(args: ReplayArgs, io: CliIo, handleSignals: boolean, listener?: ScenarioCodeListener): Promise<number> {
  const file = readReplayFile(args.file);
  const loaded = await inScenarioCodeAsync(listener, file.scenario.name, MODULE_TOP_LEVEL, () => loadRecordedScenario(file, args.file));
  const progress = createProgress(file.scenario.name, io.stderr);
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    progress.clear();
    // the trace is written as the run goes, whole events at a time: close its JSON so it still opens
    if (args.trace !== undefined) sealInterruptedTrace(args.trace);
    io.stderr.write(`irqlab: interrupted (${signal})\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const command = replayCommandLine(args.file);
  let run: RecordedRun;
  try {
    if (args.verbose) io.stderr.write(`irqlab: replaying ${describeReplay(file)}\n`);
    run = await runRecorded(file, loaded, {
      backend: 'workers',
      command,
      verbose: args.verbose,
      ...(args.trace !== undefined ? { traceFile: args.trace } : {}),
      ...(listener ? { watch: (definition: ScenarioDefinition) => watchScenarioCode(definition, listener) } : {}),
      onProgress: (emulatedNs, durationNs) => progress.update(emulatedNs, durationNs),
    });
  } finally {
    progress.clear();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const { result } = run;
  // the run's own replay line would be an `irqlab run` without the schedule: this file replays it
  result.replayCommand = command;
  if (result.bugcheck) result.bugcheck.replayCommand = command;
  const verdict = replayVerdict(file, run);
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ replay: { file: args.file, ...verdict }, result }, null, 2)}\n`);
  } else {
    io.stdout.write(formatSummary(result));
    if (result.bugcheck) io.stdout.write(`\n${formatBugcheck(result)}`);
    io.stdout.write(`\n${formatVerdict(file, run, verdict)}\n`);
  }
  return isFailure(run.grade, result.bugcheck !== null) ? ExitCode.SystemFailed : ExitCode.Ok;
}

function formatVerdict(file: ReplayFile, run: RecordedRun, verdict: ReplayVerdict): string {
  if (!verdict.reproduced) {
    return `NOT REPRODUCED: the replay shows ${outcomeLabel(run.outcome, run.grade)}; ${describeReplay(file)} recorded ${outcomeLabel(file.recorded.outcome, file.recorded.grade)}`;
  }
  const trace = verdict.sameTrace
    ? `the same trace hash ${run.result.traceHash}: the same run, event for event`
    : `trace hash ${run.result.traceHash}, recorded ${file.recorded.traceHash}: the same outcome by another run`;
  return `REPRODUCED ${outcomeLabel(run.outcome, run.grade)}, ${trace}`;
}

/** `lost-update, seed 42, pct depth 3, 2 CPUs, 400.000 ms (3 explicit decisions)` */
export function describeReplay(file: ReplayFile): string {
  const schedule = file.schedule;
  const strategy: string[] = [schedule.strategy];
  if (schedule.depth !== undefined) strategy.push(`depth ${schedule.depth}`);
  const decisions = schedule.decisions !== undefined ? ` (${schedule.decisions.length} explicit decision${schedule.decisions.length === 1 ? '' : 's'})` : '';
  return `${file.scenario.name}, seed ${file.seed}, ${strategy.join(' ')}, ${file.run.cpus} CPU${file.run.cpus === 1 ? '' : 's'}, ${formatDuration(file.run.durationNs)}${decisions}`;
}
