/**
 * KSPIN_LOCK and KSPIN_LOCK_QUEUE (nt-semantics.md §6): the encodings the emulator stores in
 * emulated memory. A spin lock is a word anywhere in nonpaged memory that CPUs take with atomic
 * operations on the shared buffer, so contention is real. Like a ReactOS debug build, a held lock
 * records its owner: the word is (owner thread id << 8) | (owner CPU << 1) | 1, which is what lets
 * the CPU report a recursive acquire (0xF SPIN_LOCK_ALREADY_OWNED) and a release by a non-owner
 * (0x10 SPIN_LOCK_NOT_OWNED). A queued (in-stack) lock's word points at the tail waiter's
 * KLOCK_QUEUE_HANDLE instead; waiters spin on their own handle.
 *
 * The acquire/release algorithms (KeAcquireSpinLock and its relatives, the in-stack queued locks)
 * run on the acquiring CPU: a spin is a kernel frame that keeps taking interrupts above its IRQL.
 * Each CPU keeps owner records of the locks it holds (Prcb.heldLocks), and a spin that lasts
 * spinTimeoutTicks clock ticks ends in the deadlock detector's report (spinDeadlock).
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { RETURNED, SIGNAL_SPIN, YIELD_SPIN } from './cpu.js';
import { DISPATCH_LEVEL, irqlName, lowerIrql, setIrql } from './irql.js';
import { invalidAccess, isMapped, touch } from './mm.js';
import { TraceEvent } from './trace-events.js';
import { checkNotWaitNext } from './wait-gate.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { ContextField } from '../shm/layout.js';

/** The word of a plain spin lock held by `threadId` on `cpu`. */
export function spinLockWord(cpu: number, threadId: number): number {
  return (threadId << 8) | (cpu << 1) | 1 | 0;
}

export function spinLockHolderCpu(word: number): number {
  return (word >>> 1) & 0x7f;
}

export function spinLockHolderThread(word: number): number {
  return word >>> 8;
}

/** KLOCK_QUEUE_HANDLE: 3 words in emulated memory (typically on the caller's stack). */
export const QueuedLockField = {
  /** KSPIN_LOCK_QUEUE.Next: the next waiter's handle address, 0 when none has linked in yet */
  NEXT: 0,
  /** KSPIN_LOCK_QUEUE.Lock: the lock's address with LOCK_QUEUE_WAIT / LOCK_QUEUE_OWNER in its low bits */
  LOCK: 1,
  OLD_IRQL: 2,
  WORDS: 3,
} as const;

export const LOCK_QUEUE_WAIT = 1;
export const LOCK_QUEUE_OWNER = 2;

// ======================================================================================
// Executive spin locks
// ======================================================================================

/** The word index of a lock (or queue handle) address: a mapped, aligned, resident word, else the access's bugcheck. */
function lockIndex(cpu: Cpu, address: number): number {
  if (!isMapped(cpu, address)) throw invalidAccess(cpu, address, 1, cpu.currentPc(), cpu.kernelRoutineName());
  if ((address & 3) !== 0) {
    throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, 1, cpu.currentPc(), 0).withDetail(
      `spin lock address 0x${(address >>> 0).toString(16)} is not an aligned word of emulated memory`,
    );
  }
  touch(cpu, address, 1);
  return address >>> 2;
}

/**
 * KeAcquireSpinLock (raise: true, r0 = old IRQL) and KeAcquireSpinLockAtDpcLevel: test-and-set,
 * spinning on reads with interrupts above the IRQL still taken. Finding the lock held by the same
 * context of this CPU is 0xF; a spin that lasts spinTimeoutTicks clock ticks ends in the deadlock
 * report (a holder below the spinner on its own CPU can never release it).
 */
function acquireSpinLock(cpu: Cpu, name: string, address: number, raise: boolean, ctx: Int32Array, base: number): number {
  const prcb = cpu.prcb;
  checkNotWaitNext(cpu, name);
  const index = lockIndex(cpu, address);
  const oldIrql = prcb.irql;
  if (raise) {
    if (oldIrql > DISPATCH_LEVEL) {
      throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, oldIrql, DISPATCH_LEVEL, 0, cpu.currentPc()).withDetail(
        `${name} at ${irqlName(cpu.config.arch, oldIrql)}: it raises to DISPATCH_LEVEL, which is below the current IRQL`,
      );
    }
    setIrql(cpu, DISPATCH_LEVEL);
    ctx[base + ContextField.R0] = oldIrql;
  }
  const callerFrame = cpu.frameCount() - 1;
  const mine = spinLockWord(prcb.number, prcb.currentThread);
  const previous = Atomics.compareExchange(cpu.memory, index, 0, mine);
  if (previous === 0) {
    tookLock(cpu, address, callerFrame, oldIrql);
    return KCALL_DONE;
  }
  checkRecursiveAcquire(cpu, name, address, previous, callerFrame);
  cpu.pushKernel(name, 'kernel', new SpinOnLock(cpu, name, address, index, callerFrame, oldIrql), false);
  return KCALL_DONE;
}

function tookLock(cpu: Cpu, address: number, frame: number, irql: number): void {
  const holder = cpu.codeFrameAt(frame);
  cpu.prcb.heldLocks.take(
    address,
    frame,
    irql,
    cpu.prcb.currentThread,
    holder < 0 ? 'thread' : cpu.frameRole(holder)!,
    holder < 0 ? -1 : cpu.frameRoutine(holder),
  );
  cpu.record(TraceEvent.SPIN_LOCK, address, 1, 0);
}

function checkRecursiveAcquire(cpu: Cpu, name: string, address: number, word: number, callerFrame: number): void {
  const prcb = cpu.prcb;
  if (spinLockHolderCpu(word) !== prcb.number || (word & 1) === 0) return;
  const held = prcb.heldLocks.get(address);
  if (held && held.frame === callerFrame && held.thread === prcb.currentThread) {
    throw new BugCheck(BUGCHECK.SPIN_LOCK_ALREADY_OWNED, address, prcb.number, 0, 0).withDetail(
      `${name}: ${cpu.describeLockHolder(held)} already holds spin lock ${cpu.names.address(address)} (taken at ${irqlName(cpu.config.arch, held.irql)}); spinning on it could never end`,
    );
  }
}

/**
 * The spin of a contended acquire: reads the lock word each turn (interrupts above the IRQL are
 * taken between turns) until it is free and the exchange wins, or the deadlock detector's time
 * is up. A state machine, not a generator: a contended run spins tens of thousands of turns, and
 * a generator allocates a result object for each.
 */
class SpinOnLock implements KernelGenerator {
  private started = false;
  private ended = false;
  private startTick = 0;
  private mine = 0;
  readonly [Symbol.toStringTag] = 'SpinOnLock';
  private readonly cpu: Cpu;
  private readonly name: string;
  private readonly address: number;
  private readonly index: number;
  private readonly callerFrame: number;
  private readonly oldIrql: number;

  constructor(cpu: Cpu, name: string, address: number, index: number, callerFrame: number, oldIrql: number) {
    this.cpu = cpu;
    this.name = name;
    this.address = address;
    this.index = index;
    this.callerFrame = callerFrame;
    this.oldIrql = oldIrql;
  }

  next(): IteratorResult<number, void> {
    if (this.ended) return RETURNED;
    const cpu = this.cpu;
    if (!this.started) {
      // as a generator's body would, the spin starts at the first step, not when it is pushed
      this.started = true;
      this.startTick = cpu.prcb.ticksTaken;
      this.mine = spinLockWord(cpu.prcb.number, cpu.prcb.currentThread);
      cpu.record(TraceEvent.SPIN_LOCK, this.address, 2, 0);
    }
    const word = Atomics.load(cpu.memory, this.index);
    if (word === 0 && Atomics.compareExchange(cpu.memory, this.index, 0, this.mine) === 0) {
      this.ended = true;
      tookLock(cpu, this.address, this.callerFrame, this.oldIrql);
      return RETURNED;
    }
    const spun = cpu.prcb.ticksTaken - this.startTick;
    if (spun >= cpu.config.spinTimeoutTicks) {
      this.ended = true;
      throw spinDeadlock(cpu, this.name, this.address, word, this.callerFrame, spun);
    }
    return YIELD_SPIN;
  }

  return(): IteratorResult<number, void> {
    this.ended = true;
    return RETURNED;
  }

  throw(error: unknown): IteratorResult<number, void> {
    this.ended = true;
    throw error;
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** The deadlock detector's report: 0x133 as NT's DPC watchdog would end it, naming the lock, the holder and the spinner. */
function spinDeadlock(cpu: Cpu, name: string, address: number, word: number, callerFrame: number, ticks: number): BugCheck {
  const prcb = cpu.prcb;
  const arch = cpu.config.arch;
  const spinner = cpu.describeRunning(callerFrame);
  const inInterruptCode = cpu.frameRole(callerFrame) !== 'thread';
  let holder: string;
  let verdict: string;
  const held = prcb.heldLocks.get(address);
  if ((word & 1) === 1 && spinLockHolderCpu(word) === prcb.number && held) {
    holder = `${cpu.describeLockHolder(held)} on this same CPU ${prcb.number}, which took it at ${irqlName(arch, held.irql)}`;
    verdict =
      held.frame < callerFrame
        ? held.irql < DISPATCH_LEVEL
          ? `; it took the lock without raising to DISPATCH_LEVEL, so ${spinner} interrupted it while it held the lock and now spins above it: the holder cannot run again until the spinner returns, so this can never succeed`
          : '; the holder is below the spinner on this CPU and cannot run until the spinner returns: this can never succeed'
        : '';
  } else if ((word & 1) === 1) {
    holder = `thread ${cpu.names.thread(spinLockHolderThread(word))} on CPU ${spinLockHolderCpu(word)}`;
    verdict = '; probable deadlock';
  } else {
    holder = `a queued-lock waiter (the word holds handle address 0x${(word >>> 0).toString(16)})`;
    verdict = '; probable deadlock';
  }
  return new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, inInterruptCode ? 0 : 1, ticks, cpu.config.spinTimeoutTicks, address).withDetail(
    `spin-lock deadlock detector: ${spinner} on CPU ${prcb.number} has spun ${ticks} clock ticks in ${name} on spin lock ${cpu.names.address(address)} held by ${holder}${verdict}`,
  );
}

/** KeReleaseSpinLock (lower to newIrql) / KeReleaseSpinLockFromDpcLevel (lowerTo −1). */
function releaseSpinLock(cpu: Cpu, name: string, address: number, lowerTo: number): number {
  const self = cpu.prcb.number;
  checkNotWaitNext(cpu, name);
  const index = lockIndex(cpu, address);
  const word = Atomics.load(cpu.memory, index);
  if ((word & 1) === 0 || spinLockHolderCpu(word) !== self) {
    const owner = (word & 1) === 1 ? spinLockHolderCpu(word) : -1;
    throw new BugCheck(BUGCHECK.SPIN_LOCK_NOT_OWNED, address, owner, 0, 0).withDetail(
      `${name} on spin lock ${cpu.names.address(address)} by ${cpu.describeRunning()} on CPU ${self}, ${owner < 0 ? 'but it is not held' : `but CPU ${owner} holds it`}`,
    );
  }
  Atomics.store(cpu.memory, index, 0);
  cpu.prcb.heldLocks.delete(address);
  cpu.record(TraceEvent.SPIN_LOCK, address, 0, 0);
  if (lowerTo >= 0) lowerIrql(cpu, lowerTo, name);
  return KCALL_DONE;
}

// ======================================================================================
// In-stack queued spin locks
// ======================================================================================

/** KeAcquireInStackQueuedSpinLock(AtDpcLevel): join the queue at the tail, then spin on the handle's own WAIT bit. */
function acquireQueued(cpu: Cpu, name: string, address: number, handle: number, raise: boolean): number {
  checkNotWaitNext(cpu, name);
  const index = lockIndex(cpu, address);
  const h = lockIndex(cpu, handle);
  const oldIrql = cpu.prcb.irql;
  if (raise) {
    if (oldIrql > DISPATCH_LEVEL) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, oldIrql, DISPATCH_LEVEL, 0, cpu.currentPc());
    setIrql(cpu, DISPATCH_LEVEL);
  }
  const memory = cpu.memory;
  Atomics.store(memory, h + QueuedLockField.NEXT, 0);
  Atomics.store(memory, h + QueuedLockField.OLD_IRQL, oldIrql);
  Atomics.store(memory, h + QueuedLockField.LOCK, address | LOCK_QUEUE_WAIT);
  const previous = Atomics.exchange(memory, index, handle);
  if (previous === 0) {
    Atomics.store(memory, h + QueuedLockField.LOCK, address | LOCK_QUEUE_OWNER);
    cpu.record(TraceEvent.SPIN_LOCK, address, 1, 1);
    return KCALL_DONE;
  }
  Atomics.store(memory, lockIndex(cpu, previous) + QueuedLockField.NEXT, handle);
  cpu.pushKernel(name, 'kernel', spinOnQueuedHandle(cpu, name, address, h, cpu.frameCount() - 1), false);
  return KCALL_DONE;
}

function* spinOnQueuedHandle(cpu: Cpu, name: string, address: number, h: number, callerFrame: number): KernelGenerator {
  const prcb = cpu.prcb;
  const startTick = prcb.ticksTaken;
  cpu.record(TraceEvent.SPIN_LOCK, address, 2, 1);
  while ((Atomics.load(cpu.memory, h + QueuedLockField.LOCK) & LOCK_QUEUE_WAIT) !== 0) {
    if (prcb.ticksTaken - startTick >= cpu.config.spinTimeoutTicks) {
      throw spinDeadlock(cpu, name, address, Atomics.load(cpu.memory, address >>> 2), callerFrame, prcb.ticksTaken - startTick);
    }
    yield SIGNAL_SPIN;
  }
  cpu.record(TraceEvent.SPIN_LOCK, address, 1, 1);
}

/** KeReleaseInStackQueuedSpinLock(FromDpcLevel): hand the lock to the next waiter in arrival order. */
function releaseQueued(cpu: Cpu, name: string, handle: number, lower: boolean): number {
  checkNotWaitNext(cpu, name);
  const h = lockIndex(cpu, handle);
  const lockField = Atomics.load(cpu.memory, h + QueuedLockField.LOCK);
  const address = lockField & ~3;
  if ((lockField & LOCK_QUEUE_OWNER) === 0) {
    throw new BugCheck(BUGCHECK.SPIN_LOCK_NOT_OWNED, address, -1, handle, 0).withDetail(
      `${name} with a KLOCK_QUEUE_HANDLE at 0x${handle.toString(16)} that does not own its lock`,
    );
  }
  cpu.pushKernel(name, 'kernel', handOffQueuedLock(cpu, address, handle, h, lower), false);
  return KCALL_DONE;
}

function* handOffQueuedLock(cpu: Cpu, address: number, handle: number, h: number, lower: boolean): KernelGenerator {
  const memory = cpu.memory;
  const index = lockIndex(cpu, address);
  Atomics.store(memory, h + QueuedLockField.LOCK, address);
  if (Atomics.compareExchange(memory, index, handle, 0) !== handle) {
    // a waiter swapped itself in as the tail: wait until it has linked itself behind us, then pass the lock on
    while (Atomics.load(memory, h + QueuedLockField.NEXT) === 0) yield SIGNAL_SPIN;
    const next = lockIndex(cpu, Atomics.load(memory, h + QueuedLockField.NEXT));
    Atomics.store(memory, h + QueuedLockField.NEXT, 0);
    Atomics.store(memory, next + QueuedLockField.LOCK, address | LOCK_QUEUE_OWNER);
  }
  cpu.record(TraceEvent.SPIN_LOCK, address, 0, 1);
  if (lower) lowerIrql(cpu, Atomics.load(memory, h + QueuedLockField.OLD_IRQL), 'KeReleaseInStackQueuedSpinLock');
}

// ======================================================================================
// Kernel calls
// ======================================================================================

export const spinLockCalls = {
  KeAcquireSpinLock: (cpu, args, ctx, base) => acquireSpinLock(cpu, 'KeAcquireSpinLock', args[0]!, true, ctx, base),
  KeAcquireSpinLockAtDpcLevel: (cpu, args, ctx, base) => acquireSpinLock(cpu, 'KeAcquireSpinLockAtDpcLevel', args[0]!, false, ctx, base),
  KeReleaseSpinLock: (cpu, args) => releaseSpinLock(cpu, 'KeReleaseSpinLock', args[0]!, args[1]!),
  KeReleaseSpinLockFromDpcLevel: (cpu, args) => releaseSpinLock(cpu, 'KeReleaseSpinLockFromDpcLevel', args[0]!, -1),
  KeTryToAcquireSpinLockAtDpcLevel: (cpu, args, ctx, base) => {
    const prcb = cpu.prcb;
    const address = args[0]!;
    const taken = Atomics.compareExchange(cpu.memory, lockIndex(cpu, address), 0, spinLockWord(prcb.number, prcb.currentThread)) === 0;
    if (taken) tookLock(cpu, address, cpu.frameCount() - 1, prcb.irql);
    ctx[base + ContextField.R0] = taken ? 1 : 0;
    return KCALL_DONE;
  },
  KeAcquireInStackQueuedSpinLock: (cpu, args) => acquireQueued(cpu, 'KeAcquireInStackQueuedSpinLock', args[0]!, args[1]!, true),
  KeAcquireInStackQueuedSpinLockAtDpcLevel: (cpu, args) => acquireQueued(cpu, 'KeAcquireInStackQueuedSpinLockAtDpcLevel', args[0]!, args[1]!, false),
  KeReleaseInStackQueuedSpinLock: (cpu, args) => releaseQueued(cpu, 'KeReleaseInStackQueuedSpinLock', args[0]!, true),
  KeReleaseInStackQueuedSpinLockFromDpcLevel: (cpu, args) => releaseQueued(cpu, 'KeReleaseInStackQueuedSpinLockFromDpcLevel', args[0]!, false),
} satisfies Record<string, KernelCallHandler>;
