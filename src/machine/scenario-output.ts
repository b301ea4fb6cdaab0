/**
 * What a scenario's own results() and checks() returned, checked before it enters the RunResult
 * (the JSON contract of `irqlab run --json`): a value JSON cannot hold exactly, or a check that is
 * not { name, passed, detail? }, is a ScenarioError naming the value and its path.
 */

import type { CheckResult, RunResult } from '../contract/result.js';
import { ScenarioError, describeThrown } from '../util/errors.js';

/** A value as the start of a sentence: its type and, when short, the value itself. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'bigint') return `a BigInt (${value}n)`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'undefined') return 'undefined';
  return `${typeof value === 'number' ? 'the number' : `a ${typeof value}`} ${describeThrown(value)}`;
}

/**
 * results() must return an object whose values JSON holds exactly (the --json contract and the
 * summary): finite numbers, strings, booleans, null, and arrays and objects of those. The first
 * value that is not is named, with its path.
 */
export function checkResults(scenario: string, value: unknown): RunResult['results'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ScenarioError(`scenario '${scenario}': results() returned ${describeValue(value)}, not an object of named values`);
  }
  const seen = new Set<object>();
  const visit = (item: unknown, path: string): void => {
    if (item === null || typeof item === 'string' || typeof item === 'boolean') return;
    if (typeof item === 'number') {
      if (!Number.isFinite(item))
        throw new ScenarioError(`scenario '${scenario}': results() returned ${path} = ${item}, which JSON cannot hold (it would become null)`);
      return;
    }
    if (typeof item === 'object' && (Array.isArray(item) || Object.getPrototypeOf(item) === Object.prototype)) {
      if (seen.has(item)) throw new ScenarioError(`scenario '${scenario}': results() returned ${path}, which contains itself: JSON cannot hold it`);
      seen.add(item);
      if (Array.isArray(item)) item.forEach((element, i) => void visit(element, `${path}[${i}]`));
      else for (const [key, element] of Object.entries(item)) visit(element, `${path}.${key}`);
      seen.delete(item);
      return;
    }
    throw new ScenarioError(`scenario '${scenario}': results() returned ${path} = ${describeValue(item)}, which JSON cannot hold`);
  };
  for (const [key, element] of Object.entries(value)) visit(element, key);
  return value as RunResult['results'];
}

/** checks() must return an array of { name: string, passed: boolean, detail?: string }; 'no' is not false. */
export function checkChecks(scenario: string, value: unknown): CheckResult[] {
  if (!Array.isArray(value)) throw new ScenarioError(`scenario '${scenario}': checks() returned ${describeValue(value)}, not an array of checks`);
  return value.map((check: unknown, index) => {
    const where = `checks()[${index}]`;
    if (typeof check !== 'object' || check === null)
      throw new ScenarioError(`scenario '${scenario}': ${where} is ${describeValue(check)}, not a check { name, passed }`);
    const { name, passed, detail } = check as { name?: unknown; passed?: unknown; detail?: unknown };
    if (typeof name !== 'string') throw new ScenarioError(`scenario '${scenario}': ${where}.name must be a string (got ${describeValue(name)})`);
    if (typeof passed !== 'boolean')
      throw new ScenarioError(`scenario '${scenario}': ${where} ('${name}'): passed must be true or false (got ${describeValue(passed)})`);
    if (detail !== undefined && typeof detail !== 'string')
      throw new ScenarioError(`scenario '${scenario}': ${where} ('${name}'): detail must be a string (got ${describeValue(detail)})`);
    return { name, passed, detail: detail ?? '' };
  });
}
