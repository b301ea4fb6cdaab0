// nt-semantics.md §9 (interrupt objects and the ISR path) in process (the in-process backend), deterministic mode:
// chained dispatch, the ISR → DPC order, KeSynchronizeExecution, interrupt storms.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { R0, R1, R2, R5 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { runInProcess } from '../smp/harness.js';

/** An ISR that traces `tag` and returns `claims` (TRUE: "it was mine"). */
const isr =
  (tag: number, claims: number) =>
  (a: RoutineBuilder): void => {
    a.trace(tag);
    a.ret(claims);
  };

/** A thread that works until `Done` is set. */
const busyUntilDone = (a: RoutineBuilder): void => {
  a.label('loop');
  a.work(200);
  a.load(R1, a.var('Done'));
  a.beqz(R1, 'loop');
  a.ret(0);
};

describe('§9 interrupt objects (in process)', () => {
  it('a shared level-triggered vector calls the ISRs in connect order and stops at the first that claims it', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'chained-level',
        description: 'three KINTERRUPTs share vector 0x50; only the second claims',
        interrupts: {
          First: { vector: 0x50, routine: 'Isr1', shareVector: true },
          Second: { vector: 0x50, routine: 'Isr2', shareVector: true },
          Third: { vector: 0x50, routine: 'Isr3', shareVector: true },
        },
        devices: { disk: { vector: 0x50, ratePerSec: 1000, count: 1, startMs: 0.01 } },
        routines: { Isr1: isr(1, 0), Isr2: isr(2, 1), Isr3: isr(3, 0) },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.tags(0)).toEqual([1, 2]);
    expect(run.result.perCpu[0]!.interrupts).toBe(1);
    expect(run.result.perCpu[0]!.unclaimedInterrupts).toBe(0);
  });

  it('a shared latched (edge) vector loops over the chain until a full pass in which nobody claims it', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'chained-latched',
        description: 'two latched KINTERRUPTs share a vector; the first claims once',
        memory: { Claimed: {} },
        interrupts: {
          First: { vector: 0x50, routine: 'ClaimOnce', shareVector: true, mode: 'latched' },
          Second: { vector: 0x50, routine: 'Never', shareVector: true, mode: 'latched' },
        },
        devices: { disk: { vector: 0x50, ratePerSec: 1000, count: 1, startMs: 0.01 } },
        routines: {
          ClaimOnce: (a) => {
            a.trace(1);
            a.movi(R2, 1);
            a.xchg(R0, a.var('Claimed'), 0, R2);
            a.xor(R0, R0, 1); // TRUE the first time only
            a.ret(R0);
          },
          Never: isr(2, 0),
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.tags(0)).toEqual([1, 2, 1, 2]);
  });

  it('an ISR that queues a DPC while the CPU was at PASSIVE: ISR, then the DPC as the IRQL drops, then the thread', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'isr-then-dpc',
        description: 'a device interrupts a PASSIVE thread; its ISR queues a DPC',
        memory: { Done: {} },
        interrupts: { Disk: { vector: 0x50, routine: 'DiskIsr' } },
        dpcs: { DiskDpc: { routine: 'DiskDpc' } },
        devices: { disk: { vector: 0x50, ratePerSec: 1000, count: 1, startMs: 0.01 } },
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.trace(1);
            a.work(30_000);
            a.trace(4);
            a.ret(0);
          },
          DiskIsr: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(2, R0);
            a.kcall('KeInsertQueueDpc', a.dpc('DiskDpc'), 0, 0);
            a.ret(1);
          },
          DiskDpc: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(3, R0);
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.tags(0)).toEqual([1, 2, 3, 4]);
    expect(run.first(2).value).toBe(5);
    expect(run.first(3).value).toBe(2);
    expect(run.result.latency.isrToDpc.count).toBe(1);
  });

  it('KeSynchronizeExecution on one CPU excludes the ISR on another through the interrupt spin lock', async () => {
    const rounds = 200;
    const run = await runInProcess(
      defineScenario({
        name: 'synchronize-execution',
        description: 'an ISR on CPU 1 and KeSynchronizeExecution on CPU 0 update the same two words non-atomically',
        memory: { Count: {}, Inside: {}, Overlaps: {}, Done: {} },
        interrupts: { Disk: { vector: 0x50, routine: 'DiskIsr' } },
        devices: { disk: { vector: 0x50, ratePerSec: 400_000, cpus: [1], count: rounds } },
        threads: { Main: { routine: 'Main', cpu: 0 }, Busy: { routine: 'Busy', cpu: 1 } },
        routines: {
          Main: (a) => {
            a.movi(R5, 0);
            a.label('loop');
            a.kcall('KeSynchronizeExecution', a.interrupt('Disk'), a.routine('Critical'), 0);
            a.add(R5, R5, 1);
            a.blt(R5, rounds, 'loop');
            a.store(a.var('Done'), 0, 1);
            a.ret(0);
          },
          DiskIsr: (a) => {
            a.call('Critical');
            a.ret(1);
          },
          // a read-modify-write that loses updates unless the two sides exclude each other
          Critical: (a) => {
            a.load(R1, a.var('Inside'));
            a.beqz(R1, 'alone');
            a.movi(R2, 1);
            a.xadd(R0, a.var('Overlaps'), 0, R2);
            a.label('alone');
            a.store(a.var('Inside'), 0, 1);
            a.load(R1, a.var('Count'));
            a.work(700);
            a.add(R1, R1, 1);
            a.store(a.var('Count'), 0, R1);
            a.store(a.var('Inside'), 0, 0);
            a.ret(1);
          },
          Busy: busyUntilDone,
        },
        results: (view) => ({ count: view.read('Count'), overlaps: view.read('Overlaps') }),
      }),
      { cpus: 2, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.result.perCpu[1]!.interrupts).toBe(rounds);
    expect(run.result.results).toEqual({ count: 2 * rounds, overlaps: 0 });
  });

  it('a level-triggered interrupt that no ISR claims re-fires; 1000 in a row is bugcheck 0xF2', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'storm',
        description: 'an ISR that never claims its level-triggered interrupt',
        interrupts: { Disk: { vector: 0x50, routine: 'NotMine' } },
        devices: { disk: { vector: 0x50, ratePerSec: 1000, count: 1, startMs: 0.01 } },
        routines: { NotMine: isr(1, 0) },
      }),
      { cpus: 1, durationMs: 5 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.HARDWARE_INTERRUPT_STORM);
    expect(bugcheck.params[0]).toBe(0x50);
    expect(run.all(1)).toHaveLength(1000);
    expect(bugcheck.detail).toMatch(/vector 0x50 fired 1000 times in a row with no ISR claiming it \(chain: NotMine\)/);
  });
});
