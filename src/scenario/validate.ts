/**
 * Check a loaded scenario's shape against the machine it is about to run on, before anything is
 * compiled or any worker is started. Every problem is a ScenarioError with one line naming the
 * scenario, the object and what is wrong, e.g.
 *   scenario 'x': dpcs.StormDpc.routine names unknown routine 'Nope'
 * Main thread only; pure.
 *
 * Unknown keys are rejected (a misspelt `interupts` would otherwise be silently ignored): a field
 * added to src/scenario/define.ts must be added to the key lists here too.
 */

import type { ScenarioDefinition } from './define.js';
import type { Arch } from '../kernel/irql.js';
import { irqlTable, irqlName, vectorToIrql } from '../kernel/irql.js';
import { REGISTER_COUNT } from '../isa/registers.js';
import { ScenarioError } from '../util/errors.js';
import { LATENCY_BUDGET_KEYS } from './latency-budgets.js';
import { driverNameProblem } from './routine-drivers.js';

export interface ValidationMachine {
  cpus: number;
  arch: Arch;
}

const TOP_KEYS = [
  'name',
  'description',
  'machine',
  'memory',
  'routines',
  'natives',
  'dpcs',
  'interrupts',
  'devices',
  'threads',
  'events',
  'semaphores',
  'mutexes',
  'timers',
  'apcs',
  'drivers',
  'traceTags',
  'results',
  'checks',
  'latency',
  'outcome',
  'outcomes',
  'explore',
];
const MACHINE_KEYS = [
  'cpus',
  'arch',
  'clockIntervalMs',
  'durationMs',
  'ipiAckTimeoutTicks',
  'clockWatchdogTicks',
  'cyclesPerMicrosecond',
  'threadQuantum',
  'spinTimeoutTicks',
  'dpcTimeLimitTicks',
  'dpcWatchdogPeriodTicks',
  'pagingLatencyMs',
  'lazyIrql',
];
const MEMORY_KEYS = ['words', 'init', 'paged', 'pagedOut'];
/** the clock increment range of §3.1: 0.5 ms (modern HALs' minimum) to 15.625 ms (KeMaximumIncrement) */
export const MIN_CLOCK_MS = 0.5;
export const MAX_CLOCK_MS = 15.625;
/** the coordinator keeps this many tick send times per CPU for the clock watchdog */
export const MAX_CLOCK_WATCHDOG_TICKS = 4000;
const DPC_KEYS = ['routine', 'context', 'importance', 'targetCpu', 'driver'];
const INTERRUPT_KEYS = ['vector', 'routine', 'irql', 'synchronizeIrql', 'shareVector', 'mode', 'context', 'lock', 'driver'];
const DEVICE_KEYS = ['line', 'vector', 'ratePerSec', 'burst', 'jitter', 'delivery', 'cpus', 'startMs', 'count'];
const THREAD_KEYS = ['routine', 'cpu', 'affinity', 'idealProcessor', 'priority', 'args', 'start', 'mode'];
const EVENT_KEYS = ['type', 'signaled'];
const SEMAPHORE_KEYS = ['count', 'limit'];
const MUTEX_KEYS = ['kind'];
const TIMER_KEYS = ['type'];
const APC_KEYS = ['kernelRoutine', 'normalRoutine', 'rundownRoutine', 'mode', 'context'];
const DRIVER_KEYS = ['dispatch', 'devices'];
const IRP_MAJORS = ['create', 'close', 'read', 'write', 'deviceControl', 'cleanup'];
const DEVICE_OBJECT_KEYS = ['io'];
const OUTCOME_GRADE_KEYS = ['match', 'expect', 'description'];
const EXPECTATIONS = ['acceptable', 'interesting', 'forbidden'];
const EXPLORE_KEYS = ['jitter'];
const JITTER_KEYS = ['deviceNs', 'tickPhaseNs', 'ipiDelayNs'];
const IMPORTANCES = ['Low', 'Medium', 'High', 'MediumHigh'];
const MAX_IOAPIC_LINE = 255;
const MAX_MEMORY_WORDS = 1 << 24;

type Obj = Record<string, unknown>;

const hex = (value: number): string => `0x${value.toString(16)}`;

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isInt = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
/** a value that fits a 32-bit word, signed or unsigned */
const isWord = (value: unknown): value is number => isInt(value) && value >= -0x80000000 && value <= 0xffffffff;

export function validateScenario(def: unknown, machine: ValidationMachine): ScenarioDefinition {
  if (!isObject(def)) throw new ScenarioError(`the scenario is ${describeValue(def)}, not a scenario object (export default defineScenario({ … }))`);
  if (typeof def.name !== 'string' || def.name.trim() === '') {
    throw new ScenarioError(`the scenario has no name: 'name' must be a non-empty string (got ${describeValue(def.name)})`);
  }
  const v = new Validator(def.name, machine);
  v.run(def);
  return def as unknown as ScenarioDefinition;
}

class Validator {
  readonly name: string;
  readonly cpus: number;
  readonly arch: Arch;

  constructor(name: string, machine: ValidationMachine) {
    this.name = name;
    this.cpus = machine.cpus;
    this.arch = machine.arch;
  }

  fail(message: string): never {
    throw new ScenarioError(`scenario '${this.name}': ${message}`);
  }

  keys(path: string, value: Obj, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(`${path}${path ? '.' : ''}${key} is not a scenario field (expected ${allowed.join(', ')})`);
    }
  }

  record(path: string, value: unknown, required: boolean): Obj | undefined {
    if (value === undefined) {
      if (required) this.fail(`${path} is missing (an object)`);
      return undefined;
    }
    if (!isObject(value)) this.fail(`${path} must be an object (got ${describeValue(value)})`);
    return value;
  }

  entry(path: string, value: unknown): Obj {
    if (!isObject(value)) this.fail(`${path} must be an object (got ${describeValue(value)})`);
    return value;
  }

  cpu(path: string, value: unknown): number {
    if (!isInt(value) || value < 0) this.fail(`${path} must be a CPU number (got ${describeValue(value)})`);
    if (value >= this.cpus) this.fail(`${path} names CPU ${value} but the machine has ${this.cpus} (CPUs 0–${this.cpus - 1})`);
    return value;
  }

  optionalWord(path: string, value: unknown): void {
    if (value !== undefined && !isWord(value)) this.fail(`${path} must be a 32-bit integer (got ${describeValue(value)})`);
  }

  positive(path: string, value: unknown, integer: boolean): void {
    if (value === undefined) return;
    const ok = integer ? isInt(value) && value > 0 : isFiniteNumber(value) && value > 0;
    if (!ok) this.fail(`${path} must be a positive ${integer ? 'integer' : 'number'} (got ${describeValue(value)})`);
  }

  routine(path: string, value: unknown, routines: Obj): void {
    if (typeof value !== 'string' || value === '') this.fail(`${path} must be a routine name (got ${describeValue(value)})`);
    if (!Object.hasOwn(routines, value)) this.fail(`${path} names unknown routine '${value}'`);
  }

  run(def: Obj): void {
    this.keys('', def, TOP_KEYS);
    if (typeof def.description !== 'string') this.fail(`description must be a string, one line for 'irqlab list' (got ${describeValue(def.description)})`);
    if (/[\r\n]/.test(def.description)) this.fail('description must be one line');

    const machine = this.record('machine', def.machine, false);
    if (machine) this.machine(machine);

    const memory = this.record('memory', def.memory, false);
    if (memory) this.memory(memory);

    const routines = this.record('routines', def.routines, true)!;
    for (const [name, routine] of Object.entries(routines)) {
      if (typeof routine !== 'function') this.fail(`routines.${name} must be a function (a: RoutineBuilder) => void (got ${describeValue(routine)})`);
    }

    const natives = this.record('natives', def.natives, false);
    for (const [name, native] of Object.entries(natives ?? {})) {
      if (typeof native !== 'function') this.fail(`natives.${name} must be a function (args, machine) => number | void (got ${describeValue(native)})`);
    }

    const dpcs = this.record('dpcs', def.dpcs, false);
    for (const [name, value] of Object.entries(dpcs ?? {})) this.dpc(`dpcs.${name}`, this.entry(`dpcs.${name}`, value), routines);

    const interrupts = this.record('interrupts', def.interrupts, false) ?? {};
    const connected = this.interrupts(interrupts, routines);
    const driverProblem = driverNameProblem(dpcs, interrupts);
    if (driverProblem !== null) this.fail(driverProblem);

    const devices = this.record('devices', def.devices, false);
    for (const [name, value] of Object.entries(devices ?? {})) this.device(`devices.${name}`, this.entry(`devices.${name}`, value), connected);

    const threads = this.record('threads', def.threads, false);
    for (const [name, value] of Object.entries(threads ?? {})) this.thread(`threads.${name}`, this.entry(`threads.${name}`, value), routines);

    const events = this.record('events', def.events, false);
    for (const [name, value] of Object.entries(events ?? {})) {
      const path = `events.${name}`;
      const event = this.entry(path, value);
      this.keys(path, event, EVENT_KEYS);
      if (event.type !== 'notification' && event.type !== 'synchronization') {
        this.fail(`${path}.type must be 'notification' or 'synchronization' (got ${describeValue(event.type)})`);
      }
      if (event.signaled !== undefined && typeof event.signaled !== 'boolean')
        this.fail(`${path}.signaled must be true or false (got ${describeValue(event.signaled)})`);
    }

    const semaphores = this.record('semaphores', def.semaphores, false);
    for (const [name, value] of Object.entries(semaphores ?? {})) {
      const path = `semaphores.${name}`;
      const semaphore = this.entry(path, value);
      this.keys(path, semaphore, SEMAPHORE_KEYS);
      if (!isInt(semaphore.limit) || semaphore.limit < 1 || semaphore.limit > 0x7fffffff) {
        this.fail(`${path}.limit must be an integer from 1 to 2147483647 (got ${describeValue(semaphore.limit)})`);
      }
      if (semaphore.count !== undefined && (!isInt(semaphore.count) || semaphore.count < 0 || semaphore.count > semaphore.limit)) {
        this.fail(`${path}.count must be an integer from 0 to its limit ${semaphore.limit} (got ${describeValue(semaphore.count)})`);
      }
    }

    const timers = this.record('timers', def.timers, false);
    for (const [name, value] of Object.entries(timers ?? {})) {
      const path = `timers.${name}`;
      const timer = this.entry(path, value);
      this.keys(path, timer, TIMER_KEYS);
      if (timer.type !== undefined && timer.type !== 'notification' && timer.type !== 'synchronization') {
        this.fail(`${path}.type must be 'notification' or 'synchronization' (got ${describeValue(timer.type)})`);
      }
    }

    const mutexes = this.record('mutexes', def.mutexes, false);
    for (const [name, value] of Object.entries(mutexes ?? {})) {
      const path = `mutexes.${name}`;
      const mutex = this.entry(path, value);
      this.keys(path, mutex, MUTEX_KEYS);
      if (mutex.kind !== undefined && mutex.kind !== 'mutex' && mutex.kind !== 'mutant') {
        this.fail(`${path}.kind must be 'mutex' or 'mutant' (got ${describeValue(mutex.kind)})`);
      }
    }

    const apcs = this.record('apcs', def.apcs, false);
    for (const [name, value] of Object.entries(apcs ?? {})) this.apc(`apcs.${name}`, this.entry(`apcs.${name}`, value), routines);

    const drivers = this.record('drivers', def.drivers, false);
    if (drivers) this.drivers(drivers, routines);

    const traceTags = this.record('traceTags', def.traceTags, false);
    for (const [tag, name] of Object.entries(traceTags ?? {})) {
      if (!/^-?\d+$/.test(tag)) this.fail(`traceTags key ${JSON.stringify(tag)} must be a TRACE tag number`);
      if (typeof name !== 'string' || name === '') this.fail(`traceTags.${tag} must be a non-empty name (got ${describeValue(name)})`);
    }

    for (const key of ['results', 'checks', 'outcome'] as const) {
      if (def[key] !== undefined && typeof def[key] !== 'function') this.fail(`${key} must be a function (run) => … (got ${describeValue(def[key])})`);
    }
    if (def.outcomes !== undefined) this.outcomes(def.outcomes);
    const latency = this.record('latency', def.latency, false);
    if (latency) {
      this.keys('latency', latency, LATENCY_BUDGET_KEYS);
      for (const [key, value] of Object.entries(latency)) {
        if (!isFiniteNumber(value) || value < 0) this.fail(`latency.${key} must be a number of µs, 0 or more (got ${describeValue(value)})`);
      }
    }
    const explore = this.record('explore', def.explore, false);
    if (explore) this.explore(explore);
  }

  /** outcomes: the grades `irqlab explore` applies, first match wins. */
  outcomes(outcomes: unknown): void {
    if (!Array.isArray(outcomes)) this.fail(`outcomes must be an array of { match, expect, description } (got ${describeValue(outcomes)})`);
    outcomes.forEach((value: unknown, i: number) => {
      const path = `outcomes[${i}]`;
      const grade = this.entry(path, value);
      this.keys(path, grade, OUTCOME_GRADE_KEYS);
      const match = grade.match;
      if (typeof match !== 'string' && !(match instanceof RegExp) && typeof match !== 'function') {
        this.fail(`${path}.match must be the outcome's text, a RegExp or a function (outcome) => boolean (got ${describeValue(match)})`);
      }
      if (!EXPECTATIONS.includes(grade.expect as string)) {
        this.fail(`${path}.expect must be one of ${EXPECTATIONS.map((e) => `'${e}'`).join(', ')} (got ${describeValue(grade.expect)})`);
      }
      if (typeof grade.description !== 'string') this.fail(`${path}.description must be a string (got ${describeValue(grade.description)})`);
      if (/[\r\n]/.test(grade.description)) this.fail(`${path}.description must be one line`);
    });
  }

  explore(explore: Obj): void {
    this.keys('explore', explore, EXPLORE_KEYS);
    const jitter = this.record('explore.jitter', explore.jitter, false);
    if (!jitter) return;
    this.keys('explore.jitter', jitter, JITTER_KEYS);
    for (const key of JITTER_KEYS) {
      const value = jitter[key];
      if (value !== undefined && (!isFiniteNumber(value) || value < 0)) {
        this.fail(`explore.jitter.${key} must be a number of emulated ns ≥ 0 (got ${describeValue(value)})`);
      }
    }
  }

  /** A KAPC: its routines exist; a user APC has a NormalRoutine (what runs in user mode). */
  apc(path: string, apc: Obj, routines: Obj): void {
    this.keys(path, apc, APC_KEYS);
    this.routine(`${path}.kernelRoutine`, apc.kernelRoutine, routines);
    if (apc.normalRoutine !== undefined) this.routine(`${path}.normalRoutine`, apc.normalRoutine, routines);
    if (apc.rundownRoutine !== undefined) this.routine(`${path}.rundownRoutine`, apc.rundownRoutine, routines);
    if (apc.mode !== 'kernel' && apc.mode !== 'user') this.fail(`${path}.mode must be 'kernel' or 'user' (got ${describeValue(apc.mode)})`);
    if (apc.mode === 'user' && apc.normalRoutine === undefined) {
      this.fail(`${path} is a user APC without a normalRoutine (the routine that runs in user mode); an APC with no normalRoutine is a special kernel APC`);
    }
    this.optionalWord(`${path}.context`, apc.context);
  }

  /** Drivers: dispatch routines by IRP_MJ name; device object names unique across drivers. */
  drivers(drivers: Obj, routines: Obj): void {
    const deviceOwners = new Map<string, string>();
    for (const [name, value] of Object.entries(drivers)) {
      const path = `drivers.${name}`;
      const driver = this.entry(path, value);
      this.keys(path, driver, DRIVER_KEYS);
      const dispatch = this.record(`${path}.dispatch`, driver.dispatch, true)!;
      this.keys(`${path}.dispatch`, dispatch, IRP_MAJORS);
      for (const [major, routine] of Object.entries(dispatch)) this.routine(`${path}.dispatch.${major}`, routine, routines);
      const devices = this.record(`${path}.devices`, driver.devices, false) ?? { [name]: {} };
      if (Object.keys(devices).length === 0) this.fail(`${path}.devices is empty (omit it for one device named after the driver)`);
      for (const [deviceName, deviceValue] of Object.entries(devices)) {
        const devicePath = `${path}.devices.${deviceName}`;
        const device = this.entry(devicePath, deviceValue);
        this.keys(devicePath, device, DEVICE_OBJECT_KEYS);
        if (device.io !== undefined && device.io !== 'synchronous' && device.io !== 'overlapped') {
          this.fail(`${devicePath}.io must be 'synchronous' or 'overlapped' (got ${describeValue(device.io)})`);
        }
        const owner = deviceOwners.get(deviceName);
        if (owner !== undefined) this.fail(`${devicePath}: drivers.${owner} already has a device object named '${deviceName}' (names are file handles)`);
        deviceOwners.set(deviceName, name);
      }
    }
  }

  thread(path: string, thread: Obj, routines: Obj): void {
    this.keys(path, thread, THREAD_KEYS);
    this.routine(`${path}.routine`, thread.routine, routines);
    let affinity: number[] | null = null;
    if (thread.cpu !== undefined) this.cpu(`${path}.cpu`, thread.cpu);
    if (thread.affinity !== undefined) {
      if (!Array.isArray(thread.affinity)) this.fail(`${path}.affinity must be an array of CPU numbers (got ${describeValue(thread.affinity)})`);
      if (thread.affinity.length === 0) this.fail(`${path}.affinity is empty (omit it to allow every CPU)`);
      affinity = thread.affinity.map((cpu: unknown, i: number) => this.cpu(`${path}.affinity[${i}]`, cpu));
      if (thread.cpu !== undefined && !affinity.includes(thread.cpu as number))
        this.fail(`${path}.cpu ${thread.cpu} is not in its affinity [${affinity.join(', ')}]`);
    }
    if (thread.idealProcessor !== undefined) {
      const ideal = this.cpu(`${path}.idealProcessor`, thread.idealProcessor);
      const allowed = affinity ?? (thread.cpu !== undefined ? [thread.cpu as number] : null);
      if (allowed && !allowed.includes(ideal)) this.fail(`${path}.idealProcessor ${ideal} is not in its affinity [${allowed.join(', ')}]`);
    }
    if (thread.priority !== undefined && (!isInt(thread.priority) || thread.priority < 1 || thread.priority > 31)) {
      this.fail(`${path}.priority must be an integer from 1 to 31 (got ${describeValue(thread.priority)})`);
    }
    if (thread.start !== undefined && thread.start !== 'boot' && thread.start !== 'created') {
      this.fail(`${path}.start must be 'boot' or 'created' (got ${describeValue(thread.start)})`);
    }
    if (thread.mode !== undefined && thread.mode !== 'kernel' && thread.mode !== 'user') {
      this.fail(`${path}.mode must be 'kernel' or 'user' (got ${describeValue(thread.mode)})`);
    }
    if (thread.args !== undefined) {
      if (!Array.isArray(thread.args)) this.fail(`${path}.args must be an array of numbers (got ${describeValue(thread.args)})`);
      if (thread.args.length > REGISTER_COUNT - 1)
        this.fail(`${path}.args has ${thread.args.length} values; at most ${REGISTER_COUNT - 1} (r1–r${REGISTER_COUNT - 1})`);
      thread.args.forEach((arg: unknown, i: number) => void this.optionalWord(`${path}.args[${i}]`, arg));
    }
  }

  machine(machine: Obj): void {
    this.keys('machine', machine, MACHINE_KEYS);
    if (machine.cpus !== undefined && (!isInt(machine.cpus) || machine.cpus < 1 || machine.cpus > 64)) {
      this.fail(`machine.cpus must be an integer from 1 to 64 (got ${describeValue(machine.cpus)})`);
    }
    if (machine.arch !== undefined && machine.arch !== 'x64' && machine.arch !== 'x86') {
      this.fail(`machine.arch must be 'x64' or 'x86' (got ${describeValue(machine.arch)})`);
    }
    if (
      machine.clockIntervalMs !== undefined &&
      (!isFiniteNumber(machine.clockIntervalMs) || machine.clockIntervalMs < MIN_CLOCK_MS || machine.clockIntervalMs > MAX_CLOCK_MS)
    ) {
      this.fail(`machine.clockIntervalMs must be from ${MIN_CLOCK_MS} to ${MAX_CLOCK_MS} ms (got ${describeValue(machine.clockIntervalMs)})`);
    }
    this.positive('machine.dpcTimeLimitTicks', machine.dpcTimeLimitTicks, true);
    this.positive('machine.dpcWatchdogPeriodTicks', machine.dpcWatchdogPeriodTicks, true);
    this.positive('machine.pagingLatencyMs', machine.pagingLatencyMs, false);
    this.positive('machine.durationMs', machine.durationMs, false);
    this.positive('machine.ipiAckTimeoutTicks', machine.ipiAckTimeoutTicks, true);
    this.positive('machine.clockWatchdogTicks', machine.clockWatchdogTicks, true);
    if (isInt(machine.clockWatchdogTicks) && machine.clockWatchdogTicks > MAX_CLOCK_WATCHDOG_TICKS) {
      this.fail(`machine.clockWatchdogTicks must be at most ${MAX_CLOCK_WATCHDOG_TICKS} (got ${machine.clockWatchdogTicks})`);
    }
    this.positive('machine.cyclesPerMicrosecond', machine.cyclesPerMicrosecond, false);
    if (machine.threadQuantum !== undefined && (!isInt(machine.threadQuantum) || machine.threadQuantum < 1 || machine.threadQuantum > 0x7f)) {
      this.fail(`machine.threadQuantum must be an integer from 1 to 127 quantum units (got ${describeValue(machine.threadQuantum)})`);
    }
    this.positive('machine.spinTimeoutTicks', machine.spinTimeoutTicks, true);
    if (machine.lazyIrql !== undefined && typeof machine.lazyIrql !== 'boolean')
      this.fail(`machine.lazyIrql must be true or false (got ${describeValue(machine.lazyIrql)})`);
  }

  memory(memory: Obj): void {
    for (const [name, value] of Object.entries(memory)) {
      const path = `memory.${name}`;
      const variable = this.entry(path, value);
      this.keys(path, variable, MEMORY_KEYS);
      const words = variable.words;
      if (words !== undefined && (!isInt(words) || words < 1 || words > MAX_MEMORY_WORDS)) {
        this.fail(`${path}.words must be an integer from 1 to ${MAX_MEMORY_WORDS} (got ${describeValue(words)})`);
      }
      for (const flag of ['paged', 'pagedOut'] as const) {
        if (variable[flag] !== undefined && typeof variable[flag] !== 'boolean')
          this.fail(`${path}.${flag} must be true or false (got ${describeValue(variable[flag])})`);
      }
      if (variable.pagedOut === true && variable.paged !== true) this.fail(`${path}.pagedOut needs paged: true (only pageable memory can be out of memory)`);
      const init = variable.init;
      if (init === undefined) continue;
      if (Array.isArray(init)) {
        if (init.length === 0 && words === undefined) this.fail(`${path}.init is an empty array (give words, or at least one value)`);
        init.forEach((word: unknown, i: number) => {
          if (!isWord(word)) this.fail(`${path}.init[${i}] must be a 32-bit integer (got ${describeValue(word)})`);
        });
        if (isInt(words) && init.length > words) this.fail(`${path}.init has ${init.length} values but words is ${words}`);
      } else if (!isWord(init)) {
        this.fail(`${path}.init must be a 32-bit integer or an array of them (got ${describeValue(init)})`);
      }
    }
  }

  dpc(path: string, dpc: Obj, routines: Obj): void {
    this.keys(path, dpc, DPC_KEYS);
    this.routine(`${path}.routine`, dpc.routine, routines);
    this.optionalWord(`${path}.context`, dpc.context);
    if (dpc.importance !== undefined && !IMPORTANCES.includes(dpc.importance as string)) {
      this.fail(`${path}.importance must be one of ${IMPORTANCES.map((i) => `'${i}'`).join(', ')} (got ${describeValue(dpc.importance)})`);
    }
    if (dpc.targetCpu !== undefined) this.cpu(`${path}.targetCpu`, dpc.targetCpu);
  }

  deviceVectorRange(): string {
    const table = irqlTable(this.arch);
    return `${this.arch} devices use ${hex(table.minDeviceVector)}–${hex(table.maxDeviceVector)}`;
  }

  vector(path: string, value: unknown): number {
    const table = irqlTable(this.arch);
    if (!isInt(value)) this.fail(`${path} must be an integer vector (got ${describeValue(value)})`);
    if (value < table.minDeviceVector || value > table.maxDeviceVector) {
      this.fail(`${path} ${value >= 0 ? hex(value) : value} is not a device vector (${this.deviceVectorRange()})`);
    }
    return value;
  }

  /** Validate the KINTERRUPT objects and return the vectors they connect, with their objects. */
  interrupts(interrupts: Obj, routines: Obj): Map<number, string[]> {
    const table = irqlTable(this.arch);
    const byVector = new Map<number, Array<{ name: string; irql: number; share: boolean; mode: string }>>();
    for (const [name, value] of Object.entries(interrupts)) {
      const path = `interrupts.${name}`;
      const interrupt = this.entry(path, value);
      this.keys(path, interrupt, INTERRUPT_KEYS);
      const vector = this.vector(`${path}.vector`, interrupt.vector);
      this.routine(`${path}.routine`, interrupt.routine, routines);
      let irql: number;
      const range = `${this.arch} device IRQLs are ${table.minDevice}–${table.maxDevice}`;
      if (interrupt.irql === undefined) {
        irql = vectorToIrql(table, vector);
        if (irql < table.minDevice || irql > table.maxDevice) {
          this.fail(`${path}: vector ${hex(vector)} maps to IRQL ${irql} (${irqlName(this.arch, irql)}), not a device IRQL (${range}); give irql explicitly`);
        }
      } else {
        if (!isInt(interrupt.irql) || interrupt.irql < table.minDevice || interrupt.irql > table.maxDevice) {
          this.fail(`${path}.irql ${describeValue(interrupt.irql)} is out of range (${range})`);
        }
        irql = interrupt.irql;
      }
      if (interrupt.synchronizeIrql !== undefined) {
        const sync = interrupt.synchronizeIrql;
        if (!isInt(sync) || sync > table.maxDevice) {
          this.fail(`${path}.synchronizeIrql ${describeValue(sync)} is out of range (${range})`);
        }
        if (sync < irql) this.fail(`${path}.synchronizeIrql ${sync} is below its irql ${irql} (SynchronizeIrql must be ≥ Irql)`);
      }
      if (interrupt.shareVector !== undefined && typeof interrupt.shareVector !== 'boolean') {
        this.fail(`${path}.shareVector must be true or false (got ${describeValue(interrupt.shareVector)})`);
      }
      if (interrupt.mode !== undefined && interrupt.mode !== 'level' && interrupt.mode !== 'latched') {
        this.fail(`${path}.mode must be 'level' or 'latched' (got ${describeValue(interrupt.mode)})`);
      }
      this.optionalWord(`${path}.context`, interrupt.context);
      if (interrupt.lock !== undefined && (typeof interrupt.lock !== 'string' || interrupt.lock === '')) {
        this.fail(`${path}.lock must be a spin lock name (got ${describeValue(interrupt.lock)})`);
      }
      const list = byVector.get(vector) ?? [];
      list.push({ name, irql, share: interrupt.shareVector === true, mode: (interrupt.mode as string | undefined) ?? 'level' });
      byVector.set(vector, list);
    }

    const connected = new Map<number, string[]>();
    for (const [vector, objects] of byVector) {
      if (objects.length > 1) {
        const names = objects.map((o) => `interrupts.${o.name}`).join(', ');
        const unshared = objects.find((o) => !o.share);
        if (unshared) {
          this.fail(`KeConnectInterrupt would fail: ${names} share vector ${hex(vector)} but interrupts.${unshared.name} does not set shareVector: true`);
        }
        const first = objects[0]!;
        const otherMode = objects.find((o) => o.mode !== first.mode);
        if (otherMode) {
          this.fail(
            `KeConnectInterrupt would fail: interrupts.${first.name} (${first.mode}) and interrupts.${otherMode.name} (${otherMode.mode}) share vector ${hex(vector)} with different modes`,
          );
        }
        const otherIrql = objects.find((o) => o.irql !== first.irql);
        if (otherIrql) {
          this.fail(
            `KeConnectInterrupt would fail: interrupts.${first.name} (DIRQL ${first.irql}) and interrupts.${otherIrql.name} (DIRQL ${otherIrql.irql}) share vector ${hex(vector)} at different IRQLs`,
          );
        }
      }
      connected.set(
        vector,
        objects.map((o) => o.name),
      );
    }
    return connected;
  }

  device(path: string, device: Obj, connected: Map<number, string[]>): void {
    this.keys(path, device, DEVICE_KEYS);
    const vector = this.vector(`${path}.vector`, device.vector);
    if (!connected.has(vector)) {
      this.fail(`${path}.vector ${hex(vector)} has no interrupt object connected (declare one in interrupts with vector ${hex(vector)})`);
    }
    if (device.line !== undefined && (!isInt(device.line) || device.line < 0 || device.line > MAX_IOAPIC_LINE)) {
      this.fail(`${path}.line must be an IOAPIC input from 0 to ${MAX_IOAPIC_LINE} (got ${describeValue(device.line)})`);
    }
    if (!isFiniteNumber(device.ratePerSec) || device.ratePerSec < 0) {
      this.fail(`${path}.ratePerSec must be a finite number ≥ 0, interrupts per emulated second (got ${describeValue(device.ratePerSec)})`);
    }
    this.positive(`${path}.burst`, device.burst, true);
    if (device.jitter !== undefined && (!isFiniteNumber(device.jitter) || device.jitter < 0 || device.jitter > 1)) {
      this.fail(`${path}.jitter must be a number from 0 to 1 (got ${describeValue(device.jitter)})`);
    }
    if (device.delivery !== undefined && device.delivery !== 'fixed' && device.delivery !== 'lowest-priority') {
      this.fail(`${path}.delivery must be 'fixed' or 'lowest-priority' (got ${describeValue(device.delivery)})`);
    }
    if (device.cpus !== undefined) {
      if (!Array.isArray(device.cpus)) this.fail(`${path}.cpus must be an array of CPU numbers (got ${describeValue(device.cpus)})`);
      if (device.cpus.length === 0) this.fail(`${path}.cpus is empty (omit it to target every CPU)`);
      const seen = new Set<number>();
      device.cpus.forEach((cpu: unknown, i: number) => {
        if (!isInt(cpu) || cpu < 0) this.fail(`${path}.cpus[${i}] must be a CPU number (got ${describeValue(cpu)})`);
        if (cpu >= this.cpus) this.fail(`${path}.cpus names CPU ${cpu} but the machine has ${this.cpus} (CPUs 0–${this.cpus - 1})`);
        if (seen.has(cpu)) this.fail(`${path}.cpus names CPU ${cpu} twice`);
        seen.add(cpu);
      });
    }
    if (device.startMs !== undefined && (!isFiniteNumber(device.startMs) || device.startMs < 0)) {
      this.fail(`${path}.startMs must be a finite number ≥ 0 (got ${describeValue(device.startMs)})`);
    }
    if (device.count !== undefined && (!isInt(device.count) || device.count < 0)) {
      this.fail(`${path}.count must be an integer ≥ 0 (got ${describeValue(device.count)})`);
    }
  }
}
