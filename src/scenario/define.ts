/**
 * The scenario API: what a scenario module (TypeScript or JavaScript, default export) declares.
 * A scenario describes a machine (CPU count, IRQL table, clock), its memory, its code (routines
 * written with the instruction-set builder), the kernel objects that code uses (DPCs, interrupt
 * objects, events, semaphores, mutexes, timers), the devices that raise interrupts, the threads, and what to report
 * and check at the end. Built-in scenarios (src/scenarios/) use exactly this API.
 *
 * Used on the main thread only: the scenario is compiled (src/scenario/compile.ts) into a program
 * image and object tables that the workers receive; workers never run scenario TypeScript except
 * native escape-hatch routines.
 */

import type { RoutineBuilder } from '../isa/builder.js';
import type { CpuSummary, LatencySummary, Arch, ThreadSummary } from '../contract/result.js';

export type DpcImportance = 'Low' | 'Medium' | 'High' | 'MediumHigh';

export interface MachineDefaults {
  /** CPU count when --cpus is not given (default: the host's available parallelism, at most 64) */
  cpus?: number;
  /** IRQL table: 'x64' (0–15, the default) or 'x86' (0–31) */
  arch?: Arch;
  /** clock interrupt interval in milliseconds (default 15.625) */
  clockIntervalMs?: number;
  /** emulated run length when --duration is not given (default 100 ms) */
  durationMs?: number;
  /** clock ticks an IPI sender waits for acknowledgements before bugcheck 0x101 (default 20) */
  ipiAckTimeoutTicks?: number;
  /** clock ticks a CPU may go without taking a clock interrupt before bugcheck 0x101 (default 40) */
  clockWatchdogTicks?: number;
  /** emulated cycles per microsecond (default 1000, a 1 GHz CPU) */
  cyclesPerMicrosecond?: number;
  /** QuantumReset of every thread in quantum units, 3 per clock tick (default 6: a client's 2 ticks; a server uses 36) */
  threadQuantum?: number;
  /** clock ticks a spin-lock acquire may spin before the deadlock detector ends the run (default 32) */
  spinTimeoutTicks?: number;
  /** DPC watchdog: clock ticks one DPC (or ISR) may run before 0x133 with P1 = 0 (default 1280, 0x500) */
  dpcTimeLimitTicks?: number;
  /** DPC watchdog: consecutive clock ticks a CPU may spend at ≥ DISPATCH_LEVEL before 0x133 with P1 = 1 (default 7680, 0x1E00) */
  dpcWatchdogPeriodTicks?: number;
  /** how long the simulated disk read of a page fault takes, in ms (default 5) */
  pagingLatencyMs?: number;
  /**
   * lazy IRQL (nt-semantics.md §1.4; --lazy-irql sets it for a run): KeRaiseIrql only records the
   * new IRQL, and the local APIC's task priority is written when an interrupt arrives at or below it
   * (then held until the IRQL drops) and on the lower that follows. Outcomes are the same as with
   * eager IRQL (default false), which writes it at every IRQL change; the run counts the writes saved.
   */
  lazyIrql?: boolean;
}

export interface MemoryDeclaration {
  /** size in 32-bit words (default 1) */
  words?: number;
  /** initial value of every word, or the initial words */
  init?: number | readonly number[];
  /**
   * pageable memory (paged pool): it starts on its own 4 KB page. Touching a page of it that is not
   * resident below DISPATCH_LEVEL is a page fault the thread waits out (a simulated disk read); at
   * DISPATCH_LEVEL or above it is bugcheck 0xD1.
   */
  paged?: boolean;
  /** with paged: its pages start out of memory (default false: resident) */
  pagedOut?: boolean;
}

export interface DpcDeclaration {
  /** the routine run as DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2): r1 = the DPC, r2 = context, r3 = sa1, r4 = sa2 */
  routine: string;
  context?: number;
  importance?: DpcImportance;
  /** KeSetTargetProcessorDpc at boot; untargeted (runs where it was queued) when absent */
  targetCpu?: number;
  /**
   * the driver it belongs to, by file name as LatencyMon shows it ('ndis.sys'): the latency report
   * groups its routine under it. A label (the run is the same); a routine has one driver
   */
  driver?: string;
}

export interface InterruptDeclaration {
  /** the IDT vector this KINTERRUPT is connected to (0x30–0xCF for devices on x64) */
  vector: number;
  /** the ISR: ServiceRoutine(Interrupt, ServiceContext) → BOOLEAN in r0 ("it was mine"); r1 = the interrupt object, r2 = context */
  routine: string;
  /** DIRQL; default: derived from the vector (x64: vector >> 4) */
  irql?: number;
  /** the level the ISR runs at; default = irql; must be ≥ irql */
  synchronizeIrql?: number;
  /** several objects may share a vector only if all of them say so and have the same mode */
  shareVector?: boolean;
  mode?: 'level' | 'latched';
  context?: number;
  /** name of a spin lock shared with other interrupt objects (IoConnectInterrupt's SpinLock); default: the object's own */
  lock?: string;
  /** the driver it belongs to ('ndis.sys'), for the latency report's grouping, as a DPC's `driver` */
  driver?: string;
}

export interface DeviceDeclaration {
  /** IOAPIC input line (default: its position among the devices) */
  line?: number;
  /** the vector the IOAPIC redirection entry sends */
  vector: number;
  /** mean interrupts per emulated second */
  ratePerSec: number;
  /** interrupts asserted back to back at each event (default 1) */
  burst?: number;
  /** 0..1: each gap is scaled by a seeded random factor in [1 - jitter, 1 + jitter] (default 0) */
  jitter?: number;
  /** IOAPIC delivery mode: 'fixed' cycles through `cpus` in order; 'lowest-priority' picks the CPU with the lowest IRQL (default 'fixed') */
  delivery?: 'fixed' | 'lowest-priority';
  /** destination CPUs (default all) */
  cpus?: readonly number[];
  /** first assertion at this emulated time (default 0) */
  startMs?: number;
  /** stop after this many assertions (default: unlimited until the run ends) */
  count?: number;
}

export interface ThreadDeclaration {
  /** the thread body; r1.. = args. Returning from it ends the thread (PsTerminateSystemThread with r0). */
  routine: string;
  /** pin it to this CPU: affinity [cpu], ideal processor cpu */
  cpu?: number;
  /** the CPUs it may run on (hard affinity; default all, or [cpu]) */
  affinity?: readonly number[];
  /** its ideal processor (default: `cpu`, else assigned round robin over the machine, as NT's thread seed does) */
  idealProcessor?: number;
  /** base priority, 1–15 dynamic, 16–31 real-time (default 8, normal) */
  priority?: number;
  args?: readonly number[];
  /** 'boot' (default): readied when the machine starts; 'created': waits until some code calls PsCreateSystemThread on it */
  start?: 'boot' | 'created';
  /**
   * 'kernel' (default): a system thread, its body in kernel mode. 'user': its body runs in user mode
   * and enters the kernel only by system services (SleepEx, NtWaitForSingleObject, QueueUserAPC, …);
   * user APCs are delivered to it on its returns to user mode
   */
  mode?: 'kernel' | 'user';
}

/** A KEVENT (KeInitializeEvent). */
export interface EventDeclaration {
  /** NotificationEvent stays signaled and releases every waiter; SynchronizationEvent releases one and resets */
  type: 'notification' | 'synchronization';
  /** initial state (default false) */
  signaled?: boolean;
}

/** A KSEMAPHORE (KeInitializeSemaphore). */
export interface SemaphoreDeclaration {
  /** initial count (default 0) */
  count?: number;
  limit: number;
}

/** A KTIMER (KeInitializeTimerEx). */
export interface TimerDeclaration {
  /** default 'notification' */
  type?: 'notification' | 'synchronization';
}

/** A KMUTEX (KeInitializeMutex: holding it is a critical region, exiting while holding it is 0x46) or a mutant (abandoned on exit). */
export interface MutexDeclaration {
  /** default 'mutex' */
  kind?: 'mutex' | 'mutant';
}

/**
 * A KAPC (nt-semantics.md §5): its routines, mode and context. The thread (and the APC environment)
 * are given at run time by KeInitializeApc; KeInsertQueueApc queues it. With no normalRoutine it is
 * a special kernel APC (its KernelRoutine only, at APC_LEVEL; held off only by a guarded region).
 */
export interface ApcDeclaration {
  /** KernelRoutine(Apc, &NormalRoutine, &NormalContext, &SystemArgument1, &SystemArgument2): at APC_LEVEL, in the target thread */
  kernelRoutine: string;
  /** NormalRoutine(NormalContext, SystemArgument1, SystemArgument2): at PASSIVE_LEVEL for a kernel APC, in user mode for a user APC */
  normalRoutine?: string;
  /** RundownRoutine(Apc): called instead of delivery when the thread exits with the APC still queued */
  rundownRoutine?: string;
  /** 'kernel' or 'user' (a user APC needs a normalRoutine: it is what runs in user mode) */
  mode: 'kernel' | 'user';
  /** NormalContext (default 0) */
  context?: number;
}

/** The IRP_MJ_* requests a driver may handle: IRP_MJ_CREATE, _CLOSE, _READ, _WRITE, _DEVICE_CONTROL, _CLEANUP. */
export type IrpMajor = 'create' | 'close' | 'read' | 'write' | 'deviceControl' | 'cleanup';

/** A DEVICE_OBJECT, with the one FILE_OBJECT opened on it at boot (its handle is what NtReadFile/ReadFile/ReadFileEx take). */
export interface DeviceObjectDeclaration {
  /** 'synchronous' (default): ReadFile waits inside the system service on the file object; 'overlapped': FILE_FLAG_OVERLAPPED, for ReadFileEx */
  io?: 'synchronous' | 'overlapped';
}

/** A DRIVER_OBJECT (nt-semantics.md §8): its dispatch routines and its device objects. */
export interface DriverDeclaration {
  /** MajorFunction[]: DispatchRoutine(DeviceObject, Irp) → NTSTATUS in r0 (r1 = the device object, r2 = the IRP); a request with none fails with STATUS_INVALID_DEVICE_REQUEST */
  dispatch: Partial<Record<IrpMajor, string>>;
  /** its device objects by name (default: one synchronous device named after the driver); names are unique across drivers */
  devices?: Record<string, DeviceObjectDeclaration>;
}

/** A native escape hatch: TypeScript run atomically with respect to local interrupts. */
export type NativeRoutine = (args: readonly number[], machine: NativeMachineView) => number | undefined;

export interface NativeMachineView {
  readonly cpu: number;
  readonly irql: number;
  read(address: number): number;
  write(address: number, value: number): void;
}

/** What results() and checks() see once the run has ended. */
export interface RunView {
  readonly cpus: number;
  readonly emulatedTimeNs: number;
  readonly perCpu: readonly CpuSummary[];
  readonly latency: { readonly assertToIsr: LatencySummary; readonly isrToDpc: LatencySummary };
  /** word `index` of a declared memory variable */
  read(variable: string, index?: number): number;
  readArray(variable: string): number[];
  /** events emitted by TRACE instructions, in per-CPU order then by time */
  readonly userEvents: ReadonlyArray<{ cpu: number; timeNs: number; tag: number; value: number }>;
  /** TRACE events not in userEvents: each CPU keeps the first 100,000 (see the README) */
  readonly userEventsDropped: number;
  readonly bugcheck: { code: number; params: readonly number[]; cpu: number } | null;
  /** every scenario thread at the end of the run (idle threads not included) */
  readonly threads: readonly ThreadSummary[];
}

export interface CheckDeclaration {
  name: string;
  passed: boolean;
  detail?: string;
}

/** What `outcome(run)` returns: a small value; a tuple is shown as its items joined by ', '. */
export type OutcomeValue = string | number | boolean | readonly (string | number | boolean)[];

/** How an outcome is graded (jcstress's Expect): ACCEPTABLE, ACCEPTABLE_INTERESTING, FORBIDDEN. */
export type OutcomeExpectation = 'acceptable' | 'interesting' | 'forbidden';

/** One grade: outcomes that `match` (the outcome's text exactly, a RegExp, or a predicate over the text) are `expect`. */
export interface OutcomeGrade {
  match: string | RegExp | ((outcome: string) => boolean);
  expect: OutcomeExpectation;
  description: string;
}

/** What `irqlab explore` may vary in this scenario (emulated ns; 0 or absent: not varied). */
export interface ExploreDeclaration {
  /** the bounds of the perturb strategy: how late a device assertion, the clock's phase, an IPI may land */
  jitter?: { deviceNs?: number; tickPhaseNs?: number; ipiDelayNs?: number };
}

export interface ScenarioDefinition {
  name: string;
  /** one line, shown by `irqlab list` */
  description: string;
  machine?: MachineDefaults;
  memory?: Record<string, MemoryDeclaration>;
  routines: Record<string, (a: RoutineBuilder) => void>;
  natives?: Record<string, NativeRoutine>;
  dpcs?: Record<string, DpcDeclaration>;
  interrupts?: Record<string, InterruptDeclaration>;
  devices?: Record<string, DeviceDeclaration>;
  threads?: Record<string, ThreadDeclaration>;
  events?: Record<string, EventDeclaration>;
  semaphores?: Record<string, SemaphoreDeclaration>;
  mutexes?: Record<string, MutexDeclaration>;
  timers?: Record<string, TimerDeclaration>;
  /** KAPCs, initialised at run time by KeInitializeApc */
  apcs?: Record<string, ApcDeclaration>;
  /** drivers with their device objects (I/O requests: NtReadFile, ReadFile, ReadFileEx) */
  drivers?: Record<string, DriverDeclaration>;
  /** names for TRACE tags, shown in reports and timelines instead of the number (e.g. { 1: 'ReadFile' }) */
  traceTags?: Record<number, string>;
  results?: (run: RunView) => Record<string, number | string | boolean | number[]>;
  checks?: (run: RunView) => CheckDeclaration[];
  /**
   * latency budgets in µs, checked at the end like `checks` (a run over one fails, exit 2): e.g.
   * { isrToDpcP99Us: 50, maxDpcUs: 100 }. Keys: `assertToIsr` or `isrToDpc` followed by P50, P90,
   * P99, P999 or Max and `Us`; maxIsrUs / maxDpcUs bound any one ISR / DPC routine's execution
   */
  latency?: Readonly<Record<string, number>>;
  /**
   * The run's outcome, for `irqlab explore`'s outcome table: a small value (a bugcheck is an
   * outcome by itself, named by its code, and this is not called for it).
   */
  outcome?: (run: RunView) => OutcomeValue;
  /** how outcomes are graded; an outcome no grade matches is UNKNOWN */
  outcomes?: readonly OutcomeGrade[];
  explore?: ExploreDeclaration;
}

/** 100 ns units per millisecond (due times, intervals and timeouts are LARGE_INTEGERs in 100 ns units). */
const UNITS_PER_MS = 10_000;

/**
 * The two words of a LARGE_INTEGER (low, high) for a relative due time or timeout of `ms`
 * milliseconds (negative in NT's convention), for `memory: { Due: { words: 2, init: relativeTime(3000) } }`.
 */
export function relativeTime(ms: number): [number, number] {
  return largeInteger(-Math.round(ms * UNITS_PER_MS));
}

/** The two words (low, high) of a 64-bit value, as a LARGE_INTEGER in memory. */
export function largeInteger(value: number): [number, number] {
  const high = Math.floor(value / 4294967296);
  return [(value - high * 4294967296) | 0, high | 0];
}

/** Identity helper that gives a scenario module its types. */
export function defineScenario<T extends ScenarioDefinition>(definition: T): T {
  return definition;
}
