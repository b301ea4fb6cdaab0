/**
 * Schedule minimization (`irqlab minimize`): the smallest schedule that still shows a replay file's
 * outcome. A deterministic run is a list of decisions (src/contract/schedule.ts); the ones that take
 * their neutral value perturb nothing, so a schedule is the list of its non-neutral decisions, and
 * a run given that list explicitly takes the neutral value everywhere else. Minimizing is then:
 *
 *   1. delta debugging over that list (Zeller and Hildebrandt, "Simplifying and Isolating
 *      Failure-Inducing Input", TSE 2002: ddmin): try the chunks, then their complements, doubling
 *      the number of chunks when neither keeps the outcome, until no single decision can go;
 *   2. a shorter run: to just past the bugcheck when the outcome is one, else the shortest duration
 *      (binary search) that still shows it;
 *   3. dropping the decisions the shortened run never reaches.
 *
 * A candidate is kept only when a run of it shows the same outcome (the same text, so the same
 * bugcheck code), so the result always reproduces; the list never grows. The work is bounded by a
 * number of runs: when the bound bites, the best schedule found so far is the result, marked
 * incomplete. The runs themselves are the caller's (TrialRunner): the CLI runs them in process.
 */

import { createHash } from 'node:crypto';
import type { ScheduleDecision, ScheduleOptions } from '../contract/schedule.js';
import type { RecordedDecision } from '../contract/decision-source.js';
import type { ReplayFile, ReplayGrade } from './replay-file.js';
import { InternalError, UsageError } from '../util/errors.js';
import { DEFAULT_MINIMIZE_MAX_RUNS } from '../cli/replay-args.js';

/** The default bound on test runs (`--max-runs`). */
export const DEFAULT_MAX_RUNS = DEFAULT_MINIMIZE_MAX_RUNS;

/** A decision the run took, with its neutral value and, where the emulator knows them, when and on which CPU. */
export type TakenDecision = RecordedDecision;

/** What one test run showed. */
export interface Trial {
  outcome: string;
  grade: ReplayGrade;
  bugcheck: { code: number; name: string } | null;
  traceHash: string;
  emulatedTimeNs: number;
  /** every decision the run took (neutral ones included), in the order it took them */
  decisions: TakenDecision[];
}

/** Run the replay file's scenario with this schedule and duration (deterministic mode), recording its decisions. */
export type TrialRunner = (schedule: ScheduleOptions, durationNs: number) => Promise<Trial>;

export interface MinimizeOptions {
  maxRuns?: number;
  /** told after each run (a progress line) */
  onRun?: (runs: number, phase: MinimizePhase, decisions: number) => void;
}

export type MinimizePhase = 'original' | 'explicit' | 'decisions' | 'duration' | 'unreached';

export interface MinimizeResult {
  /** the schedule that remained: the file's strategy and parameters with the explicit decisions left */
  schedule: ScheduleOptions & { decisions: ScheduleDecision[] };
  durationNs: number;
  before: { decisions: number; durationNs: number };
  /** test runs made */
  runs: number;
  /** false when maxRuns stopped the search early */
  complete: boolean;
  /** the run of the result (what it showed and the decisions it took, for the summary) */
  final: Trial;
  /** the first run: the original schedule as the file recorded it */
  original: Trial;
}

/** The bound on runs, as an error the search unwinds with (the best result so far stays). */
class BudgetSpent extends Error {}

/** Minimize the schedule of `file`; `run` makes each test run. */
export async function minimizeSchedule(file: ReplayFile, run: TrialRunner, options: MinimizeOptions = {}): Promise<MinimizeResult> {
  const maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
  if (!Number.isInteger(maxRuns) || maxRuns < 2) throw new UsageError(`--max-runs must be an integer of at least 2 (got ${maxRuns})`);
  const target = file.recorded.outcome;
  const { decisions: fileDecisions, ...strategy } = file.schedule;
  let runs = 0;
  let phase: MinimizePhase = 'original';
  let best: { decisions: ScheduleDecision[]; durationNs: number; trial: Trial };

  const attempt = async (decisions: ScheduleDecision[] | undefined, durationNs: number): Promise<Trial> => {
    if (runs >= maxRuns) throw new BudgetSpent();
    runs++;
    const schedule: ScheduleOptions = decisions === undefined ? { ...strategy } : { ...strategy, decisions };
    const trial = await run(schedule, durationNs);
    options.onRun?.(runs, phase, decisions?.length ?? trial.decisions.length);
    return trial;
  };
  /** a candidate (explicit decisions) that shows the target outcome becomes the best */
  const keeps = async (decisions: ScheduleDecision[], durationNs: number): Promise<boolean> => {
    const trial = await attempt(decisions, durationNs);
    if (trial.outcome !== target) return false;
    best = { decisions, durationNs, trial };
    return true;
  };

  // 1. the original schedule, as recorded: it must still show its outcome
  const original = await attempt(fileDecisions, file.run.durationNs);
  if (original.outcome !== target) {
    throw new UsageError(
      `the run of this replay file shows '${original.outcome}', not its recorded outcome '${target}': there is nothing to minimize (does 'irqlab replay' reproduce it?)`,
    );
  }
  const nonNeutral = fileDecisions ?? original.decisions.filter((decision) => decision.value !== decision.neutral).map(plainDecision);
  best = { decisions: nonNeutral, durationNs: file.run.durationNs, trial: original };
  const before = { decisions: nonNeutral.length, durationNs: file.run.durationNs };

  let complete = true;
  try {
    // 2. the same run from its non-neutral decisions alone: the premise of everything below
    if (fileDecisions === undefined) {
      phase = 'explicit';
      if (!(await keeps(nonNeutral, file.run.durationNs))) {
        throw new InternalError(
          `minimize: the run's ${nonNeutral.length} non-neutral decisions, given explicitly, do not show '${target}' again (they should replay the run exactly)`,
        );
      }
    }
    // 3. delta debugging over the decisions
    phase = 'decisions';
    await ddmin(best.decisions, (candidate) => keeps(candidate, best.durationNs));
    // 4. a shorter run
    phase = 'duration';
    await shortenRun(best.trial, best.durationNs, (durationNs) => keeps(best.decisions, durationNs));
    // 5. decisions past the end of the shortened run: never reached, so nothing to keep
    phase = 'unreached';
    const reached = new Set(best.trial.decisions.map(decisionKey));
    const unreached = best.decisions.filter((decision) => !reached.has(decisionKey(decision)));
    if (unreached.length > 0) {
      await keeps(
        best.decisions.filter((decision) => reached.has(decisionKey(decision))),
        best.durationNs,
      );
    }
  } catch (error) {
    if (!(error instanceof BudgetSpent)) throw error;
    complete = false;
  }
  return { schedule: { ...strategy, decisions: best.decisions }, durationNs: best.durationNs, before, runs, complete, final: best.trial, original };
}

/**
 * ddmin: a 1-minimal sublist of `items` (no single element can be removed) for which `keeps` holds,
 * assuming it holds for `items`. `keeps` records the kept candidate itself (the caller's best).
 * Candidates already tried are not run again.
 */
export async function ddmin<T>(items: readonly T[], keeps: (candidate: T[]) => Promise<boolean>): Promise<T[]> {
  const tried = new Map<string, boolean>();
  let current = items.map((_, index) => index);
  const test = async (indices: number[]): Promise<boolean> => {
    // a digest, not the list: a long schedule's candidates would otherwise keep megabytes of keys
    const key = createHash('sha1').update(indices.join(',')).digest('base64');
    const known = tried.get(key);
    if (known !== undefined) return known;
    const holds = await keeps(indices.map((index) => items[index]!));
    tried.set(key, holds);
    return holds;
  };
  // the empty schedule first: when the neutral run shows the outcome, no decision is needed at all
  if (current.length > 0 && (await test([]))) return [];
  let granularity = 2;
  while (current.length >= 2) {
    const chunks = split(current, granularity);
    let reduced = false;
    for (const chunk of chunks) {
      if (await test(chunk)) {
        current = chunk;
        granularity = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && granularity > 2) {
      for (let skip = 0; skip < chunks.length; skip++) {
        const complement = chunks.filter((_, index) => index !== skip).flat();
        if (await test(complement)) {
          current = complement;
          granularity = Math.max(granularity - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (reduced) continue;
    if (granularity >= current.length) break;
    granularity = Math.min(granularity * 2, current.length);
  }
  return current.map((index) => items[index]!);
}

/** `list` in `parts` chunks of (nearly) equal length, in order. */
function split<T>(list: readonly T[], parts: number): T[][] {
  const chunks: T[][] = [];
  let start = 0;
  for (let part = 0; part < parts; part++) {
    const end = start + Math.floor((list.length - start) / (parts - part));
    chunks.push(list.slice(start, end));
    start = end;
  }
  return chunks;
}

/** Emulated nanoseconds the duration search stops at (finer is not worth a run). */
const DURATION_RESOLUTION_NS = 1000;

/**
 * The shortest run that still shows the outcome: a bugcheck stops the run, so the run needs to last
 * just past it (tried first); otherwise, or when that does not keep the outcome, a binary search
 * between 0 and the current duration (the outcome need not be monotonic in the duration: only
 * durations whose run was seen to keep it are kept).
 */
async function shortenRun(trial: Trial, durationNs: number, keeps: (durationNs: number) => Promise<boolean>): Promise<void> {
  let holds = durationNs;
  if (trial.bugcheck !== null) {
    const pastBugcheck = Math.floor(trial.emulatedTimeNs) + 1;
    if (pastBugcheck < holds && (await keeps(pastBugcheck))) return;
  }
  let fails = 0;
  while (holds - fails > Math.max(DURATION_RESOLUTION_NS, 1)) {
    const middle = Math.floor((fails + holds) / 2);
    if (await keeps(middle)) holds = middle;
    else fails = middle;
  }
}

export function plainDecision(decision: ScheduleDecision): ScheduleDecision {
  const plain: ScheduleDecision = { kind: decision.kind, ordinal: decision.ordinal, value: decision.value };
  if (decision.cpu !== undefined) plain.cpu = decision.cpu;
  return plain;
}

function decisionKey(decision: ScheduleDecision): string {
  return `${decision.kind}:${decision.cpu ?? ''}:${decision.ordinal}`;
}
