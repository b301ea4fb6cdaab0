import { describe, expect, it } from 'vitest';
import { ContextField } from '../../src/shm/layout.js';
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CHECK_RETRY,
  Interpreter,
  KC,
  KCALL_DONE,
  KCALL_RETRY,
  KCALL_YIELD,
  OPCODES,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  RETURN_TO_KERNEL,
  STEP_OK,
  STEP_RETRY,
  STEP_RETURNED,
  STEP_YIELD,
  enterRoutine,
  link,
  type RoutineBuilder,
} from '../../src/isa/index.js';
import { BASE, FakeHost, HostFault, STACK_LIMIT, STACK_TOP, rig } from './fake-host.js';

const one = (build: (a: RoutineBuilder) => void) => [{ name: 'Main', build }];

describe('arithmetic and moves', () => {
  it('a plain load/add/store sequence increments memory', () => {
    const t = rig(
      one((a) => {
        a.load(R1, a.var('Counter'));
        a.add(R1, R1, 1);
        a.store(a.var('Counter'), 0, R1);
        a.ret();
      }),
    );
    t.memory[0x100 >> 2] = 41;
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.word(0x100)).toBe(42);
  });

  it('register and immediate ALU forms wrap to int32 like the hardware', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 0x7fffffff);
        a.add(R2, R1, 1); // wraps to INT_MIN
        a.movi(R3, -8);
        a.shr(R4, R3, 28); // logical: zero fill
        a.sar(R5, R3, 1); // arithmetic: sign fill
        a.mul(R6, R1, R1);
        a.ret();
      }),
    );
    t.run();
    expect(t.reg(2)).toBe(-0x80000000);
    expect(t.reg(4)).toBe(0xf);
    expect(t.reg(5)).toBe(-4);
    expect(t.reg(6)).toBe(Math.imul(0x7fffffff, 0x7fffffff));
  });

  it('every ALU operation computes the C result with registers and immediates alike', () => {
    const cases: Array<
      [keyof RoutineBuilder & ('add' | 'sub' | 'mul' | 'div' | 'mod' | 'and' | 'or' | 'xor' | 'shl' | 'shr' | 'sar'), number, number, number]
    > = [
      ['add', 5, 3, 8],
      ['sub', 5, 7, -2],
      ['mul', -6, 7, -42],
      ['div', -7, 2, -3],
      ['mod', -7, 2, -1],
      ['and', 0b1100, 0b1010, 0b1000],
      ['or', 0b1100, 0b1010, 0b1110],
      ['xor', 0b1100, 0b1010, 0b0110],
      ['shl', 1, 31, -0x80000000],
      ['shr', -1, 1, 0x7fffffff],
      ['sar', -16, 2, -4],
    ];
    for (const [op, x, y, expected] of cases) {
      const t = rig(
        one((a) => {
          a.movi(R1, x).movi(R2, y);
          (a[op] as (rd: typeof R0, rs: typeof R0, rt: typeof R0 | number) => RoutineBuilder)(R3, R1, R2);
          (a[op] as (rd: typeof R0, rs: typeof R0, rt: typeof R0 | number) => RoutineBuilder)(R4, R1, y);
          a.ret();
        }),
      );
      t.run();
      expect([op, t.reg(3), t.reg(4)]).toEqual([op, expected, expected]);
    }
  });

  it('mov copies a register and movi loads a symbol address', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, a.var('Table', 8));
        a.mov(R2, R1);
        a.ret();
      }),
    );
    t.run();
    expect(t.reg(2)).toBe(0x208);
  });

  it('division by zero is an arithmetic fault', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 10).movi(R2, 0).div(R3, R1, R2).ret();
      }),
    );
    expect(() => t.run()).toThrow(HostFault);
    expect(t.host.faults[0]).toMatchObject({ kind: 'arithmetic fault', pc: t.program.routines[0]!.entry + 4 });
  });

  it('a fault the host returns from leaves the instruction without effect', () => {
    const t = rig(
      one((a) => {
        a.movi(R3, 99).mod(R3, R3, 0).ret(R3);
      }),
    );
    t.host.throwOnFault = false;
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.reg(0)).toBe(99);
    expect(t.host.faults.map((f) => f.kind)).toEqual(['arithmetic fault']);
  });
});

describe('memory', () => {
  it('loads and stores address through a register plus offset and through absolute addresses', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, a.var('Table'));
        a.store(R1, 12, 77); // [0x20c] = 77
        a.movi(R2, -5);
        a.store(R1, -4, R2); // [0x1fc] = -5
        a.load(R3, a.var('Table'), 12);
        a.store(0x300, 0, R3);
        a.store(a.var('Flag'), 0, 1);
        a.load(R4, R1, -4);
        a.ret();
      }),
    );
    t.run();
    expect(t.word(0x20c)).toBe(77);
    expect(t.word(0x1fc)).toBe(-5);
    expect(t.word(0x300)).toBe(77);
    expect(t.word(0x108)).toBe(1);
    expect(t.reg(4)).toBe(-5);
  });

  it('a misaligned access is a memory fault with the address and access kind', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 0x102).store(R1, 0, 5).ret();
      }),
    );
    expect(() => t.run()).toThrow(/memory fault/);
    expect(t.host.faults[0]).toMatchObject({ address: 0x102, access: ACCESS_WRITE });
  });

  it('an access outside memory is a memory fault, including negative addresses', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, -4).load(R2, R1, 0).load(R3, 0x10000).ret();
      }),
    );
    t.host.throwOnFault = false;
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.host.faults).toEqual([
      expect.objectContaining({ address: -4, access: ACCESS_READ }),
      expect.objectContaining({ address: 0x10000, access: ACCESS_READ }),
    ]);
  });

  it('an access to a flagged page goes through checkAccess', () => {
    const t = rig(
      one((a) => {
        a.load(R1, a.var('Counter')); // page 0: unflagged
        a.load(R2, a.var('Paged')); // page 3: flagged
        a.store(a.var('Paged'), 4, R2);
        a.ret();
      }),
    );
    t.host.pageFlags[3] = 1;
    t.memory[0x3000 >> 2] = 5;
    t.run();
    expect(t.host.checks).toEqual([
      { address: 0x3000, access: ACCESS_READ, pc: t.program.routines[0]!.entry + 2 },
      { address: 0x3004, access: ACCESS_WRITE, pc: t.program.routines[0]!.entry + 4 },
    ]);
    expect(t.word(0x3004)).toBe(5);
  });

  it('checkAccess asking for a retry leaves pc on the instruction and charges its cycles', () => {
    const t = rig(
      one((a) => {
        a.load(R2, a.var('Paged')).ret(R2);
      }),
    );
    t.host.pageFlags[3] = 1;
    t.memory[0x3000 >> 2] = 8;
    t.host.checkAnswers.push(CHECK_RETRY);
    const entry = t.program.routines[0]!.entry;
    expect(t.interp.step(t.ctx, BASE)).toBe(STEP_RETRY);
    expect(t.pc()).toBe(entry);
    expect(t.interp.cycles).toBe(4);
    expect(t.reg(2)).toBe(0);
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.reg(0)).toBe(8);
  });
});

describe('interlocked operations', () => {
  it('XADD returns the old value and adds', () => {
    const t = rig(
      one((a) => {
        a.movi(R2, 5).xadd(R1, a.var('Counter'), 0, R2).ret();
      }),
    );
    t.memory[0x100 >> 2] = 10;
    t.run();
    expect(t.reg(1)).toBe(10);
    expect(t.word(0x100)).toBe(15);
  });

  it('XCHG swaps a register with memory', () => {
    const t = rig(
      one((a) => {
        a.movi(R3, a.lock('Spin')).movi(R2, 1).xchg(R1, R3, 0, R2).ret();
      }),
    );
    t.memory[0x120 >> 2] = 7;
    t.run();
    expect(t.reg(1)).toBe(7);
    expect(t.word(0x120)).toBe(1);
  });

  it('CMPXCHG swaps only when the comparand matches', () => {
    const t = rig(
      one((a) => {
        a.movi(R2, 1); // exchange
        a.movi(R3, 0); // comparand
        a.cmpxchg(R1, a.var('Lock'), 0, R2, R3); // 0 → 1: swaps
        a.movi(R2, 2);
        a.cmpxchg(R4, a.var('Lock'), 0, R2, R3); // 1 ≠ 0: no swap
        a.movi(R5, a.var('Lock'));
        a.movi(R3, 1);
        a.cmpxchg(R6, R5, 0, R2, R3); // 1 → 2: swaps
        a.ret();
      }),
    );
    t.run();
    expect(t.reg(1)).toBe(0);
    expect(t.reg(4)).toBe(1);
    expect(t.reg(6)).toBe(1);
    expect(t.word(0x104)).toBe(2);
  });

  it('interlocked operations work on a SharedArrayBuffer memory', () => {
    const t = rig(
      one((a) => {
        a.movi(R2, 3).xadd(R1, a.var('Counter'), 0, R2).ret();
      }),
      { memory: new Int32Array(new SharedArrayBuffer(0x10000)) },
    );
    t.run();
    expect(Atomics.load(t.memory, 0x100 >> 2)).toBe(3);
  });
});

describe('control flow', () => {
  it('each branch takes and falls through on the signed comparison', () => {
    const conds: Array<['beq' | 'bne' | 'blt' | 'ble' | 'bgt' | 'bge', (x: number, y: number) => boolean]> = [
      ['beq', (x, y) => x === y],
      ['bne', (x, y) => x !== y],
      ['blt', (x, y) => x < y],
      ['ble', (x, y) => x <= y],
      ['bgt', (x, y) => x > y],
      ['bge', (x, y) => x >= y],
    ];
    for (const [name, holds] of conds) {
      for (const [x, y] of [
        [1, 2],
        [2, 2],
        [-3, 2],
        [5, -7],
      ] as const) {
        for (const immediate of [false, true]) {
          const t = rig(
            one((a) => {
              a.movi(R1, x).movi(R2, y);
              a[name](R1, immediate ? y : R2, 'yes');
              a.ret(0);
              a.label('yes').ret(1);
            }),
          );
          t.run();
          expect([name, x, y, immediate, t.reg(0)]).toEqual([name, x, y, immediate, holds(x, y) ? 1 : 0]);
        }
      }
    }
  });

  it('a counted loop runs with jmp, beqz and bnez', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 10).movi(R2, 0);
        a.label('top');
        a.beqz(R1, 'out');
        a.add(R2, R2, R1);
        a.sub(R1, R1, 1);
        a.jmp('top');
        a.label('out');
        a.bnez(R2, 'done');
        a.movi(R2, -1);
        a.label('done');
        a.ret(R2);
      }),
    );
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.reg(0)).toBe(55);
  });

  it('RET to RETURN_TO_KERNEL reports RETURNED with r0 as the return value', () => {
    const t = rig(
      one((a) => {
        a.ret(1234);
      }),
    );
    expect(t.word(STACK_TOP - 4)).toBe(RETURN_TO_KERNEL);
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.reg(0)).toBe(1234);
    expect(t.sp()).toBe(STACK_TOP);
  });

  it('call/ret nest through the emulated stack', () => {
    const t = rig([
      {
        name: 'Main',
        build: (a) => {
          a.movi(R1, 1);
          a.call('Outer');
          a.add(R1, R1, 1000);
          a.ret(R1);
        },
      },
      {
        name: 'Outer',
        build: (a) => {
          a.add(R1, R1, 10);
          a.call('Inner');
          a.add(R1, R1, 10);
          a.ret();
        },
      },
      {
        name: 'Inner',
        build: (a) => {
          a.add(R1, R1, 100);
          a.call('helper'); // a local label wins over routine names
          a.ret();
          a.label('helper');
          a.trace(1, 0);
          a.ret();
        },
      },
    ]);
    const main = t.program.routines[0]!;
    const outer = t.program.routines[1]!;
    let deepest = STACK_TOP;
    for (;;) {
      const status = t.interp.step(t.ctx, BASE);
      deepest = Math.min(deepest, t.sp());
      if (status !== STEP_OK) break;
    }
    expect(t.reg(0)).toBe(1121);
    expect(deepest).toBe(STACK_TOP - 16); // kernel marker + three return addresses
    expect(t.word(STACK_TOP - 8)).toBe(main.entry + 4); // return into Main after its CALL
    expect(t.word(STACK_TOP - 12)).toBe(outer.entry + 4); // return into Outer
    expect(t.sp()).toBe(STACK_TOP);
    expect(t.host.traces).toHaveLength(1);
  });

  it('CALLR calls the routine whose id a register holds', () => {
    const t = rig([
      {
        name: 'Main',
        build: (a) => {
          a.movi(R5, a.routine('Twice'));
          a.movi(R1, 21);
          a.callr(R5);
          a.ret();
        },
      },
      { name: 'Twice', build: (a) => a.add(R0, R1, R1).ret() },
    ]);
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.reg(0)).toBe(42);
  });

  it('CALLR to an unknown routine id is an execute fault', () => {
    const t = rig(one((a) => a.movi(R5, 99).callr(R5).ret()));
    expect(() => t.run()).toThrow(HostFault);
    expect(t.host.faults[0]).toMatchObject({ address: 99, access: ACCESS_EXECUTE });
  });

  it('stack overflow is reported', () => {
    const t = rig(one((a) => a.label('again').call('again')));
    expect(() => t.run()).toThrow(/stack overflow/);
    // every word from the limit up was used before the push that would go below it
    expect(t.sp()).toBe(STACK_LIMIT);
    expect(t.host.faults).toEqual([expect.objectContaining({ kind: 'stack overflow' })]);
  });

  it('a pc outside the code is an execute fault', () => {
    const t = rig(one((a) => a.ret()));
    t.ctx[BASE + ContextField.PC] = 1_000_000;
    expect(() => t.interp.step(t.ctx, BASE)).toThrow(HostFault);
    expect(t.host.faults[0]).toMatchObject({ address: 4_000_000, access: ACCESS_EXECUTE, pc: 1_000_000 });
  });

  it('a context whose pc was never set faults on the ILLEGAL word at pc 0', () => {
    const t = rig(one((a) => a.ret()));
    t.ctx[BASE + ContextField.PC] = 0;
    expect(() => t.interp.step(t.ctx, BASE)).toThrow(HostFault);
    expect(t.host.faults[0]).toMatchObject({ address: 0, access: ACCESS_EXECUTE, pc: 0 });
  });
});

describe('kernel calls, native calls, trace, work', () => {
  it('a KCALL passes register and immediate arguments and its result in r0', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 55);
        a.kcall('KeInsertQueueDpc', a.dpc('Cold'), R1, 0);
        a.ret(R0);
      }),
    );
    t.host.onKernelCall = (_id, _args, _argc, ctx, base) => {
      ctx[base + ContextField.R0] = 1;
      return KCALL_DONE;
    };
    expect(t.run()).toBe(STEP_RETURNED);
    expect(t.host.kcalls).toEqual([{ id: KC.KeInsertQueueDpc, args: [4, 55, 0], pc: t.program.routines[0]!.entry + 2 }]);
    expect(t.reg(0)).toBe(1);
  });

  it('a KCALL that returns RETRY leaves pc on the same instruction', () => {
    const t = rig(one((a) => a.kcall('KeRaiseIrqlToDpcLevel').ret(R0)));
    let spins = 3;
    t.host.onKernelCall = () => (spins-- > 0 ? KCALL_RETRY : KCALL_DONE);
    const entry = t.program.routines[0]!.entry;
    for (let i = 0; i < 3; i++) {
      expect(t.interp.step(t.ctx, BASE)).toBe(STEP_RETRY);
      expect(t.pc()).toBe(entry);
    }
    expect(t.interp.cycles).toBe(120);
    expect(t.interp.step(t.ctx, BASE)).toBe(STEP_OK);
    expect(t.pc()).toBe(entry + 2);
  });

  it('a KCALL that returns YIELD advances pc and stops the context', () => {
    const t = rig(one((a) => a.kcall('KeLowerIrql', 0).ret()));
    t.host.onKernelCall = () => KCALL_YIELD;
    expect(t.interp.step(t.ctx, BASE)).toBe(STEP_YIELD);
    expect(t.pc()).toBe(t.program.routines[0]!.entry + 3);
  });

  it('a host that rewrites PC during a KCALL keeps its value', () => {
    const t = rig(one((a) => a.kcall('KeBugCheckEx', 1, 2, 3, 4, 5).ret()));
    t.host.onKernelCall = (_id, _args, _argc, ctx, base) => {
      ctx[base + ContextField.PC] = 777;
      return KCALL_YIELD;
    };
    t.interp.step(t.ctx, BASE);
    expect(t.pc()).toBe(777);
    expect(t.host.kcalls[0]!.args).toEqual([1, 2, 3, 4, 5]);
  });

  it('NATIVE resolves its id and passes six arguments', () => {
    const t = rig(
      one((a) => {
        a.movi(R2, -2);
        a.native('Mix', 1, R2, 3, R2, 5, a.var('Counter'));
        a.ret();
      }),
    );
    t.run();
    expect(t.host.natives).toEqual([{ id: 7, args: [1, -2, 3, -2, 5, 0x100], pc: t.program.routines[0]!.entry + 2 }]);
    expect(t.interp.cycles).toBe(1 + 50 + 2);
  });

  it('TRACE reports a tag and a register or immediate value with its pc', () => {
    const t = rig(
      one((a) => {
        a.movi(R3, 17).trace(5, R3).trace(6, -1).trace(7).ret();
      }),
    );
    t.run();
    const entry = t.program.routines[0]!.entry;
    expect(t.host.traces).toEqual([
      { tag: 5, value: 17, pc: entry + 2 },
      { tag: 6, value: -1, pc: entry + 4 },
      { tag: 7, value: 0, pc: entry + 7 },
    ]);
  });

  it('instructions charge the cycle costs of the opcode table, WORK its count', () => {
    const t = rig(
      one((a) => {
        a.movi(R1, 1000); // 1
        a.work(250); // 250
        a.work(R1); // 1000
        a.pause(); // 10
        a.load(R2, a.var('Counter')); // 4
        a.xadd(R2, a.var('Counter'), 0, R1); // 20
        a.ret(); // 2
      }),
    );
    t.run();
    expect(t.interp.cycles).toBe(1 + 250 + 1000 + 10 + 4 + 20 + 2);
    expect(t.interp.instructions).toBe(7);
    expect(OPCODES.map((o) => [o.name, o.cycles]).filter(([n]) => ['KCALL', 'NATIVE', 'CALL', 'RET', 'TRACE'].includes(n as string))).toEqual([
      ['CALL', 2],
      ['RET', 2],
      ['KCALL', 40],
      ['NATIVE', 50],
      ['TRACE', 1],
    ]);
  });
});

describe('WORK stops at the cycle limit so interrupts can land inside it', () => {
  it('a burn longer than the budget stays at its PC with the rest in WORK_LEFT, then completes for the same total', () => {
    const t = rig(
      one((a) => {
        a.work(2500);
        a.ret();
      }),
    );
    const start = t.pc();
    t.interp.cycleLimit = 1000;
    expect(t.interp.step(t.ctx, BASE)).toBe(STEP_OK);
    expect(t.pc(), 'still on the WORK').toBe(start);
    expect(t.interp.cycles).toBe(1000);
    expect(t.ctx[BASE + ContextField.WORK_LEFT]).toBe(1500);
    t.interp.cycleLimit = 2000;
    t.interp.step(t.ctx, BASE);
    expect(t.pc()).toBe(start);
    t.interp.cycleLimit = Infinity;
    t.interp.step(t.ctx, BASE);
    expect(t.pc(), 'done: past the WORK').toBe(start + 2);
    expect(t.ctx[BASE + ContextField.WORK_LEFT]).toBe(0);
    expect(t.interp.cycles, 'the same cycles as one uninterrupted WORK').toBe(2500);
  });
});

describe('enterRoutine', () => {
  it('sets PC, ROUTINE and the stack, pushes RETURN_TO_KERNEL and loads arguments into r1…', () => {
    const program = link(
      [
        { name: 'A', build: (a) => a.ret() },
        { name: 'B', build: (a) => a.ret(R3) },
      ],
      () => undefined,
    );
    const memory = new Int32Array(0x4000);
    const ctx = new Int32Array(ContextField.WORDS).fill(-9);
    enterRoutine(ctx, 0, program.routines[1]!.entry, 1, 0x8000, 0x7000, [10, 20, 30], memory);
    expect(ctx[ContextField.PC]).toBe(program.routines[1]!.entry);
    expect(ctx[ContextField.ROUTINE]).toBe(1);
    expect(ctx[ContextField.SP]).toBe(0x7ffc);
    expect(ctx[ContextField.STACK_LIMIT]).toBe(0x7000);
    expect(memory[0x7ffc >> 2]).toBe(RETURN_TO_KERNEL);
    expect(Array.from(ctx.subarray(ContextField.R0, ContextField.R0 + 6))).toEqual([0, 10, 20, 30, 0, 0]);
    const host = new FakeHost(16);
    const interp = new Interpreter(program.code, memory, host);
    expect(interp.step(ctx, 0)).toBe(STEP_OK); // mov r0, r3
    expect(interp.step(ctx, 0)).toBe(STEP_RETURNED);
    expect(ctx[ContextField.R0]).toBe(30);
  });

  it('rejects a stack top that is misaligned or outside memory', () => {
    const memory = new Int32Array(0x400);
    const ctx = new Int32Array(ContextField.WORDS);
    expect(() => enterRoutine(ctx, 0, 1, 0, 0x802, 0x700, [], memory)).toThrow(RangeError);
    expect(() => enterRoutine(ctx, 0, 1, 0, 0x2000, 0x700, [], memory)).toThrow(RangeError);
  });

  it('the interpreter refuses page flags that do not cover memory', () => {
    const program = link([{ name: 'A', build: (a) => a.ret() }], () => undefined);
    expect(() => new Interpreter(program.code, new Int32Array(0x4000), new FakeHost(2))).toThrow(/pageFlags/);
  });
});

describe("stepStraight: the run loop's stretch of plain instructions", () => {
  const addsThenTrace = one((a) => {
    a.add(R1, R1, 1);
    a.add(R1, R1, 1);
    a.trace(1, 0);
    a.add(R1, R1, 1);
    a.ret();
  });

  it('stops after the first step that calls the host, and counts that call', () => {
    const t = rig(addsThenTrace);
    expect(t.interp.stepStraight(t.ctx, BASE, 100, Number.POSITIVE_INFINITY)).toBe(STEP_OK);
    expect(t.interp.stepsTaken).toBe(3);
    expect(t.interp.hostCalls).toBe(1);
    expect(t.host.traces).toHaveLength(1);
    expect(t.reg(1)).toBe(2);
  });

  it('stops at maxSteps and at the cycle limit', () => {
    const t = rig(addsThenTrace);
    t.interp.stepStraight(t.ctx, BASE, 1, Number.POSITIVE_INFINITY);
    expect(t.interp.stepsTaken).toBe(1);
    expect(t.reg(1)).toBe(1);
    t.interp.stepStraight(t.ctx, BASE, 100, t.interp.cycles);
    expect(t.interp.stepsTaken).toBe(0);
    expect(t.reg(1)).toBe(1);
  });

  it('counts every host call that may change the host: a kernel call, a fault it returns from, a checked page', () => {
    const t = rig(
      one((a) => {
        a.kcall('KeRaiseIrqlToDpcLevel');
        a.movi(R3, 9).mod(R3, R3, 0);
        a.load(R2, a.var('Paged'));
        a.ret();
      }),
    );
    t.host.throwOnFault = false;
    t.host.pageFlags[3] = 1;
    const counts: number[] = [];
    while (t.interp.step(t.ctx, BASE) === STEP_OK) counts.push(t.interp.hostCalls);
    expect(counts).toEqual([1, 1, 2, 3]);
  });

  it('returns the first status other than STEP_OK with the step that gave it counted', () => {
    const t = rig(one((a) => a.add(R1, R1, 1).ret()));
    expect(t.interp.stepStraight(t.ctx, BASE, 100, Number.POSITIVE_INFINITY)).toBe(STEP_RETURNED);
    expect(t.interp.stepsTaken).toBe(2);
    expect(t.interp.hostCalls).toBe(0);
  });
});
