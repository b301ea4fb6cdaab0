/**
 * Coordinator: the actor that owns the machine-wide state. It holds the dispatcher database
 * (src/kernel/dispatcher.ts: threads, ready lists, dispatcher objects and their wait lists) and
 * serves the CPUs' dispatcher requests one at a time, which is what makes it NT's dispatcher lock;
 * the IOAPIC (device line → vector → CPU), the device interrupt sources, the clock source and the
 * clock watchdog; and in deterministic mode it is the slice scheduler: it grants execution slices to
 * one CPU at a time, in a seeded order, over a virtual clock derived from cycle counts.
 *
 * It never runs CPU code and never touches a CPU's private state: it answers requests and sends
 * messages. It reads published PRCB words (IRQL for lowest-priority delivery, TICKS_TAKEN for the
 * watchdog). Transport-free like the Processor; workers/coordinator.ts wires it.
 */

import { InterruptSource } from '../hal/device.js';
import type { DeviceConfig } from '../hal/device.js';
import { IoApic } from '../hal/ioapic.js';
import { ClockSource } from '../hal/clock-source.js';
import { BUGCHECK } from '../kernel/bugcheck.js';
import { DispatcherDatabase } from '../kernel/dispatcher.js';
import type { Caller, DispatchOutcome } from '../kernel/dispatcher.js';
import { ResumeAction } from '../kernel/thread.js';
import { BOOT_SYSTEM_TIME } from '../kernel/timer.js';
import { WaitType } from '../kernel/status.js';
import {
  Kind,
  MAIN_ACTOR,
  actorOfCpu,
  cpuOfActor,
  decodeMessage,
  joinTime,
  timeHi,
  timeLo,
  assertNever,
  DispatcherOp,
  RequestFlag,
  ReplyFlag,
  DISPATCH_REPLY_WORDS,
} from '../ipc/messages.js';
import type { Message, ThreadReport } from '../ipc/messages.js';
import { ControlField, DeviceCounterField, DoorbellField, MachineState, PrcbField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import type { MachineConfig } from '../cpu/config.js';
import type { ProcessorPort, HostClock } from '../cpu/processor.js';
import { prcbAddress } from '../cpu/processor.js';
import { TraceHash } from '../util/hash.js';
import { Prng, deriveSeed } from '../util/prng.js';

/** Slice lengths in deterministic mode, in cycles: seeded, so another seed interleaves differently. */
const MIN_SLICE_CYCLES = 64;
const MAX_SLICE_CYCLES = 16384;
/** a lone runnable CPU's slice: up to the next event, at most this (progress reports stay live) */
const MAX_LONE_SLICE_CYCLES = 50_000_000;
/**
 * send times kept per CPU for the clock watchdog (more than validate.ts's MAX_CLOCK_WATCHDOG_TICKS);
 * a CPU this many ticks behind is overdue whatever its times
 */
const TICK_SEND_HISTORY = 4096;
/** parallel mode: the coordinator never sleeps less than this between deliveries */
const MIN_PARALLEL_SLEEP_MS = 0.1;

type DispatchRequest = Extract<Message, { type: 'dispatch/request' }>;

interface PendingEvent {
  timeNs: number;
  source: 'device' | 'clock';
  index: number;
}

export class Coordinator {
  private readonly config: MachineConfig;
  private readonly layout: MachineLayout;
  private readonly i32: Int32Array;
  private readonly port: ProcessorPort;
  private readonly hostClock: HostClock;
  private readonly devices: InterruptSource[];
  private readonly ioapic = new IoApic();
  private readonly clock: ClockSource;
  private readonly prng: Prng;
  private readonly hash = new TraceHash();
  private traceCount = 0;
  private bugchecked = false;
  private bugcheckCpu = -1;
  private watchdogFired = false;
  private sliceDone: Extract<Message, { type: 'slice/done' }> | null = null;
  /** deterministic bookkeeping */
  private readonly localNs: number[];
  private readonly halted: boolean[];
  private readonly doorbellAtHalt: number[];
  private slices = 0;
  /** the dispatcher database: NT's dispatcher lock is this actor serving one request at a time */
  readonly dispatcher: DispatcherDatabase;
  /** requests from other CPUs while one holds the dispatcher lock across a Wait = TRUE set/release */
  private readonly deferredRequests: DispatchRequest[] = [];
  private readonly replyWords = new Int32Array(DISPATCH_REPLY_WORDS + 64);
  /** clock interrupts sent to each CPU (the clock watchdog compares them with the ticks it took) */
  private readonly ticksSent: number[];
  /**
   * when each of the last TICK_SEND_HISTORY ticks sent to a CPU was sent (emulated ns), by ordinal:
   * the clock watchdog measures how long the oldest tick the CPU has not taken has waited
   */
  private readonly tickSentAt: Float64Array[];
  /** TimerRequest is set on the clock owner and its expiration pass has not finished yet */
  private timerRequestPending = false;
  /** the emulated time of the last event delivered (deterministic mode) */
  private lastEventNs = 0;
  private publishedBias = 0;
  /** Float64 view of the buffer, for ControlField.EMULATED_NS */
  private readonly f64: Float64Array;

  constructor(config: MachineConfig, devices: DeviceConfig[], sab: SharedArrayBuffer, layout: MachineLayout, port: ProcessorPort, hostClock: HostClock) {
    this.config = config;
    this.layout = layout;
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.port = port;
    this.hostClock = hostClock;
    this.devices = devices.map((device) => new InterruptSource(device));
    for (const device of devices) {
      this.ioapic.program({ line: device.line, vector: device.vector, delivery: device.delivery, destinations: device.cpus });
    }
    this.clock = new ClockSource(config.clockIntervalNs);
    this.prng = new Prng(deriveSeed(config.seed, 7));
    this.dispatcher = new DispatcherDatabase({
      cpus: config.cpus,
      threads: config.threads.map((t) => ({
        id: t.id,
        name: t.name,
        basePriority: t.priority,
        affinity: t.affinity,
        idealProcessor: t.idealProcessor,
        quantumReset: config.threadQuantum,
        stackTop: t.stackTop,
        startAtBoot: t.startAtBoot,
      })),
      events: config.objects.flatMap((o) => (o.kind === 'event' ? [{ id: o.id, name: o.name, synchronization: o.synchronization, signaled: o.signaled }] : [])),
      semaphores: config.objects.flatMap((o) => (o.kind === 'semaphore' ? [{ id: o.id, name: o.name, count: o.count, limit: o.limit }] : [])),
      mutexes: config.objects.flatMap((o) => (o.kind === 'mutex' || o.kind === 'mutant' ? [{ id: o.id, name: o.name, kernelMutex: o.kind === 'mutex' }] : [])),
      timers: config.objects.flatMap((o) => (o.kind === 'timer' ? [{ id: o.id, name: o.name, synchronization: o.synchronization }] : [])),
      idleStackTops: config.interruptStackTops,
      clockIntervalNs: config.clockIntervalNs,
      bootSystemTime: BOOT_SYSTEM_TIME,
    });
    this.ticksSent = new Array<number>(config.cpus).fill(0);
    this.tickSentAt = Array.from({ length: config.cpus }, () => new Float64Array(TICK_SEND_HISTORY));
    this.localNs = new Array<number>(config.cpus).fill(0);
    this.halted = new Array<boolean>(config.cpus).fill(false);
    this.doorbellAtHalt = new Array<number>(config.cpus).fill(0);
  }

  // ---------------------------------------------------------------------------------------
  // Events shared by both modes
  // ---------------------------------------------------------------------------------------

  /** Whether CPU `cpu` is halted in its idle loop (deterministic: as its last slice reported; parallel: as it published). */
  private cpuIdle(cpu: number): boolean {
    if (this.config.mode === 'deterministic') return this.halted[cpu]!;
    return Atomics.load(this.i32, this.layout.prcb(cpu) + PrcbField.IDLE) === 1;
  }

  private anyCpuBusy(): boolean {
    for (let cpu = 0; cpu < this.config.cpus; cpu++) if (!this.cpuIdle(cpu)) return true;
    return false;
  }

  /**
   * The next event: a device line, or the next clock tick anyone needs. Ticks go only to CPUs that
   * are not idle, so while every CPU is idle the clock skips ahead to the tick a timer is due at
   * (or stays quiet): an idle machine costs no host time. `floorNs`: the time the machine has
   * reached; ticks skipped before it are not replayed one by one.
   */
  private nextEvent(floorNs = 0): PendingEvent {
    const interval = this.clock.intervalNs;
    // after a stretch of skipped ticks, the next one is the latest boundary at or before floorNs
    let clockNs = Math.max(this.clock.nextEventNs(), Math.floor(floorNs / interval) * interval);
    if (!this.anyCpuBusy()) clockNs = Math.max(clockNs, this.dispatcher.nextTimerTickNs());
    let best: PendingEvent = { timeNs: clockNs, source: 'clock', index: 0 };
    for (let i = 0; i < this.devices.length; i++) {
      const t = this.devices[i]!.nextEventNs();
      if (t < best.timeNs) best = { timeNs: t, source: 'device', index: i };
    }
    return best;
  }

  /** Deliver one due event at emulated time `stampNs`. Returns the CPUs it sent to. */
  private deliver(event: PendingEvent, stampNs: number, woken: (cpu: number) => void): void {
    if (event.source === 'clock') {
      const tick = this.clock.fireAt(stampNs);
      const tickNs = tick * this.clock.intervalNs;
      // KeUpdateSystemTime's TimerRequest test: the clock owner (CPU 0) runs the expiration
      const timerRequest = !this.timerRequestPending && this.dispatcher.timerDue(tickNs);
      if (timerRequest) this.timerRequestPending = true;
      for (let cpu = 0; cpu < this.config.cpus; cpu++) {
        const request = cpu === 0 && timerRequest;
        if (this.cpuIdle(cpu) && !request) continue;
        this.tickSentAt[cpu]![this.ticksSent[cpu]! % TICK_SEND_HISTORY] = stampNs;
        this.ticksSent[cpu]! += 1;
        this.port.send(actorOfCpu(cpu), Kind.CLOCK_TICK, 4, tick, timeLo(tickNs), timeHi(tickNs), request ? 1 : 0);
        woken(cpu);
      }
      this.checkClockWatchdog(stampNs);
      return;
    }
    const device = this.devices[event.index]!;
    const n = device.fire();
    for (let k = 0; k < n; k++) {
      const cpu = this.ioapic.route(device.config.line, (c) => this.i32[this.layout.prcb(c) + PrcbField.IRQL]!);
      this.port.send(actorOfCpu(cpu), Kind.IRQ_ASSERT, 5, device.config.vector, device.config.line, timeLo(stampNs), timeHi(stampNs), event.index);
      if (this.config.mode === 'deterministic') {
        this.hash.word(timeLo(Math.round(stampNs)));
        this.hash.word(event.index);
        this.hash.word(cpu);
        this.traceCount++;
      }
      woken(cpu);
    }
  }

  /**
   * CLOCK_WATCHDOG_TIMEOUT (§7.5): a CPU that has not taken a clock interrupt for too many ticks is
   * stuck with interrupts masked. The bugcheck is raised on a CPU that is still taking ticks (as NT
   * raises it from the clock path of the CPU that notices), or on the hung one if it is alone.
   *
   * "Too many ticks" is measured as time: the oldest tick the CPU has not taken has waited longer
   * than clockWatchdogTicks clock intervals. Under a steady clock that is the same as counting
   * ticks, but in parallel mode a coordinator that the host held up delivers the ticks it owes in
   * one burst, and counting them would bugcheck a CPU that never had the chance to take them.
   */
  private checkClockWatchdog(nowNs: number): void {
    if (this.watchdogFired || this.bugchecked) return;
    const limit = this.config.clockWatchdogTicks;
    const limitNs = limit * this.clock.intervalNs;
    /** how long the oldest tick this CPU has not taken has waited (0 when it has taken them all) */
    const overdueNs = (cpu: number): number => {
      const taken = Atomics.load(this.i32, this.layout.prcb(cpu) + PrcbField.TICKS_TAKEN);
      const missed = this.ticksSent[cpu]! - taken;
      if (missed <= 0) return 0;
      if (missed >= TICK_SEND_HISTORY) return Infinity;
      return nowNs - this.tickSentAt[cpu]![taken % TICK_SEND_HISTORY]!;
    };
    for (let cpu = 0; cpu < this.config.cpus; cpu++) {
      if (overdueNs(cpu) >= limitNs) {
        let reporter = cpu;
        for (let other = 0; other < this.config.cpus; other++) {
          if (other !== cpu && this.ticksSent[other]! > 0 && overdueNs(other) <= 2 * this.clock.intervalNs) {
            reporter = other;
            break;
          }
        }
        this.watchdogFired = true;
        this.port.send(actorOfCpu(reporter), Kind.RAISE_BUGCHECK, 5, BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, limit, 0, prcbAddress(cpu), cpu);
        return;
      }
    }
  }

  private readonly visitor = (kind: number, w: Int32Array, offset: number, length: number): void => {
    this.handle(decodeMessage(kind, w, offset, length));
  };

  private handle(message: Message): void {
    switch (message.type) {
      case 'slice/done':
        this.sliceDone = message;
        return;
      case 'bugcheck':
        this.bugchecked = true;
        this.bugcheckCpu = message.cpu;
        return;
      case 'dispatch/request':
        if (this.dispatcher.lockedBy >= 0 && this.dispatcher.lockedBy !== message.cpu) {
          this.deferredRequests.push(message);
          return;
        }
        this.serve(message);
        while (this.dispatcher.lockedBy < 0 && this.deferredRequests.length > 0) this.serve(this.deferredRequests.shift()!);
        return;
      case 'dispatch/reply':
      case 'reschedule':
      case 'irq/assert':
      case 'clock/tick':
      case 'ipi':
      case 'dpc/link':
      case 'slice/grant':
      case 'run/stop':
      case 'freeze':
      case 'ready':
      case 'report':
      case 'run/done':
      case 'raise-bugcheck':
        throw new Error(`coordinator cannot handle '${message.type}'`);
      default:
        assertNever(message);
    }
  }

  // ---------------------------------------------------------------------------------------
  // The dispatcher lock: one request at a time, each answered with its outcome
  // ---------------------------------------------------------------------------------------

  /** At boot: ready the threads that start at boot; each CPU given a standby thread is told to reschedule. */
  bootThreads(): void {
    for (const cpu of this.dispatcher.boot()) this.port.send(actorOfCpu(cpu), Kind.RESCHEDULE, 0);
    this.port.flush();
  }

  private serve(request: DispatchRequest): void {
    const db = this.dispatcher;
    const caller: Caller = {
      cpu: request.cpu,
      thread: request.thread,
      oldIrql: request.oldIrql,
      quantum: request.quantum,
      dpcActive: (request.flags & RequestFlag.DPC_ACTIVE) !== 0,
      timeNs: request.timeNs,
    };
    const [a0, a1, a2, a3, a4, a5] = request.args as [number, number, number, number, number, number];
    let outcome: DispatchOutcome;
    switch (request.op) {
      case DispatcherOp.KeSetEvent:
        outcome = db.setEvent(caller, a0, a1, a2 !== 0);
        break;
      case DispatcherOp.KeResetEvent:
        outcome = db.resetEvent(caller, a0);
        break;
      case DispatcherOp.KePulseEvent:
        outcome = db.pulseEvent(caller, a0, a1, a2 !== 0);
        break;
      case DispatcherOp.KeReadState:
        outcome = db.readState(caller, a0);
        break;
      case DispatcherOp.KeReleaseSemaphore:
        outcome = db.releaseSemaphore(caller, a0, a1, a2, a3 !== 0);
        break;
      case DispatcherOp.KeReleaseMutant:
        outcome = db.releaseMutant(caller, a0, a1, a2 !== 0, a3 !== 0);
        break;
      case DispatcherOp.KeWaitForObjects:
        outcome = db.waitForObjects(
          caller,
          request.tail,
          a1 === WaitType.WaitAll ? WaitType.WaitAll : WaitType.WaitAny,
          a2,
          a3 < 0 ? null : joinTime(a4, a5),
          request.callPc,
        );
        break;
      case DispatcherOp.KeInitializeTimer:
        outcome = db.initializeTimer(caller, a0, a1 !== 0);
        break;
      case DispatcherOp.KeSetTimer:
        outcome = db.setTimer(caller, a0, joinTime(a1, a2), a3, a4);
        break;
      case DispatcherOp.KeCancelTimer:
        outcome = db.cancelTimer(caller, a0);
        break;
      case DispatcherOp.KiTimerExpiration:
        outcome = db.expireTimers(caller);
        if (outcome.status === 1) this.timerRequestPending = false;
        break;
      case DispatcherOp.KeDelayExecutionThread:
        outcome = db.delayExecution(caller, joinTime(a0, a1), request.callPc);
        break;
      case DispatcherOp.MmAccessFault:
        outcome = db.pageFault(caller, a0, this.config.pagingLatencyNs);
        break;
      case DispatcherOp.KeSetSystemTime:
        outcome = db.setSystemTime(caller, joinTime(a0, a1));
        break;
      case DispatcherOp.KiDispatchInterrupt:
        outcome = db.dispatch(caller, a0 !== 0);
        break;
      case DispatcherOp.NtYieldExecution:
        outcome = db.yieldExecution(caller);
        break;
      case DispatcherOp.PspExitThread:
        outcome = db.terminateThread(caller, a0);
        break;
      case DispatcherOp.PsCreateSystemThread:
        outcome = db.startThread(caller, a0, a1);
        break;
      case DispatcherOp.KeSetPriorityThread:
        outcome = db.setPriority(caller, a0, a1);
        break;
      case DispatcherOp.KeQueryPriorityThread:
        outcome = db.queryPriority(caller, a0);
        break;
      case DispatcherOp.PeekNextThread:
        outcome = {
          status: db.peekNextThread(caller.cpu).id,
          switchTo: null,
          requestDispatch: false,
          ipiTargets: [],
          quantum: request.quantum,
          bugcheck: null,
          dpcs: [],
          systemTime: 0,
        };
        break;
      default:
        throw new Error(`coordinator: unknown dispatcher operation ${request.op} from CPU ${request.cpu}`);
    }
    if (db.systemTimeBias !== this.publishedBias) {
      // KeSetSystemTime moved system time: every CPU's KeQuerySystemTime reads the bias
      this.publishedBias = db.systemTimeBias;
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_LO] = timeLo(db.systemTimeBias);
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_HI] = timeHi(db.systemTimeBias);
    }
    this.reply(request.cpu, outcome);
  }

  private reply(cpu: number, outcome: DispatchOutcome): void {
    const w = this.replyWords;
    const next = outcome.switchTo;
    let flags = 0;
    if (next) flags |= ReplyFlag.SWITCH;
    if (outcome.requestDispatch) flags |= ReplyFlag.REQUEST_DISPATCH;
    if (outcome.bugcheck) flags |= ReplyFlag.BUGCHECK;
    let ipiLo = 0;
    let ipiHi = 0;
    for (const target of outcome.ipiTargets) {
      if (target < 32) ipiLo |= 1 << target;
      else ipiHi |= 1 << (target - 32);
    }
    w[0] = outcome.status;
    w[1] = flags;
    w[2] = next ? next.id : 0;
    w[3] = next ? next.waitIrql : 0;
    w[4] = outcome.quantum;
    w[5] = next ? next.resume.action : ResumeAction.None;
    w[6] = next ? next.resume.value : 0;
    w[7] = ipiLo;
    w[8] = ipiHi;
    const params = outcome.bugcheck?.params ?? [0, 0, 0, 0];
    w[9] = outcome.bugcheck?.code ?? 0;
    w[10] = params[0];
    w[11] = params[1];
    w[12] = params[2];
    w[13] = params[3];
    w[14] = timeLo(outcome.systemTime);
    w[15] = timeHi(outcome.systemTime);
    w[16] = outcome.dpcs.length;
    for (let i = 0; i < outcome.dpcs.length; i++) w[DISPATCH_REPLY_WORDS + i] = outcome.dpcs[i]!;
    // the resume action is delivered once, to the CPU that switches the thread in
    if (next) next.resume = { action: ResumeAction.None, value: 0 };
    this.port.sendWords(actorOfCpu(cpu), Kind.DISPATCH_REPLY, w, 0, DISPATCH_REPLY_WORDS + outcome.dpcs.length);
    this.port.flush();
  }

  private threadReports(): ThreadReport[] {
    return this.dispatcher.threads.map((t) => ({
      id: t.id,
      name: t.name,
      idleOf: t.idleOf,
      state: t.state,
      priority: t.priority,
      basePriority: t.basePriority,
      waits: t.waits,
      waitReason: t.waitReason,
      exitStatus: t.exitStatus,
    }));
  }

  /**
   * The time the machine has reached, for the main thread's progress line (the CPUs' own clocks
   * stand still while they are halted or busy between reports). Written only: nothing in the run
   * reads it, so determinism is unaffected.
   */
  private publishTime(timeNs: number): void {
    const at = (this.layout.control + ControlField.EMULATED_NS) / 2;
    if (timeNs > this.f64[at]!) this.f64[at] = timeNs;
  }

  private finish(reason: 'end' | 'bugcheck', timeNs: number): void {
    this.publishTime(timeNs);
    if (reason === 'end') {
      Atomics.store(this.i32, this.layout.control + ControlField.STATE, MachineState.STOPPING);
      for (let cpu = 0; cpu < this.config.cpus; cpu++) this.port.send(actorOfCpu(cpu), Kind.RUN_STOP, 2, timeLo(timeNs), timeHi(timeNs));
    }
    this.port.sendReport(MAIN_ACTOR, {
      kind: 'coordinator',
      reason,
      timeNs,
      traceHash: this.hash.hex(),
      traceEvents: this.traceCount,
      slices: this.slices,
      clockTicks: this.clock.tick,
      timers: { expired: this.dispatcher.timersExpired, armedAtEnd: this.dispatcher.timerTable.size },
      deviceAssertions: this.devices.map((d) => ({ name: d.config.name, asserted: d.asserted })),
      bugcheckCpu: this.bugcheckCpu,
      threads: this.threadReports(),
      maxReadyDepth: this.dispatcher.scheduler.prcbs.map((p) => p.maxReadyCount),
    });
    this.endedBy = reason;
    // every CPU must get its RUN_STOP before main hears the run is over: wait out full rings. After
    // a bugcheck the CPUs are frozen and read nothing more: what is still queued for them stays
    // (countBackloggedInterrupts counts it), and waiting for them would only stall the report
    const undelivered = this.port.drain(reason === 'end' ? 5000 : 0);
    this.port.send(MAIN_ACTOR, Kind.RUN_DONE, 3, reason === 'bugcheck' ? 1 : 0, timeLo(timeNs), timeHi(timeNs));
    this.port.flush();
    if (reason === 'end' && undelivered > 0) throw new Error(`coordinator: ${undelivered} words of messages could not be delivered to CPUs within 5 s`);
  }

  /** How the run ended (set by finish), for the worker's last steps. */
  endedBy: 'end' | 'bugcheck' | null = null;

  /**
   * The coordinator's last act before its worker exits, after its last flush: the device
   * assertions still queued in its outbox for a CPU whose ring was full (after a bugcheck: frozen
   * CPUs read nothing more) go into that CPU's DeviceCounterField.BACKLOGGED, so that the run's
   * interrupt accounting sees every assertion.
   */
  countBackloggedInterrupts(): void {
    const devices = this.layout.params.devices ?? 0;
    this.port.forEachBacklogged?.((to, kind, words, offset) => {
      if (kind !== Kind.IRQ_ASSERT) return;
      const cpu = cpuOfActor(to);
      const device = words[offset + 4]!;
      if (cpu < 0 || cpu >= this.config.cpus || device < 0 || device >= devices) return;
      this.f64[this.layout.deviceCounters(cpu, device) + DeviceCounterField.BACKLOGGED] += 1;
    });
  }

  // ---------------------------------------------------------------------------------------
  // Parallel mode: devices and the clock follow the host clock; CPUs run free
  // ---------------------------------------------------------------------------------------

  runParallel(): void {
    const duration = this.config.durationNs;
    for (;;) {
      this.port.poll(this.visitor);
      if (this.bugchecked) {
        this.finish('bugcheck', this.hostClock());
        return;
      }
      const now = this.hostClock();
      if (now >= duration) {
        this.finish('end', duration);
        return;
      }
      this.publishTime(now);
      let event = this.nextEvent();
      while (event.timeNs <= now) {
        // stamp with the moment the line is asserted, so latency is measured from delivery
        this.deliver(event, now, () => {});
        event = this.nextEvent();
      }
      this.port.flush();
      // always sleep: a coordinator that spins between close events takes a host core away from
      // the CPUs; events due meanwhile are delivered together (granularity ~0.1 ms of host time)
      const untilNs = Math.min(event.timeNs, duration);
      const sleepMs = (untilNs - this.hostClock()) / 1e6 / this.config.timeScale;
      this.port.sleep(Math.min(Math.max(sleepMs, MIN_PARALLEL_SLEEP_MS), 50));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Deterministic mode: one CPU at a time, virtual time from cycles
  // ---------------------------------------------------------------------------------------

  runDeterministic(): void {
    const duration = this.config.durationNs;
    const cpus = this.config.cpus;
    const wake = (cpu: number, atNs: number): void => {
      if (this.halted[cpu]) {
        this.halted[cpu] = false;
        if (this.localNs[cpu]! < atNs) this.localNs[cpu] = atNs;
      }
    };
    for (;;) {
      if (this.bugchecked) {
        this.finish('bugcheck', Math.max(...this.localNs));
        return;
      }
      // the earliest runnable CPU; halted CPUs do not hold time back
      let cpu = -1;
      let minNs = Infinity;
      for (let c = 0; c < cpus; c++) {
        if (this.halted[c]) continue;
        const t = this.localNs[c]!;
        // seeded tie-break: CPUs at the same time run in a seed-dependent order
        if (t < minNs || (t === minNs && this.prng.next() < 0.5)) {
          minNs = t;
          cpu = c;
        }
      }
      const event = this.nextEvent(cpu < 0 ? this.lastEventNs : minNs);
      if (event.timeNs <= minNs || cpu < 0) {
        if (event.timeNs >= duration) {
          if (cpu < 0 || minNs >= duration) {
            this.finish('end', duration);
            return;
          }
        } else {
          this.lastEventNs = event.timeNs;
          this.publishTime(event.timeNs);
          this.deliver(event, event.timeNs, (target) => wake(target, event.timeNs));
          this.port.flush();
          continue;
        }
      }
      if (minNs >= duration) {
        this.finish('end', duration);
        return;
      }
      // a slice of seeded length that stops at the next event, so events land on time; a CPU
      // running alone has nobody to interleave with and runs to the next event (a message it sends
      // to a halted CPU ends its slice early, so that CPU wakes on time)
      const alone = this.halted.every((halted, c) => halted || c === cpu);
      let budget = alone ? MAX_LONE_SLICE_CYCLES : this.prng.int(MIN_SLICE_CYCLES, MAX_SLICE_CYCLES);
      const untilNs = Math.min(event.timeNs, duration);
      const room = Math.ceil((untilNs - minNs) * this.config.cyclesPerNs);
      if (room < budget) budget = Math.max(1, room);
      // every CPU that is not halted is at minNs or later
      this.publishTime(minNs);
      this.grant(cpu, budget, minNs, untilNs);
      if (this.bugchecked) continue;
      const done = this.sliceDone!;
      this.sliceDone = null;
      this.localNs[cpu] = Math.max(done.timeNs, minNs);
      if (done.halted) {
        this.halted[cpu] = true;
        this.doorbellAtHalt[cpu] = done.doorbellSeen;
      }
      // halted CPUs that this slice sent something to wake at the sender's time
      for (let c = 0; c < cpus; c++) {
        if (!this.halted[c]) continue;
        const count = Atomics.load(this.i32, this.layout.doorbell(actorOfCpu(c)) + DoorbellField.COUNT);
        if (count !== this.doorbellAtHalt[c]) wake(c, this.localNs[cpu]!);
      }
    }
  }

  private grant(cpu: number, budget: number, startNs: number, untilNs: number): void {
    this.slices++;
    this.port.send(actorOfCpu(cpu), Kind.SLICE_GRANT, 5, budget, timeLo(untilNs), timeHi(untilNs), timeLo(startNs), timeHi(startNs));
    this.port.flush();
    while (!this.sliceDone && !this.bugchecked) {
      if (!this.port.hasWork()) this.port.sleep(100);
      this.port.poll(this.visitor);
    }
  }
}
