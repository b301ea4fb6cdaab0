/**
 * The disassembler: one instruction of a program image as a line of text, e.g.
 * `kcall KeInsertQueueDpc, #3, r1, #0`. Bugcheck reports print the faulting routine with it, and
 * the tests use it to check what the builder and linker produced.
 *
 * Syntax: registers `r0`..`r15`; immediates `#5` (hex past ±0xffff); memory `[r2+8]` or an
 * absolute `[0x1000]`; code targets `@pc`, followed by `<Routine+offset>` when the routine list
 * is given (a CALL to an entry prints just the routine name).
 */

import { kernelCallById } from './kcalls.js';
import { OPCODES, Op, callArgCount, callImmMask, fieldA, fieldB, fieldC, fieldD, instructionLength } from './opcodes.js';

export interface RoutineSpan {
  readonly name: string;
  readonly entry: number;
  readonly end: number;
}

export interface Disassembly {
  readonly text: string;
  /** words the instruction occupies (1 for something undecodable) */
  readonly length: number;
}

function reg(n: number): string {
  return `r${n}`;
}

function imm(v: number): string {
  return v > -0x10000 && v < 0x10000 ? `#${v}` : `#0x${(v >>> 0).toString(16)}`;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

function mem(base: number, offset: number): string {
  if (offset === 0) return `[${reg(base)}]`;
  return offset < 0 ? `[${reg(base)}-${-offset}]` : `[${reg(base)}+${offset}]`;
}

function abs(address: number): string {
  return `[${hex(address)}]`;
}

function where(pc: number, routines: readonly RoutineSpan[] | undefined): string {
  if (routines === undefined) return '';
  const r = routines.find((span) => pc >= span.entry && pc < span.end);
  if (r === undefined) return '';
  return pc === r.entry ? ` <${r.name}>` : ` <${r.name}+${pc - r.entry}>`;
}

function target(pc: number, routines: readonly RoutineSpan[] | undefined): string {
  return `@${pc}${where(pc, routines)}`;
}

/** Disassembles the instruction at `pc`. */
export function disassemble(code: Int32Array, pc: number, routines?: readonly RoutineSpan[]): Disassembly {
  if (!Number.isInteger(pc) || pc < 0 || pc >= code.length) return { text: '.word ?', length: 1 };
  const w = code[pc]!;
  const op = w & 0xff;
  const length = instructionLength(w);
  const info = OPCODES[op];
  if (info === undefined || op === Op.ILLEGAL || pc + length > code.length) {
    return { text: `.word ${hex(w)}`, length: 1 };
  }
  const m = info.mnemonic;
  const a = fieldA(w);
  const b = fieldB(w);
  const c = fieldC(w);
  const d = fieldD(w);
  const w1 = code[pc + 1] ?? 0;
  const w2 = code[pc + 2] ?? 0;
  let text: string;
  switch (op) {
    case Op.NOP:
    case Op.RET:
    case Op.PAUSE:
      text = m;
      break;
    case Op.MOVI:
      text = `${m} ${reg(a)}, ${imm(w1)}`;
      break;
    case Op.MOV:
      text = `${m} ${reg(a)}, ${reg(b)}`;
      break;
    case Op.LOAD:
      text = `${m} ${reg(a)}, ${mem(b, w1)}`;
      break;
    case Op.LOADA:
      text = `${m} ${reg(a)}, ${abs(w1)}`;
      break;
    case Op.STORE:
      text = `${m} ${mem(b, w1)}, ${reg(c)}`;
      break;
    case Op.STOREI:
      text = `${m} ${mem(b, w1)}, ${imm(w2)}`;
      break;
    case Op.STOREA:
      text = `${m} ${abs(w1)}, ${reg(c)}`;
      break;
    case Op.STOREAI:
      text = `${m} ${abs(w1)}, ${imm(w2)}`;
      break;
    case Op.XADD:
    case Op.XCHG:
      text = `${m} ${reg(a)}, ${mem(b, w1)}, ${reg(c)}`;
      break;
    case Op.XADDA:
    case Op.XCHGA:
      text = `${m} ${reg(a)}, ${abs(w1)}, ${reg(c)}`;
      break;
    case Op.CMPXCHG:
      text = `${m} ${reg(a)}, ${mem(b, w1)}, ${reg(c)}, ${reg(d)}`;
      break;
    case Op.CMPXCHGA:
      text = `${m} ${reg(a)}, ${abs(w1)}, ${reg(c)}, ${reg(d)}`;
      break;
    case Op.JMP:
      text = `${m} ${target(w1, routines)}`;
      break;
    case Op.BEQZ:
    case Op.BNEZ:
      text = `${m} ${reg(a)}, ${target(w1, routines)}`;
      break;
    case Op.CALL: {
      const callee = routines?.find((span) => span.entry === w1);
      text = callee !== undefined ? `${m} ${callee.name}` : `${m} ${target(w1, routines)}`;
      break;
    }
    case Op.CALLR:
    case Op.WORKR:
      text = `${m} ${reg(a)}`;
      break;
    case Op.WORK:
      text = `${m} ${imm(w1)}`;
      break;
    case Op.KCALL:
    case Op.NATIVE: {
      const argc = callArgCount(w);
      const mask = callImmMask(w);
      const parts: string[] = [];
      if (op === Op.KCALL) parts.push(kernelCallById(w1)?.name ?? imm(w1));
      else parts.push(imm(w1));
      for (let i = 0; i < argc; i++) {
        const v = code[pc + 2 + i]!;
        parts.push(((mask >>> i) & 1) !== 0 ? imm(v) : reg(v & 15));
      }
      text = `${m} ${parts.join(', ')}`;
      break;
    }
    case Op.TRACE:
      text = `${m} ${imm(w1)}, ${reg(a)}`;
      break;
    case Op.TRACEI:
      text = `${m} ${imm(w1)}, ${imm(w2)}`;
      break;
    default:
      if (op >= Op.ADD && op <= Op.SAR) text = `${m} ${reg(a)}, ${reg(b)}, ${reg(c)}`;
      else if (op >= Op.ADDI && op <= Op.SARI) text = `${m} ${reg(a)}, ${reg(b)}, ${imm(w1)}`;
      else if (op >= Op.BEQ && op <= Op.BGE) text = `${m} ${reg(a)}, ${reg(b)}, ${target(w1, routines)}`;
      else if (op >= Op.BEQI && op <= Op.BGEI) text = `${m} ${reg(a)}, ${imm(w1)}, ${target(w2, routines)}`;
      else text = `.word ${hex(w)}`;
  }
  return { text, length };
}

/**
 * A routine as text: a `Name:` line, then one `  pc  instruction` line each. The instruction at
 * `mark` (a faulting pc, say) is flagged with `=>`.
 */
export function disassembleRoutine(code: Int32Array, routine: RoutineSpan, routines?: readonly RoutineSpan[], mark?: number): string {
  const lines = [`${routine.name}:`];
  let pc = routine.entry;
  while (pc < routine.end) {
    const { text, length } = disassemble(code, pc, routines);
    lines.push(`${pc === mark ? '=>' : '  '}${String(pc).padStart(6)}  ${text}`);
    pc += length;
  }
  return lines.join('\n');
}
