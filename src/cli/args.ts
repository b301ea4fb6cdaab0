/**
 * The irqlab command line: parse argv (node:util parseArgs, strict) into a command, validate every
 * flag, and, once the scenario is loaded, fill in the defaults that depend on it (CPU count,
 * duration) and build the command line that reproduces the run. Pure apart from reading
 * os.availableParallelism() and drawing a random seed when the caller does not inject them.
 * Every problem is a UsageError with a one-line message (the CLI prefixes `irqlab: `).
 */

import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { randomInt } from 'node:crypto';
import { UsageError } from '../util/errors.js';
import { MIN_CLOCK_MS, MAX_CLOCK_MS } from '../scenario/validate.js';
import type { RunMode } from '../machine/result.js';
import { DEFAULT_SLACK_NS } from '../contract/config.js';
import type { Pace } from '../contract/config.js';
import { DEFAULT_PCT_DEPTH, MAX_PCT_DEPTH, STRATEGY_NAMES } from '../contract/schedule.js';
import type { StrategyName } from '../contract/schedule.js';
import { EXPLORE_HELP, parseExplore } from './explore-args.js';
import { LATENCY_RUN_HELP, LATENCY_RUN_OPTIONS, latencyRunArgs, parseLatencyFlags, type LatencyRunArgs } from './latency-args.js';
import { LAZY_IRQL_RUN_HELP, LAZY_IRQL_RUN_OPTIONS, lazyIrqlArgs, type LazyIrqlRunArgs } from './irql-args.js';
import type { ExploreArgs } from './explore-args.js';
import { INSPECT_HELP, parseInspect } from './inspect-args.js';
import type { InspectArgs } from './inspect-args.js';
import { MINIMIZE_HELP, REPLAY_HELP, parseMinimize, parseReplay } from './replay-args.js';
import type { MinimizeArgs, ReplayArgs } from './replay-args.js';

export { MAX_PCT_DEPTH };
export const MAX_CPUS = 64;
export const MAX_SEED = 0xffffffff;
export const DEFAULT_DURATION_MS = 100;
export const DETERMINISTIC_DEFAULT_SEED = 1;
import { DEFAULT_CODE_TIMEOUT_S } from './scenario-code.js';
export { DEFAULT_CODE_TIMEOUT_S };
/**
 * --slack's upper bound (emulated ns): a CPU further ahead than a second of emulated time is no
 * longer bounded in any useful sense (the clock ticks at most every 15.625 ms)
 */
export const MAX_SLACK_NS = 1e9;
/** The one line a parallel run's reports give instead of a replay command. */
export const NOT_REPLAYABLE = 'not replayable: parallel runs race for real';

export const MAIN_HELP = `irqlab: an emulator of a multiprocessor Windows (NT) kernel core (IRQL, interrupts, DPCs, IPIs)

Usage:
  irqlab run <scenario> [options]   run a built-in scenario or a scenario file (.ts, .mts, .js, .mjs)
  irqlab list [--json]              list the built-in scenarios
  irqlab explore <scenario> -i N    run N seeds deterministically and tabulate their outcomes
  irqlab replay <file>              re-run a replay file exactly (see 'irqlab replay --help')
  irqlab minimize <file>            shrink a replay file's schedule to what its outcome needs
  irqlab inspect <scenario|file>    step through a deterministic run with WinDbg's views
  irqlab <command> --help           help for a command
  irqlab --version                  print the version

Exit codes: 0 ok, 1 usage or scenario error, 2 the emulated system failed (bugcheck or a failed
check; explore: a FORBIDDEN outcome), 3 internal error, 4 incomplete exploration (explore
--strict); 130 and 143 when interrupted by SIGINT (Ctrl-C) or SIGTERM.
`;

export const RUN_HELP = `Usage: irqlab run <scenario> [options]

Run a scenario: a built-in name (see 'irqlab list') or a path to a .ts, .mts, .js or .mjs file
whose default export is built with defineScenario().

Options:
  -c, --cpus N            emulated CPUs, 1 to 64 (default: the scenario's machine.cpus, else the
                          host's available parallelism, at most 64)
  -m, --mode MODE         parallel (default: CPUs run at the same time on host cores; a run races
                          for real, so it cannot be replayed) or deterministic (one CPU at a time
                          in a seeded order; replays exactly)
  -s, --seed S            seed, an integer 0 to 4294967295 (default: IRQLAB_SEED if set, else 1 in
                          deterministic mode and a random seed, reported, in parallel mode)
  -d, --duration T        emulated time to run: 250ms, 2s, 500us, 1000000ns; a bare number is ms
                          (default: the scenario's machine.durationMs, else 100ms)
      --pace PACE         parallel mode's emulated time: virtual (default: each CPU's time is the
                          cycles it executed, no CPU more than --slack ahead of the slowest running
                          one) or host (time follows the host clock times --time-scale, to watch a
                          run in real time: latencies include the host)
      --slack T           parallel mode, --pace virtual: how far a CPU may run ahead of the slowest
                          running CPU, in emulated time as --duration takes it, 1ns to 1s
                          (default ${formatEmulatedTime(DEFAULT_SLACK_NS)})
      --time-scale X      parallel mode, --pace host: emulated time per host time, a positive
                          number (default 1)
      --clock MS          the clock interrupt interval in ms, 0.5 to 15.625 (default: the scenario's
                          machine.clockIntervalMs, else 15.625)
      --strategy NAME     deterministic mode's schedule: random (default: seeded slice lengths), pct
                          (priorities over the CPUs with d - 1 change points) or perturb (random's
                          slices, and device interrupts, the clock's phase and IPIs moved within
                          the scenario's explore.jitter)
      --depth D           pct's bug depth d, 1 to ${MAX_PCT_DEPTH} (default 3); only with --strategy pct
      --json              print one JSON object (the RunResult) on stdout and nothing else
      --trace FILE        write a Chrome trace (open at ui.perfetto.dev)
${LATENCY_RUN_HELP}${LAZY_IRQL_RUN_HELP}      --code-timeout S    host seconds one call of the scenario's own code may run (a native
                          routine, a builder callback, results(), checks(), the module's top
                          level: at least 60) before the run ends with exit 1 (default ${DEFAULT_CODE_TIMEOUT_S})
  -v, --verbose           more detail on stderr; stacks with errors
  -h, --help              this help

Environment:
  IRQLAB_SEED             the default seed

Exit codes: 0 ok, 1 usage or scenario error, 2 the emulated system failed (bugcheck or a failed
check), 3 internal error; 130 and 143 when interrupted by SIGINT (Ctrl-C) or SIGTERM.
`;

export const LIST_HELP = `Usage: irqlab list [--json]

List the built-in scenarios, one per line: name and description.

Options:
      --json              print one JSON array of {name, description} on stdout instead
  -h, --help              this help
`;

/** The run flags as given, before the scenario supplies its defaults. */
export interface RunArgs extends LatencyRunArgs, LazyIrqlRunArgs {
  scenario: string;
  cpus?: number;
  mode: RunMode;
  seed?: number;
  /** duration in ns */
  durationNs?: number;
  /** --pace (parallel mode only) */
  pace?: Pace;
  /** --slack, emulated ns (parallel mode, --pace virtual only) */
  slackNs?: number;
  /** --time-scale (parallel mode, --pace host only) */
  timeScale?: number;
  /** --clock, ms */
  clockMs?: number;
  json: boolean;
  trace?: string;
  /** --code-timeout, host ms */
  codeTimeoutMs?: number;
  verbose: boolean;
  /** --strategy and --depth (deterministic mode only) */
  strategy?: StrategyName;
  depth?: number;
}

export type Command =
  | { command: 'help'; text: string }
  | { command: 'version' }
  | { command: 'list'; json: boolean }
  | { command: 'run'; args: RunArgs }
  | { command: 'explore'; args: ExploreArgs }
  | { command: 'replay'; args: ReplayArgs }
  | { command: 'minimize'; args: MinimizeArgs }
  | { command: 'inspect'; args: InspectArgs };

/** Everything a run needs once the scenario's defaults are known. */
export interface ResolvedRun extends LatencyRunArgs, LazyIrqlRunArgs {
  scenario: string;
  cpus: number;
  mode: RunMode;
  seed: number;
  /** true when the seed was drawn at random (not given by --seed or IRQLAB_SEED) */
  seedDrawn: boolean;
  durationNs: number;
  /** parallel mode's pace (absent in deterministic mode) */
  pace?: Pace;
  /** parallel mode with --pace virtual: the slack, emulated ns (absent otherwise) */
  slackNs?: number;
  /** parallel mode with --pace host: emulated time per host time (absent otherwise) */
  timeScale?: number;
  /** --clock, ms (absent: the scenario's or the default clock) */
  clockMs?: number;
  json: boolean;
  traceFile?: string;
  /** --code-timeout, host ms (absent: DEFAULT_CODE_TIMEOUT_S) */
  codeTimeoutMs?: number;
  verbose: boolean;
  /** deterministic mode's strategy and pct's depth, when given (absent: random) */
  strategy?: StrategyName;
  depth?: number;
  /**
   * the `irqlab run` line with this run's parameters: a deterministic run's replays it exactly; a
   * parallel run's runs the same configuration, which races anew (see reproduceCommand)
   */
  command: string;
}

/** What resolveRunOptions reads from the host; tests inject fixed values. */
export interface HostDefaults {
  availableParallelism: number;
  randomSeed: () => number;
}

export function hostDefaults(): HostDefaults {
  return { availableParallelism: availableParallelism(), randomSeed: () => randomInt(0, MAX_SEED + 1) };
}

export type ParseArgsError = Error & { code?: string };

/** Turn a parseArgs error into one line naming the option. */
export function parseArgsProblem(error: ParseArgsError, command: string): UsageError {
  const message = error.message;
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const option = /Unknown option '([^']*)'/.exec(message)?.[1] ?? message;
      return new UsageError(`unknown option '${option}' for '${command}' (see '${command} --help')`);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const quoted = /Option '([^']*)'/.exec(message)?.[1] ?? '';
      const option = /--[\w-]+/.exec(quoted)?.[0] ?? /-\w/.exec(quoted)?.[0];
      if (/argument missing/.test(message)) return new UsageError(`option '${option ?? '?'}' needs a value`);
      if (/does not take an argument/.test(message)) return new UsageError(`option '${option ?? '?'}' does not take a value`);
      if (/ambiguous/.test(message)) {
        return new UsageError(`option '${option ?? '?'}' got a value starting with '-' (write ${option ?? '--option'}=<value> if you mean it)`);
      }
      return new UsageError(firstLine(message));
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /Unexpected argument '([^']*)'/.exec(message)?.[1] ?? '?';
      return new UsageError(`unexpected argument '${arg}' for '${command}' (see '${command} --help')`);
    }
    default:
      return new UsageError(firstLine(message));
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}

export function shown(text: string): string {
  return text === '' ? "''" : text;
}

/** The commands, as a usage error lists them. */
const COMMAND_NAMES = "'run', 'explore', 'replay', 'minimize', 'inspect' or 'list'";

/** Parse the whole command line (argv without node and the script). */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Command {
  const first = argv[0];
  if (first === undefined) throw new UsageError(`missing command: expected ${COMMAND_NAMES} (see 'irqlab --help')`);
  if (first.startsWith('-')) {
    let values: { help?: boolean; version?: boolean };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw parseArgsProblem(error as ParseArgsError, 'irqlab');
    }
    if (values.help) return { command: 'help', text: MAIN_HELP };
    return { command: 'version' };
  }
  const rest = argv.slice(1);
  switch (first) {
    case 'run':
      return parseRun(rest, env);
    case 'list':
      return parseList(rest);
    case 'explore':
      return parseExplore(rest, env);
    case 'replay':
      return parseReplay(rest);
    case 'minimize':
      return parseMinimize(rest);
    case 'inspect':
      return parseInspect(rest, env);
    case 'help':
      if (rest[0] === 'run') return { command: 'help', text: RUN_HELP };
      if (rest[0] === 'list') return { command: 'help', text: LIST_HELP };
      if (rest[0] === 'explore') return { command: 'help', text: EXPLORE_HELP };
      if (rest[0] === 'replay') return { command: 'help', text: REPLAY_HELP };
      if (rest[0] === 'minimize') return { command: 'help', text: MINIMIZE_HELP };
      if (rest[0] === 'inspect') return { command: 'help', text: INSPECT_HELP };
      return { command: 'help', text: MAIN_HELP };
    default:
      throw new UsageError(`unknown command '${first}': expected ${COMMAND_NAMES} (see 'irqlab --help')`);
  }
}

function parseList(argv: readonly string[]): Command {
  let values: { help?: boolean; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab list');
  }
  if (values.help) return { command: 'help', text: LIST_HELP };
  return { command: 'list', json: values.json === true };
}

/** The one positional argument of `irqlab <command>`. */
export function onePositional(positionals: readonly string[], command: string, what: string): string {
  if (positionals.length === 0) throw new UsageError(`${command} needs ${what}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}': ${command} takes one file (see 'irqlab ${command} --help')`);
  const file = positionals[0]!;
  if (file.trim() === '') throw new UsageError(`the file argument of ${command} is empty`);
  return file;
}

function parseRun(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the parseArgs call below (TypeScript's control-flow typing)
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        cpus: { type: 'string', short: 'c' },
        mode: { type: 'string', short: 'm' },
        seed: { type: 'string', short: 's' },
        duration: { type: 'string', short: 'd' },
        pace: { type: 'string' },
        slack: { type: 'string' },
        'time-scale': { type: 'string' },
        clock: { type: 'string' },
        json: { type: 'boolean' },
        trace: { type: 'string' },
        ...LATENCY_RUN_OPTIONS,
        ...LAZY_IRQL_RUN_OPTIONS,
        'code-timeout': { type: 'string' },
        strategy: { type: 'string' },
        depth: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw parseArgsProblem(error as ParseArgsError, 'irqlab run');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', text: RUN_HELP };
  if (positionals.length === 0) throw new UsageError("run needs a scenario: a built-in name (see 'irqlab list') or a .ts/.js file");
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}': run takes one scenario (see 'irqlab run --help')`);
  const scenario = positionals[0]!;
  if (scenario.trim() === '') throw new UsageError('the scenario argument is empty');

  const args: RunArgs = {
    scenario,
    mode: values.mode === undefined ? 'parallel' : parseMode(values.mode),
    json: values.json ?? false,
    verbose: values.verbose ?? false,
  };
  if (values.cpus !== undefined) args.cpus = parseCpus(values.cpus);
  if (values.seed !== undefined) args.seed = parseSeed(values.seed, '--seed');
  else if (env.IRQLAB_SEED !== undefined && env.IRQLAB_SEED.trim() !== '') args.seed = parseSeed(env.IRQLAB_SEED.trim(), 'IRQLAB_SEED');
  if (values.duration !== undefined) args.durationNs = parseDuration(values.duration);
  if (values.clock !== undefined) args.clockMs = parseClock(values.clock);
  if (values.trace !== undefined) {
    if (values.trace.trim() === '') throw new UsageError('--trace needs a file name');
    args.trace = values.trace;
  }
  if (values['code-timeout'] !== undefined) args.codeTimeoutMs = parseCodeTimeout(values['code-timeout']);
  Object.assign(args, parseLatencyFlags(values), lazyIrqlArgs({ lazyIrql: values['lazy-irql'] }));
  if (values.pace !== undefined) args.pace = parsePace(values.pace);
  if (values.slack !== undefined) args.slackNs = parseSlack(values.slack);
  if (values['time-scale'] !== undefined) args.timeScale = parseTimeScale(values['time-scale']);
  checkTimeOptions(args);
  if (values.strategy !== undefined) args.strategy = parseStrategy(values.strategy);
  if (values.depth !== undefined) args.depth = parseDepth(values.depth);
  // a schedule is deterministic mode's: a parallel run races for real
  if (args.mode !== 'deterministic' && args.strategy !== undefined)
    throw new UsageError('--strategy applies to --mode deterministic only (a parallel run races for real)');
  if (args.depth !== undefined && args.strategy !== 'pct') throw new UsageError('--depth applies to --strategy pct only');
  return { command: 'run', args };
}

/**
 * --pace, --slack and --time-scale each mean something in one kind of run only; given elsewhere
 * they would be silently ignored, so they are usage errors (values are checked before this).
 */
function checkTimeOptions(args: RunArgs): void {
  if (args.mode === 'deterministic') {
    const given = [args.pace !== undefined && '--pace', args.slackNs !== undefined && '--slack', args.timeScale !== undefined && '--time-scale'];
    const first = given.find((flag) => flag !== false);
    if (first) throw new UsageError(`${first} applies to parallel mode only (deterministic mode runs on a virtual clock of its own)`);
    return;
  }
  const pace = args.pace ?? 'virtual';
  if (args.slackNs !== undefined && pace !== 'virtual') {
    throw new UsageError('--slack applies to --pace virtual only (with --pace host, emulated time follows the host clock)');
  }
  if (args.timeScale !== undefined && pace !== 'host') {
    throw new UsageError('--time-scale applies to --pace host only (add --pace host; with --pace virtual, emulated time is executed cycles)');
  }
}

export function parseCpus(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_CPUS) {
    throw new UsageError(`--cpus must be an integer from 1 to ${MAX_CPUS} (got ${shown(text)})`);
  }
  return value;
}

export function parseMode(text: string): RunMode {
  if (text === 'parallel' || text === 'deterministic') return text;
  throw new UsageError(`--mode must be 'parallel' or 'deterministic' (got ${shown(text)})`);
}

/** --strategy: how a deterministic run's choices are made (src/contract/schedule.ts). */
export function parseStrategy(text: string): StrategyName {
  if ((STRATEGY_NAMES as readonly string[]).includes(text)) return text as StrategyName;
  throw new UsageError(`--strategy must be ${STRATEGY_NAMES.map((name) => `'${name}'`).join(', ')} (got ${shown(text)})`);
}

/** --depth: PCT's bug depth d, an integer from 1 to MAX_PCT_DEPTH. */
export function parseDepth(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_PCT_DEPTH) {
    throw new UsageError(`--depth must be an integer from 1 to ${MAX_PCT_DEPTH} (got ${shown(text)})`);
  }
  return value;
}

/** A seed: a decimal or 0x-hex integer from 0 to 2^32 - 1. `what` names the flag or variable. */
export function parseSeed(text: string, what: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_SEED) {
    throw new UsageError(`${what} must be an integer from 0 to ${MAX_SEED} (got ${shown(text)})`);
  }
  return value;
}

export function parsePace(text: string): Pace {
  if (text === 'virtual' || text === 'host') return text;
  throw new UsageError(`--pace must be 'virtual' or 'host' (got ${shown(text)})`);
}

/** --slack: an emulated time as --duration takes it (a bare number is ms), 1 ns to MAX_SLACK_NS. */
export function parseSlack(text: string): number {
  const ns = parseEmulatedTime(text);
  if (Number.isNaN(ns) || ns > MAX_SLACK_NS) {
    throw new UsageError(`--slack must be an emulated time from 1ns to ${formatEmulatedTime(MAX_SLACK_NS)}, like 10us or 0.5ms (got ${shown(text)})`);
  }
  return ns;
}

export function parseTimeScale(text: string): number {
  const value = /^\s*$/.test(text) ? NaN : Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--time-scale must be a positive number (got ${shown(text)})`);
  return value;
}

/** --clock: the clock interval in ms, within the range of §3.1 (0.5 ms to KeMaximumIncrement's 15.625 ms). */
export function parseClock(text: string): number {
  const value = /^\s*$/.test(text) ? NaN : Number(text.replace(/ms$/i, ''));
  if (!Number.isFinite(value) || value < MIN_CLOCK_MS || value > MAX_CLOCK_MS) {
    throw new UsageError(`--clock must be a clock interval from ${MIN_CLOCK_MS} to ${MAX_CLOCK_MS} ms (got ${shown(text)})`);
  }
  return value;
}

/** --code-timeout: host seconds, a positive number (fractions allowed: tests use a short limit). */
export function parseCodeTimeout(text: string): number {
  const value = /^\s*$/.test(text) ? NaN : Number(text.replace(/s$/i, ''));
  if (!Number.isFinite(value) || value <= 0 || value > 86_400) {
    throw new UsageError(`--code-timeout must be a number of seconds greater than 0, at most 86400 (got ${shown(text)})`);
  }
  return Math.max(1, Math.round(value * 1000));
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };

/**
 * An emulated time: a decimal number (fractions and an exponent allowed) and a unit, ns, us (or µs),
 * ms or s, any case, a space between allowed; a bare number is ms. Whole nanoseconds (≥ 1, rounded),
 * or NaN when the text is not such a time.
 */
function parseEmulatedTime(text: string): number {
  const match = /^((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ns|us|µs|ms|s)?$/i.exec(text.trim());
  const unit = match ? (match[2] ?? 'ms').toLowerCase() : '';
  const ns = match ? Math.round(Number(match[1]) * DURATION_UNITS[unit]!) : NaN;
  return Number.isFinite(ns) && ns >= 1 && Number.isSafeInteger(ns) ? ns : NaN;
}

/** `250ms`, `2s`, `500us`, `1000000ns`, a bare number = ms; returns whole nanoseconds (≥ 1). */
export function parseDuration(text: string, what = '--duration'): number {
  const ns = parseEmulatedTime(text);
  if (Number.isNaN(ns)) {
    throw new UsageError(`${what} must be a positive time like 250ms, 2s, 500us or 1000000ns (got ${shown(text)})`);
  }
  return ns;
}

/** Whole ns as --duration and --slack take them, in the largest unit that keeps it at least 1: 10000 → `10us`. */
export function formatEmulatedTime(ns: number): string {
  for (const [unit, size] of [
    ['s', 1e9],
    ['ms', 1e6],
    ['us', 1e3],
  ] as const) {
    if (ns >= size) return `${ns / size}${unit}`;
  }
  return `${ns}ns`;
}

/** Fill in the defaults that come from the scenario and the host, and build the reproducing command. */
export function resolveRunOptions(
  args: RunArgs,
  machine: { cpus?: unknown; durationMs?: unknown } | undefined,
  host: HostDefaults = hostDefaults(),
): ResolvedRun {
  const declaredCpus = machine?.cpus;
  const cpus =
    args.cpus ??
    (typeof declaredCpus === 'number' && Number.isInteger(declaredCpus) && declaredCpus >= 1 && declaredCpus <= MAX_CPUS
      ? declaredCpus
      : Math.max(1, Math.min(MAX_CPUS, host.availableParallelism)));
  const declaredMs = machine?.durationMs;
  const durationNs =
    args.durationNs ??
    (typeof declaredMs === 'number' && Number.isFinite(declaredMs) && declaredMs > 0 ? Math.max(1, Math.round(declaredMs * 1e6)) : DEFAULT_DURATION_MS * 1e6);
  const seed = args.seed ?? (args.mode === 'deterministic' ? DETERMINISTIC_DEFAULT_SEED : host.randomSeed());
  const resolved: ResolvedRun = {
    scenario: args.scenario,
    cpus,
    mode: args.mode,
    seed,
    seedDrawn: args.seed === undefined && args.mode === 'parallel',
    durationNs,
    json: args.json,
    verbose: args.verbose,
    command: '',
  };
  if (args.mode === 'parallel') {
    const pace = args.pace ?? 'virtual';
    resolved.pace = pace;
    if (pace === 'virtual') resolved.slackNs = args.slackNs ?? DEFAULT_SLACK_NS;
    else resolved.timeScale = args.timeScale ?? 1;
  }
  if (args.clockMs !== undefined) resolved.clockMs = args.clockMs;
  if (args.trace !== undefined) resolved.traceFile = args.trace;
  if (args.codeTimeoutMs !== undefined) resolved.codeTimeoutMs = args.codeTimeoutMs;
  if (args.strategy !== undefined) resolved.strategy = args.strategy;
  if (args.depth !== undefined) resolved.depth = args.depth;
  Object.assign(resolved, latencyRunArgs(args), lazyIrqlArgs(args));
  resolved.command = reproduceCommand(resolved);
  return resolved;
}

/** Quote an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** What a run's `irqlab run` line says. */
export interface RunParameters extends LazyIrqlRunArgs {
  scenario: string;
  cpus: number;
  mode: RunMode;
  seed: number;
  /** a parallel run's seed drawn at random: left out of the line (it chose devices' jitter, not the race) */
  seedDrawn?: boolean;
  durationNs: number;
  clockMs?: number;
  /** parallel mode: 'virtual' when absent */
  pace?: Pace;
  /** parallel mode, virtual pace: DEFAULT_SLACK_NS when absent */
  slackNs?: number;
  /** parallel mode, host pace: 1 when absent */
  timeScale?: number;
  /** deterministic mode's strategy (absent or 'random': left out of the line) and pct's depth (absent: the default) */
  strategy?: StrategyName;
  depth?: number;
}

/**
 * `irqlab run <scenario> --cpus N --mode <m> --seed S --duration <d>ms`, + --clock and --lazy-irql when given, and
 * in parallel mode --pace host, --time-scale and --slack when not the default. A deterministic
 * run's line replays it exactly. A parallel run's line runs the same configuration, never the same
 * run (it races for real), so a seed drawn at random is left out: it would read as a replay.
 */
export function reproduceCommand(run: RunParameters): string {
  const parts = ['irqlab', 'run', shellQuote(run.scenario), '--cpus', String(run.cpus), '--mode', run.mode];
  if (run.mode === 'deterministic' || !run.seedDrawn) parts.push('--seed', String(run.seed));
  parts.push('--duration', `${run.durationNs / 1e6}ms`);
  if (run.clockMs !== undefined) parts.push('--clock', String(run.clockMs));
  if (run.lazyIrql) parts.push('--lazy-irql');
  if (run.mode === 'deterministic' && run.strategy !== undefined && run.strategy !== 'random') {
    parts.push('--strategy', run.strategy);
    if (run.strategy === 'pct') parts.push('--depth', String(run.depth ?? DEFAULT_PCT_DEPTH));
  }
  if (run.mode === 'parallel') {
    if (run.pace === 'host') {
      parts.push('--pace', 'host');
      if (run.timeScale !== undefined && run.timeScale !== 1) parts.push('--time-scale', String(run.timeScale));
    } else if (run.slackNs !== undefined && run.slackNs !== DEFAULT_SLACK_NS) {
      parts.push('--slack', formatEmulatedTime(run.slackNs));
    }
  }
  return parts.join(' ');
}
