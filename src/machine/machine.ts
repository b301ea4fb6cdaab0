/**
 * Machine: the main-thread side of one emulated machine. It allocates the shared memory, writes the
 * program image and the initial memory, spawns the coordinator and the CPU workers, starts the run,
 * observes it (progress, trace records, reports) and tears it down. It never blocks the event loop
 * (it waits with Atomics.waitAsync) and owns no kernel state. Main thread only.
 */

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNanoEvents } from 'nanoevents';
import type { Emitter } from 'nanoevents';
import { computeLayout, ControlField, CounterField, DpcField, MachineState, RingHeader, ThreadField, TraceField } from '../shm/layout.js';
import { enterRoutine } from '../isa/interpreter.js';
import type { MachineLayout } from '../shm/layout.js';
import { SpscRing } from '../shm/spsc-ring.js';
import { Doorbell } from '../shm/doorbell.js';
import { COORDINATOR_ACTOR, MAIN_ACTOR, actorOfCpu, decodeMessage } from '../ipc/messages.js';
import type { Message, Report, CpuReport, CoordinatorReport, BugcheckReport } from '../ipc/messages.js';
import { unpackReport } from '../ipc/report-codec.js';
import type { CompiledScenario } from '../scenario/compile.js';
import { InternalError } from '../util/errors.js';

export interface MachineEvents {
  /** the emulated time the run has reached (coordinator's view), now and then */
  progress: (emulatedNs: number) => void;
  /** a trace record drained from a CPU's trace ring */
  trace: (cpu: number, timeNs: number, event: number, a: number, b: number, c: number) => void;
  bugcheck: (report: BugcheckReport) => void;
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
}

/** Host time to wait for reports once the run is over; only a wedged worker (a native routine looping forever) hits it. */
const REPORT_GRACE_MS = 5000;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'workers'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new InternalError('cannot find the irqlab package root from ' + import.meta.url);
    dir = parent;
  }
}

/** The built worker entry files (workers run compiled JavaScript: see README, "TypeScript in workers"). */
export function workerEntry(name: 'cpu' | 'coordinator'): string {
  const root = packageRoot();
  const inDist = join(root, 'dist', 'workers', `${name}.js`);
  const sibling = join(root, 'workers', `${name}.js`);
  if (existsSync(inDist)) return inDist;
  if (existsSync(sibling)) return sibling;
  throw new InternalError(`worker entry ${inDist} is missing: run 'npm run build'`);
}

export interface WorkerData {
  role: 'cpu' | 'coordinator';
  sab: SharedArrayBuffer;
  compiled: Omit<CompiledScenario, 'code' | 'variables'> & { variables: Array<[string, { address: number; words: number }]> };
  cpu: number;
}

export class Machine {
  readonly events: Emitter<MachineEvents> = createNanoEvents<MachineEvents>();
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

  constructor(compiled: CompiledScenario) {
    this.compiled = compiled;
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
    void RingHeader;
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
      const worker = new Worker(workerEntry(role), { workerData: data, env: env ?? process.env, name: role === 'cpu' ? `irqlab cpu ${cpu}` : 'irqlab coordinator' });
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
    const cpus = this.compiled.machine.cpus;
    const expectCpuReports = (): number => this.reports.filter((r) => r.kind === 'cpu').length;
    await this.waitFor(() => expectCpuReports() >= cpus && this.reports.some((r) => r.kind === 'coordinator'), REPORT_GRACE_MS);
    this.drainTraces();
    const cpuReports = this.reports.filter((r): r is CpuReport => r.kind === 'cpu').sort((a, b) => a.cpu - b.cpu);
    const reported = new Set(cpuReports.map((r) => r.cpu));
    const unresponsive: number[] = [];
    for (let cpu = 0; cpu < cpus; cpu++) if (!reported.has(cpu)) unresponsive.push(cpu);
    const coordinator = this.reports.find((r): r is CoordinatorReport => r.kind === 'coordinator');
    if (!coordinator) throw this.failure ?? new InternalError('the coordinator did not report the end of the run');
    return {
      reason: this.runDone!.reason,
      cpuReports,
      coordinator,
      bugcheck: this.reports.find((r): r is BugcheckReport => r.kind === 'bugcheck') ?? null,
      unresponsive,
      hostTimeMs: performance.now() - started,
      bootMs,
    };
  }

  /** Stop every worker. Safe to call more than once and after a failure. */
  async shutdown(): Promise<void> {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
    await Promise.all(
      this.workers.map(async (worker, index) => {
        const actor = index === 0 ? COORDINATOR_ACTOR : actorOfCpu(index - 1);
        if (this.exited.has(actor)) return;
        await worker.terminate();
      }),
    );
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
        const time = (w[o + TraceField.TIME_HI]! * 4294967296) + (w[o + TraceField.TIME_LO]! >>> 0);
        this.events.emit('trace', cpu, time, w[o + TraceField.EVENT]!, w[o + TraceField.A]!, w[o + TraceField.B]!, w[o + TraceField.C]!);
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

  /** Poll until `done()` holds, a worker fails, or `timeoutMs` of host time passes. Never blocks the event loop. */
  private async waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let lastProgress = 0;
    for (;;) {
      const seen = this.doorbell.seen();
      this.pollOnce();
      if (this.failure) throw this.failure;
      if (done()) return;
      if (performance.now() > deadline) return;
      const now = performance.now();
      if (now - lastProgress > 100) {
        lastProgress = now;
        let time = 0;
        for (let cpu = 0; cpu < this.compiled.machine.cpus; cpu++) time = Math.max(time, this.f64[this.layout.counters(cpu) + CounterField.TIME_NS]!);
        this.events.emit('progress', time);
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
