/**
 * runScenario: the public entry for running a loaded scenario. It fills in every option the caller
 * left out (the same defaults as `irqlab run`), checks the options it was given (a wrong type, NaN
 * or a value out of range is a TypeError or RangeError thrown at once, never a run that cannot end),
 * validates the scenario for the machine asked for, and executes it (execute.ts). Main thread only.
 */

import { availableParallelism } from 'node:os';
import { randomInt } from 'node:crypto';
import type { RunResult } from './result.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario, MIN_CLOCK_MS, MAX_CLOCK_MS } from '../scenario/validate.js';
import { executeScenario } from './execute.js';
import type { RunOptions } from './execute.js';
import type { MachineEvents } from './machine.js';
import { DEFAULT_DURATION_MS, DETERMINISTIC_DEFAULT_SEED, MAX_CPUS, MAX_PCT_DEPTH, MAX_SEED, MAX_SLACK_NS, reproduceCommand } from '../cli/args.js';
import { DEFAULT_SLACK_NS } from '../contract/config.js';
import { DECISION_KINDS, STRATEGY_DECISION_KINDS, STRATEGY_NAMES } from '../contract/schedule.js';
import type { DecisionKind, StrategyName } from '../contract/schedule.js';

export type { RunOptions } from './execute.js';
export type { MachineEvents } from './machine.js';

/** The machine's events, each optional: `on: { progress(ns) {…}, bugcheck(report) {…}, trace(cpu, timeNs, event, a, b, c) {…} }`. */
export type RunEventHandlers = Partial<MachineEvents>;

/**
 * What runScenario accepts: every RunOptions field, each optional. Left out: `cpus` the scenario's
 * machine.cpus, else the host's available parallelism (at most 64); `mode` 'parallel'; `seed` 1 in
 * deterministic mode, else a random one (reported in the result); `durationNs` the scenario's
 * machine.durationMs, else 100 ms; in parallel mode `pace` 'virtual' with `slackNs`
 * DEFAULT_SLACK_NS (10 µs), or with pace 'host' `timeScale` 1; `verbose` false; `command` the
 * `irqlab run` line with the run's parameters. `pace`, `slackNs` and `timeScale` each apply to one
 * kind of run (parallel; virtual or host pace): given for another, they are a TypeError.
 */
export type RunScenarioOptions = Partial<RunOptions>;

/** Every option runScenario knows; the type makes a RunOptions field added without a check here a compile error. */
const OPTION_CHECKS: { [K in keyof Required<RunScenarioOptions>]: (value: unknown, name: string) => void } = {
  cpus: (value, name) => integerIn(value, name, 1, MAX_CPUS),
  mode: (value, name) => {
    if (value !== 'parallel' && value !== 'deterministic') throw new TypeError(`${name} must be 'parallel' or 'deterministic' (got ${shown(value)})`);
  },
  seed: (value, name) => integerIn(value, name, 0, MAX_SEED),
  durationNs: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.round(value) < 1 || !Number.isSafeInteger(Math.round(value))) {
      throw failure(value, `${name} must be a positive number of nanoseconds (got ${shown(value)})`);
    }
  },
  pace: (value, name) => {
    if (value !== 'virtual' && value !== 'host') throw new TypeError(`${name} must be 'virtual' or 'host' (got ${shown(value)})`);
  },
  slackNs: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.round(value) < 1 || value > MAX_SLACK_NS) {
      throw failure(value, `${name} must be a number of emulated nanoseconds from 1 to ${MAX_SLACK_NS} (got ${shown(value)})`);
    }
  },
  timeScale: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw failure(value, `${name} must be a positive number (got ${shown(value)})`);
  },
  clockIntervalMs: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_CLOCK_MS || value > MAX_CLOCK_MS) {
      throw failure(value, `${name} must be a clock interval from ${MIN_CLOCK_MS} to ${MAX_CLOCK_MS} ms (got ${shown(value)})`);
    }
  },
  lazyIrql: (value, name) => {
    if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false (got ${shown(value)})`);
  },
  traceFile: (value, name) => {
    if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${name} must be a file name (got ${shown(value)})`);
  },
  verbose: (value, name) => {
    if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false (got ${shown(value)})`);
  },
  command: (value, name) => {
    if (typeof value !== 'string') throw new TypeError(`${name} must be a string (got ${shown(value)})`);
  },
  nativeTimeoutMs: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw failure(value, `${name} must be a positive number of milliseconds (got ${shown(value)})`);
  },
  breaktrace: (value, name) => {
    const given = value as { aboveNs?: unknown; file?: unknown } | null;
    if (
      typeof given !== 'object' ||
      given === null ||
      typeof given.aboveNs !== 'number' ||
      !(given.aboveNs > 0) ||
      typeof given.file !== 'string' ||
      given.file.trim() === ''
    )
      throw new TypeError(`${name} must be { aboveNs: a positive number of ns, file: a file name } (got ${shown(value)})`);
  },
  backend: (value, name) => {
    if (value !== 'workers' && value !== 'in-process') throw new TypeError(`${name} must be 'workers' or 'in-process' (got ${shown(value)})`);
  },
  schedule: (value, name) => checkSchedule(value, name),
  onDecisions: (value, name) => {
    if (typeof value !== 'function') throw new TypeError(`${name} must be a function (got ${shown(value)})`);
  },
  onProgress: (value, name) => {
    if (typeof value !== 'function') throw new TypeError(`${name} must be a function (got ${shown(value)})`);
  },
  on: (value, name) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new TypeError(`${name} must be an object of event handlers (got ${shown(value)})`);
    for (const [event, handler] of Object.entries(value)) {
      if (!EVENT_NAMES.includes(event as keyof MachineEvents))
        throw new TypeError(`${name} has an unknown event '${event}' (events: ${EVENT_NAMES.join(', ')})`);
      if (typeof handler !== 'function' && handler !== undefined) throw new TypeError(`${name}.${event} must be a function (got ${shown(handler)})`);
    }
  },
};

const EVENT_NAMES: Array<keyof MachineEvents> = ['progress', 'trace', 'bugcheck'];

/**
 * Run a scenario that loadScenario() returned. Rejects with the first error an event handler
 * threw (after the run has stopped and its workers are gone: a handler cannot break the machine).
 */
export async function runScenario(loaded: LoadedScenario, options: RunScenarioOptions = {}): Promise<RunResult> {
  checkLoaded(loaded);
  const given = checkOptions(options);
  const machine = machineDefaults(loaded.definition);
  const arch = machine.arch === 'x86' ? 'x86' : 'x64';
  const mode = given.mode ?? 'parallel';
  if (given.backend === 'in-process' && mode !== 'deterministic') {
    throw new TypeError(`options.backend 'in-process' runs deterministic mode only: add mode: 'deterministic' (got mode '${mode}')`);
  }
  checkTimeOptions(given, mode);
  checkScheduleOptions(given, mode);
  const resolved: RunOptions = {
    ...given,
    cpus: given.cpus ?? machine.cpus ?? Math.max(1, Math.min(MAX_CPUS, availableParallelism())),
    mode,
    seed: given.seed ?? (mode === 'deterministic' ? DETERMINISTIC_DEFAULT_SEED : randomInt(0, MAX_SEED + 1)),
    durationNs: given.durationNs !== undefined ? Math.round(given.durationNs) : (machine.durationNs ?? DEFAULT_DURATION_MS * 1e6),
    verbose: given.verbose ?? false,
    command: given.command ?? '',
  };
  if (mode === 'parallel') {
    const pace = given.pace ?? 'virtual';
    resolved.pace = pace;
    if (pace === 'virtual') resolved.slackNs = given.slackNs !== undefined ? Math.round(given.slackNs) : DEFAULT_SLACK_NS;
    else resolved.timeScale = given.timeScale ?? 1;
  }
  const badCpu = given.schedule?.decisions?.findIndex((d) => d.cpu !== undefined && d.cpu >= resolved.cpus) ?? -1;
  if (badCpu >= 0) {
    throw new RangeError(
      `runScenario: options.schedule.decisions[${badCpu}].cpu is ${given.schedule!.decisions![badCpu]!.cpu}, but the machine has ${resolved.cpus} CPUs (0 to ${resolved.cpus - 1})`,
    );
  }
  if (given.command === undefined) {
    resolved.command = reproduceCommand({
      scenario: loaded.source,
      cpus: resolved.cpus,
      mode: resolved.mode,
      seed: resolved.seed,
      seedDrawn: given.seed === undefined && mode === 'parallel',
      durationNs: resolved.durationNs,
      ...(resolved.clockIntervalMs !== undefined ? { clockMs: resolved.clockIntervalMs } : {}),
      ...(resolved.lazyIrql === true ? { lazyIrql: true } : {}),
      ...(resolved.pace !== undefined ? { pace: resolved.pace } : {}),
      ...(resolved.slackNs !== undefined ? { slackNs: resolved.slackNs } : {}),
      ...(resolved.timeScale !== undefined ? { timeScale: resolved.timeScale } : {}),
      ...(resolved.schedule !== undefined ? { strategy: resolved.schedule.strategy } : {}),
      ...(resolved.schedule?.depth !== undefined ? { depth: resolved.schedule.depth } : {}),
    });
  }
  const guard = guardHandlers(given.on);
  if (guard.handlers) resolved.on = guard.handlers;
  const definition = validateScenario(loaded.definition, { cpus: resolved.cpus, arch });
  const result = await executeScenario(definition, loaded.modulePath, resolved);
  if (guard.error) throw guard.error.value;
  return result;
}

/**
 * pace, slackNs and timeScale each mean something in one kind of run only (parallel mode; virtual
 * or host pace): given for another they would be ignored without a word, so they are a TypeError.
 */
function checkTimeOptions(given: RunScenarioOptions, mode: RunOptions['mode']): void {
  if (mode === 'deterministic') {
    const option = (['pace', 'slackNs', 'timeScale'] as const).find((key) => given[key] !== undefined);
    if (option) {
      throw new TypeError(
        `runScenario: options.${option} applies to mode 'parallel' only (deterministic mode runs on a virtual clock of its own): leave it out`,
      );
    }
    return;
  }
  const pace = given.pace ?? 'virtual';
  if (given.slackNs !== undefined && pace !== 'virtual') {
    throw new TypeError("runScenario: options.slackNs applies to pace 'virtual' only (with pace 'host', emulated time follows the host clock)");
  }
  if (given.timeScale !== undefined && pace !== 'host') {
    throw new TypeError(`runScenario: options.timeScale applies to pace 'host' only (add pace: 'host'; with pace 'virtual', emulated time is executed cycles)`);
  }
}

/** The largest PCT step estimate, and perturbation bound (ns), a schedule may ask for (the largest depth: --depth's). */
export const MAX_PCT_STEPS = 1e12;
export const MAX_PERTURBATION_NS = 1e9;
const SCHEDULE_KEYS = ['strategy', 'depth', 'steps', 'bounds', 'decisions'];
const BOUND_KEYS = ['deviceNs', 'tickPhaseNs', 'ipiDelayNs'];
/** a decision's fields; a recorded decision's own (neutral, where it was taken) may come along, and a replay does not read them */
const DECISION_KEYS = ['kind', 'ordinal', 'value', 'cpu', 'neutral', 'atNs', 'atCpu'];

/** options.schedule: a ScheduleOptions (src/contract/schedule.ts), each parameter for its strategy only. */
function checkSchedule(value: unknown, name: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${name} must be an object { strategy, … } (got ${shown(value)})`);
  const schedule = value as Record<string, unknown>;
  for (const key of Object.keys(schedule)) {
    if (!SCHEDULE_KEYS.includes(key)) throw new TypeError(`${name} has an unknown field '${key}' (fields: ${SCHEDULE_KEYS.join(', ')})`);
  }
  const strategy = schedule.strategy;
  if (!STRATEGY_NAMES.includes(strategy as StrategyName)) {
    throw new TypeError(`${name}.strategy must be one of ${STRATEGY_NAMES.map((s) => `'${s}'`).join(', ')} (got ${shown(strategy)})`);
  }
  const only = (field: string, owner: StrategyName): void => {
    if (schedule[field] !== undefined && strategy !== owner)
      throw new TypeError(`${name}.${field} applies to strategy '${owner}' only (got strategy '${strategy}')`);
  };
  only('depth', 'pct');
  only('steps', 'pct');
  only('bounds', 'perturb');
  if (schedule.depth !== undefined) integerIn(schedule.depth, `${name}.depth`, 1, MAX_PCT_DEPTH);
  if (schedule.steps !== undefined) integerIn(schedule.steps, `${name}.steps`, 1, MAX_PCT_STEPS);
  if (schedule.bounds !== undefined) {
    const bounds = schedule.bounds;
    if (typeof bounds !== 'object' || bounds === null || Array.isArray(bounds))
      throw new TypeError(`${name}.bounds must be an object { deviceNs, tickPhaseNs, ipiDelayNs } (got ${shown(bounds)})`);
    for (const key of BOUND_KEYS) {
      const bound = (bounds as Record<string, unknown>)[key];
      if (typeof bound !== 'number' || !Number.isFinite(bound) || bound < 0 || bound > MAX_PERTURBATION_NS) {
        throw failure(bound, `${name}.bounds.${key} must be a number of emulated ns from 0 to ${MAX_PERTURBATION_NS} (got ${shown(bound)})`);
      }
    }
    for (const key of Object.keys(bounds)) {
      if (!BOUND_KEYS.includes(key)) throw new TypeError(`${name}.bounds has an unknown field '${key}' (fields: ${BOUND_KEYS.join(', ')})`);
    }
  }
  if (schedule.decisions === undefined) return;
  if (!Array.isArray(schedule.decisions))
    throw new TypeError(`${name}.decisions must be an array of { kind, ordinal, value, cpu? } (got ${shown(schedule.decisions)})`);
  const kinds = STRATEGY_DECISION_KINDS[strategy as StrategyName];
  const seen = new Set<string>();
  schedule.decisions.forEach((entry: unknown, i: number) => {
    const at = `${name}.decisions[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new TypeError(`${at} must be an object { kind, ordinal, value, cpu? } (got ${shown(entry)})`);
    const decision = entry as Record<string, unknown>;
    for (const key of Object.keys(decision)) {
      if (!DECISION_KEYS.includes(key)) throw new TypeError(`${at} has an unknown field '${key}' (fields: ${DECISION_KEYS.join(', ')})`);
    }
    const kind = decision.kind as DecisionKind;
    if (!DECISION_KINDS.includes(kind)) throw new TypeError(`${at}.kind must be one of ${DECISION_KINDS.join(', ')} (got ${shown(decision.kind)})`);
    if (!kinds.includes(kind)) throw new TypeError(`${at}: strategy '${strategy}' has no '${kind}' decisions (its kinds: ${kinds.join(', ')})`);
    integerIn(decision.ordinal, `${at}.ordinal`, 0, Number.MAX_SAFE_INTEGER);
    if (typeof decision.value !== 'number' || !Number.isFinite(decision.value))
      throw failure(decision.value, `${at}.value must be a finite number (got ${shown(decision.value)})`);
    if (kind === 'ipi-delay') integerIn(decision.cpu, `${at}.cpu (the receiving CPU of an 'ipi-delay')`, 0, MAX_CPUS - 1);
    else if (decision.cpu !== undefined) throw new TypeError(`${at}.cpu applies to 'ipi-delay' decisions only (got kind '${kind}')`);
    const key = `${kind}/${decision.cpu ?? ''}/${decision.ordinal}`;
    if (seen.has(key)) throw new TypeError(`${at} repeats an earlier decision's kind, ordinal${kind === 'ipi-delay' ? ' and cpu' : ''}`);
    seen.add(key);
  });
}

/** A schedule is deterministic mode's; recording decisions needs the in-process backend (the actors are at hand there). */
function checkScheduleOptions(given: RunScenarioOptions, mode: RunOptions['mode']): void {
  if (given.schedule !== undefined && mode !== 'deterministic') {
    throw new TypeError(
      "runScenario: options.schedule applies to mode 'deterministic' only (a parallel run races for real, it has no schedule): add mode: 'deterministic'",
    );
  }
  if (given.onDecisions !== undefined && given.backend !== 'in-process') {
    throw new TypeError("runScenario: options.onDecisions needs backend 'in-process' (the decisions are taken in the CPUs' threads otherwise)");
  }
}

function checkLoaded(loaded: unknown): asserts loaded is LoadedScenario {
  const candidate = loaded as Partial<LoadedScenario> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.definition !== 'object' || typeof candidate.modulePath !== 'string') {
    throw new TypeError(
      `runScenario expects what loadScenario() returns (got ${shown(loaded)}): const loaded = await loadScenario('interrupt-storm' or './my.ts')`,
    );
  }
}

function checkOptions(options: unknown): RunScenarioOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`runScenario options must be an object (got ${shown(options)})`);
  const checked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(OPTION_CHECKS, key)) {
      throw new TypeError(`runScenario: unknown option '${key}' (options: ${Object.keys(OPTION_CHECKS).join(', ')})`);
    }
    // an explicit undefined means "the default", as a left-out option does
    if (value === undefined) continue;
    OPTION_CHECKS[key as keyof RunScenarioOptions](value, `runScenario: options.${key}`);
    checked[key] = value;
  }
  return checked as RunScenarioOptions;
}

/** The scenario's own machine defaults, where they are usable (validateScenario reports the ones that are not). */
function machineDefaults(definition: unknown): { cpus?: number; durationNs?: number; arch?: unknown } {
  const machine = (definition as { machine?: { cpus?: unknown; durationMs?: unknown; arch?: unknown } } | null)?.machine;
  if (typeof machine !== 'object' || machine === null) return {};
  const out: { cpus?: number; durationNs?: number; arch?: unknown } = { arch: machine.arch };
  if (typeof machine.cpus === 'number' && Number.isInteger(machine.cpus) && machine.cpus >= 1 && machine.cpus <= MAX_CPUS) out.cpus = machine.cpus;
  if (typeof machine.durationMs === 'number' && Number.isFinite(machine.durationMs) && machine.durationMs > 0) {
    out.durationNs = Math.max(1, Math.round(machine.durationMs * 1e6));
  }
  return out;
}

/**
 * The caller's handlers, each wrapped so that a throw does not unwind through the machine's drain
 * loop: the first one is kept (and thrown once the run is over), later events are not delivered.
 */
function guardHandlers(on: RunEventHandlers | undefined): { handlers: RunEventHandlers | null; error: { value: unknown } | null } {
  const guard: { handlers: RunEventHandlers | null; error: { value: unknown } | null } = { handlers: null, error: null };
  if (!on) return guard;
  const wrap = <A extends unknown[]>(handler: ((...args: A) => void) | undefined): ((...args: A) => void) | undefined =>
    handler &&
    ((...args: A): void => {
      if (guard.error) return;
      try {
        handler(...args);
      } catch (error) {
        guard.error = { value: error };
      }
    });
  const handlers: RunEventHandlers = {};
  const progress = wrap(on.progress);
  const trace = wrap(on.trace);
  const bugcheck = wrap(on.bugcheck);
  if (progress) handlers.progress = progress;
  if (trace) handlers.trace = trace;
  if (bugcheck) handlers.bugcheck = bugcheck;
  guard.handlers = handlers;
  return guard;
}

function integerIn(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw failure(value, `${name} must be an integer from ${min} to ${max} (got ${shown(value)})`);
}

/** A number that is not usable (out of range, NaN, infinite) is a RangeError; anything else, a TypeError. */
function failure(value: unknown, message: string): Error {
  return typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
