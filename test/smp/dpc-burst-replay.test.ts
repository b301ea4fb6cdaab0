// Deterministic mode replays a burst of remote DPCs exactly: CPU 0 queues DPCs to a busy CPU 1
// faster than it drains them, so every insert reads CPU 1's queue depth. Before the fix, CPU 1
// handled DPC links while waiting for its slice, at host-timing-dependent moments, and the same seed
// gave a different trace hash from run to run.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R1, R5, R6 } from '../../src/isa/registers.js';
import { runOnWorkers } from './harness.js';

const DPCS = 12;

const dpcs: Record<string, { routine: string; importance: 'Medium'; targetCpu: number }> = {};
for (let i = 0; i < DPCS; i++) dpcs[`Burst${i}`] = { routine: 'Drain', importance: 'Medium', targetCpu: 1 };

const remoteDpcBurst = defineScenario({
  name: 'remote-dpc-burst',
  description: 'CPU 0 queues DPCs to a busy CPU 1 faster than it drains them',
  machine: { cpus: 2, durationMs: 3 },
  memory: { Ran: {}, Done: {} },
  dpcs,
  threads: { Inserter: { routine: 'Inserter', cpu: 0 }, Busy: { routine: 'Busy', cpu: 1 } },
  routines: {
    Inserter: (a) => {
      a.movi(R5, 0);
      a.label('round');
      for (let i = 0; i < DPCS; i++) {
        a.kcall('KeInsertQueueDpc', a.dpc(`Burst${i}`), i, 0);
        a.work(3);
      }
      a.add(R5, R5, 1);
      a.blt(R5, 40, 'round');
      a.store(a.var('Done'), 0, 1);
      a.ret(0);
    },
    Drain: (a) => {
      a.work(40);
      a.movi(R6, 1);
      a.xadd(R1, a.var('Ran'), 0, R6);
      a.ret();
    },
    Busy: (a) => {
      a.label('loop');
      a.work(100);
      a.load(R1, a.var('Done'));
      a.beqz(R1, 'loop');
      a.ret(0);
    },
  },
  results: (run) => ({ ran: run.read('Ran'), ipis: run.perCpu[0]!.ipisSent }),
});

describe('deterministic replay of a remote DPC burst', () => {
  it('twenty runs with one seed give one trace hash', async () => {
    const hashes = new Set<string>();
    const outcomes = new Set<string>();
    for (let run = 0; run < 20; run++) {
      const { result } = await runOnWorkers(remoteDpcBurst, { cpus: 2, seed: 7 });
      hashes.add(result.traceHash);
      outcomes.add(JSON.stringify(result.results));
    }
    expect([...outcomes]).toHaveLength(1);
    expect([...hashes]).toHaveLength(1);
  });
});
