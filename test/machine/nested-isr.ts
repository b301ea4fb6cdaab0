// The latency tests' small scenario (latency-report, latency-drivers): one CPU, a slow ISR at DIRQL 5
// that queues a DPC and, optionally, a fast ISR at DIRQL 10 that fires while the slow one runs;
// each interrupt object and the DPC may name its driver.
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';

/** The driver each object names (absent: none). */
export interface IsrDrivers {
  slow?: string;
  fast?: string;
  dpc?: string;
}

/** One CPU: a slow ISR at DIRQL 5 queuing a DPC and, when `nested`, a fast one at a higher DIRQL that fires while it runs. */
export function nestedIsrScenario(nested: boolean, extra: Partial<ScenarioDefinition> = {}, drivers: IsrDrivers = {}): ScenarioDefinition {
  const named = (driver: string | undefined) => (driver === undefined ? {} : { driver });
  return defineScenario({
    name: nested ? 'nested-isr' : 'lone-isr',
    description: 'a slow low-DIRQL ISR, optionally interrupted by a fast high-DIRQL one',
    interrupts: {
      Slow: { vector: 0x50, routine: 'SlowIsr', ...named(drivers.slow) },
      ...(nested ? { Fast: { vector: 0xa0, routine: 'FastIsr', ...named(drivers.fast) } } : {}),
    },
    dpcs: { SlowDpc: { routine: 'SlowDpcRoutine', ...named(drivers.dpc) } },
    devices: {
      slow: { vector: 0x50, ratePerSec: 1000, count: 1, startMs: 0.1 },
      ...(nested ? { fast: { vector: 0xa0, ratePerSec: 1000, count: 1, startMs: 0.15 } } : {}),
    },
    routines: {
      SlowIsr: (a) => {
        a.work(200_000);
        a.kcall('KeInsertQueueDpc', a.dpc('SlowDpc'), 0, 0);
        a.ret(1);
      },
      FastIsr: (a) => {
        a.work(30_000);
        a.ret(1);
      },
      SlowDpcRoutine: (a) => {
        a.work(50_000);
        a.ret();
      },
    },
    ...extra,
  });
}
