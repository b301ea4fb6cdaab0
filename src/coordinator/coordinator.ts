/**
 * Coordinator: the actor that owns the machine-wide state. This file is its shell: the inbox (what
 * the CPUs send it), the end-of-run report, and the two run modes' loops. Its parts, each in its
 * own file:
 *   - dispatcher-lock-server.ts: the dispatcher database (src/kernel/dispatcher.ts) served one
 *     request at a time, which is what makes it NT's dispatcher lock;
 *   - event-delivery.ts: the IOAPIC, the device interrupt sources and the clock source;
 *   - clock-watchdog.ts: CLOCK_WATCHDOG_TIMEOUT;
 *   - slice-scheduler.ts: deterministic mode's slice scheduler (one CPU at a time, in a seeded
 *     order, over a virtual clock derived from cycle counts).
 *
 * It never runs CPU code and never touches a CPU's private state: it answers requests and sends
 * messages. It reads published PRCB words (IRQL for lowest-priority delivery, TICKS_TAKEN for the
 * watchdog). Transport-free like the Processor: workers/coordinator.ts wires it to rings, the
 * in-process backend (src/machine/in-process.ts) to in-memory queues and drives it slice by slice
 * (startSlice / finishSlice).
 */

import type { DeviceConfig } from '../hal/device.js';
import { DispatcherDatabase } from '../kernel/dispatcher.js';
import { BOOT_SYSTEM_TIME } from '../kernel/timer.js';
import { Kind, MAIN_ACTOR, actorOfCpu, cpuOfActor, decodeMessage, timeHi, timeLo, assertNever } from '../ipc/messages.js';
import type { Message, ThreadReport } from '../ipc/messages.js';
import { ControlField, DeviceCounterField, DoorbellField, MachineState, PrcbField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import type { MachineConfig } from '../contract/config.js';
import type { ActorPort, HostClock } from '../ipc/actor-port.js';
import { Prng, deriveSeed } from '../util/prng.js';
import { DecisionSource } from '../contract/decision-source.js';
import { DispatcherLockServer } from './dispatcher-lock-server.js';
import { EventDelivery } from './event-delivery.js';
import { SliceScheduler } from './slice-scheduler.js';
import { createStrategy } from './schedule-strategy.js';
import { Perturbation } from './perturbation.js';
import type { SliceGrant } from './slice-scheduler.js';
import type { VirtualTimeBoard } from '../shm/virtual-time.js';

/** parallel mode, host pace: the coordinator never sleeps less than this between deliveries */
const MIN_PARALLEL_SLEEP_MS = 0.1;
/** parallel mode, virtual time: the longest sleep before looking again anyway (a safety net: whatever matters rings) */
const VIRTUAL_TIME_SLEEP_MS = 50;
/**
 * Virtual time: how far past the GVT fixed-delivery device assertions are sent ahead of their time
 * (the CPU holds them until its clock gets there), and how many at a time: the CPUs then call the
 * coordinator once per this stretch instead of once per slack (a CPU-side hold costs less than a
 * wake-up of the coordinator). The count keeps a CPU's ring from filling: at most half of it in
 * IRQ_ASSERT records (6 words each), so replies and ticks still find room.
 */
const SEND_AHEAD_NS = 1_000_000;
const IRQ_ASSERT_RECORD_WORDS = 6;
/** a wake is in flight to a halted CPU (it has not rejoined the running set yet): look again this soon */
const WAKE_IN_FLIGHT_RECHECK_MS = 0.05;

export class Coordinator {
  private readonly config: MachineConfig;
  private readonly layout: MachineLayout;
  private readonly i32: Int32Array;
  private readonly port: ActorPort;
  private readonly hostClock: HostClock;
  private bugchecked = false;
  private bugcheckCpu = -1;
  /** the bugchecking CPU's clock when it bugchecked (the run's end time in parallel mode) */
  private bugcheckTimeNs = 0;
  private sliceDone: Extract<Message, { type: 'slice/done' }> | null = null;
  /** the dispatcher database: NT's dispatcher lock is this actor serving one request at a time */
  readonly dispatcher: DispatcherDatabase;
  private readonly lock: DispatcherLockServer;
  private readonly events: EventDelivery;
  /** deterministic mode's slice scheduler */
  readonly scheduler: SliceScheduler;
  /** deterministic mode: the decision points of the schedule (explicit decisions, the log of a recording run) */
  readonly decisions: DecisionSource;
  /** Float64 view of the buffer, for ControlField.EMULATED_NS */
  private readonly f64: Float64Array;

  constructor(config: MachineConfig, devices: DeviceConfig[], sab: SharedArrayBuffer, layout: MachineLayout, port: ActorPort, hostClock: HostClock) {
    this.config = config;
    this.layout = layout;
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.port = port;
    this.hostClock = hostClock;
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
      ...(config.apcs ? { apcs: config.apcs } : {}),
      ...(config.drivers && config.deviceObjects
        ? { drivers: config.drivers, deviceObjects: config.deviceObjects, irpZoneRecords: config.irpZone?.records ?? 0 }
        : {}),
    });
    const deterministic = config.mode === 'deterministic';
    const schedule = deterministic ? config.schedule : undefined;
    this.decisions = new DecisionSource(schedule?.decisions, schedule?.recordDecisions ?? false);
    // perturb: device assertions and the clock's phase move (the CPUs delay the IPIs they take)
    const perturbation =
      schedule?.strategy === 'perturb' ? new Perturbation(schedule.bounds, config.clockIntervalNs, new Prng(deriveSeed(config.seed, 8)), this.decisions) : null;
    this.events = new EventDelivery(
      {
        cpus: config.cpus,
        deterministic,
        clockIntervalNs: config.clockIntervalNs,
        clockWatchdogTicks: config.clockWatchdogTicks,
        tickPhaseNs: perturbation?.tickPhaseNs ?? 0,
        deviceDelay: perturbation?.deviceDelay ?? null,
      },
      devices,
      this.dispatcher,
      this.i32,
      layout,
      port,
      (cpu) => this.cpuIdle(cpu),
      () => this.bugchecked,
    );
    this.lock = new DispatcherLockServer(
      this.dispatcher,
      this.i32,
      layout,
      port,
      config.pagingLatencyNs,
      () => {
        this.events.timerRequestPending = false;
      },
      config.traceToMain,
    );
    this.scheduler = new SliceScheduler(
      { cpus: config.cpus, durationNs: config.durationNs, cyclesPerNs: config.cyclesPerNs },
      createStrategy(config, schedule, this.decisions),
      {
        nextEvent: (floorNs) => this.events.nextEvent(floorNs),
        deliver: (event, stampNs, woken) => {
          this.events.deliver(event, stampNs, woken);
          this.port.flush();
        },
      },
      (timeNs) => this.publishTime(timeNs),
      (cpu) => Atomics.load(this.i32, this.layout.doorbell(actorOfCpu(cpu)) + DoorbellField.COUNT),
    );
    this.scheduler.decisionPosition = this.decisions.position;
  }

  /** Whether CPU `cpu` is halted in its idle loop (deterministic: as its last slice reported; parallel: as it published). */
  private cpuIdle(cpu: number): boolean {
    if (this.config.mode === 'deterministic') return this.scheduler.halted[cpu]!;
    // on virtual time a halted CPU's word holds its halt's number (src/shm/virtual-time.ts), else 1
    return Atomics.load(this.i32, this.layout.prcb(cpu) + PrcbField.IDLE) !== 0;
  }

  // ---------------------------------------------------------------------------------------
  // The inbox
  // ---------------------------------------------------------------------------------------

  private readonly visitor = (kind: number, w: Int32Array, offset: number, length: number): void => {
    this.handle(decodeMessage(kind, w, offset, length));
  };

  /** Take in and act on what the CPUs sent (the in-process backend calls it while a CPU waits for a dispatcher reply). */
  pollInbox(): number {
    return this.port.poll(this.visitor);
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'slice/done':
        this.sliceDone = message;
        return;
      case 'bugcheck':
        this.bugchecked = true;
        this.bugcheckCpu = message.cpu;
        this.bugcheckTimeNs = message.timeNs;
        return;
      case 'dispatch/request':
        this.lock.request(message);
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
      case 'run/done':
      case 'raise-bugcheck':
        throw new Error(`coordinator cannot handle '${message.type}'`);
      default:
        assertNever(message);
    }
  }

  /** At boot: ready the threads that start at boot; each CPU given a standby thread is told to reschedule. */
  bootThreads(): void {
    this.lock.bootThreads();
  }

  // ---------------------------------------------------------------------------------------
  // The end of the run
  // ---------------------------------------------------------------------------------------

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
      traceHash: this.events.hash.hex(),
      traceEvents: this.events.traceCount,
      slices: this.scheduler.slices,
      clockTicks: this.events.clock.tick,
      timers: { expired: this.dispatcher.timersExpired, armedAtEnd: this.dispatcher.timerTable.size },
      deviceAssertions: this.events.deviceAssertions(),
      bugcheckCpu: this.bugcheckCpu,
      threads: this.threadReports(),
      maxReadyDepth: this.dispatcher.scheduler.prcbs.map((p) => p.maxReadyCount),
      // each CPU's ready lists, highest priority first (the bugcheck report's frozen state)
      readyThreads: this.dispatcher.scheduler.prcbs.map((p) =>
        [...p.readyLists].reverse().flatMap((list) => list.map((t) => ({ thread: t.name, priority: t.priority }))),
      ),
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
  // Parallel mode on virtual time: events are delivered when the GVT reaches them
  // ---------------------------------------------------------------------------------------

  /**
   * Deliver each event once every running CPU has reached its time (the global virtual time,
   * src/shm/virtual-time.ts), stamped with that time; while every CPU is halted and nothing is in
   * flight, jump to the next event. In between, publish the next event's time (no CPU runs more
   * than the slack past it) and sleep on the doorbell: a CPU rings it when the GVT reaches that
   * event, and dispatcher requests arrive there too. No host clock is read.
   */
  runVirtualTime(board: VirtualTimeBoard): void {
    const duration = this.config.durationNs;
    /** the latest event delivered: where the clock resumes after every CPU was halted */
    let lastEventNs = 0;
    board.setNextEvent(Math.min(this.events.nextEvent(0).timeNs, duration));
    for (;;) {
      board.coordinatorLooks();
      this.pollInbox();
      if (this.bugchecked) {
        this.finish('bugcheck', this.bugcheckTimeNs);
        return;
      }
      let wakeInFlight = false;
      for (;;) {
        let reached = board.runningMinimum();
        // messages still in this actor's backlog are in flight too: their receivers cannot see them yet
        if (reached === Infinity && (!board.allHalted() || this.port.backlogWords() > 0)) {
          wakeInFlight = true;
          break;
        }
        const event = this.events.nextEvent(reached === Infinity ? lastEventNs : reached);
        const due = Math.min(event.timeNs, duration);
        // every CPU halted: time jumps to the next event
        if (reached === Infinity) reached = due;
        if (due > reached) {
          this.sendAhead(board, reached);
          // never below an event already delivered: the GVT only goes forward. (A clock tick that
          // tick skipping passed over while every CPU was halted comes back at the latest boundary
          // once a CPU runs, earlier than the event that woke it; it is delivered late, at once.)
          board.setNextEvent(Math.max(Math.min(this.events.nextEvent(reached).timeNs, duration), lastEventNs));
          this.publishTime(reached);
          break;
        }
        if (event.timeNs >= duration) {
          this.finish('end', duration);
          return;
        }
        if (event.timeNs > lastEventNs) lastEventNs = event.timeNs;
        // before anyone wakes: time has reached this event (a CPU that rejoins takes the machine's
        // time, and a jump over skipped ticks must not leave the next event published behind it)
        board.delivering(lastEventNs);
        this.events.deliver(event, event.timeNs, (cpu) => board.wakeIfHalted(cpu, event.timeNs));
        this.port.flush();
      }
      // the next event moved on: the CPUs waiting at the slack behind it may run again
      board.afterChange();
      this.port.sleep(wakeInFlight ? WAKE_IN_FLIGHT_RECHECK_MS : VIRTUAL_TIME_SLEEP_MS);
    }
  }

  /**
   * Virtual time, after the due events: send the fixed-delivery device assertions of the stretch
   * ahead (up to SEND_AHEAD_NS past `reachedNs`, half a ring of them), stamped with their own
   * time; each CPU holds them until its clock gets there. A halted CPU rejoins no further ahead
   * than the slack allows.
   */
  private sendAhead(board: VirtualTimeBoard, reachedNs: number): void {
    // not into a ring that is backing up (a CPU slow to drain): the held stretch is long enough
    if (this.port.backlogWords() > 0) return;
    const horizon = Math.min(reachedNs + SEND_AHEAD_NS, this.config.durationNs);
    const wakeAt = reachedNs + this.config.slackNs;
    const batch = Math.floor(this.layout.params.ringCapacity / 2 / IRQ_ASSERT_RECORD_WORDS);
    let sent = 0;
    for (; sent < batch; sent++) {
      const event = this.events.nextEvent(reachedNs);
      if (event.timeNs >= horizon || !this.events.mayBeSentAhead(event)) break;
      this.events.deliver(event, event.timeNs, (cpu) => board.wakeIfHalted(cpu, Math.min(event.timeNs, wakeAt)));
    }
    if (sent > 0) this.port.flush();
  }

  // ---------------------------------------------------------------------------------------
  // Parallel mode with --pace host: devices and the clock follow the host clock; CPUs run free
  // ---------------------------------------------------------------------------------------

  runHostPaced(): void {
    const duration = this.config.durationNs;
    for (;;) {
      this.pollInbox();
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
      let event = this.events.nextEvent();
      while (event.timeNs <= now) {
        // stamp with the moment the line is asserted, so latency is measured from delivery
        this.events.deliver(event, now, () => {});
        event = this.events.nextEvent();
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
  // Deterministic mode: one CPU at a time, virtual time from cycles (slice-scheduler.ts)
  // ---------------------------------------------------------------------------------------

  runDeterministic(): void {
    for (;;) {
      if (!this.startSlice()) return;
      while (!this.finishSlice()) if (!this.port.hasWork()) this.port.sleep(100);
    }
  }

  /**
   * Deterministic mode, one step: deliver the events due, then grant the next slice (SLICE_GRANT to
   * its CPU) and return it; or end the run (bugcheck, or the duration reached) and return null.
   */
  startSlice(): SliceGrant | null {
    if (this.bugchecked) {
      this.finish('bugcheck', this.scheduler.latestNs());
      return null;
    }
    const grant = this.scheduler.next();
    if (grant === null) {
      this.finish('end', this.config.durationNs);
      return null;
    }
    const { cpu, budget, startNs, untilNs } = grant;
    this.port.send(actorOfCpu(cpu), Kind.SLICE_GRANT, 5, budget, timeLo(untilNs), timeHi(untilNs), timeLo(startNs), timeHi(startNs));
    this.port.flush();
    return grant;
  }

  /**
   * Deterministic mode: take in what the granted CPU sent (serving its dispatcher requests); true
   * once its slice is over (SLICE_DONE, handed to the scheduler) or the machine bugchecked.
   */
  finishSlice(): boolean {
    this.pollInbox();
    if (this.bugchecked) return true;
    const done = this.sliceDone;
    if (done === null) return false;
    this.sliceDone = null;
    this.scheduler.completed(done.timeNs, done.halted, done.doorbellSeen);
    return true;
  }
}
