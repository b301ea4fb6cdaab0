import { expect, it } from 'vitest';
import { R1, R2, R3, STEP_OK, STEP_RETURNED } from '../../src/isa/index.js';
import { BASE, rig } from './fake-host.js';

// Measures, does not assert: the host may be loaded. The target is >= 30M simple instructions/s.
it('runs simple instructions fast (prints instructions/s)', () => {
  const iterations = 2_000_000;
  const t = rig([
    {
      name: 'Spin',
      build: (a) => {
        a.movi(R1, 0).movi(R2, iterations);
        a.label('top');
        a.add(R1, R1, 1);
        a.xor(R3, R1, R2);
        a.load(R3, a.var('Counter'));
        a.store(a.var('Counter'), 0, R1);
        a.blt(R1, R2, 'top');
        a.ret(R1);
      },
    },
  ]);
  // locals only: under vitest every imported name is a getter call
  const { interp, ctx } = t;
  const base = BASE;
  const ok = STEP_OK;
  const run = () => {
    let status = ok;
    while (status === ok) status = interp.step(ctx, base);
    return status;
  };
  run(); // warm up the JIT
  t.enter('Spin');
  const before = t.interp.instructions;
  const start = process.hrtime.bigint();
  expect(run()).toBe(STEP_RETURNED);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const executed = t.interp.instructions - before;
  expect(t.reg(0)).toBe(iterations);
  console.log(`irqlab isa: ${(executed / seconds / 1e6).toFixed(1)}M instructions/s (${executed} in ${(seconds * 1000).toFixed(0)} ms)`);
});
