/**
 * The instruction encoding: opcode numbers, operand fields, instruction lengths and cycle costs.
 * The builder and linker (src/isa/builder.ts, src/isa/link.ts) write this format, the interpreter
 * (src/isa/interpreter.ts) executes it and the disassembler (src/isa/disasm.ts) prints it. The
 * numbers are the program image format: append new opcodes, never renumber.
 *
 * An instruction is 1 to 10 consecutive int32 words of the program image. Word 0 holds:
 *
 *     bits  0..7   opcode
 *     bits  8..11  field A: the destination register (rd), or the tested / single register (ra, rs)
 *     bits 12..15  field B: the second source (rs) or the base register of an address
 *     bits 16..19  field C: the third source (rt), or the value / operand register of a memory op
 *     bits 20..23  field D: the comparand register of CMPXCHG
 *
 * The form is part of the opcode (ADD takes a register, ADDI an immediate; LOAD a register base,
 * LOADA an absolute address) so the interpreter never tests a mode bit: one switch case, one form.
 * Immediates, address offsets and absolute addresses, branch targets and ids follow in words 1..n,
 * in the order listed in the form column of OPCODES. Branch and call targets are word indexes
 * into the program image (absolute pcs, not pc-relative).
 *
 * KCALL and NATIVE are the variable-length ones:
 *
 *     word 0  opcode | argc << 8 (bits 8..11, 0..8) | immMask << 12 (bits 12..19: bit i set =
 *             argument i is an immediate, clear = argument i is a register number)
 *     word 1  kernel call id (src/isa/kcalls.ts) or native routine id
 *     word 2+i  argument i
 *
 * Opcode 0 is ILLEGAL, so that a zeroed image or a pc that lands in padding faults instead of
 * sliding through no-ops.
 */

export const Op = {
  ILLEGAL: 0,
  NOP: 1,
  MOVI: 2,
  MOV: 3,
  ADD: 4,
  SUB: 5,
  MUL: 6,
  DIV: 7,
  MOD: 8,
  AND: 9,
  OR: 10,
  XOR: 11,
  SHL: 12,
  SHR: 13,
  SAR: 14,
  ADDI: 15,
  SUBI: 16,
  MULI: 17,
  DIVI: 18,
  MODI: 19,
  ANDI: 20,
  ORI: 21,
  XORI: 22,
  SHLI: 23,
  SHRI: 24,
  SARI: 25,
  LOAD: 26,
  LOADA: 27,
  STORE: 28,
  STOREI: 29,
  STOREA: 30,
  STOREAI: 31,
  XADD: 32,
  XADDA: 33,
  XCHG: 34,
  XCHGA: 35,
  CMPXCHG: 36,
  CMPXCHGA: 37,
  JMP: 38,
  BEQ: 39,
  BNE: 40,
  BLT: 41,
  BLE: 42,
  BGT: 43,
  BGE: 44,
  BEQI: 45,
  BNEI: 46,
  BLTI: 47,
  BLEI: 48,
  BGTI: 49,
  BGEI: 50,
  BEQZ: 51,
  BNEZ: 52,
  CALL: 53,
  CALLR: 54,
  RET: 55,
  PAUSE: 56,
  WORK: 57,
  WORKR: 58,
  KCALL: 59,
  NATIVE: 60,
  TRACE: 61,
  TRACEI: 62,
} as const;

export type OpName = keyof typeof Op;
export type Opcode = (typeof Op)[OpName];

export interface OpcodeInfo {
  readonly op: Opcode;
  readonly name: OpName;
  /** lower-case assembler mnemonic; forms share one (ADD and ADDI are both `add`) */
  readonly mnemonic: string;
  /** words including word 0; KCALL/NATIVE: 2, plus one per argument */
  readonly length: number;
  /** base cycle cost; WORK/WORKR add their operand, the host may add more for KCALL */
  readonly cycles: number;
  /** operand layout, for docs and the disassembler */
  readonly form: string;
}

const ALU = ['ADD', 'SUB', 'MUL', 'DIV', 'MOD', 'AND', 'OR', 'XOR', 'SHL', 'SHR', 'SAR'] as const;
const BRANCH = ['BEQ', 'BNE', 'BLT', 'BLE', 'BGT', 'BGE'] as const;

function info(name: OpName, mnemonic: string, length: number, cycles: number, form: string): OpcodeInfo {
  return { op: Op[name], name, mnemonic, length, cycles, form };
}

const infos: OpcodeInfo[] = [
  info('ILLEGAL', '.word', 1, 0, '(faults on execution)'),
  info('NOP', 'nop', 1, 1, ''),
  info('MOVI', 'movi', 2, 1, 'A=rd; imm'),
  info('MOV', 'mov', 1, 1, 'A=rd B=rs'),
  ...ALU.map((n) => info(n, n.toLowerCase(), 1, 1, 'A=rd B=rs C=rt')),
  ...ALU.map((n) => info(`${n}I`, n.toLowerCase(), 2, 1, 'A=rd B=rs; imm')),
  info('LOAD', 'load', 2, 4, 'A=rd B=base; offset'),
  info('LOADA', 'load', 2, 4, 'A=rd; address'),
  info('STORE', 'store', 2, 4, 'B=base C=value; offset'),
  info('STOREI', 'store', 3, 4, 'B=base; offset; value'),
  info('STOREA', 'store', 2, 4, 'C=value; address'),
  info('STOREAI', 'store', 3, 4, 'address; value'),
  info('XADD', 'xadd', 2, 20, 'A=rd B=base C=rt; offset'),
  info('XADDA', 'xadd', 2, 20, 'A=rd C=rt; address'),
  info('XCHG', 'xchg', 2, 20, 'A=rd B=base C=rt; offset'),
  info('XCHGA', 'xchg', 2, 20, 'A=rd C=rt; address'),
  info('CMPXCHG', 'cmpxchg', 2, 20, 'A=rd B=base C=exchange D=comparand; offset'),
  info('CMPXCHGA', 'cmpxchg', 2, 20, 'A=rd C=exchange D=comparand; address'),
  info('JMP', 'jmp', 2, 1, 'target'),
  ...BRANCH.map((n) => info(n, n.toLowerCase(), 2, 1, 'A=ra B=rb; target')),
  ...BRANCH.map((n) => info(`${n}I`, n.toLowerCase(), 3, 1, 'A=ra; imm; target')),
  info('BEQZ', 'beqz', 2, 1, 'A=ra; target'),
  info('BNEZ', 'bnez', 2, 1, 'A=ra; target'),
  info('CALL', 'call', 2, 2, 'target'),
  info('CALLR', 'callr', 1, 2, 'A=rs (routine id)'),
  info('RET', 'ret', 1, 2, ''),
  info('PAUSE', 'pause', 1, 10, ''),
  info('WORK', 'work', 2, 0, 'n'),
  info('WORKR', 'work', 1, 0, 'A=rs'),
  info('KCALL', 'kcall', 2, 40, 'argc immMask; id; args...'),
  info('NATIVE', 'native', 2, 50, 'argc immMask; id; args...'),
  info('TRACE', 'trace', 2, 1, 'A=rs; tag'),
  info('TRACEI', 'trace', 3, 1, 'tag; value'),
];

/** Every opcode's description, indexed by opcode number. */
export const OPCODES: readonly OpcodeInfo[] = infos.sort((a, b) => a.op - b.op);

for (let i = 0; i < OPCODES.length; i++) {
  if (OPCODES[i]!.op !== i) throw new Error(`opcode table has a gap at ${i}`);
}

/** Base cycle cost by opcode (256 entries; unknown opcodes cost 0 and fault). */
export const CYCLE_COST: Uint16Array = new Uint16Array(256);
for (const entry of OPCODES) CYCLE_COST[entry.op] = entry.cycles;

export const OPCODE_MASK = 0xff;
export const FIELD_A_SHIFT = 8;
export const FIELD_B_SHIFT = 12;
export const FIELD_C_SHIFT = 16;
export const FIELD_D_SHIFT = 20;
export const ARGC_SHIFT = 8;
export const IMM_MASK_SHIFT = 12;
/** KCALL and NATIVE take at most this many arguments (argc is 4 bits, immMask 8 bits): KeWaitForMultipleObjects has 8. */
export const MAX_CALL_ARGS = 8;
/** The longest instruction: KCALL/NATIVE with MAX_CALL_ARGS arguments. */
export const MAX_INSTRUCTION_WORDS = 2 + MAX_CALL_ARGS;

/** Word 0 of an instruction from its opcode and register fields (0..15 each). */
export function encodeWord0(op: Opcode, a = 0, b = 0, c = 0, d = 0): number {
  return op | (a << FIELD_A_SHIFT) | (b << FIELD_B_SHIFT) | (c << FIELD_C_SHIFT) | (d << FIELD_D_SHIFT) | 0;
}

/** Word 0 of a KCALL or NATIVE. */
export function encodeCallWord0(op: typeof Op.KCALL | typeof Op.NATIVE, argc: number, immMask: number): number {
  return op | (argc << ARGC_SHIFT) | (immMask << IMM_MASK_SHIFT) | 0;
}

export function fieldA(word0: number): number {
  return (word0 >>> FIELD_A_SHIFT) & 15;
}
export function fieldB(word0: number): number {
  return (word0 >>> FIELD_B_SHIFT) & 15;
}
export function fieldC(word0: number): number {
  return (word0 >>> FIELD_C_SHIFT) & 15;
}
export function fieldD(word0: number): number {
  return (word0 >>> FIELD_D_SHIFT) & 15;
}
export function callArgCount(word0: number): number {
  return (word0 >>> ARGC_SHIFT) & 15;
}
export function callImmMask(word0: number): number {
  return (word0 >>> IMM_MASK_SHIFT) & 255;
}

/** Length in words of the instruction whose word 0 is given; 1 for an unknown opcode. */
export function instructionLength(word0: number): number {
  const op = word0 & OPCODE_MASK;
  if (op === Op.KCALL || op === Op.NATIVE) return 2 + callArgCount(word0);
  return op < OPCODES.length ? OPCODES[op]!.length : 1;
}
