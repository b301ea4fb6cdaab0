/**
 * --breaktrace (cyclictest's name): stop a deterministic run the first time an ISR or DPC routine
 * executes longer than a bound, and write the timeline of the records before it as a Chrome trace.
 *
 * The run goes on the in-process backend, where the CPUs' latency recorders are at hand
 * (src/cpu/latency-recorder.ts measures each routine's exclusive execution as it returns). The
 * main thread keeps the last WINDOW_RECORDS trace records in a ring; at the first record after a
 * CPU's recorder reports a breach it stops the run by throwing from the trace listener (as the
 * inspector does) and writes the ring through ChromeTraceWriter. Recording adds no trace record:
 * the CPUs only forward theirs, so the trace and its hash are the run's as always.
 */

import type { Processor } from '../cpu/processor.js';
import type { LatencyBreach } from '../cpu/latency-recorder.js';
import type { CompiledScenario } from '../scenario/compile.js';
import { ChromeTraceWriter } from './chrome-trace.js';
import type { InProcessActors } from './in-process.js';

/** how many trace records before the breach the window holds (~40 ms of a busy 4-CPU run) */
export const BREAKTRACE_WINDOW_RECORDS = 20_000;

export interface BreaktraceOptions {
  /** emulated ns of execution an ISR or DPC routine may take */
  aboveNs: number;
  /** where the window is written (Chrome trace JSON) */
  file: string;
}

export interface BreaktraceInfo {
  cpu: number;
  kind: 'isr' | 'dpc';
  routine: string;
  executionNs: number;
  /** when the routine started and returned, emulated ns */
  startNs: number;
  endNs: number;
  aboveNs: number;
  file: string;
  /** trace records in the window written */
  records: number;
}

/** The run stopped at a breach (runScenario rejects with it; `irqlab run` reports it and exits 2). */
export class BreaktraceStopped extends Error {
  readonly info: BreaktraceInfo;
  constructor(info: BreaktraceInfo) {
    super(
      `breaktrace: ${info.kind === 'isr' ? 'ISR' : 'DPC'} routine ${info.routine} executed ${(info.executionNs / 1000).toFixed(3)} µs on CPU ${info.cpu} (over ${info.aboveNs / 1000} µs); the run stopped, the window before it is in ${info.file}`,
    );
    this.name = 'BreaktraceStopped';
    this.info = info;
  }
}

/** Thrown from the trace listener to unwind the in-process run at the breach. */
class StopAtBreach {
  readonly cpu: number;
  readonly breach: LatencyBreach;
  constructor(cpu: number, breach: LatencyBreach) {
    this.cpu = cpu;
    this.breach = breach;
  }
}

export class BreaktraceWatch {
  private readonly options: BreaktraceOptions;
  private readonly compiled: CompiledScenario;
  private processors: readonly Processor[] = [];
  private readonly times = new Float64Array(BREAKTRACE_WINDOW_RECORDS);
  private readonly words = new Int32Array(BREAKTRACE_WINDOW_RECORDS * 5);
  private next = 0;

  constructor(options: BreaktraceOptions, compiled: CompiledScenario) {
    this.options = options;
    this.compiled = compiled;
  }

  /** For runInProcess: arm every CPU's recorder. */
  readonly observe = (actors: InProcessActors): void => {
    this.processors = actors.processors;
    for (const processor of actors.processors) processor.latency.breakAboveNs = this.options.aboveNs;
  };

  /** The machine's trace listener. */
  readonly listener = (cpu: number, time: number, event: number, a: number, b: number, c: number): void => {
    const slot = this.next++ % BREAKTRACE_WINDOW_RECORDS;
    this.times[slot] = time;
    const w = this.words;
    w[slot * 5] = cpu;
    w[slot * 5 + 1] = event;
    w[slot * 5 + 2] = a;
    w[slot * 5 + 3] = b;
    w[slot * 5 + 4] = c;
    const breach = this.processors[cpu]?.latency.breach;
    if (breach) throw new StopAtBreach(cpu, breach);
  };

  /** `error` is this watch's stop: write the window and give the error to reject the run with; else null. */
  stopped(error: unknown): BreaktraceStopped | null {
    if (!(error instanceof StopAtBreach)) return null;
    const count = Math.min(this.next, BREAKTRACE_WINDOW_RECORDS);
    const writer = ChromeTraceWriter.open(this.options.file, this.compiled);
    let last = 0;
    for (let i = this.next - count; i < this.next; i++) {
      const slot = i % BREAKTRACE_WINDOW_RECORDS;
      const w = this.words;
      last = this.times[slot]!;
      writer.add(w[slot * 5]!, last, w[slot * 5 + 1]!, w[slot * 5 + 2]!, w[slot * 5 + 3]!, w[slot * 5 + 4]!);
    }
    writer.close(last);
    const { breach, cpu } = error;
    return new BreaktraceStopped({
      cpu,
      kind: breach.kind,
      routine: this.compiled.machine.routines[breach.routine]?.name ?? `routine#${breach.routine}`,
      executionNs: Math.round(breach.executionNs),
      startNs: Math.round(breach.startNs),
      endNs: Math.round(breach.endNs),
      aboveNs: this.options.aboveNs,
      file: this.options.file,
      records: count,
    });
  }
}
