/**
 * `irqlab replay` and `irqlab minimize`'s command lines: their help and flags (args.ts dispatches
 * here). Every problem is a UsageError with one line. Pure, like args.ts.
 *
 * args.ts imports this module and this module imports args.ts: neither uses the other's constants
 * at its top level (only in functions), so either may be loaded first.
 */

import { parseArgs } from 'node:util';
import { UsageError } from '../util/errors.js';
import { onePositional, parseArgsProblem, parseCodeTimeout, shown } from './args.js';
import { DEFAULT_CODE_TIMEOUT_S } from './scenario-code.js';
import type { Command, ParseArgsError } from './args.js';

/** --max-runs' default for irqlab minimize (src/explore/minimize.ts) */
export const DEFAULT_MINIMIZE_MAX_RUNS = 300;

export const REPLAY_HELP = `Usage: irqlab replay <file> [options]

Re-run the deterministic run a replay file records (written by 'irqlab explore --out DIR' for each
FORBIDDEN outcome and bugcheck, or by 'irqlab minimize'): the same scenario, CPUs, duration, clock,
strategy, seed and explicit decisions, on worker threads. Prints the run's summary and whether it
showed the recorded outcome again (and the same trace hash: the same run, event for event).

Refuses (exit 1) a file that is not a replay file or has a version this irqlab does not read, and
a scenario that changed since the file was written: a scenario file whose bytes no longer have the
recorded sha256, or a built-in recorded by another irqlab version.

Options:
      --json              print one JSON object { replay, result } on stdout and nothing else
      --trace FILE        write a Chrome trace of the run (open at ui.perfetto.dev)
      --code-timeout S    host seconds one call of the scenario's own code may run (its builder
                          callbacks, results(), checks(), outcome()); default ${DEFAULT_CODE_TIMEOUT_S}
  -v, --verbose           more detail on stderr; stacks with errors
  -h, --help              this help

Exit codes: as 'irqlab explore' counts a run: 2 when the run shows a FORBIDDEN outcome or a
bugcheck (a reproduced failure), 0 when it does not; 1 usage error, unreadable or refused file;
3 internal error; 130 and 143 when interrupted.
`;

export const MINIMIZE_HELP = `Usage: irqlab minimize <file> [options]

Shrink the schedule of a replay file to what its outcome needs: the run's non-neutral decisions
(short slices, ties, PCT priority changes, delayed device interrupts, IPIs, the clock's phase) are
delta-debugged (ddmin) down to a list from which no single decision can be removed without losing
the outcome, then the run is shortened (to just past a bugcheck, or the shortest duration that
still shows it). Every candidate is a deterministic run in this thread; one is kept only when it
shows the same outcome. Writes the result as a new replay file with explicit decisions and prints
what remained: which CPU switches and which interrupt arrivals the outcome needs.

Options:
  -o, --out FILE          where to write the minimized replay file (default: beside the input,
                          NAME.min.replay.json)
      --max-runs N        at most N test runs, 2 or more (default ${DEFAULT_MINIMIZE_MAX_RUNS}); when the bound
                          bites, the smallest schedule found so far is written, marked incomplete
      --json              print one JSON object on stdout and nothing else
      --code-timeout S    host seconds one call of the scenario's own code may run (its builder
                          callbacks, results(), checks(), outcome()); default ${DEFAULT_CODE_TIMEOUT_S}
  -v, --verbose           more detail on stderr; stacks with errors
  -h, --help              this help

Exit codes: 0 minimized (the file is written), 1 usage error, unreadable or refused file, or a
file whose run no longer shows its outcome; 3 internal error; 130 and 143 when interrupted.
`;

/** irqlab replay's flags. */
export interface ReplayArgs {
  file: string;
  json: boolean;
  trace?: string;
  /** --code-timeout, host ms (absent: DEFAULT_CODE_TIMEOUT_S) */
  codeTimeoutMs?: number;
  verbose: boolean;
}

/** irqlab minimize's flags. */
export interface MinimizeArgs {
  file: string;
  out?: string;
  maxRuns?: number;
  /** --code-timeout, host ms (absent: DEFAULT_CODE_TIMEOUT_S) */
  codeTimeoutMs?: number;
  json: boolean;
  verbose: boolean;
}

export function parseReplay(argv: readonly string[]): Command {
  let parsed: { values: { json?: boolean; trace?: string; 'code-timeout'?: string; verbose?: boolean; help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        trace: { type: 'string' },
        'code-timeout': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab replay');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', text: REPLAY_HELP };
  const file = onePositional(positionals, 'replay', 'a replay file (written by irqlab explore --out or irqlab minimize)');
  const args: ReplayArgs = { file, json: values.json ?? false, verbose: values.verbose ?? false };
  if (values.trace !== undefined) {
    if (values.trace.trim() === '') throw new UsageError('--trace needs a file name');
    args.trace = values.trace;
  }
  if (values['code-timeout'] !== undefined) args.codeTimeoutMs = parseCodeTimeout(values['code-timeout']);
  return { command: 'replay', args };
}

export function parseMinimize(argv: readonly string[]): Command {
  let parsed: {
    values: { out?: string; 'max-runs'?: string; 'code-timeout'?: string; json?: boolean; verbose?: boolean; help?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string', short: 'o' },
        'max-runs': { type: 'string' },
        'code-timeout': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab minimize');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', text: MINIMIZE_HELP };
  const file = onePositional(positionals, 'minimize', 'a replay file (written by irqlab explore --out)');
  const args: MinimizeArgs = { file, json: values.json ?? false, verbose: values.verbose ?? false };
  if (values.out !== undefined) {
    if (values.out.trim() === '') throw new UsageError('--out needs a file name');
    args.out = values.out;
  }
  if (values['max-runs'] !== undefined) {
    const text = values['max-runs'];
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < 2) throw new UsageError(`--max-runs must be an integer of at least 2 (got ${shown(text)})`);
    args.maxRuns = value;
  }
  if (values['code-timeout'] !== undefined) args.codeTimeoutMs = parseCodeTimeout(values['code-timeout']);
  return { command: 'minimize', args };
}
