/**
 * The in-process backend: the coordinator and every CPU of one machine run as step functions in
 * the calling thread, over in-memory queues (src/ipc/memory-port.ts), in deterministic mode only.
 * The actors are the same objects the workers run (Coordinator, Processor) and the schedule is the
 * same slice scheduler's (src/coordinator/slice-scheduler.ts), so a scenario with the same options
 * and seed computes the same run and the same trace hash as on workers, without thread wake-ups:
 * the backend for tests of CPU rules and for exploring many schedules.
 *
 * What it gives up: it blocks the calling thread for the whole run (no progress line while it
 * runs, no native guard: a native routine that never returns hangs it), and it has no parallel
 * mode. Main thread (or any thread) only; the Machine it is given only provides the initialized
 * shared memory and the event emitter (no workers are spawned).
 */

import { Coordinator } from '../coordinator/coordinator.js';
import { Processor } from '../cpu/processor.js';
import { DeterministicSlices } from '../cpu/driver.js';
import { MemoryHub } from '../ipc/memory-port.js';
import { loadNatives } from '../ipc/worker-port.js';
import { COORDINATOR_ACTOR, MAIN_ACTOR, actorOfCpu, cpuOfActor, decodeMessage } from '../ipc/messages.js';
import type { BugcheckReport, CoordinatorReport, CpuReport, Report, ScenarioErrorReport } from '../ipc/messages.js';
import { ControlField, MachineState } from '../shm/layout.js';
import type { CompiledScenario } from '../scenario/compile.js';
import type { NativeRoutine } from '../scenario/define.js';
import { InternalError, ScenarioError } from '../util/errors.js';
import { emitTraceRecord } from './machine.js';
import type { Machine, MachineOutcome } from './machine.js';

/**
 * The actors of an in-process run, for a caller that reads them while the run goes (the inspector,
 * src/inspect/): it stops the run by throwing from a trace listener, which unwinds runInProcess,
 * and then reads the coordinator's and the CPUs' state as it was at that record.
 */
export interface InProcessActors {
  coordinator: Coordinator;
  processors: readonly Processor[];
  /** the actors' transport: its `stalled` hook is where the coordinator serves a waiting CPU's dispatcher request */
  hub: MemoryHub;
}

/** Deterministic mode reads no host clock; the actors' constructors still take one. */
const noHostClock = (): number => 0;

/**
 * Run the machine's scenario in this thread to its end. `scenario`: its name, for error messages.
 * `natives`: the native routines in the compiled order, when the caller has the module loaded
 * already (explore's pool workers); else they are imported from the compiled module path.
 * `observe`: given the actors once they are built, before the run starts (InProcessActors).
 */
export async function runInProcess(
  machine: Machine,
  compiled: CompiledScenario,
  scenario?: string,
  natives?: readonly (NativeRoutine | undefined)[],
  observe?: (actors: InProcessActors) => void,
): Promise<MachineOutcome> {
  const config = compiled.machine;
  if (config.mode !== 'deterministic') throw new InternalError(`the in-process backend runs deterministic mode only (got '${config.mode}')`);
  const started = performance.now();
  const { sab, layout } = machine;
  const reports: Report[] = [];
  const hub = new MemoryHub(sab, layout, {
    onReport: (_from, report) => {
      reports.push(report);
      if (report.kind === 'bugcheck') machine.events.emit('bugcheck', report);
    },
    ...(config.traceToMain
      ? {
          onTrace: (actor: number, time: number, event: number, a: number, b: number, c: number) =>
            emitTraceRecord(machine.events, cpuOfActor(actor), Math.round(time), event, a, b, c),
        }
      : {}),
  });
  const coordinator = new Coordinator(config, compiled.devices, sab, layout, hub.port(COORDINATOR_ACTOR), noHostClock);
  const loadedNatives = natives ? [...natives] : await loadNatives(config.nativeModule, config.nativeNames);
  const cpus = compiled.processors.map((processorConfig, cpu) => {
    const port = hub.port(actorOfCpu(cpu));
    const processor = new Processor(processorConfig, sab, layout, port, noHostClock);
    processor.natives = loadedNatives;
    return { processor, slices: new DeterministicSlices(processor, port) };
  });
  // a CPU waiting for its dispatcher reply lets the coordinator serve the request
  hub.stalled = () => coordinator.pollInbox() > 0;
  observe?.({ coordinator, processors: cpus.map(({ processor }) => processor), hub });
  const bootMs = performance.now() - started;
  const runStarted = performance.now();
  const i32 = new Int32Array(sab);
  Atomics.store(i32, layout.control + ControlField.STATE, MachineState.RUNNING);
  const scenarioError = (): ScenarioError | null => {
    const report = reports.find((r): r is ScenarioErrorReport => r.kind === 'scenario-error');
    if (!report) return null;
    const cause = new Error(report.thrown);
    cause.stack = report.stack || `${report.thrown} (not an Error: no stack)`;
    return new ScenarioError(`scenario '${scenario ?? 'scenario'}': ${report.what} threw ${report.thrown}`, { cause });
  };

  coordinator.bootThreads();
  for (;;) {
    const grant = coordinator.startSlice();
    if (grant === null) break;
    const cpu = cpus[grant.cpu]!;
    cpu.slices.collect();
    if (!cpu.slices.granted) throw new InternalError(`in-process backend: CPU ${grant.cpu} did not get its slice grant`);
    cpu.slices.step();
    if (!coordinator.finishSlice()) throw scenarioError() ?? new InternalError(`in-process backend: CPU ${grant.cpu} ended its slice without reporting it`);
  }
  // the end of the run (RUN_STOP) or the freeze reaches every CPU; what is left in an inbox is counted
  for (const { processor, slices } of cpus) {
    slices.collect();
    if (!processor.isFrozen && processor.isStopRequested) slices.step();
    processor.countUndeliveredInterrupts();
  }
  coordinator.countBackloggedInterrupts();
  const failure = scenarioError();
  if (failure) throw failure;

  let runDone: Extract<ReturnType<typeof decodeMessage>, { type: 'run/done' }> | null = null;
  hub.poll(MAIN_ACTOR, (kind, w, offset, length) => {
    const message = decodeMessage(kind, w, offset, length);
    if (message.type === 'run/done') runDone = message;
  });
  const done = runDone as Extract<ReturnType<typeof decodeMessage>, { type: 'run/done' }> | null;
  if (done === null) throw new InternalError('in-process backend: the coordinator did not end the run');
  machine.events.emit('progress', machine.f64[(layout.control + ControlField.EMULATED_NS) / 2]!);
  const coordinatorReport = reports.find((r): r is CoordinatorReport => r.kind === 'coordinator');
  if (!coordinatorReport) throw new InternalError('in-process backend: the coordinator did not report the end of the run');
  const cpuReports = reports.filter((r): r is CpuReport => r.kind === 'cpu').sort((a, b) => a.cpu - b.cpu);
  const unresponsive: number[] = [];
  for (let cpu = 0; cpu < config.cpus; cpu++) if (!cpuReports.some((r) => r.cpu === cpu)) unresponsive.push(cpu);
  if (unresponsive.length > 0) throw new InternalError(`in-process backend: CPUs ${unresponsive.join(', ')} did not report the end of the run`);
  return {
    reason: done.reason,
    cpuReports,
    coordinator: coordinatorReport,
    bugcheck: reports.find((r): r is BugcheckReport => r.kind === 'bugcheck') ?? null,
    unresponsive,
    hostTimeMs: performance.now() - runStarted,
    bootMs,
    // the coordinator's decisions, then each CPU's (the actors are all here: their logs are at hand)
    ...(config.schedule?.recordDecisions
      ? { decisions: [...coordinator.decisions.recorded(), ...cpus.flatMap(({ processor }) => processor.heldIpis?.decisions.recorded() ?? [])] }
      : {}),
  };
}
