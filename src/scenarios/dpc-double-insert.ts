/**
 * dpc-double-insert: one KDPC queued from two CPUs at once, by a driver that counts its work per
 * insert.
 *
 * Two devices of one driver interrupt CPU 0 and CPU 1 now and then. Each ISR has one new work item
 * and hands it over as KeInsertQueueDpc(&Dpc, 1 item, 0); the DPC routine adds SystemArgument1 to
 * the work it does. That is one DPC run per insert only while the inserts are far apart. When the
 * second CPU inserts while the DPC is still queued on the first (from the first ISR's insert until
 * the DPC routine starts), the insert finds the KDPC's DpcData set, returns FALSE and drops its
 * SystemArguments (nt-semantics.md §2.3, §9.4: "N interrupts, 1 DPC"). The driver ignores the
 * return value, so that item is never done: work lost.
 *
 * The fix, dpc-double-insert-fixed, is the pattern §9.4 asks for: the ISR adds its item to an
 * interlocked count and only then queues the DPC; the DPC takes the whole count with an interlocked
 * exchange and loops until it reads 0, so a coalesced insert's item is done by the run already
 * queued (or running).
 */

import { defineScenario } from '../scenario/define.js';
import type { OutcomeGrade, RunView, ScenarioDefinition } from '../scenario/define.js';
import { R0, R2, R3, R5 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

/** interrupts per device */
const INTERRUPTS = 12;
/** cycles an ISR spends after queueing the DPC (acknowledging its device): the DPC stays queued meanwhile */
const ISR_TAIL_CYCLES = 1_500;
/** cycles the DPC spends on each work item */
const ITEM_CYCLES = 2_000;

function workOutcome(run: RunView): string {
  const produced = run.read('Produced');
  const done = run.read('Done');
  if (produced !== 2 * INTERRUPTS) return 'unfinished';
  if (done < produced) return 'work lost';
  if (done > produced) return 'work done twice';
  return run.read('Coalesced') > 0 ? 'inserts coalesced, no work lost' : 'no insert coalesced';
}

function grades(fixed: boolean): readonly OutcomeGrade[] {
  return [
    { match: 'no insert coalesced', expect: 'acceptable', description: 'every insert queued the DPC: one DPC run per work item' },
    {
      match: 'inserts coalesced, no work lost',
      expect: fixed ? 'acceptable' : 'interesting',
      description: fixed
        ? 'an insert found the DPC already queued and returned FALSE; the queued run drained its item from the interlocked count'
        : 'an insert returned FALSE, yet every item was done (cannot happen with this driver: a coalesced insert drops its item)',
    },
    {
      match: 'work lost',
      expect: 'forbidden',
      description: 'an insert from the other CPU found the DPC already queued: it returned FALSE, its SystemArgument1 was dropped and its item never done',
    },
    { match: 'work done twice', expect: 'forbidden', description: 'more items done than the devices produced' },
  ];
}

/** The scenario, counting per insert or with the interlocked count (dpc-double-insert-fixed). */
export function doubleInsert(fixed: boolean): ScenarioDefinition {
  const isr = (a: RoutineBuilder): void => {
    a.movi(R2, 1);
    a.xadd(R0, a.var('Produced'), 0, R2);
    if (fixed) {
      a.xadd(R0, a.var('Pending'), 0, R2);
      a.kcall('KeInsertQueueDpc', a.dpc('WorkDpc'), 0, 0);
    } else {
      a.kcall('KeInsertQueueDpc', a.dpc('WorkDpc'), 1, 0);
    }
    a.bnez(R0, 'queued');
    a.xadd(R0, a.var('Coalesced'), 0, R2);
    a.label('queued');
    a.work(ISR_TAIL_CYCLES);
    a.ret(1);
  };
  return defineScenario({
    name: fixed ? 'dpc-double-insert-fixed' : 'dpc-double-insert',
    description: fixed
      ? 'dpc-double-insert with an interlocked work count the DPC drains: a coalesced insert loses nothing'
      : 'two CPUs KeInsertQueueDpc one KDPC at once; the second insert returns FALSE and a driver counting work per insert loses an item',
    machine: { cpus: 2, durationMs: 3 },
    memory: { Produced: {}, Pending: {}, Done: {}, Coalesced: {} },
    interrupts: {
      DeviceA: { vector: 0x60, routine: 'DeviceIsr' },
      DeviceB: { vector: 0x70, routine: 'DeviceIsr' },
    },
    dpcs: { WorkDpc: { routine: 'DoWork' } },
    devices: {
      deviceA: { vector: 0x60, ratePerSec: 10_000, jitter: 0.6, cpus: [0], startMs: 0.05, count: INTERRUPTS },
      deviceB: { vector: 0x70, ratePerSec: 10_000, jitter: 0.6, cpus: [1], startMs: 0.05, count: INTERRUPTS },
    },
    routines: {
      DeviceIsr: isr,
      // DeferredRoutine(Dpc, Context, SystemArgument1 = items, SystemArgument2)
      DoWork: (a) => {
        if (fixed) {
          a.label('drain');
          a.movi(R2, 0);
          a.xchg(R3, a.var('Pending'), 0, R2);
          a.beqz(R3, 'drained');
          a.call('DoItems');
          a.jmp('drain');
          a.label('drained');
        } else {
          a.call('DoItems');
        }
        a.ret();
      },
      // r3 = the number of items to do
      DoItems: (a) => {
        a.mov(R5, R3);
        a.label('item');
        a.beqz(R5, 'all-done');
        a.work(ITEM_CYCLES);
        a.movi(R2, 1);
        a.xadd(R0, a.var('Done'), 0, R2);
        a.sub(R5, R5, 1);
        a.jmp('item');
        a.label('all-done');
        a.ret();
      },
    },
    results: (run) => ({
      produced: run.read('Produced'),
      done: run.read('Done'),
      coalescedInserts: run.read('Coalesced'),
    }),
    checks: (run) => [
      { name: 'both devices interrupted every time', passed: run.read('Produced') === 2 * INTERRUPTS, detail: `${run.read('Produced')} of ${2 * INTERRUPTS}` },
      ...(fixed
        ? [
            {
              name: 'every work item was done once',
              passed: run.read('Done') === run.read('Produced'),
              detail: `${run.read('Done')} of ${run.read('Produced')}`,
            },
          ]
        : []),
    ],
    outcome: workOutcome,
    outcomes: grades(fixed),
    // perturb: each device interrupt up to 50 µs late (half a period)
    explore: { jitter: { deviceNs: 50_000 } },
  });
}

export default doubleInsert(false);
