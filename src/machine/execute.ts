/**
 * executeScenario: boot a machine for a validated scenario definition, run it to its end, and
 * collect the RunResult (the JSON contract of `irqlab run --json`). Main thread only.
 * runScenario (run.ts) is the entry that loads and validates first.
 */

import type {
  BugcheckInfo,
  CheckResult,
  CpuFrozenState,
  CpuSummary,
  DeviceAssertionSummary,
  InterruptAccounting,
  RunMode,
  RunResult,
  ThreadSummary,
} from './result.js';
import { compileScenario } from '../scenario/compile.js';
import type { CompiledScenario } from '../scenario/compile.js';
import type { NativeRoutine, RunView, ScenarioDefinition } from '../scenario/define.js';
import type { Pace } from '../contract/config.js';
import type { ScheduleOptions } from '../contract/schedule.js';
import type { RecordedDecision } from '../contract/decision-source.js';
import { Machine } from './machine.js';
import { runInProcess } from './in-process.js';
import { withPctSteps } from './pct-steps.js';
import type { MachineEvents, MachineOutcome } from './machine.js';
import { CounterField, DeviceCounterField, ThreadCounterField, ThreadField } from '../shm/layout.js';
import { SpscRing } from '../shm/spsc-ring.js';
import { COORDINATOR_ACTOR, Kind, actorOfCpu } from '../ipc/messages.js';
import type { CpuReport } from '../ipc/messages.js';
import { threadStateName } from '../kernel/thread.js';
import { waitReasonName } from '../kernel/status.js';
import { bugcheckDescription, bugcheckName, bugcheckParamMeanings } from '../kernel/bugcheck.js';
import { irqlName } from '../kernel/irql.js';
import { TraceHash } from '../util/hash.js';
import { InternalError, ScenarioError, scenarioThrew } from '../util/errors.js';
import { ChromeTraceWriter, checkTracePath } from './chrome-trace.js';
import { checkChecks, checkResults } from './scenario-output.js';
import { budgetChecks, buildLatencyReport } from './latency-report.js';
import { BreaktraceWatch } from './latency-breaktrace.js';
import type { BreaktraceOptions, BreaktraceStopped } from './latency-breaktrace.js';

export interface RunOptions {
  /** 1..64 */
  cpus: number;
  mode: RunMode;
  seed: number;
  /** emulated run length */
  durationNs: number;
  /**
   * parallel mode's time source: 'virtual' (default: each CPU's clock is its executed cycles, no
   * CPU more than `slackNs` ahead of the slowest running one) or 'host' (the host clock times
   * `timeScale`: latencies include the host). Not for deterministic mode.
   */
  pace?: Pace;
  /** parallel mode, pace 'virtual': the slack, emulated ns, 1 to 1e9 (default DEFAULT_SLACK_NS, 10 µs) */
  slackNs?: number;
  /** parallel mode, pace 'host': emulated ns per host ns (default 1) */
  timeScale?: number;
  /** the clock interval in ms, overriding the scenario's (--clock) */
  clockIntervalMs?: number;
  /** lazy IRQL whatever the scenario's machine.lazyIrql says (--lazy-irql) */
  lazyIrql?: boolean;
  /** write the event trace (Chrome trace JSON, opens in ui.perfetto.dev) here */
  traceFile?: string;
  /**
   * stop at the first ISR or DPC routine that executes longer than aboveNs and write the records
   * before it to `file`; the run then rejects with BreaktraceStopped (a deterministic run goes on
   * the in-process backend, whatever `backend` says; src/machine/latency-breaktrace.ts)
   */
  breaktrace?: BreaktraceOptions;
  verbose: boolean;
  /**
   * the `irqlab run` line with this run's parameters (for reports; RunResult.command): for a
   * deterministic run it replays the run, for a parallel run it runs the same configuration again
   */
  command: string;
  /**
   * host ms one call of a native routine may run before the run ends with a ScenarioError
   * (default DEFAULT_NATIVE_TIMEOUT_MS, 10 s): a native that never returns would hang the run
   */
  nativeTimeoutMs?: number;
  /** called now and then with the emulated time reached (progress display) */
  onProgress?: (emulatedNs: number, durationNs: number) => void;
  /** subscribe to the machine's events (a `trace` handler makes the CPUs send their trace records, as --trace does) */
  on?: Partial<MachineEvents>;
  /**
   * where the actors run: 'workers' (default; one worker thread per CPU and one for the
   * coordinator) or 'in-process' (all in the calling thread, deterministic mode only: the same run
   * and trace hash, without thread wake-ups; see src/machine/in-process.ts)
   */
  backend?: RunBackend;
  /**
   * deterministic mode: the exploration strategy (`random`, the default: today's seeded slices;
   * `pct` with `depth`; `perturb`), its parameters, and explicit decisions to take instead of the
   * strategy's (a replay file's, a minimizer's candidate). `bounds` left out: the scenario's
   * `explore.jitter`, else the defaults (src/scenario/compile.ts). See src/contract/schedule.ts.
   */
  schedule?: ScheduleOptions;
  /**
   * in-process backend only: called once the run is over (its result assembled, before
   * executeScenario resolves) with every decision the run took, each with its neutral value: the
   * coordinator's in the order taken, then each CPU's 'ipi-delay' decisions. Fed back as
   * `schedule.decisions` (the non-neutral ones suffice), they replay the run exactly.
   */
  onDecisions?: (decisions: RecordedDecision[]) => void;
}

export type RunBackend = 'workers' | 'in-process';

/** Run a definition that has already been validated for options.cpus. */
export async function executeScenario(definition: ScenarioDefinition, nativeModule: string | null, options: RunOptions): Promise<RunResult> {
  return (await executeCompiled(definition, compileForRun(definition, nativeModule, options), nativeModule, options)).result;
}

/** The compiled scenario a run with these options boots from (explore compiles each iteration through here, as a run does). */
export function compileForRun(definition: ScenarioDefinition, nativeModule: string | null, options: RunOptions): CompiledScenario {
  return compileScenario(definition, {
    cpus: options.cpus,
    mode: options.mode,
    seed: options.seed,
    durationNs: options.durationNs,
    ...(options.pace !== undefined ? { pace: options.pace } : {}),
    ...(options.slackNs !== undefined ? { slackNs: options.slackNs } : {}),
    timeScale: options.timeScale ?? 1,
    traceToMain: options.traceFile !== undefined || options.on?.trace !== undefined || options.breaktrace !== undefined,
    nativeModule,
    ...(options.clockIntervalMs !== undefined ? { clockIntervalMs: options.clockIntervalMs } : {}),
    ...(options.lazyIrql === true ? { lazyIrql: true } : {}),
    ...(options.schedule !== undefined ? { schedule: options.schedule } : {}),
    recordDecisions: options.onDecisions !== undefined,
    ...(options.breaktrace !== undefined ? { latencyBreakAboveNs: options.breaktrace.aboveNs } : {}),
  });
}

/**
 * Run a scenario compileScenario() compiled for these options; resolves to the result and the view
 * of the run's end that results(), checks() and outcome() read (explore grades outcome(view)).
 * `natives`: the scenario's native routines, already loaded (the in-process backend only; explore's
 * pool workers load the module once), instead of importing `nativeModule` for this run.
 */
export async function executeCompiled(
  definition: ScenarioDefinition,
  compiledForRun: CompiledScenario,
  nativeModule: string | null,
  options: RunOptions,
  natives?: readonly (NativeRoutine | undefined)[],
): Promise<{ result: RunResult; view: RunView }> {
  // pct without a step estimate: probe for it first (src/machine/pct-steps.ts)
  const compiled = await withPctSteps(definition, compiledForRun, nativeModule, options, natives);
  const machine = new Machine(compiled, {
    scenario: definition.name,
    ...(options.nativeTimeoutMs !== undefined ? { nativeTimeoutMs: options.nativeTimeoutMs } : {}),
  });
  // opened before the workers start: an unwritable path fails here, before the run, not after it
  if (options.traceFile) checkTracePath(options.traceFile, nativeModule ?? undefined);
  const trace = options.traceFile ? ChromeTraceWriter.open(options.traceFile, compiled) : null;
  trace?.listen(machine.events);
  if (options.onProgress) machine.events.on('progress', (ns) => options.onProgress!(ns, options.durationNs));
  if (options.on?.progress) machine.events.on('progress', options.on.progress);
  if (options.on?.trace) machine.events.on('trace', options.on.trace);
  if (options.on?.bugcheck) machine.events.on('bugcheck', options.on.bugcheck);
  const breaktrace = options.breaktrace ? new BreaktraceWatch(options.breaktrace, compiled) : null;
  breaktrace?.listen(machine.events);
  let outcome: MachineOutcome | undefined;
  let stopped: BreaktraceStopped | null = null;
  try {
    // a deterministic --breaktrace run goes in-process, where the stop unwinds the run at the breach itself
    if (options.backend === 'in-process' || (breaktrace && compiled.machine.mode === 'deterministic')) {
      outcome = await runInProcess(machine, compiled, definition.name, natives);
    } else {
      const bootMs = await machine.boot();
      outcome = await machine.run(bootMs);
    }
    stopped = breaktrace?.stoppedAtEnd() ?? null;
  } catch (error) {
    stopped = breaktrace?.stopped(error) ?? null;
    if (stopped === null) throw error;
  } finally {
    await machine.shutdown();
    // the trace was streamed as the run went; end open slices and the JSON, whatever the outcome
    trace?.close(maxCpuTimeNs(machine, compiled.machine.cpus));
  }
  if (stopped !== null) throw stopped;
  if (outcome === undefined) throw new InternalError('the run ended without an outcome');
  const assembled = assembleResult(definition, compiled, machine, outcome, options);
  if (options.onDecisions) {
    if (outcome.decisions === undefined)
      throw new TypeError('options.onDecisions needs a run that records its decisions: the in-process backend, with onDecisions given when it was compiled');
    options.onDecisions(outcome.decisions);
  }
  return assembled;
}

/** The latest emulated time any CPU reached (where a trace cut short by a bugcheck ends its open slices). */
function maxCpuTimeNs(machine: Machine, cpus: number): number {
  let time = 0;
  for (let cpu = 0; cpu < cpus; cpu++) time = Math.max(time, machine.f64[machine.layout.counters(cpu) + CounterField.TIME_NS]!);
  return time;
}

interface DeviceCounts {
  taken: number;
  reasserted: number;
  pending: number;
  undelivered: number;
}

/**
 * Each device's interrupts at each CPU at the end ([cpu][device]): the CPUs' counters in shared
 * memory; `undelivered` adds up the assertions routed to the CPU that never reached its local APIC:
 * left in its inbox when it stopped (its count), left in the coordinator's outbox (the
 * coordinator's count, BACKLOGGED) and still in the coordinator → CPU ring. Called once the
 * workers are gone, so the main thread may read those rings itself.
 */
function deviceCountsAtEnd(machine: Machine, cpus: number, devices: number): DeviceCounts[][] {
  const i32 = new Int32Array(machine.sab);
  const f64 = machine.f64;
  const out: DeviceCounts[][] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const row: DeviceCounts[] = [];
    for (let device = 0; device < devices; device++) {
      const base = machine.layout.deviceCounters(cpu, device);
      row.push({
        taken: f64[base + DeviceCounterField.TAKEN]!,
        reasserted: f64[base + DeviceCounterField.REASSERTED]!,
        pending: f64[base + DeviceCounterField.PENDING]!,
        undelivered: f64[base + DeviceCounterField.UNDELIVERED]! + f64[base + DeviceCounterField.BACKLOGGED]!,
      });
    }
    if (devices > 0) {
      new SpscRing(i32, machine.layout.ring(COORDINATOR_ACTOR, actorOfCpu(cpu))).read((kind, w, offset) => {
        if (kind !== Kind.IRQ_ASSERT) return;
        const counts = row[w[offset + 4]!];
        if (counts) counts.undelivered += 1;
      });
    }
    out.push(row);
  }
  return out;
}

function assembleResult(
  definition: ScenarioDefinition,
  compiled: CompiledScenario,
  machine: Machine,
  outcome: MachineOutcome,
  options: RunOptions,
): { result: RunResult; view: RunView } {
  const { machine: config } = compiled;
  const f64 = machine.f64;
  const deviceCounts = deviceCountsAtEnd(machine, config.cpus, compiled.devices.length);
  const sumOver = (counts: readonly DeviceCounts[], field: keyof DeviceCounts): number => counts.reduce((sum, c) => sum + c[field], 0);
  const perCpu: CpuSummary[] = [];
  for (let cpu = 0; cpu < config.cpus; cpu++) {
    const base = machine.layout.counters(cpu);
    const byVector: Record<string, number> = {};
    for (let v = 0; v < 256; v++) {
      const n = f64[base + CounterField.BY_VECTOR + v]!;
      if (n > 0) byVector[`0x${v.toString(16)}`] = n;
    }
    const timeAtIrqlNs: Record<string, number> = {};
    const levels = config.arch === 'x86' ? 32 : 16;
    for (let irql = 0; irql < levels; irql++) timeAtIrqlNs[String(irql)] = Math.round(f64[base + CounterField.TIME_AT_IRQL + irql]!);
    perCpu.push({
      cpu,
      interrupts: f64[base + CounterField.INTERRUPTS]!,
      interruptsByVector: byVector,
      dpcs: f64[base + CounterField.DPCS]!,
      ipisSent: f64[base + CounterField.IPIS_SENT]!,
      ipisReceived: f64[base + CounterField.IPIS_RECEIVED]!,
      maxNesting: f64[base + CounterField.MAX_NESTING]!,
      maxDpcQueueDepth: f64[base + CounterField.MAX_DPC_QUEUE_DEPTH]!,
      timeAtIrqlNs,
      idleNs: Math.round(f64[base + CounterField.IDLE_NS]!),
      cycles: f64[base + CounterField.CYCLES]!,
      instructions: f64[base + CounterField.INSTRUCTIONS]!,
      clockTicks: f64[base + CounterField.CLOCK_TICKS]!,
      unclaimedInterrupts: f64[base + CounterField.UNCLAIMED_INTERRUPTS]!,
      contextSwitches: f64[base + CounterField.CONTEXT_SWITCHES]!,
      maxReadyDepth: outcome.coordinator.maxReadyDepth[cpu] ?? 0,
      userEventsDropped: outcome.cpuReports.find((r) => r.cpu === cpu)?.userEventsDropped ?? 0,
      pendingInterrupts: sumOver(deviceCounts[cpu]!, 'pending'),
      undeliveredInterrupts: sumOver(deviceCounts[cpu]!, 'undelivered'),
      reassertedInterrupts: sumOver(deviceCounts[cpu]!, 'reasserted'),
      taskPriorityWrites: f64[base + CounterField.TASK_PRIORITY_WRITES]!,
      taskPriorityWritesSaved: f64[base + CounterField.TASK_PRIORITY_WRITES_SAVED]!,
    });
  }
  const threads = summarizeThreads(machine, config.cpus, outcome);
  const reports = outcome.cpuReports;
  const emulatedTimeAtEnd = outcome.reason === 'end' ? outcome.coordinator.timeNs : Math.max(...reports.map((r) => r.timeNs), 0);
  const latency = buildLatencyReport(
    Array.from({ length: config.cpus }, (_, cpu) => reports.find((r) => r.cpu === cpu)?.latency),
    emulatedTimeAtEnd,
    definition,
  );
  const { assertToIsr, isrToDpc } = latency;

  // the trace hash: every CPU's running hash in CPU order, then the coordinator's
  const hash = new TraceHash();
  let traceEvents = outcome.coordinator.traceEvents;
  for (const report of reports) {
    for (let i = 0; i < report.traceHash.length; i += 8) hash.word(parseInt(report.traceHash.slice(i, i + 8), 16) | 0);
    traceEvents += report.traceEvents;
  }
  for (let i = 0; i < outcome.coordinator.traceHash.length; i += 8) hash.word(parseInt(outcome.coordinator.traceHash.slice(i, i + 8), 16) | 0);

  const memory = machine.memory();
  const variable = (name: string): { address: number; words: number } => {
    const info = compiled.variables.get(name);
    if (!info) throw new ScenarioError(`scenario '${definition.name}': results/checks read unknown variable '${name}'`);
    return info;
  };
  const userEvents = reports.flatMap((r) => r.userEvents);
  const userEventsDropped = reports.reduce((sum, r) => sum + r.userEventsDropped, 0);
  const userEventLimit = {
    limitPerCpu: reports[0]?.userEventsLimit ?? 0,
    kept: userEvents.length,
    dropped: userEventsDropped,
    limitReached: reports.some((r) => r.userEventsLimit > 0 && r.userEvents.length >= r.userEventsLimit),
  };
  const emulatedTimeNs = outcome.reason === 'end' ? outcome.coordinator.timeNs : Math.max(...reports.map((r) => r.timeNs), 0);
  const bugcheck = outcome.bugcheck;
  const view: RunView = {
    cpus: config.cpus,
    emulatedTimeNs,
    perCpu,
    latency: { assertToIsr, isrToDpc },
    read: (name, index = 0) => {
      const info = variable(name);
      if (index < 0 || index >= info.words) throw new ScenarioError(`scenario '${definition.name}': ${name}[${index}] is out of range (${info.words} words)`);
      return memory[(info.address >> 2) + index]!;
    },
    readArray: (name) => {
      const info = variable(name);
      return Array.from(memory.subarray(info.address >> 2, (info.address >> 2) + info.words));
    },
    userEvents,
    userEventsDropped,
    bugcheck: bugcheck ? { code: bugcheck.code, params: bugcheck.params, cpu: bugcheck.cpu } : null,
    threads,
  };
  // results() and checks() are the scenario's code: a throw there, or a value of the wrong shape,
  // is a scenario error (exit 1)
  const scenarioCode = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw scenarioThrew(definition.name, what, error);
    }
  };
  const results = definition.results
    ? checkResults(
        definition.name,
        scenarioCode('results()', () => definition.results!(view)),
      )
    : {};
  const checks: CheckResult[] = definition.checks
    ? checkChecks(
        definition.name,
        scenarioCode('checks()', () => definition.checks!(view)),
      )
    : [];
  // the scenario's latency budgets are checks too: exceeding one fails the run (exit 2)
  checks.push(...budgetChecks(latency));

  const deviceAssertions: DeviceAssertionSummary[] = outcome.coordinator.deviceAssertions.map((device, index) => {
    const atCpus = deviceCounts.map((row) => row[index]!);
    return {
      name: device.name,
      asserted: device.asserted,
      taken: sumOver(atCpus, 'taken'),
      reasserted: sumOver(atCpus, 'reasserted'),
      pendingInLocalApics: sumOver(atCpus, 'pending'),
      undelivered: sumOver(atCpus, 'undelivered'),
    };
  });
  const total = (field: 'asserted' | 'taken' | 'reasserted' | 'pendingInLocalApics' | 'undelivered'): number =>
    deviceAssertions.reduce((sum, d) => sum + d[field], 0);
  const interruptAccounting: InterruptAccounting = {
    asserted: total('asserted'),
    reasserted: total('reasserted'),
    taken: total('taken'),
    pendingInLocalApics: total('pendingInLocalApics'),
    undelivered: total('undelivered'),
    unaccounted: total('asserted') + total('reasserted') - total('taken') - total('pendingInLocalApics') - total('undelivered'),
    exact: machine.stoppedFromOutside.length === 0,
  };

  const replayCommand = replayCommandFor(options);
  const allCpus = (field: 'taskPriorityWrites' | 'taskPriorityWritesSaved'): number => perCpu.reduce((sum, c) => sum + c[field], 0);
  let bugcheckInfo: BugcheckInfo | null = null;
  if (bugcheck) {
    const cpus: CpuFrozenState[] = [];
    for (let cpu = 0; cpu < config.cpus; cpu++) {
      const report = reports.find((r) => r.cpu === cpu);
      cpus.push(
        report
          ? {
              cpu,
              irql: report.irql,
              irqlName: report.irqlName,
              frames: report.frames,
              responded: true,
              lastEvents: report.lastEvents,
              dpcQueue: report.dpcQueue,
              heldLocks: report.heldLocks,
              readyThreads: outcome.coordinator.readyThreads[cpu] ?? [],
            }
          : {
              cpu,
              irql: -1,
              irqlName: 'unknown',
              frames: [],
              responded: false,
              lastEvents: [],
              dpcQueue: [],
              heldLocks: [],
              readyThreads: outcome.coordinator.readyThreads[cpu] ?? [],
            },
      );
    }
    const top = bugcheck.frames[bugcheck.frames.length - 1];
    bugcheckInfo = {
      code: bugcheck.code,
      name: bugcheckName(bugcheck.code),
      params: bugcheck.params,
      paramMeanings: bugcheckParamMeanings(bugcheck.code),
      description: bugcheckDescription(bugcheck.code),
      cpu: bugcheck.cpu,
      irql: bugcheck.irql,
      irqlName: irqlName(config.arch, bugcheck.irql),
      frames: bugcheck.frames,
      routine: top ? top.routine : 'unknown',
      emulatedTimeNs: bugcheck.timeNs,
      cpus,
      replayCommand,
      faultingInstruction: bugcheck.faultingInstruction,
      detail: bugcheck.detail,
    };
  }
  const result: RunResult = {
    scenario: definition.name,
    mode: options.mode,
    pace: options.mode === 'parallel' ? config.pace : null,
    slackNs: options.mode === 'parallel' && config.pace === 'virtual' ? config.slackNs : null,
    timeScale: options.mode === 'parallel' && config.pace === 'host' ? config.timeScale : null,
    virtualTime: summarizeVirtualTime(reports),
    seed: options.seed,
    cpus: config.cpus,
    arch: config.arch,
    emulatedTimeNs: Math.round(emulatedTimeNs),
    hostTimeMs: Math.round(outcome.hostTimeMs * 10) / 10,
    bootMs: Math.round(outcome.bootMs * 10) / 10,
    traceHash: hash.hex(),
    traceEvents,
    perCpu,
    latency,
    results,
    checks,
    bugcheck: bugcheckInfo,
    command: options.command,
    replayCommand,
    unresponsiveCpus: outcome.unresponsive,
    deviceAssertions,
    interruptAccounting,
    slices: outcome.coordinator.slices,
    timers: outcome.coordinator.timers,
    threads,
    userEventLimit,
    taskPriority: { lazyIrql: config.lazyIrql, writes: allCpus('taskPriorityWrites'), writesSaved: allCpus('taskPriorityWritesSaved') },
  };
  return { result, view };
}

/** The scenario's threads at the end: the dispatcher's view (the coordinator's report) and the CPUs' counters. */
function summarizeThreads(machine: Machine, cpus: number, outcome: MachineOutcome): ThreadSummary[] {
  const i32 = new Int32Array(machine.sab);
  return outcome.coordinator.threads
    .filter((t) => t.idleOf < 0)
    .map((t) => {
      const record = machine.layout.thread(t.id - 1);
      const counters = machine.layout.threadCounters(t.id - 1);
      const ranOn: number[] = [];
      for (let cpu = 0; cpu < cpus; cpu++) {
        const word = i32[record + (cpu < 32 ? ThreadField.RAN_ON_LO : ThreadField.RAN_ON_HI)]!;
        if ((word >>> (cpu % 32)) & 1) ranOn.push(cpu);
      }
      return {
        name: t.name,
        id: t.id,
        state: threadStateName(t.state),
        priority: t.priority,
        basePriority: t.basePriority,
        cpuTimeNs: Math.round(machine.f64[counters + ThreadCounterField.RUN_NS]!),
        contextSwitches: machine.f64[counters + ThreadCounterField.CONTEXT_SWITCHES]!,
        waits: t.waits,
        ranOn,
        waitReason: waitReasonName(t.waitReason),
      };
    });
}

/**
 * The command that replays this run: a deterministic run's command with its mode and seed (the
 * same seed, scenario and machine replay it exactly). Null for a parallel run: it raced for real,
 * and a deterministic run with its seed is another run (another schedule), not this one.
 */
export function replayCommandFor(options: Pick<RunOptions, 'mode' | 'seed' | 'command'>): string | null {
  if (options.mode !== 'deterministic') return null;
  const parts = options.command.split(' ');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '--mode' || parts[i] === '--seed' || parts[i] === '--time-scale' || parts[i] === '--pace' || parts[i] === '--slack') {
      i++;
      continue;
    }
    if (parts[i] === '--json' || parts[i] === '--verbose') continue;
    out.push(parts[i]!);
  }
  out.push('--mode', 'deterministic', '--seed', String(options.seed));
  return out.join(' ');
}

/** Parallel mode on virtual time: the CPUs' own account of the slack (null in other modes). */
function summarizeVirtualTime(reports: readonly CpuReport[]): RunResult['virtualTime'] {
  const perCpu: Array<{ cpu: number; maxSkewNs: number; slackWaits: number }> = [];
  for (const report of reports) {
    if (report.virtualTime === undefined) continue;
    perCpu.push({ cpu: report.cpu, maxSkewNs: Math.round(report.virtualTime.maxSkewNs), slackWaits: report.virtualTime.slackWaits });
  }
  if (perCpu.length === 0) return null;
  return {
    maxSkewNs: Math.max(...perCpu.map((c) => c.maxSkewNs)),
    slackWaits: perCpu.reduce((sum, c) => sum + c.slackWaits, 0),
    perCpu,
  };
}
