/**
 * Exploration strategies (`--strategy`, src/contract/schedule.ts): the part of deterministic
 * mode's slice scheduler (slice-scheduler.ts) that makes its choices. The scheduler delivers the
 * events due and keeps every CPU's emulated time; at each step it asks the strategy which runnable
 * CPU runs next and for how many cycles, and cuts the slice at the next event.
 *
 *   - random: today's seeded slices. The earliest runnable CPU runs (CPUs at the same time in a
 *     seeded order) for a seeded 64 to 16384 cycles. Its draws from the seed are exactly what they
 *     were before strategies existed, so every pinned trace hash stands.
 *   - perturb: random's slices, and interrupt arrivals moved within the scenario's jitter
 *     (perturbation.ts: device assertions, the clock's phase; the CPUs delay the IPIs they take).
 *   - pct: priorities over the CPUs with d − 1 change points (pct.ts).
 *
 * Every choice goes through the coordinator's DecisionSource (src/contract/decision-source.ts), so
 * a run given explicit decisions takes them instead, and a recording run logs them.
 */

import type { DecisionSource } from '../contract/decision-source.js';
import type { MachineConfig, MachineSchedule } from '../contract/config.js';
import { Prng, deriveSeed } from '../util/prng.js';
import { PctStrategy } from './pct.js';

/** Slice lengths in deterministic mode, in cycles: seeded, so another seed interleaves differently. */
export const MIN_SLICE_CYCLES = 64;
export const MAX_SLICE_CYCLES = 16384;
/** a lone runnable CPU's slice: up to the next event, at most this (progress reports stay live) */
export const MAX_LONE_SLICE_CYCLES = 50_000_000;

/** What a strategy sees of the scheduler: each CPU's emulated time, and which CPUs are halted (not runnable). */
export interface SchedulerState {
  readonly localNs: readonly number[];
  readonly halted: readonly boolean[];
}

export interface ScheduleStrategy {
  /** The earliest runnable CPU (−1: none is runnable); the scheduler delivers the events due before its time. */
  earliest(state: SchedulerState): number;
  /**
   * Which CPU runs the next slice, the earliest (`earliest`, at `minNs`) or another runnable one
   * that is before the next event (`untilNs`); at least two CPUs are runnable.
   */
  pick(state: SchedulerState, earliest: number, minNs: number, untilNs: number): number;
  /** The slice's length in cycles, before the scheduler cuts it at the next event. */
  budget(): number;
}

/** A slice length taken from an explicit decision: whole cycles, 1 to the lone slice. */
export function sliceCycles(value: number, neutral: number): number {
  if (!Number.isFinite(value) || value < 1) return neutral;
  return Math.min(Math.floor(value), MAX_LONE_SLICE_CYCLES);
}

/**
 * random (and perturb's slices): the earliest runnable CPU, CPUs at the same time in a seeded
 * order, for a seeded number of cycles. Decision points: 'tie' when two or more CPUs are at the
 * earliest time (neutral: the lowest-numbered), 'slice' for every slice that has company (neutral:
 * the longest slice).
 */
export class RandomSlices implements ScheduleStrategy {
  private readonly prng: Prng;
  private readonly decisions: DecisionSource;
  constructor(prng: Prng, decisions: DecisionSource) {
    this.prng = prng;
    this.decisions = decisions;
  }

  earliest(state: SchedulerState): number {
    const { localNs, halted } = state;
    let cpu = -1;
    let minNs = Infinity;
    for (let c = 0; c < localNs.length; c++) {
      if (halted[c]) continue;
      const t = localNs[c]!;
      // seeded tie-break: CPUs at the same time run in a seed-dependent order. (A streaming draw,
      // one per CPU met at the running minimum: exactly the draws the pinned hashes were made with.)
      if (t < minNs || (t === minNs && this.prng.next() < 0.5)) {
        minNs = t;
        cpu = c;
      }
    }
    return cpu;
  }

  pick(state: SchedulerState, earliest: number, minNs: number): number {
    const { localNs, halted } = state;
    let lowest = -1;
    let tied = 0;
    for (let c = 0; c < localNs.length; c++) {
      if (halted[c] || localNs[c] !== minNs) continue;
      if (lowest < 0) lowest = c;
      tied++;
    }
    if (tied < 2) return earliest;
    const chosen = this.decisions.decide('tie', earliest, lowest);
    // an explicit decision naming a CPU that is not at the earliest time: the neutral choice
    return Number.isInteger(chosen) && chosen >= 0 && chosen < localNs.length && !halted[chosen] && localNs[chosen] === minNs ? chosen : lowest;
  }

  budget(): number {
    return sliceCycles(this.decisions.decide('slice', this.prng.int(MIN_SLICE_CYCLES, MAX_SLICE_CYCLES), MAX_SLICE_CYCLES), MAX_SLICE_CYCLES);
  }
}

/** The strategy `schedule` asks for (deterministic mode's; absent: random). */
export function createStrategy(config: MachineConfig, schedule: MachineSchedule | undefined, decisions: DecisionSource): ScheduleStrategy {
  // the slices' stream: the one the scheduler always drew from (random's pinned draws)
  const slices = new Prng(deriveSeed(config.seed, 7));
  if (schedule?.strategy === 'pct') {
    return new PctStrategy(
      {
        cpus: config.cpus,
        depth: schedule.depth,
        ...(schedule.steps !== undefined ? { steps: schedule.steps } : {}),
        durationNs: config.durationNs,
        cyclesPerNs: config.cyclesPerNs,
        windowNs: MAX_SLICE_CYCLES / config.cyclesPerNs,
      },
      new Prng(deriveSeed(config.seed, 9)),
      decisions,
    );
  }
  return new RandomSlices(slices, decisions);
}
