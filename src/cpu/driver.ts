/**
 * The loops that drive a Processor in each run mode, run by the CPU worker after boot.
 *
 * Deterministic: wait for a slice grant, run exactly that many cycles (or until halted), report the
 * slice back. Messages that arrive while a CPU waits are collected, not acted on, and take effect at
 * its slice's start in a fixed order (by sender, each sender's in order); only the granted CPU runs,
 * so what each CPU sees depends on the seed alone. The slice itself is a step function
 * (DeterministicSlices), which the in-process backend (src/machine/in-process.ts) calls directly.
 *
 * Parallel: run in chunks; between chunks flush the outbox and pace against the host clock (a CPU
 * never runs ahead of its emulated clock rate, so `work n` takes n cycles of emulated time); when
 * halted, sleep on the doorbell (an idle CPU costs no host CPU).
 */

import { type Processor, RunExit } from './processor.js';
import type { ProcessorPort } from './processor.js';
import type { HostClock } from '../ipc/actor-port.js';
import { COORDINATOR_ACTOR, Kind, timeHi, timeLo } from '../ipc/messages.js';

/** cycles between pacing checks and outbox flushes in parallel mode */
const PARALLEL_CHUNK_CYCLES = 2000;

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
  private grant: { budget: number; startNs: number } | null = null;

  private readonly processor: Processor;
  private readonly port: ProcessorPort;
  constructor(processor: Processor, port: ProcessorPort) {
    this.processor = processor;
    this.port = port;
    processor.onGrant = (budget, startNs) => {
      this.grant = { budget, startNs };
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
    const { budget, startNs } = this.grant!;
    this.grant = null;
    processor.takeCollectedMessages();
    processor.beginSlice(startNs);
    const exit = processor.run(processor.cycles + budget);
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

export function runParallelLoop(processor: Processor, port: ProcessorPort, hostClock: HostClock): void {
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
    while (hostClock() < targetNs && !port.hasWork()) {
      /* spin: the CPU is busy in emulated time */
    }
  }
}
