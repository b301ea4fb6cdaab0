/**
 * Which of the scenario's own functions the command is running on its thread (the module's top
 * level, a routine's builder callback, results(), checks()), told to a listener as each is entered
 * and left. The supervisor (supervisor.ts) listens from another thread: when one of them does not
 * return within the time limit, or a signal comes while one runs, it can say which.
 * Natives are not here: they run in the CPU workers, under the machine's native guard.
 */

import type { ScenarioDefinition } from '../scenario/define.js';

export interface ScenarioCodeListener {
  /** `what` names the function for a reader: "checks()", "the builder callback of routine 'Isr'" */
  enter(scenario: string, what: string): void;
  leave(): void;
}

export const MODULE_TOP_LEVEL = "the module's top level";

/** --code-timeout's default: host seconds one call of the scenario's own code may run */
export const DEFAULT_CODE_TIMEOUT_S = 10;

/** Run `body` as scenario code `what`, telling the listener (none: just run it). */
export function inScenarioCode<T>(listener: ScenarioCodeListener | undefined, scenario: string, what: string, body: () => T): T {
  if (!listener) return body();
  listener.enter(scenario, what);
  try {
    return body();
  } finally {
    listener.leave();
  }
}

export async function inScenarioCodeAsync<T>(listener: ScenarioCodeListener | undefined, scenario: string, what: string, body: () => Promise<T>): Promise<T> {
  if (!listener) return body();
  listener.enter(scenario, what);
  try {
    return await body();
  } finally {
    listener.leave();
  }
}

/**
 * A copy of a validated definition whose builder callbacks, results(), checks() and outcome() tell the
 * listener when they run. The scenario's own objects are not changed (built-ins are shared).
 */
export function watchScenarioCode(definition: ScenarioDefinition, listener: ScenarioCodeListener): ScenarioDefinition {
  const scenario = definition.name;
  const routines: ScenarioDefinition['routines'] = {};
  for (const [name, build] of Object.entries(definition.routines)) {
    routines[name] = (a) => inScenarioCode(listener, scenario, `the builder callback of routine '${name}'`, () => build.call(definition.routines, a));
  }
  const watched: ScenarioDefinition = { ...definition, routines };
  const { results, checks } = definition;
  if (typeof results === 'function') watched.results = (run) => inScenarioCode(listener, scenario, 'results()', () => results.call(definition, run));
  if (typeof checks === 'function') watched.checks = (run) => inScenarioCode(listener, scenario, 'checks()', () => checks.call(definition, run));
  const { outcome } = definition;
  if (typeof outcome === 'function') watched.outcome = (run) => inScenarioCode(listener, scenario, 'outcome()', () => outcome.call(definition, run));
  return watched;
}
