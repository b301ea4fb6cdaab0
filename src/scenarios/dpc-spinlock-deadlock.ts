/**
 * dpc-spinlock-deadlock: the classic same-CPU spin-lock deadlock (nt-semantics.md §6.1, §6.5).
 *
 * A driver thread at PASSIVE_LEVEL takes the spin lock its DPC also uses, but with
 * KeAcquireSpinLockAtDpcLevel, which does not raise the IRQL (the call is only for code already at
 * DISPATCH_LEVEL). Its device interrupts the same CPU; the ISR queues the DPC; the DPC runs as soon
 * as the ISR returns, because the thread below it is at PASSIVE_LEVEL, and spins on the lock. The
 * thread that holds the lock cannot run again until the DPC returns: the spin can never end.
 *
 * Real NT spins until its DPC watchdog fires (0x133, many seconds later). irqlab's spin-lock
 * deadlock detector ends it after machine.spinTimeoutTicks clock ticks with a 0x133 whose analysis
 * names the lock, the holder (the thread, and the IRQL it took the lock at) and the spinner (the DPC).
 * The fix is KeAcquireSpinLock, which raises to DISPATCH_LEVEL so the DPC waits for the release.
 */

import { defineScenario } from '../scenario/define.js';
import { R0 } from '../isa/registers.js';

export default defineScenario({
  name: 'dpc-spinlock-deadlock',
  description: 'a PASSIVE thread takes a spin lock without raising; its DPC on the same CPU spins on it forever; the deadlock detector names both',
  machine: { cpus: 1, durationMs: 2000, spinTimeoutTicks: 8 },
  memory: { DeviceLock: {}, Shared: {} },
  interrupts: { Device: { vector: 0x60, routine: 'DeviceIsr' } },
  dpcs: { DeviceDpc: { routine: 'DeviceDpcRoutine' } },
  devices: { device: { vector: 0x60, ratePerSec: 1000, startMs: 1, count: 1 } },
  threads: { Driver: { routine: 'DriverThread', cpu: 0 } },
  routines: {
    DriverThread: (a) => {
      // the bug: AtDpcLevel at PASSIVE_LEVEL takes the lock without raising the IRQL
      a.kcall('KeAcquireSpinLockAtDpcLevel', a.lock('DeviceLock'));
      a.work(5_000_000); // 5 ms holding the lock: the device interrupts meanwhile
      a.load(R0, a.var('Shared'));
      a.kcall('KeReleaseSpinLockFromDpcLevel', a.lock('DeviceLock'));
      a.ret(0);
    },
    DeviceIsr: (a) => {
      a.kcall('KeInsertQueueDpc', a.dpc('DeviceDpc'), 0, 0);
      a.ret(1);
    },
    DeviceDpcRoutine: (a) => {
      a.kcall('KeAcquireSpinLockAtDpcLevel', a.lock('DeviceLock'));
      a.store(a.var('Shared'), 0, 1);
      a.kcall('KeReleaseSpinLockFromDpcLevel', a.lock('DeviceLock'));
      a.ret();
    },
  },
  // `irqlab explore dpc-spinlock-deadlock`: the deadlock is a bugcheck (0x133); with no bugcheck the DPC got the lock
  outcome: (run) => (run.read('Shared') === 1 ? 'the DPC ran after the lock was released' : 'the DPC never ran'),
  outcomes: [
    {
      match: '0x133 DPC_WATCHDOG_VIOLATION',
      expect: 'forbidden',
      description:
        "the device interrupted while the PASSIVE thread held the lock; the DPC spun on it on the holder's own CPU until the deadlock detector stopped the machine",
    },
    {
      match: 'the DPC ran after the lock was released',
      expect: 'acceptable',
      description: 'the interrupt came after the thread released the lock: the same bug, outside its 5 ms window',
    },
  ],
  // perturb: the device's interrupt anywhere from 1 ms to 7 ms; the thread holds the lock for the first 5 ms
  explore: { jitter: { deviceNs: 6_000_000 } },
});
