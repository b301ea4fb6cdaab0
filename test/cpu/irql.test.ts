// nt-semantics.md §1 (IRQL) in process (the in-process backend), deterministic mode: masking, delivery on lower,
// the 0x9 / 0xA / 0x4A checks.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R0 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { runInProcess } from '../smp/harness.js';

describe('§1 IRQL (in process)', () => {
  it('lowering to 3 delivers a pending IRQL-4 interrupt before KeLowerIrql returns; an IRQL-6 one was taken when it arrived', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'lower-delivers-pending',
        description: 'raise 0→2→5, devices at IRQL 4 and 6 assert, lower to 3',
        interrupts: {
          Four: { vector: 0x40, routine: 'Isr4' },
          Six: { vector: 0x60, routine: 'Isr6' },
        },
        devices: {
          four: { vector: 0x40, ratePerSec: 1000, count: 1, startMs: 0.005, cpus: [0] },
          six: { vector: 0x60, ratePerSec: 1000, count: 1, startMs: 0.01, cpus: [0] },
        },
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrql', 2);
            a.kcall('KeRaiseIrql', 5);
            a.trace(1);
            a.work(20_000); // 20 µs at IRQL 5: both devices assert meanwhile
            a.trace(2);
            a.kcall('KeLowerIrql', 3);
            a.trace(3);
            a.kcall('KeLowerIrql', 0);
            a.ret(0);
          },
          Isr4: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(4, R0);
            a.ret(1);
          },
          Isr6: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(6, R0);
            a.ret(1);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 6, 2, 4, 3]);
    expect(run.first(6).value, 'the IRQL-6 ISR runs at IRQL 6').toBe(6);
    expect(run.first(4).value, 'the IRQL-4 ISR runs at IRQL 4').toBe(4);
    expect(run.first(6).timeNs - 10_000, 'IRQL 6 > 5: taken as soon as it was asserted').toBeLessThan(1000);
    expect(run.first(4).timeNs, 'IRQL 4 ≤ 5: held in the local APIC until the lower').toBeGreaterThan(run.first(2).timeNs);
    expect(run.result.perCpu[0]!.interruptsByVector).toMatchObject({ '0x40': 1, '0x60': 1 });
  });

  it('a DISPATCH request made at DISPATCH_LEVEL waits for the lower to PASSIVE', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'dispatch-at-dispatch',
        description: 'queue a Medium DPC at DISPATCH_LEVEL; it runs only when the IRQL drops',
        dpcs: { D: { routine: 'Dpc' } },
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
            a.trace(1);
            a.work(5000);
            a.trace(2);
            a.kcall('KeLowerIrql', 0);
            a.trace(3);
            a.ret(0);
          },
          Dpc: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(10, R0);
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.tags(0)).toEqual([1, 2, 10, 3]);
    expect(run.first(10).value).toBe(2);
  });

  it('KeLowerIrql to a higher level is bugcheck 0xA IRQL_NOT_LESS_OR_EQUAL', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'bad-lower',
        description: 'KeLowerIrql(5) while at DISPATCH_LEVEL',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrql', 2);
            a.kcall('KeLowerIrql', 5);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
    expect(bugcheck.params.slice(0, 2)).toEqual([5, 2]);
    expect(bugcheck.irql).toBe(2);
    expect(bugcheck.faultingInstruction).toMatch(/^Main\+0x[0-9a-f]+: kcall KeLowerIrql/);
  });

  it('KeRaiseIrql to a lower level is bugcheck 0x9 IRQL_NOT_GREATER_OR_EQUAL', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'bad-raise',
        description: 'KeRaiseIrql(1) while at DISPATCH_LEVEL',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrql', 2);
            a.kcall('KeRaiseIrql', 1);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL);
    expect(bugcheck.params.slice(0, 2)).toEqual([2, 1]);
  });

  it('a system service that returns to user mode at APC_LEVEL is bugcheck 0x4A with P2 = 1', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'return-at-apc',
        description: 'a thread body (a system service) returns at APC_LEVEL',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrql', 1);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE);
    expect(bugcheck.params[1]).toBe(1);
    expect(bugcheck.detail).toMatch(/thread Main \(body Main\) returned to user mode at APC_LEVEL/);
  });
});
