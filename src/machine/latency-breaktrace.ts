/**
 * --breaktrace (cyclictest's name): stop a run the first time an ISR or DPC routine executes longer
 * than a bound, and write the timeline of the records before it as a Chrome trace.
 *
 * Each CPU's latency recorder (src/cpu/latency-recorder.ts) measures a routine's exclusive
 * execution as it returns; armed with the bound (MachineConfig.latencyBreakAboveNs), the first run
 * over it annotates the CPU's trace (TraceAnnotation.BREACH). The main thread keeps the last
 * WINDOW_RECORDS trace records and annotations in a ring; at the BREACH it stops the run by
 * throwing from the annotation listener and writes the ring through ChromeTraceWriter. A
 * deterministic run goes on the in-process backend, where the throw unwinds the run at the breach
 * itself (as the inspector stops a run); a parallel run's workers send their records through the
 * trace rings, the throw ends the main thread's wait for the run, and the workers are stopped,
 * so the window also holds what the other CPUs recorded until the main thread read the breach.
 * The annotation is not a trace record: the trace and its hash are the run's as always.
 */

import type { CompiledScenario } from '../scenario/compile.js';
import { TraceAnnotation } from '../kernel/trace-annotations.js';
import { ChromeTraceWriter } from './chrome-trace.js';
import type { TraceRecordSource } from './chrome-trace.js';

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

/** Thrown from the annotation listener to unwind the run at the breach. */
class StopAtBreach {
  readonly cpu: number;
  readonly kind: 'isr' | 'dpc';
  readonly routine: number;
  readonly executionNs: number;
  readonly startNs: number;
  readonly endNs: number;
  constructor(cpu: number, endNs: number, routineAndKind: number, executionNs: number, spanNs: number) {
    this.cpu = cpu;
    this.kind = (routineAndKind & 1) === 0 ? 'isr' : 'dpc';
    this.routine = routineAndKind >> 1;
    this.executionNs = executionNs;
    this.startNs = endNs - spanNs;
    this.endNs = endNs;
  }
}

export class BreaktraceWatch {
  private readonly options: BreaktraceOptions;
  private readonly compiled: CompiledScenario;
  private readonly times = new Float64Array(BREAKTRACE_WINDOW_RECORDS);
  private readonly words = new Int32Array(BREAKTRACE_WINDOW_RECORDS * 5);
  private next = 0;
  /** the first breach annotated: the run stops at that CPU's next trace record (its ISR_EXIT or DPC_END) */
  private breach: StopAtBreach | null = null;

  constructor(options: BreaktraceOptions, compiled: CompiledScenario) {
    this.options = options;
    this.compiled = compiled;
  }

  private keep(cpu: number, time: number, event: number, a: number, b: number, c: number): void {
    const slot = this.next++ % BREAKTRACE_WINDOW_RECORDS;
    this.times[slot] = time;
    const w = this.words;
    w[slot * 5] = cpu;
    w[slot * 5 + 1] = event;
    w[slot * 5 + 2] = a;
    w[slot * 5 + 3] = b;
    w[slot * 5 + 4] = c;
  }

  /** Watch the machine's trace records and annotations. */
  listen(events: TraceRecordSource): void {
    events.on('trace', this.listener);
    events.on('annotation', this.annotation);
  }

  /** The machine's trace listener: keeps the record; the breaching CPU's next record (the routine's end) stops the run. */
  readonly listener = (cpu: number, time: number, event: number, a: number, b: number, c: number): void => {
    this.keep(cpu, time, event, a, b, c);
    if (this.breach !== null && this.breach.cpu === cpu) throw this.breach;
  };

  /** The machine's annotation listener: keeps the timeline's annotations, and notes the breach. */
  readonly annotation = (cpu: number, time: number, event: number, a: number, b: number, c: number): void => {
    if (event === TraceAnnotation.BREACH) this.breach ??= new StopAtBreach(cpu, time, a, b, c);
    else this.keep(cpu, time, event, a, b, c);
  };

  /** A run that ended with a breach noted but not yet stopped at (its CPU recorded nothing after it): stop there. */
  stoppedAtEnd(): BreaktraceStopped | null {
    return this.stopped(this.breach);
  }

  /** `error` is this watch's stop: write the window and give the error to reject the run with; else null. */
  stopped(error: unknown): BreaktraceStopped | null {
    if (!(error instanceof StopAtBreach)) return null;
    const count = Math.min(this.next, BREAKTRACE_WINDOW_RECORDS);
    const writer = ChromeTraceWriter.open(this.options.file, this.compiled);
    let last = 0;
    for (let i = this.next - count; i < this.next; i++) {
      const slot = i % BREAKTRACE_WINDOW_RECORDS;
      const w = this.words;
      last = Math.max(last, this.times[slot]!);
      writer.record(w[slot * 5]!, this.times[slot]!, w[slot * 5 + 1]!, w[slot * 5 + 2]!, w[slot * 5 + 3]!, w[slot * 5 + 4]!);
    }
    writer.close(Math.max(last, error.endNs));
    return new BreaktraceStopped({
      cpu: error.cpu,
      kind: error.kind,
      routine: this.compiled.machine.routines[error.routine]?.name ?? `routine#${error.routine}`,
      executionNs: error.executionNs,
      startNs: error.startNs,
      endNs: error.endNs,
      aboveNs: this.options.aboveNs,
      file: this.options.file,
      records: count,
    });
  }
}
