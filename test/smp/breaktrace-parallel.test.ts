// --breaktrace in parallel mode, on real workers: the CPU whose routine runs past the bound annotates
// its trace, the main thread stops the run there and writes the window before it. The breach is a
// matter of emulated execution time (a routine's own cycles), not of which CPU wins a race: the
// same routine trips it on every run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import { BreaktraceStopped } from '../../src/machine/latency-breaktrace.js';
import { R1, R2 } from '../../src/isa/registers.js';

const slowDpc = defineScenario({
  name: 'slow-dpc',
  description: 'a fast ISR on each interrupt, and a DPC slow from its 5th run on',
  memory: { Runs: {} },
  interrupts: { Dev: { vector: 0x50, routine: 'DevIsr' } },
  dpcs: { DevDpc: { routine: 'DevDpcRoutine' } },
  devices: { dev: { vector: 0x50, ratePerSec: 20_000 } },
  routines: {
    DevIsr: (a) => {
      a.work(500);
      a.kcall('KeInsertQueueDpc', a.dpc('DevDpc'), 0, 0);
      a.ret(1);
    },
    DevDpcRoutine: (a) => {
      a.work(2_000);
      a.movi(R2, 1);
      a.xadd(R1, a.var('Runs'), 0, R2);
      a.blt(R1, 4, 'done');
      a.work(40_000);
      a.label('done');
      a.ret();
    },
  },
});

describe('--breaktrace in parallel mode', () => {
  it('stops the run at the first DPC routine over the bound and writes the window before it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'irqlab-breaktrace-')), 'window.json');
    const error = await executeScenario(validateScenario(slowDpc, { cpus: 2, arch: 'x64' }), null, {
      cpus: 2,
      mode: 'parallel',
      seed: 1,
      durationNs: 50e6,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run slow-dpc',
      breaktrace: { aboveNs: 30_000, file },
    }).catch((e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(BreaktraceStopped);
    const info = (error as BreaktraceStopped).info;
    expect(info).toMatchObject({ kind: 'dpc', routine: 'DevDpcRoutine', aboveNs: 30_000, file });
    // 42,000 cycles of work at 1 GHz, its own execution (interrupts taken meanwhile excluded)
    expect(info.executionNs).toBeGreaterThan(40_000);
    expect(info.endNs - info.startNs).toBeGreaterThanOrEqual(info.executionNs);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Array<{ name: string; ph: string; tid: number; args?: Record<string, unknown> }> };
    // the window holds the slow run's DPC slice on its CPU, ended at the breach
    expect(trace.traceEvents.some((e) => e.ph === 'B' && e.name === 'DPC DevDpcRoutine' && e.tid === info.cpu)).toBe(true);
    expect(info.records).toBeGreaterThan(0);
  });
});
