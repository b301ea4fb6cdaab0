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
import { ResumeAction } from '../kernel/thread.js';
import { BOOT_SYSTEM_TIME } from '../kernel/timer.js';
import { STATUS, WaitType, CLOCK_QUANTUM_DECREMENT, MAXIMUM_WAIT_OBJECTS, THREAD_WAIT_OBJECTS } from '../kernel/status.js';
import { spinLockWord, spinLockHolderCpu, spinLockHolderThread, QueuedLockField, LOCK_QUEUE_WAIT, LOCK_QUEUE_OWNER } from '../kernel/spinlock.js';
import type { IrqlTable } from '../kernel/irql.js';
import { DpcImportanceValue, dpcTag, dpcTagCpu, shouldRequestLocalDpc, shouldRequestRemoteDpc, updateDpcRate } from '../kernel/dpc.js';
import type { DpcRateState } from '../kernel/dpc.js';
import { LocalApic } from '../hal/lapic.js';
import {
  Interpreter,
  enterRoutine,
  KCALL_DONE,
  KCALL_RETRY,
  STEP_OK,
  STEP_RETURNED,
  STEP_RETRY,
  STEP_YIELD,
  CHECK_PROCEED,
  CHECK_RETRY,
  PAGE_SHIFT,
  PAGE_FLAG_PAGEABLE,
  PAGE_FLAG_NO_ACCESS,
  ACCESS_READ,
  ACCESS_WRITE,
  ACCESS_EXECUTE,
} from '../isa/interpreter.js';
import type { ExecHost } from '../isa/interpreter.js';
import { KC, kernelCallById } from '../isa/kcalls.js';
import { disassemble } from '../isa/disasm.js';
import {
  ContextField,
  ControlField,
  CounterField,
  DeviceCounterField,
  DpcField,
  MachineState,
  PrcbField,
  ThreadCounterField,
  ThreadField,
  TraceField,
} from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import {
  IpiRequest,
  Kind,
  MAIN_ACTOR,
  COORDINATOR_ACTOR,
  actorOfCpu,
  decodeMessage,
  joinTime,
  timeHi,
  timeLo,
  assertNever,
  DispatcherOp,
  RequestFlag,
  ReplyFlag,
  DISPATCH_REQUEST_WORDS,
} from '../ipc/messages.js';
import type { Message, Report, CpuReport } from '../ipc/messages.js';
import { InternalError, describeThrown } from '../util/errors.js';
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
/** a bottom frame (idle loop, thread exit) replaced itself with another thread's frame: it is never resumed in place */
const SIGNAL_SWITCHED = 4;

type KernelGenerator = Generator<number, void, number>;

interface CodeFrame {
  kind: typeof FRAME_CODE;
  /** the IRQL when the frame was pushed */
  irql: number;
  /** 'thread' | 'isr' | 'dpc' | 'ipi' | 'routine' */
  role: string;
  /** where the context lives: the shared thread table (a thread: it migrates) or this CPU's frame area */
  ctx: Int32Array;
  base: number;
  routine: number;
  onInterruptStack: boolean;
  /** which DPC or ISR run this is (the DPC watchdog counts ticks per run), 0 for other frames */
  serial: number;
}

/** The dispatcher's answer to this CPU's last request (DISPATCH_REPLY). */
type DispatchReply = Extract<Message, { type: 'dispatch/reply' }>;

/** deterministic mode: the cycles a dispatcher request costs the caller (the request itself takes no host-timed spinning) */
const DISPATCHER_CALL_CYCLES = 300;
/** host ms a CPU waits for the coordinator's answer before declaring the emulator broken */
const DISPATCHER_REPLY_TIMEOUT_MS = 30_000;
/** instructions a thread may run between a Wait = TRUE set/release and its wait */
const WAIT_NEXT_INSTRUCTION_LIMIT = 10_000;

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
  /** the pc of the KCALL that pushed it (the instruction a report shows), or −1 */
  callPc: number;
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

/** A native routine threw (see Processor.reportNativeError). */
class NativeRoutineError extends Error {
  readonly routine: string;
  readonly thrown: unknown;
  constructor(routine: string, thrown: unknown) {
    super(`native routine '${routine}' threw ${describeThrown(thrown)}`);
    this.routine = routine;
    this.thrown = thrown;
  }
}
/**
 * TRACE events each CPU keeps for run.userEvents (the final report carries them to the main
 * thread); later ones are counted in userEventsDropped, which the results and the summary show.
 */
export const USER_EVENTS_PER_CPU = 100_000;
const PACKET_GENERIC = 1 << 16;
const STATUS_UNSUCCESSFUL = 0xc0000001 | 0;
function accessName(access: number): string {
  return access === 1 ? 'write' : access === ACCESS_EXECUTE ? 'execute' : 'read';
}
/** stand-in kernel addresses of KTHREADs for bugcheck parameters (the emulator has no kernel address space) */
export function threadAddress(threadId: number): number {
  return threadId <= 0 ? 0 : 0xfb000000 + threadId * 0x400;
}
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
  private readonly dpcRate: DpcRateState;
  private ipiRequests = 0;
  private readonly packetSources: number[] = [];
  private ticksTaken = 0;
  /**
   * clock tick messages drained from the inbox: ticks that arrive while one is still pending in the
   * local APIC coalesce into it (one IRR bit), and the interrupt that is finally taken answers for
   * all of them, which is what the coordinator's clock watchdog is told (PRCB TICKS_TAKEN)
   */
  private ticksDelivered = 0;
  private readonly apic: LocalApic;
  private readonly irqlOfVector: Int32Array;
  private readonly interruptsByVector: InterruptObjectConfig[][];
  private readonly frames: Frame[] = [];
  private readonly contexts: Int32Array;
  private nesting = 0;
  private unclaimedInARow = 0;

  // ---- the thread this CPU runs (the dispatcher database, in the coordinator, is authoritative) ----
  /** object id of the running thread; this CPU's idle thread is cpu + 1 */
  private currentThread: number;
  private readonly idleThread: number;
  /** the running thread's remaining quantum units (charged CLOCK_QUANTUM_DECREMENT per tick) */
  private quantum = 0;
  /** PRCB QuantumEnd: KiQuantumEnd is due at the next DISPATCH interrupt */
  private quantumEnd = false;
  /** the dispatcher may have placed a NextThread here (a reschedule IPI, a reply): ask at the next DISPATCH interrupt */
  private reschedulePending = false;
  /** emulated ns the running thread was switched in */
  private threadSinceNs = 0;
  /** a set/release with Wait = TRUE returned holding the dispatcher lock: the next kernel call must be a wait */
  private waitNext = false;
  private waitNextInstructions = 0;
  private readonly idleGen: KernelGenerator;
  private dispatcherReply: DispatchReply | null = null;
  private readonly requestWords = new Int32Array(DISPATCH_REQUEST_WORDS + MAXIMUM_WAIT_OBJECTS);
  /** spin locks this CPU acquired, by address: who in its frame stack took them and at which IRQL (the deadlock report's holder) */
  private readonly heldLocks = new Map<number, { frame: number; irql: number; what: string; thread: number }>();

  // ---- time (§3) and the DPC watchdog (§2.9) ----
  /** PRCB TimerRequest: the clock found a timer due; the next KiRetireDpcList runs the expiration */
  private timerRequest = false;
  private routineSerial = 0;
  /** DpcTimeCount: ticks the same DPC/ISR run has been interrupted by; watchdogSerial: which run */
  private dpcTimeCount = 0;
  private watchdogSerial = 0;
  /** DpcWatchdogCount: consecutive ticks that found this CPU at ≥ DISPATCH_LEVEL */
  private dpcWatchdogCount = 0;
  /** a page fault pushed its MmAccessFault frame during the step that reported CHECK_RETRY */
  private faultFramePushed = false;

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
  /** TRACE events past USER_EVENTS_PER_CPU: still in the trace and the hash, not in run.userEvents */
  private userEventsDropped = 0;

  // ---- run control ----
  private stopRequested = false;
  /** the coordinator's end-of-run time, from RUN_STOP (−1 until then) */
  private runEndNs = -1;
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
    // accesses to pageable pages go through checkAccess (is the page resident?)
    for (const page of config.pageable) this.pageFlags[page] = PAGE_FLAG_PAGEABLE;
    // page 0 stays unmapped, as in NT, so that a NULL dereference faults instead of reading a value
    this.pageFlags[0] = PAGE_FLAG_NO_ACCESS;
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
    this.idleThread = this.cpu + 1;
    this.currentThread = this.idleThread;
    this.idleGen = this.idleLoop();
    this.frames.push(this.idleFrame());
  }

  private idleFrame(): KernelFrame {
    return { kind: FRAME_KERNEL, irql: PASSIVE_LEVEL, name: 'KiIdleLoop', role: 'idle', gen: this.idleGen, resume: 0, hardware: false, callPc: -1 };
  }

  /** The bottom frame of a (non-idle) thread: its context in the shared thread table. */
  private threadFrame(threadId: number): CodeFrame {
    const base = this.layout.thread(threadId - 1) + ThreadField.CONTEXT;
    return {
      kind: FRAME_CODE,
      irql: PASSIVE_LEVEL,
      role: 'thread',
      ctx: this.i32,
      base,
      routine: this.i32[base + ContextField.ROUTINE]!,
      onInterruptStack: false,
      serial: 0,
    };
  }

  // ======================================================================================
  // Time
  // ======================================================================================

  /** This CPU's emulated time in ns. */
  now(): number {
    if (this.config.mode === 'parallel') return this.hostClock();
    return this.sliceStartNs + (this.interp.cycles - this.sliceStartCycles) / this.cyclesPerNs;
  }

  /**
   * The time the counters (time at IRQL, idle, a thread's run time) are charged up to: now, but
   * never past the run's end. A CPU of an overloaded parallel run takes its RUN_STOP late, and the
   * host time it spent getting there is not time the emulated run had.
   */
  private countedNow(): number {
    return Math.min(this.now(), this.config.durationNs);
  }

  /** Float64 index of this CPU's counters for device `device` (DeviceCounterField), or −1 when it is not a device. */
  private deviceCounters(device: number): number {
    return device >= 0 && device < (this.layout.params.devices ?? 0) ? this.layout.deviceCounters(this.cpu, device) : -1;
  }

  private setIrql(newIrql: number): void {
    if (newIrql === this.irql) return;
    const now = this.countedNow();
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
        if (interp.cycles >= cycleLimit || this.sliceEndRequested) {
          // a thread holding the dispatcher lock after a Wait = TRUE set runs on until its wait
          if (!this.waitNext) {
            this.sliceEndRequested = false;
            return RunExit.BUDGET;
          }
          if (interp.instructions - this.waitNextInstructions > WAIT_NEXT_INSTRUCTION_LIMIT)
            this.checkNotWaitNext(`${WAIT_NEXT_INSTRUCTION_LIMIT} instructions without a wait`);
        }
        const frame = this.frames[this.frames.length - 1]!;
        if (frame.kind === FRAME_CODE) {
          const status = interp.step(frame.ctx, frame.base);
          if (status === STEP_OK) {
            this.spinStreak = 0;
            continue;
          }
          if (status === STEP_RETURNED) {
            this.returnFromCode(frame);
            continue;
          }
          if (status === STEP_RETRY) {
            // a page fault's frame runs next; a stall that used up the budget is not a spin; anything else retried is one
            if (this.faultFramePushed) {
              this.faultFramePushed = false;
              continue;
            }
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
        } else if (signal.value === SIGNAL_SWITCHED) {
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
      if (error instanceof NativeRoutineError) {
        this.reportNativeError(error);
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
    const result = frame.ctx[frame.base + ContextField.R0]!;
    if (frame.role === 'thread') {
      this.record(TraceEvent.THREAD_EXIT, frame.routine, result, 0);
      // a thread body plays a system service: returning from it returns to user mode, which must
      // happen at PASSIVE_LEVEL (§1.5)
      if (this.irql !== PASSIVE_LEVEL) {
        throw new BugCheck(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, frame.routine, this.irql, 0, 0).withDetail(
          `thread ${this.threadName(this.currentThread)} (body ${this.routineName(frame.routine)}) returned to user mode at ${irqlName(this.config.arch, this.irql)}`,
        );
      }
      // the body's return is PsTerminateSystemThread(r0); its frame stays until the switch replaces it
      this.pushKernel('PspExitThread', 'thread', this.exitThread(result), false);
      return;
    }
    this.frames.pop();
    const below = this.frames[this.frames.length - 1];
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
        if (f.onInterruptStack) stackTop = (f.ctx[f.base + ContextField.SP]! - 16) & ~15;
        break;
      }
    }
    const args = this.argScratch;
    args[0] = a1;
    args[1] = a2;
    args[2] = a3;
    args[3] = a4;
    enterRoutine(this.contexts, base, this.routineEntry(routine), routine, stackTop, this.config.interruptStack.limit, args, this.memory);
    const serial = role === 'dpc' || role === 'isr' ? ++this.routineSerial : 0;
    this.frames.push({ kind: FRAME_CODE, irql: this.irql, role, ctx: this.contexts, base, routine, onInterruptStack: true, serial });
  }
  private readonly argScratch = new Int32Array(4);

  /** `interruptedIrql`: the level the frame below was running at (what reports show for it). */
  private pushKernel(name: string, role: string, gen: KernelGenerator, hardware: boolean, interruptedIrql = this.irql): void {
    if (this.frames.length >= MAX_FRAMES) {
      throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, this.currentPc(), 0, 0);
    }
    this.frames.push({ kind: FRAME_KERNEL, irql: interruptedIrql, name, role, gen, resume: 0, hardware, callPc: hardware ? -1 : this.kcallPc });
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
      this.takeHardwareInterrupt(vector, hw, assertedNs, this.apic.acceptedSource);
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
  private takeHardwareInterrupt(vector: number, level: number, assertedNs: number, device: number): void {
    this.f64[this.counters + CounterField.BY_VECTOR + vector] += 1;
    const oldIrql = this.irql;
    this.setIrql(level);
    if (vector === this.table.clockVector || vector === this.table.clockIpiVector) {
      this.pushKernel('KeUpdateRunTime', 'clock', this.clockInterrupt(vector, oldIrql), true, oldIrql);
    } else if (vector === this.table.ipiVector) {
      this.pushKernel('KiIpiServiceRoutine', 'ipi', this.ipiInterrupt(oldIrql), true, oldIrql);
    } else {
      this.f64[this.counters + CounterField.INTERRUPTS] += 1;
      const counters = this.deviceCounters(device);
      if (counters >= 0) {
        this.f64[counters + DeviceCounterField.TAKEN] += 1;
        this.f64[counters + DeviceCounterField.PENDING] -= 1;
      }
      this.pushKernel(`KiInterruptDispatch(0x${vector.toString(16)})`, 'isr', this.deviceInterrupt(vector, level, assertedNs, oldIrql, device), true, oldIrql);
    }
  }

  /** HalEndSystemInterrupt: EOI, then lower to the interrupted level (deliveries follow at the next boundary). */
  private endInterrupt(oldIrql: number): void {
    this.apic.eoi();
    this.setIrql(oldIrql);
  }

  /** KiInterruptDispatch / KiChainedDispatch (§9.3). */
  private *deviceInterrupt(vector: number, level: number, assertedNs: number, oldIrql: number, device: number): KernelGenerator {
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
        this.apic.post(vector, this.now(), device);
        const counters = this.deviceCounters(device);
        if (counters >= 0) {
          this.f64[counters + DeviceCounterField.REASSERTED] += 1;
          this.f64[counters + DeviceCounterField.PENDING] += 1;
        }
      }
    } else {
      this.unclaimedInARow = 0;
    }
    this.endInterrupt(oldIrql);
  }

  /** KeUpdateSystemTime / KeUpdateRunTime (§3.5, §2.6): the per-tick work this machine does. */
  private *clockInterrupt(vector: number, oldIrql: number): KernelGenerator {
    this.ticksTaken++;
    Atomics.store(this.i32, this.prcb + PrcbField.TICKS_TAKEN, this.ticksDelivered);
    this.f64[this.counters + CounterField.CLOCK_TICKS] = this.ticksTaken;
    this.record(TraceEvent.CLOCK, this.ticksTaken, vector, 0);
    this.dpcWatchdog(oldIrql);
    const requestDispatch = updateDpcRate(this.dpcRate, this.dpcQueueDepth(), this.dpcRoutineActive, this.config.dpc);
    this.i32[this.prcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH] = this.dpcRate.maximumDpcQueueDepth;
    if (requestDispatch) this.requestDpcInterrupt();
    // the quantum: 3 units a tick; at ≤ 0 KiQuantumEnd runs in the next DISPATCH interrupt (§4.4)
    if (this.currentThread !== this.idleThread && !this.waitNext) {
      this.quantum -= CLOCK_QUANTUM_DECREMENT;
      if (this.quantum <= 0 && !this.quantumEnd) {
        this.quantumEnd = true;
        this.requestSoftwareInterrupt(DISPATCH_LEVEL);
      }
    }
    this.endInterrupt(oldIrql);
    // a generator must yield at least once to be a frame; the tick itself is atomic
    return;
    // biome-ignore lint/correctness/noUnreachable: makes this a generator function (a kernel frame) that finishes at once
    yield 0;
  }

  /**
   * The DPC watchdog (§2.9), on each tick: ticks the same DPC or ISR keeps running past DpcTimeLimit
   * is 0x133 with P1 = 0; consecutive ticks at ≥ DISPATCH_LEVEL past the watchdog period, P1 = 1.
   */
  private dpcWatchdog(interruptedIrql: number): void {
    if (interruptedIrql < DISPATCH_LEVEL) {
      this.dpcWatchdogCount = 0;
      this.dpcTimeCount = 0;
      this.watchdogSerial = 0;
      return;
    }
    this.dpcWatchdogCount++;
    let running: CodeFrame | null = null;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE && f.serial !== 0) {
        running = f;
        break;
      }
    }
    if (running) {
      if (running.serial === this.watchdogSerial) this.dpcTimeCount++;
      else {
        this.watchdogSerial = running.serial;
        this.dpcTimeCount = 1;
      }
      if (this.dpcTimeCount > this.config.dpcTimeLimitTicks) {
        throw new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, 0, this.dpcTimeCount, this.config.dpcTimeLimitTicks, 0).withDetail(
          `${running.role === 'dpc' ? 'DPC routine' : 'ISR'} ${this.routineName(running.routine)} on CPU ${this.cpu} has run for ${this.dpcTimeCount} clock ticks; its allotment (DpcTimeLimit) is ${this.config.dpcTimeLimitTicks}`,
        );
      }
    } else {
      this.dpcTimeCount = 0;
      this.watchdogSerial = 0;
    }
    if (this.dpcWatchdogCount > this.config.dpcWatchdogPeriodTicks) {
      throw new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, 1, this.config.dpcWatchdogPeriodTicks, 0, 0).withDetail(
        `CPU ${this.cpu} has stayed at DISPATCH_LEVEL or above for ${this.dpcWatchdogCount} consecutive clock ticks (${this.describeRunning()}); the watchdog period is ${this.config.dpcWatchdogPeriodTicks}`,
      );
    }
  }

  /** KiIpiServiceRoutine (§7.1): APC, then DPC, then freeze, then packets. */
  private *ipiInterrupt(oldIrql: number): KernelGenerator {
    const bits = this.ipiRequests;
    this.ipiRequests = 0;
    if (bits & IpiRequest.APC) this.softPending |= 1 << APC_LEVEL;
    if (bits & IpiRequest.DPC) this.requestDpcInterrupt();
    if (bits & IpiRequest.RESCHEDULE) {
      this.reschedulePending = true;
      this.requestSoftwareInterrupt(DISPATCH_LEVEL);
    }
    while (this.packetSources.length > 0) {
      const source = this.packetSources.shift()!;
      if (source & PACKET_GENERIC) yield* this.genericCallTarget(source & 0xffff);
      else yield* this.packetTarget(source);
    }
    this.endInterrupt(oldIrql);
  }

  /** DpcInterruptRequested plus a DISPATCH software interrupt: the DPC queue is to be retired. */
  private requestDpcInterrupt(): void {
    Atomics.store(this.i32, this.prcb + PrcbField.DPC_INTERRUPT_REQUESTED, 1);
    this.requestSoftwareInterrupt(DISPATCH_LEVEL);
  }

  /**
   * DpcQueueDepth (§2.3): the DPCs claimed for this CPU's queue and not yet dequeued. An inserter
   * on any CPU adds to it when it claims a DPC for this CPU (as NT's does under this CPU's DPC
   * lock); whoever clears the DPC's DpcData (KiRetireDpcList here, KeRemoveQueueDpc anywhere)
   * takes it off. A remote DPC whose link message is still on its way counts already.
   */
  private dpcQueueDepth(): number {
    return Atomics.load(this.i32, this.prcb + PrcbField.DPC_QUEUE_DEPTH);
  }

  /** HalRequestSoftwareInterrupt: delivered when the IRQL drops below `level`. */
  private requestSoftwareInterrupt(level: number): void {
    this.softPending |= 1 << level;
    this.workPending = true;
  }

  /**
   * KiDispatchInterrupt (§2.5): retire the DPC list, then KiQuantumEnd if the quantum ran out, or a
   * switch to NextThread if the dispatcher placed one here. After a switch the CPU drops to the new
   * thread's IRQL, not the interrupted one.
   */
  private *dispatchInterrupt(oldIrql: number): KernelGenerator {
    if (this.dpcQueueDepth() > 0 || this.timerRequest) yield* this.retireDpcList();
    else this.clearDpcRequest();
    let resumeIrql = oldIrql;
    if (this.quantumEnd || this.reschedulePending) {
      const quantumEnd = this.quantumEnd;
      this.quantumEnd = false;
      this.reschedulePending = false;
      const reply = yield* this.dispatcherCall(DispatcherOp.KiDispatchInterrupt, oldIrql, quantumEnd ? 1 : 0);
      if (reply.flags & ReplyFlag.SWITCH) resumeIrql = reply.nextWaitIrql;
    }
    this.setIrql(resumeIrql);
  }

  private clearDpcRequest(): void {
    Atomics.store(this.i32, this.prcb + PrcbField.DPC_INTERRUPT_REQUESTED, 0);
  }

  /** KiRetireDpcList (§2.5), in its exact order. */
  private *retireDpcList(): KernelGenerator {
    do {
      this.dpcRoutineActive = true;
      Atomics.store(this.i32, this.prcb + PrcbField.DPC_ROUTINE_ACTIVE, 1);
      if (this.timerRequest) {
        this.timerRequest = false;
        yield* this.timerExpiration();
      }
      while (this.dpcQueueDepth() > 0) {
        // parallel mode: a remote inserter has counted a DPC whose link message is still on its way
        if (this.dpcQueue.length === 0) {
          yield SIGNAL_SPIN;
          continue;
        }
        const entry = this.dpcQueue.shift()!;
        const record = this.layout.dpc(entry.dpc);
        // DpcData is cleared before the routine runs, so the DPC may be queued again meanwhile; a
        // KeRemoveQueueDpc that won left a stale entry (and took it off the depth itself)
        if (Atomics.compareExchange(this.i32, record + DpcField.DPC_DATA, entry.tag, 0) !== entry.tag) continue;
        Atomics.sub(this.i32, this.prcb + PrcbField.DPC_QUEUE_DEPTH, 1);
        const routine = this.i32[record + DpcField.ROUTINE]!;
        const context = this.i32[record + DpcField.CONTEXT]!;
        const sa1 = this.i32[record + DpcField.SYSTEM_ARGUMENT1]!;
        const sa2 = this.i32[record + DpcField.SYSTEM_ARGUMENT2]!;
        const now = this.now();
        if (entry.fromIsr) this.sample(this.isrToDpc, 1, now - entry.insertedNs);
        this.f64[this.counters + CounterField.DPCS] += 1;
        this.record(TraceEvent.DPC_START, entry.dpc, routine, 0);
        this.pushCall('dpc', routine, entry.dpc + 1, context, sa1, sa2);
        yield SIGNAL_CALL;
        this.record(TraceEvent.DPC_END, entry.dpc, 0, 0);
        this.checkDpcReturnIrql(entry.dpc, routine);
      }
      this.dpcRoutineActive = false;
      Atomics.store(this.i32, this.prcb + PrcbField.DPC_ROUTINE_ACTIVE, 0);
      this.clearDpcRequest();
      // an inserter that saw DpcRoutineActive still set made no request: its DPC is in the depth
    } while (this.dpcQueueDepth() > 0);
  }

  /** A DPC routine must return at DISPATCH_LEVEL (emulator policy: 0xC8 otherwise). */
  private checkDpcReturnIrql(dpc: number, routine: number): void {
    if (this.irql === DISPATCH_LEVEL) return;
    throw new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, (this.irql << 16) | (DISPATCH_LEVEL << 8), routine, dpc, 0).withDetail(
      `DPC ${this.config.dpcNames[dpc] ?? dpc} (routine ${this.routineName(routine)}) returned at ${irqlName(this.config.arch, this.irql)} instead of DISPATCH_LEVEL`,
    );
  }

  /**
   * KiIdleLoop (§2.7): drain DPCs at DISPATCH_LEVEL; switch to NextThread when the dispatcher placed
   * one here; otherwise halt until a message arrives. Switching away replaces this frame with the
   * thread's; the loop resumes here when the CPU next switches to its idle thread.
   */
  private *idleLoop(): KernelGenerator {
    for (;;) {
      if (this.dpcQueueDepth() > 0 || this.timerRequest) {
        this.softPending &= ~(1 << DISPATCH_LEVEL);
        this.setIrql(DISPATCH_LEVEL);
        yield* this.retireDpcList();
        this.setIrql(PASSIVE_LEVEL);
        continue;
      }
      if (this.reschedulePending) {
        this.reschedulePending = false;
        this.softPending &= ~(1 << DISPATCH_LEVEL);
        this.setIrql(DISPATCH_LEVEL);
        const reply = yield* this.dispatcherCall(DispatcherOp.KiDispatchInterrupt, PASSIVE_LEVEL, 0);
        if (reply.flags & ReplyFlag.SWITCH) {
          this.setIrql(reply.nextWaitIrql);
          yield SIGNAL_SWITCHED;
          continue;
        }
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

  /**
   * Deterministic mode, between slices: the messages that arrive while this CPU waits for its
   * slice, by sending actor, each source's in the order sent. They take effect at the slice's start
   * (takeCollectedMessages), never at a moment the host's timing picks: handling a DPC link
   * publishes this CPU's DPC state, which the running CPU reads to decide on an IPI.
   */
  private readonly collected: Message[][] = [];
  private readonly collectingVisitor = (kind: number, w: Int32Array, offset: number, length: number, from: number): void => {
    const message = decodeMessage(kind, w, offset, length);
    // what ends the wait (a grant, the end of the run, a freeze) acts now: none of it changes state
    // another CPU reads
    if (
      message.type === 'slice/grant' ||
      message.type === 'run/stop' ||
      message.type === 'freeze' ||
      (message.type === 'ipi' && (message.bits & IpiRequest.FREEZE) !== 0)
    ) {
      this.handle(message);
      return;
    }
    (this.collected[from] ??= []).push(message);
  };

  /** Deterministic mode, waiting for a slice: take in what arrived, to act on at the slice's start. */
  collectInbox(): void {
    this.doorbellSeen = Atomics.load(this.port.doorbell.i32, this.port.doorbell.index);
    this.port.poll(this.collectingVisitor);
  }

  /**
   * Deterministic mode, at a slice's start: act on every message sent before the grant (all of them
   * are in the rings by now: each slice ends with a flush before SLICE_DONE), sources in ascending
   * actor order (the coordinator first, then CPU 0, 1, …), each source's in the order sent.
   */
  takeCollectedMessages(): void {
    this.collectInbox();
    for (let from = 0; from < this.collected.length; from++) {
      const queue = this.collected[from];
      if (queue === undefined || queue.length === 0) continue;
      for (let i = 0; i < queue.length; i++) this.handle(queue[i]!);
      queue.length = 0;
    }
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
      case 'irq/assert': {
        this.apic.post(message.vector, message.timeNs, message.device);
        const counters = this.deviceCounters(message.device);
        if (counters >= 0) {
          this.f64[counters + DeviceCounterField.RECEIVED] += 1;
          this.f64[counters + DeviceCounterField.PENDING] += 1;
        }
        return;
      }
      case 'clock/tick':
        this.ticksDelivered++;
        // CPU 0 owns the clock (KeUpdateSystemTime); the others take the clock IPI (KeUpdateRunTime)
        this.apic.postOnce(this.cpu === 0 ? this.table.clockVector : this.table.clockIpiVector, message.timeNs);
        if (message.timerRequest) {
          // KeUpdateSystemTime found a timer due: TimerRequest, and a DISPATCH interrupt to expire it
          this.timerRequest = true;
          this.requestSoftwareInterrupt(DISPATCH_LEVEL);
        }
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
        this.runEndNs = message.timeNs;
        return;
      case 'freeze':
        this.freeze();
        return;
      case 'dispatch/reply':
        this.dispatcherReply = message;
        return;
      case 'reschedule':
        this.reschedulePending = true;
        this.requestSoftwareInterrupt(DISPATCH_LEVEL);
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
      case 'dispatch/request':
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

  /** Put a DPC claimed for this CPU on its queue (its depth was counted by the inserter). */
  private linkDpc(dpc: number, tag: number, insertedNs: number, fromIsr: boolean): void {
    const importance = this.i32[this.layout.dpc(dpc) + DpcField.IMPORTANCE]!;
    const entry: DpcEntry = { dpc, tag, insertedNs, fromIsr };
    if (importance === DpcImportanceValue.High) this.dpcQueue.unshift(entry);
    else this.dpcQueue.push(entry);
    this.dpcRate.dpcCount++;
    const depth = this.dpcQueueDepth();
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
    // DpcQueueDepth++ and the request decision on the target's PRCB, by the inserter, as NT's
    // KeInsertQueueDpc does under the target's DPC lock: the request flag is claimed with a
    // compare-exchange, so of several inserters (or this one, several times) exactly one requests
    const targetPrcb = this.layout.prcb(target);
    const depth = Atomics.add(this.i32, targetPrcb + PrcbField.DPC_QUEUE_DEPTH, 1) + 1;
    const routineActive = Atomics.load(this.i32, targetPrcb + PrcbField.DPC_ROUTINE_ACTIVE) === 1;
    const requested = Atomics.load(this.i32, targetPrcb + PrcbField.DPC_INTERRUPT_REQUESTED) === 1;
    const claimRequest = (): boolean => Atomics.compareExchange(this.i32, targetPrcb + PrcbField.DPC_INTERRUPT_REQUESTED, 0, 1) === 0;
    if (target === this.cpu) {
      this.linkDpc(dpc, tag, now, fromIsr);
      if (shouldRequestLocalDpc(importance, depth, this.dpcRate, routineActive, requested) && claimRequest()) this.requestSoftwareInterrupt(DISPATCH_LEVEL);
      return 1;
    }
    this.port.send(actorOfCpu(target), Kind.DPC_LINK, 5, dpc, tag, timeLo(now), timeHi(now), fromIsr ? 1 : 0);
    this.wakingHalted(target);
    const maximumDepth = Atomics.load(this.i32, targetPrcb + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH);
    if (shouldRequestRemoteDpc(importance, depth, maximumDepth, routineActive, requested) && claimRequest()) this.sendIpi(target, IpiRequest.DPC);
    return 1;
  }

  private removeQueueDpc(dpc: number): number {
    const record = this.layout.dpc(dpc);
    for (;;) {
      const tag = Atomics.load(this.i32, record + DpcField.DPC_DATA);
      if (tag === 0) return 0;
      if (Atomics.compareExchange(this.i32, record + DpcField.DPC_DATA, tag, 0) !== tag) continue;
      // clearing DpcData took the DPC: its queue's depth goes down here, whichever CPU owns it
      Atomics.sub(this.i32, this.layout.prcb(dpcTagCpu(tag)) + PrcbField.DPC_QUEUE_DEPTH, 1);
      if (dpcTagCpu(tag) === this.cpu) {
        const index = this.dpcQueue.findIndex((entry) => entry.tag === tag && entry.dpc === dpc);
        if (index >= 0) this.dpcQueue.splice(index, 1);
      }
      // a remote queue finds a stale entry when it pops it (or its link arrives) and skips it
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
    this.wakingHalted(target);
  }

  /**
   * Deterministic mode: a message to a halted CPU ends this slice at the next instruction boundary,
   * so the coordinator wakes that CPU at this CPU's time (a lone CPU may otherwise get long slices).
   */
  private wakingHalted(target: number): void {
    if (this.config.mode === 'deterministic' && this.i32[this.layout.prcb(target) + PrcbField.IDLE] === 1) this.sliceEndRequested = true;
  }
  private sliceEndRequested = false;

  /** KiIpiSendPacket: run `routine(argument)` at IPI_LEVEL on each target; return when all have finished. */
  private *sendPacket(targets: number[], routine: number, argument: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
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
    callerCtx[callerBase + ContextField.R0] = result;
  }

  /**
   * Parallel mode: another CPU spins on a word this CPU just changed and may be napping on its
   * doorbell (see spun()): ring it. Deterministic mode never naps, and a ring would wake a halted CPU
   * for nothing.
   */
  private nudge(cpu: number): void {
    if (this.config.mode === 'parallel') this.port.wake(actorOfCpu(cpu));
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
    // the source spins on PACKET_REMAINING and may be napping: wake it
    this.nudge(source);
  }

  /** KeIpiGenericCall (§7.2): every CPU runs the routine at IPI_LEVEL at the same time. */
  private *genericCall(routine: number, argument: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
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
    for (let t = 0; t < cpus; t++) if (t !== this.cpu) this.nudge(t);
    this.record(TraceEvent.GENERIC_CALL, routine, argument, 0);
    this.pushCall('ipi', routine, argument);
    const result = yield SIGNAL_CALL;
    while (Atomics.load(this.i32, control + ControlField.GENERIC_REMAINING) > 0) yield SIGNAL_SPIN;
    this.setIrql(DISPATCH_LEVEL);
    Atomics.store(this.i32, control + ControlField.GENERIC_LOCK, 0);
    this.setIrql(oldIrql);
    callerCtx[callerBase + ContextField.R0] = result;
  }

  private *genericCallTarget(_source: number): KernelGenerator {
    const control = this.layout.control;
    const generation = Atomics.load(this.i32, control + ControlField.GENERIC_SOURCE) >>> 8;
    Atomics.store(this.i32, this.prcb + PrcbField.GENERIC_ARRIVED, generation);
    Atomics.sub(this.i32, control + ControlField.GENERIC_COUNT, 1);
    const source = Atomics.load(this.i32, control + ControlField.GENERIC_SOURCE) & 0xff;
    this.nudge(source);
    while (Atomics.load(this.i32, control + ControlField.GENERIC_COUNT) !== 0) yield SIGNAL_SPIN;
    const routine = Atomics.load(this.i32, control + ControlField.GENERIC_ROUTINE);
    const argument = Atomics.load(this.i32, control + ControlField.GENERIC_ARGUMENT);
    this.record(TraceEvent.GENERIC_CALL, routine, argument, 1);
    this.pushCall('ipi', routine, argument);
    yield SIGNAL_CALL;
    Atomics.sub(this.i32, control + ControlField.GENERIC_REMAINING, 1);
    this.nudge(source);
  }

  // ======================================================================================
  // Threads and the dispatcher (§4): requests to the dispatcher database, SwapContext
  // ======================================================================================

  /**
   * One dispatcher operation: raise to SYNCH_LEVEL (taking the dispatcher lock is asking the
   * coordinator, which serves one request at a time), send the request and wait for the answer,
   * then send the IPIs it asks for and switch threads if it says so. Deterministic mode blocks for
   * the answer at a fixed cycle cost (nothing else runs meanwhile, so the run stays replayable);
   * parallel mode spins, taking interrupts above SYNCH_LEVEL. The caller lowers the IRQL afterwards:
   * to its own old IRQL, or to the new thread's when the reply switched.
   */
  private *dispatcherCall(
    op: number,
    oldIrql: number,
    a0 = 0,
    a1 = 0,
    a2 = 0,
    a3 = 0,
    a4 = 0,
    a5 = 0,
    tail: ArrayLike<number> | null = null,
    callPc = 0,
  ): Generator<number, DispatchReply, number> {
    if (this.irql < this.table.synch) this.setIrql(this.table.synch);
    const w = this.requestWords;
    w[0] = op;
    w[1] = this.cpu;
    w[2] = this.currentThread;
    w[3] = oldIrql;
    w[4] = this.quantum;
    w[5] = this.dpcRoutineActive ? RequestFlag.DPC_ACTIVE : 0;
    w[6] = callPc;
    const now = Math.round(this.now());
    w[7] = timeLo(now);
    w[8] = timeHi(now);
    w[9] = a0;
    w[10] = a1;
    w[11] = a2;
    w[12] = a3;
    w[13] = a4;
    w[14] = a5;
    let length = DISPATCH_REQUEST_WORDS;
    if (tail) for (let i = 0; i < tail.length; i++) w[length++] = tail[i]!;
    const running = this.currentThread !== this.idleThread ? this.layout.thread(this.currentThread - 1) : -1;
    // from here until the CPU has switched away from it, the thread may be readied elsewhere: SwapBusy
    if (running >= 0) Atomics.store(this.i32, running + ThreadField.SWAP_BUSY, 1);
    this.dispatcherReply = null;
    this.port.sendWords(COORDINATOR_ACTOR, Kind.DISPATCH_REQUEST, w, 0, length);
    this.port.flush();
    if (this.config.mode === 'deterministic') {
      const deadline = performance.now() + DISPATCHER_REPLY_TIMEOUT_MS;
      while (this.dispatcherReply === null) {
        if (!this.port.hasWork()) this.port.sleep(10);
        this.drainInbox();
        if (performance.now() > deadline)
          throw new InternalError(`CPU ${this.cpu}: the coordinator did not answer dispatcher request ${op} within ${DISPATCHER_REPLY_TIMEOUT_MS} ms`);
      }
      this.interp.cycles += DISPATCHER_CALL_CYCLES;
    } else {
      while (this.dispatcherReply === null) yield SIGNAL_SPIN;
    }
    const reply: DispatchReply = this.dispatcherReply;
    this.dispatcherReply = null;
    this.record(TraceEvent.DISPATCHER, op, reply.status, reply.flags);
    if (reply.flags & ReplyFlag.BUGCHECK) {
      if (running >= 0) Atomics.store(this.i32, running + ThreadField.SWAP_BUSY, 0);
      throw this.dispatcherBugcheck(reply);
    }
    for (let target = 0; target < this.config.cpus; target++) {
      const bit = target < 32 ? (reply.ipiLo >>> target) & 1 : (reply.ipiHi >>> (target - 32)) & 1;
      if (bit) this.sendIpi(target, IpiRequest.DPC | IpiRequest.RESCHEDULE);
    }
    // a timer that expired inside the call (KeSetTimer with a due time already past): queue its DPC
    if (op !== DispatcherOp.KiTimerExpiration) {
      for (const dpc of reply.dpcs) this.insertQueueDpc(dpc, timeLo(reply.systemTime), timeHi(reply.systemTime));
    }
    if (reply.flags & ReplyFlag.SWITCH) {
      yield* this.swapContext(reply);
    } else {
      if (running >= 0) Atomics.store(this.i32, running + ThreadField.SWAP_BUSY, 0);
      this.quantum = reply.quantum;
    }
    if (reply.flags & ReplyFlag.REQUEST_DISPATCH) {
      this.reschedulePending = true;
      // inside a DPC retirement the DISPATCH interrupt already running checks it when the DPCs are done
      if (!this.dpcRoutineActive) this.requestSoftwareInterrupt(DISPATCH_LEVEL);
    }
    return reply;
  }

  /**
   * SwapContext (§4.8): switch this CPU from its current thread to the one the dispatcher chose.
   * The old thread's context is already in the shared thread table; the new one's is loaded by
   * making its frame the bottom frame. A switch while a DPC routine is active is 0xB8. The new
   * thread may still be switching out on another CPU: wait for its SwapBusy to clear.
   */
  private *swapContext(reply: DispatchReply): Generator<number, void, number> {
    const old = this.currentThread;
    const next = reply.next;
    if (this.dpcRoutineActive) throw this.attemptedSwitchFromDpc(old, next);
    if (next !== this.idleThread) {
      const record = this.layout.thread(next - 1);
      while (Atomics.load(this.i32, record + ThreadField.SWAP_BUSY) !== 0) yield SIGNAL_SPIN;
      const base = record + ThreadField.CONTEXT;
      if (reply.resumeAction === ResumeAction.SetResult) this.i32[base + ContextField.R0] = reply.resumeValue;
      else if (reply.resumeAction === ResumeAction.RestartCall) this.i32[base + ContextField.PC] = reply.resumeValue;
      else if (reply.resumeAction === ResumeAction.StartContext) this.i32[base + ContextField.R0 + 1] = reply.resumeValue;
      else if (reply.resumeAction === ResumeAction.PageIn) {
        // the disk read is done: the page is resident, and the faulting instruction (pc unchanged) runs again
        Atomics.store(this.i32, this.layout.pageState(reply.resumeValue), 0);
        this.record(TraceEvent.PAGE_IN, reply.resumeValue << PAGE_SHIFT, next, 0);
      }
      if (this.cpu < 32) Atomics.or(this.i32, record + ThreadField.RAN_ON_LO, 1 << this.cpu);
      else Atomics.or(this.i32, record + ThreadField.RAN_ON_HI, 1 << (this.cpu - 32));
    }
    const now = this.now();
    this.chargeThreadTime(now);
    this.frames[0] = next === this.idleThread ? this.idleFrame() : this.threadFrame(next);
    if (old !== this.idleThread) Atomics.store(this.i32, this.layout.thread(old - 1) + ThreadField.SWAP_BUSY, 0);
    this.f64[this.counters + CounterField.CONTEXT_SWITCHES] += 1;
    this.f64[this.layout.threadCounters(next - 1) + ThreadCounterField.CONTEXT_SWITCHES] += 1;
    this.currentThread = next;
    this.quantum = reply.quantum;
    this.quantumEnd = false;
    this.record(TraceEvent.CONTEXT_SWITCH, old, next, reply.nextWaitIrql);
  }

  /** Add the running thread's time since it was switched in (or since the last charge) to its counter. */
  private chargeThreadTime(at: number): void {
    const now = Math.min(at, this.config.durationNs);
    if (now > this.threadSinceNs) this.f64[this.layout.threadCounters(this.currentThread - 1) + ThreadCounterField.RUN_NS] += now - this.threadSinceNs;
    this.threadSinceNs = now;
  }

  /** 0xB8 ATTEMPTED_SWITCH_FROM_DPC: P1 the thread the DPC interrupted, P2 the one that would run, P3 the old thread's initial stack. */
  private attemptedSwitchFromDpc(old: number, next: number): BugCheck {
    return new BugCheck(BUGCHECK.ATTEMPTED_SWITCH_FROM_DPC, threadAddress(old), threadAddress(next), this.threadStackTop(old), 0).withDetail(
      `a DPC routine running on thread ${this.threadName(old)} tried to block or switch (to ${this.threadName(next)}); a DPC does not own the thread it runs on`,
    );
  }

  /** The fail-fast policy of §4.13 inside a DPC: ask who would run next (without switching), then raise 0xB8. */
  private *switchFromDpc(what: string): KernelGenerator {
    const irql = this.irql;
    const reply = yield* this.dispatcherCall(DispatcherOp.PeekNextThread, irql);
    this.setIrql(irql);
    const bugcheck = this.attemptedSwitchFromDpc(this.currentThread, reply.status);
    bugcheck.detail = `${what} was called from a DPC routine (${this.describeRunning()}) on thread ${this.threadName(this.currentThread)}; a wait there would switch to ${this.threadName(reply.status)}`;
    throw bugcheck;
  }

  private dispatcherBugcheck(reply: DispatchReply): BugCheck {
    const [p1, p2, p3, p4] = reply.bugcheckParams;
    const code = reply.bugcheckCode;
    if (code === BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED) {
      const status = p1 >>> 0;
      const object = this.objectName(p3);
      const reason =
        status === STATUS.MUTANT_NOT_OWNED
          ? `KeReleaseMutant/KeReleaseMutex on ${object}, which thread ${this.threadName(p4)} does not own, raised STATUS_MUTANT_NOT_OWNED`
          : status === STATUS.SEMAPHORE_LIMIT_EXCEEDED
            ? `KeReleaseSemaphore on ${object} would pass its limit: STATUS_SEMAPHORE_LIMIT_EXCEEDED`
            : status === STATUS.MUTANT_LIMIT_EXCEEDED
              ? `thread ${this.threadName(p4)} acquired ${object} recursively too many times: STATUS_MUTANT_LIMIT_EXCEEDED`
              : status === STATUS.ABANDONED
                ? `${object} was abandoned; releasing it raised STATUS_ABANDONED`
                : status === STATUS.INVALID_HANDLE
                  ? `object id ${p3} is not the kind of dispatcher object this call takes: STATUS_INVALID_HANDLE`
                  : `the dispatcher raised status 0x${status.toString(16)} for ${object}`;
      return new BugCheck(code, status, this.currentPc(), p3, 0).withDetail(`${reason}; nobody handles exceptions in kernel mode`);
    }
    if (code === BUGCHECK.THREAD_TERMINATE_HELD_MUTEX) {
      return new BugCheck(code, threadAddress(p1), p2, 0, 0).withDetail(
        `thread ${this.threadName(p1)} terminated while holding ${this.objectName(p2)} (a KMUTEX)`,
      );
    }
    return new BugCheck(code, p1 >>> 0, p2 >>> 0, p3 >>> 0, p4 >>> 0);
  }

  /**
   * A kernel call that is one dispatcher operation. IRQL rules (emulator policy, §1.5/§4.13): set,
   * release, read and priority calls need IRQL ≤ DISPATCH_LEVEL, else 0xA; after a set/release
   * with Wait = TRUE only a wait may come next.
   */
  private dispatcherKcall(name: string, op: number, ctx: Int32Array, base: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): number {
    this.checkNotWaitNext(name);
    if (this.irql > DISPATCH_LEVEL) {
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, a0, this.irql, 0, this.currentPc()).withDetail(
        `${name} called at ${irqlName(this.config.arch, this.irql)}; dispatcher calls need IRQL ≤ DISPATCH_LEVEL`,
      );
    }
    const keepLock =
      (op === DispatcherOp.KeSetEvent || op === DispatcherOp.KePulseEvent
        ? a2
        : op === DispatcherOp.KeReleaseSemaphore || op === DispatcherOp.KeReleaseMutant
          ? a3
          : 0) !== 0;
    this.pushKernel(name, 'kernel', this.dispatcherOperation(op, a0, a1, a2, a3, a4, keepLock, ctx, base), false);
    return KCALL_DONE;
  }

  private *dispatcherOperation(
    op: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    a4: number,
    keepLock: boolean,
    ctx: Int32Array,
    base: number,
  ): KernelGenerator {
    const oldIrql = this.irql;
    const reply = yield* this.dispatcherCall(op, oldIrql, a0, a1, a2, a3, a4);
    if (reply.flags & ReplyFlag.SWITCH) {
      // preempted inside the call (§4.7): r0 reaches the caller when it resumes
      this.setIrql(reply.nextWaitIrql);
      return;
    }
    ctx[base + ContextField.R0] = reply.status;
    if (keepLock && this.currentThread !== this.idleThread) {
      // Wait = TRUE: return at SYNCH_LEVEL holding the dispatcher lock; the wait that must follow releases it
      this.waitNext = true;
      this.waitNextIrql = oldIrql;
      this.waitNextInstructions = this.interp.instructions;
      return;
    }
    this.setIrql(oldIrql);
  }
  private waitNextIrql = 0;

  /** After a Wait = TRUE set/release the caller holds the dispatcher lock at SYNCH_LEVEL: anything but a wait is a bug. */
  private checkNotWaitNext(name: string): void {
    if (!this.waitNext) return;
    throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, this.irql, 0, this.currentPc()).withDetail(
      `${name} was called after a set/release with Wait = TRUE, which returns at SYNCH_LEVEL holding the dispatcher lock; the next call must be KeWaitForSingleObject or KeWaitForMultipleObjects`,
    );
  }

  /**
   * KeWaitForSingleObject / KeWaitForMultipleObjects: the IRQL rules of §4.13 (emulator policy: a
   * wait that could block at DISPATCH_LEVEL is 0xB8 inside a DPC, else 0xA; above DISPATCH_LEVEL
   * always 0xA), then the dispatcher operation. A blocked thread gets its status when it resumes.
   */
  private waitKcall(
    name: string,
    objects: ArrayLike<number>,
    waitType: number,
    waitReason: number,
    timeoutAddress: number,
    ctx: Int32Array,
    base: number,
  ): number {
    const oldIrql = this.waitNext ? this.waitNextIrql : this.irql;
    const timeout = this.readTimeout(timeoutAddress);
    const mayBlock = timeout !== 0;
    if (oldIrql > DISPATCH_LEVEL || (oldIrql === DISPATCH_LEVEL && mayBlock)) {
      if (this.dpcRoutineActive && mayBlock && oldIrql === DISPATCH_LEVEL) {
        this.pushKernel(name, 'kernel', this.switchFromDpc(name), false);
        return KCALL_DONE;
      }
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, objects[0] ?? 0, oldIrql, 0, this.currentPc()).withDetail(
        `${name} ${mayBlock ? 'with a timeout that may block' : ''} at ${irqlName(this.config.arch, oldIrql)} on thread ${this.threadName(this.currentThread)}: ` +
          (oldIrql > DISPATCH_LEVEL
            ? 'waits need IRQL ≤ DISPATCH_LEVEL'
            : 'a wait that can block needs IRQL ≤ APC_LEVEL (irqlab raises 0xA for it outside a DPC: a verifier-strict policy)'),
      );
    }
    const waitNext = this.waitNext;
    this.waitNext = false;
    const callPc = ctx[base + ContextField.PC]!;
    this.pushKernel(name, 'kernel', this.waitOperation(objects, waitType, waitReason, timeout, waitNext ? oldIrql : -1, callPc, ctx, base), false);
    return KCALL_DONE;
  }

  private *waitOperation(
    objects: ArrayLike<number>,
    waitType: number,
    waitReason: number,
    timeout: number | null,
    waitNextIrql: number,
    callPc: number,
    ctx: Int32Array,
    base: number,
  ): KernelGenerator {
    const oldIrql = waitNextIrql >= 0 ? waitNextIrql : this.irql;
    const ids = Array.from(objects);
    const reply = yield* this.dispatcherCall(
      DispatcherOp.KeWaitForObjects,
      oldIrql,
      ids.length,
      waitType,
      waitReason,
      timeout === null ? -1 : 1,
      timeout === null ? 0 : timeLo(timeout),
      timeout === null ? 0 : timeHi(timeout),
      ids,
      callPc,
    );
    if (reply.flags & ReplyFlag.SWITCH) {
      this.setIrql(reply.nextWaitIrql);
      return;
    }
    ctx[base + ContextField.R0] = reply.status;
    this.setIrql(oldIrql);
  }

  /** A wait's timeout: null for none (a NULL pointer: wait forever), else the LARGE_INTEGER's value in 100 ns units (negative: relative). */
  private readTimeout(address: number): number | null {
    if (address === 0) return null;
    return this.readLargeInteger(address);
  }

  private readLargeInteger(address: number): number {
    return joinTime(this.readWord(address), this.readWord(address + 4));
  }

  private writeLargeInteger(address: number, value: number): void {
    this.touch(address, 1);
    this.touch(address + 4, 1);
    this.memory[address >>> 2] = timeLo(value);
    this.memory[(address >>> 2) + 1] = timeHi(value);
  }

  private readWord(address: number): number {
    this.touch(address, 0);
    return this.memory[address >>> 2]!;
  }

  /**
   * A kernel call touching emulated memory on the caller's behalf (a wait's object array, a
   * LARGE_INTEGER, a spin lock): an invalid address is 0x50, a non-resident pageable page 0xD1
   * (kernel calls run at raised IRQL or cannot wait for a page-in midway).
   */
  private touch(address: number, access: number): void {
    if (!this.isMapped(address)) throw this.invalidAccess(address, access, this.currentPc(), this.kernelRoutineName());
    if ((address & 3) !== 0) throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, this.currentPc(), 0);
    const page = address >>> PAGE_SHIFT;
    if (this.pageFlags[page] && Atomics.load(this.i32, this.layout.pageState(page)) !== 0) throw this.pagedAtRaisedIrql(address, access, this.currentPc());
  }

  /**
   * KeDelayExecutionThread(mode, alertable, interval): the IRQL rules of a wait that can block (a DPC
   * gets 0xB8: the first seed's crash); the thread sleeps on its own timer.
   */
  private delayKcall(intervalAddress: number, ctx: Int32Array, base: number): number {
    const oldIrql = this.waitNext ? this.waitNextIrql : this.irql;
    const interval = this.readLargeInteger(intervalAddress);
    if (oldIrql >= DISPATCH_LEVEL) {
      if (this.dpcRoutineActive && oldIrql === DISPATCH_LEVEL) {
        this.pushKernel('KeDelayExecutionThread', 'kernel', this.switchFromDpc('KeDelayExecutionThread'), false);
        return KCALL_DONE;
      }
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, oldIrql, 0, this.currentPc()).withDetail(
        `KeDelayExecutionThread at ${irqlName(this.config.arch, oldIrql)} on thread ${this.threadName(this.currentThread)}: a delay blocks, which needs IRQL ≤ APC_LEVEL`,
      );
    }
    this.waitNext = false;
    const callPc = ctx[base + ContextField.PC]!;
    this.pushKernel('KeDelayExecutionThread', 'kernel', this.delayOperation(interval, oldIrql, callPc, ctx, base), false);
    return KCALL_DONE;
  }

  private *delayOperation(interval: number, oldIrql: number, callPc: number, ctx: Int32Array, base: number): KernelGenerator {
    const reply = yield* this.dispatcherCall(DispatcherOp.KeDelayExecutionThread, oldIrql, timeLo(interval), timeHi(interval), 0, 0, 0, 0, null, callPc);
    if (reply.flags & ReplyFlag.SWITCH) {
      this.setIrql(reply.nextWaitIrql);
      return;
    }
    ctx[base + ContextField.R0] = reply.status;
    this.setIrql(oldIrql);
  }

  /**
   * KiTimerExpiration (§3.6), in KiRetireDpcList at DISPATCH_LEVEL: the dispatcher expires the due
   * timers a batch at a time (releasing their waiters and re-arming periodic ones first); each
   * expired timer's DPC then runs here, in expiration order, with SystemArgument1/2 = the system
   * time, unless it is targeted at another CPU, which gets it through KeInsertQueueDpc.
   */
  private *timerExpiration(): KernelGenerator {
    for (;;) {
      const reply = yield* this.dispatcherCall(DispatcherOp.KiTimerExpiration, DISPATCH_LEVEL);
      this.setIrql(DISPATCH_LEVEL);
      const sa1 = timeLo(reply.systemTime);
      const sa2 = timeHi(reply.systemTime);
      for (const dpc of reply.dpcs) {
        const record = this.layout.dpc(dpc);
        this.record(TraceEvent.TIMER_EXPIRED, dpc, 0, 0);
        const target = this.i32[record + DpcField.TARGET]!;
        if (target >= 0 && target !== this.cpu) {
          this.insertQueueDpc(dpc, sa1, sa2);
          continue;
        }
        const routine = this.i32[record + DpcField.ROUTINE]!;
        this.f64[this.counters + CounterField.DPCS] += 1;
        this.record(TraceEvent.DPC_START, dpc, routine, 1);
        this.pushCall('dpc', routine, dpc + 1, this.i32[record + DpcField.CONTEXT]!, sa1, sa2);
        yield SIGNAL_CALL;
        this.record(TraceEvent.DPC_END, dpc, 0, 0);
        this.checkDpcReturnIrql(dpc, routine);
      }
      if (reply.status === 1) return;
    }
  }

  /** Interrupt time (100 ns) as of the last clock tick: KeQueryInterruptTime. */
  private interruptTime(): number {
    return Math.floor(this.now() / this.config.clockIntervalNs) * Math.round(this.config.clockIntervalNs / 100);
  }

  /** System time (100 ns since 1601): boot time + interrupt time + KeSetSystemTime's bias. */
  private systemTime(): number {
    const control = this.layout.control;
    const bias = joinTime(this.i32[control + ControlField.SYSTEM_TIME_BIAS_LO]!, this.i32[control + ControlField.SYSTEM_TIME_BIAS_HI]!);
    return BOOT_SYSTEM_TIME + this.interruptTime() + bias;
  }

  /** ZwYieldExecution: like a wait, a switch from a DPC is 0xB8; at or above DISPATCH_LEVEL in a thread, 0xA. */
  private yieldKcall(ctx: Int32Array, base: number): number {
    this.checkNotWaitNext('ZwYieldExecution');
    if (this.irql >= DISPATCH_LEVEL) {
      if (this.dpcRoutineActive && this.irql === DISPATCH_LEVEL) {
        this.pushKernel('ZwYieldExecution', 'kernel', this.switchFromDpc('ZwYieldExecution'), false);
        return KCALL_DONE;
      }
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0, this.irql, 0, this.currentPc()).withDetail(
        `ZwYieldExecution at ${irqlName(this.config.arch, this.irql)}: a switch needs IRQL < DISPATCH_LEVEL`,
      );
    }
    this.pushKernel('ZwYieldExecution', 'kernel', this.dispatcherOperation(DispatcherOp.NtYieldExecution, 0, 0, 0, 0, 0, false, ctx, base), false);
    return KCALL_DONE;
  }

  /** PspExitThread: the running thread ends; the CPU switches to the next one and never comes back here. */
  private *exitThread(exitStatus: number): KernelGenerator {
    // the reply always switches: this frame's thread is gone; the CPU continues at the next thread's IRQL
    const reply = yield* this.dispatcherCall(DispatcherOp.PspExitThread, this.irql, exitStatus);
    this.setIrql(reply.nextWaitIrql);
  }

  private threadName(id: number): string {
    if (id >= 1 && id <= this.config.cpus) return `Idle#${id - 1}`;
    return this.config.threads.find((t) => t.id === id)?.name ?? `#${id}`;
  }

  private objectName(id: number): string {
    const object = this.config.objects.find((o) => o.id === id);
    if (object) return `${object.kind} ${object.name}`;
    if (id >= 1 && id <= this.config.cpus + this.config.threads.length) return `thread ${this.threadName(id)}`;
    return `object #${id}`;
  }

  private threadStackTop(id: number): number {
    if (id >= 1 && id <= this.config.cpus) return this.config.interruptStackTops[id - 1] ?? 0;
    return this.config.threads.find((t) => t.id === id)?.stackTop ?? 0;
  }

  /** What the innermost code frame is, for reports: "DPC Foo (routine Bar)", "ISR …", "thread Main". */
  private describeRunning(frameIndex = this.frames.length - 1): string {
    for (let i = frameIndex; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind !== FRAME_CODE) continue;
      const routine = this.routineName(f.routine);
      if (f.role === 'thread') return `thread ${this.threadName(this.currentThread)} (${routine})`;
      if (f.role === 'dpc') return `DPC routine ${routine}`;
      if (f.role === 'isr') return `ISR ${routine}`;
      return `${f.role} routine ${routine}`;
    }
    return `thread ${this.threadName(this.currentThread)}`;
  }

  // ======================================================================================
  // Spin locks (§6): executive and queued, with owner records, 0xF / 0x10, and a deadlock detector
  // ======================================================================================

  private lockIndex(address: number): number {
    if (!this.isMapped(address)) throw this.invalidAccess(address, 1, this.currentPc(), this.kernelRoutineName());
    if ((address & 3) !== 0) {
      throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, 1, this.currentPc(), 0).withDetail(
        `spin lock address 0x${(address >>> 0).toString(16)} is not an aligned word of emulated memory`,
      );
    }
    this.touch(address, 1);
    return address >>> 2;
  }

  /**
   * KeAcquireSpinLock (raise: true, r0 = old IRQL) and KeAcquireSpinLockAtDpcLevel: test-and-set,
   * spinning on reads with interrupts above the IRQL still taken. Finding the lock held by the same
   * context of this CPU is 0xF; a spin that lasts spinTimeoutTicks clock ticks ends in the deadlock
   * report (a holder below the spinner on its own CPU can never release it).
   */
  private acquireSpinLockKcall(name: string, address: number, raise: boolean, ctx: Int32Array, base: number): number {
    this.checkNotWaitNext(name);
    const index = this.lockIndex(address);
    const oldIrql = this.irql;
    if (raise) {
      if (oldIrql > DISPATCH_LEVEL) {
        throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, oldIrql, DISPATCH_LEVEL, 0, this.currentPc()).withDetail(
          `${name} at ${irqlName(this.config.arch, oldIrql)}: it raises to DISPATCH_LEVEL, which is below the current IRQL`,
        );
      }
      this.setIrql(DISPATCH_LEVEL);
      ctx[base + ContextField.R0] = oldIrql;
    }
    const callerFrame = this.frames.length - 1;
    const mine = spinLockWord(this.cpu, this.currentThread);
    const previous = Atomics.compareExchange(this.memory, index, 0, mine);
    if (previous === 0) {
      this.tookLock(address, callerFrame, oldIrql);
      return KCALL_DONE;
    }
    this.checkRecursiveAcquire(name, address, previous, callerFrame);
    this.pushKernel(name, 'kernel', this.spinOnLock(name, address, index, callerFrame, oldIrql), false);
    return KCALL_DONE;
  }

  private tookLock(address: number, frame: number, irql: number): void {
    this.heldLocks.set(address, { frame, irql, what: this.describeRunning(frame), thread: this.currentThread });
    this.record(TraceEvent.SPIN_LOCK, address, 1, 0);
  }

  private checkRecursiveAcquire(name: string, address: number, word: number, callerFrame: number): void {
    if (spinLockHolderCpu(word) !== this.cpu || (word & 1) === 0) return;
    const held = this.heldLocks.get(address);
    if (held && held.frame === callerFrame && held.thread === this.currentThread) {
      throw new BugCheck(BUGCHECK.SPIN_LOCK_ALREADY_OWNED, address, this.cpu, 0, 0).withDetail(
        `${name}: ${held.what} already holds spin lock ${this.lockName(address)} (taken at ${irqlName(this.config.arch, held.irql)}); spinning on it could never end`,
      );
    }
  }

  private *spinOnLock(name: string, address: number, index: number, callerFrame: number, oldIrql: number): KernelGenerator {
    const startTick = this.ticksTaken;
    const mine = spinLockWord(this.cpu, this.currentThread);
    this.record(TraceEvent.SPIN_LOCK, address, 2, 0);
    for (;;) {
      const word = Atomics.load(this.memory, index);
      if (word === 0 && Atomics.compareExchange(this.memory, index, 0, mine) === 0) {
        this.tookLock(address, callerFrame, oldIrql);
        return;
      }
      if (this.ticksTaken - startTick >= this.config.spinTimeoutTicks) throw this.spinDeadlock(name, address, word, callerFrame, this.ticksTaken - startTick);
      yield SIGNAL_SPIN;
    }
  }

  /** The deadlock detector's report: 0x133 as NT's DPC watchdog would end it, naming the lock, the holder and the spinner. */
  private spinDeadlock(name: string, address: number, word: number, callerFrame: number, ticks: number): BugCheck {
    const spinner = this.describeRunning(callerFrame);
    const inInterruptCode = this.frames[callerFrame]?.role !== 'thread';
    let holder: string;
    let verdict: string;
    const held = this.heldLocks.get(address);
    if ((word & 1) === 1 && spinLockHolderCpu(word) === this.cpu && held) {
      holder = `${held.what} on this same CPU ${this.cpu}, which took it at ${irqlName(this.config.arch, held.irql)}`;
      verdict =
        held.frame < callerFrame
          ? held.irql < DISPATCH_LEVEL
            ? `; it took the lock without raising to DISPATCH_LEVEL, so ${spinner} interrupted it while it held the lock and now spins above it: the holder cannot run again until the spinner returns, so this can never succeed`
            : '; the holder is below the spinner on this CPU and cannot run until the spinner returns: this can never succeed'
          : '';
    } else if ((word & 1) === 1) {
      holder = `thread ${this.threadName(spinLockHolderThread(word))} on CPU ${spinLockHolderCpu(word)}`;
      verdict = '; probable deadlock';
    } else {
      holder = `a queued-lock waiter (the word holds handle address 0x${(word >>> 0).toString(16)})`;
      verdict = '; probable deadlock';
    }
    return new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, inInterruptCode ? 0 : 1, ticks, this.config.spinTimeoutTicks, address).withDetail(
      `spin-lock deadlock detector: ${spinner} on CPU ${this.cpu} has spun ${ticks} clock ticks in ${name} on spin lock ${this.lockName(address)} held by ${holder}${verdict}`,
    );
  }

  /** KeReleaseSpinLock (lower to newIrql) / KeReleaseSpinLockFromDpcLevel (lowerTo −1). */
  private releaseSpinLockKcall(name: string, address: number, lowerTo: number): number {
    this.checkNotWaitNext(name);
    const index = this.lockIndex(address);
    const word = Atomics.load(this.memory, index);
    if ((word & 1) === 0 || spinLockHolderCpu(word) !== this.cpu) {
      const owner = (word & 1) === 1 ? spinLockHolderCpu(word) : -1;
      throw new BugCheck(BUGCHECK.SPIN_LOCK_NOT_OWNED, address, owner, 0, 0).withDetail(
        `${name} on spin lock ${this.lockName(address)} by ${this.describeRunning()} on CPU ${this.cpu}, ${owner < 0 ? 'but it is not held' : `but CPU ${owner} holds it`}`,
      );
    }
    Atomics.store(this.memory, index, 0);
    this.heldLocks.delete(address);
    this.record(TraceEvent.SPIN_LOCK, address, 0, 0);
    if (lowerTo >= 0) this.lowerIrql(lowerTo, name);
    return KCALL_DONE;
  }

  /** KeAcquireInStackQueuedSpinLock(AtDpcLevel): join the queue at the tail, then spin on the handle's own WAIT bit. */
  private acquireQueuedKcall(name: string, address: number, handle: number, raise: boolean): number {
    this.checkNotWaitNext(name);
    const index = this.lockIndex(address);
    const h = this.lockIndex(handle);
    const oldIrql = this.irql;
    if (raise) {
      if (oldIrql > DISPATCH_LEVEL) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, oldIrql, DISPATCH_LEVEL, 0, this.currentPc());
      this.setIrql(DISPATCH_LEVEL);
    }
    const memory = this.memory;
    Atomics.store(memory, h + QueuedLockField.NEXT, 0);
    Atomics.store(memory, h + QueuedLockField.OLD_IRQL, oldIrql);
    Atomics.store(memory, h + QueuedLockField.LOCK, address | LOCK_QUEUE_WAIT);
    const previous = Atomics.exchange(memory, index, handle);
    if (previous === 0) {
      Atomics.store(memory, h + QueuedLockField.LOCK, address | LOCK_QUEUE_OWNER);
      this.record(TraceEvent.SPIN_LOCK, address, 1, 1);
      return KCALL_DONE;
    }
    Atomics.store(memory, this.lockIndex(previous) + QueuedLockField.NEXT, handle);
    this.pushKernel(name, 'kernel', this.spinOnQueuedHandle(name, address, h, this.frames.length - 1), false);
    return KCALL_DONE;
  }

  private *spinOnQueuedHandle(name: string, address: number, h: number, callerFrame: number): KernelGenerator {
    const startTick = this.ticksTaken;
    this.record(TraceEvent.SPIN_LOCK, address, 2, 1);
    while ((Atomics.load(this.memory, h + QueuedLockField.LOCK) & LOCK_QUEUE_WAIT) !== 0) {
      if (this.ticksTaken - startTick >= this.config.spinTimeoutTicks) {
        throw this.spinDeadlock(name, address, Atomics.load(this.memory, address >>> 2), callerFrame, this.ticksTaken - startTick);
      }
      yield SIGNAL_SPIN;
    }
    this.record(TraceEvent.SPIN_LOCK, address, 1, 1);
  }

  /** KeReleaseInStackQueuedSpinLock(FromDpcLevel): hand the lock to the next waiter in arrival order. */
  private releaseQueuedKcall(name: string, handle: number, lower: boolean): number {
    this.checkNotWaitNext(name);
    const h = this.lockIndex(handle);
    const lockField = Atomics.load(this.memory, h + QueuedLockField.LOCK);
    const address = lockField & ~3;
    if ((lockField & LOCK_QUEUE_OWNER) === 0) {
      throw new BugCheck(BUGCHECK.SPIN_LOCK_NOT_OWNED, address, -1, handle, 0).withDetail(
        `${name} with a KLOCK_QUEUE_HANDLE at 0x${handle.toString(16)} that does not own its lock`,
      );
    }
    this.pushKernel(name, 'kernel', this.handOffQueuedLock(address, handle, h, lower), false);
    return KCALL_DONE;
  }

  private *handOffQueuedLock(address: number, handle: number, h: number, lower: boolean): KernelGenerator {
    const memory = this.memory;
    const index = this.lockIndex(address);
    Atomics.store(memory, h + QueuedLockField.LOCK, address);
    if (Atomics.compareExchange(memory, index, handle, 0) !== handle) {
      // a waiter swapped itself in as the tail: wait until it has linked itself behind us, then pass the lock on
      while (Atomics.load(memory, h + QueuedLockField.NEXT) === 0) yield SIGNAL_SPIN;
      const next = this.lockIndex(Atomics.load(memory, h + QueuedLockField.NEXT));
      Atomics.store(memory, h + QueuedLockField.NEXT, 0);
      Atomics.store(memory, next + QueuedLockField.LOCK, address | LOCK_QUEUE_OWNER);
    }
    this.record(TraceEvent.SPIN_LOCK, address, 0, 1);
    if (lower) this.lowerIrql(Atomics.load(memory, h + QueuedLockField.OLD_IRQL), 'KeReleaseInStackQueuedSpinLock');
  }

  private lockName(address: number): string {
    for (const [name, info] of this.config.variableNames) {
      if (address >= info.address && address < info.address + info.words * 4) {
        const offset = address - info.address;
        return offset === 0 ? `${name} (0x${address.toString(16)})` : `${name}+${offset} (0x${address.toString(16)})`;
      }
    }
    return `0x${(address >>> 0).toString(16)}`;
  }

  /** KeLowerIrql's rules, shared by the release calls. */
  private lowerIrql(newIrql: number, name: string): void {
    if (newIrql > this.irql) {
      throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, newIrql, this.irql, 0, this.currentPc()).withDetail(
        `${name} lowering to ${irqlName(this.config.arch, newIrql)} while at ${irqlName(this.config.arch, this.irql)}`,
      );
    }
    this.checkIrqlInRange(newIrql);
    this.setIrql(newIrql);
  }

  // ======================================================================================
  // Kernel calls (ExecHost)
  // ======================================================================================

  kernelCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number {
    // a kernel frame this call pushes reports the KCALL as its instruction (the caller's pc moves past it)
    this.kcallPc = ctx[base + ContextField.PC]!;
    this.kcallId = id;
    try {
      return this.kernelCallBody(id, args, argCount, ctx, base);
    } finally {
      this.kcallPc = -1;
      this.kcallId = -1;
    }
  }
  private kcallPc = -1;
  /** the KCALL being executed, so that a fault inside it can name the kernel routine */
  private kcallId = -1;

  private kernelCallBody(id: number, args: Int32Array, _argCount: number, ctx: Int32Array, base: number): number {
    this.interp.cycles += 20;
    if (this.waitNext && id !== KC.KeWaitForSingleObject && id !== KC.KeWaitForMultipleObjects)
      this.checkNotWaitNext(kernelCallById(id)?.name ?? `kernel call ${id}`);
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
      case KC.KeLowerIrql:
        this.lowerIrql(args[0]!, 'KeLowerIrql');
        return KCALL_DONE;
      case KC.KeGetCurrentProcessorNumber:
        ctx[base + ContextField.R0] = this.cpu;
        return KCALL_DONE;
      case KC.KeInitializeDpc: {
        const record = this.layout.dpc(this.dpcIndex(args[0]!));
        this.i32[record + DpcField.ROUTINE] = args[1]!;
        this.i32[record + DpcField.CONTEXT] = args[2]!;
        this.i32[record + DpcField.IMPORTANCE] = DpcImportanceValue.Medium;
        this.i32[record + DpcField.TARGET] = -1;
        return KCALL_DONE;
      }
      case KC.KeInsertQueueDpc:
        ctx[base + ContextField.R0] = this.insertQueueDpc(this.dpcIndex(args[0]!), args[1]!, args[2]!);
        return KCALL_DONE;
      case KC.KeRemoveQueueDpc:
        ctx[base + ContextField.R0] = this.removeQueueDpc(this.dpcIndex(args[0]!));
        return KCALL_DONE;
      case KC.KeSetImportanceDpc:
        this.i32[this.layout.dpc(this.dpcIndex(args[0]!)) + DpcField.IMPORTANCE] = args[1]! & 3;
        return KCALL_DONE;
      case KC.KeSetTargetProcessorDpc: {
        const target = args[1]!;
        if (target < 0 || target >= this.config.cpus) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc000000d, this.currentPc(), 0, 0);
        this.i32[this.layout.dpc(this.dpcIndex(args[0]!)) + DpcField.TARGET] = target;
        return KCALL_DONE;
      }
      case KC.KeIsExecutingDpc:
        ctx[base + ContextField.R0] = this.dpcRoutineActive ? 1 : 0;
        return KCALL_DONE;
      case KC.KeIpiGenericCall:
        this.pushKernel('KeIpiGenericCall', 'ipi-call', this.genericCall(args[0]!, args[1]!, ctx, base), false);
        return KCALL_DONE;
      case KC.KiIpiSendPacket: {
        const mask = args[0]!;
        const targets: number[] = [];
        for (let t = 0; t < Math.min(32, this.config.cpus); t++) if (mask & (1 << t)) targets.push(t);
        this.pushKernel('KiIpiSendPacket', 'ipi-call', this.sendPacket(targets, args[1]!, args[2]!, ctx, base), false);
        return KCALL_DONE;
      }
      case KC.KeBugCheckEx:
        throw new BugCheck(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!);
      case KC.KeStallExecutionProcessor:
        // burns up to the end of the budget and resumes from the context's WORK_LEFT, so
        // interrupts still land during the stall (RETRY keeps pc on the call)
        return this.interp.burn(ctx, base, Math.round(args[0]! * 1000 * this.cyclesPerNs)) ? KCALL_DONE : KCALL_RETRY;
      case KC.KeQueryInterruptTime:
        ctx[base + ContextField.R0] = timeLo(this.interruptTime());
        return KCALL_DONE;
      case KC.KeQueryPerformanceCounter:
        ctx[base + ContextField.R0] = Math.floor(this.now()) | 0;
        return KCALL_DONE;
      case KC.KeQueryTickCount:
        ctx[base + ContextField.R0] = Math.floor(this.now() / this.config.clockIntervalNs) | 0;
        return KCALL_DONE;
      case KC.HalRequestSoftwareInterrupt: {
        const level = args[0]!;
        if (level === DISPATCH_LEVEL) this.softPending |= 1 << DISPATCH_LEVEL;
        else if (level === APC_LEVEL) this.softPending |= 1 << APC_LEVEL;
        this.workPending = true;
        return KCALL_DONE;
      }
      case KC.KeSynchronizeExecution:
        this.pushKernel('KeSynchronizeExecution', 'sync', this.synchronizeExecution(args[0]!, args[1]!, args[2]!, ctx, base), false);
        return KCALL_DONE;
      // ---- time and timers
      case KC.KeQuerySystemTime:
        this.writeLargeInteger(args[0]!, this.systemTime());
        return KCALL_DONE;
      case KC.KeQueryTimeIncrement:
        ctx[base + ContextField.R0] = Math.round(this.config.clockIntervalNs / 100);
        return KCALL_DONE;
      case KC.KeInitializeTimer:
        return this.dispatcherKcall('KeInitializeTimer', DispatcherOp.KeInitializeTimer, ctx, base, args[0]!, 0);
      case KC.KeInitializeTimerEx:
        return this.dispatcherKcall('KeInitializeTimerEx', DispatcherOp.KeInitializeTimer, ctx, base, args[0]!, args[1]! === 1 ? 1 : 0);
      case KC.KeSetTimer:
      case KC.KeSetTimerEx: {
        const ex = id === KC.KeSetTimerEx;
        const due = this.readLargeInteger(args[1]!);
        const period = ex ? args[2]! : 0;
        const dpc = ex ? args[3]! : args[2]!;
        return this.dispatcherKcall(
          ex ? 'KeSetTimerEx' : 'KeSetTimer',
          DispatcherOp.KeSetTimer,
          ctx,
          base,
          args[0]!,
          timeLo(due),
          timeHi(due),
          period,
          dpc === 0 ? -1 : this.dpcIndex(dpc),
        );
      }
      case KC.KeCancelTimer:
        return this.dispatcherKcall('KeCancelTimer', DispatcherOp.KeCancelTimer, ctx, base, args[0]!);
      case KC.KeReadStateTimer:
        return this.dispatcherKcall('KeReadStateTimer', DispatcherOp.KeReadState, ctx, base, args[0]!);
      case KC.KeDelayExecutionThread:
        return this.delayKcall(args[2]!, ctx, base);
      case KC.KeSetSystemTime: {
        const value = this.readLargeInteger(args[0]!);
        return this.dispatcherKcall('KeSetSystemTime', DispatcherOp.KeSetSystemTime, ctx, base, timeLo(value), timeHi(value));
      }
      case KC.KeQueryDpcWatchdogInformation: {
        // KDPC_WATCHDOG_INFORMATION: limits and the time *remaining*, in ticks; unsuccessful outside a DPC
        const info = args[0]!;
        for (let i = 0; i < 4; i++) this.touch(info + i * 4, 1);
        const words = [
          this.config.dpcTimeLimitTicks,
          Math.max(0, this.config.dpcTimeLimitTicks - this.dpcTimeCount),
          this.config.dpcWatchdogPeriodTicks,
          Math.max(0, this.config.dpcWatchdogPeriodTicks - this.dpcWatchdogCount),
        ];
        words.forEach((word, i) => {
          this.memory[(info >>> 2) + i] = word;
        });
        ctx[base + ContextField.R0] = this.dpcRoutineActive ? STATUS.SUCCESS : STATUS_UNSUCCESSFUL;
        return KCALL_DONE;
      }
      // ---- threads and the dispatcher
      case KC.KeRaiseIrqlToSynchLevel: {
        if (this.table.synch < this.irql) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, this.irql, this.table.synch, 0, this.currentPc());
        ctx[base + ContextField.R0] = this.irql;
        this.setIrql(this.table.synch);
        return KCALL_DONE;
      }
      case KC.KeGetCurrentThread:
        ctx[base + ContextField.R0] = this.currentThread;
        return KCALL_DONE;
      case KC.KeSetEvent:
        return this.dispatcherKcall('KeSetEvent', DispatcherOp.KeSetEvent, ctx, base, args[0]!, args[1]!, args[2]!);
      case KC.KeResetEvent:
      case KC.KeClearEvent:
        return this.dispatcherKcall(id === KC.KeResetEvent ? 'KeResetEvent' : 'KeClearEvent', DispatcherOp.KeResetEvent, ctx, base, args[0]!);
      case KC.KePulseEvent:
        return this.dispatcherKcall('KePulseEvent', DispatcherOp.KePulseEvent, ctx, base, args[0]!, args[1]!, args[2]!);
      case KC.KeReadStateEvent:
      case KC.KeReadStateSemaphore:
      case KC.KeReadStateMutex:
        return this.dispatcherKcall(kernelCallById(id)!.name, DispatcherOp.KeReadState, ctx, base, args[0]!);
      case KC.KeReleaseSemaphore:
        return this.dispatcherKcall('KeReleaseSemaphore', DispatcherOp.KeReleaseSemaphore, ctx, base, args[0]!, args[1]!, args[2]!, args[3]!);
      case KC.KeReleaseMutex:
        return this.dispatcherKcall('KeReleaseMutex', DispatcherOp.KeReleaseMutant, ctx, base, args[0]!, 1, 0, args[1]!);
      case KC.KeReleaseMutant:
        return this.dispatcherKcall('KeReleaseMutant', DispatcherOp.KeReleaseMutant, ctx, base, args[0]!, args[1]!, args[2]!, args[3]!);
      case KC.KeWaitForSingleObject:
        return this.waitKcall('KeWaitForSingleObject', [args[0]!], WaitType.WaitAny, args[1]!, args[4]!, ctx, base);
      case KC.KeWaitForMultipleObjects: {
        const count = args[0]!;
        if (count < 1 || count > MAXIMUM_WAIT_OBJECTS || (count > THREAD_WAIT_OBJECTS && args[7] === 0)) {
          const limit = count > MAXIMUM_WAIT_OBJECTS || count < 1 ? MAXIMUM_WAIT_OBJECTS : THREAD_WAIT_OBJECTS;
          throw new BugCheck(BUGCHECK.MAXIMUM_WAIT_OBJECTS_EXCEEDED, count, limit, 0, 0).withDetail(
            count > THREAD_WAIT_OBJECTS && count <= MAXIMUM_WAIT_OBJECTS
              ? `KeWaitForMultipleObjects on ${count} objects without a wait-block array (the thread's own blocks hold ${THREAD_WAIT_OBJECTS})`
              : `KeWaitForMultipleObjects on ${count} objects (1 to ${MAXIMUM_WAIT_OBJECTS})`,
          );
        }
        const objects: number[] = [];
        for (let i = 0; i < count; i++) objects.push(this.readWord(args[1]! + i * 4));
        return this.waitKcall(
          'KeWaitForMultipleObjects',
          objects,
          args[2] === WaitType.WaitAll ? WaitType.WaitAll : WaitType.WaitAny,
          args[3]!,
          args[6]!,
          ctx,
          base,
        );
      }
      case KC.ZwYieldExecution:
        return this.yieldKcall(ctx, base);
      case KC.KeSetPriorityThread:
        return this.dispatcherKcall('KeSetPriorityThread', DispatcherOp.KeSetPriorityThread, ctx, base, args[0]!, args[1]!);
      case KC.KeQueryPriorityThread:
        return this.dispatcherKcall('KeQueryPriorityThread', DispatcherOp.KeQueryPriorityThread, ctx, base, args[0]!);
      case KC.PsCreateSystemThread:
        return this.dispatcherKcall('PsCreateSystemThread', DispatcherOp.PsCreateSystemThread, ctx, base, args[0]!, args[1]!);
      case KC.PsTerminateSystemThread:
        if (this.irql >= DISPATCH_LEVEL && this.dpcRoutineActive) {
          this.pushKernel('PsTerminateSystemThread', 'kernel', this.switchFromDpc('PsTerminateSystemThread'), false);
          return KCALL_DONE;
        }
        if (this.irql !== PASSIVE_LEVEL) {
          throw new BugCheck(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, this.currentPc(), this.irql, 0, 0).withDetail(
            `PsTerminateSystemThread at ${irqlName(this.config.arch, this.irql)} on thread ${this.threadName(this.currentThread)}`,
          );
        }
        this.pushKernel('PspExitThread', 'thread', this.exitThread(args[0]!), false);
        return KCALL_DONE;
      case KC.KeAcquireSpinLock:
        return this.acquireSpinLockKcall('KeAcquireSpinLock', args[0]!, true, ctx, base);
      case KC.KeAcquireSpinLockAtDpcLevel:
        return this.acquireSpinLockKcall('KeAcquireSpinLockAtDpcLevel', args[0]!, false, ctx, base);
      case KC.KeReleaseSpinLock:
        return this.releaseSpinLockKcall('KeReleaseSpinLock', args[0]!, args[1]!);
      case KC.KeReleaseSpinLockFromDpcLevel:
        return this.releaseSpinLockKcall('KeReleaseSpinLockFromDpcLevel', args[0]!, -1);
      case KC.KeTryToAcquireSpinLockAtDpcLevel: {
        const address = args[0]!;
        const taken = Atomics.compareExchange(this.memory, this.lockIndex(address), 0, spinLockWord(this.cpu, this.currentThread)) === 0;
        if (taken) this.tookLock(address, this.frames.length - 1, this.irql);
        ctx[base + ContextField.R0] = taken ? 1 : 0;
        return KCALL_DONE;
      }
      case KC.KeAcquireInStackQueuedSpinLock:
        return this.acquireQueuedKcall('KeAcquireInStackQueuedSpinLock', args[0]!, args[1]!, true);
      case KC.KeAcquireInStackQueuedSpinLockAtDpcLevel:
        return this.acquireQueuedKcall('KeAcquireInStackQueuedSpinLockAtDpcLevel', args[0]!, args[1]!, false);
      case KC.KeReleaseInStackQueuedSpinLock:
        return this.releaseQueuedKcall('KeReleaseInStackQueuedSpinLock', args[0]!, true);
      case KC.KeReleaseInStackQueuedSpinLockFromDpcLevel:
        return this.releaseQueuedKcall('KeReleaseInStackQueuedSpinLockFromDpcLevel', args[0]!, false);
      default: {
        const spec = kernelCallById(id);
        throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, 0xc0000002, this.currentPc(), id, spec ? 1 : 0);
      }
    }
  }

  private *synchronizeExecution(interrupt: number, routine: number, context: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
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
    callerCtx[callerBase + ContextField.R0] = result;
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
    // a native is driver code too: page 0, addresses outside memory and misaligned ones fault as an
    // instruction's would. The fault is the machine's, whatever the native's own code does with the
    // exception (catches it, wraps it), so it is kept here and raised as it is.
    let memoryFault: unknown = null;
    const checkAddress = (address: number, access: number): void => {
      if ((address & 3) === 0 && this.isMapped(address)) return;
      try {
        this.memoryFault(address, access, this.currentPc());
      } catch (bugcheck) {
        memoryFault = bugcheck;
        throw bugcheck;
      }
    };
    const view = {
      cpu: this.cpu,
      irql: this.irql,
      read: (address: number) => {
        checkAddress(address, ACCESS_READ);
        return this.memory[address >> 2]!;
      },
      write: (address: number, value: number) => {
        checkAddress(address, ACCESS_WRITE);
        this.memory[address >> 2] = value;
      },
    };
    // stamped for the main thread's native guard (Machine.checkNatives): a native that never
    // returns stops this worker from answering anything, so only the main thread can end the run
    Atomics.add(this.i32, this.prcb + PrcbField.NATIVE_CALLS, 1);
    Atomics.store(this.i32, this.prcb + PrcbField.NATIVE_ROUTINE, id + 1);
    let result: number | undefined;
    try {
      result = native(Array.from(args.subarray(0, argCount)), view);
    } catch (thrown) {
      if (memoryFault !== null) throw memoryFault;
      throw new NativeRoutineError(this.config.nativeNames[id] ?? `#${id}`, thrown);
    } finally {
      Atomics.store(this.i32, this.prcb + PrcbField.NATIVE_ROUTINE, 0);
    }
    if (memoryFault !== null) throw memoryFault;
    if (typeof result === 'number') ctx[base + ContextField.R0] = result | 0;
    return KCALL_DONE;
  }
  natives: Array<
    | ((args: readonly number[], machine: { cpu: number; irql: number; read(a: number): number; write(a: number, v: number): void }) => number | undefined)
    | undefined
  > | null = null;

  memoryFault(address: number, access: number, pc: number): void {
    if (access === ACCESS_EXECUTE || !this.isMapped(address)) throw this.invalidAccess(address, access, pc, null);
    throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, pc, 0).withDetail(
      `${this.describeRunning()} made a misaligned ${accessName(access)} of ${this.lockName(address)}: memory is word-sized and aligned`,
    );
  }

  /** Inside emulated memory and not on an unmapped page (page 0). */
  private isMapped(address: number): boolean {
    return address >>> 2 < this.memory.length && this.pageFlags[address >>> PAGE_SHIFT] !== PAGE_FLAG_NO_ACCESS;
  }

  /**
   * A reference to an unmapped address (page 0, or outside emulated memory) as NT reports it:
   * below DISPATCH_LEVEL the page fault finds no page, 0x50 PAGE_FAULT_IN_NONPAGED_AREA (address,
   * access, instruction); at DISPATCH_LEVEL or above a page fault is not even allowed, so it is
   * 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL when the faulting code is the driver's (a scenario
   * instruction) and 0xA IRQL_NOT_LESS_OR_EQUAL when it is a kernel routine touching memory for its
   * caller (NT picks 0xD1 only when the faulting address of code is in a driver; §1.5 and the table
   * of bugchecks). The instruction parameter (P3 of 0x50, P4 of 0xD1 and 0xA) is the scenario's
   * instruction: for a kernel routine, the KCALL that called it.
   */
  private invalidAccess(address: number, access: number, pc: number, kernelRoutine: string | null): BugCheck {
    const where =
      access === ACCESS_EXECUTE
        ? `0x${(address >>> 0).toString(16)}, which is not code (an invalid opcode, a jump outside the program, or a call to an unknown routine id)`
        : address >>> 0 < 4096
          ? `address 0x${(address >>> 0).toString(16)} on page 0, which is never mapped (a NULL pointer dereference)`
          : `address 0x${(address >>> 0).toString(16)}, which is outside emulated memory (0x0–0x${(this.memory.length * 4 - 1).toString(16)})`;
    const who = kernelRoutine === null ? this.describeRunning() : `${kernelRoutine}, called by ${this.describeRunning()},`;
    const did = `${who} ${access === ACCESS_EXECUTE ? 'executed' : access === 1 ? 'wrote' : 'read'} ${where}`;
    if (this.irql < DISPATCH_LEVEL) {
      return new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, pc, 0).withDetail(`${did}: no page is mapped there`);
    }
    const code = kernelRoutine === null ? BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL : BUGCHECK.IRQL_NOT_LESS_OR_EQUAL;
    return new BugCheck(code, address, this.irql, access, pc).withDetail(
      `${did}, at ${irqlName(this.config.arch, this.irql)}: no page is mapped there, and at DISPATCH_LEVEL or above a page fault cannot even be handled`,
    );
  }

  /** The kernel routine running on the caller's behalf, for reports. */
  private kernelRoutineName(): string {
    const top = this.frames[this.frames.length - 1];
    if (top !== undefined && top.kind === FRAME_KERNEL) return top.name;
    return (this.kcallId >= 0 ? kernelCallById(this.kcallId)?.name : undefined) ?? 'a kernel routine';
  }
  /**
   * An access to a pageable page (§1.5): resident, it proceeds. Not resident at DISPATCH_LEVEL or
   * above: 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL (nothing can wait for the disk there). Below it: a
   * page fault; the thread waits for the page-in (MmAccessFault) and the instruction runs again.
   */
  checkAccess(address: number, access: number, pc: number): number {
    const page = address >>> PAGE_SHIFT;
    if (this.pageFlags[page] === PAGE_FLAG_NO_ACCESS) throw this.invalidAccess(address, access, pc, null);
    if (Atomics.load(this.i32, this.layout.pageState(page)) === 0) return CHECK_PROCEED;
    if (this.irql >= DISPATCH_LEVEL || this.currentThread === this.idleThread || this.frames[this.frames.length - 1]?.role !== 'thread') {
      throw this.pagedAtRaisedIrql(address, access, pc);
    }
    this.record(TraceEvent.PAGE_FAULT, address, access, pc);
    this.pushKernel('MmAccessFault', 'kernel', this.pageFault(page), false);
    this.faultFramePushed = true;
    return CHECK_RETRY;
  }

  private pagedAtRaisedIrql(address: number, access: number, pc: number): BugCheck {
    const what = access === 1 ? 'write' : access === 8 ? 'execute' : 'read';
    return new BugCheck(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, address, this.irql, access, pc).withDetail(
      `${this.describeRunning()} touched pageable memory ${this.lockName(address)} (${what}) that is not resident, at ${irqlName(this.config.arch, this.irql)}: a page fault needs a wait for the disk, which is impossible at DISPATCH_LEVEL or above`,
    );
  }

  private *pageFault(page: number): KernelGenerator {
    const oldIrql = this.irql;
    const reply = yield* this.dispatcherCall(DispatcherOp.MmAccessFault, oldIrql, page);
    this.setIrql(reply.flags & ReplyFlag.SWITCH ? reply.nextWaitIrql : oldIrql);
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
    if (this.userEvents.length < USER_EVENTS_PER_CPU) this.userEvents.push({ cpu: this.cpu, timeNs: now, tag, value });
    else this.userEventsDropped++;
  }
  routineEntry(routineId: number): number {
    return this.config.routines[routineId]?.entry ?? -1;
  }

  private routineName(index: number): string {
    return this.config.routines[index]?.name ?? `routine#${index}`;
  }

  /** A KDPC handle (what `a.dpc(name)` resolves to: its index + 1, so that 0 is NULL) → its index. */
  private dpcIndex(handle: number): number {
    const index = handle - 1;
    if (index < 0 || index >= this.config.dpcCount) {
      throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INVALID_HANDLE, this.currentPc(), handle, 0).withDetail(
        `${handle} is not a KDPC (the scenario declares ${this.config.dpcCount})`,
      );
    }
    return index;
  }

  private checkIrqlInRange(irql: number): void {
    if (irql < 0 || irql > this.table.high) throw new BugCheck(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, irql, this.irql, 0, this.currentPc());
  }

  private currentPc(): number {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE) return f.ctx[f.base + ContextField.PC]!;
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
      if (this.haltedSinceNs >= 0) this.f64[this.counters + CounterField.IDLE_NS] += Math.min(startNs, this.config.durationNs) - this.haltedSinceNs;
      this.lastIrqlChangeNs += startNs - current;
      this.sliceStartNs = startNs;
    } else {
      this.sliceStartNs = current;
    }
    this.haltedSinceNs = -1;
    this.sliceStartCycles = this.interp.cycles;
    this.i32[this.prcb + PrcbField.IDLE] = 0;
  }

  get cycles(): number {
    return this.interp.cycles;
  }

  /** The CPU has nothing to do: mark it idle until woken. */
  enterHalt(): void {
    const now = this.now();
    const counted = Math.min(now, this.config.durationNs);
    this.f64[this.counters + CounterField.TIME_AT_IRQL + this.irql] += counted - this.lastIrqlChangeNs;
    this.lastIrqlChangeNs = counted;
    this.haltedSinceNs = counted;
    this.i32[this.prcb + PrcbField.IDLE] = 1;
    this.f64[this.counters + CounterField.TIME_NS] = now;
  }

  /** Parallel mode: woken from a halt. */
  leaveHalt(): void {
    const now = this.countedNow();
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
    this.chargeThreadTime(this.now());
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
      userEventsDropped: this.userEventsDropped,
      userEventsLimit: USER_EVENTS_PER_CPU,
      timeNs: this.now(),
    };
  }

  /**
   * Once the CPU has stopped or frozen, the device assertions still in its inbox will never reach
   * its local APIC: count them (DeviceCounterField.UNDELIVERED) so that the run's interrupt
   * accounting still sees every assertion. The worker calls this last, before it exits.
   */
  countUndeliveredInterrupts(): void {
    const undelivered = (device: number): void => {
      const counters = this.deviceCounters(device);
      if (counters >= 0) this.f64[counters + DeviceCounterField.UNDELIVERED] += 1;
    };
    for (const queue of this.collected) for (const message of queue ?? []) if (message.type === 'irq/assert') undelivered(message.device);
    this.collected.length = 0;
    this.port.poll((kind, w, offset) => {
      if (kind === Kind.IRQ_ASSERT) undelivered(w[offset + 4]!);
    });
  }

  /**
   * A native routine (the scenario's host code) threw: the scenario is wrong, not the emulated
   * system. Tell the main thread what was thrown, with its stack (the scenario's own frames), and
   * stop this CPU; the main thread ends the run with a scenario error (exit 1).
   */
  private reportNativeError(error: NativeRoutineError): void {
    this.frozen = true;
    this.port.sendReport(MAIN_ACTOR, {
      kind: 'scenario-error',
      cpu: this.cpu,
      what: `native routine '${error.routine}' (called on CPU ${this.cpu} at ${irqlName(this.config.arch, this.irql)})`,
      thrown: describeThrown(error.thrown),
      stack: error.thrown instanceof Error ? (error.thrown.stack ?? '') : '',
    } satisfies Report);
    this.port.flush();
  }

  /** Stop at the end of the run (RUN_STOP). */
  stop(): void {
    // deterministic mode: a halted CPU's clock stood still at its halt, but the run went on to its
    // end, and that stretch is idle time (parallel mode counts it when RUN_STOP wakes the CPU)
    if (this.config.mode === 'deterministic' && this.halted && this.runEndNs > this.now()) this.beginSlice(this.runEndNs);
    this.chargeThreadTime(this.now());
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

  /** The routine whose code holds `pc` (a frame's own routine may have CALLed another). */
  private routineAt(pc: number): { name: string; entry: number } | undefined {
    let best: { name: string; entry: number } | undefined;
    for (const routine of this.config.routines) if (routine.entry <= pc && (!best || routine.entry > best.entry)) best = routine;
    return best;
  }

  private describeInstruction(): string {
    let callPc = -1;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_KERNEL) {
        if (callPc < 0 && f.callPc >= 0) callPc = f.callPc;
        continue;
      }
      {
        const pc = callPc >= 0 ? callPc : f.ctx[f.base + ContextField.PC]!;
        try {
          const routine = this.routineAt(pc);
          return `${routine?.name ?? '?'}+0x${(pc - (routine?.entry ?? 0)).toString(16)}: ${disassemble(this.interp.code, pc).text}`;
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
        return `${this.config.traceTags[a] ?? `tag ${a}`} value ${b}`;
      case TraceEvent.BUGCHECK:
        return `${bugcheckName(a)} (0x${a.toString(16)})`;
      case TraceEvent.THREAD_EXIT:
        return `${routine(a)} returned ${b}`;
      case TraceEvent.GENERIC_CALL:
        return `${routine(a)}(${b})${c ? ' as target' : ''}`;
      case TraceEvent.IPI_PACKET:
        return `from CPU ${a}: ${routine(b)}`;
      case TraceEvent.CONTEXT_SWITCH:
        return `${this.threadName(a)} → ${this.threadName(b)} (resumes at ${irqlName(this.config.arch, c)})`;
      case TraceEvent.DISPATCHER: {
        const op = Object.entries(DispatcherOp).find(([, value]) => value === a)?.[0] ?? `op ${a}`;
        const flags = [
          c & ReplyFlag.SWITCH ? 'switch' : '',
          c & ReplyFlag.REQUEST_DISPATCH ? 'dispatch requested' : '',
          c & ReplyFlag.BUGCHECK ? 'bugcheck' : '',
        ].filter(Boolean);
        return `${op} → 0x${(b >>> 0).toString(16)}${flags.length ? ` (${flags.join(', ')})` : ''}`;
      }
      case TraceEvent.TIMER_EXPIRED:
        return `expired: its DPC ${dpcName(a)}`;
      case TraceEvent.PAGE_FAULT:
        return `${this.lockName(a)} (${b === 1 ? 'write' : b === 8 ? 'execute' : 'read'}) not resident: waiting for the disk`;
      case TraceEvent.PAGE_IN:
        return `page at 0x${(a >>> 0).toString(16)} resident (thread ${this.threadName(b)})`;
      case TraceEvent.SPIN_LOCK:
        return `${this.lockName(a)} ${b === 1 ? 'acquired' : b === 0 ? 'released' : 'held by another: spinning'}${c ? ' (queued)' : ''}`;
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
