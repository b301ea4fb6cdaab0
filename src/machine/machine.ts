/**
 * Machine: the main-thread side of one emulated machine. It allocates the shared memory, writes the
 * program image and the initial memory, spawns the coordinator and the CPU workers, starts the run,
 * observes it (progress, trace records, reports) and tears it down. It never blocks the event loop
 * (it waits with Atomics.waitAsync) and owns no kernel state. Main thread only.
 */

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNanoEvents } from 'nanoevents';
import type { Emitter } from 'nanoevents';
import { isTraceAnnotation } from '../kernel/trace-annotations.js';
import { computeLayout, ControlField, DpcField, MachineState, PrcbField, ThreadField, TraceField } from '../shm/layout.js';
import { enterRoutine } from '../isa/interpreter.js';
import type { MachineLayout } from '../shm/layout.js';
import { SpscRing } from '../shm/spsc-ring.js';
import { Doorbell } from '../shm/doorbell.js';
import { COORDINATOR_ACTOR, MAIN_ACTOR, actorOfCpu, decodeMessage } from '../ipc/messages.js';
import type { Message, Report, CpuReport, CoordinatorReport, BugcheckReport, ScenarioErrorReport } from '../ipc/messages.js';
import { unpackReport } from '../ipc/report-codec.js';
import type { CompiledScenario } from '../scenario/compile.js';
import type { WorkerData } from '../contract/config.js';
import type { RecordedDecision } from '../contract/decision-source.js';
import { InternalError, ScenarioError } from '../util/errors.js';

export interface MachineEvents {
  /** the emulated time the run has reached (coordinator's view), now and then */
  progress: (emulatedNs: number) => void;
  /** a trace record drained from a CPU's trace ring */
  trace: (cpu: number, timeNs: number, event: number, a: number, b: number, c: number) => void;
  bugcheck: (report: BugcheckReport) => void;
}

/**
 * The machine's events with the internal ones: `annotation`, a timeline annotation a CPU sent beside
 * its trace records (src/kernel/trace-annotations.ts; for the Chrome trace and --breaktrace, not
 * part of the public `on` handlers).
 */
export interface InternalMachineEvents extends MachineEvents {
  annotation: (cpu: number, timeNs: number, event: number, a: number, b: number, c: number) => void;
}

/** Route a record from a CPU's trace ring: a trace record to `trace`, an annotation to `annotation`. */
export function emitTraceRecord(events: Emitter<InternalMachineEvents>, cpu: number, time: number, event: number, a: number, b: number, c: number): void {
  if (isTraceAnnotation(event)) events.emit('annotation', cpu, time, event, a, b, c);
  else events.emit('trace', cpu, time, event, a, b, c);
}

export interface MachineOutcome {
  reason: 'end' | 'bugcheck';
  cpuReports: CpuReport[];
  coordinator: CoordinatorReport;
  bugcheck: BugcheckReport | null;
  /** CPUs that did not answer the freeze (or the stop) in time and were stopped from outside */
  unresponsive: number[];
  hostTimeMs: number;
  bootMs: number;
  /** the in-process backend, when the run recorded its decisions: every decision taken (src/contract/decision-source.ts) */
  decisions?: RecordedDecision[];
}

/** Host time to wait for reports once the run is over; only a wedged worker (a native routine looping forever) hits it. */
const REPORT_GRACE_MS = 5000;

/** Host time a worker that has reported gets to exit by itself at shutdown before it is terminated. */
const EXIT_GRACE_MS = 2000;

/**
 * Host time one call of a native routine may take before the run ends as a scenario error (exit 1).
 * Natives are the scenario's host code, not emulated code: a CPU inside one answers nothing (not
 * the clock, not the freeze, not a slice grant), so only the main thread can notice and stop it.
 */
export const DEFAULT_NATIVE_TIMEOUT_MS = 10_000;

export interface MachineOptions {
  /** the scenario's name, for the native guard's message */
  scenario?: string;
  /** see DEFAULT_NATIVE_TIMEOUT_MS */
  nativeTimeoutMs?: number;
}

/** What the native guard last saw of one CPU: the routine it is in, its call count, and since when (main thread's clock). */
interface NativeWatch {
  routine: number;
  calls: number;
  sinceMs: number;
}

/**
 * The built worker entry files: workers always run the compiled JavaScript, even under a test
 * runner that runs this module from source. They are found from this module's own URL, not by
 * searching for a package.json: built, this file is dist/src/machine/machine.js and the workers
 * are dist/workers/ (what the package ships); under a test runner it is src/machine/machine.ts and
 * the workers are the build's, dist/workers/.
 */
export function workerEntry(name: 'cpu' | 'coordinator'): string {
  const candidates = [new URL(`../../workers/${name}.js`, import.meta.url), new URL(`../../dist/workers/${name}.js`, import.meta.url)].map((url) =>
    fileURLToPath(url),
  );
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  throw new InternalError(`worker entry ${name}.js is missing (looked for ${candidates.join(' and ')}): run 'npm run build'`);
}

export class Machine {
  readonly events: Emitter<InternalMachineEvents> = createNanoEvents<InternalMachineEvents>();
  readonly layout: MachineLayout;
  readonly sab: SharedArrayBuffer;
  private readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly compiled: CompiledScenario;
  private readonly workers: Worker[] = [];
  private readonly doorbell: Doorbell;
  private readonly inbound: Array<{ from: number; ring: SpscRing }> = [];
  private readonly traceRings: SpscRing[] = [];
  private readonly reports: Report[] = [];
  private readonly ready = new Set<number>();
  private runDone: Extract<Message, { type: 'run/done' }> | null = null;
  private failure: Error | null = null;
  private exited = new Set<number>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private readonly options: MachineOptions;
  private readonly nativeWatch: NativeWatch[];

  constructor(compiled: CompiledScenario, options: MachineOptions = {}) {
    this.compiled = compiled;
    this.options = options;
    this.nativeWatch = Array.from({ length: compiled.machine.cpus }, () => ({ routine: 0, calls: 0, sinceMs: 0 }));
    const params = compiled.machine.layout;
    this.layout = computeLayout(params);
    this.sab = new SharedArrayBuffer(this.layout.totalWords * 4);
    this.i32 = new Int32Array(this.sab);
    this.f64 = new Float64Array(this.sab);
    const control = this.layout.control;
    this.i32[control + ControlField.STATE] = MachineState.BOOTING;
    this.i32[control + ControlField.BUGCHECK_OWNER] = -1;
    // rings: every ordered pair of actors that talks
    const actors = this.layout.actors;
    for (let from = 0; from < actors; from++) {
      for (let to = 0; to < actors; to++) {
        if (from !== to) SpscRing.init(this.i32, this.layout.ring(from, to), params.ringCapacity);
      }
    }
    for (let cpu = 0; cpu < params.cpus; cpu++) {
      SpscRing.init(this.i32, this.layout.trace(cpu), params.traceCapacity);
      this.traceRings.push(new SpscRing(this.i32, this.layout.trace(cpu)));
    }
    for (let from = 1; from < actors; from++) this.inbound.push({ from, ring: new SpscRing(this.i32, this.layout.ring(from, MAIN_ACTOR)) });
    this.doorbell = new Doorbell(this.i32, this.layout.doorbell(MAIN_ACTOR));
    // program image, memory, KDPC table
    new Int32Array(this.sab, this.layout.code * 4, params.codeWords).set(compiled.code);
    const memory = new Int32Array(this.sab, this.layout.memory * 4, params.memoryWords);
    for (const { address, values } of compiled.memoryInit) memory.set(values, address >> 2);
    // every scenario thread's context starts at its body's entry, on its own stack, in the shared
    // thread table: whichever CPU first switches to it resumes it from there
    for (const thread of compiled.machine.threads) {
      const base = this.layout.thread(thread.id - 1) + ThreadField.CONTEXT;
      const entry = compiled.machine.routines[thread.routine]!.entry;
      enterRoutine(this.i32, base, entry, thread.routine, thread.stackTop, thread.stackLimit, thread.args, memory);
    }
    for (const page of compiled.machine.initiallyPagedOut) this.i32[this.layout.pageState(page)] = 1;
    compiled.dpcs.forEach((dpc, index) => {
      const record = this.layout.dpc(index);
      this.i32[record + DpcField.ROUTINE] = dpc.routine;
      this.i32[record + DpcField.CONTEXT] = dpc.context;
      this.i32[record + DpcField.IMPORTANCE] = dpc.importance;
      this.i32[record + DpcField.TARGET] = dpc.target;
    });
  }

  /** A native routine threw in a CPU worker: a scenario error whose cause carries the native's own stack (for --verbose). */
  private scenarioError(report: ScenarioErrorReport): ScenarioError {
    const cause = new Error(report.thrown);
    cause.stack = report.stack || `${report.thrown} (not an Error: no stack)`;
    return new ScenarioError(`scenario '${this.options.scenario ?? 'scenario'}': ${report.what} threw ${report.thrown}`, { cause });
  }

  /** Emulated memory as the main thread sees it (for results() and checks()). */
  memory(): Int32Array {
    return new Int32Array(this.sab, this.layout.memory * 4, this.layout.params.memoryWords);
  }

  /** Spawn the workers and wait until each has reported ready. */
  async boot(): Promise<number> {
    const started = performance.now();
    const { variables, code: _code, ...rest } = this.compiled;
    const compiled = { ...rest, variables: [...variables.entries()] };
    const env = Object.keys(process.env).some((key) => key.startsWith('NODE_CLINIC_'))
      ? Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_OPTIONS'))
      : undefined;
    const spawn = (role: 'cpu' | 'coordinator', cpu: number, actor: number): void => {
      const data: WorkerData = { role, sab: this.sab, compiled, cpu };
      const worker = new Worker(workerEntry(role), {
        workerData: data,
        env: env ?? process.env,
        name: role === 'cpu' ? `irqlab cpu ${cpu}` : 'irqlab coordinator',
      });
      worker.on('error', (error) => {
        this.failure ??= new InternalError(`${role === 'cpu' ? `CPU ${cpu}` : 'coordinator'} worker failed: ${error.message}`);
        if (error.stack) (this.failure as Error & { workerStack?: string }).workerStack = error.stack;
        this.doorbell.ring();
      });
      worker.on('exit', (code) => {
        this.exited.add(actor);
        this.doorbell.ring();
        if (code !== 0 && !this.runDone && !this.failure) {
          this.failure = new InternalError(`${role === 'cpu' ? `CPU ${cpu}` : 'coordinator'} worker exited with code ${code}`);
        }
      });
      worker.on('message', (bytes: Uint8Array) => {
        const report = unpackReport(bytes);
        this.reports.push(report);
        if (report.kind === 'bugcheck') this.events.emit('bugcheck', report);
        if (report.kind === 'scenario-error') this.failure ??= this.scenarioError(report);
        // reports come by postMessage, not through a ring: wake waitFor() now, not at its timeout
        this.doorbell.ring();
      });
      this.workers.push(worker);
    };
    spawn('coordinator', -1, COORDINATOR_ACTOR);
    for (let cpu = 0; cpu < this.compiled.machine.cpus; cpu++) spawn('cpu', cpu, actorOfCpu(cpu));
    await this.waitFor(() => this.ready.size === this.layout.actors - 1, Infinity);
    return performance.now() - started;
  }

  /** Start the run and wait for its end (the coordinator's RUN_DONE and every CPU's report). */
  async run(bootMs: number): Promise<MachineOutcome> {
    const started = performance.now();
    new BigInt64Array(this.sab, (this.layout.control + ControlField.EPOCH) * 4, 1)[0] = process.hrtime.bigint();
    // every worker waits on STATE (workers may block; the main thread only notifies)
    Atomics.store(this.i32, this.layout.control + ControlField.STATE, MachineState.RUNNING);
    Atomics.notify(this.i32, this.layout.control + ControlField.STATE);
    await this.waitFor(() => this.runDone !== null, Infinity);
    // the line ends where the run ended, however short the run was
    this.events.emit('progress', this.emulatedTimeReached());
    const cpus = this.compiled.machine.cpus;
    const expectCpuReports = (): number => this.reports.filter((r) => r.kind === 'cpu').length;
    const allReported = (): boolean => expectCpuReports() >= cpus && this.reports.some((r) => r.kind === 'coordinator');
    await this.waitFor(allReported, REPORT_GRACE_MS);
    // a CPU still inside a native: wait for it to return or for the native guard to end the run
    if (!allReported() && this.cpusInNative().length > 0) await this.waitFor(() => allReported() || this.cpusInNative().length === 0, Infinity);
    if (!allReported()) await this.waitFor(allReported, REPORT_GRACE_MS);
    this.drainTraces();
    const cpuReports = this.reports.filter((r): r is CpuReport => r.kind === 'cpu').sort((a, b) => a.cpu - b.cpu);
    const reported = new Set(cpuReports.map((r) => r.cpu));
    const unresponsive: number[] = [];
    for (let cpu = 0; cpu < cpus; cpu++) if (!reported.has(cpu)) unresponsive.push(cpu);
    const coordinator = this.reports.find((r): r is CoordinatorReport => r.kind === 'coordinator');
    if (!coordinator) throw this.failure ?? new InternalError('the coordinator did not report the end of the run');
    const bugcheck = this.reports.find((r): r is BugcheckReport => r.kind === 'bugcheck') ?? null;
    // a CPU that stops answering outside a native is the emulator's fault; the run is not "OK". (With
    // a bugcheck, the analysis lists it as not responding to the freeze and the run fails anyway.)
    if (unresponsive.length > 0 && bugcheck === null) {
      const which = unresponsive.length === 1 ? `CPU ${unresponsive[0]}` : `CPUs ${unresponsive.join(', ')}`;
      throw new InternalError(`${which} stopped answering and did not report the end of the run within ${REPORT_GRACE_MS / 1000} s of host time`);
    }
    return {
      reason: this.runDone!.reason,
      cpuReports,
      coordinator,
      bugcheck,
      unresponsive,
      hostTimeMs: performance.now() - started,
      bootMs,
    };
  }

  /** Stop every worker. Safe to call more than once and after a failure. */
  async shutdown(): Promise<void> {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
    // after a run that ended, every worker that reported finishes its last bookkeeping (a CPU
    // counts the assertions left in its inbox) and exits by itself: let it, so the counters in
    // shared memory are final; stop from outside only what does not exit in time
    const reported = new Set(this.reports.flatMap((r) => (r.kind === 'cpu' ? [actorOfCpu(r.cpu)] : r.kind === 'coordinator' ? [COORDINATOR_ACTOR] : [])));
    const mayExit = this.runDone !== null && this.failure === null;
    await Promise.all(
      this.workers.map(async (worker, index) => {
        const actor = index === 0 ? COORDINATOR_ACTOR : actorOfCpu(index - 1);
        if (this.exited.has(actor)) return;
        if (mayExit && reported.has(actor)) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, EXIT_GRACE_MS);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          if (this.exited.has(actor)) return;
        }
        this.stoppedFromOutside.push(actor);
        await worker.terminate();
      }),
    );
  }

  /** Actors (see actorOfCpu) that shutdown() had to terminate: their last counters may be incomplete. */
  readonly stoppedFromOutside: number[] = [];

  /** CPUs inside a native routine now. */
  private cpusInNative(): number[] {
    const inside: number[] = [];
    for (let cpu = 0; cpu < this.compiled.machine.cpus; cpu++) {
      if (Atomics.load(this.i32, this.layout.prcb(cpu) + PrcbField.NATIVE_ROUTINE) !== 0) inside.push(cpu);
    }
    return inside;
  }

  /**
   * The native guard: a CPU seen inside the same call of a native routine (same routine, same call
   * count) for longer than the limit ends the run as a scenario error. Host time is right here:
   * natives are host code, and the guard only decides whether a run fails, never what it computes.
   */
  private checkNatives(): void {
    const limitMs = this.options.nativeTimeoutMs ?? DEFAULT_NATIVE_TIMEOUT_MS;
    const now = performance.now();
    for (let cpu = 0; cpu < this.compiled.machine.cpus; cpu++) {
      const prcb = this.layout.prcb(cpu);
      const routine = Atomics.load(this.i32, prcb + PrcbField.NATIVE_ROUTINE);
      const calls = Atomics.load(this.i32, prcb + PrcbField.NATIVE_CALLS);
      const watch = this.nativeWatch[cpu]!;
      if (routine === 0 || routine !== watch.routine || calls !== watch.calls) {
        watch.routine = routine;
        watch.calls = calls;
        watch.sinceMs = now;
        continue;
      }
      if (now - watch.sinceMs >= limitMs && !this.failure) {
        const name = this.compiled.machine.nativeNames[routine - 1] ?? `#${routine - 1}`;
        const scenario = this.options.scenario !== undefined ? `scenario '${this.options.scenario}': ` : '';
        this.failure = new ScenarioError(`${scenario}native routine '${name}' on CPU ${cpu} did not return within ${limitMs / 1000} s of host time`);
      }
    }
  }

  private pollOnce(): void {
    for (const { ring } of this.inbound) {
      ring.read((kind, w, offset, length) => this.handle(decodeMessage(kind, w, offset, length)));
    }
    this.drainTraces();
  }

  private drainTraces(): void {
    this.traceRings.forEach((ring, cpu) => {
      ring.read((_kind, w, o) => {
        const time = w[o + TraceField.TIME_HI]! * 4294967296 + (w[o + TraceField.TIME_LO]! >>> 0);
        emitTraceRecord(this.events, cpu, time, w[o + TraceField.EVENT]!, w[o + TraceField.A]!, w[o + TraceField.B]!, w[o + TraceField.C]!);
      });
    });
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'ready':
        this.ready.add(message.actor);
        return;
      case 'run/done':
        this.runDone = message;
        return;
      default:
        this.failure ??= new InternalError(`the main thread got an unexpected '${message.type}' message`);
    }
  }

  /**
   * The emulated time the machine has reached, as the coordinator publishes it: the CPUs' own
   * clocks stand still while they run a long slice or sit halted, so a progress line fed from them
   * stalls (at the last halt in parallel mode, at 0 in a deterministic run whose CPUs wait on timers).
   */
  private emulatedTimeReached(): number {
    return this.f64[(this.layout.control + ControlField.EMULATED_NS) / 2]!;
  }

  /** Poll until `done()` holds, a worker fails, or `timeoutMs` of host time passes. Never blocks the event loop. */
  private async waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let lastProgress = 0;
    for (;;) {
      const seen = this.doorbell.seen();
      this.pollOnce();
      this.checkNatives();
      if (this.failure) throw this.failure;
      if (done()) return;
      if (performance.now() > deadline) return;
      const now = performance.now();
      if (now - lastProgress > 100) {
        lastProgress = now;
        this.events.emit('progress', this.emulatedTimeReached());
      }
      // every producer rings the main doorbell and notifies it while it waits, so the timeout only
      // paces the progress line and drains the trace rings (which do not ring)
      const waitMs = this.compiled.machine.traceToMain ? 2 : 100;
      // a pending waitAsync does not keep the event loop alive: an interval held for the whole
      // wait does (a timer only as long as the wait could fire first and let the process exit)
      this.keepAlive ??= setInterval(() => {}, 1000);
      await this.doorbell.sleepAsync(seen, waitMs);
    }
  }
}
