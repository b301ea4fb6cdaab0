/**
 * The one place every decision point of a deterministic run goes through (src/contract/schedule.ts
 * defines the kinds): `decide(kind, proposed, neutral)` returns the strategy's proposal, or, when
 * the run was given explicit decisions, the listed value at a listed (kind, ordinal[, cpu]) and the
 * neutral value everywhere else. When asked, it records every decision it returned, with its
 * neutral value: the minimizer feeds back the non-neutral ones.
 *
 * One source per decision stream: the coordinator's (slices, ties, PCT, device delays, the clock's
 * phase) and one per CPU ('ipi-delay', numbered per receiving CPU). Ordinals count per kind in the
 * order the run reaches the points, so a run replays its decisions exactly whatever backend runs it.
 */

import type { DecisionKind, ScheduleDecision } from './schedule.js';

/**
 * A decision as recorded: what was taken, and what would have perturbed nothing; where the stream
 * knows it (a DecisionPosition), the emulated time of the decision point and the CPU it concerns
 * (a slice's or tie's CPU, an IPI's sender), for the minimizer's summary.
 */
export type RecordedDecision = ScheduleDecision & { neutral: number; atNs?: number; atCpu?: number };

/** Where a recording run is when it takes a decision: set by the actor that knows (timeNs < 0: unknown). */
export interface DecisionPosition {
  timeNs: number;
  cpu: number;
}

const KIND_COUNT = 7;
const KIND_INDEX: Record<DecisionKind, number> = {
  slice: 0,
  tie: 1,
  priority: 2,
  'priority-change': 3,
  'device-delay': 4,
  'tick-phase': 5,
  'ipi-delay': 6,
};

export class DecisionSource {
  /** explicit decisions of this stream, by kind index, ordinal → value (null: the strategy decides) */
  private readonly explicit: Array<Map<number, number>> | null;
  private readonly ordinals = new Int32Array(KIND_COUNT);
  /** every decision returned, when recording */
  private readonly log: RecordedDecision[] | null;
  /** this stream's CPU (the per-CPU stream of 'ipi-delay'), or −1 for the coordinator's */
  private readonly cpu: number;
  /** a recording run: where the run is, updated by the actor that takes the decisions (null: not recording) */
  readonly position: DecisionPosition | null;

  /**
   * `decisions`: the run's explicit decisions (all streams'; this one keeps its own: with `cpu` ≥ 0
   * the 'ipi-delay' ones of that CPU, else the others), or undefined for none.
   */
  constructor(decisions: readonly ScheduleDecision[] | undefined, record: boolean, cpu = -1) {
    this.cpu = cpu;
    this.log = record ? [] : null;
    this.position = record ? { timeNs: -1, cpu: -1 } : null;
    if (decisions === undefined) {
      this.explicit = null;
      return;
    }
    this.explicit = Array.from({ length: KIND_COUNT }, () => new Map<number, number>());
    for (const decision of decisions) {
      const perCpu = decision.kind === 'ipi-delay';
      if (perCpu ? decision.cpu !== cpu || cpu < 0 : cpu >= 0) continue;
      this.explicit[KIND_INDEX[decision.kind]]!.set(decision.ordinal, decision.value);
    }
  }

  /** The value of the next decision point of `kind`. */
  decide(kind: DecisionKind, proposed: number, neutral: number): number {
    const index = KIND_INDEX[kind];
    const ordinal = this.ordinals[index]!;
    this.ordinals[index] = ordinal + 1;
    const value = this.explicit === null ? proposed : (this.explicit[index]!.get(ordinal) ?? neutral);
    if (this.log !== null) {
      const entry: RecordedDecision = this.cpu >= 0 ? { kind, ordinal, value, cpu: this.cpu, neutral } : { kind, ordinal, value, neutral };
      const position = this.position!;
      if (position.timeNs >= 0) {
        entry.atNs = position.timeNs;
        entry.atCpu = position.cpu;
      }
      this.log.push(entry);
    }
    return value;
  }

  /** The decisions recorded so far, in the order taken (empty when not recording). */
  recorded(): RecordedDecision[] {
    return this.log === null ? [] : [...this.log];
  }
}
