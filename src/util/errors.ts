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
