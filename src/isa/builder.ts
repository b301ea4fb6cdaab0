/**
 * The typed builder that scenarios use to write routines (thread bodies, ISRs, DPC/APC routines).
 * It only records instructions: every operand is already placed in its encoding slot, but names
 * (labels, other routines, DPCs, variables, …) stay symbolic until src/isa/link.ts resolves them.
 * Mistakes that need no other routine to detect (a kernel call with the wrong number of
 * arguments, a number where a register belongs, a duplicate label) throw BuildError right here.
 */

import { kernelCallByName, type KernelCallName } from './kcalls.js';
import { MAX_CALL_ARGS, Op, encodeCallWord0, encodeWord0, type Opcode } from './opcodes.js';
import { isReg, type Reg } from './registers.js';

export type SymKind = 'var' | 'dpc' | 'routine' | 'interrupt' | 'native' | 'event' | 'lock' | 'timer' | 'thread' | 'semaphore' | 'mutex' | 'apc' | 'file';

/**
 * A name resolved at link time: a byte address for 'var' and 'lock', an id otherwise ('routine'
 * ids are indexes in the linked routine list). `offset` is added to the resolved number.
 */
export interface Sym {
  readonly sym: SymKind;
  readonly name: string;
  readonly offset?: number;
}

export type Operand = Reg | number | Sym;

/** A jump or branch target: a label of the same routine. */
export interface LabelRef {
  readonly label: string;
}

/** A CALL target: a label of the same routine if one has this name, else a routine name. */
export interface CallRef {
  readonly call: string;
}

/** One encoding word after word 0, still symbolic. */
export type Slot = number | Sym | LabelRef | CallRef;

export interface Instruction {
  readonly word0: number;
  readonly slots: readonly Slot[];
}

export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

export function isSym(value: unknown): value is Sym {
  return typeof value === 'object' && value !== null && typeof (value as Sym).sym === 'string';
}

type AluName = 'ADD' | 'SUB' | 'MUL' | 'DIV' | 'MOD' | 'AND' | 'OR' | 'XOR' | 'SHL' | 'SHR' | 'SAR';
type BranchName = 'BEQ' | 'BNE' | 'BLT' | 'BLE' | 'BGT' | 'BGE';

export class RoutineBuilder {
  readonly name: string;
  readonly instructions: Instruction[] = [];
  /** label name → index in `instructions` of the instruction it precedes */
  readonly labels = new Map<string, number>();

  constructor(name: string) {
    this.name = name;
  }

  // ---- moves and arithmetic ----

  nop(): this {
    return this.emit(encodeWord0(Op.NOP), []);
  }

  movi(rd: Reg, value: number | Sym): this {
    return this.emit(encodeWord0(Op.MOVI, this.reg(rd, 'movi')), [this.imm(value, 'movi')]);
  }

  mov(rd: Reg, rs: Reg): this {
    return this.emit(encodeWord0(Op.MOV, this.reg(rd, 'mov'), this.reg(rs, 'mov')), []);
  }

  add(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('ADD', rd, rs, rt);
  }
  sub(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('SUB', rd, rs, rt);
  }
  mul(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('MUL', rd, rs, rt);
  }
  /** signed, truncating toward zero; a zero divisor is an arithmetic fault */
  div(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('DIV', rd, rs, rt);
  }
  /** signed remainder with the sign of the dividend (as in C) */
  mod(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('MOD', rd, rs, rt);
  }
  and(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('AND', rd, rs, rt);
  }
  or(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('OR', rd, rs, rt);
  }
  xor(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('XOR', rd, rs, rt);
  }
  shl(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('SHL', rd, rs, rt);
  }
  /** logical shift right (zero fill) */
  shr(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('SHR', rd, rs, rt);
  }
  /** arithmetic shift right (sign fill) */
  sar(rd: Reg, rs: Reg, rt: Operand): this {
    return this.alu('SAR', rd, rs, rt);
  }

  // ---- memory ----

  /** rd = [base + offset]; base is a register, or an absolute address (number or 'var' symbol) */
  load(rd: Reg, base: Reg | Sym | number, offset: number = 0): this {
    const d = this.reg(rd, 'load');
    if (isReg(base)) return this.emit(encodeWord0(Op.LOAD, d, base.index), [this.imm(offset, 'load')]);
    return this.emit(encodeWord0(Op.LOADA, d), [this.address(base, offset, 'load')]);
  }

  /** [base + offset] = value */
  store(base: Reg | Sym | number, offset: number, value: Operand): this {
    if (isReg(base)) {
      const off = this.imm(offset, 'store');
      if (isReg(value)) return this.emit(encodeWord0(Op.STORE, 0, base.index, value.index), [off]);
      return this.emit(encodeWord0(Op.STOREI, 0, base.index), [off, this.imm(value, 'store')]);
    }
    const addr = this.address(base, offset, 'store');
    if (isReg(value)) return this.emit(encodeWord0(Op.STOREA, 0, 0, value.index), [addr]);
    return this.emit(encodeWord0(Op.STOREAI), [addr, this.imm(value, 'store')]);
  }

  /** interlocked: rd = old [base + offset]; [base + offset] += rs */
  xadd(rd: Reg, base: Reg | Sym | number, offset: number, rs: Reg): this {
    return this.interlocked(Op.XADD, Op.XADDA, 'xadd', rd, base, offset, rs);
  }

  /** interlocked: rd = old [base + offset]; [base + offset] = rs */
  xchg(rd: Reg, base: Reg | Sym | number, offset: number, rs: Reg): this {
    return this.interlocked(Op.XCHG, Op.XCHGA, 'xchg', rd, base, offset, rs);
  }

  /** interlocked: rd = old [base + offset]; if old === comparand then [base + offset] = exchange */
  cmpxchg(rd: Reg, base: Reg | Sym | number, offset: number, exchange: Reg, comparand: Reg): this {
    const d = this.reg(rd, 'cmpxchg');
    const x = this.reg(exchange, 'cmpxchg');
    const c = this.reg(comparand, 'cmpxchg');
    if (isReg(base)) return this.emit(encodeWord0(Op.CMPXCHG, d, base.index, x, c), [this.imm(offset, 'cmpxchg')]);
    return this.emit(encodeWord0(Op.CMPXCHGA, d, 0, x, c), [this.address(base, offset, 'cmpxchg')]);
  }

  // ---- control flow ----

  /** Binds a label to the next instruction emitted (or to the routine's end). */
  label(name: string): this {
    if (typeof name !== 'string' || name === '') throw this.error('a label needs a non-empty name');
    if (this.labels.has(name)) throw this.error(`label '${name}' is defined twice`);
    this.labels.set(name, this.instructions.length);
    return this;
  }

  jmp(label: string): this {
    return this.emit(encodeWord0(Op.JMP), [this.labelRef(label, 'jmp')]);
  }

  beq(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BEQ', ra, rb, label);
  }
  bne(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BNE', ra, rb, label);
  }
  blt(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BLT', ra, rb, label);
  }
  ble(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BLE', ra, rb, label);
  }
  bgt(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BGT', ra, rb, label);
  }
  bge(ra: Reg, rb: Operand, label: string): this {
    return this.branch('BGE', ra, rb, label);
  }

  beqz(ra: Reg, label: string): this {
    return this.emit(encodeWord0(Op.BEQZ, this.reg(ra, 'beqz')), [this.labelRef(label, 'beqz')]);
  }
  bnez(ra: Reg, label: string): this {
    return this.emit(encodeWord0(Op.BNEZ, this.reg(ra, 'bnez')), [this.labelRef(label, 'bnez')]);
  }

  /** Calls a label of this routine if one has this name (now or later), else the named routine. */
  call(name: string): this {
    if (typeof name !== 'string' || name === '') throw this.error('call needs a label or routine name');
    return this.emit(encodeWord0(Op.CALL), [{ call: name }]);
  }

  /** Indirect call: rs holds a routine id (see routine()). */
  callr(rs: Reg): this {
    return this.emit(encodeWord0(Op.CALLR, this.reg(rs, 'callr')), []);
  }

  /** Returns; with a value, moves it into r0 first. */
  ret(value?: Operand): this {
    if (value !== undefined) {
      if (isReg(value)) {
        if (value.index !== 0) this.emit(encodeWord0(Op.MOV, 0, value.index), []);
      } else {
        this.emit(encodeWord0(Op.MOVI, 0), [this.imm(value, 'ret')]);
      }
    }
    return this.emit(encodeWord0(Op.RET), []);
  }

  // ---- CPU ----

  /** Spin-wait hint: costs cycles, does nothing else. */
  pause(): this {
    return this.emit(encodeWord0(Op.PAUSE), []);
  }

  /** Burns n cycles (a register value below zero burns none). */
  work(n: number | Reg): this {
    if (isReg(n)) return this.emit(encodeWord0(Op.WORKR, n.index), []);
    const count = this.imm(n, 'work');
    if (typeof count === 'number' && count < 0) throw this.error(`work needs a count of at least 0, got ${count}`);
    return this.emit(encodeWord0(Op.WORK), [count]);
  }

  /** A kernel call by its WDK name; arguments are checked against src/isa/kcalls.ts. */
  kcall(name: KernelCallName, ...args: Operand[]): this {
    const spec = kernelCallByName(name);
    if (spec === undefined) throw this.error(`unknown kernel call '${String(name)}'`);
    if (args.length !== spec.args.length) {
      const n = spec.args.length;
      const expected = n === 0 ? 'no arguments' : `${n} argument${n === 1 ? '' : 's'} (${spec.args.join(', ')})`;
      throw this.error(`kcall ${spec.name} takes ${expected}, got ${args.length}`);
    }
    return this.callLike(Op.KCALL, spec.id, args, `kcall ${spec.name}`);
  }

  /** Calls a native routine the scenario module exports (resolved as a 'native' symbol). */
  native(name: string, ...args: Operand[]): this {
    if (args.length > MAX_CALL_ARGS) {
      throw this.error(`native ${name} takes at most ${MAX_CALL_ARGS} arguments, got ${args.length}`);
    }
    return this.callLike(Op.NATIVE, { sym: 'native', name }, args, `native ${name}`);
  }

  /** Emits a user trace event (tag, value). */
  trace(tag: number, value: Reg | number = 0): this {
    const t = this.imm(tag, 'trace');
    if (isReg(value)) return this.emit(encodeWord0(Op.TRACE, value.index), [t]);
    return this.emit(encodeWord0(Op.TRACEI), [t, this.imm(value, 'trace')]);
  }

  // ---- symbols ----

  var(name: string, byteOffset?: number): Sym {
    return byteOffset === undefined || byteOffset === 0 ? { sym: 'var', name } : { sym: 'var', name, offset: byteOffset };
  }
  dpc(name: string): Sym {
    return { sym: 'dpc', name };
  }
  routine(name: string): Sym {
    return { sym: 'routine', name };
  }
  interrupt(name: string): Sym {
    return { sym: 'interrupt', name };
  }
  event(name: string): Sym {
    return { sym: 'event', name };
  }
  lock(name: string): Sym {
    return { sym: 'lock', name };
  }
  timer(name: string): Sym {
    return { sym: 'timer', name };
  }
  thread(name: string): Sym {
    return { sym: 'thread', name };
  }
  semaphore(name: string): Sym {
    return { sym: 'semaphore', name };
  }
  mutex(name: string): Sym {
    return { sym: 'mutex', name };
  }
  /** a KAPC declared in the scenario's `apcs` */
  apc(name: string): Sym {
    return { sym: 'apc', name };
  }
  /** the handle of the FILE_OBJECT opened on a device object the scenario's `drivers` declare (NtReadFile's FileHandle) */
  file(device: string): Sym {
    return { sym: 'file', name: device };
  }

  /**
   * True when execution can run past the last instruction: the link step then appends a RET.
   * Only RET and JMP end a routine; a label bound at the very end is also reachable.
   */
  fallsOffEnd(): boolean {
    const last = this.instructions[this.instructions.length - 1];
    if (last === undefined) return true;
    for (const at of this.labels.values()) if (at === this.instructions.length) return true;
    const op = last.word0 & 0xff;
    return op !== Op.RET && op !== Op.JMP;
  }

  // ---- internals ----

  private emit(word0: number, slots: Slot[]): this {
    this.instructions.push({ word0, slots });
    return this;
  }

  private alu(name: AluName, rd: Reg, rs: Reg, rt: Operand): this {
    const what = name.toLowerCase();
    const d = this.reg(rd, what);
    const s = this.reg(rs, what);
    if (isReg(rt)) return this.emit(encodeWord0(Op[name], d, s, rt.index), []);
    return this.emit(encodeWord0(Op[`${name}I`], d, s), [this.imm(rt, what)]);
  }

  private branch(name: BranchName, ra: Reg, rb: Operand, label: string): this {
    const what = name.toLowerCase();
    const a = this.reg(ra, what);
    const target = this.labelRef(label, what);
    if (isReg(rb)) return this.emit(encodeWord0(Op[name], a, rb.index), [target]);
    return this.emit(encodeWord0(Op[`${name}I`], a), [this.imm(rb, what), target]);
  }

  private interlocked(regForm: Opcode, absForm: Opcode, what: string, rd: Reg, base: Reg | Sym | number, offset: number, rs: Reg): this {
    const d = this.reg(rd, what);
    const s = this.reg(rs, what);
    if (isReg(base)) return this.emit(encodeWord0(regForm, d, base.index, s), [this.imm(offset, what)]);
    return this.emit(encodeWord0(absForm, d, 0, s), [this.address(base, offset, what)]);
  }

  private callLike(op: typeof Op.KCALL | typeof Op.NATIVE, id: number | Sym, args: Operand[], what: string): this {
    let immMask = 0;
    const slots: Slot[] = [id];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (isReg(arg)) {
        slots.push(arg.index);
      } else {
        immMask |= 1 << i;
        slots.push(this.imm(arg as number | Sym, what));
      }
    }
    return this.emit(encodeCallWord0(op, args.length, immMask), slots);
  }

  private reg(value: unknown, what: string): number {
    if (!isReg(value)) throw this.error(`${what} expects a register (R0..R15), got ${describe(value)}`);
    return value.index;
  }

  /** An immediate: an int32 or uint32 number (stored as int32), or a symbol. */
  private imm(value: unknown, what: string): number | Sym {
    if (isSym(value)) {
      if (value.offset !== undefined && !isInt32Like(value.offset)) {
        throw this.error(`${what}: symbol '${value.name}' has a bad offset ${value.offset}`);
      }
      return value;
    }
    if (typeof value !== 'number' || !isInt32Like(value)) {
      throw this.error(`${what} expects a 32-bit integer, register or symbol, got ${describe(value)}`);
    }
    return value | 0;
  }

  private address(base: Sym | number, offset: number, what: string): number | Sym {
    const off = this.imm(offset, what) as number;
    const addr = this.imm(base, what);
    if (typeof addr === 'number') return (addr + off) | 0;
    if (off === 0) return addr;
    return { sym: addr.sym, name: addr.name, offset: ((addr.offset ?? 0) + off) | 0 };
  }

  private labelRef(label: string, what: string): LabelRef {
    if (typeof label !== 'string' || label === '') throw this.error(`${what} needs a label name`);
    return { label };
  }

  private error(message: string): BuildError {
    return new BuildError(`routine '${this.name}': ${message}`);
  }
}

function isInt32Like(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0xffffffff;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value}'`;
  if (isSym(value)) return `${value.sym} '${value.name}'`;
  return value === null ? 'null' : typeof value;
}
