/**
 * executeScenario: boot a machine for a validated scenario definition, run it to its end, and
 * collect the RunResult (the JSON contract of `irqlab run --json`). Main thread only.
 * runScenario (run.ts) is the entry that loads and validates first.
 */

import { writeFileSync } from 'node:fs';
import type { BugcheckInfo, CheckResult, CpuFrozenState, CpuSummary, LatencySummary, RunMode, RunResult, ThreadSummary } from './result.js';
import { compileScenario } from '../scenario/compile.js';
import type { CompiledScenario } from '../scenario/compile.js';
import type { RunView, ScenarioDefinition } from '../scenario/define.js';
import { Machine } from './machine.js';
import type { MachineOutcome } from './machine.js';
import { CounterField, ThreadCounterField, ThreadField } from '../shm/layout.js';
import { threadStateName } from '../kernel/thread.js';
import { waitReasonName } from '../kernel/status.js';
import { bugcheckDescription, bugcheckName, bugcheckParamMeanings } from '../kernel/bugcheck.js';
import { irqlName } from '../kernel/irql.js';
import { TraceHash } from '../util/hash.js';
import { ScenarioError } from '../util/errors.js';
import { ChromeTraceWriter } from './chrome-trace.js';
import { percentile } from '../util/stats.js';

export interface RunOptions {
  /** 1..64 */
  cpus: number;
  mode: RunMode;
  seed: number;
  /** emulated run length */
  durationNs: number;
  /** parallel mode: emulated ns per host ns */
  timeScale: number;
  /** the clock interval in ms, overriding the scenario's (--clock) */
  clockIntervalMs?: number;
  /** write the event trace (Chrome trace JSON, opens in ui.perfetto.dev) here */
  traceFile?: string;
  verbose: boolean;
  /** the command line that reproduces this run (for reports) */
  command: string;
  /** called now and then with the emulated time reached (progress display) */
  onProgress?: (emulatedNs: number, durationNs: number) => void;
}

/** Run a definition that has already been validated for options.cpus. */
export async function executeScenario(definition: ScenarioDefinition, nativeModule: string | null, options: RunOptions): Promise<RunResult> {
  const compiled = compileScenario(definition, {
    cpus: options.cpus,
    mode: options.mode,
    seed: options.seed,
    durationNs: options.durationNs,
    timeScale: options.timeScale,
    traceToMain: options.traceFile !== undefined,
    nativeModule,
    ...(options.clockIntervalMs !== undefined ? { clockIntervalMs: options.clockIntervalMs } : {}),
  });
  const machine = new Machine(compiled);
  const trace = options.traceFile ? new ChromeTraceWriter(compiled) : null;
  if (trace) machine.events.on('trace', (cpu, time, event, a, b, c) => trace.add(cpu, time, event, a, b, c));
  if (options.onProgress) machine.events.on('progress', (ns) => options.onProgress!(ns, options.durationNs));
  let outcome: MachineOutcome;
  try {
    const bootMs = await machine.boot();
    outcome = await machine.run(bootMs);
  } finally {
    await machine.shutdown();
  }
  if (trace) writeFileSync(options.traceFile!, trace.toJson());
  return assembleResult(definition, compiled, machine, outcome, options);
}

function summarizeLatency(samples: number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50Ns: 0, p99Ns: 0, maxNs: 0 };
  const sorted = Float64Array.from(samples).sort();
  return { count: samples.length, p50Ns: Math.round(percentile(sorted, 50)), p99Ns: Math.round(percentile(sorted, 99)), maxNs: Math.round(sorted[sorted.length - 1]!) };
}

function assembleResult(
  definition: ScenarioDefinition,
  compiled: CompiledScenario,
  machine: Machine,
  outcome: MachineOutcome,
  options: RunOptions,
): RunResult {
  const { machine: config } = compiled;
  const f64 = machine.f64;
  const perCpu: CpuSummary[] = [];
  for (let cpu = 0; cpu < config.cpus; cpu++) {
    const base = machine.layout.counters(cpu);
    const byVector: Record<string, number> = {};
    for (let v = 0; v < 256; v++) {
      const n = f64[base + CounterField.BY_VECTOR + v]!;
      if (n > 0) byVector['0x' + v.toString(16)] = n;
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
    });
  }
  const threads = summarizeThreads(machine, config.cpus, outcome);
  const reports = outcome.cpuReports;
  const assertToIsr = summarizeLatency(reports.flatMap((r) => r.assertToIsr));
  const isrToDpc = summarizeLatency(reports.flatMap((r) => r.isrToDpc));

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
    bugcheck: bugcheck ? { code: bugcheck.code, params: bugcheck.params, cpu: bugcheck.cpu } : null,
    threads,
  };
  // results() and checks() are the scenario's code: a throw there is a scenario error (exit 1)
  const scenarioCode = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ScenarioError) throw error;
      throw new ScenarioError(`scenario '${definition.name}': ${what} threw: ${(error as Error).message ?? String(error)}`);
    }
  };
  const results = definition.results ? scenarioCode('results()', () => definition.results!(view)) : {};
  const checks: CheckResult[] = (definition.checks ? scenarioCode('checks()', () => definition.checks!(view)) : []).map((c) => ({
    name: c.name,
    passed: c.passed,
    detail: c.detail ?? '',
  }));

  const replayCommand = replayCommandFor(options);
  let bugcheckInfo: BugcheckInfo | null = null;
  if (bugcheck) {
    const cpus: CpuFrozenState[] = [];
    for (let cpu = 0; cpu < config.cpus; cpu++) {
      const report = reports.find((r) => r.cpu === cpu);
      cpus.push(
        report
          ? { cpu, irql: report.irql, irqlName: report.irqlName, frames: report.frames, responded: true, lastEvents: report.lastEvents }
          : { cpu, irql: -1, irqlName: 'unknown', frames: [], responded: false, lastEvents: [] },
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
  return {
    scenario: definition.name,
    mode: options.mode,
    seed: options.seed,
    cpus: config.cpus,
    arch: config.arch,
    emulatedTimeNs: Math.round(emulatedTimeNs),
    hostTimeMs: Math.round(outcome.hostTimeMs * 10) / 10,
    bootMs: Math.round(outcome.bootMs * 10) / 10,
    traceHash: hash.hex(),
    traceEvents,
    perCpu,
    latency: { assertToIsr, isrToDpc },
    results,
    checks,
    bugcheck: bugcheckInfo,
    command: options.command,
    unresponsiveCpus: outcome.unresponsive,
    deviceAssertions: outcome.coordinator.deviceAssertions,
    slices: outcome.coordinator.slices,
    timers: outcome.coordinator.timers,
    threads,
  };
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
        if ((word >>> cpu % 32) & 1) ranOn.push(cpu);
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

/** The deterministic command that replays this run (the same seed, scenario and machine). */
export function replayCommandFor(options: RunOptions): string {
  const parts = options.command.split(' ');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '--mode' || parts[i] === '--seed' || parts[i] === '--time-scale') {
      i++;
      continue;
    }
    if (parts[i] === '--json' || parts[i] === '--verbose') continue;
    out.push(parts[i]!);
  }
  out.push('--mode', 'deterministic', '--seed', String(options.seed));
  return out.join(' ');
}
