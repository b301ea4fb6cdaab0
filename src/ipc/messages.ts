/**
 * Every message between irqlab's actors, in one discriminated union. Actors are numbered: the main
 * thread is 0, the coordinator 1, CPU i is 2 + i (see actorOfCpu). Messages travel as ring records
 * (src/shm/spsc-ring.ts): `kind` is the record kind, the fields below are Int32 payload words in
 * the order listed. Every message is fixed binary; reports (Report, below) travel as msgpackr bytes
 * on the worker's message port instead (src/ipc/report-codec.ts).
 *
 * Emulated times are nanoseconds up to 2^53, sent as two words (low 32 bits unsigned, high bits).
 * decodeMessage() turns a record into the union; handlers switch on `type` exhaustively.
 */

import { decodeDispatchReply, decodeDispatchRequest } from './dispatcher-ops.js';
import type { DispatchReplyFields, DispatchRequestHeader, DispatcherRequest } from './dispatcher-ops.js';
import { joinTime } from './wire-time.js';
import type { CpuLatencyReport } from '../cpu/latency-recorder.js';
import type { FrozenDpc, FrozenReadyThread, FrozenSpinLock } from '../contract/result.js';

export { joinTime, timeHi, timeLo } from './wire-time.js';

export const MAIN_ACTOR = 0;
export const COORDINATOR_ACTOR = 1;
export function actorOfCpu(cpu: number): number {
  return 2 + cpu;
}
export function cpuOfActor(actor: number): number {
  return actor - 2;
}

/** Record kinds. Append only: the numbers are the wire format. */
export const Kind = {
  /** coordinator → CPU: the IOAPIC delivers a device interrupt. [vector, line, timeLo, timeHi, device (the scenario's device index)] */
  IRQ_ASSERT: 1,
  /** coordinator → CPU: a clock interrupt (owner) or clock IPI (others); timerRequest 1: a timer is due, run KiTimerExpiration. [tick, timeLo, timeHi, timerRequest] */
  CLOCK_TICK: 2,
  /** CPU → CPU: an inter-processor interrupt with NT request bits. [from, bits, timeLo, timeHi] */
  IPI: 3,
  /** CPU → CPU: link a claimed KDPC into the receiver's queue (the remote half of KeInsertQueueDpc). [dpc, tag, timeLo, timeHi, fromIsr] */
  DPC_LINK: 4,
  /** coordinator → CPU (deterministic mode): run until local time reaches [untilLo, untilHi] or [budgetCycles] are used. [budgetCycles, untilLo, untilHi, startLo, startHi] */
  SLICE_GRANT: 5,
  /** CPU → coordinator (deterministic mode): the slice ended. [cpu, timeLo, timeHi, halted (0/1), doorbellSeen] */
  SLICE_DONE: 6,
  /** (retired before release: the run starts when the main thread sets ControlField.STATE to RUNNING) */
  RESERVED_7: 7,
  /** coordinator → CPU: the run is over, report and exit. [timeLo, timeHi] */
  RUN_STOP: 8,
  /** CPU → CPU, coordinator → CPU: freeze now (bugcheck); taken at any IRQL, like an NMI. [from] */
  FREEZE: 9,
  /** any actor → main: booted and ready. [actor] */
  READY: 10,
  /** CPU → coordinator: this CPU bugchecked; stop the devices and the clock. [cpu, code, timeLo, timeHi] */
  BUGCHECK: 11,
  /** (retired: reports travel as msgpackr bytes on the worker's message port, src/ipc/report-codec.ts) */
  RESERVED_12: 12,
  /** coordinator → main: the run is over and every CPU was told to report. [reason (0 end of time, 1 bugcheck), timeLo, timeHi] */
  RUN_DONE: 13,
  /** coordinator → CPU: raise this bugcheck now, at any IRQL like an NMI (the clock watchdog saw a hung CPU). [code, p1, p2, p3, p4] */
  RAISE_BUGCHECK: 14,
  /**
   * CPU → coordinator: one dispatcher operation (the CPU raised to SYNCH_LEVEL and "took the
   * dispatcher lock"). The operation's typed fields on a fixed Int32 layout: src/ipc/dispatcher-ops.ts.
   * The CPU waits for the DISPATCH_REPLY.
   */
  DISPATCH_REQUEST: 15,
  /**
   * coordinator → CPU: the outcome (its layout: src/ipc/dispatcher-ops.ts).
   */
  DISPATCH_REPLY: 16,
  /** coordinator → CPU: a thread was placed in standby here at boot: take the DISPATCH interrupt and switch. [] */
  RESCHEDULE: 17,
} as const;

export type Message =
  | { type: 'irq/assert'; vector: number; line: number; timeNs: number; device: number }
  | { type: 'clock/tick'; tick: number; timeNs: number; timerRequest: boolean }
  | { type: 'ipi'; from: number; bits: number; timeNs: number }
  | { type: 'dpc/link'; dpc: number; tag: number; timeNs: number; fromIsr: boolean }
  | { type: 'slice/grant'; budgetCycles: number; untilNs: number; startNs: number }
  | { type: 'slice/done'; cpu: number; timeNs: number; halted: boolean; doorbellSeen: number }
  | { type: 'run/stop'; timeNs: number }
  | { type: 'freeze'; from: number }
  | { type: 'ready'; actor: number }
  | { type: 'bugcheck'; cpu: number; code: number; timeNs: number }
  | { type: 'run/done'; reason: 'end' | 'bugcheck'; timeNs: number }
  | { type: 'raise-bugcheck'; code: number; params: [number, number, number, number] }
  | { type: 'dispatch/request'; header: DispatchRequestHeader; request: DispatcherRequest }
  | ({ type: 'dispatch/reply' } & DispatchReplyFields)
  | { type: 'reschedule' };

/** Decode one ring record. */
export function decodeMessage(kind: number, w: Int32Array, o: number, length: number): Message {
  switch (kind) {
    case Kind.IRQ_ASSERT:
      return { type: 'irq/assert', vector: w[o]!, line: w[o + 1]!, timeNs: joinTime(w[o + 2]!, w[o + 3]!), device: w[o + 4]! };
    case Kind.CLOCK_TICK:
      return { type: 'clock/tick', tick: w[o]!, timeNs: joinTime(w[o + 1]!, w[o + 2]!), timerRequest: w[o + 3] === 1 };
    case Kind.IPI:
      return { type: 'ipi', from: w[o]!, bits: w[o + 1]!, timeNs: joinTime(w[o + 2]!, w[o + 3]!) };
    case Kind.DPC_LINK:
      return { type: 'dpc/link', dpc: w[o]!, tag: w[o + 1]!, timeNs: joinTime(w[o + 2]!, w[o + 3]!), fromIsr: w[o + 4] === 1 };
    case Kind.SLICE_GRANT:
      return {
        type: 'slice/grant',
        budgetCycles: w[o]!,
        untilNs: joinTime(w[o + 1]!, w[o + 2]!),
        startNs: joinTime(w[o + 3]!, w[o + 4]!),
      };
    case Kind.SLICE_DONE:
      return { type: 'slice/done', cpu: w[o]!, timeNs: joinTime(w[o + 1]!, w[o + 2]!), halted: w[o + 3] === 1, doorbellSeen: w[o + 4]! };
    case Kind.RUN_STOP:
      return { type: 'run/stop', timeNs: joinTime(w[o]!, w[o + 1]!) };
    case Kind.FREEZE:
      return { type: 'freeze', from: w[o]! };
    case Kind.READY:
      return { type: 'ready', actor: w[o]! };
    case Kind.BUGCHECK:
      return { type: 'bugcheck', cpu: w[o]!, code: w[o + 1]!, timeNs: joinTime(w[o + 2]!, w[o + 3]!) };
    case Kind.RUN_DONE:
      return { type: 'run/done', reason: w[o] === 1 ? 'bugcheck' : 'end', timeNs: joinTime(w[o + 1]!, w[o + 2]!) };
    case Kind.RAISE_BUGCHECK:
      return { type: 'raise-bugcheck', code: w[o]!, params: [w[o + 1]!, w[o + 2]!, w[o + 3]!, w[o + 4]!] };
    case Kind.DISPATCH_REQUEST:
      return { type: 'dispatch/request', ...decodeDispatchRequest(w, o, length) };
    case Kind.DISPATCH_REPLY:
      return { type: 'dispatch/reply', ...decodeDispatchReply(w, o) };
    case Kind.RESCHEDULE:
      return { type: 'reschedule' };
    default:
      throw new Error(`decodeMessage: unknown record kind ${kind}`);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unhandled message ${JSON.stringify(value)}`);
}

/** NT IPI request bits (ReactOS indices), carried in an IPI message and OR-ed into the target's request word. */
export const IpiRequest = {
  APC: 1 << 1,
  DPC: 1 << 2,
  FREEZE: 1 << 4,
  PACKET_READY: 1 << 6,
  /**
   * irqlab's mark on an IPI(DPC) that doubles as the reschedule IPI (§7.1): the sender's dispatcher
   * operation placed a NextThread on the target, so its DISPATCH interrupt must ask the dispatcher
   * (in NT it reads NextThread from its PRCB; here the dispatcher database lives in the coordinator).
   */
  RESCHEDULE: 1 << 8,
} as const;

// ---------------------------------------------------------------------------------------------
// Reports: variable-shaped, low-rate messages from workers to the main thread. They travel on the
// worker's message port as msgpackr bytes (src/ipc/report-codec.ts): a CPU's final report carries
// up to 64k latency samples, far more than a ring record holds.
// ---------------------------------------------------------------------------------------------

/** A frame of a CPU's stack as reports carry it (the run result shows it as is: BugcheckFrame). */
export interface ReportFrame {
  /** what the frame is: 'thread' | 'isr' | 'dpc' | 'ipi' | 'clock' | 'dispatch' | 'idle' | … */
  kind: string;
  /** routine name as declared in the scenario, or a kernel routine name (KiRetireDpcList, …) */
  routine: string;
  irql: number;
}

/** One of a CPU's last events as reports carry it (the run result shows it as is: CpuEvent). */
export interface ReportEvent {
  timeNs: number;
  cpu: number;
  /** event name, e.g. 'isr-enter', 'dpc-start', 'ipi-send' */
  event: string;
  /** human-readable details, e.g. 'vector 0x50 line 1' */
  detail: string;
}

/** A CPU's state at the end of the run or when it froze. */
export interface CpuReport {
  kind: 'cpu';
  cpu: number;
  frozen: boolean;
  irql: number;
  irqlName: string;
  frames: ReportFrame[];
  lastEvents: ReportEvent[];
  traceHash: string;
  traceEvents: number;
  /** latency histograms and per-routine execution times (src/cpu/latency-recorder.ts) */
  latency: CpuLatencyReport;
  /** the DPC queue and the spin locks held when the report was made (a bugcheck report's frozen state) */
  dpcQueue: FrozenDpc[];
  heldLocks: FrozenSpinLock[];
  userEvents: Array<{ cpu: number; timeNs: number; tag: number; value: number }>;
  /** TRACE events this CPU emitted past its userEventsLimit and did not keep in userEvents */
  userEventsDropped: number;
  /** how many TRACE events a CPU keeps for run.userEvents */
  userEventsLimit: number;
  timeNs: number;
  /**
   * parallel mode on virtual time: the largest lead this CPU had over the global virtual time at
   * its run-chunk boundaries (ns), and how many times it reached the slack and waited
   */
  virtualTime?: { maxSkewNs: number; slackWaits: number };
}

/** The coordinator's account of the run. */
export interface CoordinatorReport {
  kind: 'coordinator';
  reason: 'end' | 'bugcheck';
  timeNs: number;
  traceHash: string;
  traceEvents: number;
  slices: number;
  clockTicks: number;
  /** KTIMERs (wait timeouts included) expired during the run, and those still in the timer table at its end */
  timers: { expired: number; armedAtEnd: number };
  deviceAssertions: Array<{ name: string; asserted: number }>;
  bugcheckCpu: number;
  /** the dispatcher database at the end: every thread (idle threads first) */
  threads: ThreadReport[];
  /** deepest each CPU's ready lists have been */
  maxReadyDepth: number[];
  /** each CPU's ready lists at the end (or the bugcheck), highest priority first */
  readyThreads: FrozenReadyThread[][];
}

/** One thread as the dispatcher database saw it at the end of the run. */
export interface ThreadReport {
  id: number;
  name: string;
  /** the CPU whose idle thread it is, or −1 */
  idleOf: number;
  state: number;
  priority: number;
  basePriority: number;
  waits: number;
  waitReason: number;
  exitStatus: number;
}

/** Sent by the CPU that bugchecked, before it freezes. */
export interface BugcheckReport {
  kind: 'bugcheck';
  cpu: number;
  code: number;
  params: [number, number, number, number];
  irql: number;
  timeNs: number;
  frames: ReportFrame[];
  faultingInstruction: string;
  /** one human line naming what the parameters point at */
  detail: string;
}

/** Sent by a CPU whose native routine (the scenario's host code) threw; the run ends as a scenario error. */
export interface ScenarioErrorReport {
  kind: 'scenario-error';
  cpu: number;
  /** the scenario function, e.g. "native routine 'Poke' (called on CPU 1 at DISPATCH_LEVEL)" */
  what: string;
  /** the thrown value as one line */
  thrown: string;
  /** the thrown Error's stack (the scenario's own frames), '' when it was not an Error */
  stack: string;
}

export type Report = CpuReport | CoordinatorReport | BugcheckReport | ScenarioErrorReport;

/**
 * What an `irqlab run` pipeline worker (workers/cli.ts) tells the CLI's supervising main thread
 * (src/cli/supervisor.ts), in order, by postMessage: its output, the scenario function it has
 * entered or left (for --code-timeout and signal messages), and runCli's exit code last.
 */
export type PipelineMessage =
  | { type: 'stdout'; text: string }
  | { type: 'stderr'; text: string }
  | { type: 'enter'; scenario: string; what: string }
  | { type: 'leave' }
  | { type: 'exit'; code: number };
