/**
 * The interpreter: executes one instruction of a context at a time, so that the CPU worker
 * (src/cpu) can check its inbox and take interrupts between any two instructions, and so that a
 * context (a PC, SP and registers in shared memory) can stop on one worker and resume on another.
 *
 * Everything outside the instruction set goes through ExecHost: faults (which the host turns into
 * bugchecks), paged/watched memory, kernel calls, native routines and trace events.
 *
 * Memory model: plain LOAD/STORE are ordinary typed-array reads and writes on the emulated memory,
 * which is shared by every CPU worker, so an unlocked load/add/store loop on two CPUs loses
 * updates exactly as on hardware. Only XADD/XCHG/CMPXCHG use Atomics.
 *
 * step() is the hot path: one switch on literal opcode numbers (checked against Op at compile time
 * with `satisfies`, so V8 compiles a jump table), no allocation, no closures.
 */

import { ContextField } from '../shm/layout.js';
import { CYCLE_COST, Op } from './opcodes.js';

/** step() results */
export const STEP_OK = 0;
/** the routine's outermost RET: the frame ends, r0 is its return value */
export const STEP_RETURNED = 1;
/** the instruction did not complete (KCALL/NATIVE retry, checkAccess retry); pc is unchanged */
export const STEP_RETRY = 2;
/** the instruction completed but the CPU must stop running this context now */
export const STEP_YIELD = 3;

/** ExecHost.kernelCall / nativeCall outcomes */
export const KCALL_DONE = 0;
export const KCALL_RETRY = 1;
export const KCALL_YIELD = 2;

/** `access` argument of memoryFault / checkAccess; interlocked operations report a write */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXECUTE = 8;

/** checkAccess results */
export const CHECK_PROCEED = 0;
export const CHECK_RETRY = 1;

/** The return address enterRoutine pushes: popping it ends the routine. */
export const RETURN_TO_KERNEL = -1;

/** pageFlags has one byte per page of this many bytes. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** pageFlags values the host may set (the interpreter only tests for non-zero) */
export const PAGE_FLAG_PAGEABLE = 1;
/** an unmapped page inside the memory array (page 0, so that a NULL dereference faults) */
export const PAGE_FLAG_NO_ACCESS = 2;

export interface ExecHost {
  /**
   * One byte per 4096-byte page of memory; non-zero sends accesses to that page through
   * checkAccess. Read once by the Interpreter constructor: change the bytes, not the array.
   */
  readonly pageFlags: Uint8Array;
  /**
   * A misaligned or out-of-range access, or an execute fault (pc outside the image, an invalid
   * opcode, CALLR to an unknown routine id). Expected to throw; if it returns, a data access
   * completes with no effect, and an execute fault leaves pc where it was.
   */
  memoryFault(address: number, access: number, pc: number): void;
  /** CHECK_PROCEED, or CHECK_RETRY to re-execute the instruction later with pc unchanged; may throw */
  checkAccess(address: number, access: number, pc: number): number;
  /** division by zero; expected to throw (if it returns, the instruction has no effect) */
  arithmeticFault(pc: number): void;
  /** a push below STACK_LIMIT; expected to throw (if it returns, the instruction has no effect) */
  stackOverflow(pc: number): void;
  /**
   * A KCALL. `args` is a scratch array reused by the next call: copy what you keep. The context's
   * PC still points at the KCALL during the call; a host that rewrites PC keeps its value.
   * Returns KCALL_DONE, KCALL_RETRY or KCALL_YIELD; results go in r0 (ctx[base + ContextField.R0]).
   */
  kernelCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number;
  /** A NATIVE call: same contract as kernelCall. */
  nativeCall(id: number, args: Int32Array, argCount: number, ctx: Int32Array, base: number): number;
  /** a TRACE instruction's user event */
  trace(tag: number, value: number, pc: number): void;
  /** entry pc of a routine id (CALLR), or -1 if there is no such routine */
  routineEntry(routineId: number): number;
}

const PC = ContextField.PC;
const SP = ContextField.SP;
const STACK_LIMIT = ContextField.STACK_LIMIT;
const ROUTINE = ContextField.ROUTINE;
const R0 = ContextField.R0;
const REGISTER_COUNT = ContextField.REGISTER_COUNT;
const WORK_LEFT = ContextField.WORK_LEFT;

// Imported bindings copied into module constants: bundlers and test runners may turn every use of
// an import into a property read (vitest: a getter on a module namespace), which step() cannot afford.
const COST = CYCLE_COST;
const OP_LOAD = Op.LOAD;
const OP_STORE = Op.STORE;
const OP_STOREI = Op.STOREI;
const OP_XADDA = Op.XADDA;
const OP_XCHGA = Op.XCHGA;
const OP_KCALL = Op.KCALL;

// slowAccess results
const PROCEED = 0;
const RETRY = 1;
const SKIP = 2;

/**
 * Starts a routine in a context: PC at its entry, RETURN_TO_KERNEL pushed as the return address,
 * arguments in r1, r2, … and every other register 0.
 */
export function enterRoutine(
  ctx: Int32Array,
  base: number,
  entryPc: number,
  routineIndex: number,
  stackTop: number,
  stackLimit: number,
  args: ArrayLike<number>,
  memory: Int32Array,
): void {
  const sp = (stackTop - 4) | 0;
  if ((stackTop & 3) !== 0 || sp < 0 || sp >>> 2 >= memory.length) {
    throw new RangeError(`stack top 0x${(stackTop >>> 0).toString(16)} is not an aligned address in memory`);
  }
  if (sp < stackLimit) throw new RangeError(`stack top 0x${(stackTop >>> 0).toString(16)} leaves no room above the limit`);
  if (args.length > REGISTER_COUNT - 1) throw new RangeError(`at most ${REGISTER_COUNT - 1} routine arguments, got ${args.length}`);
  memory[sp >> 2] = RETURN_TO_KERNEL;
  ctx[base + PC] = entryPc;
  ctx[base + SP] = sp;
  ctx[base + STACK_LIMIT] = stackLimit;
  ctx[base + ROUTINE] = routineIndex;
  ctx.fill(0, base + R0, base + R0 + REGISTER_COUNT);
  ctx[base + WORK_LEFT] = 0;
  for (let i = 0; i < args.length; i++) ctx[base + R0 + 1 + i] = args[i]! | 0;
}

export class Interpreter {
  readonly code: Int32Array;
  readonly memory: Int32Array;
  readonly host: ExecHost;
  /** cycles charged so far; the host may add to it (a KCALL that costs more than its base) */
  cycles = 0;
  /** instructions stepped so far, including retried and faulting ones */
  instructions = 0;
  /**
   * Where the CPU's current budget ends: a WORK longer than the room left burns up to here and
   * stays at its PC (the rest in WORK_LEFT), so the CPU can take interrupts in the middle of it.
   */
  cycleLimit = Infinity;
  /**
   * Calls into the host that may change its state (every ExecHost method but routineEntry, a
   * lookup). Unchanged across steps means only this context's registers, memory and the counters
   * moved: the host's run loop can take the next step without its between-instruction checks.
   */
  hostCalls = 0;
  /** how many steps the last stepStraight took */
  stepsTaken = 0;

  private readonly pageFlags: Uint8Array;
  private readonly memWords: number;
  private readonly args = new Int32Array(8);

  constructor(code: Int32Array, memory: Int32Array, host: ExecHost) {
    this.code = code;
    this.memory = memory;
    this.host = host;
    this.pageFlags = host.pageFlags;
    this.memWords = memory.length;
    const pages = Math.ceil((memory.length * 4) / PAGE_SIZE);
    // the fast path reads pageFlags without a bounds test once the address is known to be in memory
    if (this.pageFlags.length < pages) {
      throw new RangeError(`pageFlags has ${this.pageFlags.length} entries, memory has ${pages} pages`);
    }
  }

  /**
   * Burn `n` cycles for the context at ctx[base…], at most up to cycleLimit: true when the burn is
   * complete, false when it stopped at the limit with the rest saved in WORK_LEFT (the instruction
   * then stays at its PC and continues when the context next runs). Also used by the host for
   * KeStallExecutionProcessor.
   */
  burn(ctx: Int32Array, base: number, n: number): boolean {
    const left = ctx[base + WORK_LEFT] > 0 ? ctx[base + WORK_LEFT] : n;
    if (!(left > 0)) return true;
    const room = this.cycleLimit - this.cycles;
    if (left <= room) {
      this.cycles += left;
      ctx[base + WORK_LEFT] = 0;
      return true;
    }
    const burnt = Math.max(room, 0);
    this.cycles += burnt;
    ctx[base + WORK_LEFT] = left - burnt;
    return false;
  }

  /** Executes exactly one instruction of the context at ctx[base…]; returns a STEP_* status. */
  step(ctx: Int32Array, base: number): number {
    const code = this.code;
    const pc = ctx[base + PC];
    if (pc >>> 0 >= code.length) {
      this.hostCall().memoryFault(pc * 4, ACCESS_EXECUTE, pc);
      return STEP_OK;
    }
    const w = code[pc];
    const op = w & 0xff;
    const r = base + R0;
    this.instructions++;
    this.cycles += COST[op];

    switch (op) {
      case 1 satisfies typeof Op.NOP:
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 2 satisfies typeof Op.MOVI:
        ctx[r + ((w >>> 8) & 15)] = code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 3 satisfies typeof Op.MOV:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;

      // ---- ALU, register operand ----
      case 4 satisfies typeof Op.ADD:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] + ctx[r + ((w >>> 16) & 15)]) | 0;
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 5 satisfies typeof Op.SUB:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] - ctx[r + ((w >>> 16) & 15)]) | 0;
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 6 satisfies typeof Op.MUL:
        ctx[r + ((w >>> 8) & 15)] = Math.imul(ctx[r + ((w >>> 12) & 15)], ctx[r + ((w >>> 16) & 15)]);
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 7 satisfies typeof Op.DIV: {
        const d = ctx[r + ((w >>> 16) & 15)];
        if (d === 0) this.hostCall().arithmeticFault(pc);
        else ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] / d) | 0;
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      }
      case 8 satisfies typeof Op.MOD: {
        const d = ctx[r + ((w >>> 16) & 15)];
        if (d === 0) this.hostCall().arithmeticFault(pc);
        else ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] % d) | 0;
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      }
      case 9 satisfies typeof Op.AND:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] & ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 10 satisfies typeof Op.OR:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] | ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 11 satisfies typeof Op.XOR:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] ^ ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 12 satisfies typeof Op.SHL:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] << ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 13 satisfies typeof Op.SHR:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] >>> ctx[r + ((w >>> 16) & 15)]) | 0;
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 14 satisfies typeof Op.SAR:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] >> ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 1;
        return STEP_OK;

      // ---- ALU, immediate operand ----
      case 15 satisfies typeof Op.ADDI:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] + code[pc + 1]) | 0;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 16 satisfies typeof Op.SUBI:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] - code[pc + 1]) | 0;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 17 satisfies typeof Op.MULI:
        ctx[r + ((w >>> 8) & 15)] = Math.imul(ctx[r + ((w >>> 12) & 15)], code[pc + 1]);
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 18 satisfies typeof Op.DIVI: {
        const d = code[pc + 1];
        if (d === 0) this.hostCall().arithmeticFault(pc);
        else ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] / d) | 0;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      }
      case 19 satisfies typeof Op.MODI: {
        const d = code[pc + 1];
        if (d === 0) this.hostCall().arithmeticFault(pc);
        else ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] % d) | 0;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      }
      case 20 satisfies typeof Op.ANDI:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] & code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 21 satisfies typeof Op.ORI:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] | code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 22 satisfies typeof Op.XORI:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] ^ code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 23 satisfies typeof Op.SHLI:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] << code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 24 satisfies typeof Op.SHRI:
        ctx[r + ((w >>> 8) & 15)] = (ctx[r + ((w >>> 12) & 15)] >>> code[pc + 1]) | 0;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 25 satisfies typeof Op.SARI:
        ctx[r + ((w >>> 8) & 15)] = ctx[r + ((w >>> 12) & 15)] >> code[pc + 1];
        ctx[base + PC] = pc + 2;
        return STEP_OK;

      // ---- plain memory: ordinary typed-array accesses, racy on purpose ----
      case 26 satisfies typeof Op.LOAD:
      case 27 satisfies typeof Op.LOADA: {
        const ea = op === OP_LOAD ? (ctx[r + ((w >>> 12) & 15)] + code[pc + 1]) | 0 : code[pc + 1];
        if ((ea & 3) !== 0 || ea >>> 2 >= this.memWords || this.pageFlags[ea >>> PAGE_SHIFT] !== 0) {
          const a = this.slowAccess(ea, ACCESS_READ, pc);
          if (a !== PROCEED) return this.abandon(a, ctx, base, pc + 2);
        }
        ctx[r + ((w >>> 8) & 15)] = this.memory[ea >> 2];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      }
      case 28 satisfies typeof Op.STORE:
      case 30 satisfies typeof Op.STOREA: {
        const ea = op === OP_STORE ? (ctx[r + ((w >>> 12) & 15)] + code[pc + 1]) | 0 : code[pc + 1];
        if ((ea & 3) !== 0 || ea >>> 2 >= this.memWords || this.pageFlags[ea >>> PAGE_SHIFT] !== 0) {
          const a = this.slowAccess(ea, ACCESS_WRITE, pc);
          if (a !== PROCEED) return this.abandon(a, ctx, base, pc + 2);
        }
        this.memory[ea >> 2] = ctx[r + ((w >>> 16) & 15)];
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      }
      case 29 satisfies typeof Op.STOREI:
      case 31 satisfies typeof Op.STOREAI: {
        const ea = op === OP_STOREI ? (ctx[r + ((w >>> 12) & 15)] + code[pc + 1]) | 0 : code[pc + 1];
        if ((ea & 3) !== 0 || ea >>> 2 >= this.memWords || this.pageFlags[ea >>> PAGE_SHIFT] !== 0) {
          const a = this.slowAccess(ea, ACCESS_WRITE, pc);
          if (a !== PROCEED) return this.abandon(a, ctx, base, pc + 3);
        }
        this.memory[ea >> 2] = code[pc + 2];
        ctx[base + PC] = pc + 3;
        return STEP_OK;
      }

      // ---- interlocked ----
      case 32 satisfies typeof Op.XADD:
      case 33 satisfies typeof Op.XADDA:
      case 34 satisfies typeof Op.XCHG:
      case 35 satisfies typeof Op.XCHGA:
      case 36 satisfies typeof Op.CMPXCHG:
      case 37 satisfies typeof Op.CMPXCHGA: {
        // register-base forms are the even opcodes of each pair
        const ea = (op & 1) === 0 ? (ctx[r + ((w >>> 12) & 15)] + code[pc + 1]) | 0 : code[pc + 1];
        if ((ea & 3) !== 0 || ea >>> 2 >= this.memWords || this.pageFlags[ea >>> PAGE_SHIFT] !== 0) {
          const a = this.slowAccess(ea, ACCESS_WRITE, pc);
          if (a !== PROCEED) return this.abandon(a, ctx, base, pc + 2);
        }
        const value = ctx[r + ((w >>> 16) & 15)];
        let old: number;
        if (op <= OP_XADDA) old = Atomics.add(this.memory, ea >> 2, value);
        else if (op <= OP_XCHGA) old = Atomics.exchange(this.memory, ea >> 2, value);
        else old = Atomics.compareExchange(this.memory, ea >> 2, ctx[r + ((w >>> 20) & 15)], value);
        ctx[r + ((w >>> 8) & 15)] = old;
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      }

      // ---- control flow ----
      case 38 satisfies typeof Op.JMP:
        ctx[base + PC] = code[pc + 1];
        return STEP_OK;
      case 39 satisfies typeof Op.BEQ:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] === ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 40 satisfies typeof Op.BNE:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] !== ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 41 satisfies typeof Op.BLT:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] < ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 42 satisfies typeof Op.BLE:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] <= ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 43 satisfies typeof Op.BGT:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] > ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 44 satisfies typeof Op.BGE:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] >= ctx[r + ((w >>> 12) & 15)] ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 45 satisfies typeof Op.BEQI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] === code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 46 satisfies typeof Op.BNEI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] !== code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 47 satisfies typeof Op.BLTI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] < code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 48 satisfies typeof Op.BLEI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] <= code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 49 satisfies typeof Op.BGTI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] > code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 50 satisfies typeof Op.BGEI:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] >= code[pc + 1] ? code[pc + 2] : pc + 3;
        return STEP_OK;
      case 51 satisfies typeof Op.BEQZ:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] === 0 ? code[pc + 1] : pc + 2;
        return STEP_OK;
      case 52 satisfies typeof Op.BNEZ:
        ctx[base + PC] = ctx[r + ((w >>> 8) & 15)] !== 0 ? code[pc + 1] : pc + 2;
        return STEP_OK;

      case 53 satisfies typeof Op.CALL:
        return this.callTo(ctx, base, pc, pc + 2, code[pc + 1]);
      case 54 satisfies typeof Op.CALLR: {
        const id = ctx[r + ((w >>> 8) & 15)];
        const entry = this.host.routineEntry(id);
        if (entry < 0) {
          this.hostCall().memoryFault(id, ACCESS_EXECUTE, pc);
          return STEP_OK;
        }
        return this.callTo(ctx, base, pc, pc + 1, entry);
      }
      case 55 satisfies typeof Op.RET: {
        const sp = ctx[base + SP];
        if ((sp & 3) !== 0 || sp >>> 2 >= this.memWords || this.pageFlags[sp >>> PAGE_SHIFT] !== 0) {
          const a = this.slowAccess(sp, ACCESS_READ, pc);
          if (a !== PROCEED) return this.abandon(a, ctx, base, pc + 1);
        }
        const to = this.memory[sp >> 2];
        ctx[base + SP] = (sp + 4) | 0;
        // the outermost return leaves PC on the RET, which is where reports want it
        if (to === RETURN_TO_KERNEL) return STEP_RETURNED;
        ctx[base + PC] = to;
        return STEP_OK;
      }

      // ---- CPU ----
      case 56 satisfies typeof Op.PAUSE:
        ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 57 satisfies typeof Op.WORK:
        // a resumed burn is the same instruction: its issue cost was charged when it started
        if (ctx[base + WORK_LEFT] > 0) this.cycles -= COST[op];
        if (this.burn(ctx, base, code[pc + 1])) ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 58 satisfies typeof Op.WORKR:
        if (ctx[base + WORK_LEFT] > 0) this.cycles -= COST[op];
        if (this.burn(ctx, base, ctx[r + ((w >>> 8) & 15)])) ctx[base + PC] = pc + 1;
        return STEP_OK;
      case 59 satisfies typeof Op.KCALL:
      case 60 satisfies typeof Op.NATIVE: {
        const argc = (w >>> 8) & 15;
        const immMask = w >>> 12;
        const args = this.args;
        for (let i = 0; i < argc; i++) {
          const v = code[pc + 2 + i];
          args[i] = ((immMask >>> i) & 1) !== 0 ? v : ctx[r + (v & 15)];
        }
        const outcome =
          op === OP_KCALL ? this.hostCall().kernelCall(code[pc + 1], args, argc, ctx, base) : this.hostCall().nativeCall(code[pc + 1], args, argc, ctx, base);
        if (outcome === KCALL_RETRY) return STEP_RETRY;
        if (ctx[base + PC] === pc) ctx[base + PC] = pc + 2 + argc;
        if (outcome === KCALL_DONE) return STEP_OK;
        if (outcome === KCALL_YIELD) return STEP_YIELD;
        throw new Error(`${op === OP_KCALL ? 'kernelCall' : 'nativeCall'} ${code[pc + 1]} returned outcome ${outcome}`);
      }
      case 61 satisfies typeof Op.TRACE:
        this.hostCall().trace(code[pc + 1], ctx[r + ((w >>> 8) & 15)], pc);
        ctx[base + PC] = pc + 2;
        return STEP_OK;
      case 62 satisfies typeof Op.TRACEI:
        this.hostCall().trace(code[pc + 1], code[pc + 2], pc);
        ctx[base + PC] = pc + 3;
        return STEP_OK;

      default:
        // ILLEGAL (0) and unassigned opcodes
        this.hostCall().memoryFault(pc * 4, ACCESS_EXECUTE, pc);
        return STEP_OK;
    }
  }

  /** Pushes the return pc and jumps; shared by CALL and CALLR. */
  private callTo(ctx: Int32Array, base: number, pc: number, returnPc: number, target: number): number {
    const sp = (ctx[base + SP] - 4) | 0;
    if (sp < ctx[base + STACK_LIMIT]) {
      this.hostCall().stackOverflow(pc);
      ctx[base + PC] = returnPc;
      return STEP_OK;
    }
    if ((sp & 3) !== 0 || sp >>> 2 >= this.memWords || this.pageFlags[sp >>> PAGE_SHIFT] !== 0) {
      const a = this.slowAccess(sp, ACCESS_WRITE, pc);
      if (a !== PROCEED) return this.abandon(a, ctx, base, returnPc);
    }
    this.memory[sp >> 2] = returnPc;
    ctx[base + SP] = sp;
    ctx[base + PC] = target;
    return STEP_OK;
  }

  /**
   * Steps the context again and again while every step is STEP_OK, at most `maxSteps` times, while
   * the cycle count is under `cycleLimit` and no step has called the host (hostCalls unchanged):
   * the stretch of plain instructions a run loop can take without looking up. Returns the last
   * step's status (STEP_OK when a limit or a host call stopped it); the steps taken are in
   * stepsTaken. A small function of its own so that V8 optimizes the tight loop apart from its caller.
   */
  stepStraight(ctx: Int32Array, base: number, maxSteps: number, cycleLimit: number): number {
    const hostCallsBefore = this.hostCalls;
    let steps = 0;
    let status = STEP_OK;
    while (steps < maxSteps && this.cycles < cycleLimit && this.hostCalls === hostCallsBefore) {
      steps++;
      status = this.step(ctx, base);
      if (status !== STEP_OK) break;
    }
    this.stepsTaken = steps;
    return status;
  }

  /** The host, for a call that may change its state (counted in hostCalls). */
  private hostCall(): ExecHost {
    this.hostCalls++;
    return this.host;
  }

  /** Off the fast path: a fault (reported, SKIP) or a flagged page (checkAccess decides). */
  private slowAccess(address: number, access: number, pc: number): number {
    if ((address & 3) !== 0 || address >>> 2 >= this.memWords) {
      this.hostCall().memoryFault(address, access, pc);
      return SKIP;
    }
    return this.hostCall().checkAccess(address, access, pc) === CHECK_RETRY ? RETRY : PROCEED;
  }

  /** Ends an instruction whose memory access did not happen: retry later, or skip it. */
  private abandon(outcome: number, ctx: Int32Array, base: number, nextPc: number): number {
    if (outcome === RETRY) return STEP_RETRY;
    ctx[base + PC] = nextPc;
    return STEP_OK;
  }
}
