// The parallel-mode run loop (Processor.run), driven directly in this thread on one CPU:
//  - with --pace host, emulated time is the host clock, and a read of it costs 66–94 ns on a VM; one
//    kernel step reads the time several times (setIrql charges the old level and records the change,
//    a send stamps its message), so the CPU reads the host clock once per run-loop turn and every
//    read in that turn sees the same instant (CpuCore.now);
//  - on virtual time, device assertions sent ahead of their time are raised by the run itself when
//    the CPU's clock reaches them (a run chunk per assertion cost a publication and a look at the
//    GVT per interrupt).
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { compileForRun } from '../../src/machine/execute.js';
import { Machine } from '../../src/machine/machine.js';
import { MemoryHub } from '../../src/ipc/memory-port.js';
import { actorOfCpu } from '../../src/ipc/messages.js';
import { Processor, RunExit } from '../../src/cpu/processor.js';
import { R0, R3 } from '../../src/isa/registers.js';

const ROUNDS = 100;

/** Raise to DISPATCH_LEVEL and lower again, ROUNDS times: each KCALL changes the IRQL once (a charge and a record). */
const irqlRounds = defineScenario({
  name: 'host-clock-reads',
  description: 'a routine that raises and lowers the IRQL in a loop',
  routines: {
    Rounds: (a) => {
      a.movi(R3, 0);
      a.label('loop');
      a.kcall('KeRaiseIrqlToDpcLevel');
      a.kcall('KeLowerIrql', 0);
      a.add(R3, R3, 1);
      a.blt(R3, ROUNDS, 'loop');
      a.label('done');
      a.work(100);
      a.jmp('done');
    },
  },
});

describe('--pace host: the host clock is read once per run-loop turn', () => {
  it('raising and lowering the IRQL 100 times reads the host clock once per KCALL, not once per use', async () => {
    const definition = validateScenario(irqlRounds, { cpus: 1, arch: 'x64' });
    const compiled = compileForRun(definition, null, { cpus: 1, mode: 'parallel', pace: 'host', seed: 1, durationNs: 1e9, verbose: false, command: '' });
    const machine = new Machine(compiled, { scenario: definition.name });
    try {
      const hub = new MemoryHub(machine.sab, machine.layout, { onReport: () => {} });
      let reads = 0;
      // a clock that moves on every read: a second read in the same turn would see a later time
      const hostClock = (): number => ++reads * 7;
      const config = compiled.processors[0]!;
      const processor = new Processor(config, machine.sab, machine.layout, hub.port(actorOfCpu(0)), hostClock);
      const routine = config.routines.findIndex((r) => r.name === 'Rounds');
      processor.pushCall('routine', routine);
      expect(processor.run(processor.cycles + 1_000_000)).toBe(RunExit.BUDGET);
      // 2 IRQL changes per round, each in a turn of its own: one read each (setIrql charges the old
      // level with it, and its trace record is stamped with the same instant)
      expect(reads).toBe(2 * ROUNDS);
      expect(processor.irql).toBe(0);
    } finally {
      await machine.shutdown();
    }
  });
});

const VECTOR = 0x50;
const HELD = [5_000, 5_400, 9_000];

/** A busy routine and one device's ISR, which stamps each interrupt it takes with the CPU's clock. */
const heldAssertions = defineScenario({
  name: 'held-assertions',
  description: 'three device assertions sent ahead of their time to a busy CPU',
  interrupts: { Device: { vector: VECTOR, routine: 'Isr' } },
  routines: {
    Busy: (a) => {
      a.label('loop');
      a.work(1000);
      a.jmp('loop');
    },
    Isr: (a) => {
      a.kcall('KeQueryPerformanceCounter');
      a.trace(1, R0);
      a.ret(1);
    },
  },
});

describe('virtual time: assertions sent ahead of their time', () => {
  it('a run raises each held assertion when its clock reaches the assertion, within one run (no chunk ends there)', async () => {
    const definition = validateScenario(heldAssertions, { cpus: 1, arch: 'x64' });
    const compiled = compileForRun(definition, null, { cpus: 1, mode: 'parallel', pace: 'virtual', seed: 1, durationNs: 1e9, verbose: false, command: '' });
    const machine = new Machine(compiled, { scenario: definition.name });
    try {
      const hub = new MemoryHub(machine.sab, machine.layout, { onReport: () => {} });
      const config = compiled.processors[0]!;
      const processor = new Processor(config, machine.sab, machine.layout, hub.port(actorOfCpu(0)), () => 0);
      processor.pushCall(
        'routine',
        config.routines.findIndex((r) => r.name === 'Busy'),
      );
      for (const timeNs of HELD) processor.apic.hold(VECTOR, timeNs, -1);
      // one run past all three: each is taken exactly at its time (the busy routine's WORK stops there)
      expect(processor.run(processor.cycles + 20_000)).toBe(RunExit.BUDGET);
      expect(processor.apic.heldCount()).toBe(0);
      const taken = processor.userEvents.filter((e) => e.tag === 1);
      expect(taken.length).toBe(HELD.length);
      // the ISR's QPC comes a fixed number of cycles after the interrupt is taken: taken at the assertion's time, never before
      const delay = taken[0]!.timeNs - HELD[0]!;
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(200);
      expect(taken.map((event, k) => event.timeNs - HELD[k]!)).toEqual(HELD.map(() => delay));
    } finally {
      await machine.shutdown();
    }
  });
});
