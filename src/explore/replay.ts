/**
 * Running a replay file (src/explore/replay-file.ts): its scenario, refused when it changed, run
 * with the file's options (deterministic mode, CPUs, seed, clock, strategy, explicit decisions,
 * duration), its outcome and grade computed as `irqlab explore` computes them, and whether that is
 * the recorded outcome again. `irqlab replay` runs it on workers, `irqlab minimize` in process, and
 * replayFile() is the same from code (Coyote's users asked for replay outside the CLI: coyote#23).
 * Main thread only.
 */

import { locateReplayScenario, readReplayFile } from './replay-file.js';
import type { ReplayFile, ReplayGrade } from './replay-file.js';
import { outcomeOfRun } from './outcome.js';
import { loadScenario } from '../scenario/load.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario } from '../scenario/validate.js';
import type { ScenarioDefinition } from '../scenario/define.js';
import type { ScheduleOptions } from '../contract/schedule.js';
import type { RecordedDecision } from '../contract/decision-source.js';
import type { RunResult } from '../machine/result.js';
import type { RunBackend, RunOptions } from '../machine/execute.js';

/** One run of a replay file's scenario and what it showed. */
export interface RecordedRun {
  result: RunResult;
  outcome: string;
  grade: ReplayGrade;
}

export interface RecordedRunOptions {
  backend: RunBackend;
  /** the schedule to run (default: the file's) */
  schedule?: ScheduleOptions;
  /** the emulated duration (default: the file's) */
  durationNs?: number;
  /** the reproducing command the result reports */
  command: string;
  traceFile?: string;
  verbose?: boolean;
  onProgress?: (emulatedNs: number, durationNs: number) => void;
  /** the in-process backend: every decision the run took */
  onDecisions?: (decisions: RecordedDecision[]) => void;
  /** wraps the validated definition (the CLI's: tell the supervisor when the scenario's own code runs) */
  watch?: (definition: ScenarioDefinition) => ScenarioDefinition;
}

/**
 * Run the replay file's scenario (loaded from where locateReplayScenario found it) with the file's
 * options: deterministic mode, its CPUs, seed, clock, and the schedule and duration given or the
 * file's. The same path as runScenario (validate, compile, execute), with the view of the run's
 * end kept for outcome().
 */
export async function runRecorded(file: ReplayFile, loaded: LoadedScenario, options: RecordedRunOptions): Promise<RecordedRun> {
  const machine = loaded.definition.machine as { arch?: unknown } | undefined;
  const validated = validateScenario(loaded.definition, { cpus: file.run.cpus, arch: machine?.arch === 'x86' ? 'x86' : 'x64' });
  const definition = options.watch ? options.watch(validated) : validated;
  const runOptions: RunOptions = {
    cpus: file.run.cpus,
    mode: 'deterministic',
    seed: file.seed,
    durationNs: options.durationNs ?? file.run.durationNs,
    ...(file.run.clockIntervalMs !== undefined ? { clockIntervalMs: file.run.clockIntervalMs } : {}),
    schedule: options.schedule ?? file.schedule,
    verbose: options.verbose ?? false,
    command: options.command,
    backend: options.backend,
    ...(options.traceFile !== undefined ? { traceFile: options.traceFile } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onDecisions ? { onDecisions: options.onDecisions } : {}),
  };
  // the machine is most of the load time: imported when a run needs it
  const { compileForRun, executeCompiled } = await import('../machine/execute.js');
  const { result, view } = await executeCompiled(definition, compileForRun(definition, loaded.modulePath, runOptions), loaded.modulePath, runOptions);
  const { outcome, grade } = outcomeOfRun(definition, result, view);
  return { result, outcome, grade };
}

/** Load the scenario a replay file names, refusing one that changed (replay-file.ts). */
export async function loadRecordedScenario(file: ReplayFile, replayPath: string): Promise<LoadedScenario> {
  return loadScenario(locateReplayScenario(file, replayPath));
}

export interface ReplayVerdict {
  /** the run showed the recorded outcome */
  reproduced: boolean;
  /** and the recorded trace hash: the same run, event for event */
  sameTrace: boolean;
  recorded: { outcome: string; grade: ReplayGrade; traceHash: string };
  replayed: { outcome: string; grade: ReplayGrade; traceHash: string };
}

export function replayVerdict(file: ReplayFile, run: RecordedRun): ReplayVerdict {
  return {
    reproduced: run.outcome === file.recorded.outcome,
    sameTrace: run.result.traceHash === file.recorded.traceHash,
    recorded: { outcome: file.recorded.outcome, grade: file.recorded.grade, traceHash: file.recorded.traceHash },
    replayed: { outcome: run.outcome, grade: run.grade, traceHash: run.result.traceHash },
  };
}

export interface ReplayFileOptions {
  /** 'workers' (default, as `irqlab replay`) or 'in-process' (the same run in this thread) */
  backend?: RunBackend;
  /** write a Chrome trace of the run here */
  traceFile?: string;
}

/**
 * Replay a replay file from code: `const { reproduced, result } = await replayFile('x.replay.json')`.
 * Throws a UsageError (one line) for a file that is not a replay file, has an unknown version, or
 * names a scenario that changed since it was written.
 */
export async function replayFile(path: string, options: ReplayFileOptions = {}): Promise<RecordedRun & ReplayVerdict & { file: ReplayFile }> {
  const file = readReplayFile(path);
  const loaded = await loadRecordedScenario(file, path);
  const run = await runRecorded(file, loaded, {
    backend: options.backend ?? 'workers',
    command: `irqlab replay ${path}`,
    ...(options.traceFile !== undefined ? { traceFile: options.traceFile } : {}),
  });
  return { ...run, ...replayVerdict(file, run), file };
}
