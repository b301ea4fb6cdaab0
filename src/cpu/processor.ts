/**
 * Processor: one emulated logical processor, the CPU actor. It keeps the actor's part only: the
 * run loop, the inbox, halt / slice / stop / freeze, and the reports. All of its kernel state is
 * its Prcb (src/kernel/prcb.ts), and the kernel routines that change it live in src/kernel
 * (irql, interrupt, clock, dpc, ipi, spinlock, idle, mm, wait-gate, dispatcher-call), written
 * against the Cpu port (src/kernel/cpu.ts) that CpuCore (src/cpu/cpu-core.ts), its base class,
 * implements. Nobody else changes a CPU's state: other actors send messages (device interrupts,
 * IPIs, DPC links, slice grants), which this CPU acts on at instruction boundaries.
 *
 * The frame stack (src/cpu/frames.ts, innermost last) holds code frames (an interpreted routine)
 * and kernel frames (a generator playing a kernel routine). Interrupts are checked before every
 * step, so they land between any two instructions, nest by IRQL, and a spin (a kernel call that
 * answers RETRY, or a kernel frame that yields SIGNAL_SPIN) keeps taking interrupts above its IRQL.
 *
 * Transport-free: it talks through a ProcessorPort, so the same code runs in a worker
 * (workers/cpu.ts) and in-process. Report prose: src/cpu/report.ts. Sources: nt-semantics.md §1, §2, §7, §9.
 */

import { BugCheck } from '../kernel/bugcheck.js';
import { SIGNAL_HALT, SIGNAL_SPIN, SIGNAL_WAIT } from '../kernel/cpu.js';
import { chargeThreadTime } from '../kernel/dispatcher-call.js';
import { dpcLinkArrived, requestReschedule } from '../kernel/dpc.js';
import { clockTickArrived } from '../kernel/clock.js';
import { deviceCounters, dispatchPendingInterrupt, hasDeliverable, interruptArrived } from '../kernel/interrupt.js';
import { ipiArrived } from '../kernel/ipi.js';
import { irqlName } from '../kernel/irql.js';
import { TraceEvent, traceEventName } from '../kernel/trace-events.js';
import { checkNotWaitNext, threadBodyReturned } from '../kernel/wait-gate.js';
import { STEP_OK, STEP_RETURNED, STEP_RETRY, STEP_YIELD } from '../isa/interpreter.js';
import { ContextField, ControlField, CounterField, DeviceCounterField, MachineState, PrcbField } from '../shm/layout.js';
import { IpiRequest, Kind, MAIN_ACTOR, COORDINATOR_ACTOR, actorOfCpu, decodeMessage, joinTime, timeHi, timeLo, assertNever } from '../ipc/messages.js';
import type { Message, Report, CpuReport } from '../ipc/messages.js';
import type { CpuEvent } from '../contract/result.js';
import { CpuCore, LAST_EVENTS, USER_EVENTS_PER_CPU } from './cpu-core.js';
import { FRAME_CODE, FRAME_KERNEL } from './frames.js';
import type { CodeFrame } from './frames.js';
import { NativeRoutineError } from './native.js';
import { describeDpcQueue, describeEvent, describeFrames, describeHeldLocks, describeInstruction } from './report.js';
import { HeldIpis } from './held-ipis.js';

export { CpuCore, USER_EVENTS_PER_CPU } from './cpu-core.js';
export type { ProcessorPort } from './cpu-core.js';
export { prcbAddress } from '../kernel/prcb.js';
export { threadAddress } from '../kernel/dispatcher-call.js';

/**
 * Deterministic mode: loop turns between two looks at the doorbell. While a CPU runs its slice no
 * other actor runs, so nothing it has not asked for reaches it before the slice ends: the replies
 * to its dispatcher requests are taken in while it waits for them, and a message it sends itself
 * makes it look at once (CpuCore.send). Only host-timed control (a stop, a freeze from the main
 * thread) can arrive mid-slice, and a few hundred instructions later is as good as at once for it.
 * Looking before every instruction cost about half of the run loop's own time.
 */
const DETERMINISTIC_DOORBELL_POLL_INTERVAL = 256;
/**
 * Parallel mode on virtual time: loop turns between two looks at the doorbell. A message is taken
 * at the receiver's clock whenever it is looked at, so a later look costs at most these few
 * instructions of emulated latency (and about a quarter of a µs of host time), against an
 * Atomics.load before every instruction.
 */
const VIRTUAL_DOORBELL_POLL_INTERVAL = 64;
/**
 * --pace host: loop turns between two looks at the doorbell (one before every turn kept every
 * instruction out of Interpreter.stepStraight). 16 turns are under a µs of host time, and a CPU
 * pacing between chunks or asleep sees a message at once.
 */
const HOST_PACED_DOORBELL_POLL_INTERVAL = 16;
/** instructions a thread may run between a Wait = TRUE set/release and its wait */
const WAIT_NEXT_INSTRUCTION_LIMIT = 10_000;
const PAUSE_CYCLES = 10;
/** parallel mode: consecutive spins before a nap, and the nap (see spun()) */
const SPINS_BEFORE_NAP = 256;
const NAP_MS = 0.05;
/** SIGNAL_WAIT: how long one sleep may last before the CPU looks again anyway (a safety net: every answer rings) */
const WAIT_SLEEP_MS = 1000;

/** Why run() returned. */
export const RunExit = { BUDGET: 0, HALT: 1, STOP: 2, FROZEN: 3 } as const;

export class Processor extends CpuCore {
  // ---- run control ----
  private stopRequested = false;
  /** the coordinator's end-of-run time, from RUN_STOP (−1 until then) */
  private runEndNs = -1;
  private frozen = false;
  private pendingBugcheck: BugCheck | null = null;
  /** the doorbell count before the last drain: a different value means new messages */
  private doorbellSeen = -1;
  private spinStreak = 0;
  private haltedSinceNs = -1;
  /** pct and perturb (deterministic mode): IPIs held until this CPU's clock reaches their time (held-ipis.ts) */
  readonly heldIpis: HeldIpis | null = HeldIpis.forConfig(this.config);
  /** Slice grant hook for the deterministic driver (set by the worker loop). */
  onGrant: ((budgetCycles: number, startNs: number, untilNs: number) => void) | null = null;

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
    const paced = this.virtualPace ? VIRTUAL_DOORBELL_POLL_INTERVAL : HOST_PACED_DOORBELL_POLL_INTERVAL;
    const pollInterval = this.config.mode === 'deterministic' ? DETERMINISTIC_DOORBELL_POLL_INTERVAL : paced;
    const virtualPace = this.virtualPace;
    // virtual time: the run raises each held assertion at its time (below), without a chunk per assertion
    let limit = virtualPace ? Math.min(cycleLimit, this.heldDueCycles()) : cycleLimit;
    interp.cycleLimit = limit;
    this.untilDoorbellPoll = 0;
    // --pace host: the host clock is read afresh (CpuCore.now) for each instruction, spin turn, wait
    // and message taken in; kernel steps in between happen at the instant read last
    const hostPaced = this.hostPaced;
    this.cachingHostNow = hostPaced;
    this.hostNowCached = false;
    try {
      for (;;) {
        if (--this.untilDoorbellPoll <= 0) {
          this.untilDoorbellPoll = pollInterval;
          if (Atomics.load(doorbell, doorbellIndex) !== this.doorbellSeen) {
            this.hostNowCached = false;
            this.drainInbox();
            // a message may have moved the clock or held the first assertion
            if (virtualPace) interp.cycleLimit = limit = Math.min(cycleLimit, this.heldDueCycles());
          }
        }
        if (this.workPending) {
          if (this.frozen) return RunExit.FROZEN;
          if (this.stopRequested) return RunExit.STOP;
          if (this.pendingBugcheck) {
            const bugcheck = this.pendingBugcheck;
            this.pendingBugcheck = null;
            throw bugcheck;
          }
          if (dispatchPendingInterrupt(this)) continue;
          this.workPending = false;
        }
        if (interp.cycles >= limit || this.sliceEndRequested) {
          if (limit < cycleLimit && interp.cycles >= limit) {
            this.releaseHeldInterrupts();
            interp.cycleLimit = limit = Math.min(cycleLimit, this.heldDueCycles());
            continue;
          }
          // a thread holding the dispatcher lock after a Wait = TRUE set runs on until its wait
          if (!this.prcb.waitNext) {
            this.sliceEndRequested = false;
            return RunExit.BUDGET;
          }
          if (interp.instructions - this.prcb.waitNextInstructions > WAIT_NEXT_INSTRUCTION_LIMIT)
            checkNotWaitNext(this, `${WAIT_NEXT_INSTRUCTION_LIMIT} instructions without a wait`);
        }
        const frame = this.frames[this.frames.length - 1]!;
        if (frame.kind === FRAME_CODE) {
          this.hostNowCached = false;
          const ctx = frame.ctx;
          const base = frame.base;
          const hostCallsBefore = interp.hostCalls;
          let status = interp.step(ctx, base);
          if (status === STEP_OK) {
            this.spinStreak = 0;
            // The plain instructions that follow run in stepStraight, without the checks at this
            // loop's top: until the interpreter calls its host nothing they look at can change (no
            // message, no frame, no slice-end request) but the cycle count, which it checks, and the
            // poll countdown, which it stops one short of, so the doorbell polls fall where they did.
            // Those checks before every instruction were a third of the run loop's time.
            if (this.untilDoorbellPoll <= 1 || this.sliceEndRequested || interp.hostCalls !== hostCallsBefore) continue;
            status = interp.stepStraight(ctx, base, this.untilDoorbellPoll - 1, limit);
            this.untilDoorbellPoll -= interp.stepsTaken;
            if (status === STEP_OK) continue;
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
            if (interp.cycles >= limit) continue;
            interp.cycles += PAUSE_CYCLES;
            if (virtualPace) this.skipSpin(limit);
            this.spun();
            continue;
          }
          if (status === STEP_YIELD) continue;
          throw new Error(`interpreter returned status ${status}`);
        }
        const signal = frame.gen.next(frame.resume);
        if (signal.done) {
          this.kernelFrameReturned(frame);
          continue;
        }
        if (signal.value === SIGNAL_SPIN) {
          interp.cycles += PAUSE_CYCLES;
          if (virtualPace) this.skipSpin(limit);
          this.spun();
          this.hostNowCached = false;
        } else if (signal.value === SIGNAL_WAIT) {
          // nothing runs until the answer comes: sleep on the doorbell (the replier rings it), then look
          this.untilDoorbellPoll = 0;
          if (Atomics.load(doorbell, doorbellIndex) === this.doorbellSeen && !this.workPending) this.port.sleep(WAIT_SLEEP_MS);
          this.hostNowCached = false;
        } else if (signal.value === SIGNAL_HALT) {
          if (Atomics.load(doorbell, doorbellIndex) !== this.doorbellSeen || hasDeliverable(this)) {
            this.workPending = true;
            continue;
          }
          return RunExit.HALT;
        }
        // SIGNAL_CALL: the code frame just pushed runs next; SIGNAL_SWITCHED: the new bottom frame does
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
      this.cachingHostNow = false;
      this.hostNowCached = false;
      this.f64[this.counters + CounterField.CYCLES] = interp.cycles;
      this.f64[this.counters + CounterField.INSTRUCTIONS] = interp.instructions;
    }
  }

  /**
   * PAUSE-loop exiting: in parallel mode a CPU that keeps spinning (on a spin lock, an IPI
   * acknowledgement) naps briefly on its doorbell, as a hypervisor deschedules a vCPU stuck in a
   * PAUSE loop. With more emulated CPUs than host cores, spinners would otherwise take the host CPU
   * away from the very CPU they wait for. Any message ends the nap at once; emulated time (the host
   * clock) passes as it would while spinning. Only host-paced parallel mode naps: deterministic
   * mode runs only the granted CPU, and on virtual time a spinner's clock skips ahead (skipSpin)
   * until the slack stops it, and it sleeps there (src/cpu/driver.ts).
   */
  private spun(): void {
    if (++this.spinStreak % SPINS_BEFORE_NAP !== 0 || !this.hostPaced) return;
    this.port.sleep(NAP_MS);
  }

  private returnFromCode(frame: CodeFrame): void {
    const result = frame.ctx[frame.base + ContextField.R0]!;
    if (frame.role === 'thread') {
      threadBodyReturned(this, frame.routine, result);
      return;
    }
    this.frames.pop();
    if (frame.role === 'isr' || frame.role === 'dpc') this.latency.routineReturned(this.now());
    const below = this.frames[this.frames.length - 1];
    if (below && below.kind === FRAME_KERNEL) below.resume = result;
  }

  // ======================================================================================
  // Inbox
  // ======================================================================================

  private readonly visitor = (kind: number, w: Int32Array, offset: number, length: number): void => {
    // the commonest message under load, taken without building its object (see handle for the rest)
    if (kind === Kind.IRQ_ASSERT) {
      this.deviceInterruptArrived(w[offset]!, joinTime(w[offset + 2]!, w[offset + 3]!), w[offset + 4]!);
      return;
    }
    // an IPI is on a round trip's critical path: no message object either (as handle() would)
    if (kind === Kind.IPI) {
      this.workPending = true;
      this.ipiMessageArrived(w[offset]!, w[offset + 1]!, joinTime(w[offset + 2]!, w[offset + 3]!));
      return;
    }
    this.handle(decodeMessage(kind, w, offset, length));
  };

  /** IPI: CPU `from` sent request `bits` at `timeNs` (the caller has set workPending). */
  private ipiMessageArrived(from: number, bits: number, timeNs: number): void {
    if (this.heldIpis?.hold(from, bits, timeNs)) return;
    this.takeAt(timeNs);
    if (!ipiArrived(this, from, bits, timeNs)) this.freeze();
  }

  /** IRQ_ASSERT: the IOAPIC delivered an assertion of `vector` raised at `timeNs` by `device`. */
  private deviceInterruptArrived(vector: number, timeNs: number, device: number): void {
    this.workPending = true;
    // sent ahead of its time (fixed delivery, virtual time): raised when this CPU's clock gets there
    if (this.virtualPace && timeNs > this.now()) {
      this.apic.hold(vector, timeNs, device);
      return;
    }
    this.takeAt(timeNs);
    interruptArrived(this, vector, timeNs, device);
  }

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

  private handle(message: Message): void {
    this.workPending = true;
    switch (message.type) {
      case 'irq/assert':
        this.deviceInterruptArrived(message.vector, message.timeNs, message.device);
        return;
      case 'clock/tick':
        this.takeAt(message.timeNs);
        clockTickArrived(this, message.timeNs, message.timerRequest);
        return;
      case 'ipi':
        this.ipiMessageArrived(message.from, message.bits, message.timeNs);
        return;
      case 'dpc/link':
        this.takeAt(message.timeNs);
        dpcLinkArrived(this, message.dpc, message.tag, message.timeNs, message.fromIsr);
        return;
      case 'slice/grant':
        this.onGrant?.(message.budgetCycles, message.startNs, message.untilNs);
        return;
      case 'run/stop':
        this.takeAt(message.timeNs);
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
        requestReschedule(this);
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
      case 'run/done':
      case 'dispatch/request':
        throw new Error(`CPU ${this.cpu} cannot handle '${message.type}'`);
      default:
        assertNever(message);
    }
  }

  /** Parallel mode on virtual time: halted with nothing to do until `untilNs` (a held interrupt's time): that stretch is idle. */
  idleUntil(untilNs: number): void {
    if (untilNs <= this.now()) return;
    this.enterHalt();
    this.takeAt(untilNs);
    this.leaveHalt();
  }

  /** A bugcheck that the coordinator asks this CPU to raise (the clock watchdog). */
  raiseBugcheck(code: number, p1: number, p2: number, p3: number, p4: number): void {
    this.pendingBugcheck = new BugCheck(code, p1, p2, p3, p4);
    this.workPending = true;
  }

  // ======================================================================================
  // Halt, slices, stop
  // ======================================================================================

  /** Deterministic mode: a slice starts at emulated time startNs. */
  beginSlice(startNs: number): void {
    const current = this.now();
    if (startNs > current) {
      if (this.haltedSinceNs >= 0) this.f64[this.counters + CounterField.IDLE_NS] += Math.min(startNs, this.config.durationNs) - this.haltedSinceNs;
      this.prcb.lastIrqlChangeNs += startNs - current;
      this.sliceStartNs = startNs;
    } else {
      this.sliceStartNs = current;
    }
    this.haltedSinceNs = -1;
    this.sliceStartCycles = this.interp.cycles;
    this.i32[this.prcb.shared + PrcbField.IDLE] = 0;
  }

  get cycles(): number {
    return this.interp.cycles;
  }

  /** The CPU has nothing to do: mark it idle until woken. */
  enterHalt(): void {
    const now = this.now();
    const counted = Math.min(now, this.config.durationNs);
    this.f64[this.counters + CounterField.TIME_AT_IRQL + this.prcb.irql] += counted - this.prcb.lastIrqlChangeNs;
    this.prcb.lastIrqlChangeNs = counted;
    this.haltedSinceNs = counted;
    // on virtual time the idle set is the board's (src/shm/virtual-time.ts), with its ordering rules
    if (!this.virtualPace) this.i32[this.prcb.shared + PrcbField.IDLE] = 1;
    this.f64[this.counters + CounterField.TIME_NS] = now;
  }

  /** Parallel mode: woken from a halt (on virtual time, after taking what woke it: its clock has moved to it). */
  leaveHalt(): void {
    const now = this.countedNow();
    if (this.haltedSinceNs >= 0) this.f64[this.counters + CounterField.IDLE_NS] += now - this.haltedSinceNs;
    this.haltedSinceNs = -1;
    this.prcb.lastIrqlChangeNs = now;
    if (!this.virtualPace) this.i32[this.prcb.shared + PrcbField.IDLE] = 0;
  }

  /** Parallel mode on virtual time: the driver's record of how far ahead of the GVT this CPU ran, and how often it waited. */
  readonly virtualTime = { maxSkewNs: 0, slackWaits: 0 };

  get halted(): boolean {
    return this.haltedSinceNs >= 0;
  }

  get isStopRequested(): boolean {
    return this.stopRequested;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Stop at the end of the run (RUN_STOP). */
  stop(): void {
    // deterministic mode: a halted CPU's clock stood still at its halt, but the run went on to its
    // end, and that stretch is idle time (parallel mode counts it when RUN_STOP wakes the CPU)
    if (this.config.mode === 'deterministic' && this.halted && this.runEndNs > this.now()) this.beginSlice(this.runEndNs);
    chargeThreadTime(this, this.now());
    this.enterHalt();
    this.port.sendReport(MAIN_ACTOR, this.finalReport(false));
    this.port.flush();
  }

  // ======================================================================================
  // Bugcheck and freeze (§7.3, §11), reports
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
      irql: this.prcb.irql,
      timeNs: now,
      frames: describeFrames(this.frames, this.prcb.irql, this.config),
      faultingInstruction: describeInstruction(this.frames, this.interp.code, this.config),
      detail: error.detail,
    } satisfies Report);
    this.freeze();
  }

  private freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    chargeThreadTime(this, this.now());
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
      irql: this.prcb.irql,
      irqlName: irqlName(this.config.arch, this.prcb.irql),
      frames: describeFrames(this.frames, this.prcb.irql, this.config),
      lastEvents: this.describeLastEvents(),
      traceHash: this.hash.hex(),
      traceEvents: this.traceCount,
      latency: this.latency.report(),
      dpcQueue: describeDpcQueue(this.prcb, this.i32, this.layout, this.config, this.names),
      heldLocks: describeHeldLocks(this.prcb, this.config, this.names),
      userEvents: this.userEvents,
      userEventsDropped: this.userEventsDropped,
      userEventsLimit: USER_EVENTS_PER_CPU,
      timeNs: this.now(),
      ...(this.virtualPace ? { virtualTime: { ...this.virtualTime } } : {}),
    };
  }

  /** The last-events window, oldest first, each described. */
  describeLastEvents(): CpuEvent[] {
    const out: CpuEvent[] = [];
    const count = Math.min(this.lastEventNext, LAST_EVENTS);
    const w = this.lastEventWords;
    for (let i = this.lastEventNext - count; i < this.lastEventNext; i++) {
      const slot = i % LAST_EVENTS;
      const event = w[slot * 4]!;
      const detail = describeEvent(this.config, this.names, event, w[slot * 4 + 1]!, w[slot * 4 + 2]!, w[slot * 4 + 3]!);
      out.push({ timeNs: this.lastEventTimes[slot]!, cpu: this.cpu, event: traceEventName(event), detail });
    }
    return out;
  }

  /**
   * Once the CPU has stopped or frozen, the device assertions still in its inbox will never reach
   * its local APIC: count them (DeviceCounterField.UNDELIVERED) so that the run's interrupt
   * accounting still sees every assertion. The worker calls this last, before it exits.
   */
  countUndeliveredInterrupts(): void {
    const undelivered = (device: number): void => {
      const counters = deviceCounters(this, device);
      if (counters >= 0) this.f64[counters + DeviceCounterField.UNDELIVERED] += 1;
    };
    for (const queue of this.collected) for (const message of queue ?? []) if (message.type === 'irq/assert') undelivered(message.device);
    this.collected.length = 0;
    for (const source of this.apic.heldSourcesLeft()) undelivered(source);
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
      what: `native routine '${error.routine}' (called on CPU ${this.cpu} at ${irqlName(this.config.arch, this.prcb.irql)})`,
      thrown: error.thrownText,
      stack: error.thrown instanceof Error ? (error.thrown.stack ?? '') : '',
    } satisfies Report);
    this.port.flush();
  }
}
