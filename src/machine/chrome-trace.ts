/**
 * Chrome trace JSON (the format ui.perfetto.dev and chrome://tracing open) from CPU trace records:
 * one track per CPU (tid = CPU), ISRs and DPCs as nested B/E slices (a CPU's activity nests by
 * construction: ISR over DPC over thread), IRQL as a counter track, everything else as instants.
 * The CPUs' annotations (src/kernel/trace-annotations.ts, not trace records) add the arrows from a
 * wait's end to the woken thread's switch-in and each CPU's ready-queue length. Main thread only.
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
import { builtinRoutineName } from '../kernel/apc-state.js';
import { irpStageName, kapcName } from '../kernel/io.js';
import { TraceAnnotation, isTraceAnnotation } from '../kernel/trace-annotations.js';
import type { CompiledScenario } from '../scenario/compile.js';
import { UsageError } from '../util/errors.js';
import { operationName } from '../ipc/dispatcher-ops.js';
import { bugcheckName } from '../kernel/bugcheck.js';

const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  s?: string;
  id?: number;
  bp?: string;
  args?: Record<string, number | string>;
}

/** A trace record's or an annotation's listener, and the machine events that give them (Machine.events). */
export type TraceRecordListener = (cpu: number, timeNs: number, event: number, a: number, b: number, c: number) => void;
export interface TraceRecordSource {
  on(event: 'trace' | 'annotation', listener: TraceRecordListener): unknown;
}

/** Events formatted but not yet written, at most: the writer's memory bound (~100 bytes each). */
export const TRACE_FLUSH_EVENTS = 4096;

const HEADER = '{"displayTimeUnit":"ns","traceEvents":[\n';
const FOOTER = '\n]}\n';

/**
 * Refuse, before the run, a trace path that cannot be written or would overwrite the scenario
 * file itself (UsageError: exit 1). `scenarioFile`: the scenario's own path, when it is a file;
 * `flag`: the option the path came from, for the message (--breaktrace-out checks its path here too).
 */
export function checkTracePath(file: string, scenarioFile?: string, flag = '--trace'): void {
  const path = resolve(file);
  const dir = dirname(path);
  if (!existsSync(dir)) throw new UsageError(`${flag}: directory '${dirname(file)}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag}: '${dirname(file)}' is not a directory`);
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new UsageError(`${flag}: '${file}' is a directory`);
    if (scenarioFile !== undefined && existsSync(scenarioFile) && realpathSync(path) === realpathSync(scenarioFile)) {
      throw new UsageError(`${flag}: '${file}' is the scenario file itself; writing the trace there would overwrite it`);
    }
  }
  try {
    accessSync(existsSync(path) ? path : dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(`${flag}: cannot write '${file}' (${(error as NodeJS.ErrnoException).code ?? 'not writable'})`);
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

/** One end of a flow arrow; a start carries the arrow's id. */
interface FlowEnd {
  cpu: number;
  ts: number;
  flowId?: number;
}

/** Flow ids are start × this + the start's CPU: unique across CPUs (at most 64). */
const FLOW_ID_CPU_STRIDE = 64;

export class ChromeTraceWriter {
  private readonly compiled: CompiledScenario;
  private readonly fd: number;
  private readonly flushEvents: number;
  private pending: string[] = [];
  private first = true;
  private closed = false;
  /** slices (B events) still open on each CPU, innermost last (a thread slice at the bottom) */
  private readonly openSlices: Array<Array<{ name: string; cat: string }>> = [];
  private lastTs = 0;
  /**
   * (KDPC, the CPU whose queue it went to) → the successful inserts not yet paired with a DPC start
   * there, and the starts not yet paired with an insert. The CPUs' records arrive in per-CPU order,
   * not in global time order, so pairing is first-in first-out per queue: exact when one CPU inserts
   * a given DPC into a given queue (an ISR's DPC); when several CPUs insert the same KDPC into one
   * queue, an arrow may join an insert to the run of another's.
   */
  private readonly dpcInserts = new Map<number, Array<{ cpu: number; ts: number }>>();
  private readonly dpcStarts = new Map<number, Array<{ cpu: number; ts: number }>>();
  /** (sender, target) → IPI sends not yet paired with their receipt, and receipts not yet paired */
  private readonly ipiSends = new Map<number, Array<{ cpu: number; ts: number }>>();
  private readonly ipiReceipts = new Map<number, Array<{ cpu: number; ts: number }>>();
  /**
   * A wait's end (its dispatcher operation) and the woken thread's switch-in, by wake serial
   * (TraceAnnotation.WAKE_READIED / WAKE_SWITCH_IN): exact pairs, whichever arrives first.
   */
  private readonly wakeReadied = new Map<number, Array<{ cpu: number; ts: number }>>();
  private readonly wakeSwitchIns = new Map<number, Array<{ cpu: number; ts: number }>>();
  /** the operation that ended each wait still waiting for its switch-in (the arrow's name) */
  private readonly wakeOperation = new Map<number, string>();
  /** how many arrow starts each CPU has had (an arrow's id: FlowEnd.flowId) */
  private readonly flowStarts: number[] = [];
  /** each CPU's ready-queue length as last drawn, and when (the counter never goes back in time) */
  private readonly readyQueueTs: number[] = [];
  /** each CPU's DPC queue depth, as the inserts and starts arrive */
  private readonly dpcDepth: number[] = [];
  private readonly dpcDepthTs: number[] = [];
  /** routine names of the interrupt objects on each vector */
  private readonly isrNames = new Map<number, string>();

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
      this.dpcDepth.push(0);
      this.dpcDepthTs.push(0);
      this.readyQueueTs.push(0);
      this.flowStarts.push(0);
      this.push({ name: 'thread_name', ph: 'M', ts: 0, pid: 1, tid: cpu, args: { name: `CPU ${cpu}` } });
    }
    this.push({ name: 'process_name', ph: 'M', ts: 0, pid: 1, tid: 0, args: { name: 'irqlab machine' } });
    for (const intr of compiled.machine.interrupts) {
      const routine = this.routine(intr.routine);
      const known = this.isrNames.get(intr.vector);
      this.isrNames.set(intr.vector, known === undefined ? routine : `${known} / ${routine}`);
    }
  }

  /** Events formatted and held in memory, not yet written (never more than the flush size). */
  get bufferedEvents(): number {
    return this.pending.length;
  }

  private routine(index: number): string {
    return this.compiled.machine.routines[index]?.name ?? builtinRoutineName(index) ?? `#${index}`;
  }

  private apcName(index: number): string {
    return kapcName(this.compiled.machine.apcs, index);
  }

  private dpcName(index: number): string {
    return this.compiled.machine.dpcNames[index] ?? `#${index}`;
  }

  private threadName(id: number): string {
    const cpus = this.compiled.machine.cpus;
    if (id >= 1 && id <= cpus) return `Idle#${id - 1}`;
    return this.compiled.machine.threads.find((t) => t.id === id)?.name ?? `#${id}`;
  }

  private address(address: number): string {
    for (const [name, info] of this.compiled.machine.variableNames) {
      if (address >= info.address && address < info.address + info.words * 4) return address === info.address ? name : `${name}+${address - info.address}`;
    }
    return `0x${(address >>> 0).toString(16)}`;
  }

  add(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    const ts = timeNs / 1000;
    if (ts > this.lastTs) this.lastTs = ts;
    switch (event) {
      case TraceEvent.ISR_ENTER:
        this.begin(cpu, ts, `ISR ${this.isrNames.get(a) ?? `0x${a.toString(16)}`}`, 'isr', { vector: `0x${a.toString(16)}` });
        return;
      case TraceEvent.ISR_EXIT:
        this.end(cpu, ts, 'isr', { claimed: b });
        return;
      case TraceEvent.DPC_START:
        this.begin(cpu, ts, `DPC ${this.routine(b)}`, 'dpc', { dpc: this.dpcName(a), routine: this.routine(b), ...(c ? { 'from timer': 1 } : {}) });
        this.dpcQueueDepth(cpu, ts, -1);
        this.pair(this.dpcStarts, this.dpcInserts, a * 1024 + cpu, { cpu, ts }, 'DPC', false);
        return;
      case TraceEvent.DPC_END:
        this.end(cpu, ts, 'dpc');
        return;
      case TraceEvent.DPC_INSERT:
        this.instant(cpu, ts, 'KeInsertQueueDpc', { dpc: this.dpcName(a), target: a === b ? cpu : b, inserted: c ? 'TRUE' : 'FALSE (already queued)' });
        if (c) {
          this.dpcQueueDepth(b, ts, +1);
          this.pair(this.dpcInserts, this.dpcStarts, a * 1024 + b, { cpu, ts }, 'DPC', true);
        }
        return;
      case TraceEvent.IPI_SEND:
        this.instant(cpu, ts, 'IPI send', { to: `CPU ${a}`, requests: `0x${b.toString(16)}` });
        this.pair(this.ipiSends, this.ipiReceipts, cpu * 1024 + a, { cpu, ts }, 'IPI', true);
        return;
      case TraceEvent.IPI_RECEIVE:
        this.instant(cpu, ts, 'IPI receive', { from: `CPU ${a}`, requests: `0x${b.toString(16)}` });
        this.pair(this.ipiReceipts, this.ipiSends, a * 1024 + cpu, { cpu, ts }, 'IPI', false);
        return;
      case TraceEvent.CONTEXT_SWITCH: {
        const stack = this.openSlices[cpu]!;
        // SwapContext runs with no ISR or DPC of this CPU in progress; whatever is still open here was cut short
        while (stack.length > 0) {
          const top = stack[stack.length - 1]!;
          this.end(cpu, ts, 'thread', top.cat === 'thread' ? undefined : { unfinished: 1 });
        }
        this.begin(cpu, ts, this.threadName(b), 'thread', { from: this.threadName(a), 'resumes at IRQL': c });
        return;
      }
      case TraceEvent.IRQL:
        this.push({ name: `IRQL CPU ${cpu}`, ph: 'C', ts, pid: 1, tid: cpu, args: { irql: b } });
        return;
      case TraceEvent.APC_DELIVER:
        this.begin(cpu, ts, `APC ${this.routine(b)}`, 'apc', { apc: this.apcName(a), routine: this.routine(b), kind: apcRoutineKind(c) });
        return;
      case TraceEvent.APC_DELIVER_END:
        this.end(cpu, ts, 'apc');
        return;
      case TraceEvent.APC_INSERT:
        this.instant(cpu, ts, 'KeInsertQueueApc', {
          apc: this.apcName(a),
          inserted: b ? 'TRUE' : 'FALSE',
          signal: c === 1 ? 'APC interrupt here' : c === 2 ? 'IPI(APC)' : 'none',
        });
        return;
      case TraceEvent.IRP:
        this.instant(cpu, ts, `IRP #${a} ${irpStageName(b)}`, {
          irp: `#${a}`,
          stage: irpStageName(b),
          value: b === 2 ? this.routine(c) : `0x${(c >>> 0).toString(16)}`,
        });
        return;
      case TraceEvent.BUGCHECK:
        this.push({
          name: `BUGCHECK 0x${(a >>> 0).toString(16)} ${bugcheckName(a)}`,
          ph: 'i',
          s: 'g',
          ts,
          pid: 1,
          tid: cpu,
          cat: 'bugcheck',
          args: { cpu, p1: hex(b), p2: hex(c) },
        });
        return;
      default:
        this.instant(cpu, ts, traceEventName(event), this.namedArgs(event, a, b, c));
    }
  }

  /** Write the machine's trace records and annotations as they come. */
  listen(events: TraceRecordSource): void {
    events.on('trace', (cpu, time, event, a, b, c) => this.add(cpu, time, event, a, b, c));
    events.on('annotation', (cpu, time, event, a, b, c) => this.annotate(cpu, time, event, a, b, c));
  }

  /** A trace record or an annotation, as the trace ring carried it. */
  record(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    if (isTraceAnnotation(event)) this.annotate(cpu, timeNs, event, a, b, c);
    else this.add(cpu, timeNs, event, a, b, c);
  }

  /** A timeline annotation (src/kernel/trace-annotations.ts): a wake arrow's end, a ready-queue length, a breaktrace marker. */
  annotate(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    const ts = timeNs / 1000;
    if (ts > this.lastTs) this.lastTs = ts;
    switch (event) {
      case TraceAnnotation.WAKE_READIED: {
        const name = `${operationName(b) ?? `operation ${b}`} → wake`;
        if (!this.wakeSwitchIns.has(a)) this.wakeOperation.set(a, name);
        this.pair(this.wakeReadied, this.wakeSwitchIns, a, { cpu, ts }, 'wake', true, name);
        return;
      }
      case TraceAnnotation.WAKE_SWITCH_IN: {
        const name = this.wakeOperation.get(a) ?? 'wake';
        this.wakeOperation.delete(a);
        this.pair(this.wakeSwitchIns, this.wakeReadied, a, { cpu, ts }, 'wake', false, name);
        return;
      }
      case TraceAnnotation.READY_QUEUE: {
        if (a < 0 || a >= this.readyQueueTs.length) return;
        // the CPU that changed another's queue can be behind that CPU's clock: the counter never goes back in time
        const at = Math.max(ts, this.readyQueueTs[a]!);
        this.readyQueueTs[a] = at;
        this.push({ name: `Ready queue CPU ${a}`, ph: 'C', ts: at, pid: 1, tid: a, args: { threads: b } });
        return;
      }
      case TraceAnnotation.BREACH: {
        const routine = this.routine(a >> 1);
        this.push({
          name: `breaktrace: ${(a & 1) === 0 ? 'ISR' : 'DPC'} ${routine} executed ${(b / 1000).toFixed(3)} µs`,
          ph: 'i',
          s: 'g',
          ts,
          pid: 1,
          tid: cpu,
          cat: 'breaktrace',
          args: { cpu, routine, 'execution ns': b, 'started at µs': (timeNs - c) / 1000 },
        });
        return;
      }
    }
  }

  /** The arguments of an instant event, by name (the trace records carry three numbers). */
  private namedArgs(event: number, a: number, b: number, c: number): Record<string, number | string> {
    switch (event) {
      case TraceEvent.CLOCK:
        return { tick: a, vector: `0x${b.toString(16)}` };
      case TraceEvent.USER:
        return { tag: this.compiled.machine.traceTags[a] ?? a, value: b };
      case TraceEvent.THREAD_EXIT:
        return { routine: this.routine(a), result: b };
      case TraceEvent.GENERIC_CALL:
        return { routine: this.routine(a), argument: b, side: c ? 'target' : 'caller' };
      case TraceEvent.IPI_PACKET:
        return { from: `CPU ${a}`, routine: this.routine(b) };
      case TraceEvent.DISPATCHER:
        return { operation: operationName(a) ?? a, status: hex(b), flags: c };
      case TraceEvent.SPIN_LOCK:
        return { lock: this.address(a), action: b === 1 ? 'acquired' : b === 0 ? 'released' : 'found held (spinning)', queued: c };
      case TraceEvent.TIMER_EXPIRED:
        return { dpc: this.dpcName(a) };
      case TraceEvent.PAGE_FAULT:
        return { address: this.address(a), access: b === 1 ? 'write' : b === 8 ? 'execute' : 'read', pc: c };
      case TraceEvent.PAGE_IN:
        return { page: this.address(a), thread: this.threadName(b) };
      default:
        return { a, b, c };
    }
  }

  /**
   * Pair one end of a flow arrow (a DPC's insert with its start, an IPI's send with its receipt, a
   * wait's end with the woken thread's switch-in): when the other end is already waiting, write both
   * ends; else wait for it. Arrows are written when paired (so every flow id has both ends; an
   * insert never followed by a start draws no arrow).
   */
  private pair(
    mine: Map<number, Array<{ cpu: number; ts: number }>>,
    theirs: Map<number, Array<{ cpu: number; ts: number }>>,
    key: number,
    end: { cpu: number; ts: number },
    cat: string,
    isStart: boolean,
    name = cat === 'DPC' ? 'KeInsertQueueDpc → DPC' : cat,
  ): void {
    // an arrow's id is its start's: the CPU's how-many-th arrow start, so that it does not depend on
    // the order the main thread drained the CPUs' records in (the same run gives the same file)
    if (isStart) (end as FlowEnd).flowId = ++this.flowStarts[end.cpu]! * FLOW_ID_CPU_STRIDE + end.cpu;
    const other = theirs.get(key);
    if (other === undefined || other.length === 0) {
      const queue = mine.get(key);
      if (queue) queue.push(end);
      else mine.set(key, [end]);
      return;
    }
    const partner = other.shift()!;
    // a key whose ends are all paired leaves the map: a long run's wake serials would otherwise pile up
    if (other.length === 0) theirs.delete(key);
    const [from, to] = isStart ? [end, partner] : [partner, end];
    const id = (from as FlowEnd).flowId!;
    this.push({ name, ph: 's', id, ts: from.ts, pid: 1, tid: from.cpu, cat: `flow.${cat}` });
    this.push({ name, ph: 'f', bp: 'e', id, ts: to.ts, pid: 1, tid: to.cpu, cat: `flow.${cat}` });
  }

  private dpcQueueDepth(cpu: number, ts: number, change: number): void {
    if (cpu < 0 || cpu >= this.dpcDepth.length) return;
    // a start whose insert (from another CPU) has not arrived yet would go below zero: the insert comes next
    const depth = Math.max(0, this.dpcDepth[cpu]! + change);
    this.dpcDepth[cpu] = depth;
    // an insert from another CPU can arrive after this CPU's later records: the counter never goes back in time
    const at = Math.max(ts, this.dpcDepthTs[cpu]!);
    this.dpcDepthTs[cpu] = at;
    this.push({ name: `DPC queue CPU ${cpu}`, ph: 'C', ts: at, pid: 1, tid: cpu, args: { depth } });
  }

  private instant(cpu: number, ts: number, name: string, args: Record<string, number | string>): void {
    this.push({ name, ph: 'i', s: 't', ts, pid: 1, tid: cpu, args });
  }

  private begin(cpu: number, ts: number, name: string, cat: string, args?: Record<string, number | string>): void {
    this.openSlices[cpu]?.push({ name, cat });
    this.push({ name, ph: 'B', ts, pid: 1, tid: cpu, cat, ...(args ? { args } : {}) });
  }

  /** End the innermost open slice of `cpu`, an ISR, DPC or thread slice (`cat`). */
  private end(cpu: number, ts: number, cat: string, args?: Record<string, number | string>): void {
    const stack = this.openSlices[cpu];
    const slice = stack?.[stack.length - 1];
    // an ISR or DPC end with no begin on this track must not end the thread's slice under it
    if (stack === undefined || slice === undefined || (slice.cat === 'thread' && cat !== 'thread')) return;
    stack.pop();
    this.push({ name: slice.name, ph: 'E', ts, pid: 1, tid: cpu, cat: slice.cat, ...(args ? { args } : {}) });
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
        this.end(cpu, ts, 'thread', { unfinished: 1 });
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

/** APC_DELIVER's third word, in words. */
function apcRoutineKind(step: number): string {
  return step === 2 ? 'NormalRoutine' : step === 3 ? 'user-mode NormalRoutine' : step === 4 ? 'RundownRoutine' : 'KernelRoutine';
}
