/**
 * The deterministic slice scheduler: in deterministic mode one CPU runs at a time, for a slice of
 * seeded length, over a virtual clock derived from cycle counts; device and clock events are
 * delivered between slices, at their emulated time. Which CPU runs next and for how long is the
 * only choice the emulator makes (with the seed): the exploration strategy makes it
 * (schedule-strategy.ts: random, pct, perturb).
 *
 * A step-function object with no transport: next() says which CPU runs, its budget, startNs and
 * untilNs (delivering the events due before it), completed() takes the slice's end (time, halted)
 * and wakes halted CPUs that were sent something. The coordinator (coordinator.ts) runs it over
 * workers; the in-process backend (src/machine/in-process.ts) drives the same coordinator in one
 * thread. Nothing here may depend on host timing.
 */

import type { PendingEvent } from './event-delivery.js';
import type { DecisionPosition } from '../contract/decision-source.js';
import { MAX_LONE_SLICE_CYCLES } from './schedule-strategy.js';
import type { ScheduleStrategy } from './schedule-strategy.js';

/** One slice: `cpu` runs `budget` cycles from emulated time `startNs`, stopping at `untilNs` (the next event). */
export interface SliceGrant {
  cpu: number;
  budget: number;
  startNs: number;
  untilNs: number;
}

/** What the scheduler needs from the coordinator's event delivery (event-delivery.ts). */
export interface SliceEvents {
  nextEvent(floorNs: number): PendingEvent;
  /** deliver the event at `stampNs`; `woken` for each CPU sent to */
  deliver(event: PendingEvent, stampNs: number, woken: (cpu: number) => void): void;
}

export interface SliceSchedulerOptions {
  cpus: number;
  durationNs: number;
  cyclesPerNs: number;
}

export class SliceScheduler {
  /** each CPU's emulated time: where its last slice ended (or where a wake-up moved it) */
  readonly localNs: number[];
  /** halted in its idle loop at the end of its last slice: runs again only when sent something */
  readonly halted: boolean[];
  /** the doorbell count each halted CPU had seen at its halt (a different count: it was sent something) */
  private readonly doorbellAtHalt: number[];
  /** the emulated time of the last event delivered */
  private lastEventNs = 0;
  /** the grant in progress (null between slices) */
  private current: SliceGrant | null = null;
  /** slices granted so far */
  slices = 0;
  /** a recording run: where the tie, PCT and slice decisions of the next slice are taken (the coordinator's DecisionSource reads it) */
  decisionPosition: DecisionPosition | null = null;

  private readonly options: SliceSchedulerOptions;
  private readonly strategy: ScheduleStrategy;
  private readonly events: SliceEvents;
  /** the time the machine has reached (for the progress line; never read back) */
  private readonly publishTime: (timeNs: number) => void;
  /** CPU `cpu`'s doorbell count now */
  private readonly doorbellCount: (cpu: number) => number;
  constructor(
    options: SliceSchedulerOptions,
    strategy: ScheduleStrategy,
    events: SliceEvents,
    publishTime: (timeNs: number) => void,
    doorbellCount: (cpu: number) => number,
  ) {
    this.options = options;
    this.strategy = strategy;
    this.events = events;
    this.publishTime = publishTime;
    this.doorbellCount = doorbellCount;
    this.localNs = new Array<number>(options.cpus).fill(0);
    this.halted = new Array<boolean>(options.cpus).fill(false);
    this.doorbellAtHalt = new Array<number>(options.cpus).fill(0);
  }

  /** The latest emulated time any CPU reached (where a bugcheck ends the run). */
  latestNs(): number {
    return Math.max(...this.localNs);
  }

  private wake(cpu: number, atNs: number): void {
    if (this.halted[cpu]) {
      this.halted[cpu] = false;
      if (this.localNs[cpu]! < atNs) this.localNs[cpu] = atNs;
    }
  }

  /**
   * The next slice, after delivering every event due before it; null when the run has reached its
   * duration. The strategy picks the CPU (random: the earliest runnable one, CPUs at the same time
   * in a seeded order; halted CPUs do not hold time back) and the cycles; the slice stops at the
   * next event.
   */
  next(): SliceGrant | null {
    const { durationNs } = this.options;
    for (;;) {
      let cpu = this.strategy.earliest(this);
      const minNs = cpu < 0 ? Infinity : this.localNs[cpu]!;
      const event = this.events.nextEvent(cpu < 0 ? this.lastEventNs : minNs);
      if (event.timeNs <= minNs || cpu < 0) {
        if (event.timeNs >= durationNs) {
          if (cpu < 0 || minNs >= durationNs) return null;
        } else {
          this.lastEventNs = event.timeNs;
          this.publishTime(event.timeNs);
          this.events.deliver(event, event.timeNs, (target) => this.wake(target, event.timeNs));
          continue;
        }
      }
      if (minNs >= durationNs) return null;
      // a slice of seeded length that stops at the next event, so events land on time; a CPU
      // running alone has nobody to interleave with and runs to the next event (a message it sends
      // to a halted CPU ends its slice early, so that CPU wakes on time)
      const alone = this.halted.every((halted, c) => halted || c === cpu);
      const untilNs = Math.min(event.timeNs, durationNs);
      let budget = MAX_LONE_SLICE_CYCLES;
      if (!alone) {
        const position = this.decisionPosition;
        if (position !== null) {
          position.timeNs = minNs;
          position.cpu = cpu;
        }
        cpu = this.strategy.pick(this, cpu, minNs, untilNs);
        if (position !== null) {
          position.timeNs = this.localNs[cpu]!;
          position.cpu = cpu;
        }
        budget = this.strategy.budget();
        // decisions taken elsewhere (event delivery's device delays) are at no position of this slice
        if (position !== null) position.timeNs = -1;
      }
      // pct may pick a CPU after the earliest one (never past the next event)
      const startNs = this.localNs[cpu]!;
      const room = Math.ceil((untilNs - startNs) * this.options.cyclesPerNs);
      if (room < budget) budget = Math.max(1, room);
      // every CPU that is not halted is at minNs or later
      this.publishTime(minNs);
      this.slices++;
      this.current = { cpu, budget, startNs, untilNs };
      return this.current;
    }
  }

  /**
   * The granted CPU's slice ended at emulated `timeNs` (halted: in its idle loop with nothing to
   * do, having seen doorbell count `doorbellSeen`). Halted CPUs that the slice sent something to
   * wake at the sender's time.
   */
  completed(timeNs: number, halted: boolean, doorbellSeen: number): void {
    const grant = this.current;
    if (grant === null) throw new Error('slice scheduler: a slice ended that was never granted');
    this.current = null;
    const cpu = grant.cpu;
    this.localNs[cpu] = Math.max(timeNs, grant.startNs);
    if (halted) {
      this.halted[cpu] = true;
      this.doorbellAtHalt[cpu] = doorbellSeen;
    }
    for (let c = 0; c < this.options.cpus; c++) {
      if (!this.halted[c]) continue;
      if (this.doorbellCount(c) !== this.doorbellAtHalt[c]) this.wake(c, this.localNs[cpu]!);
    }
  }
}
