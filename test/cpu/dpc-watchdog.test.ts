// nt-semantics.md §2.9, the DPC watchdog's cumulative limit, in process (deterministic mode): "count
// consecutive ticks spent at ≥ DISPATCH_LEVEL without dropping below it". A CPU that drops below
// DISPATCH_LEVEL and halts takes no clock ticks (tick skipping), so no tick sees the drop: the count
// must restart at the drop itself.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { runInProcess } from '../smp/harness.js';

/** Every 20 ms a device interrupt on CPU 1 queues a DPC that stalls `stallMs`; CPU 1 is idle in between. */
const longDpcs = (stallMs: number, idleBetween: boolean) =>
  defineScenario({
    name: `dpc-watchdog-${stallMs}ms`,
    description: 'long DPCs on a CPU that is idle between them',
    machine: { cpus: 2, durationMs: 100, clockIntervalMs: 1, dpcTimeLimitTicks: 16, dpcWatchdogPeriodTicks: 32 },
    interrupts: { Device: { vector: 0x70, routine: 'DeviceIsr' } },
    devices: { device: { vector: 0x70, ratePerSec: 50, startMs: 1, cpus: [1] } },
    dpcs: { Slow: { routine: 'SlowDpc' } },
    threads: { Busy: { routine: 'Busy', cpu: 0 }, ...(idleBetween ? {} : { Busy1: { routine: 'Busy', cpu: 1 } }) },
    routines: {
      DeviceIsr: (a) => {
        a.kcall('KeInsertQueueDpc', a.dpc('Slow'), 0, 0);
        a.ret(1);
      },
      SlowDpc: (a) => {
        a.kcall('KeStallExecutionProcessor', stallMs * 1000);
        a.trace(1);
        a.ret();
      },
      Busy: (a) => {
        a.label('loop');
        a.work(1000);
        a.jmp('loop');
      },
    },
  });

describe('DPC watchdog, cumulative limit (§2.9)', () => {
  it('the count of consecutive ticks at DISPATCH_LEVEL restarts when the CPU drops below it, even with no tick in between (an idle CPU takes none)', async () => {
    // 10 ms DPCs every 20 ms: never 32 consecutive ticks at DISPATCH_LEVEL
    const { result, all } = await runInProcess(longDpcs(10, true), { cpus: 2, seed: 1 });
    expect(result.bugcheck, result.bugcheck?.detail).toBeNull();
    // every DPC ran to its end: 5 device interrupts in 100 ms, from 1 ms on
    expect(all(1).length).toBe(5);
  });

  it('with a busy thread between the DPCs the same run is no violation either (ticks at PASSIVE reset the count)', async () => {
    const { result } = await runInProcess(longDpcs(10, false), { cpus: 2, seed: 1 });
    expect(result.bugcheck).toBeNull();
  });

  it('a DPC longer than DpcTimeLimit ticks is still 0x133 with P1 = 0', async () => {
    const { result } = await runInProcess(longDpcs(30, true), { cpus: 2, seed: 1 });
    expect(result.bugcheck?.code).toBe(BUGCHECK.DPC_WATCHDOG_VIOLATION);
    expect(result.bugcheck?.params[0]).toBe(0);
  });
});
