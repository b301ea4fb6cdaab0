// Deterministic mode counts a halted CPU's time as idle up to the end of the run, as parallel mode
// does: every CPU's time at each IRQL plus its idle time is the run's length.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { runOnWorkers } from './harness.js';

const DURATION_MS = 20;

const finishesEarly = defineScenario({
  name: 'finishes-early',
  description: 'a thread works 2 ms on CPU 0 and ends; CPU 1 never has work',
  machine: { cpus: 2, durationMs: DURATION_MS },
  threads: { Worker: { routine: 'Worker', cpu: 0 } },
  routines: {
    Worker: (a) => {
      a.work(2_000_000); // 2 ms at the default 1 cycle per ns
      a.ret(0);
    },
  },
});

describe('idle time in deterministic mode', () => {
  it('a CPU halted until the end of the run counts that time as idle, and its IRQL times and idle time add up to the run', async () => {
    const { result } = await runOnWorkers(finishesEarly, { cpus: 2 });
    expect(result.emulatedTimeNs).toBe(DURATION_MS * 1e6);
    for (const cpu of result.perCpu) {
      const atIrql = Object.values(cpu.timeAtIrqlNs).reduce((sum, ns) => sum + ns, 0);
      // each counter is rounded to whole ns
      expect(Math.abs(atIrql + cpu.idleNs - result.emulatedTimeNs), `CPU ${cpu.cpu}`).toBeLessThanOrEqual(Object.keys(cpu.timeAtIrqlNs).length + 1);
    }
    const [cpu0, cpu1] = result.perCpu;
    expect(cpu0!.idleNs).toBeGreaterThan(17e6);
    expect(cpu0!.idleNs).toBeLessThan(18.5e6);
    expect(cpu1!.idleNs).toBeGreaterThan(19.9e6);
  });
});
