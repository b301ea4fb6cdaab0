// nt-semantics.md §4.11 steps 2 and 4 in the dispatcher database: a wait that starts with a kernel
// APC pending below APC_LEVEL does not block (STATUS_KERNEL_APC: the CPU takes the APC and issues
// the wait again, test/cpu/apc-delivery.test.ts); an alertable wait of an alerted thread returns
// STATUS_ALERTED at once; a non-alertable one blocks as before.
import { describe, expect, it } from 'vitest';
import { newApcThreadWords } from '../../src/kernel/apc.js';
import { APC_LEVEL } from '../../src/kernel/irql.js';
import { KernelMode, STATUS, WaitReason, WaitType } from '../../src/kernel/status.js';
import { ThreadState } from '../../src/kernel/thread.js';
import { KernelMachine } from './kernel-machine.js';

function machine(): KernelMachine {
  const m = new KernelMachine({ cpus: 1, threads: [{ name: 'A', priority: 8, affinity: [0] }], events: [{ name: 'E' }] });
  m.start();
  return m;
}

describe('a wait and the APCs of its thread (§4.11)', () => {
  it('a wait that begins with a kernel APC pending at PASSIVE_LEVEL does not block: STATUS_KERNEL_APC, no switch', () => {
    const m = machine();
    const a = m.t('A');
    const words = newApcThreadWords();
    words.kernelApcPending = true;
    const outcome = m.db.waitForObjects(m.caller(0), [m.id('E')], WaitType.WaitAny, WaitReason.Executive, null, 0x40, {
      alertable: false,
      waitMode: KernelMode,
      words,
    });
    expect(outcome.status).toBe(STATUS.KERNEL_APC);
    expect(outcome.switchTo).toBeNull();
    expect(a.state).toBe(ThreadState.Running);
    expect(m.waiters('E')).toEqual([]);
  });

  it('the same wait at APC_LEVEL, or inside a guarded region, blocks: the APC waits for the IRQL drop or the region exit', () => {
    for (const setup of ['apc-level', 'guarded'] as const) {
      const m = machine();
      const words = newApcThreadWords();
      words.kernelApcPending = true;
      if (setup === 'guarded') words.specialApcDisable = -1;
      const caller = m.caller(0, { oldIrql: setup === 'apc-level' ? APC_LEVEL : 0 });
      const outcome = m.db.waitForObjects(caller, [m.id('E')], WaitType.WaitAny, WaitReason.Executive, null, 0x40, {
        alertable: false,
        waitMode: KernelMode,
        words,
      });
      expect(outcome.switchTo, setup).not.toBeNull();
      expect(m.t('A').state, setup).toBe(ThreadState.Waiting);
    }
  });

  it('an alertable wait of a thread alerted in its mode returns STATUS_ALERTED at once and clears the alert', () => {
    const m = machine();
    const a = m.t('A');
    a.apcState.alerted[KernelMode] = true;
    const outcome = m.db.waitForObjects(m.caller(0), [m.id('E')], WaitType.WaitAny, WaitReason.Executive, null, 0x40, {
      alertable: true,
      waitMode: KernelMode,
      words: newApcThreadWords(),
    });
    expect(outcome.status).toBe(STATUS.ALERTED);
    expect(a.state).toBe(ThreadState.Running);
    expect(a.apcState.alerted[KernelMode]).toBe(false);
  });
});
