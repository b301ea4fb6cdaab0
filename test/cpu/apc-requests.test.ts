// nt-semantics.md §1.4, §7.1: irqlab has no APCs yet. An APC request (HalRequestSoftwareInterrupt
// at APC_LEVEL, an IPI with the APC bit) must end the run with a clear bugcheck, never be recorded
// and silently never delivered.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { BugCheck, BUGCHECK } from '../../src/kernel/bugcheck.js';
import type { Cpu } from '../../src/kernel/cpu.js';
import { DEFAULT_DPC_TUNABLES } from '../../src/kernel/dpc.js';
import { ipiInterrupt } from '../../src/kernel/ipi.js';
import { APC_LEVEL } from '../../src/kernel/irql.js';
import { Prcb } from '../../src/kernel/prcb.js';
import { STATUS } from '../../src/kernel/status.js';
import { IpiRequest } from '../../src/ipc/messages.js';
import { runInProcess } from '../smp/harness.js';

describe('APC requests before APCs exist', () => {
  it('HalRequestSoftwareInterrupt(APC_LEVEL) is bugcheck 0x1E STATUS_NOT_IMPLEMENTED saying APCs are not emulated', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-request',
        description: 'a thread requests an APC software interrupt',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('HalRequestSoftwareInterrupt', APC_LEVEL);
            a.trace(1);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck, 'the request must not be dropped silently').not.toBeNull();
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0] >>> 0).toBe(STATUS.NOT_IMPLEMENTED);
    expect(bugcheck.detail).toMatch(/HalRequestSoftwareInterrupt\(APC_LEVEL\).*does not emulate APCs/);
    expect(run.tags(0), 'the thread does not run on past the request').toEqual([]);
  });

  it('an IPI carrying the APC request bit is bugcheck 0x1E in KiIpiServiceRoutine, not a request nobody delivers', () => {
    const prcb = new Prcb(1, 0, DEFAULT_DPC_TUNABLES, []);
    prcb.ipiRequests = IpiRequest.APC;
    // KiIpiServiceRoutine reads only the PRCB and the caller's pc before it refuses the APC bit
    const cpu = { prcb, currentPc: () => 0 } as Partial<Cpu> as Cpu;
    let thrown: unknown = null;
    try {
      ipiInterrupt(cpu, 0).next();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BugCheck);
    const bugcheck = thrown as BugCheck;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(bugcheck.params[0] >>> 0).toBe(STATUS.NOT_IMPLEMENTED);
    expect(bugcheck.detail).toMatch(/an APC IPI on CPU 1: irqlab does not emulate APCs/);
  });
});
