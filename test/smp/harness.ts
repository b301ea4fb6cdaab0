// Runs a scenario definition on real workers (one per emulated CPU plus the coordinator), the way
// `irqlab run` does, and hands the test what the scenario's code emitted. Deterministic mode by
// default: same definition + seed ⇒ the same run, so a test can assert exact orders and counts.
// runInProcess runs the same machine in the test's own thread (the in-process backend, deterministic
// mode only): the same run, for the tests of CPU rules that need no real parallelism (test/cpu/).
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import type { RunResult, RunMode } from '../../src/machine/result.js';
import type { RunBackend } from '../../src/machine/execute.js';
import type { RunView, ScenarioDefinition } from '../../src/scenario/define.js';

export interface UserEvent {
  cpu: number;
  timeNs: number;
  tag: number;
  value: number;
}

export interface SmpRun {
  result: RunResult;
  /** TRACE events of every CPU, in each CPU's order, CPUs in ascending order */
  events: UserEvent[];
  /** the tags one CPU traced, in order */
  tags(cpu: number): number[];
  /** the first event with this tag (throws if there is none) */
  first(tag: number): UserEvent;
  /** every event with this tag */
  all(tag: number): UserEvent[];
}

export interface SmpOptions {
  cpus: number;
  seed?: number;
  durationMs?: number;
  mode?: RunMode;
  /** 'workers' unless given */
  backend?: RunBackend;
}

export async function runOnWorkers(definition: ScenarioDefinition, options: SmpOptions): Promise<SmpRun> {
  let events: UserEvent[] = [];
  const capturing: ScenarioDefinition = {
    ...definition,
    results: (view: RunView) => {
      events = view.userEvents.map((e) => ({ ...e }));
      return definition.results ? definition.results(view) : {};
    },
  };
  const arch = definition.machine?.arch ?? 'x64';
  const validated = validateScenario(capturing, { cpus: options.cpus, arch });
  const mode = options.mode ?? 'deterministic';
  const seed = options.seed ?? 1;
  const durationMs = options.durationMs ?? definition.machine?.durationMs ?? 20;
  const result = await executeScenario(validated, null, {
    cpus: options.cpus,
    mode,
    seed,
    durationNs: durationMs * 1e6,
    timeScale: 1,
    verbose: false,
    command: `irqlab run ${definition.name} --cpus ${options.cpus} --duration ${durationMs}ms`,
    ...(options.backend ? { backend: options.backend } : {}),
  });
  return {
    result,
    events,
    tags: (cpu) => events.filter((e) => e.cpu === cpu).map((e) => e.tag),
    first: (tag) => {
      const event = events.find((e) => e.tag === tag);
      if (!event) throw new Error(`no event with tag ${tag}; tags seen: ${events.map((e) => `${e.cpu}:${e.tag}`).join(' ')}`);
      return event;
    },
    all: (tag) => events.filter((e) => e.tag === tag),
  };
}

/** The same run in this thread (the in-process backend: deterministic mode, no workers). */
export function runInProcess(definition: ScenarioDefinition, options: Omit<SmpOptions, 'mode' | 'backend'>): Promise<SmpRun> {
  return runOnWorkers(definition, { ...options, mode: 'deterministic', backend: 'in-process' });
}
