/**
 * paged-at-dispatch: pageable memory and the IRQL rule behind both source articles' drivers (nt-semantics.md §1.5).
 * A driver keeps a lookup table in paged pool. Its thread reads an entry at PASSIVE_LEVEL: the page
 * is not in memory, so the touch is a page fault; the thread waits for the simulated disk read
 * (state Waiting, reason PageIn) and then continues with the value. Then it reads another entry of
 * the same table with the same routine, but under a spin lock: at DISPATCH_LEVEL nothing can wait
 * for the disk, and the page fault is bugcheck 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL with P1 = the
 * address, P2 = 2 (the IRQL), P3 = 0 (a read), P4 = the instruction.
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2, R6 } from '../isa/registers.js';

const ENTRIES = 2048; // two 4 KB pages
const TAG = { FirstRead: 1 } as const;

export default defineScenario({
  name: 'paged-at-dispatch',
  description: 'a paged-pool touch at PASSIVE pages in and continues; the same touch under a spin lock is 0xD1 with P2 = 2',
  machine: { cpus: 1, durationMs: 100 },
  memory: {
    LookupTable: { words: ENTRIES, paged: true, pagedOut: true, init: Array.from({ length: ENTRIES }, (_, i) => 1000 + i) },
    TableLock: {},
  },
  threads: { Driver: { routine: 'Driver' } },
  traceTags: { [TAG.FirstRead]: 'LookupEntry(0) at PASSIVE_LEVEL returned' },
  routines: {
    Driver: (a) => {
      a.movi(R1, 0);
      a.call('LookupEntry');
      a.trace(TAG.FirstRead, R0);
      a.kcall('KeAcquireSpinLock', a.lock('TableLock'));
      a.mov(R6, R0);
      a.movi(R1, ENTRIES - 1); // the last entry: on the second page, still out of memory
      a.call('LookupEntry');
      a.kcall('KeReleaseSpinLock', a.lock('TableLock'), R6);
      a.ret(0);
    },
    // r1 = index → r0 = LookupTable[index]
    LookupEntry: (a) => {
      a.shl(R2, R1, 2);
      a.add(R2, R2, a.var('LookupTable'));
      a.load(R0, R2);
      a.ret(R0);
    },
  },
});
