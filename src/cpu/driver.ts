/**
 * The loops that drive a Processor in each run mode, run by the CPU worker after boot.
 *
 * Deterministic: wait for a slice grant, run exactly that many cycles (or until halted), report the
 * slice back. Messages that arrive while a CPU waits are collected, not acted on, and take effect at
 * its slice's start in a fixed order (by sender, each sender's in order); only the granted CPU runs,
 * so what each CPU sees depends on the seed alone. The slice itself is a step function
 * (DeterministicSlices), which the in-process backend (src/machine/in-process.ts) calls directly.
 *
 * Parallel, on virtual time (the default): run in chunks of at most PARALLEL_CHUNK_CYCLES; at each
 * chunk's end publish this CPU's clock and look at the global virtual time (src/shm/virtual-time.ts).
 * A CPU that has reached the slack ahead of it sleeps on its doorbell until the laggards catch up
 * (or a message comes); a halted CPU sleeps until a message wakes it, and its clock jumps to the
 * message's time. No host clock is read: what a CPU does in emulated time is the same however the
 * host schedules its worker.
 *
 * Parallel with --pace host: run in chunks; between chunks flush the outbox and pace against the
 * host clock (a CPU never runs ahead of its emulated clock rate, so `work n` takes n cycles of
 * emulated time, and whatever the host does shows as emulated time too); when halted, sleep on
 * the doorbell (an idle CPU costs no host CPU).
 */

import { type Processor, RunExit } from './processor.js';
import type { ProcessorPort } from './processor.js';
import type { HeldIpis } from './held-ipis.js';
import type { HostClock } from '../ipc/actor-port.js';
import { COORDINATOR_ACTOR, Kind, timeHi, timeLo } from '../ipc/messages.js';
import type { VirtualTimeBoard } from '../shm/virtual-time.js';

/** cycles between pacing checks and outbox flushes in parallel mode */
const PARALLEL_CHUNK_CYCLES = 2000;
/**
 * Virtual time: a CPU at the slack waits until it has this share of the slack to run again, so that
 * it is not woken for every few cycles its laggard gains.
 */
const SLACK_RESUME_SHARE = 0.25;
/**
 * Virtual time: the coordinator sends fixed-delivery device assertions ahead in batches, and is
 * called for the next batch when the GVT reaches the first one it has not sent. A CPU that holds at
 * least REFILL_MIN_HELD calls it earlier, once its held assertions have fallen to REFILL_SHARE of
 * what it held at most since the last call: the coordinator's wake-up (tens of µs to milliseconds
 * of host time on a loaded VM) then overlaps the CPU's work on what it still holds instead of
 * stopping the CPU at the slack. Each call brings one batch, so the held stretch settles at about a
 * batch / (1 − REFILL_SHARE): eight batches, ~5 ms of host time at a million interrupts a second
 * (at 0.5 and 0.75 the CPU still ran dry and waited when the host was slow to run the coordinator).
 * Only the host-time moment of the send changes: each assertion is still raised at its own time.
 */
const REFILL_MIN_HELD = 64;
const REFILL_SHARE = 0.875;
/** a halting CPU whose outbox is backed up looks again this soon (host ms) */
const BACKLOG_RETRY_MS = 0.05;
/** host ms one sleep may last before a waiting CPU looks again anyway (a safety net: every change that matters rings) */
const SLEEP_MS = 1000;

export function runDeterministicLoop(processor: Processor, port: ProcessorPort): void {
  const slices = new DeterministicSlices(processor, port);
  for (;;) {
    while (!slices.granted && !processor.isStopRequested && !processor.isFrozen) {
      if (!port.hasWork()) port.sleep(1000);
      processor.collectInbox();
    }
    if (!slices.step()) return;
  }
}

/**
 * Deterministic mode as a step function, for a driver that does not block (the in-process backend
 * runs every CPU this way in one thread; the worker loop above waits, then steps): collect() takes
 * in what arrived (a grant, the end of the run and a freeze act at once, the rest waits for the
 * slice's start), step() runs the granted slice and reports it to the coordinator.
 */
export class DeterministicSlices {
  private grant: { budget: number; startNs: number; untilNs: number } | null = null;

  private readonly processor: Processor;
  private readonly port: ProcessorPort;
  constructor(processor: Processor, port: ProcessorPort) {
    this.processor = processor;
    this.port = port;
    processor.onGrant = (budget, startNs, untilNs) => {
      this.grant = { budget, startNs, untilNs };
    };
  }

  /** a slice grant has arrived and not run yet */
  get granted(): boolean {
    return this.grant !== null;
  }

  /** Between slices: take in what has arrived (never blocks). */
  collect(): void {
    this.processor.collectInbox();
  }

  /**
   * Run the granted slice (the CPU must be granted, stopping or frozen) and send SLICE_DONE.
   * Returns false when the CPU is done for the run: stopped (its final report sent) or frozen.
   */
  step(): boolean {
    const { processor, port } = this;
    if (processor.isFrozen) return false;
    if (processor.isStopRequested) {
      processor.stop();
      return false;
    }
    const { budget, startNs, untilNs } = this.grant!;
    this.grant = null;
    processor.takeCollectedMessages();
    processor.beginSlice(startNs);
    const held = processor.heldIpis;
    const exit = held === null ? processor.run(processor.cycles + budget) : runHoldingIpis(processor, held, processor.cycles + budget, untilNs);
    if (exit === RunExit.FROZEN) return false;
    if (exit === RunExit.STOP) {
      processor.stop();
      return false;
    }
    const halted = exit === RunExit.HALT;
    if (halted) processor.enterHalt();
    const now = processor.now();
    port.send(COORDINATOR_ACTOR, Kind.SLICE_DONE, 5, processor.cpu, timeLo(now), timeHi(now), halted ? 1 : 0, port.doorbellSeen());
    port.flush();
    return true;
  }
}

/**
 * Deterministic mode under pct or perturb: a slice of a CPU that holds IPIs until their time
 * (held-ipis.ts). It takes each when its clock reaches it (running up to that cycle, then on); if
 * it halts with one held, it idles until then, and past the slice's end (`untilNs`, the next
 * event) it reports the slice done there, running: it takes the IPI in a later slice.
 */
function runHoldingIpis(processor: Processor, held: HeldIpis, cycleLimit: number, untilNs: number): number {
  const cyclesPerNs = processor.config.cyclesPerNs;
  let limit = cycleLimit;
  for (;;) {
    held.release(processor, processor.now());
    const dueNs = held.nextDueNs();
    const pause = dueNs === Infinity ? limit : Math.min(limit, processor.cycles + Math.max(1, Math.ceil((dueNs - processor.now()) * cyclesPerNs)));
    const exit = processor.run(pause);
    // at the held IPI's time: take it and run on (a slice ended early, or the budget spent, ends here)
    if (exit === RunExit.BUDGET && pause < limit && processor.cycles >= pause) continue;
    if (exit !== RunExit.HALT || dueNs === Infinity) return exit;
    // halted with an IPI held: idle until it is due, within the slice's time
    processor.enterHalt();
    processor.beginSlice(Math.min(dueNs, untilNs));
    if (dueNs >= untilNs) return RunExit.BUDGET;
    limit = Math.min(limit, processor.cycles + Math.ceil((untilNs - processor.now()) * cyclesPerNs));
  }
}

/**
 * Parallel mode on virtual time. Each turn: publish this CPU's clock, look at the GVT, run at most
 * up to GVT + slack (or sleep until the GVT moves), flush what the chunk sent.
 */
export function runVirtualTimeLoop(processor: Processor, port: ProcessorPort, board: VirtualTimeBoard): void {
  const cpu = processor.cpu;
  const cyclesPerNs = processor.config.cyclesPerNs;
  const slackNs = processor.config.slackNs;
  const stats = processor.virtualTime;
  processor.board = board;
  /** the most assertions held since the coordinator was last called for more (see REFILL_MIN_HELD) */
  let heldPeak = 0;
  for (;;) {
    processor.releaseHeldInterrupts();
    const held = processor.apic.heldCount();
    if (held > heldPeak) heldPeak = held;
    else if (heldPeak >= REFILL_MIN_HELD && held <= heldPeak * REFILL_SHARE) {
      board.callCoordinator();
      heldPeak = held;
    }
    const now = processor.now();
    const gvt = board.publish(cpu, now);
    const lead = now - board.lastRunningMinimum;
    if (lead > stats.maxSkewNs) stats.maxSkewNs = lead;
    // run to the slack (run() raises the interrupts sent ahead of their time as the clock reaches them)
    const roomNs = gvt + slackNs - now;
    let budget = Math.min(PARALLEL_CHUNK_CYCLES, Math.floor(roomNs * cyclesPerNs));
    if (budget < 1) {
      stats.slackWaits++;
      waitForGvt(processor, port, board, now - slackNs + slackNs * SLACK_RESUME_SHARE);
      // take in what came meanwhile (a freeze, the end of the run, interrupts) before anything runs
      budget = 0;
    }
    const exit = processor.run(processor.cycles + budget);
    port.flush();
    if (exit === RunExit.FROZEN) return;
    if (exit === RunExit.STOP) {
      processor.stop();
      return;
    }
    if (exit === RunExit.HALT) {
      const heldNs = processor.apic.nextHeldNs();
      if (heldNs !== Infinity) {
        // nothing to do until a held interrupt's time: idle up to it, as far as the slack allows
        processor.idleUntil(Math.min(heldNs, board.gvt() + slackNs));
        continue;
      }
      processor.enterHalt();
      port.flush();
      const haltedAt = processor.now();
      // a halted CPU must have nothing in flight: messages still in its backlog (a full ring) are
      // invisible to their receivers, and time could jump past them. Stay in the running set until
      // the receivers make room (they are running: a full ring has a reader with work)
      while (port.backlogWords() > 0 && !port.hasWork()) {
        port.sleep(BACKLOG_RETRY_MS);
        port.flush();
      }
      if (board.halt(cpu, haltedAt, port.doorbellSeen())) {
        // leaving the running set may let the GVT rise: ring who waits for that
        board.afterChange();
        for (;;) {
          port.sleep(SLEEP_MS);
          // a message, or a waker took it back into the running set (see VirtualTimeBoard.wakeIfHalted)
          if (port.hasWork() || board.takenBack(cpu)) break;
          processor.drainInbox();
          if (!board.stayHalted(cpu, port.doorbellSeen())) break;
        }
      }
      // a waker that took it back wrote the wake's time: the halt lasted until then (idle time).
      // Its message may not be in yet, and this CPU must not publish a clock below that time
      board.waitForWaker(cpu);
      processor.takeAt(board.clockOf(cpu));
      // take what woke it (its clock jumps to a later send time), then rejoin the running set at that
      // time, and no earlier than the machine's time: a halted CPU was idle all along while the machine went on,
      // and it may have woken on its doorbell before its waker could set its clock (an interrupt
      // sent ahead of its time does not move the clock when it is taken in)
      processor.drainInbox();
      processor.takeAt(board.machineTime());
      board.rejoin(cpu, processor.now());
      // a waker that won the race with the rejoin set the clock meanwhile: no publication may go below it
      processor.takeAt(board.clockOf(cpu));
      processor.leaveHalt();
    }
  }
}

/**
 * Sleep on the doorbell until the GVT reaches `needNs`, or a message comes (the caller takes it in
 * and comes back: a message cannot move this CPU past the slack, it only moves it to its sender's time).
 */
function waitForGvt(processor: Processor, port: ProcessorPort, board: VirtualTimeBoard, needNs: number): void {
  const cpu = processor.cpu;
  board.beginWait(cpu, needNs);
  try {
    for (;;) {
      processor.drainInbox();
      if (processor.isFrozen || processor.isStopRequested || processor.workPending) return;
      // publish again (the same clock, or a later one if a message moved it): this rings the
      // coordinator when its next event is what holds the GVT, and a waiter must never be left
      // waiting on a published clock of its own that is older than its real one
      if (board.publish(cpu, processor.now()) >= needNs) return;
      port.sleep(SLEEP_MS);
    }
  } finally {
    board.endWait(cpu);
  }
}

/** Parallel mode with --pace host: emulated time is the host clock. */
export function runHostPacedLoop(processor: Processor, port: ProcessorPort, hostClock: HostClock): void {
  const cyclesPerNs = processor.config.cyclesPerNs;
  let paceHostNs = hostClock();
  let paceCycles = processor.cycles;
  for (;;) {
    const exit = processor.run(processor.cycles + PARALLEL_CHUNK_CYCLES);
    port.flush();
    if (exit === RunExit.FROZEN) return;
    if (exit === RunExit.STOP) {
      processor.stop();
      return;
    }
    if (exit === RunExit.HALT) {
      processor.enterHalt();
      port.flush();
      // every wake-up is a message (IPI, clock, stop); the timeout is only a safety net
      while (!port.hasWork()) port.sleep(1000);
      processor.leaveHalt();
      paceHostNs = hostClock();
      paceCycles = processor.cycles;
      continue;
    }
    // pacing: cycles executed must not get ahead of emulated time
    const targetNs = paceHostNs + (processor.cycles - paceCycles) / cyclesPerNs;
    // a message first (one load), then the clock (a read costs tens of ns): an IPI is seen sooner
    while (!port.hasWork() && hostClock() < targetNs) {
      /* spin: the CPU is busy in emulated time */
    }
  }
}
