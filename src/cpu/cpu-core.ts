/**
 * CpuCore: the processor as the kernel sees it. It implements the Cpu port (src/kernel/cpu.ts)
 * that kernel routines run against (its Prcb, the shared views, the clock, trace records, pushing
 * code and kernel frames, a dispatcher request) and the interpreter's host (ExecHost: kernel calls
 * through the table of src/kernel/kcall-table.ts, natives, faults). The actor around it (run loop,
 * inbox, slices, halt, stop, freeze, reports) is Processor (src/cpu/processor.ts).
 */

import { BugCheck, BUGCHECK } from '../kernel/bugcheck.js';
import type { Cpu, DispatchReply, KernelGenerator, RunningRoutine } from '../kernel/cpu.js';
import { SIGNAL_SPIN, SIGNAL_WAIT } from '../kernel/cpu.js';
import { idleLoop } from '../kernel/idle.js';
import { PASSIVE_LEVEL, irqlTable, vectorToIrql } from '../kernel/irql.js';
import { interruptArrived } from '../kernel/interrupt.js';
import type { IrqlTable } from '../kernel/irql.js';
import { KERNEL_CALL_HANDLERS } from '../kernel/kcall-table.js';
import { checkAccess, isMapped, memoryFault } from '../kernel/mm.js';
import { Prcb } from '../kernel/prcb.js';
import type { HeldLock } from '../kernel/prcb.js';
import { KernelMode, STATUS, UserMode } from '../kernel/status.js';
import { serviceCallFromUserMode } from '../kernel/service-call.js';
import { TraceEvent } from '../kernel/trace-events.js';
import { checkNotWaitNext } from '../kernel/wait-gate.js';
import { LocalApic } from '../hal/lapic.js';
import { Interpreter, enterRoutine, KCALL_DONE, CHECK_RETRY, PAGE_FLAG_PAGEABLE, PAGE_FLAG_NO_ACCESS } from '../isa/interpreter.js';
import type { ExecHost } from '../isa/interpreter.js';
import { KC, kernelCallById } from '../isa/kcalls.js';
import { ContextField, CounterField, PrcbField, ThreadField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { Kind, COORDINATOR_ACTOR, actorOfCpu, timeHi, timeLo } from '../ipc/messages.js';
import type { ActorPort, HostClock } from '../ipc/actor-port.js';
import { InternalError } from '../util/errors.js';
import { TraceHash } from '../util/hash.js';
import type { ProcessorConfig } from '../contract/config.js';
import type { VirtualTimeBoard } from '../shm/virtual-time.js';
import { FRAME_CODE, FRAME_KERNEL, isUserCode } from './frames.js';
import type { CodeFrame, Frame, KernelFrame } from './frames.js';
import { callNative } from './native.js';
import { LatencyRecorder } from './latency-recorder.js';
import type { NativeRoutine } from './native.js';
import { ConfigNames, describeHolder, describeRunning } from './report.js';

/** What a processor needs from the transport. */
export type ProcessorPort = ActorPort;

/** deterministic mode: the cycles a dispatcher request costs the caller (the request itself takes no host-timed spinning) */
export const DISPATCHER_CALL_CYCLES = 300;
/** host ms a CPU waits for the coordinator's answer before declaring the emulator broken */
const DISPATCHER_REPLY_TIMEOUT_MS = 30_000;
/** cycles a kernel call costs */
const KERNEL_CALL_CYCLES = 20;
const MAX_FRAMES = 64;
export const LAST_EVENTS = 32;
/**
 * TRACE events each CPU keeps for run.userEvents (the final report carries them to the main
 * thread); later ones are counted in userEventsDropped, which the results and the summary show.
 */
export const USER_EVENTS_PER_CPU = 100_000;

export abstract class CpuCore implements ExecHost, Cpu {
  readonly cpu: number;
  readonly config: ProcessorConfig;
  readonly table: IrqlTable;
  readonly layout: MachineLayout;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly memory: Int32Array;
  protected readonly port: ProcessorPort;
  private readonly hostClock: HostClock;
  protected readonly interp: Interpreter;
  readonly pageFlags: Uint8Array;
  /** all of this CPU's kernel state */
  readonly prcb: Prcb;
  readonly apic: LocalApic;
  readonly counters: number;
  readonly names: ConfigNames;
  protected readonly frames: Frame[] = [];
  private readonly contexts: Int32Array;
  /** pushCall's frame at each depth (its context is this CPU's frame area at that depth) */
  private readonly callFrames: Array<CodeFrame | undefined> = [];
  private readonly idleGen: KernelGenerator;
  private readonly argScratch = new Int32Array(4);
  /** the threads declared `mode: 'user'`: their bottom frame runs in user mode */
  private readonly userThreads: ReadonlySet<number>;
  /** the dispatcher's answer to this CPU's last request */
  protected dispatcherReply: DispatchReply | null = null;
  /** a page fault pushed its MmAccessFault frame during the step that reported CHECK_RETRY */
  protected faultFramePushed = false;
  /** the KCALL being executed (its pc and id), so that a frame it pushes or a fault inside it can name it */
  private kcallPc = -1;
  private kcallId = -1;
  natives: Array<NativeRoutine | undefined> | null = null;
  /**
   * Something may have become deliverable (an interrupt posted, a software interrupt requested, the
   * IRQL lowered) or a control flag set: check before the next instruction. Cleared when a check
   * finds nothing, so a busy CPU pays one boolean test per instruction.
   */
  workPending = true;
  /** loop turns until the run loop next looks at the doorbell (0: at the next turn) */
  protected untilDoorbellPoll = 0;
  /** deterministic mode: a message went to a halted CPU; the slice ends at the next boundary */
  protected sliceEndRequested = false;

  // ---- time ----
  protected sliceStartNs = 0;
  protected sliceStartCycles = 0;
  private readonly cyclesPerNs: number;
  /** deterministic mode (the trace hash folds in each record's time) */
  private readonly deterministic: boolean;
  /** parallel mode with --pace host: emulated time is the host clock (times the time scale) */
  protected readonly hostPaced: boolean;
  /** parallel mode on virtual time: the clock is executed cycles, bounded by the slack (src/shm/virtual-time.ts) */
  readonly virtualPace: boolean;
  /** parallel mode on virtual time: the shared clocks (set by the driver) */
  board: VirtualTimeBoard | null = null;

  // ---- observation ----
  protected readonly hash = new TraceHash();
  protected traceCount = 0;
  /** the last LAST_EVENTS records, a ring (time, event, a, b, c), for the bugcheck report */
  protected readonly lastEventTimes = new Float64Array(LAST_EVENTS);
  protected readonly lastEventWords = new Int32Array(LAST_EVENTS * 4);
  protected lastEventNext = 0;
  /** latency series and per-routine execution times (the --latency report); records nothing in the trace */
  readonly latency: LatencyRecorder;
  readonly userEvents: Array<{ cpu: number; timeNs: number; tag: number; value: number }> = [];
  /** TRACE events past USER_EVENTS_PER_CPU: still in the trace and the hash, not in run.userEvents */
  protected userEventsDropped = 0;

  /** Take in the messages that have arrived (a dispatcher reply among them). */
  abstract drainInbox(): void;
  constructor(config: ProcessorConfig, sab: SharedArrayBuffer, layout: MachineLayout, port: ProcessorPort, hostClock: HostClock) {
    this.config = config;
    this.cpu = config.cpu;
    this.userThreads = new Set(config.threads.filter((t) => t.userMode).map((t) => t.id));
    this.table = irqlTable(config.arch);
    this.layout = layout;
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.memory = new Int32Array(sab, layout.memory * 4, layout.params.memoryWords);
    const code = new Int32Array(sab, layout.code * 4, layout.params.codeWords);
    this.port = port;
    this.hostClock = hostClock;
    this.cyclesPerNs = config.cyclesPerNs;
    this.deterministic = config.mode === 'deterministic';
    this.hostPaced = config.mode === 'parallel' && config.pace === 'host';
    this.virtualPace = config.mode === 'parallel' && config.pace === 'virtual';
    this.counters = layout.counters(this.cpu);
    this.names = new ConfigNames(config);
    this.prcb = new Prcb(this.cpu, layout.prcb(this.cpu), config.dpc, config.interrupts);
    this.pageFlags = new Uint8Array(Math.ceil((layout.params.memoryWords * 4) / 4096) + 1);
    // accesses to pageable pages go through checkAccess (is the page resident?)
    for (const page of config.pageable) this.pageFlags[page] = PAGE_FLAG_PAGEABLE;
    // page 0 stays unmapped, as in NT, so that a NULL dereference faults instead of reading a value
    this.pageFlags[0] = PAGE_FLAG_NO_ACCESS;
    this.interp = new Interpreter(code, this.memory, this);
    this.contexts = new Int32Array(MAX_FRAMES * ContextField.WORDS);
    const irqlOfVector = new Int32Array(256);
    for (let v = 0; v < 256; v++) irqlOfVector[v] = Math.min(this.table.high, vectorToIrql(this.table, v));
    irqlOfVector[this.table.clockVector] = this.table.clock;
    irqlOfVector[this.table.clockIpiVector] = this.table.clock;
    irqlOfVector[this.table.ipiVector] = this.table.ipi;
    // the IRQL a device vector interrupts at is the one its interrupt object declares
    for (const intr of config.interrupts) irqlOfVector[intr.vector] = intr.irql;
    this.apic = new LocalApic(irqlOfVector, config.lazyIrql);
    this.latency = new LatencyRecorder((routine) => this.names.routine(routine));
    if (config.latencyBreakAboveNs !== undefined) this.latency.armBreak(config.latencyBreakAboveNs, (event, a, b, c) => this.annotate(event, a, b, c));
    this.i32[this.prcb.shared + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH] = this.prcb.dpcRate.maximumDpcQueueDepth;
    this.idleGen = idleLoop(this);
    this.frames.push(this.idleFrame());
  }

  private idleFrame(): KernelFrame {
    return { kind: FRAME_KERNEL, irql: PASSIVE_LEVEL, name: 'KiIdleLoop', role: 'idle', gen: this.idleGen, resume: 0, hardware: false, callPc: -1 };
  }

  /** The bottom frame of a (non-idle) thread: its context in the shared thread table. */
  private threadFrame(threadId: number): CodeFrame {
    const base = this.layout.thread(threadId - 1) + ThreadField.CONTEXT;
    const routine = this.i32[base + ContextField.ROUTINE]!;
    const mode = this.userThreads.has(threadId) ? UserMode : KernelMode;
    return { kind: FRAME_CODE, irql: PASSIVE_LEVEL, role: 'thread', ctx: this.i32, base, routine, onInterruptStack: false, serial: 0, mode };
  }

  /** The current IRQL (the Prcb's). */
  get irql(): number {
    return this.prcb.irql;
  }

  // ======================================================================================
  // The Cpu port (src/kernel/cpu.ts): what kernel routines use of this processor
  // ======================================================================================

  /**
   * --pace host: the host clock as last read in Processor.run, which clears it before each
   * instruction, after each spin turn and wait, when messages come in, and when it returns. A kernel
   * step reads the time several times (setIrql, record, the message it sends: an IPI's path read it
   * ~13 times per round trip) at 66–94 ns a read on a VM, and what one step does happens at one
   * instant anyway.
   */
  protected hostNowCached = false;
  private hostNowValue = 0;
  /** --pace host: Processor.run is running a turn (the cache above is only filled there) */
  protected cachingHostNow = false;

  /** This CPU's emulated time in ns. */
  now(): number {
    if (this.hostPaced) {
      if (this.hostNowCached) return this.hostNowValue;
      const t = this.hostClock();
      if (this.cachingHostNow) {
        this.hostNowValue = t;
        this.hostNowCached = true;
      }
      return t;
    }
    return this.sliceStartNs + (this.interp.cycles - this.sliceStartCycles) / this.cyclesPerNs;
  }

  /**
   * Parallel mode on virtual time: a message sent at `sentNs` is being taken. The receiver's clock
   * never falls behind what it takes (an interrupt is never taken before it was raised): a clock
   * that is behind jumps to the send time.
   */
  takeAt(sentNs: number): void {
    if (!this.virtualPace) return;
    const current = this.now();
    if (sentNs <= current) return;
    this.sliceStartNs = sentNs;
    this.sliceStartCycles = this.interp.cycles;
  }

  /**
   * The time the counters (time at IRQL, idle, a thread's run time) are charged up to: now, but
   * never past the run's end. A CPU of an overloaded parallel run takes its RUN_STOP late, and the
   * host time it spent getting there is not time the emulated run had.
   */
  countedNow(): number {
    return Math.min(this.now(), this.config.durationNs);
  }

  chargeCycles(cycles: number): void {
    this.interp.cycles += cycles;
  }

  stall(ctx: Int32Array, base: number, cycles: number): boolean {
    return this.interp.burn(ctx, base, cycles);
  }

  get instructions(): number {
    return this.interp.instructions;
  }

  send(to: number, kind: number, length: number, w0?: number, w1?: number, w2?: number, w3?: number, w4?: number): void {
    this.port.send(to, kind, length, w0, w1, w2, w3, w4);
    // a message to itself is to be taken in at the next instruction boundary, as before any other
    if (to === actorOfCpu(this.cpu)) this.untilDoorbellPoll = 0;
    // after the publish (the order matters, see virtual-time.ts): a halted target rejoins the running set at our time
    else if (this.board !== null && to >= actorOfCpu(0)) this.board.wakeIfHalted(to - actorOfCpu(0), this.now());
  }

  /**
   * Deterministic mode: a message to a halted CPU ends this slice at the next instruction boundary,
   * so the coordinator wakes that CPU at this CPU's time (a lone CPU may otherwise get long slices).
   */
  wakingHalted(target: number): void {
    if (this.config.mode === 'deterministic' && this.i32[this.layout.prcb(target) + PrcbField.IDLE] === 1) this.sliceEndRequested = true;
  }

  /**
   * Parallel mode: another CPU spins on a word this CPU just changed and may be napping on its
   * doorbell (see spun()): ring it. Deterministic mode never naps, and a ring would wake a halted CPU
   * for nothing.
   */
  nudge(target: number): void {
    if (this.config.mode === 'parallel') this.port.wake(actorOfCpu(target));
  }

  /**
   * Send a dispatcher request and wait for the answer (taking the dispatcher lock is asking the
   * coordinator, which serves one request at a time). Deterministic mode blocks for the answer at a
   * fixed cycle cost (nothing else runs meanwhile, so the run stays replayable). Parallel mode
   * waits taking interrupts above SYNCH_LEVEL: on virtual time at the same fixed cost, since how
   * long the coordinator takes to answer is host time, which must never become emulated time; with
   * --pace host it spins, as the host clock runs on anyway.
   */
  *requestDispatcher(words: Int32Array, length: number): Generator<number, DispatchReply, number> {
    this.dispatcherReply = null;
    this.port.sendWords(COORDINATOR_ACTOR, Kind.DISPATCH_REQUEST, words, 0, length);
    this.port.flush();
    if (this.config.mode === 'deterministic') {
      const deadline = performance.now() + DISPATCHER_REPLY_TIMEOUT_MS;
      while (this.dispatcherReply === null) {
        if (!this.port.hasWork()) this.port.sleep(10);
        this.drainInbox();
        if (performance.now() > deadline)
          throw new InternalError(`CPU ${this.cpu}: the coordinator did not answer dispatcher request ${words[0]} within ${DISPATCHER_REPLY_TIMEOUT_MS} ms`);
      }
      this.interp.cycles += DISPATCHER_CALL_CYCLES;
    } else if (this.virtualPace) {
      while (this.dispatcherReply === null) yield SIGNAL_WAIT;
      this.interp.cycles += DISPATCHER_CALL_CYCLES;
    } else {
      while (this.dispatcherReply === null) {
        // the answer is a message: look at the doorbell at every turn of this spin
        this.untilDoorbellPoll = 0;
        yield SIGNAL_SPIN;
      }
    }
    const reply: DispatchReply = this.dispatcherReply;
    this.dispatcherReply = null;
    // what came with the reply is looked at before the next instruction, as always
    this.untilDoorbellPoll = 0;
    return reply;
  }

  /** Push a code frame that the kernel frame below is waiting on; the caller then yields SIGNAL_CALL. */
  pushCall(role: string, routine: number, a1 = 0, a2 = 0, a3 = 0, a4 = 0, mode = KernelMode): void {
    if (this.frames.length >= MAX_FRAMES) throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, this.currentPc(), 0, 0);
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
    const serial = role === 'dpc' || role === 'isr' ? ++this.prcb.routineSerial : 0;
    // one frame object per depth, reused: every ISR, DPC and IPI worker is a call, and nothing keeps
    // a frame once it is popped (reports and the DPC watchdog read the stack as it stands)
    const depth = this.frames.length;
    let frame = this.callFrames[depth];
    if (frame === undefined) {
      frame = { kind: FRAME_CODE, irql: this.prcb.irql, role, ctx: this.contexts, base, routine, onInterruptStack: true, serial, mode };
      this.callFrames[depth] = frame;
    } else {
      frame.irql = this.prcb.irql;
      frame.role = role;
      frame.routine = routine;
      frame.serial = serial;
      frame.mode = mode;
    }
    this.frames.push(frame);
    if (role === 'isr' || role === 'dpc') this.latency.routineStarted(role, routine, this.now());
  }

  /** `interruptedIrql`: the level the frame below was running at (what reports show for it). */
  pushKernel(name: string, role: string, gen: KernelGenerator, hardware: boolean, interruptedIrql = this.prcb.irql): void {
    if (this.frames.length >= MAX_FRAMES) throw new BugCheck(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, this.currentPc(), 0, 0);
    // the kernel entered from user mode (an interrupt, a service's frame): the return to that frame is a kernel → user transition
    if (isUserCode(this.frames[this.frames.length - 1])) this.prcb.userReturnPending = true;
    this.frames.push({ kind: FRAME_KERNEL, irql: interruptedIrql, name, role, gen, resume: 0, hardware, callPc: hardware ? -1 : this.kcallPc });
    if (hardware) {
      this.latency.interruptEntered(this.now());
      const nesting = ++this.prcb.nesting;
      if (nesting > this.f64[this.counters + CounterField.MAX_NESTING]!) this.f64[this.counters + CounterField.MAX_NESTING] = nesting;
    }
  }

  /** A kernel frame's generator returned: pop it; back on a user-mode frame, the kernel → user return is looked at before its next instruction. */
  protected kernelFrameReturned(frame: KernelFrame): void {
    this.frames.pop();
    if (frame.hardware) this.hardwareFrameReturned();
    if (this.prcb.userReturnPending) this.workPending = true;
  }

  /** A hardware interrupt's kernel frame returned (popped by the run loop). */
  protected hardwareFrameReturned(): void {
    this.prcb.nesting--;
    this.latency.interruptExited(this.now());
  }

  switchBottomFrame(threadId: number): void {
    const frame = threadId === this.prcb.idleThread ? this.idleFrame() : this.threadFrame(threadId);
    this.frames[0] = frame;
    // a user-mode thread was switched out in the kernel: it resumes by returning to user mode
    this.prcb.userReturnPending = isUserCode(frame);
    if (this.prcb.userReturnPending) this.workPending = true;
  }

  callerMode(): number {
    return isUserCode(this.frames[this.frames.length - 1]) ? UserMode : KernelMode;
  }

  previousMode(): number {
    return this.frames.some(isUserCode) ? UserMode : KernelMode;
  }

  frameCount(): number {
    return this.frames.length;
  }

  /** The frame stack, innermost last, read-only (the inspector's `k`, src/inspect/). */
  get frameStack(): readonly Frame[] {
    return this.frames;
  }

  frameRole(index: number): string | undefined {
    return this.frames[index]?.role;
  }

  runningRoutine(): RunningRoutine | null {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE && f.serial !== 0) return f;
    }
    return null;
  }

  inIsr(): boolean {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const role = this.frames[i]!.role;
      if (role === 'isr') return true;
      if (role === 'dpc' || role === 'thread' || role === 'dispatch') return false;
    }
    return false;
  }

  currentPc(): number {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === FRAME_CODE) return f.ctx[f.base + ContextField.PC]!;
    }
    return 0;
  }

  describeRunning(frameIndex = this.frames.length - 1): string {
    return describeRunning(this.frames, frameIndex, this.names, this.prcb.currentThread);
  }

  codeFrameAt(frameIndex: number): number {
    for (let i = Math.min(frameIndex, this.frames.length - 1); i >= 0; i--) if (this.frames[i]!.kind === FRAME_CODE) return i;
    return -1;
  }

  frameRoutine(index: number): number {
    const frame = this.frames[index];
    return frame !== undefined && frame.kind === FRAME_CODE ? frame.routine : -1;
  }

  describeLockHolder(held: HeldLock): string {
    return describeHolder(held.holderRole, held.holderRoutine, this.names, held.thread);
  }

  kernelRoutineName(): string {
    const top = this.frames[this.frames.length - 1];
    if (top !== undefined && top.kind === FRAME_KERNEL) return top.name;
    return (this.kcallId >= 0 ? kernelCallById(this.kcallId)?.name : undefined) ?? 'a kernel routine';
  }

  record(event: number, a: number, b: number, c: number): void {
    const time = this.now();
    const hash = this.hash;
    if (this.deterministic) {
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

  sampleLatency(which: number, value: number): void {
    this.latency.sample(which, value);
  }

  annotate(event: number, a: number, b: number, c: number): void {
    this.port.trace?.(this.now(), event, a, b, c);
  }

  // ======================================================================================
  // Parallel mode on virtual time: held assertions, spins
  // ======================================================================================

  /**
   * Parallel mode on virtual time: a spin turn that found nothing new (a spin lock still held, an
   * acknowledgement not yet in) skips this CPU's clock ahead to the spin horizon, the earliest time
   * anything it waits for can change (VirtualTimeBoard.spinHorizon: the other running CPUs'
   * published clocks, the coordinator's next event), and never past `limit` (the slack, the next
   * held interrupt). Every turn it skips would have read the same words with the same result: no
   * other CPU writes at an emulated time before its own clock, and nothing is delivered before the
   * next event. As the spin loops of simulators are fast-forwarded, and for the same reason: a
   * spin turn costs ~100 ns of host time for 10 emulated cycles, a tenth of the emulated rate of
   * ordinary code, so a spinner was the laggard that the CPU it waits for stopped at the slack for.
   * What the guest sees is the time passing (its cycles, KeQueryPerformanceCounter) as if it had
   * spun all along, and it sees the change it waits for near the clock of the CPU that made it
   * (as last published), where a slow spinner saw it up to the slack earlier. Parallel mode only.
   */
  protected skipSpin(limit: number): void {
    const board = this.board;
    if (board === null) return;
    const interp = this.interp;
    const skip = Math.floor((board.spinHorizon(this.cpu) - this.now()) * this.config.cyclesPerNs);
    if (skip > 0) interp.cycles += Math.min(skip, Math.max(0, limit - interp.cycles));
  }

  /**
   * Parallel mode on virtual time: the held device assertions whose time this CPU's clock has
   * reached (within a cycle) go into the local APIC now, stamped with their own time.
   */
  releaseHeldInterrupts(): void {
    const apic = this.apic;
    const horizon = this.now() + 1 / this.config.cyclesPerNs;
    while (apic.nextHeldNs() < horizon) {
      apic.takeHeld();
      interruptArrived(this, apic.heldTakenVector, apic.heldTakenNs, apic.heldTakenSource);
      this.workPending = true;
    }
  }

  /** Parallel mode on virtual time: the cycle count at which the next held assertion is due (Infinity: none held). */
  protected heldDueCycles(): number {
    const heldNs = this.apic.nextHeldNs();
    if (heldNs === Infinity) return Infinity;
    return this.interp.cycles + Math.max(0, Math.floor((heldNs - this.now()) * this.config.cyclesPerNs));
  }

  // ======================================================================================
  // The interpreter's host (ExecHost): kernel calls, natives, faults, TRACE
  // ======================================================================================

  kernelCall(id: number, args: Int32Array, _argCount: number, ctx: Int32Array, base: number): number {
    // a kernel frame this call pushes reports the KCALL as its instruction (the caller's pc moves past it)
    this.kcallPc = ctx[base + ContextField.PC]!;
    this.kcallId = id;
    try {
      this.interp.cycles += KERNEL_CALL_CYCLES;
      if (this.prcb.waitNext && id !== KC.KeWaitForSingleObject && id !== KC.KeWaitForMultipleObjects)
        checkNotWaitNext(this, kernelCallById(id)?.name ?? `kernel call ${id}`);
      // a call from user mode: a system service enters the kernel (and its return is a system-service exit); any other is 0x1E
      if (isUserCode(this.frames[this.frames.length - 1])) serviceCallFromUserMode(this, id);
      const handler = KERNEL_CALL_HANDLERS[id];
      if (handler === undefined) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.NOT_IMPLEMENTED, this.currentPc(), id, 0);
      return handler(this, args, ctx, base);
    } finally {
      this.kcallPc = -1;
      this.kcallId = -1;
    }
  }

  nativeCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number {
    const result = callNative(this, this.natives?.[id], id, args.subarray(0, argCount));
    if (typeof result === 'number') ctx[base + ContextField.R0] = result | 0;
    return KCALL_DONE;
  }

  memoryFault(address: number, access: number, pc: number): void {
    memoryFault(this, address, access, pc);
  }

  checkAccess(address: number, access: number, pc: number): number {
    const check = checkAccess(this, address, access, pc);
    if (check === CHECK_RETRY) this.faultFramePushed = true;
    return check;
  }

  /** Inside emulated memory and not on an unmapped page (page 0). */
  isMapped(address: number): boolean {
    return isMapped(this, address);
  }

  arithmeticFault(pc: number): void {
    throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INTEGER_DIVIDE_BY_ZERO, pc, 0, 0);
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
}
