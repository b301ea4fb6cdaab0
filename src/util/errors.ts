/**
 * The errors the main thread can end a command with, one class per exit code family. Workers never
 * throw across the thread boundary: they report failures as messages, which the machine turns into
 * these. The CLI prints `error.message` as one line (the stack only with --verbose).
 */

/** Bad command line: exit 1. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}

/** A scenario that does not exist, fails to load, has the wrong shape or names unknown things: exit 1. */
export class ScenarioError extends Error {
  override get name(): string {
    return 'ScenarioError';
  }
}

/** A bug in the emulator itself (a worker crashed, an invariant broke): exit 3. */
export class InternalError extends Error {
  override get name(): string {
    return 'InternalError';
  }
}

/**
 * A thrown value as one short line: an Error's message (with its class when it is not a plain
 * Error), a string quoted, anything else as JSON would show it. Scenario code may throw anything
 * (`throw 'no'`, `throw undefined`), and the line must still say what.
 */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) {
    const message = value.message.split('\n', 1)[0]!.trim();
    if (value.name && value.name !== 'Error') return message ? `${value.name}: ${message}` : value.name;
    return message || 'an Error with no message';
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A ScenarioError for a value thrown by the scenario's own code (`what`: the function, e.g.
 * "checks()"): one line naming the function and the value; the original error rides along as the
 * cause, so --verbose shows the scenario's own stack frames.
 */
export function scenarioThrew(scenario: string, what: string, thrown: unknown): ScenarioError {
  if (thrown instanceof ScenarioError) return thrown;
  const error = new ScenarioError(`scenario '${scenario}': ${what} threw ${describeThrown(thrown)}`, thrown instanceof Error ? { cause: thrown } : undefined);
  return error;
}
