// A small scenario where an interrupt's DPC wakes a thread (the latency report's interrupt → thread
// rows, the timeline's wake arrows), and a deterministic in-process run that records its trace.
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import type { RunOptions } from '../../src/machine/execute.js';

export const WAKES = 3;

/** A device on CPU 0 whose DPC sets an event a high-priority thread (on `waiterCpu`) waits on; a busy lower-priority thread on CPU 0 and on the waiter's CPU. */
export function dpcWakesThread(waiterCpu: number, extra: Partial<ScenarioDefinition> = {}): ScenarioDefinition {
  return defineScenario({
    name: 'dpc-wakes-thread',
    description: 'an ISR queues a DPC whose routine sets the event a driver thread waits on',
    events: { Go: { type: 'synchronization' } },
    interrupts: { Dev: { vector: 0x50, routine: 'DevIsr' } },
    dpcs: { DevDpc: { routine: 'DevDpcRoutine' } },
    devices: { dev: { vector: 0x50, ratePerSec: 2000, count: WAKES, startMs: 0.1, cpus: [0] } },
    threads: {
      Waiter: { routine: 'Waiter', cpu: waiterCpu, priority: 15 },
      Busy: { routine: 'Busy', cpu: 0, priority: 8 },
      // the waiter's CPU is never halted: it preempts a thread there (a halted CPU's clock waits behind the others')
      ...(waiterCpu > 0 ? { Busy1: { routine: 'Busy', cpu: waiterCpu, priority: 8 } } : {}),
    },
    routines: {
      DevIsr: (a) => {
        a.work(700);
        a.kcall('KeInsertQueueDpc', a.dpc('DevDpc'), 0, 0);
        a.ret(1);
      },
      DevDpcRoutine: (a) => {
        a.work(5_000);
        a.kcall('KeSetEvent', a.event('Go'), 0, 0);
        a.work(3_000);
        a.ret();
      },
      Waiter: (a) => {
        a.label('top');
        a.kcall('KeWaitForSingleObject', a.event('Go'), 0, 0, 0, 0);
        a.work(1_000);
        a.jmp('top');
      },
      Busy: (a) => {
        a.label('top');
        a.work(1_000);
        a.jmp('top');
      },
    },
    ...extra,
  });
}

export interface Recorded {
  cpu: number;
  time: number;
  event: number;
  a: number;
  b: number;
  c: number;
}

export async function runRecorded(definition: ScenarioDefinition, cpus: number, extra: Partial<RunOptions> = {}) {
  validateScenario(definition, { cpus, arch: 'x64' });
  const records: Recorded[] = [];
  const result = await executeScenario(definition, null, {
    cpus,
    mode: 'deterministic',
    seed: 1,
    durationNs: 2e6,
    verbose: false,
    command: '',
    backend: 'in-process',
    on: { trace: (cpu, time, event, a, b, c) => records.push({ cpu, time, event, a, b, c }) },
    ...extra,
  });
  return { result, records };
}
