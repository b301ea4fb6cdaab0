/**
 * The time-travel inspector's engine (`irqlab inspect`): a deterministic run on the in-process
 * backend, stopped after any trace record and read there.
 *
 * A position is "after record p" (0 … total), p counting every CPU's trace records in the order the
 * in-process backend makes them (its deterministic execution order). The session first runs the
 * scenario to its end once, keeping every record (its CPU, emulated time and words) and the
 * RunResult; that gives the total, the records the `.events` view and the searches read, and the
 * bugcheck analysis. To stand at position p it runs the scenario afresh in this thread and stops it
 * when record p + 1 is made, by throwing a private signal from the trace listener: the throw unwinds
 * the run, and the Coordinator and Processor objects (src/machine/in-process.ts hands them over
 * before the run starts) stay readable as they were at that moment. Going back is running again
 * from the start to an earlier p: the run is deterministic, so it is exact.
 *
 * Why stop at record p + 1 rather than at record p: kernel routines make their record before some
 * of the change it describes (setIrql records, then sets; KeInsertQueueDpc records, then links the
 * DPC), so the state as record p + 1 is made is the state after event p has fully taken effect. A
 * dispatcher operation is recorded once the coordinator has answered it, so the run also stops when
 * the coordinator is about to serve a CPU's request made after record p (the CPU waits in
 * KeSetTimer, say, and the timer table does not have the timer yet). What the next event's CPU did
 * before recording it may show: a spin lock release clears the lock word, then records.
 */

import { compileForRun, executeCompiled } from '../machine/execute.js';
import type { RunOptions } from '../machine/execute.js';
import { runInProcess } from '../machine/in-process.js';
import type { InProcessActors } from '../machine/in-process.js';
import { Machine } from '../machine/machine.js';
import type { RunResult } from '../machine/result.js';
import type { CompiledScenario } from '../scenario/compile.js';
import type { ScenarioDefinition } from '../scenario/define.js';
import { ConfigNames, describeEvent } from '../cpu/report.js';
import { traceEventName } from '../kernel/trace-events.js';
import { InternalError } from '../util/errors.js';

/** Every trace record of the run, in execution order, in growable typed arrays (a long run makes millions). */
export class RecordLog {
  private times = new Float64Array(1024);
  /** per record: cpu, event, a, b, c */
  private words = new Int32Array(1024 * 5);
  length = 0;

  push(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    if (this.length === this.times.length) {
      const times = new Float64Array(this.times.length * 2);
      times.set(this.times);
      this.times = times;
      const words = new Int32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
    }
    const at = this.length++;
    this.times[at] = timeNs;
    const w = at * 5;
    this.words[w] = cpu;
    this.words[w + 1] = event;
    this.words[w + 2] = a;
    this.words[w + 3] = b;
    this.words[w + 4] = c;
  }

  timeNs(index: number): number {
    return this.times[index]!;
  }

  cpu(index: number): number {
    return this.words[index * 5]!;
  }

  event(index: number): number {
    return this.words[index * 5 + 1]!;
  }

  /** the record's a, b and c words */
  args(index: number): [number, number, number] {
    const w = index * 5;
    return [this.words[w + 2]!, this.words[w + 3]!, this.words[w + 4]!];
  }
}

/** The private signal that stops a run at a record (never seen outside this module). */
class StopAtRecord {
  readonly record: number;
  constructor(record: number) {
    this.record = record;
  }
}

/** The machine as it was at one position. */
export interface Snapshot {
  /** records that have happened (0 … total) */
  position: number;
  total: number;
  /** the run went to its end (or its bugcheck): position === total */
  ended: boolean;
  machine: Machine;
  compiled: CompiledScenario;
  actors: InProcessActors;
  /** emulated time of the position: the last record's (0 before any), the run's end once it ended */
  timeNs: number;
  /** the CPU of the last record (0 before any) */
  cpu: number;
}

export interface InspectRun {
  definition: ScenarioDefinition;
  /** the scenario module (native routines are imported from it), null for a definition without one */
  modulePath: string | null;
  /** deterministic mode; the backend is the in-process one whatever this says */
  options: RunOptions;
}

export class InspectSession {
  readonly log = new RecordLog();
  readonly definition: ScenarioDefinition;
  readonly compiled: CompiledScenario;
  /** the whole run's result (the bugcheck analysis, the summary) */
  result!: RunResult;
  private readonly modulePath: string | null;
  private readonly options: RunOptions;
  private readonly names: ConfigNames;
  private current: Snapshot | null = null;

  private constructor(run: InspectRun) {
    this.definition = run.definition;
    this.modulePath = run.modulePath;
    this.options = {
      ...run.options,
      backend: 'in-process',
      on: { trace: (cpu, time, event, a, b, c) => this.log.push(cpu, time, event, a, b, c) },
    };
    if (this.options.mode !== 'deterministic') throw new InternalError('the inspector replays deterministic runs only');
    // compiled with the trace listener given, so the CPUs hand every record to the main thread
    this.compiled = compileForRun(run.definition, run.modulePath, this.options);
    this.names = new ConfigNames(this.compiled.processors[0]!);
  }

  /** Run the scenario to its end once, keeping every record; the session then stands at the start. */
  static async open(run: InspectRun): Promise<InspectSession> {
    const session = new InspectSession(run);
    const { result } = await executeCompiled(session.definition, session.compiled, session.modulePath, session.options);
    session.result = result;
    return session;
  }

  get total(): number {
    return this.log.length;
  }

  /** The snapshot the session stands at (null before the first goTo). */
  get snapshot(): Snapshot | null {
    return this.current;
  }

  /** Stand at position p (clamped to 0 … total): run afresh from the start and stop after record p. */
  async goTo(position: number): Promise<Snapshot> {
    const p = Math.max(0, Math.min(this.total, Math.trunc(position)));
    if (this.current?.position === p) return this.current;
    const machine = new Machine(this.compiled, { scenario: this.definition.name });
    let actors: InProcessActors | null = null;
    let seen = 0;
    const stopAt = p < this.total ? p + 1 : Number.POSITIVE_INFINITY;
    machine.events.on('trace', (cpu, time, event) => {
      const index = seen++;
      // the same run, record for record: anything else is a broken determinism promise, worth saying so
      if (index < this.total && (this.log.cpu(index) !== cpu || this.log.event(index) !== event || this.log.timeNs(index) !== time)) {
        throw new InternalError(`inspect: the replay differs from the recorded run at record ${index + 1} (CPU ${cpu}, ${traceEventName(event)})`);
      }
      if (seen === stopAt) throw new StopAtRecord(seen);
    });
    let ended = false;
    try {
      await runInProcess(machine, this.compiled, this.definition.name, undefined, (given) => {
        actors = given;
        // a dispatcher operation is recorded (DISPATCHER) only once the coordinator has answered: stop
        // before it serves a request made after record p, so that position p does not show it done
        const serve = given.hub.stalled;
        given.hub.stalled = () => {
          if (seen === p && p < this.total) throw new StopAtRecord(p);
          return serve?.() ?? false;
        };
      });
      ended = true;
    } catch (error) {
      if (!(error instanceof StopAtRecord)) throw error;
    } finally {
      await machine.shutdown();
    }
    if (actors === null) throw new InternalError('inspect: the in-process backend did not hand over its actors');
    if (ended && p !== this.total) throw new InternalError(`inspect: the replay ended after ${seen} records, the recorded run made ${this.total}`);
    const last = p - 1;
    const timeNs = ended ? Math.max(this.result.emulatedTimeNs, last >= 0 ? this.log.timeNs(last) : 0) : last >= 0 ? this.log.timeNs(last) : 0;
    this.current = { position: p, total: this.total, ended, machine, compiled: this.compiled, actors, timeNs, cpu: last >= 0 ? this.log.cpu(last) : 0 };
    return this.current;
  }

  /** Record `index` (0-based) as `event-name  detail`. */
  describe(index: number): { event: string; detail: string } {
    const event = this.log.event(index);
    const [a, b, c] = this.log.args(index);
    const config = this.compiled.processors[this.log.cpu(index)] ?? this.compiled.processors[0]!;
    return { event: traceEventName(event), detail: describeEvent(config, this.names, event, a, b, c) };
  }

  /** The first record at or after `from` (0-based) whose time is at least `timeNs`, or −1. */
  firstAtOrAfter(timeNs: number, from = 0): number {
    for (let i = Math.max(0, from); i < this.total; i++) if (this.log.timeNs(i) >= timeNs) return i;
    return -1;
  }

  /** The next (forward) or last (backward) record in [from, to) whose text contains `text`, case-insensitive; −1 if none. */
  search(text: string, from: number, to: number, backward: boolean): number {
    const needle = text.toLowerCase();
    const matches = (i: number): boolean => {
      const { event, detail } = this.describe(i);
      return `${event} ${detail}`.toLowerCase().includes(needle);
    };
    if (backward) {
      for (let i = Math.min(to, this.total) - 1; i >= Math.max(0, from); i--) if (matches(i)) return i;
    } else {
      for (let i = Math.max(0, from); i < Math.min(to, this.total); i++) if (matches(i)) return i;
    }
    return -1;
  }
}
