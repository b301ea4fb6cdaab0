import { describe, expect, it } from 'vitest';
import {
  BuildError,
  IMAGE_HEADER_WORDS,
  Interpreter,
  LinkError,
  MAX_INSTRUCTION_WORDS,
  Op,
  R0,
  R1,
  R2,
  STEP_OK,
  STEP_RETURNED,
  disassemble,
  enterRoutine,
  link,
  type KernelCallName,
  type Reg,
  type RoutineBuilder,
  type RoutineSource,
} from '../../src/isa/index.js';
import { ContextField } from '../../src/shm/layout.js';
import { FakeHost, SYMBOLS } from './fake-host.js';

const resolve = (kind: Parameters<Parameters<typeof link>[1]>[0], name: string) => SYMBOLS[kind]?.[name];
const linkOne = (name: string, build: (a: RoutineBuilder) => void) => link([{ name, build }], resolve);

describe('the builder', () => {
  it('the builder rejects a kernel call with the wrong number of arguments', () => {
    expect(() => linkOne('StormIsr', (a) => a.kcall('KeInsertQueueDpc', a.dpc('Warm')))).toThrow(BuildError);
    expect(() => linkOne('StormIsr', (a) => a.kcall('KeInsertQueueDpc', a.dpc('Warm')))).toThrow(
      "routine 'StormIsr': kcall KeInsertQueueDpc takes 3 arguments (dpc, systemArgument1, systemArgument2), got 1",
    );
    expect(() => linkOne('X', (a) => a.kcall('KeGetCurrentIrql', 1))).toThrow("routine 'X': kcall KeGetCurrentIrql takes no arguments, got 1");
  });

  it('rejects an unknown kernel call name', () => {
    expect(() => linkOne('X', (a) => a.kcall('KeFrobnicate' as KernelCallName))).toThrow("routine 'X': unknown kernel call 'KeFrobnicate'");
  });

  it('rejects a number where a register belongs', () => {
    expect(() => linkOne('X', (a) => a.mov(R1, 3 as unknown as Reg))).toThrow("routine 'X': mov expects a register (R0..R15), got 3");
    // a look-alike object is not a register either
    expect(() => linkOne('X', (a) => a.mov({ index: 1, name: 'r1' } as unknown as Reg, R2))).toThrow(BuildError);
  });

  it('rejects immediates that do not fit 32 bits', () => {
    expect(() => linkOne('X', (a) => a.movi(R1, 2 ** 32))).toThrow(/32-bit integer/);
    expect(() => linkOne('X', (a) => a.movi(R1, 1.5))).toThrow(/32-bit integer/);
    // uint32 immediates are accepted and stored as int32
    const p = linkOne('X', (a) => a.movi(R1, 0xffffffff));
    expect(p.code[p.routines[0]!.entry + 1]).toBe(-1);
  });

  it('rejects a label defined twice and native calls with more than eight arguments', () => {
    expect(() => linkOne('X', (a) => a.label('l').label('l'))).toThrow("routine 'X': label 'l' is defined twice");
    expect(() => linkOne('X', (a) => a.native('Mix', 1, 2, 3, 4, 5, 6, 7, 8, 9))).toThrow(/at most 8 arguments/);
  });

  it('records instructions with symbolic operands until link', () => {
    const seen: Array<{ word0: number; slots: readonly unknown[] }> = [];
    const p = linkOne('Y', (a) => {
      a.movi(R1, a.dpc('Warm'));
      a.load(R2, a.var('Table', 4), 8);
      seen.push(...a.instructions);
    });
    expect(seen[0]!.slots).toEqual([{ sym: 'dpc', name: 'Warm' }]);
    expect(seen[1]!.slots).toEqual([{ sym: 'var', name: 'Table', offset: 12 }]);
    expect(p.code[p.routines[0]!.entry + 3]).toBe(0x20c);
  });
});

describe('the linker', () => {
  it('link rejects an unknown DPC with a line naming the routine and the symbol', () => {
    expect(() => linkOne('StormIsr', (a) => a.kcall('KeInsertQueueDpc', a.dpc('Foo'), 0, 0))).toThrow(new LinkError("routine 'StormIsr': unknown DPC 'Foo'"));
  });

  it('names the kind of every unresolved symbol', () => {
    expect(() => linkOne('X', (a) => a.load(R1, a.var('Nope')))).toThrow("routine 'X': unknown variable 'Nope'");
    expect(() => linkOne('X', (a) => a.movi(R1, a.routine('Nope')))).toThrow("routine 'X': unknown routine 'Nope'");
    expect(() => linkOne('X', (a) => a.native('Nope'))).toThrow("routine 'X': unknown native routine 'Nope'");
    expect(() => linkOne('X', (a) => a.movi(R1, a.mutex('M')))).toThrow("routine 'X': unknown mutex 'M'");
  });

  it('rejects a jump to an undefined label', () => {
    expect(() => linkOne('X', (a) => a.label('top').jmp('loop'))).toThrow(new LinkError("routine 'X': label 'loop' is not defined"));
  });

  it('rejects a call to an unknown routine', () => {
    expect(() => linkOne('X', (a) => a.call('Y'))).toThrow(new LinkError("routine 'X': call to unknown routine 'Y'"));
  });

  it('rejects duplicate routine names', () => {
    const r: RoutineSource = { name: 'Same', build: (a) => a.ret() };
    expect(() => link([r, r], resolve)).toThrow(new LinkError("routine 'Same' is defined twice"));
  });

  it('appends RET to a routine that can run off its end, and only then', () => {
    const p = link(
      [
        { name: 'Empty', build: () => {} },
        { name: 'NoRet', build: (a) => a.movi(R1, 1) },
        { name: 'Returns', build: (a) => a.ret(5) },
        { name: 'Loops', build: (a) => a.label('x').work(1).jmp('x') },
        { name: 'LabelAtEnd', build: (a) => a.beqz(R1, 'end').jmp('end').label('end') },
      ],
      resolve,
    );
    const last = (i: number) => {
      const r = p.routines[i]!;
      let pc = r.entry;
      let text = '';
      while (pc < r.end) {
        const d = disassemble(p.code, pc);
        text = d.text;
        pc += d.length;
      }
      return [r.end - r.entry, text];
    };
    expect(last(0)).toEqual([1, 'ret']);
    expect(last(1)).toEqual([3, 'ret']);
    expect(last(2)).toEqual([3, 'ret']);
    expect(last(3)).toEqual([4, `jmp @${p.routines[3]!.entry}`]);
    expect(last(4)).toEqual([5, 'ret']);
  });

  it('lays routines out after the ILLEGAL guard word and maps pcs back to routines', () => {
    const p = link(
      [
        { name: 'A', build: (a) => a.nop().ret() },
        { name: 'B', build: (a) => a.movi(R1, 1).ret() },
      ],
      resolve,
    );
    expect(p.code[0]).toBe(Op.ILLEGAL);
    expect(p.routines).toEqual([
      { name: 'A', index: 0, entry: IMAGE_HEADER_WORDS, end: IMAGE_HEADER_WORDS + 2 },
      { name: 'B', index: 1, entry: IMAGE_HEADER_WORDS + 2, end: IMAGE_HEADER_WORDS + 5 },
    ]);
    expect(p.code.length).toBe(IMAGE_HEADER_WORDS + 5 + MAX_INSTRUCTION_WORDS);
    expect(p.routineByName('B')).toBe(1);
    expect(p.routineByName('C')).toBeUndefined();
    expect([0, 1, 2, 3, 5, 6, 99].map((pc) => p.routineAt(pc))).toEqual([-1, 0, 0, 1, 1, -1, -1]);
  });

  it('resolves routine symbols to routine ids and calls to routine entries', () => {
    const p = link(
      [
        { name: 'Main', build: (a) => a.kcall('KeIpiGenericCall', a.routine('Worker'), 0).call('Worker').ret() },
        { name: 'Worker', build: (a) => a.ret(R0) },
      ],
      resolve,
    );
    const entry = p.routines[0]!.entry;
    expect(p.code[entry + 2]).toBe(1); // the routine id, not its entry
    expect(p.code[entry + 5]).toBe(p.routines[1]!.entry);
  });

  it('links into a SharedArrayBuffer view at an offset and runs from there', () => {
    const shared = new Int32Array(new SharedArrayBuffer(4096));
    shared.fill(-1);
    const p = link([{ name: 'Main', build: (a) => a.movi(R1, 40).add(R1, R1, 2).ret(R1) }], resolve, {
      buffer: shared,
      offset: 100,
    });
    expect(p.code.buffer).toBe(shared.buffer);
    expect(p.code.byteOffset).toBe(400);
    expect(shared[99]).toBe(-1);
    expect(shared[100]).toBe(Op.ILLEGAL);
    const memory = new Int32Array(0x1000);
    const ctx = new Int32Array(ContextField.WORDS);
    enterRoutine(ctx, 0, p.routines[0]!.entry, 0, 0x4000, 0x3000, [], memory);
    const interp = new Interpreter(p.code, memory, new FakeHost(4));
    let status = STEP_OK;
    while (status === STEP_OK) status = interp.step(ctx, 0);
    expect(status).toBe(STEP_RETURNED);
    expect(ctx[ContextField.R0]).toBe(42);
  });

  it('rejects a program that does not fit the buffer it is linked into', () => {
    const buffer = new Int32Array(16);
    expect(() => link([{ name: 'Big', build: (a) => a.work(1).work(2).work(3).work(4).work(5) }], resolve, { buffer, offset: 4 })).toThrow(
      new LinkError('the program needs 22 words but only 12 fit at offset 4'),
    );
  });
});
