/**
 * A small ExecHost for the instruction-set tests: records every fault, kernel call, native call
 * and trace event, and lets a test choose kernel-call outcomes and checkAccess answers. Faults
 * throw HostFault by default, as the real CPU does (it turns them into bugchecks).
 */

import { ContextField } from '../../src/shm/layout.js';
import {
  Interpreter,
  KCALL_DONE,
  STEP_OK,
  enterRoutine,
  link,
  type ExecHost,
  type LinkedProgram,
  type RoutineSource,
  type SymKind,
} from '../../src/isa/index.js';

export class HostFault extends Error {
  readonly kind: string;
  readonly pc: number;
  constructor(kind: string, pc: number, detail = '') {
    super(`${kind} at pc ${pc}${detail}`);
    this.kind = kind;
    this.pc = pc;
  }
}

export interface CallRecord {
  readonly id: number;
  readonly args: number[];
  readonly pc: number;
}

export class FakeHost implements ExecHost {
  readonly pageFlags: Uint8Array;
  /** when false, fault hooks record and return instead of throwing */
  throwOnFault = true;
  readonly faults: Array<{ kind: string; address: number; access: number; pc: number }> = [];
  readonly checks: Array<{ address: number; access: number; pc: number }> = [];
  readonly kcalls: CallRecord[] = [];
  readonly natives: CallRecord[] = [];
  readonly traces: Array<{ tag: number; value: number; pc: number }> = [];
  /** answers checkAccess, one per call; CHECK_PROCEED once empty */
  readonly checkAnswers: number[] = [];
  /** decides a kernel call's outcome; may write r0 */
  onKernelCall: (id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number) => number = () => KCALL_DONE;
  onNativeCall: (id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number) => number = () => KCALL_DONE;
  routineEntries: number[] = [];

  constructor(pages: number) {
    this.pageFlags = new Uint8Array(pages);
  }

  memoryFault(address: number, access: number, pc: number): void {
    this.fault('memory fault', address, access, pc);
  }
  checkAccess(address: number, access: number, pc: number): number {
    this.checks.push({ address, access, pc });
    return this.checkAnswers.shift() ?? 0;
  }
  arithmeticFault(pc: number): void {
    this.fault('arithmetic fault', 0, 0, pc);
  }
  stackOverflow(pc: number): void {
    this.fault('stack overflow', 0, 0, pc);
  }
  kernelCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number {
    this.kcalls.push({ id, args: Array.from(args.subarray(0, argCount)), pc: ctx[base + ContextField.PC]! });
    return this.onKernelCall(id, args, argCount, ctx, base);
  }
  nativeCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number {
    this.natives.push({ id, args: Array.from(args.subarray(0, argCount)), pc: ctx[base + ContextField.PC]! });
    return this.onNativeCall(id, args, argCount, ctx, base);
  }
  trace(tag: number, value: number, pc: number): void {
    this.traces.push({ tag, value, pc });
  }
  routineEntry(routineId: number): number {
    return this.routineEntries[routineId] ?? -1;
  }

  private fault(kind: string, address: number, access: number, pc: number): void {
    this.faults.push({ kind, address, access, pc });
    if (this.throwOnFault) throw new HostFault(kind, pc, ` (address ${address}, access ${access})`);
  }
}

/** 64 KiB of memory: variables from 0x100, the stack from 0x8000 down to 0x7000. */
export const MEMORY_BYTES = 0x10000;
export const STACK_TOP = 0x8000;
export const STACK_LIMIT = 0x7000;
export const BASE = ContextField.WORDS; // the context sits at a non-zero base, as frames do

export interface Rig {
  readonly program: LinkedProgram;
  readonly host: FakeHost;
  readonly interp: Interpreter;
  readonly memory: Int32Array;
  readonly ctx: Int32Array;
  /** register n of the context */
  reg(n: number): number;
  pc(): number;
  sp(): number;
  /** memory word at a byte address */
  word(address: number): number;
  /** steps until a status other than STEP_OK (or maxSteps); returns that status */
  run(maxSteps?: number): number;
  /** enters a routine by name with arguments, as the CPU does for a new frame */
  enter(name: string, args?: number[]): void;
}

/** Symbols tests may use: variables at fixed addresses, small ids for everything else. */
export const SYMBOLS: Partial<Record<SymKind, Record<string, number>>> = {
  var: { Counter: 0x100, Lock: 0x104, Flag: 0x108, Table: 0x200, Paged: 0x3000 },
  lock: { Spin: 0x120 },
  dpc: { Warm: 3, Cold: 4 },
  native: { Mix: 7 },
  event: { Done: 2 },
};

export function rig(routines: RoutineSource[], options: { memory?: Int32Array } = {}): Rig {
  const program = link(routines, (kind, name) => SYMBOLS[kind]?.[name]);
  const memory = options.memory ?? new Int32Array(MEMORY_BYTES / 4);
  const host = new FakeHost(Math.ceil((memory.length * 4) / 4096));
  host.routineEntries = program.routines.map((r) => r.entry);
  const interp = new Interpreter(program.code, memory, host);
  const ctx = new Int32Array(ContextField.WORDS * 2);
  const first = routines[0];
  const result: Rig = {
    program,
    host,
    interp,
    memory,
    ctx,
    reg: (n) => ctx[BASE + ContextField.R0 + n]!,
    pc: () => ctx[BASE + ContextField.PC]!,
    sp: () => ctx[BASE + ContextField.SP]!,
    word: (address) => memory[address >> 2]!,
    run(maxSteps = 1_000_000) {
      for (let i = 0; i < maxSteps; i++) {
        const status = interp.step(ctx, BASE);
        if (status !== STEP_OK) return status;
      }
      return STEP_OK;
    },
    enter(name, args = []) {
      const index = program.routineByName(name);
      if (index === undefined) throw new Error(`no routine ${name}`);
      enterRoutine(ctx, BASE, program.routines[index]!.entry, index, STACK_TOP, STACK_LIMIT, args, memory);
    },
  };
  if (first !== undefined) result.enter(first.name);
  return result;
}
