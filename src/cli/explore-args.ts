/**
 * `irqlab explore`'s command line: its help and flags (args.ts dispatches here). Every problem is a
 * UsageError with one line. Pure, like args.ts.
 *
 * args.ts imports this module and this module imports args.ts: neither uses the other's constants
 * at its top level (only in functions), so either may be loaded first.
 */

import { parseArgs } from 'node:util';
import { MAX_PCT_DEPTH } from '../contract/schedule.js';
import type { StrategyName } from '../contract/schedule.js';
import { MAX_ITERATIONS } from '../explore/plan.js';
import { UsageError } from '../util/errors.js';
import {
  DETERMINISTIC_DEFAULT_SEED,
  onePositional,
  parseArgsProblem,
  parseClock,
  parseCpus,
  parseDepth,
  parseDuration,
  parseSeed,
  parseStrategy,
  shown,
} from './args.js';
import type { Command, ParseArgsError } from './args.js';

/** --iterations' default */
export const DEFAULT_EXPLORE_ITERATIONS = 100;
/** --workers' upper bound: more pool threads than this only queue on the host's cores */
export const MAX_EXPLORE_WORKERS = 256;

export const EXPLORE_HELP = `Usage: irqlab explore <scenario> -i N [options]
       irqlab explore --merge FILE... [--json] [--strict]

Run N iterations of a scenario, each a fresh machine in deterministic mode with its own seed
(iteration i runs seed S + i, S from --seed), on a pool of worker threads, and print an outcome
table: each outcome, how often it came, its share, its grade (the scenario's outcomes: ACCEPTABLE,
INTERESTING, FORBIDDEN, or UNKNOWN when no grade matches), and the first seeds that show it; then,
for each FORBIDDEN outcome and bugcheck, the 'irqlab run' line that replays it.

An outcome is the bugcheck when the run crashed ('0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL'), else the
scenario's outcome(run), else 'checks passed' or 'check failed: <name>'. A scenario without
outcomes is graded by its checks: all passed is ACCEPTABLE, a failed check or a bugcheck FORBIDDEN.

Options:
  -i, --iterations N      iterations to run, 1 to 4294967296 (default ${DEFAULT_EXPLORE_ITERATIONS})
  -s, --seed S            the first iteration's seed, 0 to 4294967295 (default: IRQLAB_SEED if set,
                          else 1); the same seed gives the same table
  -c, --cpus N            emulated CPUs, as 'irqlab run' takes it
  -d, --duration T        emulated time per iteration, as 'irqlab run' takes it
      --clock MS          the clock interrupt interval in ms, as 'irqlab run' takes it
      --strategy NAME     random (default: seeded slice lengths), pct (priorities over the CPUs
                          with d - 1 change points) or perturb (interrupt arrivals moved within the
                          scenario's explore.jitter)
      --depth D           pct's bug depth d, 1 to ${MAX_PCT_DEPTH} (default 3); only with --strategy pct
  -w, --workers W         worker threads, 1 to ${MAX_EXPLORE_WORKERS} (default: the host's available parallelism)
      --time-limit S      stop starting iterations after S seconds of host time
      --strict            exit 4 when the exploration is incomplete (--time-limit cut it short, or
                          merged shards do not cover every iteration)
      --shard K/N         run only the K-th of N equal, disjoint slices of the iterations (1 <= K <= N)
      --merge             add up the JSON tables given as arguments (from --json or --out)
      --json              print one JSON object (the table and its seeds) on stdout and nothing else
  -o, --out DIR           write report.json, journal.log and a replay file for each FORBIDDEN
                          outcome and bugcheck (for 'irqlab replay') under DIR
  -v, --verbose           more detail on stderr; stacks with errors
  -h, --help              this help

The seed of every iteration is written to a journal before the iteration starts (--out DIR:
DIR/journal.log; else a temporary file, removed when the exploration ends, kept and named when
the emulator fails): a crash of irqlab itself is reproducible from its 'start' lines.

Exit codes: 0 nothing FORBIDDEN and no bugcheck, 1 usage or scenario error, 2 a FORBIDDEN outcome
or a bugcheck was found, 3 internal error, 4 incomplete exploration with --strict; 130 and 143
when interrupted by SIGINT (Ctrl-C, the table so far is printed) or SIGTERM.
`;

/** irqlab explore's flags. */
export interface ExploreArgs {
  /** absent with --merge */
  scenario?: string;
  iterations: number;
  seed: number;
  cpus?: number;
  durationNs?: number;
  clockMs?: number;
  strategy?: StrategyName;
  depth?: number;
  workers?: number;
  timeLimitMs?: number;
  strict: boolean;
  shard?: { index: number; count: number };
  /** --merge: the JSON tables to add up */
  merge?: string[];
  json: boolean;
  out?: string;
  verbose: boolean;
}

export function parseExplore(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the parseArgs call below (TypeScript's control-flow typing)
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        iterations: { type: 'string', short: 'i' },
        seed: { type: 'string', short: 's' },
        cpus: { type: 'string', short: 'c' },
        duration: { type: 'string', short: 'd' },
        clock: { type: 'string' },
        strategy: { type: 'string' },
        depth: { type: 'string' },
        workers: { type: 'string', short: 'w' },
        'time-limit': { type: 'string' },
        strict: { type: 'boolean' },
        shard: { type: 'string' },
        merge: { type: 'boolean' },
        json: { type: 'boolean' },
        out: { type: 'string', short: 'o' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab explore');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', text: EXPLORE_HELP };
  const args: ExploreArgs = {
    iterations: DEFAULT_EXPLORE_ITERATIONS,
    seed: DETERMINISTIC_DEFAULT_SEED,
    strict: values.strict ?? false,
    json: values.json ?? false,
    verbose: values.verbose ?? false,
  };
  if (values.merge) {
    const runFlags = ['iterations', 'seed', 'cpus', 'duration', 'clock', 'strategy', 'depth', 'workers', 'time-limit', 'shard', 'out'] as const;
    const given = runFlags.find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} does not apply to --merge (it adds up finished tables)`);
    if (positionals.length === 0) throw new UsageError('--merge needs the JSON tables to add up (irqlab explore --merge a.json b.json ...)');
    args.merge = positionals;
    return { command: 'explore', args };
  }
  const scenario = onePositional(positionals, 'explore', "a scenario: a built-in name (see 'irqlab list') or a .ts/.js file");
  args.scenario = scenario;
  if (values.iterations !== undefined) args.iterations = parseIterations(values.iterations);
  if (values.seed !== undefined) args.seed = parseSeed(values.seed, '--seed');
  else if (env.IRQLAB_SEED !== undefined && env.IRQLAB_SEED.trim() !== '') args.seed = parseSeed(env.IRQLAB_SEED.trim(), 'IRQLAB_SEED');
  if (values.cpus !== undefined) args.cpus = parseCpus(values.cpus);
  if (values.duration !== undefined) args.durationNs = parseDuration(values.duration);
  if (values.clock !== undefined) args.clockMs = parseClock(values.clock);
  if (values.strategy !== undefined) args.strategy = parseStrategy(values.strategy);
  if (values.depth !== undefined) {
    args.depth = parseDepth(values.depth);
    if (args.strategy !== 'pct') throw new UsageError('--depth applies to --strategy pct only');
  }
  if (values.workers !== undefined) args.workers = parseWorkers(values.workers);
  if (values['time-limit'] !== undefined) args.timeLimitMs = parseTimeLimit(values['time-limit']);
  if (values.shard !== undefined) args.shard = parseShard(values.shard);
  if (values.out !== undefined) {
    if (values.out.trim() === '') throw new UsageError('--out needs a folder name');
    args.out = values.out;
  }
  return { command: 'explore', args };
}

/** -i: iterations, 1 to the size of the seed space (2^32: beyond it seeds would repeat). */
export function parseIterations(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_ITERATIONS) {
    throw new UsageError(`--iterations must be an integer from 1 to ${MAX_ITERATIONS} (got ${shown(text)})`);
  }
  return value;
}

export function parseWorkers(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_EXPLORE_WORKERS) {
    throw new UsageError(`--workers must be an integer from 1 to ${MAX_EXPLORE_WORKERS} (got ${shown(text)})`);
  }
  return value;
}

/** --time-limit: host seconds, a positive number (a trailing 's' allowed); host ms. */
export function parseTimeLimit(text: string): number {
  const value = /^\s*$/.test(text) ? NaN : Number(text.replace(/s$/i, ''));
  if (!Number.isFinite(value) || value <= 0 || value > 31_536_000) {
    throw new UsageError(`--time-limit must be a number of seconds greater than 0, at most a year (got ${shown(text)})`);
  }
  return Math.max(1, Math.round(value * 1000));
}

/** --shard K/N: 1 <= K <= N. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || !Number.isSafeInteger(count) || count < 1 || count > MAX_ITERATIONS || !Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new UsageError(`--shard must be K/N with 1 <= K <= N, like 2/8 (got ${shown(text)})`);
  }
  return { index, count };
}
