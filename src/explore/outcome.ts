/**
 * One iteration's outcome and its grade, as `irqlab explore` tabulates them (jcstress's observed
 * state and Expect). Pure: no I/O, no machine.
 *
 * The outcome of a run, in this order:
 *   1. a bugcheck is the outcome by itself, named by its code: `0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL`
 *      (outcome() is not called: the machine stopped mid-way, its memory is not a result);
 *   2. else the scenario's outcome(run), as text: a tuple's items joined by ', ';
 *   3. else from the checks: `checks passed`, or `check failed: <name of the first that failed>`.
 *
 * Its grade: the first of the scenario's `outcomes` whose match accepts the text (the text itself,
 * a RegExp tested on it, or a predicate over it); none matches: UNKNOWN. A scenario that declares no
 * `outcomes` is graded by its checks: all passed is ACCEPTABLE, a failed check or a bugcheck
 * FORBIDDEN, whatever outcome() said.
 */

import { bugcheckName } from '../kernel/bugcheck.js';
import type { OutcomeExpectation, OutcomeGrade, OutcomeValue, RunView, ScenarioDefinition } from '../scenario/define.js';
import { ScenarioError, describeThrown, scenarioThrew } from '../util/errors.js';

/** A grade as the table shows it (jcstress: ACCEPTABLE, ACCEPTABLE_INTERESTING, FORBIDDEN, UNKNOWN). */
export type Grade = OutcomeExpectation | 'unknown';

export const GRADE_LABELS: Readonly<Record<Grade, string>> = {
  acceptable: 'ACCEPTABLE',
  interesting: 'INTERESTING',
  forbidden: 'FORBIDDEN',
  unknown: 'UNKNOWN',
};

/** What grading an outcome gives: its grade and the matching grade's description ('' for UNKNOWN). */
export interface GradedOutcome {
  grade: Grade;
  description: string;
}

/** `0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL`: a bugcheck as an outcome. */
export function bugcheckOutcome(code: number): string {
  return `0x${code.toString(16).toUpperCase()} ${bugcheckName(code)}`;
}

/** The outcome from the checks, for a scenario without outcome(). */
export function checksOutcome(checks: readonly { name: string; passed: boolean }[]): string {
  const failed = checks.find((check) => !check.passed);
  return failed ? `check failed: ${failed.name}` : 'checks passed';
}

/**
 * outcome(run)'s value as text: a string as it is, a number or boolean as JSON writes it, a tuple's
 * items joined by ', '. Anything else is the scenario's mistake (a ScenarioError naming it).
 */
export function outcomeText(scenario: string, value: unknown): string {
  const item = (part: unknown, where: string): string => {
    if (typeof part === 'string') return part;
    if (typeof part === 'boolean') return String(part);
    if (typeof part === 'number' && Number.isFinite(part)) return String(part);
    throw new ScenarioError(
      `scenario '${scenario}': outcome() returned ${where}${describeOutcomeValue(part)}: give a string, a number, a boolean or a tuple of them`,
    );
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ScenarioError(`scenario '${scenario}': outcome() returned an empty tuple: give at least one value`);
    return value.map((part, index) => item(part, `[${index}] = `)).join(', ');
  }
  return item(value, '');
}

function describeOutcomeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'a nested array';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return `a ${typeof value} ${describeThrown(value)}`;
}

/** What the grade of one run depends on besides its text. */
export interface RunFacts {
  bugcheck: boolean;
  /** a check failed */
  checkFailed: boolean;
}

/**
 * Grade an outcome: by the scenario's `outcomes` (first match wins, none: UNKNOWN), or, with none
 * declared, by the run (a bugcheck or a failed check: FORBIDDEN; else ACCEPTABLE). A match that
 * throws is the scenario's error.
 */
export function gradeOutcome(scenario: string, text: string, grades: readonly OutcomeGrade[] | undefined, facts: RunFacts): GradedOutcome {
  if (grades === undefined) {
    if (facts.bugcheck) return { grade: 'forbidden', description: 'the system crashed (no outcomes declared)' };
    if (facts.checkFailed) return { grade: 'forbidden', description: 'a check failed (no outcomes declared)' };
    return { grade: 'acceptable', description: 'every check passed (no outcomes declared)' };
  }
  for (let index = 0; index < grades.length; index++) {
    const grade = grades[index]!;
    if (matches(scenario, grade.match, text, index)) return { grade: grade.expect, description: grade.description };
  }
  return { grade: 'unknown', description: '' };
}

function matches(scenario: string, match: OutcomeGrade['match'], text: string, index: number): boolean {
  if (typeof match === 'string') return match === text;
  if (match instanceof RegExp) {
    // a /g or /y RegExp keeps lastIndex between tests: a fresh one for each text keeps grading pure
    return new RegExp(match.source, match.flags.replace(/[gy]/g, '')).test(text);
  }
  let result: unknown;
  try {
    result = match(text);
  } catch (error) {
    throw scenarioThrew(scenario, `outcomes[${index}].match (for outcome '${text}')`, error);
  }
  if (typeof result !== 'boolean') {
    throw new ScenarioError(
      `scenario '${scenario}': outcomes[${index}].match returned ${describeOutcomeValue(result)} for outcome '${text}', not true or false`,
    );
  }
  return result;
}

/** Whether an outcome makes the exploration fail (exit 2): FORBIDDEN, or a bugcheck whatever its grade. */
export function isFailure(grade: Grade, bugcheck: boolean): boolean {
  return grade === 'forbidden' || bugcheck;
}

/**
 * One run's outcome and grade, in the order above: its bugcheck, else outcome(view), else its
 * checks. `view`: the run's end as results() and checks() saw it (executeCompiled returns it).
 */
export function outcomeOfRun(
  definition: Pick<ScenarioDefinition, 'name' | 'outcome' | 'outcomes'>,
  result: { bugcheck: { code: number } | null; checks: readonly { name: string; passed: boolean }[] },
  view: RunView,
): { outcome: string } & GradedOutcome {
  let outcome: string;
  if (result.bugcheck !== null) outcome = bugcheckOutcome(result.bugcheck.code);
  else if (definition.outcome) {
    let value: unknown;
    try {
      value = definition.outcome(view);
    } catch (error) {
      throw scenarioThrew(definition.name, 'outcome()', error);
    }
    outcome = outcomeText(definition.name, value);
  } else outcome = checksOutcome(result.checks);
  const graded = gradeOutcome(definition.name, outcome, definition.outcomes, {
    bugcheck: result.bugcheck !== null,
    checkFailed: result.checks.some((check) => !check.passed),
  });
  return { outcome, ...graded };
}

export type { OutcomeValue };
