// nt-semantics.md §1.4, §7.1: an APC request (HalRequestSoftwareInterrupt at APC_LEVEL, an IPI
// with the APC bit) is an APC_LEVEL software interrupt: KiDeliverApc on the running thread when
// the IRQL drops below APC_LEVEL (test/cpu/apc-delivery.test.ts runs the deliveries end to end).
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { Cpu } from '../../src/kernel/cpu.js';
import { DEFAULT_DPC_TUNABLES } from '../../src/kernel/dpc.js';
import { ipiInterrupt } from '../../src/kernel/ipi.js';
import { APC_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js';
import { Prcb } from '../../src/kernel/prcb.js';
import { R0 } from '../../src/isa/registers.js';
import { IpiRequest } from '../../src/ipc/messages.js';
import { runInProcess } from '../smp/harness.js';

describe('APC requests', () => {
  it('HalRequestSoftwareInterrupt(APC_LEVEL) is taken at PASSIVE_LEVEL and delivers the queued APC, not a bugcheck', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'apc-request',
        description: 'a thread raises to APC_LEVEL, queues an APC to itself, requests the APC interrupt and lowers',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        apcs: { Self: { kernelRoutine: 'SelfKernel', mode: 'kernel' } },
        routines: {
          Main: (a) => {
            a.kcall('KeInitializeApc', a.apc('Self'), 0, 0);
            a.kcall('KeRaiseIrql', APC_LEVEL);
            a.kcall('KeInsertQueueApc', a.apc('Self'), 0, 0, 0);
            a.kcall('HalRequestSoftwareInterrupt', APC_LEVEL);
            a.trace(1);
            a.kcall('KeLowerIrql', PASSIVE_LEVEL);
            a.trace(3);
            a.ret(0);
          },
          SelfKernel: (a) => {
            a.kcall('KeGetCurrentIrql');
            a.trace(2, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.tags(0)).toEqual([1, 2, 3]);
    expect(run.first(2).value).toBe(APC_LEVEL);
  });

  it('an IPI carrying the APC bit requests the APC software interrupt in KiIpiServiceRoutine (APC first)', () => {
    const prcb = new Prcb(1, 0, DEFAULT_DPC_TUNABLES, []);
    prcb.ipiRequests = IpiRequest.APC;
    // KiIpiServiceRoutine reads the PRCB; its end (HalEndSystemInterrupt) needs the APIC and the IRQL words
    const cpu = { prcb, workPending: false, currentPc: () => 0 } as Partial<Cpu> as Cpu;
    try {
      ipiInterrupt(cpu, 0).next();
    } catch {
      // endInterrupt touches the APIC this stand-in lacks: the request was made before it
    }
    expect(prcb.softPending & (1 << APC_LEVEL)).not.toBe(0);
    expect(cpu.workPending).toBe(true);
  });
});
