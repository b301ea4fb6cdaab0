/**
 * `irqlab inspect`'s command line: its help and flags (args.ts dispatches here). Every problem is a
 * UsageError with one line. Pure, like args.ts, which imports this module as this module imports it
 * (neither uses the other's values at its top level, only in functions).
 */

import { parseArgs } from 'node:util';
import { MAX_PCT_DEPTH } from '../contract/schedule.js';
import type { StrategyName } from '../contract/schedule.js';
import { UsageError } from '../util/errors.js';
import { onePositional, parseArgsProblem, parseClock, parseCpus, parseDepth, parseDuration, parseSeed, parseStrategy } from './args.js';
import type { Command, ParseArgsError } from './args.js';

export const INSPECT_HELP = `Usage: irqlab inspect <scenario> [options]
       irqlab inspect <file.replay.json> [--eval COMMANDS]

Step through a deterministic run and look at the machine at any point with WinDbg's views: go to
the bugcheck, step back to any earlier event (the run is replayed from its start: deterministic,
so exact), and read !irql, !prcb, !dpcs, !timer, !ready, !thread, !locks, !apc, !analyze -v, k, u
and dd there. The run is the in-process backend's deterministic run of the scenario with these
options (or the run a replay file records). On a terminal it prompts for commands ('?' lists
them); --eval runs the commands given and exits.

Options:
  -c, --cpus N            emulated CPUs, 1 to 64 (default: the scenario's machine.cpus)
  -m, --mode MODE         deterministic, the only mode a run can be inspected in (accepted so that
                          a report's replay line works with 'inspect' in place of 'run')
  -s, --seed S            seed (default: IRQLAB_SEED if set, else 1)
  -d, --duration T        emulated time to run: 250ms, 2s, 500us (default: the scenario's)
      --clock MS          the clock interrupt interval in ms, 0.5 to 15.625
      --strategy NAME     the schedule: random (default), pct or perturb (see 'irqlab run --help')
      --depth D           pct's bug depth d, 1 to ${MAX_PCT_DEPTH} (default 3); only with --strategy pct
  -e, --eval COMMANDS     run these commands (separated by ';') and exit: 1 on the first command it
                          does not take, naming it
  -v, --verbose           more detail on stderr; stacks with errors
  -h, --help              this help

Exit codes: 0 ok (the inspected run may well bugcheck: that is what it is for), 1 usage or scenario
error or a bad --eval command, 3 internal error, 130 when Ctrl-C ends the prompt.
`;

/** irqlab inspect's flags: the run (as irqlab run's, deterministic mode) or a replay file, and the commands. */
export interface InspectArgs {
  /** a scenario (built-in name or file) or a replay file */
  target: string;
  cpus?: number;
  seed?: number;
  durationNs?: number;
  clockMs?: number;
  strategy?: StrategyName;
  depth?: number;
  /** --eval's commands, not split yet */
  eval?: string;
  verbose: boolean;
}

export function parseInspect(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the parseArgs call below (TypeScript's control-flow typing)
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        cpus: { type: 'string', short: 'c' },
        // accepted so that a report's replay line (`irqlab run … --mode deterministic --seed S`) works with `inspect`
        mode: { type: 'string', short: 'm' },
        seed: { type: 'string', short: 's' },
        duration: { type: 'string', short: 'd' },
        clock: { type: 'string' },
        strategy: { type: 'string' },
        depth: { type: 'string' },
        eval: { type: 'string', short: 'e' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab inspect');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', text: INSPECT_HELP };
  const target = onePositional(positionals, 'inspect', 'a scenario (a built-in name or a file) or a replay file');
  const args: InspectArgs = { target, verbose: values.verbose ?? false };
  if (values.mode !== undefined && values.mode !== 'deterministic') {
    throw new UsageError(
      `inspect replays deterministic runs: --mode deterministic only (got '${values.mode}'; a parallel run races for real and cannot be replayed)`,
    );
  }
  if (values.cpus !== undefined) args.cpus = parseCpus(values.cpus);
  if (values.seed !== undefined) args.seed = parseSeed(values.seed, '--seed');
  else if (env.IRQLAB_SEED !== undefined && env.IRQLAB_SEED.trim() !== '') args.seed = parseSeed(env.IRQLAB_SEED.trim(), 'IRQLAB_SEED');
  if (values.duration !== undefined) args.durationNs = parseDuration(values.duration);
  if (values.clock !== undefined) args.clockMs = parseClock(values.clock);
  if (values.strategy !== undefined) args.strategy = parseStrategy(values.strategy);
  if (values.depth !== undefined) args.depth = parseDepth(values.depth);
  if (args.depth !== undefined && args.strategy !== 'pct') throw new UsageError('--depth applies to --strategy pct only');
  if (values.eval !== undefined) {
    if (values.eval.trim() === '') throw new UsageError('--eval needs commands (e.g. --eval "g; !analyze -v")');
    args.eval = values.eval;
  }
  return { command: 'inspect', args };
}
