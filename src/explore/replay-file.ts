/**
 * Replay files: one deterministic run that showed an outcome worth keeping (a FORBIDDEN outcome or
 * a bugcheck found by `irqlab explore`, or a schedule `irqlab minimize` shrank), written as a small
 * versioned JSON file that `irqlab replay FILE` re-runs exactly and `irqlab minimize FILE` shrinks.
 *
 * What the file pins, and why each part is there:
 *   - the scenario: a built-in by name, with the irqlab version that ran it (a built-in is code of
 *     irqlab itself, so the version is its identity: another version may have changed it); a file
 *     by its absolute path and the path as given, with the sha256 of its bytes (only the file
 *     itself: modules it imports are not hashed). A replay of a scenario that is not the same any
 *     more would be another run under the same name, so `replay` refuses it.
 *   - every run option that changes a deterministic run: CPUs, emulated duration, clock interval;
 *     the strategy with its parameters (PCT depth, perturbation bounds) and the seed; explicit
 *     decisions when the schedule was minimized (every decision point not listed takes its
 *     neutral value: src/contract/schedule.ts).
 *   - what the run showed: the outcome's text and grade, the bugcheck, the trace hash (so that a
 *     replay can say whether it is the same run event for event, not only the same outcome).
 *   - when and by what it was made.
 * Main thread only.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadedScenario } from '../scenario/load.js';
import { DECISION_KINDS, STRATEGY_NAMES } from '../contract/schedule.js';
import type { DecisionKind, PerturbationBounds, ScheduleDecision, ScheduleOptions, StrategyName } from '../contract/schedule.js';
import { MAX_CPUS, MAX_SEED } from '../cli/args.js';
import { UsageError } from '../util/errors.js';

/** The `format` field of every replay file. */
export const REPLAY_FORMAT = 'irqlab-replay';
/** The version this irqlab writes and reads (a file of another version is refused, not guessed at). */
export const REPLAY_VERSION = 1;
/** The ending of a replay file's name. */
export const REPLAY_EXTENSION = '.replay.json';

/** How an outcome was graded (the scenario's `outcomes`); 'unknown': no grade matched (jcstress's UNKNOWN). */
export type ReplayGrade = 'acceptable' | 'interesting' | 'forbidden' | 'unknown';
const GRADES: readonly ReplayGrade[] = ['acceptable', 'interesting', 'forbidden', 'unknown'];

export type ReplayScenario =
  | {
      kind: 'builtin';
      /** the built-in's name (`irqlab list`) */
      name: string;
      /** the irqlab version that ran it: a built-in is identified by its name and irqlab's version */
      irqlabVersion: string;
    }
  | {
      kind: 'file';
      /** the scenario's `name` (for reading the file and naming replay files) */
      name: string;
      /** the file's absolute path */
      path: string;
      /** the path as it was given on the command line */
      given: string;
      /** sha256 of the file's bytes, hex */
      sha256: string;
    };

/** The run options of the recorded run (deterministic mode: every other option is about parallel mode or output). */
export interface ReplayRun {
  mode: 'deterministic';
  cpus: number;
  durationNs: number;
  /** --clock, when the run overrode the scenario's clock interval */
  clockIntervalMs?: number;
}

/** What the recorded run showed. */
export interface ReplayOutcome {
  /** the outcome's text, as the outcome table shows it (a bugcheck: named by its code) */
  outcome: string;
  grade: ReplayGrade;
  bugcheck: { code: number; name: string } | null;
  /** the recorded run's trace hash: a replay with the same hash is the same run, event for event */
  traceHash: string;
  emulatedTimeNs: number;
}

/** How a minimized file came about. */
export interface ReplayMinimization {
  /** the replay file it was minimized from, as given */
  from: string;
  /** non-neutral decisions: in the original schedule, and left */
  decisions: { before: number; after: number };
  durationNs: { before: number; after: number };
  /** test runs tried */
  runs: number;
  /** false when --max-runs stopped the search before it was done (the result still shows the outcome) */
  complete: boolean;
}

/** What a writer supplies: everything but the format and version. */
export interface ReplayRecord {
  scenario: ReplayScenario;
  run: ReplayRun;
  seed: number;
  schedule: ScheduleOptions;
  recorded: ReplayOutcome;
  created: {
    /** ISO 8601 */
    at: string;
    /** what made it: 'irqlab explore', 'irqlab minimize', with the command line where there is one */
    by: string;
    irqlabVersion: string;
  };
  minimized?: ReplayMinimization;
}

export interface ReplayFile extends ReplayRecord {
  format: typeof REPLAY_FORMAT;
  version: typeof REPLAY_VERSION;
}

let cachedVersion: string | undefined;

/** irqlab's version (package.json), from the source tree or the build. */
export function irqlabVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = 'unknown';
  for (const relative of ['../../../package.json', '../../package.json']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'irqlab' && pkg.version) {
      cachedVersion = pkg.version;
      break;
    }
  }
  return cachedVersion;
}

export function sha256OfFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * The scenario part of a replay file for a loaded scenario. `given`: the name or path as the user
 * wrote it (a file's is kept beside the absolute path, for a reader and for a moved tree).
 */
export function scenarioIdentity(loaded: LoadedScenario, given: string = loaded.source): ReplayScenario {
  const name = typeof loaded.definition.name === 'string' ? loaded.definition.name : loaded.source;
  if (loaded.kind === 'builtin') return { kind: 'builtin', name: loaded.source, irqlabVersion: irqlabVersion() };
  return { kind: 'file', name, path: loaded.source, given, sha256: sha256OfFile(loaded.source) };
}

/** What replayRecord needs of a run: its options, what it showed, and who asks. */
export interface ReplayRecordInput {
  scenario: ReplayScenario;
  cpus: number;
  durationNs: number;
  /** --clock, when given */
  clockIntervalMs?: number;
  seed: number;
  /** the strategy and its parameters as the run had them (explicit decisions only when it ran with some) */
  schedule: ScheduleOptions;
  outcome: string;
  grade: ReplayGrade;
  result: { bugcheck: { code: number; name: string } | null; traceHash: string; emulatedTimeNs: number };
  /** what made it: the command line (`irqlab explore lost-update -i 1000 --out failures`) */
  by: string;
}

/** A replay record for one run (what `irqlab explore --out` writes for each FORBIDDEN outcome or bugcheck). */
export function replayRecord(input: ReplayRecordInput): ReplayRecord {
  const run: ReplayRun = { mode: 'deterministic', cpus: input.cpus, durationNs: input.durationNs };
  if (input.clockIntervalMs !== undefined) run.clockIntervalMs = input.clockIntervalMs;
  const bugcheck = input.result.bugcheck;
  return {
    scenario: input.scenario,
    run,
    seed: input.seed,
    schedule: input.schedule,
    recorded: {
      outcome: input.outcome,
      grade: input.grade,
      bugcheck: bugcheck ? { code: bugcheck.code, name: bugcheck.name } : null,
      traceHash: input.result.traceHash,
      emulatedTimeNs: input.result.emulatedTimeNs,
    },
    created: { at: new Date().toISOString(), by: input.by, irqlabVersion: irqlabVersion() },
  };
}

/** `lost-update-lost-node-pct-seed42.replay.json`: readable, stable for the same run, safe on every file system. */
export function replayFileName(record: Pick<ReplayRecord, 'scenario' | 'recorded' | 'schedule' | 'seed'>, suffix = ''): string {
  const parts = [slug(record.scenario.name, 40), slug(record.recorded.outcome, 40) || 'outcome', record.schedule.strategy, `seed${record.seed}`];
  return `${parts.join('-')}${suffix}${REPLAY_EXTENSION}`;
}

function slug(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
}

/**
 * Write a replay file under `dir` (created when missing) and return its path. The same run written
 * again replaces its file; a different run whose name would collide gets `-2`, `-3`, … instead of
 * overwriting it. The file appears whole or not at all (written beside, then renamed).
 */
export function writeReplayFile(dir: string, record: ReplayRecord): string {
  const file: ReplayFile = { format: REPLAY_FORMAT, version: REPLAY_VERSION, ...record };
  checkReplayFile(file, 'the replay file to write');
  let path = resolve(dir, replayFileName(record));
  for (let n = 2; existsSync(path) && !sameRun(path, file); n++) path = resolve(dir, replayFileName(record, `-${n}`));
  return writeReplayFileAt(path, record);
}

/** Write a replay file at `path`, replacing what is there (irqlab minimize --out). */
export function writeReplayFileAt(path: string, record: ReplayRecord): string {
  const file: ReplayFile = { format: REPLAY_FORMAT, version: REPLAY_VERSION, ...record };
  checkReplayFile(file, 'the replay file to write');
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(temporary, target);
  return target;
}

/** The file at `path` records the same run as `file` (when and by what it was made aside). */
function sameRun(path: string, file: ReplayFile): boolean {
  try {
    const existing = JSON.parse(readFileSync(path, 'utf8')) as Partial<ReplayFile>;
    const strip = ({ created: _created, ...rest }: Partial<ReplayFile>): unknown => rest;
    return JSON.stringify(strip(existing)) === JSON.stringify(strip(file));
  } catch {
    return false;
  }
}

/** Read and check a replay file; every problem is one UsageError line naming the file. */
export function readReplayFile(path: string): ReplayFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `replay file '${path}' does not exist`
        : code === 'EISDIR'
          ? `'${path}' is a directory, not a replay file`
          : `cannot read '${path}': ${code}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`'${path}' is not an irqlab replay file (not JSON)`);
  }
  const object = parsed as Partial<ReplayFile> | null;
  if (typeof object !== 'object' || object === null || Array.isArray(object) || object.format !== REPLAY_FORMAT) {
    throw new UsageError(`'${path}' is not an irqlab replay file (no "format": "${REPLAY_FORMAT}")`);
  }
  if (object.version !== REPLAY_VERSION) {
    throw new UsageError(
      `replay file '${path}' has version ${JSON.stringify(object.version)}, which this irqlab (${irqlabVersion()}) does not know: it reads version ${REPLAY_VERSION}`,
    );
  }
  checkReplayFile(object, `replay file '${path}'`);
  return object as ReplayFile;
}

/** Check every field a reader relies on, so that a hand-edited file fails here, in one line, and not inside a run. */
function checkReplayFile(file: Partial<ReplayFile>, what: string): void {
  const bad = (field: string, expected: string): never => {
    throw new UsageError(`${what}: ${field} must be ${expected}`);
  };
  const isInteger = (value: unknown, min: number, max: number): boolean => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
  const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';

  const scenario = file.scenario as Partial<Record<string, unknown>> | undefined;
  if (typeof scenario !== 'object' || scenario === null) bad('scenario', 'an object');
  if (!isText(scenario!.name)) bad('scenario.name', 'a name');
  if (scenario!.kind === 'builtin') {
    if (!isText(scenario!.irqlabVersion)) bad('scenario.irqlabVersion', 'a version');
  } else if (scenario!.kind === 'file') {
    if (!isText(scenario!.path)) bad('scenario.path', 'a path');
    if (!isText(scenario!.given)) bad('scenario.given', 'a path');
    if (typeof scenario!.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(scenario!.sha256)) bad('scenario.sha256', 'a sha256 in hex');
  } else {
    bad('scenario.kind', "'builtin' or 'file'");
  }

  const run = file.run as Partial<ReplayRun> | undefined;
  if (typeof run !== 'object' || run === null) bad('run', 'an object');
  if (run!.mode !== 'deterministic') bad('run.mode', "'deterministic'");
  if (!isInteger(run!.cpus, 1, MAX_CPUS)) bad('run.cpus', `an integer from 1 to ${MAX_CPUS}`);
  if (!isInteger(run!.durationNs, 1, Number.MAX_SAFE_INTEGER)) bad('run.durationNs', 'a positive integer');
  if (run!.clockIntervalMs !== undefined && (typeof run!.clockIntervalMs !== 'number' || !(run!.clockIntervalMs > 0)))
    bad('run.clockIntervalMs', 'a number of ms');
  if (!isInteger(file.seed, 0, MAX_SEED)) bad('seed', `an integer from 0 to ${MAX_SEED}`);

  const schedule = file.schedule as Partial<ScheduleOptions> | undefined;
  if (typeof schedule !== 'object' || schedule === null) bad('schedule', 'an object');
  if (!STRATEGY_NAMES.includes(schedule!.strategy as StrategyName)) bad('schedule.strategy', `one of ${STRATEGY_NAMES.join(', ')}`);
  if (schedule!.depth !== undefined && !isInteger(schedule!.depth, 1, 1_000_000)) bad('schedule.depth', 'a positive integer');
  if (schedule!.steps !== undefined && !isInteger(schedule!.steps, 1, Number.MAX_SAFE_INTEGER)) bad('schedule.steps', 'a positive integer');
  if (schedule!.bounds !== undefined) {
    const bounds = schedule!.bounds as Partial<PerturbationBounds> | null;
    for (const key of ['deviceNs', 'tickPhaseNs', 'ipiDelayNs'] as const) {
      if (typeof bounds !== 'object' || bounds === null || !isInteger(bounds[key], 0, Number.MAX_SAFE_INTEGER))
        bad(`schedule.bounds.${key}`, 'an integer of ns, 0 or more');
    }
  }
  if (schedule!.decisions !== undefined) {
    if (!Array.isArray(schedule!.decisions)) bad('schedule.decisions', 'an array');
    schedule!.decisions!.forEach((decision: Partial<ScheduleDecision>, index) => {
      const where = `schedule.decisions[${index}]`;
      if (typeof decision !== 'object' || decision === null) bad(where, 'an object');
      if (!DECISION_KINDS.includes(decision.kind as DecisionKind)) bad(`${where}.kind`, `one of ${DECISION_KINDS.join(', ')}`);
      if (!isInteger(decision.ordinal, 0, Number.MAX_SAFE_INTEGER)) bad(`${where}.ordinal`, 'an integer, 0 or more');
      if (!isInteger(decision.value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) bad(`${where}.value`, 'an integer');
      if (decision.cpu !== undefined && !isInteger(decision.cpu, 0, MAX_CPUS - 1)) bad(`${where}.cpu`, `a CPU number from 0 to ${MAX_CPUS - 1}`);
    });
  }

  const recorded = file.recorded as Partial<ReplayOutcome> | undefined;
  if (typeof recorded !== 'object' || recorded === null) bad('recorded', 'an object');
  if (typeof recorded!.outcome !== 'string') bad('recorded.outcome', 'a string');
  if (!GRADES.includes(recorded!.grade as ReplayGrade)) bad('recorded.grade', `one of ${GRADES.join(', ')}`);
  if (recorded!.bugcheck !== null && (typeof recorded!.bugcheck !== 'object' || !isInteger(recorded!.bugcheck?.code, 0, 0xffffffff)))
    bad('recorded.bugcheck', 'null or { code, name }');
  if (typeof recorded!.traceHash !== 'string') bad('recorded.traceHash', 'a string');

  const created = file.created as Partial<ReplayRecord['created']> | undefined;
  if (typeof created !== 'object' || created === null || typeof created.at !== 'string' || typeof created.by !== 'string')
    bad('created', 'an object { at, by, irqlabVersion }');
}

/**
 * Where the scenario of a replay file is now, once it is sure to be the same scenario: a built-in's
 * name, or the file's path (the recorded absolute path; when that is gone, the path as given,
 * from the current directory). Refuses (UsageError, one line) a scenario that changed: a file
 * whose bytes hash differently, a built-in recorded by another irqlab version.
 */
export function locateReplayScenario(file: ReplayFile, replayPath: string): string {
  const scenario = file.scenario;
  if (scenario.kind === 'builtin') {
    if (scenario.irqlabVersion !== irqlabVersion()) {
      throw new UsageError(
        `replay file '${replayPath}' ran built-in scenario '${scenario.name}' of irqlab ${scenario.irqlabVersion}; this is irqlab ${irqlabVersion()}, whose '${scenario.name}' may differ: replay it with irqlab ${scenario.irqlabVersion}`,
      );
    }
    return scenario.name;
  }
  const candidates = [scenario.path, resolve(scenario.given)];
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) throw new UsageError(`replay file '${replayPath}': its scenario file '${scenario.path}' no longer exists`);
  const sha256 = sha256OfFile(path);
  if (sha256 !== scenario.sha256) {
    throw new UsageError(
      `scenario file '${path}' changed since replay file '${replayPath}' was written (sha256 ${sha256.slice(0, 12)}…, recorded ${scenario.sha256.slice(0, 12)}…): the schedule would replay another run`,
    );
  }
  return path;
}

/** The path a minimized file gets beside the original: `x.replay.json` → `x.min.replay.json`. */
export function minimizedPathFor(original: string): string {
  const base = original.endsWith(REPLAY_EXTENSION) ? original.slice(0, -REPLAY_EXTENSION.length) : original.replace(/\.json$/, '');
  return join(dirname(base), `${basename(base)}.min${REPLAY_EXTENSION}`);
}
