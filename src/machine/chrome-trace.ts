/**
 * Chrome trace JSON (the format ui.perfetto.dev and chrome://tracing open) from CPU trace records:
 * one track per CPU (tid = CPU), ISRs and DPCs as nested B/E slices (a CPU's activity nests by
 * construction: ISR over DPC over thread), IRQL as a counter track, everything else as instants.
 * Main thread only.
 *
 * The trace is streamed to its file while the run goes: events are formatted as they are drained
 * and written in chunks of at most `flushEvents` events, so memory stays bounded however long the
 * run (a busy 4-CPU run makes ~4.5 MB of trace per emulated second; holding it as objects and
 * writing it with one JSON.stringify broke V8's string limit). The writes are synchronous: the
 * CPUs' trace rings are lossless and wait while full, so a slow disk slows the run instead of
 * growing a queue. close() ends every slice still open (a bugcheck, the end of the run) and the
 * JSON, so the file always parses.
 *
 * Why not a library: chrome-trace-event (webpack's) pushes into a Readable with no backpressure,
 * stamps host time and pid on every event and leaves open slices open; json-stream-stringify
 * serializes an object graph that already exists. What is needed here is ~100 lines: format an
 * event, append it to a file, close the array.
 */

import { accessSync, appendFileSync, closeSync, constants, existsSync, openSync, readSync, realpathSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TraceEvent, traceEventName } from '../kernel/trace-events.js';
import type { CompiledScenario } from '../scenario/compile.js';
import { UsageError } from '../util/errors.js';

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  s?: string;
  args?: Record<string, number | string>;
}

/** Events formatted but not yet written, at most: the writer's memory bound (~100 bytes each). */
export const TRACE_FLUSH_EVENTS = 4096;

const HEADER = '{"displayTimeUnit":"ns","traceEvents":[\n';
const FOOTER = '\n]}\n';

/**
 * Refuse, before the run, a trace path that cannot be written or would overwrite the scenario
 * file itself (UsageError: exit 1). `scenarioFile`: the scenario's own path, when it is a file.
 */
export function checkTracePath(file: string, scenarioFile?: string): void {
  const path = resolve(file);
  const dir = dirname(path);
  if (!existsSync(dir)) throw new UsageError(`--trace: directory '${dirname(file)}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--trace: '${dirname(file)}' is not a directory`);
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new UsageError(`--trace: '${file}' is a directory`);
    if (scenarioFile !== undefined && existsSync(scenarioFile) && realpathSync(path) === realpathSync(scenarioFile)) {
      throw new UsageError(`--trace: '${file}' is the scenario file itself; writing the trace there would overwrite it`);
    }
  }
  try {
    accessSync(existsSync(path) ? path : dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(`--trace: cannot write '${file}' (${(error as NodeJS.ErrnoException).code ?? 'not writable'})`);
  }
}

/**
 * Close the JSON of a trace whose writer was stopped mid-run (the run's worker terminated on a
 * signal): the writer writes whole chunks of whole events, so the file ends after an event or after
 * the header, and appending the footer makes it parse. Slices left open stay open (Perfetto shows
 * them running to the end). Returns false when the file is missing or was already closed.
 */
export function sealInterruptedTrace(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = statSync(file).size;
    const tail = Buffer.alloc(Math.min(size, FOOTER.length));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (size === 0 || tail.toString('utf8') === FOOTER) return false;
  } finally {
    closeSync(fd);
  }
  appendFileSync(file, FOOTER);
  return true;
}

export class ChromeTraceWriter {
  private readonly compiled: CompiledScenario;
  private readonly fd: number;
  private readonly flushEvents: number;
  private pending: string[] = [];
  private first = true;
  private closed = false;
  /** slices (B events) still open on each CPU, innermost last */
  private readonly openSlices: Array<Array<{ name: string; cat: string }>> = [];
  private lastTs = 0;

  /** Open (create or truncate) `file` now, before the run: a path that cannot be written fails here (UsageError). */
  static open(file: string, compiled: CompiledScenario, flushEvents = TRACE_FLUSH_EVENTS): ChromeTraceWriter {
    let fd: number;
    try {
      fd = openSync(file, 'w');
    } catch (error) {
      throw new UsageError(`--trace: cannot write '${file}' (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    return new ChromeTraceWriter(compiled, fd, flushEvents);
  }

  private constructor(compiled: CompiledScenario, fd: number, flushEvents: number) {
    this.compiled = compiled;
    this.fd = fd;
    this.flushEvents = Math.max(1, flushEvents);
    writeSync(this.fd, HEADER);
    for (let cpu = 0; cpu < compiled.machine.cpus; cpu++) {
      this.openSlices.push([]);
      this.push({ name: 'thread_name', ph: 'M', ts: 0, pid: 1, tid: cpu, args: { name: `CPU ${cpu}` } });
    }
    this.push({ name: 'process_name', ph: 'M', ts: 0, pid: 1, tid: 0, args: { name: 'irqlab machine' } });
  }

  /** Events formatted and held in memory, not yet written (never more than the flush size). */
  get bufferedEvents(): number {
    return this.pending.length;
  }

  add(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    const ts = timeNs / 1000;
    if (ts > this.lastTs) this.lastTs = ts;
    const routine = (index: number): string => this.compiled.machine.routines[index]?.name ?? `#${index}`;
    const dpc = (index: number): string => this.compiled.machine.dpcNames[index] ?? `#${index}`;
    switch (event) {
      case TraceEvent.ISR_ENTER:
        this.begin(cpu, ts, `ISR 0x${a.toString(16)}`, 'isr');
        return;
      case TraceEvent.ISR_EXIT:
        this.end(cpu, ts, `ISR 0x${a.toString(16)}`, 'isr', { claimed: b });
        return;
      case TraceEvent.DPC_START:
        this.begin(cpu, ts, `DPC ${dpc(a)}`, 'dpc', { routine: routine(b) });
        return;
      case TraceEvent.DPC_END:
        this.end(cpu, ts, `DPC ${dpc(a)}`, 'dpc');
        return;
      case TraceEvent.IRQL:
        this.push({ name: `IRQL CPU ${cpu}`, ph: 'C', ts, pid: 1, tid: cpu, args: { irql: b } });
        return;
      default:
        this.push({ name: traceEventName(event), ph: 'i', s: 't', ts, pid: 1, tid: cpu, args: { a, b, c } });
    }
  }

  private begin(cpu: number, ts: number, name: string, cat: string, args?: Record<string, number | string>): void {
    this.openSlices[cpu]?.push({ name, cat });
    this.push({ name, ph: 'B', ts, pid: 1, tid: cpu, cat, ...(args ? { args } : {}) });
  }

  private end(cpu: number, ts: number, name: string, cat: string, args?: Record<string, number | string>): void {
    this.openSlices[cpu]?.pop();
    this.push({ name, ph: 'E', ts, pid: 1, tid: cpu, cat, ...(args ? { args } : {}) });
  }

  private push(event: ChromeEvent): void {
    if (this.closed) return;
    this.pending.push(JSON.stringify(event));
    if (this.pending.length >= this.flushEvents) this.flush();
  }

  /** Write what is held to the file. */
  flush(): void {
    if (this.pending.length === 0) return;
    const text = (this.first ? '' : ',\n') + this.pending.join(',\n');
    this.first = false;
    this.pending = [];
    writeSync(this.fd, text);
  }

  /**
   * End every slice still open at `endNs` (or the latest event's time, whichever is later), close
   * the JSON and the file. Safe to call more than once and after a failed run.
   */
  close(endNs = 0): void {
    if (this.closed) return;
    const ts = Math.max(endNs / 1000, this.lastTs);
    this.openSlices.forEach((stack, cpu) => {
      while (stack.length > 0) {
        const slice = stack[stack.length - 1]!;
        this.end(cpu, ts, slice.name, slice.cat, { unfinished: 1 });
      }
    });
    try {
      this.flush();
      writeSync(this.fd, FOOTER);
    } finally {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}
