// The bugcheck machinery on real CPU workers: one CPU crashes, every other CPU is frozen by IPI
// wherever it was (a thread, a DPC, a spin at HIGH_LEVEL, halted), and the report names it all.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R1 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { runOnWorkers } from './harness.js';

const crash = defineScenario({
  name: 'crash-in-dpc',
  description: 'CPU 1 bugchecks inside a DPC while CPU 0 runs a thread, CPU 2 spins at HIGH_LEVEL and CPU 3 is halted',
  memory: { Ready: {} },
  dpcs: { Fatal: { routine: 'FatalDpc', importance: 'High', targetCpu: 1 } },
  threads: { Spinner: { routine: 'Spinner', cpu: 0 }, Masked: { routine: 'Masked', cpu: 2 } },
  routines: {
    Spinner: (a) => {
      a.label('wait');
      a.work(100);
      a.load(R1, a.var('Ready'));
      a.beqz(R1, 'wait');
      a.kcall('KeInsertQueueDpc', a.dpc('Fatal'), 0, 0);
      a.label('forever');
      a.work(100);
      a.jmp('forever');
    },
    FatalDpc: (a) => {
      a.work(1000);
      a.kcall('KeBugCheckEx', 0xe2, 0x11, 0x22, 0x33, 0x44);
      a.ret();
    },
    Masked: (a) => {
      a.kcall('KeRaiseIrql', 15);
      a.store(a.var('Ready'), 0, 1);
      a.label('forever');
      a.work(100);
      a.jmp('forever');
    },
  },
});

describe('bugcheck freeze and report', () => {
  it('freezes every CPU wherever it was and reports the fault like !analyze -v', async () => {
    const run = await runOnWorkers(crash, { cpus: 4, durationMs: 10, seed: 3 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.MANUALLY_INITIATED_CRASH);
    expect(bugcheck.name).toBe('MANUALLY_INITIATED_CRASH');
    expect(bugcheck.params).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(bugcheck.cpu).toBe(1);
    expect(bugcheck.irql).toBe(2);
    expect(bugcheck.irqlName).toBe('DISPATCH_LEVEL');
    expect(bugcheck.routine).toBe('FatalDpc');
    expect(bugcheck.frames.map((f) => f.kind)).toEqual(['idle', 'dispatch', 'dpc']);
    expect(bugcheck.faultingInstruction).toMatch(/^FatalDpc\+0x[0-9a-f]+: kcall KeBugCheckEx/);
    expect(bugcheck.replayCommand).toBe('irqlab run crash-in-dpc --cpus 4 --duration 10ms --mode deterministic --seed 3');

    expect(run.result.unresponsiveCpus).toEqual([]);
    const byCpu = new Map(bugcheck.cpus.map((c) => [c.cpu, c]));
    expect([...byCpu.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const state of bugcheck.cpus) expect(state.responded, `CPU ${state.cpu} answered the freeze`).toBe(true);
    expect(byCpu.get(0)!.frames.at(-1)!.routine).toBe('Spinner');
    expect(byCpu.get(0)!.irql).toBe(0);
    expect(byCpu.get(2)!.irql, 'frozen although masked at HIGH_LEVEL: the freeze is an NMI').toBe(15);
    expect(byCpu.get(3)!.frames.map((f) => f.kind)).toEqual(['idle']);
    expect(byCpu.get(1)!.lastEvents.at(-1)!.event).toBe('bugcheck');
    expect(byCpu.get(1)!.lastEvents.some((e) => e.event === 'dpc-start')).toBe(true);
  });

  it('replaying the reported command gives the same crash and the same trace', async () => {
    const first = await runOnWorkers(crash, { cpus: 4, durationMs: 10, seed: 3 });
    const again = await runOnWorkers(crash, { cpus: 4, durationMs: 10, seed: 3 });
    expect(again.result.traceHash).toBe(first.result.traceHash);
    expect(again.result.bugcheck!.emulatedTimeNs).toBe(first.result.bugcheck!.emulatedTimeNs);
  });
});
