/**
 * interrupt-storm: three devices at different DIRQLs (disk at 5, NIC at 8, a sensor at 10) hammer
 * every CPU through the IOAPIC. Each ISR acknowledges its device, counts itself, checks that it runs
 * at its own DIRQL, and queues its device's DPC; the DPCs do the bulk work at DISPATCH_LEVEL. The
 * NIC's DPC then signals the receive thread (KeSetEvent on a synchronization event, the NIC's boost
 * IO_NETWORK_INCREMENT 2), which takes the packets at PASSIVE_LEVEL: the path from an interrupt to
 * the thread it wakes, which the latency report times (DPC queued → thread ready → running) and the
 * timeline draws as arrows.
 *
 * What to look at: "Deepest nesting" > 1 (a higher-DIRQL interrupt landed inside a lower ISR);
 * interrupts at a lower DIRQL waited (masking) instead of nesting; fewer DPC runs than ISR calls
 * (KeInsertQueueDpc returned FALSE while the DPC was still queued: N interrupts, 1 DPC).
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2 } from '../isa/registers.js';

/** IO_NETWORK_INCREMENT: the priority boost a network driver gives the thread its completion wakes. */
const IO_NETWORK_INCREMENT = 2;
import type { RoutineBuilder } from '../isa/builder.js';

/** `driver`: the file name the latency report groups each device's ISR and DPC under, as LatencyMon's Drivers tab does (a label: the run is the same without it) */
const DEVICES = [
  { name: 'Disk', driver: 'disk.sys', vector: 0x50, irql: 5, rate: 2400, burst: 4, isrWork: 4000, dpcWork: 20000 },
  { name: 'Nic', driver: 'ndis.sys', vector: 0x80, irql: 8, rate: 3000, burst: 2, isrWork: 3000, dpcWork: 15000 },
  { name: 'Sensor', driver: 'sensor.sys', vector: 0xa0, irql: 10, rate: 1000, burst: 1, isrWork: 6000, dpcWork: 8000 },
] as const;

/** ServiceRoutine(Interrupt, ServiceContext): r1 = the KINTERRUPT, r2 = the context. */
function isr(device: (typeof DEVICES)[number]) {
  return (a: RoutineBuilder): void => {
    a.movi(R2, 1);
    // the ISR runs at its device's DIRQL: record any call that does not (there should be none)
    a.kcall('KeGetCurrentIrql');
    a.beq(R0, device.irql, 'at-dirql');
    a.xadd(R1, a.var('WrongIrql'), 0, R2);
    a.label('at-dirql');
    a.work(device.isrWork);
    a.load(R1, a.var(`${device.name}IsrCount`));
    a.kcall('KeInsertQueueDpc', a.dpc(`${device.name}Dpc`), R1, 0);
    a.beqz(R0, 'coalesced');
    a.xadd(R1, a.var(`${device.name}Queued`), 0, R2);
    a.jmp('counted');
    a.label('coalesced');
    a.xadd(R1, a.var(`${device.name}Coalesced`), 0, R2);
    a.label('counted');
    a.xadd(R1, a.var(`${device.name}IsrCount`), 0, R2);
    a.ret(1);
  };
}

/** DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2). */
function dpc(device: (typeof DEVICES)[number]) {
  return (a: RoutineBuilder): void => {
    a.movi(R2, 1);
    a.xadd(R1, a.var(`${device.name}DpcCount`), 0, R2);
    a.kcall('KeGetCurrentIrql');
    a.beq(R0, 2, 'at-dispatch');
    a.xadd(R1, a.var('WrongIrql'), 0, R2);
    a.label('at-dispatch');
    a.work(device.dpcWork);
    if (device.name === 'Nic') a.kcall('KeSetEvent', a.event('NicReceiveReady'), IO_NETWORK_INCREMENT, 0);
    a.ret();
  };
}

/** The NIC's receive thread: waits for its DPC's signal, then takes the packets at PASSIVE_LEVEL. */
function nicReceive(a: RoutineBuilder): void {
  a.movi(R2, 1);
  a.label('wait');
  // KeWaitForSingleObject(Object, Executive, KernelMode, Alertable FALSE, Timeout NULL: no timeout)
  a.kcall('KeWaitForSingleObject', a.event('NicReceiveReady'), 0, 0, 0, 0);
  a.xadd(R1, a.var('NicReceiveWakes'), 0, R2);
  a.work(5000);
  a.jmp('wait');
}

const routines: Record<string, (a: RoutineBuilder) => void> = {};
const memory: Record<string, { words?: number }> = { WrongIrql: {}, NicReceiveWakes: {} };
const dpcs: Record<string, { routine: string; driver: string }> = {};
const interrupts: Record<string, { vector: number; routine: string; driver: string }> = {};
const devices: Record<string, { vector: number; ratePerSec: number; burst: number; jitter: number; delivery: 'lowest-priority' }> = {};
for (const device of DEVICES) {
  routines[`${device.name}Isr`] = isr(device);
  routines[`${device.name}DpcRoutine`] = dpc(device);
  memory[`${device.name}IsrCount`] = {};
  memory[`${device.name}DpcCount`] = {};
  memory[`${device.name}Coalesced`] = {};
  memory[`${device.name}Queued`] = {};
  dpcs[`${device.name}Dpc`] = { routine: `${device.name}DpcRoutine`, driver: device.driver };
  interrupts[`${device.name}Interrupt`] = { vector: device.vector, routine: `${device.name}Isr`, driver: device.driver };
  devices[device.name.toLowerCase()] = {
    vector: device.vector,
    ratePerSec: device.rate,
    burst: device.burst,
    jitter: 0.5,
    delivery: 'lowest-priority',
  };
}

export default defineScenario({
  name: 'interrupt-storm',
  description: 'devices at different DIRQLs hammer N CPUs; ISRs queue DPCs, the NIC DPC wakes a receive thread; shows masking and nesting',
  machine: { durationMs: 200 },
  memory,
  routines: { ...routines, NicReceive: nicReceive },
  events: { NicReceiveReady: { type: 'synchronization' } },
  threads: { NicReceive: { routine: 'NicReceive', priority: 10 } },
  dpcs,
  interrupts,
  devices,
  results: (run) => {
    const out: Record<string, number> = {};
    for (const device of DEVICES) {
      out[`${device.name.toLowerCase()}IsrCalls`] = run.read(`${device.name}IsrCount`);
      out[`${device.name.toLowerCase()}DpcRuns`] = run.read(`${device.name}DpcCount`);
      out[`${device.name.toLowerCase()}DpcInserts`] = run.read(`${device.name}Queued`);
      out[`${device.name.toLowerCase()}InsertsCoalesced`] = run.read(`${device.name}Coalesced`);
    }
    out.nicReceiveWakes = run.read('NicReceiveWakes');
    out.deepestNesting = Math.max(...run.perCpu.map((c) => c.maxNesting));
    return out;
  },
  checks: (run) => [
    {
      name: 'every ISR ran at its DIRQL and every DPC at DISPATCH_LEVEL',
      passed: run.read('WrongIrql') === 0,
      detail: `${run.read('WrongIrql')} routines ran at an unexpected IRQL`,
    },
    {
      // a DPC runs only after the ISR that queued it has counted the insert, and one KDPC per
      // device can be queued only once, so at any moment 0 <= queued - runs <= 1
      name: 'every queued DPC ran exactly once (or is still queued at the end)',
      passed: DEVICES.every((d) => {
        const outstanding = run.read(`${d.name}Queued`) - run.read(`${d.name}DpcCount`);
        return outstanding === 0 || outstanding === 1;
      }),
      detail: DEVICES.map(
        (d) =>
          `${d.name}: ${run.read(`${d.name}IsrCount`)} ISR calls, ${run.read(`${d.name}Queued`)} inserts, ${run.read(`${d.name}Coalesced`)} coalesced (FALSE), ${run.read(`${d.name}DpcCount`)} DPC runs`,
      ).join('; '),
    },
  ],
});
