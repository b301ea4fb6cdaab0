/**
 * KINTERRUPT (nt-semantics.md §1.4, §6.3, §9): the delivery order at an instruction boundary
 * (hardware interrupts by level, then the DISPATCH software interrupt, then the APC one), KiInterruptDispatch and
 * KiChainedDispatch (each connected ISR at its SynchronizeIrql under the interrupt's ActualLock;
 * a latched chain is re-run until no ISR claims it), the storm rule (a level-triggered line that
 * nobody claims fires again; interruptStormThreshold times in a row is 0xF2), HalEndSystemInterrupt
 * and KeSynchronizeExecution. Runs on the CPU that took the interrupt.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import { clockInterrupt } from './clock.js';
import type { Cpu, KInterruptConfig, KernelCallHandler, KernelGenerator } from './cpu.js';
import { RETURNED, SIGNAL_CALL, SIGNAL_SPIN, YIELD_CALL, YIELD_SPIN } from './cpu.js';
import { dispatchInterrupt } from './dpc.js';
import { ipiInterrupt } from './ipi.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName, setIrql, taskPriorityOnArrival } from './irql.js';
import { apcInterrupt } from './apc-call.js';
import { returnToUserMode } from './service-call.js';
import { STATUS, UserMode } from './status.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE } from '../isa/interpreter.js';
import { ContextField, CounterField, DeviceCounterField } from '../shm/layout.js';

/** Float64 index of this CPU's counters for device `device` (DeviceCounterField), or −1 when it is not a device. */
export function deviceCounters(cpu: Cpu, device: number): number {
  return device >= 0 && device < (cpu.layout.params.devices ?? 0) ? cpu.layout.deviceCounters(cpu.prcb.number, device) : -1;
}

/** The IOAPIC delivered a device interrupt (an IRQ_ASSERT message): it waits in the local APIC. */
export function interruptArrived(cpu: Cpu, vector: number, timeNs: number, device: number): void {
  cpu.apic.post(vector, timeNs, device);
  taskPriorityOnArrival(cpu, vector);
  const counters = deviceCounters(cpu, device);
  if (counters >= 0) {
    cpu.f64[counters + DeviceCounterField.RECEIVED] += 1;
    cpu.f64[counters + DeviceCounterField.PENDING] += 1;
  }
}

/** Whether an interrupt would be taken at the next boundary. */
export function hasDeliverable(cpu: Cpu): boolean {
  const prcb = cpu.prcb;
  if (cpu.apic.highestPendingIrql() > prcb.irql) return true;
  if ((prcb.softPending & (1 << DISPATCH_LEVEL)) !== 0 && prcb.irql < DISPATCH_LEVEL) return true;
  return (prcb.softPending & (1 << APC_LEVEL)) !== 0 && prcb.irql === PASSIVE_LEVEL && prcb.currentThread !== prcb.idleThread;
}

/** Take the highest deliverable interrupt, if any, by pushing its kernel frame: hardware first by level, then DISPATCH. */
export function dispatchPendingInterrupt(cpu: Cpu): boolean {
  const prcb = cpu.prcb;
  const apic = cpu.apic;
  const hw = apic.highestPendingIrql();
  if (hw > prcb.irql) {
    const vector = apic.accept(hw);
    takeHardwareInterrupt(cpu, vector, hw, apic.acceptedAssertNs, apic.acceptedSource);
    return true;
  }
  if ((prcb.softPending & (1 << DISPATCH_LEVEL)) !== 0 && prcb.irql < DISPATCH_LEVEL) {
    prcb.softPending &= ~(1 << DISPATCH_LEVEL);
    const oldIrql = prcb.irql;
    setIrql(cpu, DISPATCH_LEVEL);
    cpu.pushKernel('KiDispatchInterrupt', 'dispatch', dispatchInterrupt(cpu, oldIrql), false, oldIrql);
    return true;
  }
  // the APC software interrupt last (§1.4): KiDeliverApc for the thread running here; the idle thread has no APCs
  if ((prcb.softPending & (1 << APC_LEVEL)) !== 0 && prcb.irql === PASSIVE_LEVEL && prcb.currentThread !== prcb.idleThread) {
    prcb.softPending &= ~(1 << APC_LEVEL);
    apcInterrupt(cpu);
    return true;
  }
  // below them all, the return from the kernel to a user-mode frame: the system-service exit, then one user APC (§5.7)
  if (prcb.userReturnPending && cpu.callerMode() === UserMode) return returnToUserMode(cpu);
  return false;
}

/**
 * Accepting an interrupt raises the IRQL at once (the APIC raises its priority on acceptance), so
 * the next boundary already masks everything at or below it; the frame's generator restores
 * `oldIrql` when it ends.
 */
function takeHardwareInterrupt(cpu: Cpu, vector: number, level: number, assertedNs: number, device: number): void {
  const table = cpu.table;
  cpu.f64[cpu.counters + CounterField.BY_VECTOR + vector] += 1;
  const oldIrql = cpu.prcb.irql;
  setIrql(cpu, level);
  if (vector === table.clockVector || vector === table.clockIpiVector) {
    cpu.pushKernel('KeUpdateRunTime', 'clock', clockInterrupt(cpu, vector, oldIrql), true, oldIrql);
  } else if (vector === table.ipiVector) {
    cpu.pushKernel('KiIpiServiceRoutine', 'ipi', ipiInterrupt(cpu, oldIrql), true, oldIrql);
  } else {
    cpu.f64[cpu.counters + CounterField.INTERRUPTS] += 1;
    const counters = deviceCounters(cpu, device);
    if (counters >= 0) {
      cpu.f64[counters + DeviceCounterField.TAKEN] += 1;
      cpu.f64[counters + DeviceCounterField.PENDING] -= 1;
    }
    cpu.pushKernel(interruptDispatchName(vector), 'isr', new KiInterruptDispatch(cpu, vector, level, assertedNs, oldIrql, device), true, oldIrql);
  }
}

/** The interrupt frame's name per vector, made once: a template string per interrupt was a measurable share of the path. */
const DISPATCH_NAMES: string[] = [];
function interruptDispatchName(vector: number): string {
  return (DISPATCH_NAMES[vector] ??= `KiInterruptDispatch(0x${vector.toString(16)})`);
}

/** HalEndSystemInterrupt: EOI, then lower to the interrupted level (deliveries follow at the next boundary). */
export function endInterrupt(cpu: Cpu, oldIrql: number): void {
  cpu.apic.eoi();
  setIrql(cpu, oldIrql);
}

/** where KiInterruptDispatch resumes */
const AT_START = 0;
const SPINNING_FOR_LOCK = 1;
const ISR_CALLED = 2;
const ENDED = 3;

/**
 * KiInterruptDispatch / KiChainedDispatch (§9.3): each connected ISR at its SynchronizeIrql under
 * its interrupt's lock; a latched chain runs again (up to 64 passes) until no ISR claims it; an
 * unclaimed level-triggered line fires again (the storm rule). A kernel frame like the others,
 * written as a state machine rather than a generator: it runs for every device interrupt, and a
 * generator per interrupt (its object, a result object per step, a frame per resume) was a
 * measurable share of that path. The steps and their order are exactly the generator's.
 */
class KiInterruptDispatch implements KernelGenerator {
  private state = AT_START;
  private chain: readonly KInterruptConfig[] = [];
  private latched = false;
  private pass = 0;
  private index = 0;
  private claimed = false;
  private claimedThisPass = false;
  /** the IRQL before the current ISR's SynchronizeIrql */
  private before = 0;
  readonly [Symbol.toStringTag] = 'KiInterruptDispatch';

  private readonly cpu: Cpu;
  private readonly vector: number;
  private readonly level: number;
  private readonly assertedNs: number;
  private readonly oldIrql: number;
  private readonly device: number;
  constructor(cpu: Cpu, vector: number, level: number, assertedNs: number, oldIrql: number, device: number) {
    this.cpu = cpu;
    this.vector = vector;
    this.level = level;
    this.assertedNs = assertedNs;
    this.oldIrql = oldIrql;
    this.device = device;
  }

  next(...args: [] | [number]): IteratorResult<number, void> {
    switch (this.state) {
      case AT_START:
        return this.start();
      case SPINNING_FOR_LOCK: {
        const intr = this.chain[this.index]!;
        const owner = tryInterruptLock(this.cpu, intr);
        return owner === 0 ? this.callIsr(intr) : this.spinFor(intr, owner);
      }
      case ISR_CALLED:
        return this.isrReturned(args[0] ?? 0);
      default:
        return RETURNED;
    }
  }

  return(): IteratorResult<number, void> {
    this.state = ENDED;
    return RETURNED;
  }

  throw(error: unknown): IteratorResult<number, void> {
    this.state = ENDED;
    throw error;
  }

  [Symbol.iterator](): this {
    return this;
  }

  private start(): IteratorResult<number, void> {
    const cpu = this.cpu;
    const now = cpu.now();
    cpu.sampleLatency(0, now - this.assertedNs);
    cpu.record(TraceEvent.ISR_ENTER, this.vector, 0, 0);
    this.chain = cpu.prcb.interruptChains[this.vector]!;
    if (this.chain.length === 0) return this.end();
    this.latched = this.chain[0]!.mode === 1;
    return this.enterIsr();
  }

  /** The ISR at `index`: raise to its SynchronizeIrql, take its interrupt's lock, call it. */
  private enterIsr(): IteratorResult<number, void> {
    const cpu = this.cpu;
    const intr = this.chain[this.index]!;
    this.before = cpu.prcb.irql;
    if (intr.synchronizeIrql > cpu.prcb.irql) setIrql(cpu, intr.synchronizeIrql);
    const owner = tryInterruptLock(cpu, intr);
    return owner === 0 ? this.callIsr(intr) : this.spinFor(intr, owner);
  }

  /** The lock is held by `owner` (CPU number + 1): spin one turn (never on a lock this CPU holds, see spinForInterruptLock). */
  private spinFor(intr: KInterruptConfig, owner: number): IteratorResult<number, void> {
    if (owner === this.cpu.prcb.number + 1) throw alreadyOwned(this.cpu, intr);
    this.state = SPINNING_FOR_LOCK;
    return YIELD_SPIN;
  }

  private callIsr(intr: KInterruptConfig): IteratorResult<number, void> {
    this.cpu.pushCall('isr', intr.routine, intr.id, intr.context);
    this.state = ISR_CALLED;
    return YIELD_CALL;
  }

  private isrReturned(result: number): IteratorResult<number, void> {
    const cpu = this.cpu;
    const prcb = cpu.prcb;
    const intr = this.chain[this.index]!;
    if (prcb.irql !== intr.synchronizeIrql && prcb.irql !== this.level) {
      throw new BugCheck(BUGCHECK.IRQL_UNEXPECTED_VALUE, (prcb.irql << 16) | (intr.synchronizeIrql << 8), intr.routine, intr.id, 0).withDetail(
        `ISR ${cpu.names.routine(intr.routine)} of ${intr.name} returned at ${irqlName(cpu.config.arch, prcb.irql)} instead of ${irqlName(cpu.config.arch, intr.synchronizeIrql)}`,
      );
    }
    releaseInterruptLock(cpu, intr);
    setIrql(cpu, this.before);
    let passOver = false;
    if (result !== 0) {
      this.claimedThisPass = true;
      this.claimed = true;
      if (!this.latched) passOver = true;
    }
    if (!passOver && ++this.index < this.chain.length) return this.enterIsr();
    // a latched chain runs again while an ISR claimed it (64 passes at most)
    if (!this.latched || !this.claimedThisPass || ++this.pass >= 64) return this.end();
    this.index = 0;
    this.claimedThisPass = false;
    return this.enterIsr();
  }

  private end(): IteratorResult<number, void> {
    const cpu = this.cpu;
    const prcb = cpu.prcb;
    const vector = this.vector;
    const chain = this.chain;
    this.state = ENDED;
    cpu.record(TraceEvent.ISR_EXIT, vector, this.claimed ? 1 : 0, 0);
    if (!this.claimed) {
      cpu.f64[cpu.counters + CounterField.UNCLAIMED_INTERRUPTS] += 1;
      const levelTriggered = chain.length === 0 || chain[0]!.mode === 0;
      if (levelTriggered) {
        // nobody quiesced the device: a level-triggered line is still asserted and fires again
        prcb.unclaimedInARow++;
        if (prcb.unclaimedInARow >= cpu.config.interruptStormThreshold) {
          throw new BugCheck(BUGCHECK.HARDWARE_INTERRUPT_STORM, vector, chain[0]?.routine ?? 0, 0, 0).withDetail(
            `vector 0x${vector.toString(16)} fired ${prcb.unclaimedInARow} times in a row with no ISR claiming it${chain.length ? ` (chain: ${chain.map((c) => cpu.names.routine(c.routine)).join(', ')})` : ' (no interrupt object connected)'}`,
          );
        }
        cpu.apic.post(vector, cpu.now(), this.device);
        taskPriorityOnArrival(cpu, vector);
        const counters = deviceCounters(cpu, this.device);
        if (counters >= 0) {
          cpu.f64[counters + DeviceCounterField.REASSERTED] += 1;
          cpu.f64[counters + DeviceCounterField.PENDING] += 1;
        }
      }
    } else {
      prcb.unclaimedInARow = 0;
    }
    endInterrupt(cpu, this.oldIrql);
    return RETURNED;
  }
}

/**
 * Take a KINTERRUPT's ActualLock (§6.3): spin at SynchronizeIrql, still taking interrupts above it.
 * Finding it held by this very CPU can never end (the holder is below us on this CPU's stack):
 * SPIN_LOCK_ALREADY_OWNED, as a checked build reports.
 */
function* acquireInterruptLock(cpu: Cpu, intr: KInterruptConfig): KernelGenerator {
  const owner = tryInterruptLock(cpu, intr);
  if (owner !== 0) yield* spinForInterruptLock(cpu, intr, owner);
}

/** One try at a KINTERRUPT's ActualLock: 0 when taken, else the owner seen (CPU number + 1). */
function tryInterruptLock(cpu: Cpu, intr: KInterruptConfig): number {
  return Atomics.compareExchange(cpu.i32, cpu.layout.interruptLock(intr.lock), 0, cpu.prcb.number + 1);
}

/** The lock was found held by `owner`: spin until it is taken, as acquireInterruptLock says. */
function* spinForInterruptLock(cpu: Cpu, intr: KInterruptConfig, owner: number): KernelGenerator {
  const word = cpu.layout.interruptLock(intr.lock);
  const self = cpu.prcb.number;
  for (;;) {
    if (owner === self + 1) throw alreadyOwned(cpu, intr);
    yield SIGNAL_SPIN;
    owner = Atomics.compareExchange(cpu.i32, word, 0, self + 1);
    if (owner === 0) return;
  }
}

function alreadyOwned(cpu: Cpu, intr: KInterruptConfig): BugCheck {
  const self = cpu.prcb.number;
  return new BugCheck(BUGCHECK.SPIN_LOCK_ALREADY_OWNED, cpu.layout.interruptLock(intr.lock) * 4, self, intr.id, 0).withDetail(
    `the interrupt spin lock of ${intr.name} is already held by this CPU (CPU ${self}): a SynchronizeIrql below another sharer's DIRQL?`,
  );
}

function releaseInterruptLock(cpu: Cpu, intr: KInterruptConfig): void {
  Atomics.store(cpu.i32, cpu.layout.interruptLock(intr.lock), 0);
}

/** KeSynchronizeExecution: run `routine(context)` at the interrupt's SynchronizeIrql under its lock. */
function* synchronizeExecution(cpu: Cpu, interrupt: number, routine: number, context: number, callerCtx: Int32Array, callerBase: number): KernelGenerator {
  const intr = cpu.config.interrupts.find((candidate) => candidate.id === interrupt);
  if (!intr) throw new BugCheck(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.INVALID_HANDLE, cpu.currentPc(), interrupt, 0);
  const oldIrql = cpu.prcb.irql;
  if (intr.synchronizeIrql < oldIrql) throw new BugCheck(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL, oldIrql, intr.synchronizeIrql, 0, cpu.currentPc());
  setIrql(cpu, intr.synchronizeIrql);
  yield* acquireInterruptLock(cpu, intr);
  cpu.pushCall('routine', routine, context);
  const result = yield SIGNAL_CALL;
  releaseInterruptLock(cpu, intr);
  setIrql(cpu, oldIrql);
  callerCtx[callerBase + ContextField.R0] = result;
}

export const interruptCalls = {
  KeSynchronizeExecution: (cpu, args, ctx, base) => {
    cpu.pushKernel('KeSynchronizeExecution', 'sync', synchronizeExecution(cpu, args[0]!, args[1]!, args[2]!, ctx, base), false);
    return KCALL_DONE;
  },
} satisfies Record<string, KernelCallHandler>;
