/**
 * Schedules in deterministic mode: which exploration strategy makes the run's choices, and the
 * explicit decisions a replay file (or the minimizer's candidate) imposes instead. Plain data, read
 * by the coordinator (slice scheduler, event delivery) and the CPUs (IPI delivery), written by the
 * main thread (run options, explore, replay files, minimize).
 *
 * Every choice the emulator makes in deterministic mode is a *decision point* of some kind; each
 * decision has a value the strategy proposed (from the seed) and a *neutral* value: the choice
 * that perturbs nothing (the longest slice, no priority change, no extra delay). Decisions of one
 * kind are numbered in the order the run reaches them (their ordinal). A run given explicit
 * decisions takes the listed value at each listed (kind, ordinal) and the neutral value everywhere
 * else, so a minimized schedule is the short list of decisions that still matter.
 */

/** The exploration strategies (`--strategy`). */
export type StrategyName = 'random' | 'pct' | 'perturb';

export const STRATEGY_NAMES: readonly StrategyName[] = ['random', 'pct', 'perturb'];

/** The kinds of decision point. */
export type DecisionKind =
  /** a slice's length in cycles (neutral: random's and perturb's longest slice, 16384; pct's standard step, 1024) */
  | 'slice'
  /** which of the CPUs at the same emulated time runs first (neutral: the lowest-numbered) */
  | 'tie'
  /** PCT: a CPU's initial priority (neutral: CPU number order) */
  | 'priority'
  /** PCT: the running CPU drops to the lowest priority here (value 1) or not (neutral 0) */
  | 'priority-change'
  /** perturb: a device assertion moved later by this many ns (neutral 0) */
  | 'device-delay'
  /** perturb: the clock's phase, ns (neutral 0) */
  | 'tick-phase'
  /** perturb: an IPI (or a DPC request sent by IPI) taken this many ns after it was sent (neutral 0) */
  | 'ipi-delay';

export const DECISION_KINDS: readonly DecisionKind[] = ['slice', 'tie', 'priority', 'priority-change', 'device-delay', 'tick-phase', 'ipi-delay'];

/** The decision points each strategy has (an explicit decision of another kind would never be taken). */
export const STRATEGY_DECISION_KINDS: Readonly<Record<StrategyName, readonly DecisionKind[]>> = {
  random: ['slice', 'tie'],
  pct: ['slice', 'priority', 'priority-change'],
  perturb: ['slice', 'tie', 'device-delay', 'tick-phase', 'ipi-delay'],
};

/** One decision: at the `ordinal`-th decision point of `kind` (0-based; per CPU for 'ipi-delay'), take `value`. */
export interface ScheduleDecision {
  kind: DecisionKind;
  ordinal: number;
  value: number;
  /** for per-CPU decision streams ('ipi-delay': the receiving CPU) */
  cpu?: number;
}

/** How far the perturb strategy may move interrupt arrivals (a scenario's `explore.jitter`, ns). */
export interface PerturbationBounds {
  /** device assertions: each delayed by 0..deviceNs */
  deviceNs: number;
  /** the clock: its phase, 0..tickPhaseNs */
  tickPhaseNs: number;
  /** IPIs (and remote DPC requests): each taken 0..ipiDelayNs after it was sent */
  ipiDelayNs: number;
}

export interface ScheduleOptions {
  strategy: StrategyName;
  /** pct: the bug depth d (d − 1 priority change points); default 3 */
  depth?: number;
  /**
   * pct: how many scheduling steps the d − 1 change points are drawn over (default: the steps of
   * the scenario's neutral PCT run, src/machine/pct-steps.ts)
   */
  steps?: number;
  /** perturb: the bounds (from the scenario's `explore.jitter`, else defaults) */
  bounds?: PerturbationBounds;
  /** explicit decisions: when present, every decision point not listed takes its neutral value */
  decisions?: ScheduleDecision[];
}

export const DEFAULT_PCT_DEPTH = 3;
/** --depth's upper bound (PCT's d: d − 1 priority change points per run) */
export const MAX_PCT_DEPTH = 100;
