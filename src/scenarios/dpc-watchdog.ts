/**
 * dpc-watchdog: a DPC routine that runs far too long (nt-semantics.md §2.9). A device's ISR queues
 * the DPC, whose routine polls the hardware in a loop that never finds what it waits for. The DPC
 * watchdog counts the clock ticks that find the same DPC running; past DpcTimeLimit (here 16 ticks,
 * 250 ms; Windows uses 0x500) it is bugcheck 0x133 DPC_WATCHDOG_VIOLATION with P1 = 0, P2 = the
 * ticks counted, P3 = the limit.
 */

import { defineScenario } from '../scenario/define.js';
import { R1 } from '../isa/registers.js';

export default defineScenario({
  name: 'dpc-watchdog',
  description: 'a DPC routine that polls forever: 0x133 DPC_WATCHDOG_VIOLATION with P1 = 0 after DpcTimeLimit ticks',
  machine: { cpus: 2, durationMs: 2000, dpcTimeLimitTicks: 16 },
  memory: { DeviceReady: {} },
  interrupts: { Device: { vector: 0x70, routine: 'DeviceIsr' } },
  devices: { device: { vector: 0x70, ratePerSec: 1000, startMs: 5, count: 1, cpus: [1] } },
  dpcs: { DeviceDpc: { routine: 'PollDevice' } },
  routines: {
    DeviceIsr: (a) => {
      a.kcall('KeInsertQueueDpc', a.dpc('DeviceDpc'), 0, 0);
      a.ret(1);
    },
    PollDevice: (a) => {
      a.label('poll');
      a.kcall('KeStallExecutionProcessor', 50);
      a.load(R1, a.var('DeviceReady'));
      a.beqz(R1, 'poll');
      a.ret();
    },
  },
});
