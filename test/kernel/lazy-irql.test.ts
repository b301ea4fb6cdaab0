// Lazy IRQL (nt-semantics.md §1.4, article 002; machine.lazyIrql, --lazy-irql): KeRaiseIrql only
// records the new IRQL, and the local APIC's task-priority register (TPR) is written when an
// interrupt arrives at or below the recorded IRQL, and on the lowers that follow. Delivery compares
// with the kernel's IRQL either way, so every run is the same run; only the writes differ.
import { describe, expect, it } from 'vitest';
import { LocalApic } from '../../src/hal/lapic.js';
import { Prcb } from '../../src/kernel/prcb.js';
import { DEFAULT_DPC_TUNABLES } from '../../src/kernel/dpc.js';
import type { Cpu } from '../../src/kernel/cpu.js';
import { X64, setIrql, taskPriorityOnArrival, vectorToIrql } from '../../src/kernel/irql.js';
import { CounterField } from '../../src/shm/layout.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunResult } from '../../src/machine/result.js';

/** The parts of a CPU that setIrql and taskPriorityOnArrival read and write. */
type IrqlCpu = Pick<Cpu, 'prcb' | 'apic' | 'f64' | 'i32' | 'counters' | 'workPending' | 'countedNow' | 'record'>;

function cpuWith(lazyIrql: boolean): IrqlCpu {
  const levels = Int32Array.from({ length: 256 }, (_, v) => vectorToIrql(X64, v));
  return {
    prcb: new Prcb(0, 0, DEFAULT_DPC_TUNABLES, []),
    apic: new LocalApic(levels, lazyIrql),
    f64: new Float64Array(CounterField.WORDS),
    i32: new Int32Array(64),
    counters: 0,
    workPending: false,
    countedNow: () => 0,
    record: () => {},
  };
}

// setIrql and taskPriorityOnArrival take a whole Cpu but touch only the IrqlCpu fields
const asCpu = (cpu: IrqlCpu): Cpu => cpu as Cpu;
const writes = (cpu: IrqlCpu): number => cpu.f64[CounterField.TASK_PRIORITY_WRITES]!;
const saved = (cpu: IrqlCpu): number => cpu.f64[CounterField.TASK_PRIORITY_WRITES_SAVED]!;

/** An interrupt at `vector` reaches the local APIC (what interruptArrived does, without the device counters). */
function arrive(cpu: IrqlCpu, vector: number): void {
  cpu.apic.post(vector, 0);
  taskPriorityOnArrival(asCpu(cpu), vector);
}

describe('the local APIC task-priority register (§1.4)', () => {
  it('eager IRQL writes the TPR at every IRQL change and saves nothing', () => {
    const cpu = cpuWith(false);
    setIrql(asCpu(cpu), 2);
    setIrql(asCpu(cpu), 5);
    expect(cpu.apic.taskPriority).toBe(5);
    arrive(cpu, 0x40);
    setIrql(asCpu(cpu), 3);
    setIrql(asCpu(cpu), 0);
    expect(cpu.apic.taskPriority).toBe(0);
    expect([writes(cpu), saved(cpu)]).toEqual([4, 0]);
  });

  it('lazy IRQL: a raise only records the IRQL; an interrupt at or below it arriving writes TPR := IRQL, and it stays pending until the IRQL drops', () => {
    const cpu = cpuWith(true);
    setIrql(asCpu(cpu), 2);
    setIrql(asCpu(cpu), 5);
    expect(cpu.apic.taskPriority, 'KeRaiseIrql leaves the TPR alone').toBe(0);
    expect([writes(cpu), saved(cpu)]).toEqual([0, 2]);

    arrive(cpu, 0x60);
    expect(cpu.apic.taskPriority, 'an IRQL-6 interrupt is above the IRQL: no write').toBe(0);
    expect(cpu.apic.accept(6), 'and it is taken at once').toBe(0x60);
    cpu.apic.eoi();
    arrive(cpu, 0x40);
    expect(cpu.apic.taskPriority, 'an IRQL-4 interrupt at IRQL 5: the deferred write').toBe(5);
    expect(writes(cpu)).toBe(1);
    expect(saved(cpu), 'a write eager IRQL does not make').toBe(1);
    expect(cpu.apic.highestPendingIrql() > cpu.prcb.irql, 'the IRQL-4 one is held: nothing at or below IRQL 5 is deliverable').toBe(false);
    arrive(cpu, 0x50);
    expect(writes(cpu), 'the TPR already masks IRQL 5: no second write').toBe(1);

    setIrql(asCpu(cpu), 3);
    expect(cpu.apic.taskPriority, 'the lower that follows writes it').toBe(3);
    expect(cpu.apic.highestPendingIrql() > cpu.prcb.irql, 'the held interrupts (IRQL 4 and 5) are deliverable now').toBe(true);
    setIrql(asCpu(cpu), 4);
    setIrql(asCpu(cpu), 3);
    expect(cpu.apic.taskPriority, 'a raise and a lower back to the TPR: no write').toBe(3);
    setIrql(asCpu(cpu), 0);
    expect(cpu.apic.taskPriority).toBe(0);
    // eager IRQL would have written 6 times (2, 5, 3, 4, 3, 0); lazy wrote 3 (arrival, 3, 0)
    expect([writes(cpu), saved(cpu)]).toEqual([3, 3]);
  });

  it('lazy IRQL: an interrupt below the vector in service is masked by the APIC itself (processor priority): no write', () => {
    const cpu = cpuWith(true);
    arrive(cpu, 0x60);
    cpu.apic.accept(6);
    setIrql(asCpu(cpu), 6);
    arrive(cpu, 0x40);
    expect([cpu.apic.taskPriority, writes(cpu)]).toEqual([0, 0]);
    cpu.apic.eoi();
    setIrql(asCpu(cpu), 0);
    expect([writes(cpu), saved(cpu)]).toEqual([0, 2]);
  });

  it('lazy IRQL: raises and lowers with no interrupt in between write nothing', () => {
    const cpu = cpuWith(true);
    for (let i = 0; i < 10; i++) {
      setIrql(asCpu(cpu), 2);
      setIrql(asCpu(cpu), 0);
    }
    expect([writes(cpu), saved(cpu), cpu.apic.taskPriority]).toEqual([0, 20, 0]);
  });
});

async function runBuiltin(name: string, lazyIrql: boolean): Promise<{ cpus: number; result: RunResult }> {
  const loaded = await loadScenario(name);
  const cpus = loaded.definition.machine?.cpus ?? 2;
  const result = await runScenario(loaded, { cpus, mode: 'deterministic', seed: 1, backend: 'in-process', lazyIrql });
  return { cpus, result };
}

const outcome = (result: RunResult): unknown => ({
  traceHash: result.traceHash,
  traceEvents: result.traceEvents,
  bugcheck: result.bugcheck ? { code: result.bugcheck.code, params: result.bugcheck.params } : null,
  results: JSON.parse(JSON.stringify(result.results)) as unknown,
  checks: result.checks.map((c) => c.passed),
});

describe('lazy IRQL changes no outcome (deterministic mode, in process)', () => {
  for (const { name } of BUILTIN_SCENARIOS) {
    it(`${name}: the same trace hash, bugcheck and results with lazy IRQL on and off; lazy writes plus writes saved equal eager's writes`, async () => {
      const eager = await runBuiltin(name, false);
      const lazy = await runBuiltin(name, true);
      expect(outcome(lazy.result)).toEqual(outcome(eager.result));
      expect(eager.result.taskPriority).toMatchObject({ lazyIrql: false, writesSaved: 0 });
      expect(eager.result.taskPriority.writes).toBeGreaterThan(0);
      expect(lazy.result.taskPriority.lazyIrql).toBe(true);
      // eager IRQL writes once per IRQL change; the two runs make the same changes
      expect(lazy.result.taskPriority.writes + lazy.result.taskPriority.writesSaved).toBe(eager.result.taskPriority.writes);
      expect(lazy.result.taskPriority.writes).toBeLessThanOrEqual(eager.result.taskPriority.writes);
    });
  }

  it('irql-test raises and lowers with no interrupt in between: lazy IRQL saves writes, and the command line says --lazy-irql', async () => {
    const { result } = await runBuiltin('irql-test', true);
    expect(result.taskPriority.writesSaved).toBeGreaterThan(0);
    expect(result.perCpu.reduce((sum, c) => sum + c.taskPriorityWritesSaved, 0)).toBe(result.taskPriority.writesSaved);
    expect(result.command).toContain('--lazy-irql');
  });
});
