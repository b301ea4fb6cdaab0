/**
 * Processor: one emulated logical processor (the CPU actor). It owns its PRCB state (IRQL, pending
 * software interrupts, DPC queue and counters, DpcRoutineActive, DpcInterruptRequested), its local
 * APIC and its frame stack, and it runs the interpreter. Nobody else changes any of that: other
 * actors send messages (device interrupts, IPIs, DPC links, slice grants), which this CPU acts on at
 * instruction boundaries.
 *
 * The frame stack (innermost last) holds either code frames (an interpreted routine: a thread body,
 * an ISR, a DPC routine, an IPI worker) or kernel frames (a generator playing a kernel routine such
 * as KiRetireDpcList or KiIpiServiceRoutine, which calls code frames and spins). Interrupts are
 * checked before every step, so they land between any two instructions, nest by IRQL, and a spin
 * (a kernel call that answers RETRY, or a kernel frame that yields SPIN) keeps taking interrupts
 * above its IRQL.
 *
 * Transport-free: it talks through a ProcessorPort, so the same code runs in a worker
 * (workers/cpu.ts) and in-process. Sources: nt-semantics.md §1, §2, §7, §9.
 */

import { BugCheck, BUGCHECK, bugcheckName } from '../kernel/bugcheck.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName, irqlTable, vectorToIrql } from '../kernel/irql.js';
import type { IrqlTable } from '../kernel/irql.js';
import { DpcImportanceValue, dpcTag, dpcTagCpu, shouldRequestLocalDpc, shouldRequestRemoteDpc, updateDpcRate } from '../kernel/dpc.js';
import type { DpcRateState } from '../kernel/dpc.js';
import { LocalApic } from '../hal/lapic.js';
import { Interpreter, enterRoutine, KCALL_DONE, KCALL_RETRY, STEP_OK, STEP_RETURNED, STEP_RETRY, STEP_YIELD } from '../isa/interpreter.js';
import type { ExecHost } from '../isa/interpreter.js';
import { KC, kernelCallById } from '../isa/kcalls.js';
import { disassemble } from '../isa/disasm.js';
import { ContextField, ControlField, CounterField, DpcField, MachineState, PrcbField, TraceField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { IpiRequest, Kind, MAIN_ACTOR, COORDINATOR_ACTOR, actorOfCpu, decodeMessage, timeHi, timeLo, assertNever } from '../ipc/messages.js';
import type { Message, Report, CpuReport } from '../ipc/messages.js';
import type { ActorPort } from '../ipc/actor-port.js';
import { TraceHash } from '../util/hash.js';
import { Prng, deriveSeed } from '../util/prng.js';
import { TraceEvent, traceEventName } from './trace-events.js';
import type { ProcessorConfig, InterruptObjectConfig } from './config.js';
import type { BugcheckFrame, CpuEvent } from '../machine/result.js';

/** What a processor needs from the transport. */
export type ProcessorPort = ActorPort;

/** Emulated ns now, in parallel mode (host monotonic clock × time scale, from the machine epoch). */
export type HostClock = () => number;

const FRAME_CODE = 0;
const FRAME_KERNEL = 1;

const SIGNAL_SPIN = 1;
const SIGNAL_CALL = 2;
const SIGNAL_HALT = 3;

type KernelGenerator = Generator<number, void, number>;

interface CodeFrame {
  kind: typeof FRAME_CODE;
  /** the IRQL when the frame was pushed */
  irql: number;
  /** 'thread' | 'isr' | 'dpc' | 'ipi' | 'routine' */
  role: string;
  base: number;
  routine: number;
  onInterruptStack: boolean;
}

interface KernelFrame {
  kind: typeof FRAME_KERNEL;
  /** the IRQL when the frame was pushed */
  irql: number;
  /** kernel routine name, for reports (KiRetireDpcList, KiIpiServiceRoutine, …) */
  name: string;
  role: string;
  gen: KernelGenerator;
  resume: number;
  /** true for a hardware interrupt frame (counts toward nesting) */
  hardware: boolean;
}

type Frame = CodeFrame | KernelFrame;

interface DpcEntry {
  dpc: number;
  tag: number;
  insertedNs: number;
  fromIsr: boolean;
}

const MAX_FRAMES = 64;
const PAUSE_CYCLES = 10;
const LATENCY_SAMPLE_LIMIT = 65536;
const LAST_EVENTS = 32;
const PACKET_GENERIC = 1 << 16;
/** parallel mode: consecutive spins before a nap, and the nap (see spun()) */
const SPINS_BEFORE_NAP = 256;
const NAP_MS = 0.05;

/** Why run() returned. */
export const RunExit = { BUDGET: 0, HALT: 1, STOP: 2, FROZEN: 3 } as const;

export class Processor implements ExecHost {
  readonly cpu: number;
  readonly config: ProcessorConfig;
  private readonly table: IrqlTable;
  private readonly layout: MachineLayout;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly memory: Int32Array;
  private readonly port: ProcessorPort;
  private readonly hostClock: HostClock;
  private readonly interp: Interpreter;
  readonly pageFlags: Uint8Array;

  // ---- PRCB (private to this CPU) ----
  irql = PASSIVE_LEVEL;
  private softPending = 0; // bit 1: APC, bit 2: DISPATCH
  private readonly dpcQueue: DpcEntry[] = [];
  private dpcRoutineActive = false;
  private dpcInterruptRequested = false;
  private readonly dpcRate: DpcRateState;
  private ipiRequests = 0;
  private readonly packetSources: number[] = [];
  private ticksTaken = 0;
  private readonly apic: LocalApic;
  private readonly irqlOfVector: Int32Array;
  private readonly interruptsByVector: InterruptObjectConfig[][];
  private readonly frames: Frame[] = [];
  private readonly contexts: Int32Array;
  private nesting = 0;
  private unclaimedInARow = 0;

  // ---- time ----
  private sliceStartNs = 0;
  private sliceStartCycles = 0;
  private lastIrqlChangeNs = 0;
  private haltedSinceNs = -1;
  private readonly cyclesPerNs: number;
  private readonly counters: number;
  private readonly prcb: number;

  // ---- observation ----
  private readonly hash = new TraceHash();
  private traceCount = 0;
  /** the last LAST_EVENTS records, a ring (time, event, a, b, c), for the bugcheck report */
  private readonly lastEventTimes = new Float64Array(LAST_EVENTS);
  private readonly lastEventWords = new Int32Array(LAST_EVENTS * 4);
  private lastEventNext = 0;
  private readonly assertToIsr: number[] = [];
  private readonly isrToDpc: number[] = [];
  private latencySeen = [0, 0];
  private readonly sampler: Prng;
  readonly userEvents: Array<{ cpu: number; timeNs: number; tag: number; value: number }> = [];

  // ---- run control ----
  private stopRequested = false;
  private frozen = false;
  private pendingBugcheck: BugCheck | null = null;
  private genericGeneration = 0;

  constructor(config: ProcessorConfig, sab: SharedArrayBuffer, layout: MachineLayout, port: ProcessorPort, hostClock: HostClock) {
    this.config = config;
    this.cpu = config.cpu;
    this.table = irqlTable(config.arch);
    this.layout = layout;
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.memory = new Int32Array(sab, layout.memory * 4, layout.params.memoryWords);
    const code = new Int32Array(sab, layout.code * 4, layout.params.codeWords);
    this.port = port;
    this.hostClock = hostClock;
    this.cyclesPerNs = config.cyclesPerNs;
    this.counters = layout.counters(this.cpu);
    this.prcb = layout.prcb(this.cpu);
    this.pageFlags = new Uint8Array(Math.ceil((layout.params.memoryWords * 4) / 4096) + 1);
    this.interp = new Interpreter(code, this.memory, this);
    this.contexts = new Int32Array(MAX_FRAMES * ContextField.WORDS);
    this.irqlOfVector = new Int32Array(256);
    for (let v = 0; v < 256; v++) this.irqlOfVector[v] = Math.min(this.table.high, vectorToIrql(this.table, v));
    this.irqlOfVector[this.table.clockVector] = this.table.clock;
    this.irqlOfVector[this.table.clockIpiVector] = this.table.clock;
    this.irqlOfVector[this.table.ipiVector] = this.table.ipi;
    this.interruptsByVector = [];
    for (let v = 0; v < 256; v++) this.interruptsByVector.push([]);
    for (const intr of config.interrupts) {
      this.interruptsByVector[intr.vector]!.push(intr);
      // the IRQL a device vector interrupts at is the one its interrupt object declares
      this.irqlOfVector[intr.vector] = intr.irql;
    }
    this.apic = new LocalApic(this.irqlOfVector);
    this.dpcRate = {
      maximumDpcQueueDepth: config.dpc.maximumDpcQueueDepth,
      minimumDpcRate: config.dpc.minimumDpcRate,
      dpcRequestRate: 0,
      dpcLastCount: 0,
      dpcCount: 0,
      adjustDpcThreshold: config.dpc.adjustDpcThreshold,
    };
    this.sampler = new Prng(deriveSeed(config.seed, 1000 + this.cpu));
    this.i32[this.prcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH] = this.dpcRate.maximumDpcQueueDepth;
    this.frames.push({ kind: FRAME_KERNEL, irql: PASSIVE_LEVEL, name: 'KiIdleLoop', role: 'idle', gen: this.idleLoop(), resume: 0, hardware: false });
    if (config.thread) {
      const { routine, args, stackTop, stackLimit } = config.thread;
      const base = this.frames.length * ContextField.WORDS;
      enterRoutine(this.contexts, base, this.routineEntry(routine), routine, stackTop, stackLimit, args, this.memory);
      this.frames.push({ kind: FRAME_CODE, irql: PASSIVE_LEVEL, role: 'thread', base, routine, onInterruptStack: false });
    }
  }

  // ======================================================================================
  // Time
  // ======================================================================================

  /** This CPU's emulated time in ns. */
  now(): number {
    if (this.config.mode === 'parallel') return this.hostClock();
    return this.sliceStartNs + (this.interp.cycles - this.sliceStartCycles) / this.cyclesPerNs;
  }

  private setIrql(newIrql: number): void {
    if (newIrql === this.irql) return;
    const now = this.now();
    this.f64[this.counters + CounterField.TIME_AT_IRQL + this.irql] += now - this.lastIrqlChangeNs;
    this.lastIrqlChangeNs = now;
    this.record(TraceEvent.IRQL, this.irql, newIrql, 0);
    if (newIrql < this.irql) this.workPending = true;
    this.irql = newIrql;
    this.i32[this.prcb + PrcbField.IRQL] = newIrql;
  }

  // ======================================================================================
  // The run loop
  // ======================================================================================

  /**
   * Run until `cycleLimit` cycles have been executed, the CPU halts (nothing to do), the run is
   * stopped, or the machine froze. Deterministic mode calls this once per slice; parallel mode calls
   * it in chunks and paces it against the host clock.
   */
  run(cycleLimit: number): number {
    const interp = this.interp;
    const doorbell = this.port.doorbell.i32;
    const doorbellIndex = this.port.doorbell.index;
    interp.cycleLimit = cycleLimit;
    try {
      for (;;) {
        if (Atomics.load(doorbell, doorbellIndex) !== this.doorbellSeen) this.drainInbox();
        if (this.workPending) {
          if (this.frozen) return RunExit.FROZEN;
          if (this.stopRequested) return RunExit.STOP;
          if (this.pendingBugcheck) {
            const bugcheck = this.pendingBugcheck;
            this.pendingBugcheck = null;
            throw bugcheck;
          }
          if (this.dispatchPendingInterrupt()) continue;
          this.workPending = false;
        }
        if (interp.cycles >= cycleLimit) return RunExit.BUDGET;
        const frame = this.frames[this.frames.length - 1]!;
        if (frame.kind === FRAME_CODE) {
          const status = interp.step(this.contexts, frame.base);
          if (status === STEP_OK) {
            this.spinStreak = 0;
            continue;
          }
          if (status === STEP_RETURNED) {
            this.returnFromCode(frame);
            continue;
          }
          if (status === STEP_RETRY) {
            // a stall that used up the budget is not a spin; anything else retried is one
            if (interp.cycles >= cycleLimit) continue;
            interp.cycles += PAUSE_CYCLES;
            this.spun();
            continue;
          }
          if (status === STEP_YIELD) continue;
          throw new Error(`interpreter returned status ${status}`);
        }
        const signal = frame.gen.next(frame.resume);
        if (signal.done) {
          this.frames.pop();
          if (frame.hardware) this.nesting--;
          continue;
        }
        if (signal.value === SIGNAL_SPIN) {
          interp.cycles += PAUSE_CYCLES;
          this.spun();
        } else if (signal.value === SIGNAL_HALT) {
          if (Atomics.load(doorbell, doorbellIndex) !== this.doorbellSeen || this.hasDeliverable()) {
            this.workPending = true;
            continue;
          }
          return RunExit.HALT;
        }
      }
    } catch (error) {
      if (error instanceof BugCheck) {
        this.bugcheck(error);
        return RunExit.FROZEN;
      }
      throw error;
    } finally {
      this.f64[this.counters + CounterField.CYCLES] = interp.cycles;
      this.f64[this.counters + CounterField.INSTRUCTIONS] = interp.instructions;
    }
  }

  /**
   * PAUSE-loop exiting: in parallel mode a CPU that keeps spinning (on a spin lock, an IPI
   * acknowledgement) naps briefly on its doorbell, as a hypervisor deschedules a vCPU stuck in a
   * PAUSE loop. With more emulated CPUs than host cores, spinners would otherwise take the host CPU
   * away from the very CPU they wait for. Any message ends the nap at once; emulated time (the host
   * clock in parallel mode) passes as it would while spinning. Deterministic mode never naps: only
   * the granted CPU runs and its spins cost cycles.
   */
  private spinStreak = 0;
  private spun(): void {
    if (++this.spinStreak % SPINS_BEFORE_NAP !== 0 || this.config.mode !== 'parallel') return;
    this.port.sleep(NAP_MS);
  }

  private returnFromCode(frame: CodeFrame): void {
    const result = this.contexts[frame.base + ContextField.R0]!;
    this.frames.pop();
    const below = this.frames[this.frames.length - 1];
    if (frame.role === 'thread') {
      this.record(TraceEvent.THREAD_EXIT, frame.routine, result, 0);
      // a thread body plays a system service: returning from it returns to user mode, which must
      // happen at PASSIVE_LEVEL (§1.5)
      if (this.irql !== PASSIVE_LEVEL) {
        throw new BugCheck(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, frame.routine, this.irql, 0, 0).withDetail(
          `thread body ${this.routineName(frame.routine)} returned to user mode at ${irqlName(this.config.arch, this.irql)}`,
        );
      }
      return;
    }
    if (below && below.kind === FRAME_KERNEL) below.resume = result;
  }

  /** Push a code frame that the kernel frame below is waiting on; the caller then yields SIGNAL_CALL. */
  private pushCall(role: string, routine: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0): void {
    if (this.frames.length >= MAX_FRAMES) {
      throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, this.currentPc(), 0, 0);
    }
    const base = this.frames.length * ContextField.WORDS;
    // interrupt-level code shares the CPU's interrupt stack, nesting below whatever runs on it
    let stackTop = this.config.interruptStack.top;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE) {
        if (f.onInterruptStack) stackTop = (this.contexts[f.base + ContextField.SP]! - 16) & ~15;
        break;
      }
    }
    const args = this.argScratch;
    args[0] = a1;
    args[1] = a2;
    args[2] = a3;
    args[3] = a4;
    enterRoutine(this.contexts, base, this.routineEntry(routine), routine, stackTop, this.config.interruptStack.limit, args, this.memory);
    this.frames.push({ kind: FRAME_CODE, irql: this.irql, role, base, routine, onInterruptStack: true });
  }
  private readonly argScratch = new Int32Array(4);

  /** `interruptedIrql`: the level the frame below was running at (what reports show for it). */
  private pushKernel(name: string, role: string, gen: KernelGenerator, hardware: boolean, interruptedIrql = this.irql): void {
    if (this.frames.length >= MAX_FRAMES) {
      throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, this.currentPc(), 0, 0);
    }
    this.frames.push({ kind: FRAME_KERNEL, irql: interruptedIrql, name, role, gen, resume: 0, hardware });
    if (hardware) {
      this.nesting++;
      if (this.nesting > this.f64[this.counters + CounterField.MAX_NESTING]!) this.f64[this.counters + CounterField.MAX_NESTING] = this.nesting;
    }
  }

  // ======================================================================================
  // Interrupt delivery (nt-semantics.md §1.4): hardware first by level, then DISPATCH, then APC
  // ======================================================================================

  private hasDeliverable(): boolean {
    if (this.apic.highestPendingIrql() > this.irql) return true;
    if ((this.softPending & (1 << DISPATCH_LEVEL)) !== 0 && this.irql < DISPATCH_LEVEL) return true;
    return false;
  }

  /** Take the highest deliverable interrupt, if any, by pushing its kernel frame. */
  private dispatchPendingInterrupt(): boolean {
    const hw = this.apic.highestPendingIrql();
    if (hw > this.irql) {
      const vector = this.apic.accept(hw);
      const assertedNs = this.apic.acceptedAssertNs;
      this.takeHardwareInterrupt(vector, hw, assertedNs);
      return true;
    }
    if ((this.softPending & (1 << DISPATCH_LEVEL)) !== 0 && this.irql < DISPATCH_LEVEL) {
      this.softPending &= ~(1 << DISPATCH_LEVEL);
      const oldIrql = this.irql;
      this.setIrql(DISPATCH_LEVEL);
      this.pushKernel('KiDispatchInterrupt', 'dispatch', this.dispatchInterrupt(oldIrql), false, oldIrql);
      return true;
    }
    return false;
  }

  /**
   * Accepting an interrupt raises the IRQL at once (the APIC raises its priority on acceptance), so
   * the next boundary already masks everything at or below it; the frame's generator restores
   * `oldIrql` when it ends.
   */
  private takeHardwareInterrupt(vector: number, level: number, assertedNs: number): void {
    this.f64[this.counters + CounterField.BY_VECTOR + vector] += 1;
    const oldIrql = this.irql;
    this.setIrql(level);
    if (vector === this.table.clockVector || vector === this.table.clockIpiVector) {
      this.pushKernel('KeUpdateRunTime', 'clock', this.clockInterrupt(vector, oldIrql), true, oldIrql);
    } else if (vector === this.table.ipiVector) {
      this.pushKernel('KiIpiServiceRoutine', 'ipi', this.ipiInterrupt(oldIrql), true, oldIrql);
    } else {
      this.f64[this.counters + CounterField.INTERRUPTS] += 1;
      this.pushKernel(`KiInterruptDispatch(0x${vector.toString(16)})`, 'isr', this.deviceInterrupt(vector, level, assertedNs, oldIrql), true, oldIrql);
    }
  }

  /** HalEndSystemInterrupt: EOI, then lower to the interrupted level (deliveries follow at the next boundary). */
  private endInterrupt(oldIrql: number): void {
    this.apic.eoi();
    this.setIrql(oldIrql);
  }

  /** KiInterruptDispatch / KiChainedDispatch (§9.3). */
  private *deviceInterrupt(vector: number, level: number, assertedNs: number, oldIrql: number): KernelGenerator {
    const now = this.now();
    this.sample(this.assertToIsr, 0, now - assertedNs);
    this.record(TraceEvent.ISR_ENTER, vector, 0, 0);
    const chain = this.interruptsByVector[vector]!;
    let claimed = false;
    if (chain.length > 0) {
      const latched = chain[0]!.mode === 1;
      for (let pass = 0; pass < 64; pass++) {
        let claimedThisPass = false;
        for (const intr of chain) {
          const before = this.irql;
          if (intr.synchronizeIrql > this.irql) this.setIrql(intr.synchronizeIrql);
          yield* this.acquireInterruptLock(intr);
          this.pushCall('isr', intr.routine, intr.id, intr.context);
          const result = yield SIGNAL_CALL;
          if (this.irql !== intr.synchronizeIrql && this.irql !== level) {
            throw new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, (this.irql << 16) | (intr.synchronizeIrql << 8), intr.routine, intr.id, 0).withDetail(
              `ISR ${this.routineName(intr.routine)} of ${intr.name} returned at ${irqlName(this.config.arch, this.irql)} instead of ${irqlName(this.config.arch, intr.synchronizeIrql)}`,
            );
          }
          this.releaseInterruptLock(intr);
          this.setIrql(before);
          if (result !== 0) {
            claimedThisPass = true;
            claimed = true;
            if (!latched) break;
          }
        }
        if (!latched || !claimedThisPass) break;
      }
    }
    this.record(TraceEvent.ISR_EXIT, vector, claimed ? 1 : 0, 0);
    if (!claimed) {
      this.f64[this.counters + CounterField.UNCLAIMED_INTERRUPTS] += 1;
      const levelTriggered = chain.length === 0 || chain[0]!.mode === 0;
      if (levelTriggered) {
        // nobody quiesced the device: a level-triggered line is still asserted and fires again
        this.unclaimedInARow++;
        if (this.unclaimedInARow >= this.config.interruptStormThreshold) {
          throw new BugCheck(BUGCHECK.HARDWARE_INTERRUPT_STORM, vector, chain[0]?.routine ?? 0, 0, 0).withDetail(
            `vector 0x${vector.toString(16)} fired ${this.unclaimedInARow} times in a row with no ISR claiming it${chain.length ? ` (chain: ${chain.map((c) => this.routineName(c.routine)).join(', ')})` : ' (no interrupt object connected)'}`,
          );
        }
        this.apic.post(vector, this.now());
      }
    } else {
      this.unclaimedInARow = 0;
    }
    this.endInterrupt(oldIrql);
  }

  /** KeUpdateSystemTime / KeUpdateRunTime (§3.5, §2.6): the per-tick work this machine does. */
  private *clockInterrupt(vector: number, oldIrql: number): KernelGenerator {
    this.ticksTaken++;
    Atomics.store(this.i32, this.prcb + PrcbField.TICKS_TAKEN, this.ticksTaken);
    this.f64[this.counters + CounterField.CLOCK_TICKS] = this.ticksTaken;
    this.record(TraceEvent.CLOCK, this.ticksTaken, vector, 0);
    const requestDispatch = updateDpcRate(this.dpcRate, this.dpcQueue.length, this.dpcRoutineActive, this.config.dpc);
    this.i32[this.prcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH] = this.dpcRate.maximumDpcQueueDepth;
    if (requestDispatch) this.requestDispatch();
    this.endInterrupt(oldIrql);
    // a generator must yield at least once to be a frame; the tick itself is atomic
    return;
    yield 0;
  }

  /** KiIpiServiceRoutine (§7.1): APC, then DPC, then freeze, then packets. */
  private *ipiInterrupt(oldIrql: number): KernelGenerator {
    const bits = this.ipiRequests;
    this.ipiRequests = 0;
    if (bits & IpiRequest.APC) this.softPending |= 1 << APC_LEVEL;
    if (bits & IpiRequest.DPC) this.requestDispatch();
    while (this.packetSources.length > 0) {
      const source = this.packetSources.shift()!;
      if (source & PACKET_GENERIC) yield* this.genericCallTarget(source & 0xffff);
      else yield* this.packetTarget(source);
    }
    this.endInterrupt(oldIrql);
  }

  private requestDispatch(): void {
    if (!this.dpcInterruptRequested) {
      this.dpcInterruptRequested = true;
      this.i32[this.prcb + PrcbField.DPC_INTERRUPT_REQUESTED] = 1;
    }
    this.softPending |= 1 << DISPATCH_LEVEL;
    this.workPending = true;
  }

  /** KiDispatchInterrupt (§2.5): retire the DPC list; quantum end and NextThread come with the dispatcher. */
  private *dispatchInterrupt(oldIrql: number): KernelGenerator {
    if (this.dpcQueue.length > 0) yield* this.retireDpcList();
    else this.clearDpcRequest();
    this.setIrql(oldIrql);
  }

  private clearDpcRequest(): void {
    this.dpcInterruptRequested = false;
    this.i32[this.prcb + PrcbField.DPC_INTERRUPT_REQUESTED] = 0;
  }

  /** KiRetireDpcList (§2.5), in its exact order. */
  private *retireDpcList(): KernelGenerator {
    do {
      this.dpcRoutineActive = true;
      this.i32[this.prcb + PrcbField.DPC_ROUTINE_ACTIVE] = 1;
      while (this.dpcQueue.length > 0) {
        const entry = this.dpcQueue.shift()!;
        this.publishDepth();
        const record = this.layout.dpc(entry.dpc);
        // DpcData is cleared before the routine runs, so the DPC may be queued again meanwhile
        if (Atomics.compareExchange(this.i32, record + DpcField.DPC_DATA, entry.tag, 0) !== entry.tag) continue;
        const routine = this.i32[record + DpcField.ROUTINE]!;
        const context = this.i32[record + DpcField.CONTEXT]!;
        const sa1 = this.i32[record + DpcField.SYSTEM_ARGUMENT1]!;
        const sa2 = this.i32[record + DpcField.SYSTEM_ARGUMENT2]!;
        const now = this.now();
        if (entry.fromIsr) this.sample(this.isrToDpc, 1, now - entry.insertedNs);
        this.f64[this.counters + CounterField.DPCS] += 1;
        this.record(TraceEvent.DPC_START, entry.dpc, routine, 0);
        this.pushCall('dpc', routine, entry.dpc, context, sa1, sa2);
        yield SIGNAL_CALL;
        this.record(TraceEvent.DPC_END, entry.dpc, 0, 0);
        if (this.irql !== DISPATCH_LEVEL) {
          throw new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, (this.irql << 16) | (DISPATCH_LEVEL << 8), routine, entry.dpc, 0).withDetail(
            `DPC ${this.config.dpcNames[entry.dpc] ?? entry.dpc} (routine ${this.routineName(routine)}) returned at ${irqlName(this.config.arch, this.irql)} instead of DISPATCH_LEVEL`,
          );
        }
      }
      this.dpcRoutineActive = false;
      this.i32[this.prcb + PrcbField.DPC_ROUTINE_ACTIVE] = 0;
      this.clearDpcRequest();
    } while (this.dpcQueue.length > 0);
  }

  /** KiIdleLoop (§2.7): drain DPCs at DISPATCH_LEVEL, otherwise halt until a message arrives. */
  private *idleLoop(): KernelGenerator {
    for (;;) {
      if (this.dpcQueue.length > 0) {
        this.softPending &= ~(1 << DISPATCH_LEVEL);
        this.setIrql(DISPATCH_LEVEL);
        yield* this.retireDpcList();
        this.setIrql(PASSIVE_LEVEL);
        continue;
      }
      yield SIGNAL_HALT;
    }
  }

  // ======================================================================================
  // Inbox
  // ======================================================================================

  private readonly visitor = (kind: number, w: Int32Array, offset: number, length: number): void => {
    this.handle(decodeMessage(kind, w, offset, length));
  };

  drainInbox(): void {
    this.doorbellSeen = Atomics.load(this.port.doorbell.i32, this.port.doorbell.index);
    this.port.poll(this.visitor);
  }

  /** the doorbell count before the last drain: a different value means new messages */
  private doorbellSeen = -1;
  /**
   * Something may have become deliverable (an interrupt posted, a software interrupt requested, the
   * IRQL lowered) or a control flag set: check before the next instruction. Cleared when a check
   * finds nothing, so a busy CPU pays one boolean test per instruction.
   */
  private workPending = true;

  /** Slice grant hook for the deterministic driver (set by the worker loop). */
  onGrant: ((budgetCycles: number, startNs: number, untilNs: number) => void) | null = null;

  private handle(message: Message): void {
    this.workPending = true;
    switch (message.type) {
      case 'irq/assert':
        this.apic.post(message.vector, message.timeNs);
        return;
      case 'clock/tick':
        // CPU 0 owns the clock (KeUpdateSystemTime); the others take the clock IPI (KeUpdateRunTime)
        this.apic.postOnce(this.cpu === 0 ? this.table.clockVector : this.table.clockIpiVector, message.timeNs);
        return;
      case 'ipi':
        this.f64[this.counters + CounterField.IPIS_RECEIVED] += 1;
        this.record(TraceEvent.IPI_RECEIVE, message.from, message.bits, 0);
        this.ipiRequests |= message.bits & ~(IpiRequest.PACKET_READY | PACKET_GENERIC);
        if (message.bits & IpiRequest.PACKET_READY) this.packetSources.push(message.from);
        if (message.bits & PACKET_GENERIC) this.packetSources.push(message.from | PACKET_GENERIC);
        if (message.bits & IpiRequest.FREEZE) {
          this.freeze();
          return;
        }
        this.apic.postOnce(this.table.ipiVector, message.timeNs);
        return;
      case 'dpc/link': {
        const record = this.layout.dpc(message.dpc);
        // a KeRemoveQueueDpc may have won since the sender claimed it
        if (Atomics.load(this.i32, record + DpcField.DPC_DATA) !== message.tag) return;
        this.linkDpc(message.dpc, message.tag, message.timeNs, message.fromIsr);
        return;
      }
      case 'slice/grant':
        this.onGrant?.(message.budgetCycles, message.startNs, message.untilNs);
        return;
      case 'run/stop':
        this.stopRequested = true;
        return;
      case 'freeze':
        this.freeze();
        return;
      case 'raise-bugcheck': {
        // the words crossed the ring as Int32; the coordinator's parameters are unsigned (P3: a PRCB address)
        const [p1, p2, p3, p4] = message.params;
        this.raiseBugcheck(message.code, p1 >>> 0, p2 >>> 0, p3 >>> 0, p4 >>> 0);
        return;
      }
      case 'slice/done':
      case 'ready':
      case 'bugcheck':
      case 'report':
      case 'run/done':
        throw new Error(`CPU ${this.cpu} cannot handle '${message.type}'`);
      default:
        assertNever(message);
    }
  }

  /** A bugcheck that the coordinator asks this CPU to raise (the clock watchdog). */
  raiseBugcheck(code: number, p1: number, p2: number, p3: number, p4: number): void {
    this.pendingBugcheck = new BugCheck(code, p1, p2, p3, p4);
    this.workPending = true;
  }

  // ======================================================================================
  // DPCs (§2.3, §2.4)
  // ======================================================================================

  private linkDpc(dpc: number, tag: number, insertedNs: number, fromIsr: boolean): void {
    const importance = this.i32[this.layout.dpc(dpc) + DpcField.IMPORTANCE]!;
    const entry: DpcEntry = { dpc, tag, insertedNs, fromIsr };
    if (importance === DpcImportanceValue.High) this.dpcQueue.unshift(entry);
    else this.dpcQueue.push(entry);
    this.dpcRate.dpcCount++;
    this.publishDepth();
  }

  private publishDepth(): void {
    const depth = this.dpcQueue.length;
    this.i32[this.prcb + PrcbField.DPC_QUEUE_DEPTH] = depth;
    if (depth > this.f64[this.counters + CounterField.MAX_DPC_QUEUE_DEPTH]!) this.f64[this.counters + CounterField.MAX_DPC_QUEUE_DEPTH] = depth;
  }

  private insertQueueDpc(dpc: number, sa1: number, sa2: number): number {
    const record = this.layout.dpc(dpc);
    const targetField = this.i32[record + DpcField.TARGET]!;
    const target = targetField >= 0 ? targetField : this.cpu;
    const generation = (Atomics.add(this.i32, record + DpcField.GENERATION, 1) + 1) & 0xffffff;
    const tag = dpcTag(target, generation);
    if (Atomics.compareExchange(this.i32, record + DpcField.DPC_DATA, 0, tag) !== 0) {
      this.record(TraceEvent.DPC_INSERT, dpc, target, 0);
      return 0;
    }
    this.i32[record + DpcField.SYSTEM_ARGUMENT1] = sa1;
    this.i32[record + DpcField.SYSTEM_ARGUMENT2] = sa2;
    const importance = this.i32[record + DpcField.IMPORTANCE]!;
    const now = this.now();
    const fromIsr = this.inIsr();
    this.record(TraceEvent.DPC_INSERT, dpc, target, 1);
    if (target === this.cpu) {
      this.linkDpc(dpc, tag, now, fromIsr);
      const request = shouldRequestLocalDpc(importance, this.dpcQueue.length, this.dpcRate, this.dpcRoutineActive, this.dpcInterruptRequested);
      if (request) this.requestDispatch();
      return 1;
    }
    const targetPrcb = this.layout.prcb(target);
    this.port.send(actorOfCpu(target), Kind.DPC_LINK, 5, dpc, tag, timeLo(now), timeHi(now), fromIsr ? 1 : 0);
    const request = shouldRequestRemoteDpc(
      importance,
      this.i32[targetPrcb + PrcbField.DPC_QUEUE_DEPTH]! + 1,
      this.i32[targetPrcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH]!,
      this.i32[targetPrcb + PrcbField.DPC_ROUTINE_ACTIVE] === 1,
      this.i32[targetPrcb + PrcbField.DPC_INTERRUPT_REQUESTED] === 1,
    );
    if (request) this.sendIpi(target, IpiRequest.DPC);
    return 1;
  }

  private removeQueueDpc(dpc: number): number {
    const record = this.layout.dpc(dpc);
    for (;;) {
      const tag = Atomics.load(this.i32, record + DpcField.DPC_DATA);
      if (tag === 0) return 0;
      if (Atomics.compareExchange(this.i32, record + DpcField.DPC_DATA, tag, 0) !== tag) continue;
      if (dpcTagCpu(tag) === this.cpu) {
        const index = this.dpcQueue.findIndex((entry) => entry.tag === tag && entry.dpc === dpc);
        if (index >= 0) this.dpcQueue.splice(index, 1);
        this.publishDepth();
      }
      // a remote queue finds a stale entry when it pops it and skips it
      return 1;
    }
  }

  private inIsr(): boolean {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.role === 'isr') return true;
      if (f.role === 'dpc' || f.role === 'thread' || f.role === 'dispatch') return false;
    }
    return false;
  }

  // ======================================================================================
  // IPIs (§7)
  // ======================================================================================

  private sendIpi(target: number, bits: number): void {
    const now = this.now();
    this.f64[this.counters + CounterField.IPIS_SENT] += 1;
    this.record(TraceEvent.IPI_SEND, target, bits, 0);
    this.port.send(actorOfCpu(target), Kind.IPI, 4, this.cpu, bits, timeLo(now), timeHi(now));
  }

  /** KiIpiSendPacket: run `routine(argument)` at IPI_LEVEL on each target; return when all have finished. */
  private *sendPacket(targets: number[], routine: number, argument: number, callerBase: number): KernelGenerator {
    const oldIrql = this.irql;
    if (this.irql < DISPATCH_LEVEL) this.setIrql(DISPATCH_LEVEL);
    const remote = targets.filter((t) => t !== this.cpu);
    this.i32[this.prcb + PrcbField.PACKET_ROUTINE] = routine;
    this.i32[this.prcb + PrcbField.PACKET_ARGUMENT] = argument;
    Atomics.store(this.i32, this.prcb + PrcbField.PACKET_REMAINING, remote.length);
    let lo = 0;
    let hi = 0;
    for (const t of remote) {
      if (t < 32) lo |= 1 << t;
      else hi |= 1 << (t - 32);
    }
    Atomics.store(this.i32, this.prcb + PrcbField.PACKET_PENDING_LO, lo);
    Atomics.store(this.i32, this.prcb + PrcbField.PACKET_PENDING_HI, hi);
    for (const t of remote) this.sendIpi(t, IpiRequest.PACKET_READY);
    let result = 1;
    if (targets.includes(this.cpu)) {
      const before = this.irql;
      this.setIrql(this.table.ipi);
      this.pushCall('ipi', routine, argument);
      result = yield SIGNAL_CALL;
      this.setIrql(before);
    }
    const startTick = this.ticksTaken;
    while (Atomics.load(this.i32, this.prcb + PrcbField.PACKET_REMAINING) > 0) {
      if (this.ticksTaken - startTick > this.config.ipiAckTimeoutTicks) {
        const pending = this.firstPendingTarget();
        throw new BugCheck(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, this.config.ipiAckTimeoutTicks, 0, prcbAddress(pending), pending).withDetail(
          `CPU ${this.cpu} waited ${this.config.ipiAckTimeoutTicks} clock ticks for CPU ${pending} to acknowledge an IPI packet`,
        );
      }
      yield SIGNAL_SPIN;
    }
    this.setIrql(oldIrql);
    this.contexts[callerBase + ContextField.R0] = result;
  }

  private firstPendingTarget(): number {
    const lo = Atomics.load(this.i32, this.prcb + PrcbField.PACKET_PENDING_LO);
    const hi = Atomics.load(this.i32, this.prcb + PrcbField.PACKET_PENDING_HI);
    if (lo !== 0) return 31 - Math.clz32(lo & -lo);
    if (hi !== 0) return 32 + 31 - Math.clz32(hi & -hi);
    return -1;
  }

  private *packetTarget(source: number): KernelGenerator {
    const sourcePrcb = this.layout.prcb(source);
    const routine = this.i32[sourcePrcb + PrcbField.PACKET_ROUTINE]!;
    const argument = this.i32[sourcePrcb + PrcbField.PACKET_ARGUMENT]!;
    this.record(TraceEvent.IPI_PACKET, source, routine, 0);
    this.pushCall('ipi', routine, argument);
    yield SIGNAL_CALL;
    if (this.cpu < 32) Atomics.and(this.i32, sourcePrcb + PrcbField.PACKET_PENDING_LO, ~(1 << this.cpu));
    else Atomics.and(this.i32, sourcePrcb + PrcbField.PACKET_PENDING_HI, ~(1 << (this.cpu - 32)));
    Atomics.sub(this.i32, sourcePrcb + PrcbField.PACKET_REMAINING, 1);
  }

  /** KeIpiGenericCall (§7.2): every CPU runs the routine at IPI_LEVEL at the same time. */
  private *genericCall(routine: number, argument: number, callerBase: number): KernelGenerator {
    const control = this.layout.control;
    const oldIrql = this.irql;
    if (this.irql < DISPATCH_LEVEL) this.setIrql(DISPATCH_LEVEL);
    while (Atomics.compareExchange(this.i32, control + ControlField.GENERIC_LOCK, 0, this.cpu + 1) !== 0) yield SIGNAL_SPIN;
    const cpus = this.config.cpus;
    this.genericGeneration = (Atomics.load(this.i32, control + ControlField.GENERIC_SOURCE) >>> 8) + 1;
    Atomics.store(this.i32, control + ControlField.GENERIC_ROUTINE, routine);
    Atomics.store(this.i32, control + ControlField.GENERIC_ARGUMENT, argument);
    Atomics.store(this.i32, control + ControlField.GENERIC_REMAINING, cpus - 1);
    Atomics.store(this.i32, control + ControlField.GENERIC_SOURCE, (this.genericGeneration << 8) | this.cpu);
    Atomics.store(this.i32, control + ControlField.GENERIC_COUNT, cpus);
    for (let t = 0; t < cpus; t++) if (t !== this.cpu) this.sendIpi(t, PACKET_GENERIC);
    const startTick = this.ticksTaken;
    while (Atomics.load(this.i32, control + ControlField.GENERIC_COUNT) > 1) {
      if (this.ticksTaken - startTick > this.config.ipiAckTimeoutTicks) {
        let hung = -1;
        for (let t = 0; t < cpus && hung < 0; t++) {
          if (t !== this.cpu && Atomics.load(this.i32, this.layout.prcb(t) + PrcbField.GENERIC_ARRIVED) !== this.genericGeneration) hung = t;
        }
        throw new BugCheck(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, this.config.ipiAckTimeoutTicks, 0, prcbAddress(hung), hung).withDetail(
          `CPU ${this.cpu} waited ${this.config.ipiAckTimeoutTicks} clock ticks in KeIpiGenericCall for CPU ${hung} to arrive`,
        );
      }
      yield SIGNAL_SPIN;
    }
    this.setIrql(this.table.ipi);
    Atomics.store(this.i32, control + ControlField.GENERIC_COUNT, 0);
    this.record(TraceEvent.GENERIC_CALL, routine, argument, 0);
    this.pushCall('ipi', routine, argument);
    const result = yield SIGNAL_CALL;
    while (Atomics.load(this.i32, control + ControlField.GENERIC_REMAINING) > 0) yield SIGNAL_SPIN;
    this.setIrql(DISPATCH_LEVEL);
    Atomics.store(this.i32, control + ControlField.GENERIC_LOCK, 0);
    this.setIrql(oldIrql);
    this.contexts[callerBase + ContextField.R0] = result;
  }

  private *genericCallTarget(_source: number): KernelGenerator {
    const control = this.layout.control;
    const generation = Atomics.load(this.i32, control + ControlField.GENERIC_SOURCE) >>> 8;
    Atomics.store(this.i32, this.prcb + PrcbField.GENERIC_ARRIVED, generation);
    Atomics.sub(this.i32, control + ControlField.GENERIC_COUNT, 1);
    while (Atomics.load(this.i32, control + ControlField.GENERIC_COUNT) !== 0) yield SIGNAL_SPIN;
    const routine = Atomics.load(this.i32, control + ControlField.GENERIC_ROUTINE);
    const argument = Atomics.load(this.i32, control + ControlField.GENERIC_ARGUMENT);
    this.record(TraceEvent.GENERIC_CALL, routine, argument, 1);
    this.pushCall('ipi', routine, argument);
    yield SIGNAL_CALL;
    Atomics.sub(this.i32, control + ControlField.GENERIC_REMAINING, 1);
  }

  // ======================================================================================
  // Kernel calls (ExecHost)
  // ======================================================================================

  kernelCall(id: number, args: Int32Array, _argCount: number, ctx: Int32Array, base: number): number {
    this.interp.cycles += 20;
    switch (id) {
      case KC.KeGetCurrentIrql:
        ctx[base + ContextField.R0] = this.irql;
        return KCALL_DONE;
      case KC.KeRaiseIrql: {
        const newIrql = args[0]!;
        if (newIrql < this.irql) {
          throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, this.irql, newIrql, 0, this.currentPc()).withDetail(
            `KeRaiseIrql to ${irqlName(this.config.arch, newIrql)} while at ${irqlName(this.config.arch, this.irql)}`,
          );
        }
        this.checkIrqlInRange(newIrql);
        ctx[base + ContextField.R0] = this.irql;
        this.setIrql(newIrql);
        return KCALL_DONE;
      }
      case KC.KeRaiseIrqlToDpcLevel: {
        if (DISPATCH_LEVEL < this.irql) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, this.irql, DISPATCH_LEVEL, 0, this.currentPc());
        ctx[base + ContextField.R0] = this.irql;
        this.setIrql(DISPATCH_LEVEL);
        return KCALL_DONE;
      }
      case KC.KeLowerIrql: {
        const newIrql = args[0]!;
        if (newIrql > this.irql) {
          throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, newIrql, this.irql, 0, this.currentPc()).withDetail(
            `KeLowerIrql to ${irqlName(this.config.arch, newIrql)} while at ${irqlName(this.config.arch, this.irql)}`,
          );
        }
        this.checkIrqlInRange(newIrql);
        // a DPC routine may not drop below DISPATCH_LEVEL (the verifier's 0xC4/0x31, P4 = 1)
        this.setIrql(newIrql);
        return KCALL_DONE;
      }
      case KC.KeGetCurrentProcessorNumber:
        ctx[base + ContextField.R0] = this.cpu;
        return KCALL_DONE;
      case KC.KeInitializeDpc: {
        const record = this.dpcRecord(args[0]!);
        this.i32[record + DpcField.ROUTINE] = args[1]!;
        this.i32[record + DpcField.CONTEXT] = args[2]!;
        this.i32[record + DpcField.IMPORTANCE] = DpcImportanceValue.Medium;
        this.i32[record + DpcField.TARGET] = -1;
        return KCALL_DONE;
      }
      case KC.KeInsertQueueDpc:
        this.dpcRecord(args[0]!);
        ctx[base + ContextField.R0] = this.insertQueueDpc(args[0]!, args[1]!, args[2]!);
        return KCALL_DONE;
      case KC.KeRemoveQueueDpc:
        this.dpcRecord(args[0]!);
        ctx[base + ContextField.R0] = this.removeQueueDpc(args[0]!);
        return KCALL_DONE;
      case KC.KeSetImportanceDpc:
        this.i32[this.dpcRecord(args[0]!) + DpcField.IMPORTANCE] = args[1]! & 3;
        return KCALL_DONE;
      case KC.KeSetTargetProcessorDpc: {
        const target = args[1]!;
        if (target < 0 || target >= this.config.cpus) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc000000d, this.currentPc(), 0, 0);
        this.i32[this.dpcRecord(args[0]!) + DpcField.TARGET] = target;
        return KCALL_DONE;
      }
      case KC.KeIsExecutingDpc:
        ctx[base + ContextField.R0] = this.dpcRoutineActive ? 1 : 0;
        return KCALL_DONE;
      case KC.KeIpiGenericCall:
        this.pushKernel('KeIpiGenericCall', 'ipi-call', this.genericCall(args[0]!, args[1]!, base), false);
        return KCALL_DONE;
      case KC.KiIpiSendPacket: {
        const mask = args[0]!;
        const targets: number[] = [];
        for (let t = 0; t < Math.min(32, this.config.cpus); t++) if (mask & (1 << t)) targets.push(t);
        this.pushKernel('KiIpiSendPacket', 'ipi-call', this.sendPacket(targets, args[1]!, args[2]!, base), false);
        return KCALL_DONE;
      }
      case KC.KeBugCheckEx:
        throw new BugCheck(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!);
      case KC.KeStallExecutionProcessor:
        // burns up to the end of the budget and resumes from the context's WORK_LEFT, so
        // interrupts still land during the stall (RETRY keeps pc on the call)
        return this.interp.burn(ctx, base, Math.round(args[0]! * 1000 * this.cyclesPerNs)) ? KCALL_DONE : KCALL_RETRY;
      case KC.KeQueryInterruptTime:
        ctx[base + ContextField.R0] = Math.floor(this.now() / 100) | 0;
        return KCALL_DONE;
      case KC.KeQueryPerformanceCounter:
        ctx[base + ContextField.R0] = Math.floor(this.now()) | 0;
        return KCALL_DONE;
      case KC.KeQueryTickCount:
        ctx[base + ContextField.R0] = this.ticksTaken;
        return KCALL_DONE;
      case KC.HalRequestSoftwareInterrupt: {
        const level = args[0]!;
        if (level === DISPATCH_LEVEL) this.softPending |= 1 << DISPATCH_LEVEL;
        else if (level === APC_LEVEL) this.softPending |= 1 << APC_LEVEL;
        this.workPending = true;
        return KCALL_DONE;
      }
      case KC.KeSynchronizeExecution:
        this.pushKernel('KeSynchronizeExecution', 'sync', this.synchronizeExecution(args[0]!, args[1]!, args[2]!, base), false);
        return KCALL_DONE;
      default: {
        const spec = kernelCallById(id);
        throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000002, this.currentPc(), id, spec ? 1 : 0);
      }
    }
  }

  private *synchronizeExecution(interrupt: number, routine: number, context: number, callerBase: number): KernelGenerator {
    const intr = this.config.interrupts.find((candidate) => candidate.id === interrupt);
    if (!intr) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000008, this.currentPc(), interrupt, 0);
    const oldIrql = this.irql;
    if (intr.synchronizeIrql < this.irql) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, this.irql, intr.synchronizeIrql, 0, this.currentPc());
    this.setIrql(intr.synchronizeIrql);
    yield* this.acquireInterruptLock(intr);
    this.pushCall('routine', routine, context);
    const result = yield SIGNAL_CALL;
    this.releaseInterruptLock(intr);
    this.setIrql(oldIrql);
    this.contexts[callerBase + ContextField.R0] = result;
  }

  /**
   * Take a KINTERRUPT's ActualLock (§6.3): spin at SynchronizeIrql, still taking interrupts above it.
   * Finding it held by this very CPU can never end (the holder is below us on this CPU's stack):
   * SPIN_LOCK_ALREADY_OWNED, as a checked build reports.
   */
  private *acquireInterruptLock(intr: InterruptObjectConfig): KernelGenerator {
    const word = this.layout.interruptLock(intr.lock);
    for (;;) {
      const owner = Atomics.compareExchange(this.i32, word, 0, this.cpu + 1);
      if (owner === 0) return;
      if (owner === this.cpu + 1) {
        throw new BugCheck(BUGCHECK.SPIN_LOCK_ALREADY_OWNED, word * 4, this.cpu, intr.id, 0).withDetail(
          `the interrupt spin lock of ${intr.name} is already held by this CPU (CPU ${this.cpu}): a SynchronizeIrql below another sharer's DIRQL?`,
        );
      }
      yield SIGNAL_SPIN;
    }
  }

  private releaseInterruptLock(intr: InterruptObjectConfig): void {
    Atomics.store(this.i32, this.layout.interruptLock(intr.lock), 0);
  }

  nativeCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number {
    const native = this.natives?.[id];
    if (!native) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000002, this.currentPc(), id, 0);
    const view = {
      cpu: this.cpu,
      irql: this.irql,
      read: (address: number) => this.memory[address >> 2]!,
      write: (address: number, value: number) => {
        this.memory[address >> 2] = value;
      },
    };
    const result = native(Array.from(args.subarray(0, argCount)), view);
    if (typeof result === 'number') ctx[base + ContextField.R0] = result | 0;
    return KCALL_DONE;
  }
  natives: Array<((args: readonly number[], machine: { cpu: number; irql: number; read(a: number): number; write(a: number, v: number): void }) => number | void) | undefined> | null = null;

  memoryFault(address: number, access: number, pc: number): void {
    throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, pc, 0);
  }
  checkAccess(_address: number, _access: number, _pc: number): number {
    return 0;
  }
  arithmeticFault(pc: number): void {
    throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000094, pc, 0, 0);
  }
  stackOverflow(pc: number): void {
    throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, pc, 0, 0);
  }
  trace(tag: number, value: number, _pc: number): void {
    const now = this.now();
    this.record(TraceEvent.USER, tag, value, 0);
    if (this.userEvents.length < 100000) this.userEvents.push({ cpu: this.cpu, timeNs: now, tag, value });
  }
  routineEntry(routineId: number): number {
    return this.config.routines[routineId]?.entry ?? -1;
  }

  private routineName(index: number): string {
    return this.config.routines[index]?.name ?? `routine#${index}`;
  }

  private dpcRecord(dpc: number): number {
    if (dpc < 0 || dpc >= this.config.dpcCount) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000008, this.currentPc(), dpc, 0);
    return this.layout.dpc(dpc);
  }

  private checkIrqlInRange(irql: number): void {
    if (irql < 0 || irql > this.table.high) throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, irql, this.irql, 0, this.currentPc());
  }

  private currentPc(): number {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE) return this.contexts[f.base + ContextField.PC]!;
    }
    return 0;
  }

  // ======================================================================================
  // Observation: trace records, latency samples
  // ======================================================================================

  private record(event: number, a: number, b: number, c: number): void {
    const time = this.now();
    const hash = this.hash;
    if (this.config.mode === 'deterministic') {
      hash.word(timeLo(Math.round(time)));
      hash.word(timeHi(Math.round(time)));
    }
    hash.word(event);
    hash.word(a);
    hash.word(b);
    hash.word(c);
    this.traceCount++;
    const slot = this.lastEventNext++ % LAST_EVENTS;
    this.lastEventTimes[slot] = time;
    const words = this.lastEventWords;
    words[slot * 4] = event;
    words[slot * 4 + 1] = a;
    words[slot * 4 + 2] = b;
    words[slot * 4 + 3] = c;
    this.port.trace?.(time, event, a, b, c);
  }

  private sample(samples: number[], which: number, value: number): void {
    const seen = ++this.latencySeen[which]!;
    if (samples.length < LATENCY_SAMPLE_LIMIT) samples.push(value);
    else {
      // reservoir sampling keeps percentiles honest over long runs; seeded, so replays match
      const slot = Math.floor(this.sampler.next() * seen);
      if (slot < LATENCY_SAMPLE_LIMIT) samples[slot] = value;
    }
  }

  // ======================================================================================
  // Halt, slices, stop
  // ======================================================================================

  /** Deterministic mode: a slice starts at emulated time startNs. */
  beginSlice(startNs: number): void {
    const current = this.now();
    if (startNs > current) {
      if (this.haltedSinceNs >= 0) this.f64[this.counters + CounterField.IDLE_NS] += startNs - this.haltedSinceNs;
      this.lastIrqlChangeNs += startNs - current;
      this.sliceStartNs = startNs;
    } else {
      this.sliceStartNs = current;
    }
    this.haltedSinceNs = -1;
    this.sliceStartCycles = this.interp.cycles;
  }

  get cycles(): number {
    return this.interp.cycles;
  }

  /** The CPU has nothing to do: mark it idle until woken. */
  enterHalt(): void {
    const now = this.now();
    this.f64[this.counters + CounterField.TIME_AT_IRQL + this.irql] += now - this.lastIrqlChangeNs;
    this.lastIrqlChangeNs = now;
    this.haltedSinceNs = now;
    this.i32[this.prcb + PrcbField.IDLE] = 1;
    this.f64[this.counters + CounterField.TIME_NS] = now;
  }

  /** Parallel mode: woken from a halt. */
  leaveHalt(): void {
    const now = this.now();
    if (this.haltedSinceNs >= 0) this.f64[this.counters + CounterField.IDLE_NS] += now - this.haltedSinceNs;
    this.haltedSinceNs = -1;
    this.lastIrqlChangeNs = now;
    this.i32[this.prcb + PrcbField.IDLE] = 0;
  }

  get halted(): boolean {
    return this.haltedSinceNs >= 0;
  }

  get isStopRequested(): boolean {
    return this.stopRequested;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  // ======================================================================================
  // Bugcheck and freeze (§7.3, §11)
  // ======================================================================================

  private bugcheck(error: BugCheck): void {
    const control = this.layout.control;
    const won = Atomics.compareExchange(this.i32, control + ControlField.BUGCHECK_OWNER, -1, this.cpu) === -1;
    const now = this.now();
    this.record(TraceEvent.BUGCHECK, error.code, error.params[0], error.params[1]);
    if (!won) {
      // another CPU is already bringing the machine down: just freeze
      this.freeze();
      return;
    }
    Atomics.store(this.i32, control + ControlField.STATE, MachineState.BUGCHECKED);
    for (let t = 0; t < this.config.cpus; t++) if (t !== this.cpu) this.port.send(actorOfCpu(t), Kind.FREEZE, 1, this.cpu);
    this.port.send(COORDINATOR_ACTOR, Kind.BUGCHECK, 4, this.cpu, error.code, timeLo(now), timeHi(now));
    this.port.sendReport(MAIN_ACTOR, {
      kind: 'bugcheck',
      cpu: this.cpu,
      code: error.code,
      params: error.params,
      irql: this.irql,
      timeNs: now,
      frames: this.describeFrames(),
      faultingInstruction: this.describeInstruction(),
      detail: error.detail,
    } satisfies Report);
    this.freeze();
  }

  private freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    this.enterHalt();
    this.port.sendReport(MAIN_ACTOR, this.finalReport(true));
    this.port.flush();
  }

  /** The end-of-run report: counters live in shared memory; this carries what does not. */
  finalReport(frozen: boolean): CpuReport {
    return {
      kind: 'cpu',
      cpu: this.cpu,
      frozen,
      irql: this.irql,
      irqlName: irqlName(this.config.arch, this.irql),
      frames: this.describeFrames(),
      lastEvents: this.describeLastEvents(),
      traceHash: this.hash.hex(),
      traceEvents: this.traceCount,
      assertToIsr: this.assertToIsr,
      isrToDpc: this.isrToDpc,
      userEvents: this.userEvents,
      timeNs: this.now(),
    };
  }

  /** Stop at the end of the run (RUN_STOP). */
  stop(): void {
    this.enterHalt();
    this.port.sendReport(MAIN_ACTOR, this.finalReport(false));
    this.port.flush();
  }

  /** Frames from the bottom up, each with the IRQL it was running at (the top one: the current IRQL). */
  describeFrames(): BugcheckFrame[] {
    return this.frames.map((f, i) => {
      const above = this.frames[i + 1];
      const irql = above ? above.irql : this.irql;
      const routine = f.kind === FRAME_CODE ? (this.config.routines[f.routine]?.name ?? `routine#${f.routine}`) : f.name;
      return { kind: f.role, routine, irql };
    });
  }

  private describeInstruction(): string {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE) {
        const pc = this.contexts[f.base + ContextField.PC]!;
        try {
          return `${this.config.routines[f.routine]?.name ?? '?'}+0x${(pc - (this.config.routines[f.routine]?.entry ?? 0)).toString(16)}: ${disassemble(this.interp.code, pc).text}`;
        } catch {
          return `pc ${pc}`;
        }
      }
    }
    return '';
  }

  describeLastEvents(): CpuEvent[] {
    const out: CpuEvent[] = [];
    const count = Math.min(this.lastEventNext, LAST_EVENTS);
    for (let i = this.lastEventNext - count; i < this.lastEventNext; i++) {
      const slot = i % LAST_EVENTS;
      const w = this.lastEventWords;
      const event = w[slot * 4]!;
      out.push({
        timeNs: this.lastEventTimes[slot]!,
        cpu: this.cpu,
        event: traceEventName(event),
        detail: this.describeEvent(event, w[slot * 4 + 1]!, w[slot * 4 + 2]!, w[slot * 4 + 3]!),
      });
    }
    return out;
  }

  private describeEvent(event: number, a: number, b: number, c: number): string {
    const routine = (index: number): string => this.config.routines[index]?.name ?? `#${index}`;
    const dpcName = (index: number): string => this.config.dpcNames[index] ?? `#${index}`;
    switch (event) {
      case TraceEvent.ISR_ENTER:
        return `vector 0x${a.toString(16)}`;
      case TraceEvent.ISR_EXIT:
        return `vector 0x${a.toString(16)} ${b ? 'claimed' : 'unclaimed'}`;
      case TraceEvent.DPC_START:
        return `${dpcName(a)} → ${routine(b)}`;
      case TraceEvent.DPC_END:
        return dpcName(a);
      case TraceEvent.DPC_INSERT:
        return `${dpcName(a)} → CPU ${b}${c ? '' : ' (already queued: FALSE)'}`;
      case TraceEvent.IPI_SEND:
        return `to CPU ${a} bits 0x${b.toString(16)}`;
      case TraceEvent.IPI_RECEIVE:
        return `from CPU ${a} bits 0x${b.toString(16)}`;
      case TraceEvent.IRQL:
        return `${irqlName(this.config.arch, a)} → ${irqlName(this.config.arch, b)}`;
      case TraceEvent.CLOCK:
        return `tick ${a}`;
      case TraceEvent.USER:
        return `tag ${a} value ${b}`;
      case TraceEvent.BUGCHECK:
        return `${bugcheckName(a)} (0x${a.toString(16)})`;
      case TraceEvent.THREAD_EXIT:
        return `${routine(a)} returned ${b}`;
      case TraceEvent.GENERIC_CALL:
        return `${routine(a)}(${b})${c ? ' as target' : ''}`;
      case TraceEvent.IPI_PACKET:
        return `from CPU ${a}: ${routine(b)}`;
      default:
        return `${a} ${b} ${c}`;
    }
  }
}

/** A stand-in PRCB address for reports (the emulator has no kernel virtual addresses). */
export function prcbAddress(cpu: number): number {
  return cpu < 0 ? 0 : 0xf8000000 + cpu * 0x1000;
}

void TraceField;
