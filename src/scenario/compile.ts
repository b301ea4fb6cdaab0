/**
 * Compile a validated scenario into what the machine boots from: the linked program image, the
 * memory map (variables, per-CPU interrupt stacks, thread stacks), the KDPC and KINTERRUPT tables,
 * the devices, and one ProcessorConfig per CPU. Main thread only; pure (no workers, no I/O).
 *
 * Memory map (byte addresses): page 0 is left unmapped so a NULL dereference faults; variables
 * start at 0x1000, each 16-byte aligned; then a 16 KB interrupt stack per CPU; then a 16 KB stack
 * per thread; then, with drivers declared, the IRP zone (src/kernel/io.ts IrpField).
 */

import { link } from '../isa/link.js';
import type { SymKind, RoutineBuilder } from '../isa/builder.js';
import { BuildError } from '../isa/builder.js';
import { vectorToIrql, irqlTable } from '../kernel/irql.js';
import { DEFAULT_DPC_TUNABLES, importanceFromName } from '../kernel/dpc.js';
import { deriveSeed } from '../util/prng.js';
import { NO_ROUTINE } from '../kernel/apc-state.js';
import type { ApcObjectConfig } from '../kernel/apc-state.js';
import { DEFAULT_IRP_ZONE_RECORDS, IRP_MAJOR_NAMES, IRP_RECORD_BYTES, IrpMajorFunction } from '../kernel/io.js';
import type { DeviceObjectConfig, DriverObjectConfig, IrpZoneConfig } from '../kernel/io.js';
import { KernelMode, UserMode } from '../kernel/status.js';
import type { ScenarioDefinition } from './define.js';
import type { DeviceConfig } from '../hal/device.js';
import type { MachineConfig, MachineSchedule, Pace, ProcessorConfig, InterruptObjectConfig, ThreadConfig, DispatcherObjectConfig } from '../contract/config.js';
import { DEFAULT_PCT_DEPTH } from '../contract/schedule.js';
import type { PerturbationBounds, ScheduleOptions } from '../contract/schedule.js';
import { DEFAULT_SLACK_NS } from '../contract/config.js';
import type { Arch, RunMode } from '../contract/result.js';
import { ScenarioError, describeThrown, scenarioThrew } from '../util/errors.js';

export const FIRST_VARIABLE_ADDRESS = 0x1000;
export const STACK_BYTES = 16 * 1024;
const PAGE_BYTES = 4096;
const DEFAULT_CLOCK_MS = 15.625;
const NORMAL_PRIORITY = 8;
const DEFAULT_THREAD_QUANTUM = 6;
const DEFAULT_SPIN_TIMEOUT_TICKS = 32;
/** §2.9: a published dump shows DpcTimeLimit 0x500 ticks and a DpcWatchdogPeriod of 0x1E00 */
const DEFAULT_DPC_TIME_LIMIT_TICKS = 0x500;
const DEFAULT_DPC_WATCHDOG_PERIOD_TICKS = 0x1e00;
const DEFAULT_PAGING_LATENCY_MS = 5;

export interface CompileOptions {
  cpus: number;
  mode: RunMode;
  seed: number;
  durationNs: number;
  /** parallel mode's time source (default 'virtual') and slack (default DEFAULT_SLACK_NS) */
  pace?: Pace;
  slackNs?: number;
  timeScale: number;
  traceToMain: boolean;
  nativeModule: string | null;
  /** --clock: the clock interval in ms, overriding the scenario's machine.clockIntervalMs */
  clockIntervalMs?: number;
  /** --lazy-irql: lazy IRQL whatever the scenario's machine.lazyIrql says */
  lazyIrql?: boolean;
  /** deterministic mode: the exploration strategy, its parameters and explicit decisions (default: random) */
  schedule?: ScheduleOptions;
  /** deterministic mode: the actors keep a log of every decision (the in-process backend hands it over) */
  recordDecisions?: boolean;
  /** --breaktrace: the bound on an ISR's or DPC routine's execution, emulated ns (MachineConfig.latencyBreakAboveNs) */
  latencyBreakAboveNs?: number;
}

/**
 * The perturb strategy's bounds when neither the run nor the scenario gives them: a device
 * assertion up to 2 µs late and an IPI up to 2 µs late (about an interrupt's path through the
 * APIC bus and a busy receiver's instruction boundary on real hardware, and a tenth of a maximum
 * slice here), and the clock at any phase of its interval. A scenario that declares
 * `explore.jitter` sets its own; a field it leaves out is not varied.
 */
export const DEFAULT_DEVICE_JITTER_NS = 2000;
export const DEFAULT_IPI_DELAY_NS = 2000;

/** The schedule the machine runs: the options given, with the bounds from them, else the scenario's jitter, else the defaults. */
export function resolveSchedule(
  def: ScenarioDefinition,
  schedule: ScheduleOptions | undefined,
  clockIntervalNs: number,
  recordDecisions: boolean,
): MachineSchedule {
  const jitter = def.explore?.jitter;
  const bounds: PerturbationBounds = schedule?.bounds ?? {
    deviceNs: jitter ? (jitter.deviceNs ?? 0) : DEFAULT_DEVICE_JITTER_NS,
    tickPhaseNs: jitter ? (jitter.tickPhaseNs ?? 0) : clockIntervalNs,
    ipiDelayNs: jitter ? (jitter.ipiDelayNs ?? 0) : DEFAULT_IPI_DELAY_NS,
  };
  return {
    strategy: schedule?.strategy ?? 'random',
    depth: schedule?.depth ?? DEFAULT_PCT_DEPTH,
    ...(schedule?.steps !== undefined ? { steps: schedule.steps } : {}),
    bounds: { deviceNs: Math.max(0, bounds.deviceNs), tickPhaseNs: Math.max(0, bounds.tickPhaseNs), ipiDelayNs: Math.max(0, bounds.ipiDelayNs) },
    ...(schedule?.decisions !== undefined ? { decisions: schedule.decisions.map((d) => ({ ...d })) } : {}),
    recordDecisions,
  };
}

export interface VariableInfo {
  address: number;
  words: number;
}

export interface DpcInit {
  routine: number;
  context: number;
  importance: number;
  target: number;
}

export interface CompiledScenario {
  machine: MachineConfig;
  /** each CPU's interrupt stack (the idle thread's "initial stack" in reports) */
  interruptStacks: Array<{ top: number; limit: number }>;
  processors: ProcessorConfig[];
  devices: DeviceConfig[];
  code: Int32Array;
  /** byte address → initial words */
  memoryInit: Array<{ address: number; values: number[] }>;
  variables: Map<string, VariableInfo>;
  dpcs: DpcInit[];
}

const align = (value: number, to: number): number => Math.ceil(value / to) * to;

/**
 * The DRIVER_OBJECTs and DEVICE_OBJECTs (device ids in declaration order across drivers; a driver
 * without `devices` gets one named after it), each device's file-object event taking the object ids
 * from `firstEventId` on. Dispatch routines are filled in once the program is linked.
 */
function compileDrivers(def: ScenarioDefinition, firstEventId: number): { drivers: DriverObjectConfig[]; deviceObjects: DeviceObjectConfig[] } {
  const drivers: DriverObjectConfig[] = [];
  const deviceObjects: DeviceObjectConfig[] = [];
  for (const [name, d] of Object.entries(def.drivers ?? {})) {
    const driver: DriverObjectConfig = { id: drivers.length, name, dispatch: {}, devices: [] };
    for (const [deviceName, device] of Object.entries(d.devices ?? { [name]: {} })) {
      const id = deviceObjects.length;
      deviceObjects.push({ id, name: deviceName, driver: driver.id, io: device.io ?? 'synchronous', fileEvent: firstEventId + id });
      driver.devices.push(id);
    }
    drivers.push(driver);
  }
  return { drivers, deviceObjects };
}

export function compileScenario(def: ScenarioDefinition, options: CompileOptions): CompiledScenario {
  const arch: Arch = def.machine?.arch ?? 'x64';
  const table = irqlTable(arch);
  const cpus = options.cpus;

  // ---- memory map
  const variables = new Map<string, VariableInfo>();
  const memoryInit: Array<{ address: number; values: number[] }> = [];
  const pageable: number[] = [];
  const initiallyPagedOut: number[] = [];
  let next = FIRST_VARIABLE_ADDRESS;
  const place = (name: string, declaration: NonNullable<ScenarioDefinition['memory']>[string]): void => {
    const init = declaration.init;
    const words = declaration.words ?? (Array.isArray(init) ? init.length : 1);
    variables.set(name, { address: next, words });
    if (init !== undefined) {
      const values = Array.isArray(init) ? [...(init as readonly number[])] : new Array<number>(words).fill(init as number);
      memoryInit.push({ address: next, values });
    }
    next = align(next + words * 4, 16);
  };
  const entries = Object.entries(def.memory ?? {});
  // nonpaged variables first, then each pageable one on pages of its own
  for (const [name, declaration] of entries) if (!declaration.paged) place(name, declaration);
  for (const [name, declaration] of entries) {
    if (!declaration.paged) continue;
    next = align(next, PAGE_BYTES);
    const first = next / PAGE_BYTES;
    place(name, declaration);
    next = align(next, PAGE_BYTES);
    for (let page = first; page < next / PAGE_BYTES; page++) {
      pageable.push(page);
      if (declaration.pagedOut) initiallyPagedOut.push(page);
    }
  }
  next = align(next, PAGE_BYTES);
  const interruptStacks: Array<{ top: number; limit: number }> = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    interruptStacks.push({ limit: next, top: next + STACK_BYTES });
    next += STACK_BYTES;
  }
  const threadEntries = Object.entries(def.threads ?? {});
  const threadStacks = threadEntries.map(() => {
    const stack = { limit: next, top: next + STACK_BYTES };
    next += STACK_BYTES;
    return stack;
  });
  // the IRP zone (nonpaged): the records IRP pointers point at; last, so that a scenario without drivers keeps its memory map
  const hasDrivers = Object.keys(def.drivers ?? {}).length > 0;
  const irpZone: IrpZoneConfig | null = hasDrivers ? { address: next, records: DEFAULT_IRP_ZONE_RECORDS } : null;
  if (irpZone) next += irpZone.records * IRP_RECORD_BYTES;
  const memoryBytes = align(next, 4096);

  // ---- object tables
  const dpcNames = Object.keys(def.dpcs ?? {});
  const interruptNames = Object.keys(def.interrupts ?? {});
  const nativeNames = Object.keys(def.natives ?? {});
  const routineNames = Object.keys(def.routines);

  // ---- dispatcher objects, by object id: the idle threads (1 … cpus), the scenario's threads, events, semaphores, mutexes
  let nextObjectId = cpus + 1;
  const threadIds = new Map(threadEntries.map(([name]) => [name, nextObjectId++]));
  const objects: DispatcherObjectConfig[] = [];
  for (const [name, e] of Object.entries(def.events ?? {})) {
    objects.push({ id: nextObjectId++, name, kind: 'event', synchronization: e.type === 'synchronization', signaled: e.signaled === true });
  }
  for (const [name, sem] of Object.entries(def.semaphores ?? {}))
    objects.push({ id: nextObjectId++, name, kind: 'semaphore', count: sem.count ?? 0, limit: sem.limit });
  for (const [name, m] of Object.entries(def.mutexes ?? {})) objects.push({ id: nextObjectId++, name, kind: m.kind ?? 'mutex' });
  for (const [name, t] of Object.entries(def.timers ?? {}))
    objects.push({ id: nextObjectId++, name, kind: 'timer', synchronization: t.type === 'synchronization' });
  // each device object's file object has an event (FILE_OBJECT.Event), after every declared object so that their ids stay
  const { drivers, deviceObjects } = compileDrivers(def, nextObjectId);
  for (const device of deviceObjects) {
    objects.push({ id: device.fileEvent, name: `${device.name}.FileObject.Event`, kind: 'event', synchronization: false, signaled: false });
    nextObjectId++;
  }
  const objectId = (kind: 'event' | 'semaphore' | 'mutex' | 'timer', name: string): number | undefined =>
    objects.find((o) => o.name === name && (kind === 'mutex' ? o.kind === 'mutex' || o.kind === 'mutant' : o.kind === kind))?.id;

  const resolve = (kind: SymKind, name: string): number | undefined => {
    switch (kind) {
      case 'thread':
        return threadIds.get(name);
      case 'event':
      case 'semaphore':
      case 'mutex':
      case 'timer':
        return objectId(kind, name);
      case 'var':
      case 'lock':
        return variables.get(name)?.address;
      case 'dpc': {
        // a KDPC handle: index + 1, so that 0 is NULL (KeSetTimer without a DPC)
        const index = dpcNames.indexOf(name);
        return index < 0 ? undefined : index + 1;
      }
      case 'interrupt': {
        const index = interruptNames.indexOf(name);
        return index < 0 ? undefined : index;
      }
      case 'native': {
        const index = nativeNames.indexOf(name);
        return index < 0 ? undefined : index;
      }
      case 'file': {
        // a file handle: the device object's id + 1, so that 0 is NULL
        const device = deviceObjects.find((d) => d.name === name);
        return device === undefined ? undefined : device.id + 1;
      }
      case 'apc': {
        // a KAPC's id: its index among the declared APCs
        const index = Object.keys(def.apcs ?? {}).indexOf(name);
        return index < 0 ? undefined : index;
      }
      default:
        return undefined;
    }
  };
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the link() call below (TypeScript's control-flow typing)
  let program;
  try {
    program = link(
      routineNames.map((name) => ({
        name,
        build: (a: RoutineBuilder): void => {
          try {
            def.routines[name]!(a);
          } catch (thrown) {
            // the builder's own complaints (an unknown label, a bad operand) say what is wrong already
            if (thrown instanceof BuildError) throw thrown;
            throw scenarioThrew(def.name, `the builder callback of routine '${name}'`, thrown);
          }
        },
      })),
      resolve,
    );
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    throw new ScenarioError(`scenario '${def.name}': ${error instanceof Error ? error.message : describeThrown(error)}`, { cause: error });
  }
  const routineIndex = (name: string): number => {
    const index = program.routineByName(name);
    if (index === undefined) throw new ScenarioError(`scenario '${def.name}': unknown routine '${name}'`);
    return index;
  };

  const dpcs: DpcInit[] = dpcNames.map((name) => {
    const d = def.dpcs![name]!;
    return {
      routine: routineIndex(d.routine),
      context: d.context ?? 0,
      importance: importanceFromName(d.importance),
      target: d.targetCpu ?? -1,
    };
  });

  const apcs: ApcObjectConfig[] = Object.entries(def.apcs ?? {}).map(([name, d], id) => ({
    id,
    name,
    kernelRoutine: routineIndex(d.kernelRoutine),
    normalRoutine: d.normalRoutine === undefined ? NO_ROUTINE : routineIndex(d.normalRoutine),
    rundownRoutine: d.rundownRoutine === undefined ? NO_ROUTINE : routineIndex(d.rundownRoutine),
    mode: d.mode === 'user' && d.normalRoutine !== undefined ? UserMode : KernelMode,
    context: d.context ?? 0,
  }));
  for (const driver of drivers) {
    const declared = def.drivers![driver.name]!.dispatch;
    for (const major of IRP_MAJOR_NAMES) {
      const routine = declared[major];
      if (routine !== undefined) driver.dispatch[IrpMajorFunction[major]] = routineIndex(routine);
    }
  }

  const lockNames: string[] = [];
  const interrupts: InterruptObjectConfig[] = interruptNames.map((name, id) => {
    const d = def.interrupts![name]!;
    const irql = d.irql ?? vectorToIrql(table, d.vector);
    const lockName = d.lock ?? `#${name}`;
    if (!lockNames.includes(lockName)) lockNames.push(lockName);
    return {
      id,
      name,
      vector: d.vector,
      irql,
      synchronizeIrql: d.synchronizeIrql ?? irql,
      routine: routineIndex(d.routine),
      context: d.context ?? 0,
      mode: d.mode === 'latched' ? 1 : 0,
      lock: lockNames.indexOf(lockName),
    };
  });

  const devices: DeviceConfig[] = Object.entries(def.devices ?? {}).map(([name, d], index) => ({
    name,
    line: d.line ?? index,
    vector: d.vector,
    ratePerSec: d.ratePerSec,
    burst: d.burst ?? 1,
    jitter: d.jitter ?? 0,
    delivery: d.delivery ?? 'fixed',
    cpus: d.cpus ? [...d.cpus] : Array.from({ length: cpus }, (_, i) => i),
    startNs: (d.startMs ?? 0) * 1e6,
    count: d.count ?? Infinity,
    seed: deriveSeed(options.seed, 100 + index),
  }));

  let idealSeed = 0;
  const threads: ThreadConfig[] = threadEntries.map(([name, t], index) => {
    const allowed = t.affinity ? [...t.affinity] : t.cpu !== undefined ? [t.cpu] : Array.from({ length: cpus }, (_, i) => i);
    const ideal = t.idealProcessor ?? t.cpu ?? allowed[idealSeed++ % allowed.length]!;
    return {
      id: threadIds.get(name)!,
      name,
      routine: routineIndex(t.routine),
      args: [...(t.args ?? [])],
      stackTop: threadStacks[index]!.top,
      stackLimit: threadStacks[index]!.limit,
      priority: t.priority ?? NORMAL_PRIORITY,
      affinity: Array.from({ length: cpus }, (_, cpu) => allowed.includes(cpu)),
      idealProcessor: ideal,
      startAtBoot: t.start !== 'created',
      ...(t.mode === 'user' ? { userMode: true } : {}),
    };
  });

  const codeWords = align(program.code.length + 16, 1024);
  const clockIntervalNs = (options.clockIntervalMs ?? def.machine?.clockIntervalMs ?? DEFAULT_CLOCK_MS) * 1e6;
  const machine: MachineConfig = {
    cpus,
    arch,
    mode: options.mode,
    seed: options.seed,
    cyclesPerNs: (def.machine?.cyclesPerMicrosecond ?? 1000) / 1000,
    clockIntervalNs,
    durationNs: options.durationNs,
    pace: options.pace ?? 'virtual',
    slackNs: options.slackNs ?? DEFAULT_SLACK_NS,
    timeScale: options.timeScale,
    ipiAckTimeoutTicks: def.machine?.ipiAckTimeoutTicks ?? 20,
    clockWatchdogTicks: def.machine?.clockWatchdogTicks ?? 40,
    interruptStormThreshold: 1000,
    spinTimeoutTicks: def.machine?.spinTimeoutTicks ?? DEFAULT_SPIN_TIMEOUT_TICKS,
    lazyIrql: options.lazyIrql === true || def.machine?.lazyIrql === true,
    threadQuantum: def.machine?.threadQuantum ?? DEFAULT_THREAD_QUANTUM,
    dpcTimeLimitTicks: def.machine?.dpcTimeLimitTicks ?? DEFAULT_DPC_TIME_LIMIT_TICKS,
    dpcWatchdogPeriodTicks: def.machine?.dpcWatchdogPeriodTicks ?? DEFAULT_DPC_WATCHDOG_PERIOD_TICKS,
    pagingLatencyNs: (def.machine?.pagingLatencyMs ?? DEFAULT_PAGING_LATENCY_MS) * 1e6,
    pageable,
    initiallyPagedOut,
    threads,
    objects,
    interruptStackTops: interruptStacks.map((stack) => stack.top),
    variableNames: [...variables.entries()],
    traceTags: { ...(def.traceTags ?? {}) },
    layout: {
      cpus,
      threads: cpus + threads.length,
      dpcs: dpcNames.length,
      interruptLocks: lockNames.length,
      codeWords,
      memoryWords: memoryBytes / 4,
      ringCapacity: cpus > 16 ? 256 : cpus > 4 ? 1024 : 8192,
      traceCapacity: options.traceToMain ? 1 << 16 : 16,
      devices: devices.length,
    },
    routines: program.routines.map((r) => ({ name: r.name, entry: r.entry })),
    dpcCount: dpcNames.length,
    dpcNames,
    interrupts,
    dpc: { ...DEFAULT_DPC_TUNABLES },
    nativeModule: nativeNames.length > 0 ? options.nativeModule : null,
    nativeNames,
    traceToMain: options.traceToMain,
    ...(options.latencyBreakAboveNs !== undefined ? { latencyBreakAboveNs: options.latencyBreakAboveNs } : {}),
    ...(apcs.length > 0 ? { apcs } : {}),
    ...(drivers.length > 0 ? { drivers, deviceObjects } : {}),
    ...(irpZone ? { irpZone } : {}),
    schedule: resolveSchedule(def, options.schedule, clockIntervalNs, options.recordDecisions ?? false),
  };

  const processors: ProcessorConfig[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) processors.push({ ...machine, cpu, interruptStack: interruptStacks[cpu]! });

  return { machine, interruptStacks, processors, devices, code: program.code, memoryInit, variables, dpcs };
}
