/**
 * Parallel mode's virtual time, as shared memory (the words are in layout.ts: CounterField.VIRTUAL_NS and
 * WAITING_FOR_NS, PrcbField.IDLE and DOORBELL_AT_HALT, ControlField.GVT_WAITERS, WAKE_EPOCH,
 * COORDINATOR_CALLED and NEXT_EVENT_NS). Lax synchronization with a bounded slack, as Graphite and SlackSim run parallel
 * simulations (reference/parallel-time.md):
 *
 *   - each CPU's clock is its executed cycles, plus jumps: to a message's send time when it takes
 *     one sent later than its own time, and across a halt. It publishes that clock at every run
 *     chunk (VIRTUAL_NS);
 *   - the global virtual time (GVT) is the minimum over the CPUs that are not halted, and over the
 *     coordinator's next undelivered event (the clock, devices, the run's end): no CPU runs more than
 *     the slack ahead of it, and the coordinator delivers an event only once every running CPU has
 *     reached its time. A worker the host deschedules stops its own clock and so holds everyone
 *     back: host stalls cost speed, never emulated latency;
 *   - a halted CPU leaves the minimum. Whoever sends it a message takes it back into the running set
 *     (NT's waker clears the target from KiIdleSummary likewise) at the message's time, so a wake in
 *     flight can never let time jump past it; when every CPU is halted and nothing is in flight, the
 *     coordinator jumps to the next event (idle time costs nothing).
 *
 * A halted CPU's IDLE word holds the number of that halt (1, 2, …; 0: running; WAKING while a waker
 * sets its clock), and a waker takes it back with a compare-exchange from the number it saw: a
 * waker delayed between its look and its exchange can never take back a later halt that its
 * message had nothing to do with (the ABA race a plain 1 → 0 exchange has). A waker that wins
 * holds the word at WAKING while it raises the CPU's clock to the wake's time, then clears it; the
 * CPU does not rejoin (and publish) before that, so a published clock is only ever written by one
 * actor at a time and never goes back.
 *
 * The ordering argument (all of it on seq-cst Atomics): a sender publishes its message, then looks
 * at the target's IDLE; a halting CPU stores IDLE = 1, then looks at its doorbell. Either the sender
 * sees the halt (and wakes the target) or the target sees the message (and wakes itself), and both
 * bump WAKE_EPOCH. The coordinator's "all halted" scan reads WAKE_EPOCH before and after, and counts a
 * halted CPU whose doorbell moved since its halt as running.
 *
 * Waiting costs no host core: a CPU at the slack sleeps on its own doorbell (so a message, a
 * freeze or the run's end wakes it as well) after writing the GVT it needs (WAITING_FOR_NS); a CPU
 * that publishes a later clock, or halts, or the coordinator after delivering, rings exactly the
 * waiters whose need the GVT now meets. Likewise a CPU whose publication lets the GVT reach the
 * coordinator's next event rings the coordinator once (COORDINATOR_CALLED).
 *
 * Who may touch what: a CPU writes its own VIRTUAL_NS, WAITING_FOR_NS and halt words; a waker
 * writes a halted CPU's VIRTUAL_NS only after winning its IDLE 1 → 0 exchange; only the coordinator
 * writes NEXT_EVENT_NS and clears COORDINATOR_CALLED. Everyone reads.
 */

import { Doorbell } from './doorbell.js';
import { ControlField, CounterField, DoorbellField, PrcbField } from './layout.js';
import type { MachineLayout } from './layout.js';

/** PrcbField.IDLE while a waker sets the CPU's clock: neither halted nor running yet */
const WAKING = -1;

/** The coordinator's actor number and a CPU's (as in src/ipc/messages.ts, which src/shm may not import). */
const COORDINATOR = 1;
const actorOf = (cpu: number): number => 2 + cpu;

export class VirtualTimeBoard {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly cpus: number;
  /** per CPU: Float64 index of VIRTUAL_NS, Int32 index of IDLE, of DOORBELL_AT_HALT, of its doorbell count */
  private readonly clockAt: Int32Array;
  private readonly idleAt: Int32Array;
  /** per CPU: its halts so far (written by that CPU only; the IDLE word holds the current one while halted) */
  private readonly halts: Int32Array;
  private readonly haltDoorbellAt: Int32Array;
  private readonly doorbellAt: Int32Array;
  private readonly waitingAt: Int32Array;
  private readonly gvtWaitersAt: number;
  private readonly wakeEpochAt: number;
  private readonly calledAt: number;
  private readonly nextEventAt: number;
  private readonly deliveredAt: number;
  /** ringing only (Doorbell.ring): the CPUs' and the coordinator's */
  private readonly cpuDoorbells: Doorbell[] = [];
  private readonly coordinatorDoorbell: Doorbell;

  constructor(i32: Int32Array, f64: Float64Array, layout: MachineLayout) {
    this.i32 = i32;
    this.f64 = f64;
    this.cpus = layout.params.cpus;
    this.clockAt = new Int32Array(this.cpus);
    this.idleAt = new Int32Array(this.cpus);
    this.halts = new Int32Array(this.cpus);
    this.haltDoorbellAt = new Int32Array(this.cpus);
    this.doorbellAt = new Int32Array(this.cpus);
    this.waitingAt = new Int32Array(this.cpus);
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      this.clockAt[cpu] = layout.counters(cpu) + CounterField.VIRTUAL_NS;
      this.waitingAt[cpu] = layout.counters(cpu) + CounterField.WAITING_FOR_NS;
      this.idleAt[cpu] = layout.prcb(cpu) + PrcbField.IDLE;
      this.haltDoorbellAt[cpu] = layout.prcb(cpu) + PrcbField.DOORBELL_AT_HALT;
      this.doorbellAt[cpu] = layout.doorbell(actorOf(cpu)) + DoorbellField.COUNT;
      this.cpuDoorbells.push(new Doorbell(i32, layout.doorbell(actorOf(cpu))));
    }
    this.coordinatorDoorbell = new Doorbell(i32, layout.doorbell(COORDINATOR));
    this.gvtWaitersAt = layout.control + ControlField.GVT_WAITERS;
    this.wakeEpochAt = layout.control + ControlField.WAKE_EPOCH;
    this.calledAt = layout.control + ControlField.COORDINATOR_CALLED;
    this.nextEventAt = (layout.control + ControlField.NEXT_EVENT_NS) / 2;
    this.deliveredAt = (layout.control + ControlField.DELIVERED_NS) / 2;
  }

  // ---- a CPU's own clock ----

  /**
   * Publish CPU `cpu`'s clock (its own, at a run chunk's end) and return the GVT. The GVT may have
   * risen: ring the waiters it now satisfies, and the coordinator if its next event is due.
   */
  publish(cpu: number, timeNs: number): number {
    this.f64[this.clockAt[cpu]!] = timeNs;
    return this.afterChange();
  }

  /**
   * After something that may raise the GVT (a clock published, a CPU halted, events delivered):
   * ring the waiters it now satisfies and, if the coordinator's next event is due, the
   * coordinator. Returns the GVT.
   */
  afterChange(): number {
    const min = this.runningMinimum();
    this.lastRunningMinimum = min;
    const next = this.f64[this.nextEventAt]!;
    // a read-modify-write, not a load: it orders the clock store above before the look at the
    // waiters (a waiter registers, then reads the clocks)
    if (Atomics.add(this.i32, this.gvtWaitersAt, 0) !== 0) this.ringSatisfiedWaiters(Math.min(min, next));
    if (min >= next) this.callCoordinator();
    return Math.min(min, next);
  }

  /** the running minimum that the last publish() / afterChange() saw (the driver's lead statistic reuses it) */
  lastRunningMinimum = Infinity;

  private ringSatisfiedWaiters(gvt: number): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const need = this.f64[this.waitingAt[cpu]!]!;
      if (need > 0 && need <= gvt) this.cpuDoorbells[cpu]!.ring();
    }
  }

  /** Ring the coordinator once until it next looks (its next event is due, or every CPU halted). */
  callCoordinator(): void {
    if (Atomics.load(this.i32, this.calledAt) === 0 && Atomics.compareExchange(this.i32, this.calledAt, 0, 1) === 0) this.coordinatorDoorbell.ring();
  }

  /** The coordinator, before it looks at the GVT: later changes must call it again. */
  coordinatorLooks(): void {
    Atomics.store(this.i32, this.calledAt, 0);
  }

  clockOf(cpu: number): number {
    return this.f64[this.clockAt[cpu]!]!;
  }

  /** Halted, or being woken (not running yet). */
  isHalted(cpu: number): boolean {
    return Atomics.load(this.i32, this.idleAt[cpu]!) !== 0;
  }

  /** A halted CPU, asleep: has a waker taken it back (or begun to)? */
  takenBack(cpu: number): boolean {
    return Atomics.load(this.i32, this.idleAt[cpu]!) <= 0;
  }

  /**
   * CPU `cpu` halts at `timeNs` having drained its inbox up to doorbell count `doorbellSeen`.
   * Returns false when a message arrived meanwhile: do not sleep, take it in and rejoin() (the CPU
   * stays out of the running set until then, so its halt-time clock never holds the GVT back
   * while it is about to jump to the message's time).
   */
  halt(cpu: number, timeNs: number, doorbellSeen: number): boolean {
    this.f64[this.clockAt[cpu]!] = timeNs;
    Atomics.store(this.i32, this.haltDoorbellAt[cpu]!, doorbellSeen);
    // a new number for every halt (kept positive when it wraps)
    const halt = (this.halts[cpu]! % 0x3fffffff) + 1;
    this.halts[cpu] = halt;
    Atomics.store(this.i32, this.idleAt[cpu]!, halt);
    return Atomics.load(this.i32, this.doorbellAt[cpu]!) === doorbellSeen;
  }

  /**
   * A halted CPU's doorbell rang without a message (a nudge meant for a spinner): it stays halted,
   * having now seen `doorbellSeen`, so that the coordinator's scan does not take the ring for a
   * message in flight. Returns false when a message arrived meanwhile.
   */
  stayHalted(cpu: number, doorbellSeen: number): boolean {
    Atomics.store(this.i32, this.haltDoorbellAt[cpu]!, doorbellSeen);
    return Atomics.load(this.i32, this.doorbellAt[cpu]!) === doorbellSeen;
  }

  /**
   * A halted CPU woke (its doorbell rang, or a waker took it back) and has taken what woke it: back
   * into the running set, at its clock as moved by what it took.
   */
  rejoin(cpu: number, timeNs: number): void {
    this.waitForWaker(cpu);
    const clockAt = this.clockAt[cpu]!;
    if (timeNs > this.f64[clockAt]!) this.f64[clockAt] = timeNs;
    this.unhaltSelf(cpu);
  }

  /** Back into the running set (a message arrived as it halted: its clock is the one it halted at). */
  unhaltSelf(cpu: number): void {
    const halt = this.halts[cpu]!;
    const idleAt = this.idleAt[cpu]!;
    const was = Atomics.compareExchange(this.i32, idleAt, halt, 0);
    if (was === halt) Atomics.add(this.i32, this.wakeEpochAt, 1);
    else if (was === WAKING) this.waitForWaker(cpu);
  }

  /** A waker is setting this CPU's clock (a few stores): wait until it has. */
  waitForWaker(cpu: number): void {
    const idleAt = this.idleAt[cpu]!;
    while (Atomics.load(this.i32, idleAt) === WAKING) {
      /* the waker is between two stores */
    }
  }

  /**
   * A message sent at `sentNs` is in CPU `cpu`'s ring (published before this call): if it is
   * halted, take it back into the running set at the message's time. Returns whether this call woke it.
   */
  wakeIfHalted(cpu: number, sentNs: number): boolean {
    const idleAt = this.idleAt[cpu]!;
    const halt = Atomics.load(this.i32, idleAt);
    if (halt <= 0) return false;
    if (Atomics.compareExchange(this.i32, idleAt, halt, WAKING) !== halt) return false;
    // the clock before the CPU counts as running again: it must never show its older halt time, or
    // the GVT would dip below where it stands (the CPU itself waits for this, see rejoin)
    const clockAt = this.clockAt[cpu]!;
    if (sentNs > this.f64[clockAt]!) this.f64[clockAt] = sentNs;
    Atomics.store(this.i32, idleAt, 0);
    Atomics.add(this.i32, this.wakeEpochAt, 1);
    // The target may have taken this message before it halted (a waker slow between its publish
    // and its look finds a later halt): then nothing new is in its rings and nothing would wake it,
    // and a sleeper in the running set holds the GVT for ever. Ring it: it finds itself taken back
    // and runs (and halts again if there is nothing to do).
    this.cpuDoorbells[cpu]!.ring();
    return true;
  }

  // ---- the global virtual time ----

  /** The minimum clock over running CPUs (Infinity when every CPU is halted). */
  runningMinimum(): number {
    let min = Infinity;
    const f64 = this.f64;
    const i32 = this.i32;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (Atomics.load(i32, this.idleAt[cpu]!) !== 0) continue;
      const t = f64[this.clockAt[cpu]!]!;
      if (t < min) min = t;
    }
    return min;
  }

  /**
   * The earliest emulated time at which anything outside CPU `cpu` can change what it sees: the
   * minimum over the other running CPUs' published clocks (each is at or before its CPU's real
   * clock, so whatever that CPU writes or sends from now on is stamped no earlier) and the
   * coordinator's next undelivered event. A spin that has found nothing new cannot find anything
   * new before then (Processor.run skips its clock there).
   */
  spinHorizon(cpu: number): number {
    let min = this.f64[this.nextEventAt]!;
    const f64 = this.f64;
    const i32 = this.i32;
    for (let other = 0; other < this.cpus; other++) {
      if (other === cpu || Atomics.load(i32, this.idleAt[other]!) !== 0) continue;
      const t = f64[this.clockAt[other]!]!;
      if (t < min) min = t;
    }
    return min;
  }

  /** The coordinator's next undelivered event (the run's end at the latest). */
  nextEventNs(): number {
    return this.f64[this.nextEventAt]!;
  }

  setNextEvent(timeNs: number): void {
    this.f64[this.nextEventAt] = timeNs;
  }

  /** The coordinator, about to deliver an event at `timeNs` (before it wakes anyone): time has got there. */
  delivering(timeNs: number): void {
    if (timeNs > this.f64[this.deliveredAt]!) this.f64[this.deliveredAt] = timeNs;
    if (timeNs > this.f64[this.nextEventAt]!) this.f64[this.nextEventAt] = timeNs;
  }

  /**
   * Where the machine's time stands, for a CPU that rejoins after a halt (it was idle until then):
   * the GVT while any CPU runs, else the latest event delivered. Not the next event: with every
   * CPU halted nothing has reached it yet (a CPU woken at boot would otherwise jump to the run's end).
   */
  machineTime(): number {
    const min = this.runningMinimum();
    if (min === Infinity) return this.f64[this.deliveredAt]!;
    const next = this.f64[this.nextEventAt]!;
    return Math.min(min, next);
  }

  /** GVT: what no running CPU may run more than the slack ahead of. */
  gvt(): number {
    const min = this.runningMinimum();
    const next = this.f64[this.nextEventAt]!;
    return Math.min(min, next);
  }

  /**
   * Every CPU is halted with nothing in flight to it, and no wake overtook the scan: the
   * coordinator may jump to its next event.
   */
  allHalted(): boolean {
    const i32 = this.i32;
    const before = Atomics.load(i32, this.wakeEpochAt);
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (Atomics.load(i32, this.idleAt[cpu]!) <= 0) return false;
      if (Atomics.load(i32, this.doorbellAt[cpu]!) !== Atomics.load(i32, this.haltDoorbellAt[cpu]!)) return false;
    }
    return Atomics.load(i32, this.wakeEpochAt) === before;
  }

  // ---- waiting for the GVT ----

  /**
   * CPU `cpu` reached the slack and needs the GVT to reach `needNs`: register (then re-check the
   * GVT, then sleep on its doorbell; see the driver), and endWait() once it runs again.
   */
  beginWait(cpu: number, needNs: number): void {
    this.f64[this.waitingAt[cpu]!] = needNs;
    Atomics.add(this.i32, this.gvtWaitersAt, 1);
  }

  endWait(cpu: number): void {
    this.f64[this.waitingAt[cpu]!] = 0;
    Atomics.sub(this.i32, this.gvtWaitersAt, 1);
  }
}
