/**
 * PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010),
 * as Coyote ("prioritization") and shuttle (PctScheduler) ship it, over irqlab's emulated CPUs:
 *
 *   - each CPU gets a random initial priority (a seeded permutation: decision 'priority', one per
 *     CPU, neutral: CPU number order, CPU 0 first);
 *   - d − 1 priority-change points are drawn uniformly, without repeats, over an estimate k of the
 *     run's scheduling steps; at the i-th, the CPU that would run drops below every initial
 *     priority (to PCT's priority i, so a later change lands above an earlier one) — decision
 *     'priority-change' at every step, value 1 at a change point, neutral 0;
 *   - at every step the highest-priority candidate CPU runs one short slice.
 *
 * A step is a slice granted while two or more CPUs are candidates. The paper's guarantee (a bug of
 * depth d found with probability at least 1/(n·k^(d−1))) is about which CPU runs at each step.
 *
 * Emulated time stays coherent: the candidates are the runnable CPUs within one maximum slice
 * (windowNs, 16384 cycles) of the earliest runnable CPU's time, and before the next event. A
 * low-priority CPU is starved only until the others are a window ahead of it; then it is the only
 * candidate and runs. So no CPU runs further ahead of another than a random schedule lets it
 * (random's slices reach the same 16384 cycles), device and clock events still land between slices
 * at their time, and a priority decides the order of what the CPUs do inside that window: where
 * their memory accesses interleave, who takes a lock first, which IPI is sent first.
 *
 * A step's slice is short and seeded (64 to 2048 cycles, decision 'slice', neutral 1024), so that
 * a change point lands between any two instructions, not at the same cycle offsets every run: with
 * a fixed length, the step boundaries (the only places a priority can act) fall where they always
 * do, and a race between two adjacent loads is never split.
 *
 * The estimate k: `steps` when the schedule gives it (`ScheduleOptions.steps`); a run started
 * through executeScenario without it gets the step count of the scenario's neutral PCT run
 * (src/machine/pct-steps.ts: Coyote's "length of the previous iteration", made a function of the
 * scenario and options so that every run replays from its command line). Only a coordinator built
 * without either falls back to cpus × (the run's duration in PCT slices), the steps of a run whose
 * CPUs are all busy from start to end: far too many for a race that is over early.
 */

import type { DecisionSource } from '../contract/decision-source.js';
import type { Prng } from '../util/prng.js';
import { MIN_SLICE_CYCLES, sliceCycles } from './schedule-strategy.js';
import type { ScheduleStrategy, SchedulerState } from './schedule-strategy.js';

/** One PCT step's slice, in cycles (the neutral one; a seeded one is 64 to twice this): short, so a priority order shows inside the window. */
export const PCT_SLICE_CYCLES = 1024;

export interface PctOptions {
  cpus: number;
  /** d: d − 1 change points */
  depth: number;
  /** the steps the change points are drawn over (absent: estimated from the duration) */
  steps?: number;
  durationNs: number;
  cyclesPerNs: number;
  /** candidates: runnable CPUs within this of the earliest runnable one (emulated ns) */
  windowNs: number;
}

export class PctStrategy implements ScheduleStrategy {
  /** the steps (0-based) at which the running CPU's priority drops: d − 1 of them (fewer only when k < d − 1) */
  readonly changePoints: ReadonlySet<number>;
  /** k, the steps the change points were drawn over */
  readonly estimatedSteps: number;
  /** each CPU's priority: lower runs first (initial priorities 0 … n − 1; a change puts a CPU above n − 1) */
  private readonly rank: number[];
  private step = 0;
  private changes = 0;
  private readonly windowNs: number;
  private readonly decisions: DecisionSource;
  private readonly prng: Prng;

  constructor(options: PctOptions, prng: Prng, decisions: DecisionSource) {
    const { cpus, depth } = options;
    this.windowNs = options.windowNs;
    this.decisions = decisions;
    this.prng = prng;
    // a seeded permutation (Fisher–Yates): CPU c's initial priority is order[c]
    const order = Array.from({ length: cpus }, (_, c) => c);
    for (let i = cpus - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    this.rank = order.map((proposed, cpu) => {
      const value = decisions.decide('priority', proposed, cpu);
      return Number.isFinite(value) ? value : cpu;
    });
    this.estimatedSteps = Math.max(1, Math.floor(options.steps ?? cpus * Math.ceil((options.durationNs * options.cyclesPerNs) / PCT_SLICE_CYCLES)));
    const wanted = Math.min(Math.max(0, depth - 1), this.estimatedSteps);
    const points = new Set<number>();
    while (points.size < wanted) points.add(prng.int(0, this.estimatedSteps - 1));
    this.changePoints = points;
  }

  /** The lowest-numbered runnable CPU at the earliest time (no tie-break: priorities decide among candidates). */
  earliest(state: SchedulerState): number {
    const { localNs, halted } = state;
    let cpu = -1;
    let minNs = Infinity;
    for (let c = 0; c < localNs.length; c++) {
      if (!halted[c] && localNs[c]! < minNs) {
        minNs = localNs[c]!;
        cpu = c;
      }
    }
    return cpu;
  }

  pick(state: SchedulerState, earliest: number, minNs: number, untilNs: number): number {
    const { localNs, halted } = state;
    const horizon = minNs + this.windowNs;
    let candidates = 0;
    let best = -1;
    for (let c = 0; c < localNs.length; c++) {
      if (halted[c] || localNs[c]! > horizon || localNs[c]! >= untilNs) continue;
      candidates++;
      if (best < 0 || this.higher(c, best)) best = c;
    }
    // the earliest CPU is always a candidate (it is before the next event, or the event would be due)
    if (candidates < 2) return earliest;
    const change = this.decisions.decide('priority-change', this.changePoints.has(this.step) ? 1 : 0, 0);
    this.step++;
    if (change === 0) return best;
    // PCT's i-th change point gives priority i (1 lowest), below every initial priority
    this.changes++;
    this.rank[best] = this.rank.length + 1 / this.changes;
    let next = -1;
    for (let c = 0; c < localNs.length; c++) {
      if (halted[c] || localNs[c]! > horizon || localNs[c]! >= untilNs) continue;
      if (next < 0 || this.higher(c, next)) next = c;
    }
    return next;
  }

  budget(): number {
    return sliceCycles(this.decisions.decide('slice', this.prng.int(MIN_SLICE_CYCLES, 2 * PCT_SLICE_CYCLES), PCT_SLICE_CYCLES), PCT_SLICE_CYCLES);
  }

  /** Steps taken so far (slices granted with two or more candidates). */
  get steps(): number {
    return this.step;
  }

  private higher(a: number, b: number): boolean {
    const ra = this.rank[a]!;
    const rb = this.rank[b]!;
    return ra < rb || (ra === rb && a < b);
  }
}
