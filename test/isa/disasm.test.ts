import { describe, expect, it } from 'vitest';
import { OPCODES, R0, R1, R2, R3, R4, R15, disassemble, disassembleRoutine, link, type RoutineBuilder } from '../../src/isa/index.js';
import { SYMBOLS } from './fake-host.js';

/** One routine that uses every opcode; the expected text of each instruction, in order. */
const EVERY_OPCODE: Array<[(a: RoutineBuilder) => void, string]> = [
  [(a) => a.nop(), 'nop'],
  [(a) => a.movi(R1, 5), 'movi r1, #5'],
  [(a) => a.movi(R1, 0x12345678), 'movi r1, #0x12345678'],
  [(a) => a.mov(R2, R15), 'mov r2, r15'],
  [(a) => a.add(R1, R2, R3), 'add r1, r2, r3'],
  [(a) => a.sub(R1, R2, R3), 'sub r1, r2, r3'],
  [(a) => a.mul(R1, R2, R3), 'mul r1, r2, r3'],
  [(a) => a.div(R1, R2, R3), 'div r1, r2, r3'],
  [(a) => a.mod(R1, R2, R3), 'mod r1, r2, r3'],
  [(a) => a.and(R1, R2, R3), 'and r1, r2, r3'],
  [(a) => a.or(R1, R2, R3), 'or r1, r2, r3'],
  [(a) => a.xor(R1, R2, R3), 'xor r1, r2, r3'],
  [(a) => a.shl(R1, R2, R3), 'shl r1, r2, r3'],
  [(a) => a.shr(R1, R2, R3), 'shr r1, r2, r3'],
  [(a) => a.sar(R1, R2, R3), 'sar r1, r2, r3'],
  [(a) => a.add(R1, R2, -1), 'add r1, r2, #-1'],
  [(a) => a.sub(R1, R2, 2), 'sub r1, r2, #2'],
  [(a) => a.mul(R1, R2, 3), 'mul r1, r2, #3'],
  [(a) => a.div(R1, R2, 4), 'div r1, r2, #4'],
  [(a) => a.mod(R1, R2, 5), 'mod r1, r2, #5'],
  [(a) => a.and(R1, R2, 0xff), 'and r1, r2, #255'],
  [(a) => a.or(R1, R2, 0x10000), 'or r1, r2, #0x10000'],
  [(a) => a.xor(R1, R2, 8), 'xor r1, r2, #8'],
  [(a) => a.shl(R1, R2, 9), 'shl r1, r2, #9'],
  [(a) => a.shr(R1, R2, 10), 'shr r1, r2, #10'],
  [(a) => a.sar(R1, R2, 11), 'sar r1, r2, #11'],
  [(a) => a.load(R1, R2, 8), 'load r1, [r2+8]'],
  [(a) => a.load(R1, a.var('Counter')), 'load r1, [0x100]'],
  [(a) => a.store(R2, -4, R3), 'store [r2-4], r3'],
  [(a) => a.store(R2, 0, 7), 'store [r2], #7'],
  [(a) => a.store(a.var('Flag'), 0, R3), 'store [0x108], r3'],
  [(a) => a.store(a.var('Table'), 4, -7), 'store [0x204], #-7'],
  [(a) => a.xadd(R0, R1, 0, R2), 'xadd r0, [r1], r2'],
  [(a) => a.xadd(R0, a.var('Counter'), 0, R2), 'xadd r0, [0x100], r2'],
  [(a) => a.xchg(R0, R1, 4, R2), 'xchg r0, [r1+4], r2'],
  [(a) => a.xchg(R0, a.lock('Spin'), 0, R2), 'xchg r0, [0x120], r2'],
  [(a) => a.cmpxchg(R0, R1, 0, R2, R3), 'cmpxchg r0, [r1], r2, r3'],
  [(a) => a.cmpxchg(R0, a.var('Lock'), 0, R2, R3), 'cmpxchg r0, [0x104], r2, r3'],
  [(a) => a.label('here').jmp('here'), 'jmp @HERE <Every+OFF>'],
  [(a) => a.beq(R1, R2, 'here'), 'beq r1, r2, @HERE <Every+OFF>'],
  [(a) => a.bne(R1, R2, 'here'), 'bne r1, r2, @HERE <Every+OFF>'],
  [(a) => a.blt(R1, R2, 'here'), 'blt r1, r2, @HERE <Every+OFF>'],
  [(a) => a.ble(R1, R2, 'here'), 'ble r1, r2, @HERE <Every+OFF>'],
  [(a) => a.bgt(R1, R2, 'here'), 'bgt r1, r2, @HERE <Every+OFF>'],
  [(a) => a.bge(R1, R2, 'here'), 'bge r1, r2, @HERE <Every+OFF>'],
  [(a) => a.beq(R1, 0, 'here'), 'beq r1, #0, @HERE <Every+OFF>'],
  [(a) => a.bne(R1, 1, 'here'), 'bne r1, #1, @HERE <Every+OFF>'],
  [(a) => a.blt(R1, 2, 'here'), 'blt r1, #2, @HERE <Every+OFF>'],
  [(a) => a.ble(R1, 3, 'here'), 'ble r1, #3, @HERE <Every+OFF>'],
  [(a) => a.bgt(R1, 4, 'here'), 'bgt r1, #4, @HERE <Every+OFF>'],
  [(a) => a.bge(R1, -5, 'here'), 'bge r1, #-5, @HERE <Every+OFF>'],
  [(a) => a.beqz(R4, 'here'), 'beqz r4, @HERE <Every+OFF>'],
  [(a) => a.bnez(R4, 'here'), 'bnez r4, @HERE <Every+OFF>'],
  [(a) => a.call('Helper'), 'call Helper'],
  [(a) => a.call('here'), 'call @HERE <Every+OFF>'],
  [(a) => a.callr(R3), 'callr r3'],
  [(a) => a.pause(), 'pause'],
  [(a) => a.work(100), 'work #100'],
  [(a) => a.work(R2), 'work r2'],
  [(a) => a.kcall('KeInsertQueueDpc', 3, R1, 0), 'kcall KeInsertQueueDpc, #3, r1, #0'],
  [(a) => a.kcall('KeGetCurrentIrql'), 'kcall KeGetCurrentIrql'],
  [(a) => a.native('Mix', R1, 2), 'native #7, r1, #2'],
  [(a) => a.trace(9, R2), 'trace #9, r2'],
  [(a) => a.trace(9, 12), 'trace #9, #12'],
  [(a) => a.ret(), 'ret'],
];

describe('the disassembler', () => {
  const program = link(
    [
      { name: 'Every', build: (a) => EVERY_OPCODE.forEach(([emit]) => void emit(a)) },
      { name: 'Helper', build: (a) => a.ret() },
    ],
    (kind, name) => SYMBOLS[kind]?.[name],
  );
  const every = program.routines[0]!;
  // 'here' labels the JMP: count the words before it
  const here = (() => {
    let pc = every.entry;
    for (const [, text] of EVERY_OPCODE) {
      if (text.startsWith('jmp')) return pc;
      pc += disassemble(program.code, pc).length;
    }
    throw new Error('no jmp');
  })();

  it('disassembly of every opcode', () => {
    const seen = new Set<string>();
    let pc = every.entry;
    for (const [, expected] of EVERY_OPCODE) {
      const { text, length } = disassemble(program.code, pc, program.routines);
      expect(text).toBe(expected.replace('HERE', String(here)).replace('OFF', String(here - every.entry)));
      seen.add(OPCODES[program.code[pc]! & 0xff]!.name);
      pc += length;
    }
    expect(pc).toBe(every.end);
    // every opcode but ILLEGAL was exercised
    expect([...seen].sort()).toEqual(
      OPCODES.filter((o) => o.name !== 'ILLEGAL')
        .map((o) => o.name)
        .sort(),
    );
  });

  it('prints targets without routine names when no routine list is given', () => {
    expect(disassemble(program.code, here).text).toBe(`jmp @${here}`);
  });

  it('prints undecodable words as .word', () => {
    expect(disassemble(program.code, 0)).toEqual({ text: '.word 0x0', length: 1 });
    expect(disassemble(new Int32Array([0xfe]), 0)).toEqual({ text: '.word 0xfe', length: 1 });
    // a KCALL whose arguments run past the image
    expect(disassemble(new Int32Array([59 | (3 << 8), 1]), 0).text).toMatch(/^\.word/);
  });

  it('disassembleRoutine lists a routine with its pcs and marks one', () => {
    const p = link([{ name: 'Isr', build: (a) => a.movi(R1, 1).kcall('KeLowerIrql', R1).ret(0) }], () => undefined);
    const r = p.routines[0]!;
    expect(disassembleRoutine(p.code, r, p.routines, r.entry + 2)).toBe(
      ['Isr:', '       1  movi r1, #1', '=>     3  kcall KeLowerIrql, r1', '       6  movi r0, #0', '       8  ret'].join('\n'),
    );
  });
});
