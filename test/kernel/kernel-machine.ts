// A small machine around the DispatcherDatabase for the in-process kernel tests (dispatcher.test.ts,
// timer.test.ts): the database built directly and driven with Caller objects the way a CPU drives
// it (the CPU's current thread is db.prcb(cpu).currentThread; taking the DISPATCH interrupt is
// db.dispatch(..., false); a switchTo in an outcome means the CPU now runs that thread). Emulated
// time is `nowNs`, moved forward with at(); interrupt time is tick-granular. The clock owner (CPU 0)
// runs KiTimerExpiration at DISPATCH_LEVEL when the tick's TimerRequest test (timerDue) says a timer
// is due. After every operation the database's invariants are checked, the timer table's included.
import { expect } from 'vitest';
import { DispatcherDatabase } from '../../src/kernel/dispatcher.js';
import type { Caller, DispatchOutcome } from '../../src/kernel/dispatcher.js';
import { type KThread, ThreadState } from '../../src/kernel/thread.js';
import { KEvent } from '../../src/kernel/event.js';
import { KSemaphore } from '../../src/kernel/semaphore.js';
import { KMutant } from '../../src/kernel/mutant.js';
import { BOOT_SYSTEM_TIME, KTimer, TIMER_TABLE_SIZE } from '../../src/kernel/timer.js';
import { IO_NO_INCREMENT, WaitReason, WaitType } from '../../src/kernel/status.js';

export interface ThreadSpec {
  name: string;
  priority: number;
  /** CPUs it may run on (default: all) */
  affinity?: readonly number[];
  /** default 0 */
  ideal?: number;
  /** default true */
  startAtBoot?: boolean;
}

export interface MachineSpec {
  cpus: number;
  threads: readonly ThreadSpec[];
  events?: ReadonlyArray<{ name: string; sync?: boolean; signaled?: boolean }>;
  semaphores?: ReadonlyArray<{ name: string; count: number; limit: number }>;
  /** kernel: true for a KMUTEX (KeInitializeMutex), false for a mutant */
  mutexes?: ReadonlyArray<{ name: string; kernel?: boolean }>;
  timers?: ReadonlyArray<{ name: string; sync?: boolean }>;
  /** KeMaximumIncrement in ns (default 15.625 ms, 64 Hz) */
  clockIntervalNs?: number;
  /** system time at interrupt time 0 (default BOOT_SYSTEM_TIME) */
  bootSystemTime?: number;
  /** every operation must end without a bugcheck (default: an outcome's bugcheck is returned for the test to check) */
  failOnBugcheck?: boolean;
}

export interface CallOptions {
  oldIrql?: number;
  dpcActive?: boolean;
  /** the quantum the CPU has left for its thread (default: what the database has) */
  quantum?: number;
  /** the caller's emulated time (default: the machine's now) */
  timeNs?: number;
}

export const QUANTUM = 6;
export const CALL_PC = 0x4000;
export const DISPATCH_LEVEL = 2;
/** 64 Hz */
export const CLOCK_NS = 15_625_000;

export class KernelMachine {
  readonly db: DispatcherDatabase;
  readonly cpus: number;
  readonly clockNs: number;
  /** the emulated time the CPUs' calls are made at */
  nowNs = 0;
  private readonly failOnBugcheck: boolean;
  private readonly ids = new Map<string, number>();

  constructor(spec: MachineSpec) {
    this.cpus = spec.cpus;
    this.clockNs = spec.clockIntervalNs ?? CLOCK_NS;
    this.failOnBugcheck = spec.failOnBugcheck ?? false;
    let id = spec.cpus + 1;
    const next = (name: string): number => {
      if (this.ids.has(name)) throw new Error(`duplicate name ${name}`);
      this.ids.set(name, id);
      return id++;
    };
    const all = Array.from({ length: spec.cpus }, (_, c) => c);
    const threads = spec.threads.map((t) => {
      const allowed = t.affinity ?? all;
      return {
        id: next(t.name),
        name: t.name,
        basePriority: t.priority,
        affinity: all.map((c) => allowed.includes(c)),
        idealProcessor: t.ideal ?? 0,
        quantumReset: QUANTUM,
        stackTop: 0x10000 * id,
        startAtBoot: t.startAtBoot ?? true,
      };
    });
    const events = (spec.events ?? []).map((e) => ({ id: next(e.name), name: e.name, synchronization: e.sync ?? false, signaled: e.signaled ?? false }));
    const semaphores = (spec.semaphores ?? []).map((s) => ({ id: next(s.name), name: s.name, count: s.count, limit: s.limit }));
    const mutexes = (spec.mutexes ?? []).map((m) => ({ id: next(m.name), name: m.name, kernelMutex: m.kernel ?? true }));
    const timers = (spec.timers ?? []).map((t) => ({ id: next(t.name), name: t.name, synchronization: t.sync ?? false }));
    this.db = new DispatcherDatabase({
      cpus: spec.cpus,
      threads,
      events,
      semaphores,
      mutexes,
      timers,
      idleStackTops: all.map((c) => 0x1000 * (c + 1)),
      clockIntervalNs: this.clockNs,
      bootSystemTime: spec.bootSystemTime ?? BOOT_SYSTEM_TIME,
    });
  }

  id(name: string): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`no object ${name}`);
    return id;
  }

  t(name: string): KThread {
    const thread = this.db.thread(this.id(name));
    if (!thread) throw new Error(`${name} is not a thread`);
    return thread;
  }

  idle(cpu: number): KThread {
    return this.db.prcb(cpu).idleThread;
  }

  event(name: string): KEvent {
    const object = this.db.objects[this.id(name)];
    if (!(object instanceof KEvent)) throw new Error(`${name} is not an event`);
    return object;
  }

  semaphore(name: string): KSemaphore {
    const object = this.db.objects[this.id(name)];
    if (!(object instanceof KSemaphore)) throw new Error(`${name} is not a semaphore`);
    return object;
  }

  mutex(name: string): KMutant {
    const object = this.db.objects[this.id(name)];
    if (!(object instanceof KMutant)) throw new Error(`${name} is not a mutex`);
    return object;
  }

  timer(name: string): KTimer {
    const object = this.db.objects[this.id(name)];
    if (!(object instanceof KTimer)) throw new Error(`${name} is not a timer`);
    return object;
  }

  current(cpu: number): KThread {
    return this.db.prcb(cpu).currentThread;
  }

  standby(cpu: number): string | null {
    return this.db.prcb(cpu).nextThread?.name ?? null;
  }

  /** What runs where: the name of each CPU's current thread. */
  running(): string[] {
    return Array.from({ length: this.cpus }, (_, c) => this.current(c).name);
  }

  readyList(cpu: number, priority: number): string[] {
    return this.db.prcb(cpu).readyLists[priority]!.map((t) => t.name);
  }

  waiters(name: string): string[] {
    return (this.db.objects[this.id(name)]?.waitList ?? []).map((b) => b.thread.name);
  }

  /** The emulated ns of tick `tick` (plus `ns` into it). */
  tickNs(tick: number, ns = 0): number {
    return tick * this.clockNs + ns;
  }

  /** Move the machine's time to tick `tick` (plus `ns` into it). */
  at(tick: number, ns = 0): this {
    const t = this.tickNs(tick, ns);
    expect(t, 'time runs forward').toBeGreaterThanOrEqual(this.nowNs);
    this.nowNs = t;
    return this;
  }

  /** The tick of the machine's time. */
  get tick(): number {
    return Math.floor(this.nowNs / this.clockNs);
  }

  caller(cpu: number, options: CallOptions = {}): Caller {
    const thread = this.current(cpu);
    return {
      cpu,
      thread: thread.id,
      oldIrql: options.oldIrql ?? 0,
      quantum: options.quantum ?? thread.quantum,
      dpcActive: options.dpcActive ?? false,
      timeNs: options.timeNs ?? this.nowNs,
    };
  }

  /**
   * What the CPU does with an outcome: a switchTo must be its current thread now (it switched);
   * otherwise the thread it ran keeps running. Then the database invariants must hold.
   */
  apply(cpu: number, before: KThread, outcome: DispatchOutcome): DispatchOutcome {
    if (this.failOnBugcheck) expect(outcome.bugcheck).toBeNull();
    if (outcome.bugcheck) return outcome;
    if (outcome.switchTo) {
      expect(this.current(cpu)).toBe(outcome.switchTo);
      expect(outcome.switchTo).not.toBe(before);
    } else {
      expect(this.current(cpu)).toBe(before);
    }
    checkInvariants(this.db);
    return outcome;
  }

  private run(cpu: number, options: CallOptions, op: (caller: Caller) => DispatchOutcome): DispatchOutcome {
    const before = this.current(cpu);
    return this.apply(cpu, before, op(this.caller(cpu, options)));
  }

  boot(): void {
    const targets = this.db.boot();
    expect(targets).toEqual(Array.from({ length: this.cpus }, (_, c) => c).filter((c) => this.db.prcb(c).nextThread !== null));
    checkInvariants(this.db);
  }

  /** The CPU takes its DISPATCH interrupt (after DPCs / in the idle loop). */
  dispatchInterrupt(cpu: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.dispatch(c, false));
  }

  /** The clock ran the current thread's quantum out: KiQuantumEnd. */
  quantumEnd(cpu: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, { quantum: 0, ...options }, (c) => this.db.dispatch(c, true));
  }

  /** Boot, then every CPU given a standby thread takes its DISPATCH interrupt. */
  start(): void {
    this.boot();
    for (let cpu = 0; cpu < this.cpus; cpu++) if (this.db.prcb(cpu).nextThread) this.dispatchInterrupt(cpu);
  }

  wait(cpu: number, objects: readonly string[], options: CallOptions & { type?: number; timeout?: number | null } = {}): DispatchOutcome {
    const ids = objects.map((o) => this.id(o));
    return this.run(cpu, options, (c) =>
      this.db.waitForObjects(c, ids, options.type ?? WaitType.WaitAny, WaitReason.Executive, options.timeout ?? null, CALL_PC),
    );
  }

  setEvent(cpu: number, name: string, increment = IO_NO_INCREMENT, wait = false, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.setEvent(c, this.id(name), increment, wait));
  }

  pulseEvent(cpu: number, name: string, increment = IO_NO_INCREMENT, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.pulseEvent(c, this.id(name), increment, false));
  }

  releaseSemaphore(cpu: number, name: string, adjustment: number, increment = IO_NO_INCREMENT): DispatchOutcome {
    return this.run(cpu, {}, (c) => this.db.releaseSemaphore(c, this.id(name), increment, adjustment, false));
  }

  releaseMutant(cpu: number, name: string, increment = IO_NO_INCREMENT): DispatchOutcome {
    return this.run(cpu, {}, (c) => this.db.releaseMutant(c, this.id(name), increment, false, false));
  }

  terminate(cpu: number, exitStatus = 0): DispatchOutcome {
    return this.run(cpu, {}, (c) => this.db.terminateThread(c, exitStatus));
  }

  yield(cpu: number): DispatchOutcome {
    return this.run(cpu, {}, (c) => this.db.yieldExecution(c));
  }

  startThread(cpu: number, name: string, context = 0, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.startThread(c, this.id(name), context));
  }

  setPriority(cpu: number, name: string, priority: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.setPriority(c, this.id(name), priority));
  }

  setTimer(cpu: number, name: string, due: number, periodMs = 0, dpc = -1, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.setTimer(c, this.id(name), due, periodMs, dpc));
  }

  cancelTimer(cpu: number, name: string, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.cancelTimer(c, this.id(name)));
  }

  initializeTimer(cpu: number, name: string, sync: boolean): DispatchOutcome {
    return this.run(cpu, {}, (c) => this.db.initializeTimer(c, this.id(name), sync));
  }

  /** KeReadStateTimer */
  readState(cpu: number, name: string): number {
    return this.run(cpu, {}, (c) => this.db.readState(c, this.id(name))).status;
  }

  delay(cpu: number, interval: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.delayExecution(c, interval, CALL_PC));
  }

  pageFault(cpu: number, page: number, latencyNs: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.pageFault(c, page, latencyNs));
  }

  setSystemTime(cpu: number, value: number, options: CallOptions = {}): DispatchOutcome {
    return this.run(cpu, options, (c) => this.db.setSystemTime(c, value));
  }

  /**
   * KiTimerExpiration on the clock owner (CPU 0) at DISPATCH_LEVEL, at the machine's time: call
   * expireTimers until it says nothing due is left. Returns every call's outcome.
   */
  expire(): DispatchOutcome[] {
    const outcomes: DispatchOutcome[] = [];
    for (let k = 0; k < 64; k++) {
      const outcome = this.run(0, { oldIrql: DISPATCH_LEVEL }, (c) => this.db.expireTimers(c));
      expect(outcome.switchTo).toBeNull();
      if (outcome.dpcs.length > 0) expect(outcome.systemTime).toBe(this.db.systemTime(this.nowNs));
      outcomes.push(outcome);
      if (outcome.status === 1) return outcomes;
    }
    throw new Error('expireTimers never reported that nothing due is left');
  }

  /**
   * The clock interrupt of tick `tick` on the clock owner: KeUpdateSystemTime's TimerRequest test,
   * then (if set) the expiration. Returns the DPCs run, in order.
   */
  clock(tick: number): number[] {
    this.at(tick);
    if (!this.db.timerDue(this.nowNs)) return [];
    return this.expire().flatMap((o) => o.dpcs);
  }

  /** Clock ticks from..to inclusive; returns [tick, dpc] for every DPC run. */
  ticks(from: number, to: number): Array<[number, number]> {
    const ran: Array<[number, number]> = [];
    for (let tick = from; tick <= to; tick++) for (const dpc of this.clock(tick)) ran.push([tick, dpc]);
    return ran;
  }

  /** The first tick in [from, to] at which the TimerRequest test is true, or −1. */
  firstDueTick(from: number, to: number): number {
    for (let tick = from; tick <= to; tick++) if (this.db.timerDue(this.tickNs(tick))) return tick;
    return -1;
  }
}

/** The database's own invariants, checked after every operation. */
export function checkInvariants(db: DispatcherDatabase): void {
  const seen = new Map<KThread, string>();
  const place = (thread: KThread, where: string): void => {
    expect(seen.get(thread), `${thread.name} is both ${seen.get(thread)} and ${where}`).toBeUndefined();
    seen.set(thread, where);
  };
  for (let cpu = 0; cpu < db.cpus; cpu++) {
    const prcb = db.prcb(cpu);
    const current = prcb.currentThread;
    expect(current.state, `CPU ${cpu} current ${current.name}`).toBe(ThreadState.Running);
    if (!current.isIdle) {
      expect(current.nextProcessor).toBe(cpu);
      expect(current.canRunOn(cpu)).toBe(true);
      place(current, `current on CPU ${cpu}`);
    }
    const next = prcb.nextThread;
    if (next) {
      expect(next.state, `CPU ${cpu} standby ${next.name}`).toBe(ThreadState.Standby);
      expect(next.nextProcessor).toBe(cpu);
      expect(next.canRunOn(cpu)).toBe(true);
      place(next, `standby on CPU ${cpu}`);
    }
    let count = 0;
    for (let p = 0; p < 32; p++) {
      const list = prcb.readyLists[p]!;
      expect((prcb.readySummary >>> p) & 1, `CPU ${cpu} ReadySummary bit ${p}`).toBe(list.length > 0 ? 1 : 0);
      for (const t of list) {
        expect(t.state, `${t.name} on CPU ${cpu} list ${p}`).toBe(ThreadState.Ready);
        expect(t.priority).toBe(p);
        expect(t.nextProcessor).toBe(cpu);
        expect(t.canRunOn(cpu)).toBe(true);
        place(t, `ready on CPU ${cpu}`);
      }
      count += list.length;
    }
    expect(prcb.readyCount).toBe(count);
    // KiIdleSummary: the CPU runs its idle thread and has no NextThread
    expect(db.scheduler.idleSummary[cpu], `CPU ${cpu} idle summary`).toBe(current.isIdle && next === null);
    if (db.lockedBy !== cpu) expect(prcb.deferredReady).toEqual([]);
    // §4.5: no CPU runs a thread of lower priority than a ready thread targeted at it
    const runs = next ?? current;
    const highest = db.scheduler.highestReadyPriority(prcb);
    if (runs.isIdle) expect(highest, `idle CPU ${cpu} with ready threads`).toBe(-1);
    else expect(highest, `CPU ${cpu} runs ${runs.name} below a ready thread`).toBeLessThanOrEqual(runs.priority);
  }
  for (const thread of db.threads) {
    if (thread.isIdle) continue;
    if (thread.state === ThreadState.Waiting) {
      // an object wait has wait blocks; a delay or a page-in waits on the thread's timer alone
      expect(thread.waitBlocks.length > 0 || thread.timer.inserted, `${thread.name} waits on nothing`).toBe(true);
      for (const block of thread.waitBlocks) expect(block.object.waitList).toContain(block);
    } else {
      expect(thread.waitBlocks).toEqual([]);
      // Thread->Timer is inserted only while its wait is pending
      expect(thread.timer.inserted, `${thread.name} is ${thread.state} with its wait timer inserted`).toBe(false);
    }
    if (thread.state === ThreadState.Running || thread.state === ThreadState.Standby || thread.state === ThreadState.Ready) {
      expect(seen.has(thread), `${thread.name} is ${thread.state} but nowhere`).toBe(true);
    }
  }
  for (const object of db.objects) {
    if (!object) continue;
    for (const block of object.waitList) expect((block.thread as KThread).state, `${block.thread.name} waits on ${object.name}`).toBe(ThreadState.Waiting);
  }
  // §3.4: each inserted timer sits in the bucket its due time hashes to; buckets ascend by due time
  const table = db.timerTable;
  let inserted = 0;
  for (let hand = 0; hand < TIMER_TABLE_SIZE; hand++) {
    const bucket = table.buckets[hand]!;
    for (let i = 0; i < bucket.length; i++) {
      const timer = bucket[i]!;
      expect(timer.inserted, `${timer.name} in bucket ${hand}`).toBe(true);
      expect(timer.hand).toBe(hand);
      expect(table.handOf(timer.dueTime)).toBe(hand);
      if (i > 0) expect(bucket[i - 1]!.dueTime).toBeLessThanOrEqual(timer.dueTime);
    }
    inserted += bucket.length;
  }
  expect(table.size).toBe(inserted);
  for (const object of db.objects) if (object instanceof KTimer && !object.inserted) expect(table.all()).not.toContain(object);
}
