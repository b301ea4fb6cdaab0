// KeInsertQueueDpc to another CPU (nt-semantics.md §2.3 steps 4–5, §7.4): the inserter raises the
// target's DpcQueueDepth and claims its DpcInterruptRequested itself, so DPCs queued back to back
// to a busy CPU send exactly the IPIs NT sends — not 0 or 2 depending on when the target got to
// the link messages. Deterministic mode, several seeds: the count is the rule's, not the schedule's.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { DpcImportance } from '../../src/scenario/define.js';
import { R1 } from '../../src/isa/registers.js';
import { runInProcess } from '../smp/harness.js';

function backToBack(importance: DpcImportance, count: number) {
  const dpcs: Record<string, { routine: string; importance: DpcImportance; targetCpu: number }> = {};
  for (let i = 0; i < count; i++) dpcs[`Remote${i}`] = { routine: 'Count', importance, targetCpu: 1 };
  return defineScenario({
    name: `remote-${importance.toLowerCase()}-x${count}`,
    description: `${count} ${importance} DPCs queued back to back to a busy CPU`,
    machine: { cpus: 2, durationMs: 2 },
    memory: { Ran: {}, Done: {} },
    dpcs,
    threads: { Inserter: { routine: 'Inserter', cpu: 0 }, Busy: { routine: 'Busy', cpu: 1 } },
    routines: {
      Inserter: (a) => {
        a.work(200);
        for (let i = 0; i < count; i++) a.kcall('KeInsertQueueDpc', a.dpc(`Remote${i}`), i, 0);
        a.store(a.var('Done'), 0, 1);
        a.ret(0);
      },
      Count: (a) => {
        a.load(R1, a.var('Ran'));
        a.add(R1, R1, 1);
        a.store(a.var('Ran'), 0, R1);
        a.ret();
      },
      Busy: (a) => {
        a.label('loop');
        a.work(50);
        a.load(R1, a.var('Done'));
        a.beqz(R1, 'loop');
        a.work(20000);
        a.ret(0);
      },
    },
    results: (run) => ({ ran: run.read('Ran'), ipis: run.perCpu[0]!.ipisSent }),
  });
}

describe('KeInsertQueueDpc to a busy remote CPU', () => {
  it('four Medium DPCs back to back send one IPI: the insert that reaches MaximumDpcQueueDepth', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const { result } = await runInProcess(backToBack('Medium', 4), { cpus: 2, seed });
      expect(result.results, `seed ${seed}`).toEqual({ ran: 4, ipis: 1 });
    }
  });

  it('three Medium DPCs back to back send none: they wait for the target', async () => {
    for (const seed of [1, 2]) {
      const { result } = await runInProcess(backToBack('Medium', 3), { cpus: 2, seed });
      expect(result.results.ipis, `seed ${seed}`).toBe(0);
    }
  });

  it('two High DPCs back to back send one IPI: the second finds the request already made', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const { result } = await runInProcess(backToBack('High', 2), { cpus: 2, seed });
      expect(result.results, `seed ${seed}`).toEqual({ ran: 2, ipis: 1 });
    }
  });
});
