// An iteration's outcome and its grade (src/explore/outcome.ts): the text a bugcheck, outcome() or
// the checks give, and the first matching grade of the scenario's outcomes (jcstress's Expect), or
// UNKNOWN; a scenario without outcomes is graded by its checks.
import { describe, expect, it } from 'vitest';
import { bugcheckOutcome, checksOutcome, gradeOutcome, isFailure, outcomeText } from '../../src/explore/outcome.js';
import type { OutcomeGrade } from '../../src/scenario/define.js';
import { ScenarioError } from '../../src/util/errors.js';

const clean = { bugcheck: false, checkFailed: false };

describe('outcome text', () => {
  it('names a bugcheck by its code and name', () => {
    expect(bugcheckOutcome(0xd1)).toBe('0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL');
    expect(bugcheckOutcome(0xe2)).toBe('0xE2 MANUALLY_INITIATED_CRASH');
  });

  it('joins a tuple with commas and shows numbers and booleans as JSON does', () => {
    expect(outcomeText('s', ['lost', 3, true])).toBe('lost, 3, true');
    expect(outcomeText('s', 'exact')).toBe('exact');
    expect(outcomeText('s', 0)).toBe('0');
  });

  it('refuses values that are not small: objects, NaN, empty tuples, nested arrays', () => {
    expect(() => outcomeText('s', { a: 1 })).toThrow(ScenarioError);
    expect(() => outcomeText('s', Number.NaN)).toThrow(/outcome\(\) returned the number NaN/);
    expect(() => outcomeText('s', [])).toThrow(/empty tuple/);
    expect(() => outcomeText('s', [[1]])).toThrow(/\[0\] = a nested array/);
    expect(() => outcomeText('s', undefined)).toThrow(/outcome\(\) returned undefined/);
  });

  it('comes from the checks when the scenario has no outcome()', () => {
    expect(checksOutcome([{ name: 'a', passed: true }])).toBe('checks passed');
    expect(
      checksOutcome([
        { name: 'a', passed: true },
        { name: 'count exact', passed: false },
        { name: 'c', passed: false },
      ]),
    ).toBe('check failed: count exact');
  });
});

describe('grading', () => {
  const grades: OutcomeGrade[] = [
    { match: 'exact', expect: 'acceptable', description: 'all counted' },
    { match: /^lost/, expect: 'forbidden', description: 'an update lost' },
    { match: (text) => text.startsWith('lost') || text === 'slow', expect: 'interesting', description: 'never reached for lost' },
    { match: '0xE2 MANUALLY_INITIATED_CRASH', expect: 'interesting', description: 'the scenario crashes on purpose' },
  ];

  it('takes the first grade that matches: the exact text, a RegExp, a predicate', () => {
    expect(gradeOutcome('s', 'exact', grades, clean)).toEqual({ grade: 'acceptable', description: 'all counted' });
    expect(gradeOutcome('s', 'lost, 3', grades, clean)).toEqual({ grade: 'forbidden', description: 'an update lost' });
    expect(gradeOutcome('s', 'slow', grades, clean)).toEqual({ grade: 'interesting', description: 'never reached for lost' });
  });

  it('grades an outcome no grade matches UNKNOWN', () => {
    expect(gradeOutcome('s', 'exact!', grades, clean)).toEqual({ grade: 'unknown', description: '' });
  });

  it('grades a bugcheck by its text like any outcome, and counts it as a failure whatever its grade', () => {
    const graded = gradeOutcome('s', bugcheckOutcome(0xe2), grades, { bugcheck: true, checkFailed: false });
    expect(graded.grade).toBe('interesting');
    expect(isFailure(graded.grade, true)).toBe(true);
    expect(isFailure('interesting', false)).toBe(false);
    expect(isFailure('unknown', false)).toBe(false);
    expect(isFailure('forbidden', false)).toBe(true);
  });

  it('grades by the checks when no outcomes are declared: a failed check or a bugcheck is FORBIDDEN', () => {
    expect(gradeOutcome('s', 'checks passed', undefined, clean).grade).toBe('acceptable');
    expect(gradeOutcome('s', 'check failed: x', undefined, { bugcheck: false, checkFailed: true }).grade).toBe('forbidden');
    expect(gradeOutcome('s', bugcheckOutcome(0xd1), undefined, { bugcheck: true, checkFailed: false }).grade).toBe('forbidden');
    // outcome() text with a failed check: the checks decide
    expect(gradeOutcome('s', 'lost 3', undefined, { bugcheck: false, checkFailed: true }).grade).toBe('forbidden');
  });

  it('does not let a global RegExp skip matches between outcomes (lastIndex)', () => {
    const sticky: OutcomeGrade[] = [{ match: /lost/g, expect: 'forbidden', description: 'lost' }];
    expect(gradeOutcome('s', 'lost', sticky, clean).grade).toBe('forbidden');
    expect(gradeOutcome('s', 'lost', sticky, clean).grade).toBe('forbidden');
  });

  it('reports a predicate that throws or returns a non-boolean as the scenario error', () => {
    const throwing: OutcomeGrade[] = [
      {
        match: () => {
          throw new Error('boom');
        },
        expect: 'forbidden',
        description: 'x',
      },
    ];
    expect(() => gradeOutcome('s', 'exact', throwing, clean)).toThrow(/scenario 's': outcomes\[0\]\.match \(for outcome 'exact'\) threw boom/);
    const loose = [{ match: () => 'yes', expect: 'forbidden', description: 'x' }] as unknown as OutcomeGrade[];
    expect(() => gradeOutcome('s', 'exact', loose, clean)).toThrow(/returned a string "yes" for outcome 'exact', not true or false/);
  });
});
