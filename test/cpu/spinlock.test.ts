// nt-semantics.md §6 (spin locks) in process (the in-process backend), deterministic mode: IRQL effects, IPIs
// serviced while spinning, FIFO queued locks, 0xF / 0x10, and the deadlock detector.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R0, R1, R2 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import dpcSpinlockDeadlock from '../../src/scenarios/dpc-spinlock-deadlock.js';
import { runInProcess } from '../smp/harness.js';

describe('§6 spin locks (in process)', () => {
  it('KeAcquireSpinLock raises to DISPATCH_LEVEL; KeReleaseSpinLock(old = 0) lowers to PASSIVE and runs the DPC queued meanwhile', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'acquire-release',
        description: 'take a spin lock at PASSIVE, queue a DPC while holding it, release',
        memory: { Lock: {} },
        dpcs: { D: { routine: 'Dpc' } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.mov(R2, R0);
            a.trace(1, R2);
            a.kcall('KeGetCurrentIrql');
            a.trace(2, R0);
            a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
            a.trace(3);
            a.kcall('KeReleaseSpinLock', a.lock('Lock'), R2);
            a.kcall('KeGetCurrentIrql');
            a.trace(5, R0);
            a.load(R1, a.var('Lock'));
            a.trace(6, R1);
            a.ret(0);
          },
          Dpc: (a) => {
            a.trace(4);
            a.ret();
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 0],
      [2, 2],
      [3, 0],
      [4, 0],
      [5, 0],
      [6, 0],
    ]);
  });

  it('a CPU spinning on a spin lock at DISPATCH_LEVEL still services an IPI (IPI_LEVEL > DISPATCH_LEVEL)', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'ipi-while-spinning',
        description: 'CPU 0 holds L and sends CPU 1 a packet while CPU 1 spins on L',
        memory: { Lock: {}, Holding: {}, Serviced: {} },
        threads: { Holder: { routine: 'Holder', cpu: 0 }, Spinner: { routine: 'Spinner', cpu: 1 } },
        routines: {
          Holder: (a) => {
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.mov(R2, R0);
            a.store(a.var('Holding'), 0, 1);
            a.work(20_000); // CPU 1 starts spinning meanwhile
            a.kcall('KiIpiSendPacket', 0b10, a.routine('Packet'), 0);
            a.trace(1);
            a.kcall('KeReleaseSpinLock', a.lock('Lock'), R2);
            a.ret(0);
          },
          Spinner: (a) => {
            a.label('wait');
            a.work(100);
            a.load(R1, a.var('Holding'));
            a.beqz(R1, 'wait');
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.mov(R2, R0);
            a.trace(3);
            a.kcall('KeReleaseSpinLock', a.lock('Lock'), R2);
            a.ret(0);
          },
          Packet: (a) => {
            a.trace(2);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(2).cpu).toBe(1);
    expect(run.first(2).timeNs, 'the packet ran on CPU 1 while it was spinning').toBeLessThan(run.first(3).timeNs);
    expect(run.first(1).timeNs, 'and the sender got its acknowledgement while still holding the lock').toBeLessThan(run.first(3).timeNs);
  });

  it('a queued spin lock is granted in arrival order', async () => {
    // arrivals 25 µs apart: more than a deterministic slice (≤ 16384 cycles), so emulated-time order is execution order
    const waiters = Object.fromEntries([1, 2, 3].map((cpu) => [`W${cpu}`, { routine: 'Waiter', cpu, args: [cpu, 25_000 * cpu] }]));
    const run = await runInProcess(
      defineScenario({
        name: 'queued-fifo',
        description: 'CPU 0 holds a queued lock; CPUs 1, 2, 3 queue behind it in that order',
        memory: { Lock: {}, Handles: { words: 12 }, Order: { words: 4 }, Next: {} },
        threads: { Owner: { routine: 'Owner', cpu: 0 }, ...waiters },
        routines: {
          Owner: (a) => {
            a.kcall('KeAcquireInStackQueuedSpinLock', a.lock('Lock'), a.var('Handles', 0));
            a.work(150_000);
            a.kcall('KeReleaseInStackQueuedSpinLock', a.var('Handles', 0));
            a.ret(0);
          },
          // r1 = cpu (its handle is Handles + 12 * cpu), r2 = how long to wait before queueing
          Waiter: (a) => {
            a.work(R2);
            a.mul(R2, R1, 12);
            a.add(R2, R2, a.var('Handles'));
            a.kcall('KeAcquireInStackQueuedSpinLock', a.lock('Lock'), R2);
            a.trace(1, R1);
            a.work(1000);
            a.kcall('KeReleaseInStackQueuedSpinLock', R2);
            a.ret(0);
          },
        },
      }),
      { cpus: 4, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    const grants = run
      .all(1)
      .sort((x, y) => x.timeNs - y.timeNs)
      .map((e) => e.value);
    expect(grants).toEqual([1, 2, 3]);
  });

  it('acquiring a spin lock the same context already holds is bugcheck 0xF SPIN_LOCK_ALREADY_OWNED', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'recursive-acquire',
        description: 'KeAcquireSpinLock twice',
        memory: { Lock: {} },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.kcall('KeAcquireSpinLock', a.lock('Lock'));
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.SPIN_LOCK_ALREADY_OWNED);
    expect(bugcheck.params[0]).toBe(0x1000);
    expect(bugcheck.detail).toMatch(/thread Main \(Main\) already holds spin lock Lock \(0x1000\)/);
  });

  it('releasing a spin lock that is not held is bugcheck 0x10 SPIN_LOCK_NOT_OWNED', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'release-free',
        description: 'KeReleaseSpinLock on a free lock',
        memory: { Lock: {} },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeRaiseIrqlToDpcLevel');
            a.kcall('KeReleaseSpinLock', a.lock('Lock'), 0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.SPIN_LOCK_NOT_OWNED);
    expect(run.result.bugcheck?.detail).toMatch(/but it is not held/);
  });

  it('a DPC spinning on a lock its own CPU’s PASSIVE thread holds ends, after spinTimeoutTicks, in a report naming the lock, the holder and the spinner', async () => {
    const run = await runInProcess(dpcSpinlockDeadlock, { cpus: 1 });
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.DPC_WATCHDOG_VIOLATION);
    expect(bugcheck.params).toEqual([0, 8, 8, 0x1000]);
    expect(bugcheck.detail).toContain('DPC routine DeviceDpcRoutine on CPU 0 has spun 8 clock ticks');
    expect(bugcheck.detail).toContain('spin lock DeviceLock (0x1000) held by thread Driver (DriverThread) on this same CPU 0, which took it at PASSIVE_LEVEL');
    expect(bugcheck.detail).toContain('can never succeed');
    // 8 ticks of 15.625 ms after the device fired at 1 ms
    expect(bugcheck.emulatedTimeNs).toBeGreaterThanOrEqual(8 * 15.625e6);
    expect(bugcheck.emulatedTimeNs).toBeLessThan(10 * 15.625e6);
    expect(bugcheck.frames.map((f) => f.kind)).toEqual(['thread', 'dispatch', 'dpc', 'kernel']);
  });
});
