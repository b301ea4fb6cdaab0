/**
 * What one piscina pool worker of `irqlab explore` does (workers/explore-worker.ts is its entry):
 * it loads the scenario module once, on its first task, validates it once, and then runs batches
 * of iterations, each a fresh machine on the in-process deterministic backend, compiled and run
 * exactly as `irqlab run --mode deterministic --seed S` compiles and runs it (compileForRun,
 * executeCompiled), so an iteration's trace hash is that run's. Every iteration's outcome is made
 * and graded here (the scenario's outcome() and `outcomes` are functions: they cannot travel).
 *
 * The module is evaluated once per worker: state a scenario keeps in module variables (a native's
 * counter, say) carries from one iteration to the next in that worker, so keep natives, outcome()
 * and the grades free of it. Natives run from the loaded definition, not a fresh import per run.
 *
 * Errors travel as data ({ ok: false, error }): piscina clones a thrown error, and a clone loses
 * its class (a ScenarioError would come back a plain Error, exit 3 instead of 1).
 */

import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { ScheduleOptions } from '../contract/schedule.js';
import { compileForRun, executeCompiled } from '../machine/execute.js';
import type { RunOptions } from '../machine/execute.js';
import type { NativeRoutine, ScenarioDefinition } from '../scenario/define.js';
import { loadScenario } from '../scenario/load.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario } from '../scenario/validate.js';
import { DEFAULT_DURATION_MS, MAX_CPUS } from '../cli/args.js';
import { ScenarioError, UsageError, scenarioThrew } from '../util/errors.js';
import { scenarioIdentity } from './replay-file.js';
import type { ReplayScenario } from './replay-file.js';
import { bugcheckOutcome, checksOutcome, gradeOutcome, outcomeText } from './outcome.js';
import type { Grade } from './outcome.js';
import { iterationSeed } from './plan.js';
import type { IterationRecord } from './table.js';
import { Journal } from './journal.js';

/**
 * V8's allocation-site pretenuring misjudges an exploration: one machine is always alive, so the
 * objects each machine allocates as it boots are found alive at every scavenge, their allocation
 * sites are pretenured, and from then on every machine is allocated in the old generation and must
 * be collected by full mark-compacts (about two a second, their marking and sweeping on V8's
 * helper threads). Measured on lost-update-1k in steady state: 14–19 mark-compacts per 1,500
 * iterations and 1.10–1.12 host cores per worker with it; 0 and 1.04 cores, 7 % less time per
 * iteration, without. The flag is the whole process's (every isolate in it): an `irqlab explore`
 * process runs only the exploration.
 */
setFlagsFromString('--no-allocation-site-pretenuring');

/** What the pool workers are told about the exploration (structured-clonable). */
export interface ExploreSpec {
  /** a built-in name or a path, as `irqlab run` takes it */
  scenario: string;
  /** --cpus (absent: the scenario's machine.cpus, else the host's available parallelism, at most 64) */
  cpus?: number;
  /** --duration, emulated ns (absent: the scenario's machine.durationMs, else 100 ms) */
  durationNs?: number;
  /** --clock, ms */
  clockMs?: number;
  schedule?: ScheduleOptions;
  /**
   * for benchmarks and tests that build a scenario in code: an absolute path to a built JavaScript
   * module whose default export is the definition, imported with Node's own import (so that it
   * shares irqlab's modules) instead of loading `scenario`
   */
  definitionModule?: string;
  /** the journal (journal.ts): each iteration's seed is appended before it starts */
  journal?: string;
}

/** The scenario as prepared, for the main thread. */
export interface PreparedInfo {
  name: string;
  cpus: number;
  durationNs: number;
  /** the scenario's identity for replay files (null: a definitionModule, which replay files cannot name) */
  identity: ReplayScenario | null;
  hasOutcome: boolean;
  hasGrades: boolean;
}

/** An iteration record with what a replay file needs besides. */
export interface WorkerIterationRecord extends IterationRecord {
  bugcheckCode: number | null;
  emulatedTimeNs: number;
}

export type WorkerTask =
  | { kind: 'prepare'; spec: ExploreSpec }
  | {
      kind: 'run';
      spec: ExploreSpec;
      /** --seed */
      baseSeed: number;
      /** the batch: iterations first … first + count − 1 */
      first: number;
      count: number;
      /** Date.now() after which no further iteration of the batch starts (--time-limit) */
      deadlineMs?: number;
    };

export interface WorkerError {
  kind: 'usage' | 'scenario' | 'internal';
  message: string;
  stack?: string;
  /** the iteration that failed (a run task) */
  index?: number;
  seed?: number;
}

export type WorkerReply =
  | { ok: true; kind: 'prepare'; info: PreparedInfo }
  | { ok: true; kind: 'run'; records: WorkerIterationRecord[] }
  | { ok: false; error: WorkerError; records?: WorkerIterationRecord[] };

interface Prepared {
  key: string;
  loaded: LoadedScenario;
  definition: ScenarioDefinition;
  info: PreparedInfo;
  natives: ReturnType<typeof nativesOf>;
}

/** One per worker: the exploration's scenario, loaded on the first task. */
let prepared: Promise<Prepared> | null = null;
let preparedKey = '';

export default async function exploreTask(task: WorkerTask): Promise<WorkerReply> {
  const records: WorkerIterationRecord[] = [];
  let current: { index: number; seed: number } | undefined;
  try {
    const scenario = await prepare(task.spec);
    if (task.kind === 'prepare') return { ok: true, kind: 'prepare', info: scenario.info };
    for (let index = task.first; index < task.first + task.count; index++) {
      // the deadline is checked between iterations: one that has started runs to its end
      if (task.deadlineMs !== undefined && index > task.first && Date.now() >= task.deadlineMs) break;
      current = { index, seed: iterationSeed(task.baseSeed, index) };
      const journal = journalFor(task.spec.journal);
      journal?.started(index, current.seed);
      const record = await runIteration(scenario, task.spec, index, current.seed);
      journal?.ended(index, record.seed, record.grade, record.outcome);
      records.push(record);
    }
    return { ok: true, kind: 'run', records };
  } catch (error) {
    return { ok: false, error: { ...describeError(error), ...(current ?? {}) }, records };
  }
}

let journal: { path: string; writer: Journal } | null = null;

function journalFor(path: string | undefined): Journal | null {
  if (path === undefined) return null;
  if (journal?.path !== path) {
    journal?.writer.close();
    journal = { path, writer: Journal.open(path) };
  }
  return journal.writer;
}

function prepare(spec: ExploreSpec): Promise<Prepared> {
  // what the prepared scenario depends on (a pool serves one exploration; this keeps a reused worker honest)
  const key = JSON.stringify([spec.scenario, spec.definitionModule ?? null, spec.cpus ?? null, spec.durationNs ?? null]);
  if (prepared === null || preparedKey !== key) {
    preparedKey = key;
    prepared = load(spec, key);
    // a failed load is not kept: the next task reports the same error afresh, not a stale promise
    prepared.catch(() => {
      if (preparedKey === key) prepared = null;
    });
  }
  return prepared;
}

async function load(spec: ExploreSpec, key: string): Promise<Prepared> {
  let loaded: LoadedScenario;
  if (spec.definitionModule !== undefined) {
    const module = (await import(pathToFileURL(spec.definitionModule).href)) as { default?: ScenarioDefinition };
    if (!module.default) throw new ScenarioError(`${spec.definitionModule} has no default export`);
    loaded = { definition: module.default, source: spec.scenario, kind: 'file', modulePath: spec.definitionModule, dispose: () => {} };
  } else {
    loaded = await loadScenario(spec.scenario);
  }
  const machine = (typeof loaded.definition === 'object' && loaded.definition !== null ? loaded.definition.machine : undefined) as
    | { cpus?: unknown; durationMs?: unknown; arch?: unknown }
    | undefined;
  const declaredCpus = machine?.cpus;
  const cpus =
    spec.cpus ??
    (typeof declaredCpus === 'number' && Number.isInteger(declaredCpus) && declaredCpus >= 1 && declaredCpus <= MAX_CPUS
      ? declaredCpus
      : Math.max(1, Math.min(MAX_CPUS, availableParallelism())));
  const definition = validateScenario(loaded.definition, { cpus, arch: machine?.arch === 'x86' ? 'x86' : 'x64' });
  const declaredMs = machine?.durationMs;
  const durationNs =
    spec.durationNs ?? (typeof declaredMs === 'number' && declaredMs > 0 ? Math.max(1, Math.round(declaredMs * 1e6)) : DEFAULT_DURATION_MS * 1e6);
  const info: PreparedInfo = {
    name: definition.name,
    cpus,
    durationNs,
    identity: spec.definitionModule !== undefined ? null : scenarioIdentity(loaded, spec.scenario),
    hasOutcome: typeof definition.outcome === 'function',
    hasGrades: Array.isArray(definition.outcomes),
  };
  return { key, loaded, definition, info, natives: nativesOf(definition) };
}

/** The natives in the order the compiler numbers them (the declaration's key order). */
function nativesOf(definition: ScenarioDefinition): Array<NativeRoutine | undefined> {
  return Object.values(definition.natives ?? {});
}

async function runIteration(scenario: Prepared, spec: ExploreSpec, index: number, seed: number): Promise<WorkerIterationRecord> {
  const { definition, info } = scenario;
  const options: RunOptions = {
    cpus: info.cpus,
    mode: 'deterministic',
    seed,
    durationNs: info.durationNs,
    verbose: false,
    command: '',
    backend: 'in-process',
    ...(spec.clockMs !== undefined ? { clockIntervalMs: spec.clockMs } : {}),
    ...(spec.schedule !== undefined ? { schedule: spec.schedule } : {}),
  };
  const compiled = compileForRun(definition, scenario.loaded.modulePath, options);
  const { result, view } = await executeCompiled(definition, compiled, scenario.loaded.modulePath, options, scenario.natives);
  let outcome: string;
  if (result.bugcheck) {
    outcome = bugcheckOutcome(result.bugcheck.code);
  } else if (definition.outcome) {
    const value = callScenario(definition.name, 'outcome()', () => definition.outcome!(view));
    outcome = outcomeText(definition.name, value);
  } else {
    outcome = checksOutcome(result.checks);
  }
  const graded = gradeOutcome(definition.name, outcome, definition.outcomes, {
    bugcheck: result.bugcheck !== null,
    checkFailed: result.checks.some((check) => !check.passed),
  });
  const grade: Grade = graded.grade;
  return {
    index,
    seed,
    outcome,
    grade,
    description: graded.description,
    bugcheck: result.bugcheck !== null,
    traceHash: result.traceHash,
    bugcheckCode: result.bugcheck?.code ?? null,
    emulatedTimeNs: result.emulatedTimeNs,
  };
}

function callScenario<T>(scenario: string, what: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw scenarioThrew(scenario, what, error);
  }
}

function describeError(error: unknown): WorkerError {
  const err = error instanceof Error ? error : new Error(String(error));
  const kind = err instanceof UsageError ? 'usage' : err instanceof ScenarioError ? 'scenario' : 'internal';
  return { kind, message: err.message.split('\n', 1)[0]!.trim() || err.name, ...(err.stack ? { stack: err.stack } : {}) };
}
