/**
 * A CPU's latency record (the `--latency` report, src/machine/latency-report.ts): its latency
 * series (device assert → ISR start, ISR → DPC start, DPC queued → thread ready, ready → running)
 * as mergeable histograms, and per ISR and DPC routine the count, total and highest execution
 * time in emulated time. Execution time is
 * exclusive, as LatencyMon's: time spent in an interrupt taken while the routine ran (a nested
 * ISR, the clock, an IPI) is the nested routine's or nobody's, never the interruptee's.
 *
 * Fed from the frame stack (CpuCore.pushCall / pushKernel and the pops in Processor): it makes no
 * trace record and reads only the CPU's emulated clock, so the trace and its hash are unchanged.
 */

import type { EncodedLatencySeries } from '../util/latency-histogram.js';
import { LatencySeries } from '../util/latency-histogram.js';
import { TraceAnnotation } from '../kernel/trace-annotations.js';

const INT32_MAX = 0x7fffffff;

export const LatencySeriesId = { ASSERT_TO_ISR: 0, ISR_TO_DPC: 1, DPC_TO_READY: 2, READY_TO_RUNNING: 3 } as const;

export interface RoutineExecution {
  kind: 'isr' | 'dpc';
  routine: number;
  name: string;
  count: number;
  totalNs: number;
  maxNs: number;
}

/** What a CPU sends in its end-of-run report. */
export interface CpuLatencyReport {
  assertToIsr: EncodedLatencySeries;
  isrToDpc: EncodedLatencySeries;
  /** a queued DPC's routine ended a thread's wait: from the DPC's KeInsertQueueDpc to the call that made the thread Ready */
  dpcToReady: EncodedLatencySeries;
  /** a thread woken from a wait: from when it became Ready to its switch-in here */
  readyToRunning: EncodedLatencySeries;
  routines: RoutineExecution[];
}

/** The first routine run over LatencyRecorder.breakAboveNs (--breaktrace). */
export interface LatencyBreach {
  kind: 'isr' | 'dpc';
  routine: number;
  startNs: number;
  endNs: number;
  executionNs: number;
}

/** Deepest nesting tracked before the stacks grow (MAX_FRAMES bounds it in practice). */
const INITIAL_DEPTH = 64;

/**
 * The hot path (every ISR and DPC, every hardware interrupt) allocates nothing: the open routines
 * and the open interrupts are stacks in typed arrays, and the per-routine rows are arrays indexed
 * by (routine, kind): the interrupt path (perf/interrupts.ts) carries over a million interrupts per
 * host second, and an object per routine run and a Map lookup per return showed there.
 */
export class LatencyRecorder {
  readonly series = [new LatencySeries(), new LatencySeries(), new LatencySeries(), new LatencySeries()];
  /** per (routine × 2 + kind): runs, total and highest exclusive execution time */
  private readonly rowCount: number[] = [];
  private readonly rowTotalNs: number[] = [];
  private readonly rowMaxNs: number[] = [];
  /** the routines running, innermost last: kind (0 ISR, 1 DPC), routine, start, time taken by interrupts while it ran */
  private openKind = new Int32Array(INITIAL_DEPTH);
  private openRoutine = new Int32Array(INITIAL_DEPTH);
  private openStartNs = new Float64Array(INITIAL_DEPTH);
  private openExcludedNs = new Float64Array(INITIAL_DEPTH);
  private openDepth = 0;
  /** per hardware frame open: when it began and how many routines were open below it */
  private interruptStartNs = new Float64Array(INITIAL_DEPTH);
  private interruptOpenDepth = new Int32Array(INITIAL_DEPTH);
  private interruptDepth = 0;
  /** --breaktrace: a routine whose execution time exceeds this is reported in `breach` (first only) */
  breakAboveNs = Number.POSITIVE_INFINITY;
  breach: LatencyBreach | null = null;
  /** told of the breach as it is found (armBreak: the CPU annotates its trace with it) */
  private onBreach: ((breach: LatencyBreach) => void) | null = null;
  private readonly routineName: (routine: number) => string;

  constructor(routineName: (routine: number) => string) {
    this.routineName = routineName;
  }

  /**
   * --breaktrace: the first routine over `aboveNs` annotates the CPU's trace (TraceAnnotation.BREACH,
   * through `annotate`), and the main thread stops the run there (src/machine/latency-breaktrace.ts).
   */
  armBreak(aboveNs: number, annotate: (event: number, a: number, b: number, c: number) => void): void {
    this.breakAboveNs = aboveNs;
    this.onBreach = (breach) =>
      annotate(
        TraceAnnotation.BREACH,
        breach.routine * 2 + (breach.kind === 'isr' ? 0 : 1),
        Math.min(INT32_MAX, Math.round(breach.executionNs)),
        Math.min(INT32_MAX, Math.round(breach.endNs - breach.startNs)),
      );
  }

  sample(which: number, ns: number): void {
    this.series[which]!.record(ns);
  }

  routineStarted(kind: 'isr' | 'dpc', routine: number, nowNs: number): void {
    const depth = this.openDepth;
    if (depth === this.openKind.length) this.growOpen();
    this.openKind[depth] = kind === 'isr' ? 0 : 1;
    this.openRoutine[depth] = routine;
    this.openStartNs[depth] = nowNs;
    this.openExcludedNs[depth] = 0;
    this.openDepth = depth + 1;
  }

  routineReturned(nowNs: number): void {
    if (this.openDepth === 0) return;
    const depth = --this.openDepth;
    const kindCode = this.openKind[depth]!;
    const routine = this.openRoutine[depth]!;
    const startNs = this.openStartNs[depth]!;
    const executionNs = Math.max(0, nowNs - startNs - this.openExcludedNs[depth]!);
    // keyed by kind and routine: a routine used both as an ISR and as a DPC is two rows
    const key = routine * 2 + kindCode;
    if (key < 0) return;
    if (this.rowCount[key] === undefined) {
      for (let k = this.rowCount.length; k <= key; k++) {
        this.rowCount.push(0);
        this.rowTotalNs.push(0);
        this.rowMaxNs.push(0);
      }
    }
    this.rowCount[key]!++;
    this.rowTotalNs[key]! += executionNs;
    if (executionNs > this.rowMaxNs[key]!) this.rowMaxNs[key] = executionNs;
    if (this.breach === null && executionNs > this.breakAboveNs) {
      this.breach = { kind: kindCode === 0 ? 'isr' : 'dpc', routine, startNs, endNs: nowNs, executionNs };
      this.onBreach?.(this.breach);
    }
  }

  /** A hardware interrupt's kernel frame was pushed (ISR dispatch, clock, IPI). */
  interruptEntered(nowNs: number): void {
    const depth = this.interruptDepth;
    if (depth === this.interruptStartNs.length) this.growInterrupts();
    this.interruptStartNs[depth] = nowNs;
    this.interruptOpenDepth[depth] = this.openDepth;
    this.interruptDepth = depth + 1;
  }

  interruptExited(nowNs: number): void {
    if (this.interruptDepth === 0) return;
    const depth = --this.interruptDepth;
    const below = this.interruptOpenDepth[depth]!;
    // routines opened inside the interrupt have returned by now; the one below it was interrupted
    if (below > 0 && below <= this.openDepth) this.openExcludedNs[below - 1]! += nowNs - this.interruptStartNs[depth]!;
  }

  private growOpen(): void {
    const size = this.openKind.length * 2;
    const grow = <T extends Int32Array | Float64Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.openKind = grow(this.openKind, new Int32Array(size));
    this.openRoutine = grow(this.openRoutine, new Int32Array(size));
    this.openStartNs = grow(this.openStartNs, new Float64Array(size));
    this.openExcludedNs = grow(this.openExcludedNs, new Float64Array(size));
  }

  private growInterrupts(): void {
    const size = this.interruptStartNs.length * 2;
    const starts = new Float64Array(size);
    starts.set(this.interruptStartNs);
    this.interruptStartNs = starts;
    const depths = new Int32Array(size);
    depths.set(this.interruptOpenDepth);
    this.interruptOpenDepth = depths;
  }

  private routineRows(): RoutineExecution[] {
    const rows: RoutineExecution[] = [];
    for (let key = 0; key < this.rowCount.length; key++) {
      const count = this.rowCount[key]!;
      if (count === 0) continue;
      const routine = key >> 1;
      rows.push({
        kind: (key & 1) === 0 ? 'isr' : 'dpc',
        routine,
        name: this.routineName(routine),
        count,
        totalNs: this.rowTotalNs[key]!,
        maxNs: this.rowMaxNs[key]!,
      });
    }
    return rows;
  }

  report(): CpuLatencyReport {
    return {
      assertToIsr: this.series[LatencySeriesId.ASSERT_TO_ISR]!.encode(),
      isrToDpc: this.series[LatencySeriesId.ISR_TO_DPC]!.encode(),
      dpcToReady: this.series[LatencySeriesId.DPC_TO_READY]!.encode(),
      readyToRunning: this.series[LatencySeriesId.READY_TO_RUNNING]!.encode(),
      routines: this.routineRows(),
    };
  }
}
