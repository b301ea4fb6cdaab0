// The cases of unmapped-memory faults (README "The instruction set": page 0 is unmapped), as NT
// reports them (nt-semantics.md §1.5 and the bugcheck table): below DISPATCH_LEVEL 0x50
// PAGE_FAULT_IN_NONPAGED_AREA (address, access, instruction, 0); at DISPATCH_LEVEL or above 0xD1
// DRIVER_IRQL_NOT_LESS_OR_EQUAL when a scenario instruction faults, 0xA IRQL_NOT_LESS_OR_EQUAL when a
// kernel call faults on its caller's behalf (address, IRQL, access, instruction). One set of cases,
// run in deterministic mode in process (test/cpu/memory-faults.test.ts) and in parallel mode on
// workers (test/smp/memory-faults.test.ts).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunScenarioOptions } from '../../src/machine/run.js';
import { defineScenario, type ScenarioDefinition } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { R1, R2 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import type { SmpOptions, SmpRun } from './harness.js';

/** How one set of cases runs: a definition (runOnWorkers or runInProcess), and a loaded file (runScenario). */
export interface MemoryFaultRunner {
  run(definition: ScenarioDefinition, options: Pick<SmpOptions, 'cpus' | 'durationMs'>): Promise<SmpRun>;
  scenarioOptions: Pick<RunScenarioOptions, 'mode' | 'backend'>;
}

const READ = 0;
const WRITE = 1;
/** far past the few pages a small scenario's memory has */
const PAST_MEMORY = 0x4000000;

function oneThread(name: string, body: (a: RoutineBuilder) => void): ScenarioDefinition {
  return defineScenario({
    name,
    description: name,
    machine: { cpus: 1, durationMs: 5 },
    memory: { Value: {} },
    threads: { Driver: { routine: 'Driver' } },
    routines: {
      Driver: (a) => {
        body(a);
        a.trace(1, R2); // reached only if the access did not fault
        a.ret(0);
      },
    },
  });
}

/**
 * Long enough that a parallel run (emulated time = host time) reaches the faulting instruction
 * however slow the host is to start the workers; every run here ends at the fault.
 */
const DURATION_MS = 60_000;
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'scenarios');

export function describeUnmappedMemoryFaults(where: string, runner: MemoryFaultRunner): void {
  describe(`unmapped memory ${where}`, () => {
    it('a store to page 0 and a load back at PASSIVE_LEVEL is 0x50 naming the address and the store', async () => {
      const run = await runner.run(
        oneThread('null-store', (a) => {
          a.movi(R1, 7);
          a.store(0, 0, R1);
          a.load(R2, 0, 0);
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA);
      expect(bugcheck!.params[0]).toBe(0);
      expect(bugcheck!.params[1]).toBe(WRITE);
      expect(bugcheck!.params[3]).toBe(0);
      expect(bugcheck!.irql).toBe(0);
      expect(bugcheck!.faultingInstruction).toMatch(/^Driver\+0x[0-9a-f]+: store \[0x0\], r1$/);
      expect(bugcheck!.detail).toContain('wrote address 0x0 on page 0');
      expect(run.events).toEqual([]);
    });

    it('a load from page 0 at DISPATCH_LEVEL is 0xD1 with P2 = the IRQL and P4 = the load', async () => {
      const run = await runner.run(
        oneThread('null-load-at-dispatch', (a) => {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.movi(R1, 0);
          a.load(R2, R1, 8);
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL);
      expect(bugcheck!.params.slice(0, 3)).toEqual([8, 2, READ]);
      expect(bugcheck!.faultingInstruction).toMatch(/: load r2, \[r1\+8\]$/);
      expect(bugcheck!.detail).toContain('read address 0x8 on page 0');
    });

    it('an interlocked add on page 0 is a write fault, 0x50 below DISPATCH_LEVEL', async () => {
      const run = await runner.run(
        oneThread('null-xadd', (a) => {
          a.movi(R1, 0);
          a.movi(R2, 1);
          a.xadd(R2, R1, 4, R2);
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA);
      expect(bugcheck!.params.slice(0, 2)).toEqual([4, WRITE]);
      expect(bugcheck!.faultingInstruction).toMatch(/: xadd /);
    });

    it('a load past the end of emulated memory is 0x50 naming that address', async () => {
      const run = await runner.run(
        oneThread('past-memory', (a) => {
          a.load(R2, PAST_MEMORY);
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA);
      expect(bugcheck!.params.slice(0, 2)).toEqual([PAST_MEMORY, READ]);
      expect(bugcheck!.detail).toContain(`read address 0x${PAST_MEMORY.toString(16)}, which is outside emulated memory`);
    });

    it('a kernel call given a spin lock on page 0 at DISPATCH_LEVEL is 0xA naming the kernel routine and the KCALL', async () => {
      const run = await runner.run(
        oneThread('null-lock-at-dispatch', (a) => {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.movi(R1, 0);
          a.kcall('KeAcquireSpinLockAtDpcLevel', R1);
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
      expect(bugcheck!.params.slice(0, 3)).toEqual([0, 2, WRITE]);
      expect(bugcheck!.faultingInstruction).toMatch(/: kcall KeAcquireSpinLockAtDpcLevel/);
      expect(bugcheck!.detail).toContain('KeAcquireSpinLockAtDpcLevel, called by thread Driver');
    });

    it('a wait whose timeout pointer is on page 0 (not NULL) at PASSIVE_LEVEL is 0x50', async () => {
      const run = await runner.run(
        defineScenario({
          name: 'bad-timeout-pointer',
          description: 'KeWaitForSingleObject with Timeout = 0x10',
          machine: { cpus: 1, durationMs: 5 },
          events: { Never: { type: 'notification' } },
          threads: { Driver: { routine: 'Driver' } },
          routines: {
            Driver: (a) => {
              a.kcall('KeWaitForSingleObject', a.event('Never'), 0, 0, 0, 0x10);
              a.ret(0);
            },
          },
        }),
        { cpus: 1, durationMs: DURATION_MS },
      );
      const bugcheck = run.result.bugcheck;
      expect(bugcheck?.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA);
      expect(bugcheck!.params.slice(0, 2)).toEqual([0x10, READ]);
      expect(bugcheck!.faultingInstruction).toMatch(/: kcall KeWaitForSingleObject/);
    });

    it("a native routine's read of page 0 faults like an instruction's, naming the NATIVE", async () => {
      const loaded = await loadScenario(join(fixtures, 'native-null-read.mjs'));
      try {
        const result = await runScenario(loaded, { ...runner.scenarioOptions, cpus: 1, durationNs: DURATION_MS * 1e6 });
        expect(result.bugcheck?.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA);
        expect(result.bugcheck!.params.slice(0, 2)).toEqual([8, READ]);
        expect(result.bugcheck!.faultingInstruction).toMatch(/: native /);
      } finally {
        loaded.dispose();
      }
    });
  });
}
