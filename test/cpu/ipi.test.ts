// nt-semantics.md §7 (IPIs) in process (the in-process backend), deterministic mode: KeIpiGenericCall's barrier,
// packet IPIs, request-bit coalescing, and CLOCK_WATCHDOG_TIMEOUT for a CPU that never answers.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R0, R1, R2, R5 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { prcbAddress } from '../../src/cpu/processor.js';
import { runInProcess } from '../smp/harness.js';

describe('§7 IPIs (in process)', () => {
  it('KeIpiGenericCall on 4 CPUs runs the routine on every CPU at IPI_LEVEL at the same time and returns the caller its own result', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'generic-call-4',
        description: 'CPU 0 calls KeIpiGenericCall; CPU 1 busy at PASSIVE, CPU 2 busy in a DPC, CPU 3 halted',
        memory: { Arrived: {}, Done: {} },
        dpcs: { Busy: { routine: 'BusyDpc', importance: 'High', targetCpu: 2 } },
        threads: { Caller: { routine: 'Caller', cpu: 0 }, Worker: { routine: 'BusyThread', cpu: 1 } },
        routines: {
          Caller: (a) => {
            a.kcall('KeInsertQueueDpc', a.dpc('Busy'), 0, 0);
            a.work(5000);
            a.kcall('KeIpiGenericCall', a.routine('Broadcast'), 40);
            a.trace(1, R0);
            a.store(a.var('Done'), 0, 1);
            a.ret(0);
          },
          // every CPU counts itself in, then waits for all four: it can only finish if all four run it at once
          Broadcast: (a) => {
            a.mov(R5, R1);
            a.movi(R2, 1);
            a.xadd(R0, a.var('Arrived'), 0, R2);
            a.label('all');
            a.load(R0, a.var('Arrived'));
            a.blt(R0, 4, 'all');
            a.kcall('KeGetCurrentIrql');
            a.trace(2, R0);
            a.kcall('KeGetCurrentProcessorNumber');
            a.add(R0, R0, R5);
            a.ret(R0);
          },
          BusyThread: (a) => {
            a.label('loop');
            a.work(300);
            a.load(R1, a.var('Done'));
            a.beqz(R1, 'loop');
            a.ret(0);
          },
          BusyDpc: (a) => {
            a.label('loop');
            a.work(300);
            a.load(R1, a.var('Done'));
            a.beqz(R1, 'loop');
            a.ret();
          },
        },
      }),
      { cpus: 4, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    const ran = run.all(2);
    expect(ran.map((e) => e.cpu).sort()).toEqual([0, 1, 2, 3]);
    expect(
      ran.every((e) => e.value === 14),
      'every CPU ran it at IPI_LEVEL',
    ).toBe(true);
    expect(run.first(1).value, "the caller's own result: CPU 0 + 40").toBe(40);
  });

  it('KiIpiSendPacket to 3 CPUs returns only after all 3 CPUs have run', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'packet-to-3',
        description: 'CPU 0 sends a TLB-flush-like packet to CPUs 1–3',
        memory: { Flushed: {} },
        threads: { Caller: { routine: 'Caller', cpu: 0 } },
        routines: {
          Caller: (a) => {
            a.kcall('KiIpiSendPacket', 0b1110, a.routine('Flush'), 0);
            a.load(R1, a.var('Flushed'));
            a.trace(1, R1);
            a.ret(0);
          },
          Flush: (a) => {
            a.work(5000);
            a.movi(R2, 1);
            a.xadd(R0, a.var('Flushed'), 0, R2);
            a.trace(2);
            a.ret(0);
          },
        },
      }),
      { cpus: 4, durationMs: 1 },
    );
    expect(run.first(1).value).toBe(3);
    const flushed = run.all(2);
    expect(flushed.map((e) => e.cpu).sort()).toEqual([1, 2, 3]);
    for (const e of flushed) expect(e.timeNs).toBeLessThan(run.first(1).timeNs);
  });

  it('two High DPCs queued to a masked CPU send one IPI (the second finds the request made): one service, one retirement', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'ipi-coalesce',
        description: 'CPU 1 sits at HIGH_LEVEL while CPU 0 queues two High DPCs to it',
        memory: { Queued: {} },
        dpcs: {
          A: { routine: 'Dpc', context: 1, importance: 'High', targetCpu: 1 },
          B: { routine: 'Dpc', context: 2, importance: 'High', targetCpu: 1 },
        },
        threads: { Sender: { routine: 'Sender', cpu: 0 }, Masked: { routine: 'Masked', cpu: 1 } },
        routines: {
          Sender: (a) => {
            a.work(2000);
            a.kcall('KeInsertQueueDpc', a.dpc('A'), 0, 0);
            a.kcall('KeInsertQueueDpc', a.dpc('B'), 0, 0);
            a.store(a.var('Queued'), 0, 1);
            a.ret(0);
          },
          Masked: (a) => {
            a.kcall('KeRaiseIrql', 15);
            a.label('wait');
            a.work(100);
            a.load(R1, a.var('Queued'));
            a.beqz(R1, 'wait');
            a.work(2000);
            a.kcall('KeLowerIrql', 0);
            a.ret(0);
          },
          Dpc: (a) => {
            a.trace(1, R2);
            a.ret();
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    // §2.3 step 5: DpcInterruptRequested is set by the first insert, so the second requests nothing
    expect(run.result.perCpu[0]!.ipisSent).toBe(1);
    expect(run.result.perCpu[1]!.ipisReceived).toBe(1);
    expect(run.result.perCpu[1]!.interruptsByVector['0xe1'], 'one KiIpiServiceRoutine').toBe(1);
    expect(
      run.all(1).map((e) => [e.cpu, e.value]),
      'both run in the one retirement, High at the head: B, A',
    ).toEqual([
      [1, 2],
      [1, 1],
    ]);
  });

  it('a CPU spinning at HIGH_LEVEL never acknowledges KeIpiGenericCall: bugcheck 0x101 naming it (P4 = 1)', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'generic-call-hang',
        description: 'CPU 1 spins at HIGH_LEVEL forever; CPU 0 calls KeIpiGenericCall',
        machine: { clockIntervalMs: 1, ipiAckTimeoutTicks: 20, clockWatchdogTicks: 40 },
        memory: { Masked: {} },
        threads: { Caller: { routine: 'Caller', cpu: 0 }, Stuck: { routine: 'Stuck', cpu: 1 } },
        routines: {
          Caller: (a) => {
            a.label('wait');
            a.work(100);
            a.load(R1, a.var('Masked'));
            a.beqz(R1, 'wait');
            a.kcall('KeIpiGenericCall', a.routine('Nothing'), 0);
            a.ret(0);
          },
          Nothing: (a) => a.ret(0),
          Stuck: (a) => {
            a.kcall('KeRaiseIrql', 15);
            a.store(a.var('Masked'), 0, 1);
            a.label('forever');
            a.work(100);
            a.jmp('forever');
          },
        },
      }),
      { cpus: 2, durationMs: 100 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT);
    expect(bugcheck.params).toEqual([20, 0, prcbAddress(1), 1]);
    expect(bugcheck.cpu, 'raised by the waiting sender').toBe(0);
    expect(bugcheck.emulatedTimeNs).toBeGreaterThan(20e6);
    expect(bugcheck.emulatedTimeNs).toBeLessThan(23e6);
    const stuck = bugcheck.cpus.find((c) => c.cpu === 1)!;
    expect(stuck.irql, 'the hung CPU froze at HIGH_LEVEL (the freeze is taken at any IRQL)').toBe(15);
  });
  it('a CPU masked at HIGH_LEVEL that nobody signals misses clockWatchdogTicks clock interrupts: bugcheck 0x101 raised by a CPU still taking them', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'clock-watchdog-hang',
        description: 'CPU 1 spins at HIGH_LEVEL forever; CPU 0 keeps working at PASSIVE_LEVEL',
        machine: { clockIntervalMs: 1, clockWatchdogTicks: 40 },
        threads: { Worker: { routine: 'Worker', cpu: 0 }, Stuck: { routine: 'Stuck', cpu: 1 } },
        routines: {
          Worker: (a) => {
            a.label('loop');
            a.work(1000);
            a.jmp('loop');
          },
          Stuck: (a) => {
            a.kcall('KeRaiseIrql', 15);
            a.label('forever');
            a.work(100);
            a.jmp('forever');
          },
        },
      }),
      { cpus: 2, durationMs: 100 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.CLOCK_WATCHDOG_TIMEOUT);
    expect(bugcheck.params).toEqual([40, 0, prcbAddress(1), 1]);
    expect(bugcheck.cpu, 'raised from the clock path of the CPU that still takes ticks').toBe(0);
    // the first tick CPU 1 cannot take is the one at 1 ms; it has waited 40 ticks at 41 ms
    expect(bugcheck.emulatedTimeNs).toBeGreaterThanOrEqual(41e6);
    expect(bugcheck.emulatedTimeNs).toBeLessThan(43e6);
    expect(bugcheck.cpus.find((c) => c.cpu === 1)!.irql).toBe(15);
  });
  it('ticks that coalesce while a CPU is masked are answered by the interrupt it takes on lowering: 30-tick masked stretches, again and again, are no clock watchdog timeout', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'clock-watchdog-coalesced',
        description: 'CPU 0 raises to HIGH_LEVEL for 30 ms at a time (limit 40 ticks of 1 ms), six times',
        machine: { clockIntervalMs: 1, clockWatchdogTicks: 40 },
        threads: { Masker: { routine: 'Masker', cpu: 0 } },
        routines: {
          Masker: (a) => {
            a.movi(R1, 0);
            a.label('round');
            a.kcall('KeRaiseIrql', 15);
            a.work(30_000_000);
            a.kcall('KeLowerIrql', 0);
            a.work(2_000_000);
            a.add(R1, R1, 1);
            a.blt(R1, 6, 'round');
            a.trace(1, R1);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 250 },
    );
    expect(run.result.bugcheck, run.result.bugcheck?.name).toBeNull();
    expect(run.all(1).map((e) => e.value)).toEqual([6]);
    // six masked stretches of ~30 ticks each, every one answered by a single clock interrupt
    expect(run.result.perCpu[0]!.clockTicks).toBeLessThan(250 - 6 * 25);
  });
});
