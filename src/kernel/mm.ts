/**
 * Memory management as the CPU sees it (nt-semantics.md §1.5): pageable memory and MmAccessFault
 * (a non-resident page below DISPATCH_LEVEL in a thread waits for the disk; at or above
 * DISPATCH_LEVEL it is 0xD1), references to unmapped memory (page 0, outside emulated memory:
 * 0x50, or 0xD1/0xA at raised IRQL), and the accesses kernel calls make for their caller (a
 * LARGE_INTEGER, a wait's object array, a spin lock). Runs on the CPU that made the access.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelGenerator } from './cpu.js';
import { dispatcherCall } from './dispatcher-call.js';
import { DISPATCH_LEVEL, irqlName, setIrql } from './irql.js';
import { TraceEvent } from './trace-events.js';
import { ACCESS_EXECUTE, CHECK_PROCEED, CHECK_RETRY, PAGE_FLAG_NO_ACCESS, PAGE_SHIFT } from '../isa/interpreter.js';
import { joinTime, timeHi, timeLo } from '../ipc/messages.js';
import { ReplyFlag } from '../ipc/dispatcher-ops.js';

export function accessName(access: number): string {
  return access === 1 ? 'write' : access === ACCESS_EXECUTE ? 'execute' : 'read';
}

/** Inside emulated memory and not on an unmapped page (page 0). */
export function isMapped(cpu: Cpu, address: number): boolean {
  return address >>> 2 < cpu.memory.length && cpu.pageFlags[address >>> PAGE_SHIFT] !== PAGE_FLAG_NO_ACCESS;
}

/**
 * A reference to an unmapped address (page 0, or outside emulated memory) as NT reports it:
 * below DISPATCH_LEVEL the page fault finds no page, 0x50 PAGE_FAULT_IN_NONPAGED_AREA (address,
 * access, instruction); at DISPATCH_LEVEL or above a page fault is not even allowed, so it is
 * 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL when the faulting code is the driver's (a scenario
 * instruction) and 0xA IRQL_NOT_LESS_OR_EQUAL when it is a kernel routine touching memory for its
 * caller (NT picks 0xD1 only when the faulting address of code is in a driver; §1.5 and the table
 * of bugchecks). The instruction parameter (P3 of 0x50, P4 of 0xD1 and 0xA) is the scenario's
 * instruction: for a kernel routine, the KCALL that called it.
 */
export function invalidAccess(cpu: Cpu, address: number, access: number, pc: number, kernelRoutine: string | null): BugCheck {
  const irql = cpu.prcb.irql;
  const where =
    access === ACCESS_EXECUTE
      ? `0x${(address >>> 0).toString(16)}, which is not code (an invalid opcode, a jump outside the program, or a call to an unknown routine id)`
      : address >>> 0 < 4096
        ? `address 0x${(address >>> 0).toString(16)} on page 0, which is never mapped (a NULL pointer dereference)`
        : `address 0x${(address >>> 0).toString(16)}, which is outside emulated memory (0x0–0x${(cpu.memory.length * 4 - 1).toString(16)})`;
  const who = kernelRoutine === null ? cpu.describeRunning() : `${kernelRoutine}, called by ${cpu.describeRunning()},`;
  const did = `${who} ${access === ACCESS_EXECUTE ? 'executed' : access === 1 ? 'wrote' : 'read'} ${where}`;
  if (irql < DISPATCH_LEVEL) {
    return new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, pc, 0).withDetail(`${did}: no page is mapped there`);
  }
  const code = kernelRoutine === null ? BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL : BUGCHECK.IRQL_NOT_LESS_OR_EQUAL;
  return new BugCheck(code, address, irql, access, pc).withDetail(
    `${did}, at ${irqlName(cpu.config.arch, irql)}: no page is mapped there, and at DISPATCH_LEVEL or above a page fault cannot even be handled`,
  );
}

/** A misaligned or out-of-range access by an instruction, or an execute fault (the interpreter's memoryFault). */
export function memoryFault(cpu: Cpu, address: number, access: number, pc: number): never {
  if (access === ACCESS_EXECUTE || !isMapped(cpu, address)) throw invalidAccess(cpu, address, access, pc, null);
  throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, pc, 0).withDetail(
    `${cpu.describeRunning()} made a misaligned ${accessName(access)} of ${cpu.names.address(address)}: memory is word-sized and aligned`,
  );
}

function pagedAtRaisedIrql(cpu: Cpu, address: number, access: number, pc: number): BugCheck {
  const irql = cpu.prcb.irql;
  const what = access === 1 ? 'write' : access === 8 ? 'execute' : 'read';
  return new BugCheck(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, address, irql, access, pc).withDetail(
    `${cpu.describeRunning()} touched pageable memory ${cpu.names.address(address)} (${what}) that is not resident, at ${irqlName(cpu.config.arch, irql)}: a page fault needs a wait for the disk, which is impossible at DISPATCH_LEVEL or above`,
  );
}

/**
 * An access to a pageable page (§1.5): resident, it proceeds. Not resident at DISPATCH_LEVEL or
 * above: 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL (nothing can wait for the disk there). Below it, in a
 * thread: a page fault; MmAccessFault's frame waits for the page-in and the instruction runs again
 * (CHECK_RETRY).
 */
export function checkAccess(cpu: Cpu, address: number, access: number, pc: number): number {
  const prcb = cpu.prcb;
  const page = address >>> PAGE_SHIFT;
  if (cpu.pageFlags[page] === PAGE_FLAG_NO_ACCESS) throw invalidAccess(cpu, address, access, pc, null);
  if (Atomics.load(cpu.i32, cpu.layout.pageState(page)) === 0) return CHECK_PROCEED;
  if (prcb.irql >= DISPATCH_LEVEL || prcb.currentThread === prcb.idleThread || cpu.frameRole(cpu.frameCount() - 1) !== 'thread') {
    throw pagedAtRaisedIrql(cpu, address, access, pc);
  }
  cpu.record(TraceEvent.PAGE_FAULT, address, access, pc);
  cpu.pushKernel('MmAccessFault', 'kernel', pageFault(cpu, page), false);
  return CHECK_RETRY;
}

/** MmAccessFault: the thread waits for the page-in (the dispatcher's disk), then retries the instruction. */
function* pageFault(cpu: Cpu, page: number): KernelGenerator {
  const oldIrql = cpu.prcb.irql;
  const reply = yield* dispatcherCall(cpu, { op: 'MmAccessFault', page }, oldIrql);
  setIrql(cpu, reply.flags & ReplyFlag.SWITCH ? reply.nextWaitIrql : oldIrql);
}

/**
 * A kernel call touching emulated memory on the caller's behalf (a wait's object array, a
 * LARGE_INTEGER, a spin lock): an invalid address is 0x50, a non-resident pageable page 0xD1
 * (kernel calls run at raised IRQL or cannot wait for a page-in midway).
 */
export function touch(cpu: Cpu, address: number, access: number): void {
  if (!isMapped(cpu, address)) throw invalidAccess(cpu, address, access, cpu.currentPc(), cpu.kernelRoutineName());
  if ((address & 3) !== 0) throw new BugCheck(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, address, access, cpu.currentPc(), 0);
  const page = address >>> PAGE_SHIFT;
  if (cpu.pageFlags[page] && Atomics.load(cpu.i32, cpu.layout.pageState(page)) !== 0) throw pagedAtRaisedIrql(cpu, address, access, cpu.currentPc());
}

export function readWord(cpu: Cpu, address: number): number {
  touch(cpu, address, 0);
  return cpu.memory[address >>> 2]!;
}

/** A LARGE_INTEGER in emulated memory (two words, low first). */
export function readLargeInteger(cpu: Cpu, address: number): number {
  return joinTime(readWord(cpu, address), readWord(cpu, address + 4));
}

export function writeLargeInteger(cpu: Cpu, address: number, value: number): void {
  touch(cpu, address, 1);
  touch(cpu, address + 4, 1);
  cpu.memory[address >>> 2] = timeLo(value);
  cpu.memory[(address >>> 2) + 1] = timeHi(value);
}
