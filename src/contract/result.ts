/**
 * RunResult: what one run of a scenario produced. This is the JSON contract of `irqlab run --json`
 * (one object on stdout) and the input of every human-readable report; the main thread assembles
 * it. Fields are additive: never rename or remove one, consumers parse them.
 *
 * Below the actors and the main thread alike (src/contract/): a CPU's report frames and last
 * events (BugcheckFrame, CpuEvent) are its wire reports' own shapes (ReportFrame, ReportEvent in
 * src/ipc/messages.ts, with the other reports), a scenario's `results` callback reads the
 * summaries, and the run mode and architecture are part of the startup config (config.ts). The
 * trace-event codes are the kernel's (src/kernel/trace-events.ts): its routines record them.
 * Types and constants only.
 */

export type RunMode = 'parallel' | 'deterministic';
export type { Arch } from '../kernel/irql.js';
import type { Arch } from '../kernel/irql.js';
import type { ReportEvent, ReportFrame } from '../ipc/messages.js';
import type { Pace } from './config.js';

export interface LatencySummary {
  /** how many samples were taken */
  count: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
}

/** A latency series' distribution (from HdrHistogram: percentiles within 0.1 % of the exact sample; count, mean and max exact). */
export interface LatencyDistribution {
  count: number;
  meanNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** LatencyMon's buckets, µs: '<1', '1-10', '10-100', '100-250', '250-1000', '>=1000' → sample count */
  buckets: Record<string, number>;
}

/** A series over the whole machine and on each CPU (perCpu[i] is CPU i). */
export interface LatencySeriesReport {
  overall: LatencyDistribution;
  perCpu: LatencyDistribution[];
}

/** One ISR or DPC routine's execution (exclusive: time in interrupts taken while it ran is not its own). */
export interface RoutineExecutionReport {
  kind: 'isr' | 'dpc';
  routine: string;
  /** the driver the scenario names for it (an `interrupts` or `dpcs` entry's `driver`); the routine's name when it names none */
  driver: string;
  count: number;
  totalNs: number;
  maxNs: number;
  meanNs: number;
  /** per CPU it ran on: its runs, total time, and that time as a percentage of the CPU's emulated time */
  perCpu: Array<{ cpu: number; count: number; totalNs: number; maxNs: number; sharePercent: number }>;
}

/** One driver's ISR and DPC routines together, LatencyMon's Drivers tab (a routine with no driver named is its own). */
export interface DriverExecutionReport {
  driver: string;
  /** the scenario named it (false: a routine with no driver, grouped under its own name) */
  declared: boolean;
  /** its routines that ran, by name */
  routines: string[];
  isrCount: number;
  /** the longest single execution of any of its ISR routines (0 when none ran) */
  isrMaxNs: number;
  isrTotalNs: number;
  dpcCount: number;
  dpcMaxNs: number;
  dpcTotalNs: number;
}

/** A scenario's `latency` budget, checked at the end (also listed in RunResult.checks). */
export interface LatencyBudgetResult {
  /** the budget's key, e.g. 'isrToDpcP99Us' */
  budget: string;
  limitUs: number;
  actualUs: number;
  passed: boolean;
  /** what was measured ('ISR → DPC start p99', 'DPC routine Foo') */
  what: string;
}

export interface LatencyReport {
  /** device line asserted → its ISR starts (summary of series.assertToIsr) */
  assertToIsr: LatencySummary;
  /** an ISR queues a DPC → that DPC's routine starts (summary of series.isrToDpc) */
  isrToDpc: LatencySummary;
  /** a queued DPC's routine ends a thread's wait: from that DPC's KeInsertQueueDpc to the call that made the thread Ready (summary of series.dpcToReady) */
  dpcToReady: LatencySummary;
  /** a thread woken from a wait: from when it became Ready to its switch-in (summary of series.readyToRunning) */
  readyToRunning: LatencySummary;
  series: { assertToIsr: LatencySeriesReport; isrToDpc: LatencySeriesReport; dpcToReady: LatencySeriesReport; readyToRunning: LatencySeriesReport };
  /** ISR and DPC routines, highest single execution first */
  routines: RoutineExecutionReport[];
  /** the routines grouped by driver, highest single execution (ISR or DPC) first */
  drivers: DriverExecutionReport[];
  budgets: LatencyBudgetResult[];
  /** one line in LatencyMon's spirit: which budget was exceeded and by what, or that all were met; null without budgets */
  verdict: string | null;
}

export interface CpuSummary {
  cpu: number;
  /** hardware (device) interrupts taken, all vectors */
  interrupts: number;
  /** interrupts taken per vector, keyed by the vector in hex ("0x50") */
  interruptsByVector: Record<string, number>;
  dpcs: number;
  ipisSent: number;
  ipisReceived: number;
  /** deepest interrupt nesting seen (1 = one ISR over thread/DPC code) */
  maxNesting: number;
  maxDpcQueueDepth: number;
  /** emulated ns spent at each IRQL, keyed by the IRQL number ("0".."15" or "0".."31") */
  timeAtIrqlNs: Record<string, number>;
  /** emulated cycles executed by this CPU */
  cycles: number;
  /** instructions executed by this CPU */
  instructions: number;
  clockTicks: number;
  /** emulated ns spent halted in the idle loop (not counted in timeAtIrqlNs) */
  idleNs: number;
  /** device interrupts no ISR claimed */
  unclaimedInterrupts: number;
  /** threads switched in on this CPU */
  contextSwitches: number;
  /** deepest this CPU's ready lists have been (all priorities) */
  maxReadyDepth: number;
  /** TRACE events this CPU emitted past the per-CPU limit: in the trace, not in run.userEvents */
  userEventsDropped: number;
  /** device interrupts still pending in this CPU's local APIC at the end (masked by its IRQL, or not reached) */
  pendingInterrupts: number;
  /** device assertions routed to this CPU that never reached its local APIC (still in its inbox when it stopped or froze) */
  undeliveredInterrupts: number;
  /** unclaimed level-triggered interrupts this CPU posted again (the line was still asserted) */
  reassertedInterrupts: number;
  /** writes of this CPU's local APIC task-priority register (RunResult.taskPriority) */
  taskPriorityWrites: number;
  /** lazy IRQL: the writes eager IRQL would have made here minus taskPriorityWrites (0 with eager IRQL) */
  taskPriorityWritesSaved: number;
}

/**
 * Where every device assertion ended up. The identity
 *   asserted + reasserted = taken + pendingInLocalApics + undelivered
 * holds exactly at the end of every run whose workers all stopped by themselves (`exact`): `taken`
 * counts each time an ISR chain ran for an assertion (the per-CPU `interrupts`), an unclaimed
 * level-triggered interrupt is posted again (`reasserted`) and taken again. The IOAPIC routes each
 * assertion at once and holds none, so nothing is pending there.
 */
export interface InterruptAccounting {
  asserted: number;
  reasserted: number;
  taken: number;
  pendingInLocalApics: number;
  undelivered: number;
  /** asserted + reasserted − taken − pendingInLocalApics − undelivered: 0 when every assertion is accounted for */
  unaccounted: number;
  /** false when a worker had to be stopped from outside (its last counts may be missing) */
  exact: boolean;
}

/** One device's assertions and where they ended up (see InterruptAccounting). */
export interface DeviceAssertionSummary {
  name: string;
  asserted: number;
  taken: number;
  reasserted: number;
  pendingInLocalApics: number;
  undelivered: number;
}

/** One thread at the end of a run: the dispatcher's view plus what the CPUs counted. */
export interface ThreadSummary {
  name: string;
  /** its object id (what KeGetCurrentThread returns and `a.thread(name)` resolves to) */
  id: number;
  /** KTHREAD_STATE name at the end: Initialized, Ready, Running, Standby, Terminated, Waiting, … */
  state: string;
  priority: number;
  basePriority: number;
  /** emulated ns it ran */
  cpuTimeNs: number;
  /** times it was switched in */
  contextSwitches: number;
  /** times it blocked in a wait */
  waits: number;
  /** the CPUs it ran on */
  ranOn: number[];
  /** KWAIT_REASON name of its last switch-out */
  waitReason: string;
}

export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}

export type BugcheckFrame = ReportFrame;

export type CpuEvent = ReportEvent;

export interface CpuFrozenState {
  cpu: number;
  irql: number;
  irqlName: string;
  /** frames from the bottom (thread/idle) to the top (the one running when frozen) */
  frames: BugcheckFrame[];
  /** true when the CPU answered the freeze IPI; false if it had to be stopped from outside */
  responded: boolean;
  lastEvents: CpuEvent[];
  /** the CPU's DPC queue (DpcListHead) in the order it would run them */
  dpcQueue: FrozenDpc[];
  /** spin locks this CPU held, each with its owner (this CPU, the thread it ran, who in its frames took it) */
  heldLocks: FrozenSpinLock[];
  /** the CPU's ready lists from the dispatcher database, highest priority first (each list in run order) */
  readyThreads: FrozenReadyThread[];
}

export interface FrozenDpc {
  /** the KDPC's declared name */
  dpc: string;
  routine: string;
  queuedNs: number;
  /** queued by an ISR */
  fromIsr: boolean;
}

export interface FrozenSpinLock {
  /** the lock's variable name (and offset) */
  lock: string;
  address: number;
  ownerCpu: number;
  ownerThread: string;
  /** the frame that took it ("DPC Foo", "thread Bar") */
  takenBy: string;
  /** the IRQL the taker was at when it took the lock (before KeAcquireSpinLock raised it) */
  irqlName: string;
}

export interface FrozenReadyThread {
  thread: string;
  priority: number;
}

export interface BugcheckInfo {
  code: number;
  name: string;
  /** the four bugcheck parameters */
  params: [number, number, number, number];
  /** one line per parameter saying what it means for this code */
  paramMeanings: [string, string, string, string];
  description: string;
  cpu: number;
  irql: number;
  irqlName: string;
  /** what was running on the faulting CPU, innermost last */
  frames: BugcheckFrame[];
  /** the routine that was running when it happened (top frame's routine) */
  routine: string;
  emulatedTimeNs: number;
  /** every CPU's state when frozen */
  cpus: CpuFrozenState[];
  /** RunResult.replayCommand: the command that replays a deterministic run; null for a parallel run */
  replayCommand: string | null;
  /** the instruction that was executing on the faulting CPU, disassembled ("Routine+0x1c: kcall …") */
  faultingInstruction: string;
  /** one human line naming the objects behind the parameters, e.g. "DPC Bad (routine BadDpc) returned at DIRQL 5" */
  detail: string;
}

export interface RunResult {
  scenario: string;
  mode: RunMode;
  /** parallel mode's time source ('virtual' or 'host'); null in deterministic mode */
  pace: Pace | null;
  /** parallel mode with pace 'virtual': the slack, emulated ns; null otherwise */
  slackNs: number | null;
  /** parallel mode with pace 'host': emulated time per host time; null otherwise */
  timeScale: number | null;
  /**
   * parallel mode on virtual time: how the slack held. maxSkewNs: the largest lead any CPU had over
   * the global virtual time at its run-chunk boundaries (≤ slackNs, plus at most one instruction's
   * cycles); slackWaits: how many times CPUs reached the slack and slept until the others caught
   * up. Null in other modes
   */
  virtualTime: { maxSkewNs: number; slackWaits: number; perCpu: Array<{ cpu: number; maxSkewNs: number; slackWaits: number }> } | null;
  seed: number;
  cpus: number;
  arch: Arch;
  emulatedTimeNs: number;
  hostTimeMs: number;
  /** hex FNV-1a 64 of the event trace; identical for the same scenario + seed in deterministic mode */
  traceHash: string;
  traceEvents: number;
  perCpu: CpuSummary[];
  /**
   * the latency report (`irqlab run --latency`; README "Latency report"): the assertToIsr and
   * isrToDpc summaries, and the full report from the CPUs' histograms
   */
  latency: LatencyReport;
  results: Record<string, number | string | boolean | number[]>;
  checks: CheckResult[];
  bugcheck: BugcheckInfo | null;
  /**
   * the `irqlab run` line with this run's parameters (scenario, CPUs, mode, duration, clock, and in
   * parallel mode the pace, slack or time scale when not the default). A deterministic run's line
   * replays it exactly. A parallel run's runs the same configuration again, never the same run: its
   * CPUs race for real (its seed, when drawn at random, is left out; it is in `seed`)
   */
  command: string;
  /**
   * a deterministic run: the command that replays it exactly (`command` with its mode and seed;
   * bugcheck.replayCommand too). A parallel run: null, it is not replayable (its CPUs race for
   * real; a deterministic run of the same scenario and seed is another run, not this one)
   */
  replayCommand: string | null;
  /** host ms from spawning the workers to all of them ready */
  bootMs: number;
  /** CPUs that did not report at the end (stopped from outside) */
  unresponsiveCpus: number[];
  /** assertions each device made, and where they ended up */
  deviceAssertions: DeviceAssertionSummary[];
  /** every device assertion accounted for: asserted + reasserted = taken + pending + undelivered */
  interruptAccounting: InterruptAccounting;
  /** execution slices granted (deterministic mode; 0 in parallel mode) */
  slices: number;
  /** KTIMER expirations during the run (wait timeouts included), and timers still set at its end */
  timers: { expired: number; armedAtEnd: number };
  /** every scenario thread at the end */
  threads: ThreadSummary[];
  /**
   * TRACE events (run.userEvents in results() and checks()): each CPU keeps the first limitPerCpu;
   * `dropped` counts the rest (all CPUs), `limitReached` says some CPU hit the limit
   */
  userEventLimit: { limitPerCpu: number; kept: number; dropped: number; limitReached: boolean };
  /**
   * the local APICs' task-priority register (nt-semantics.md §1.4): whether the run used lazy IRQL
   * (machine.lazyIrql, --lazy-irql), its writes on all CPUs, and the writes lazy IRQL saved (what
   * eager IRQL, which writes it at every IRQL change, would have written minus what was written; 0
   * with eager IRQL). Outcomes and the trace hash are the same either way
   */
  taskPriority: { lazyIrql: boolean; writes: number; writesSaved: number };
}

/** Exit codes of the irqlab command. Documented in README.md ("Exit codes"). */
export const ExitCode = {
  Ok: 0,
  /** usage error or a scenario that does not exist, fails to load or is malformed */
  Usage: 1,
  /** the emulated system failed: a bugcheck, or a check the scenario declared did not pass */
  SystemFailed: 2,
  /** a bug in the emulator itself */
  Internal: 3,
  /** `irqlab explore --strict`: nothing was found, but the exploration was cut short (Coyote's 4) */
  Incomplete: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
