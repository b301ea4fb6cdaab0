/**
 * PCT's estimate k of a run's scheduling steps (src/coordinator/pct.ts: the d − 1 change points are
 * drawn uniformly over it) when the schedule gives none: the steps of the scenario's neutral PCT
 * run (the same scenario and machine, seed PROBE_SEED, priorities in CPU order, no change point),
 * run once in this thread on the in-process backend before the run itself.
 *
 * Why a probe: Coyote takes k from the previous iteration's length. An irqlab run must be a
 * function of its own command line (a replay is `irqlab run … --seed S`), so the previous
 * iteration is replaced by this fixed one, which every run of the same scenario and options
 * computes alike, whatever its seed and backend. An estimate from the duration alone (all CPUs busy
 * from start to end) is far too large for a race that is over early: in timer-cancel-race the CPUs
 * contend for 7 steps of an estimated 39,000, and PCT's change points all fell after the race.
 *
 * The probe's answer is kept per scenario definition and machine in this thread, so an
 * exploration's pool worker probes once, not once per iteration.
 */

import type { CompiledScenario } from '../scenario/compile.js';
import type { NativeRoutine, ScenarioDefinition } from '../scenario/define.js';
import type { RunOptions } from './execute.js';
import { compileForRun } from './execute.js';
import { runInProcess } from './in-process.js';
import { Machine } from './machine.js';

/** the probe's seed: fixed, so that k does not depend on the run's seed */
const PROBE_SEED = 0;

const estimates = new WeakMap<ScenarioDefinition, Map<string, number>>();

/**
 * `compiled` with PCT's step estimate filled in when it runs pct without one and without explicit
 * decisions (probing for it, or taking this thread's earlier answer for the same scenario and
 * machine); else `compiled` itself.
 */
export async function withPctSteps(
  definition: ScenarioDefinition,
  compiled: CompiledScenario,
  nativeModule: string | null,
  options: RunOptions,
  natives?: readonly (NativeRoutine | undefined)[],
): Promise<CompiledScenario> {
  const schedule = compiled.machine.schedule;
  if (compiled.machine.mode !== 'deterministic' || schedule?.strategy !== 'pct' || schedule.steps !== undefined) return compiled;
  // explicit decisions take no proposal, so the change points drawn over k are never used
  if (schedule.decisions !== undefined) return compiled;
  const { cpus, durationNs, clockIntervalNs, cyclesPerNs } = compiled.machine;
  const key = `${cpus}/${durationNs}/${clockIntervalNs}/${cyclesPerNs}`;
  let known = estimates.get(definition);
  if (known === undefined) estimates.set(definition, (known = new Map()));
  let steps = known.get(key);
  if (steps === undefined) {
    steps = await probeSteps(definition, nativeModule, options, natives);
    known.set(key, steps);
  }
  const withSteps = { ...schedule, steps };
  return {
    ...compiled,
    machine: { ...compiled.machine, schedule: withSteps },
    processors: compiled.processors.map((processor) => ({ ...processor, schedule: withSteps })),
  };
}

/** The contended steps of the neutral PCT run (at least 1). */
async function probeSteps(
  definition: ScenarioDefinition,
  nativeModule: string | null,
  options: RunOptions,
  natives?: readonly (NativeRoutine | undefined)[],
): Promise<number> {
  const probeOptions: RunOptions = {
    cpus: options.cpus,
    mode: 'deterministic',
    seed: PROBE_SEED,
    durationNs: options.durationNs,
    ...(options.clockIntervalMs !== undefined ? { clockIntervalMs: options.clockIntervalMs } : {}),
    verbose: false,
    command: '',
    schedule: { strategy: 'pct', decisions: [] },
    // recorded: its 'priority-change' decisions are its steps
    onDecisions: () => {},
  };
  const compiled = compileForRun(definition, nativeModule, probeOptions);
  const machine = new Machine(compiled, { scenario: definition.name });
  try {
    const outcome = await runInProcess(machine, compiled, definition.name, natives);
    const steps = (outcome.decisions ?? []).filter((decision) => decision.kind === 'priority-change').length;
    return Math.max(1, steps);
  } finally {
    await machine.shutdown();
  }
}
