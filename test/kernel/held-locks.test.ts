// Prcb.heldLocks: the owner records of the spin locks a CPU holds are reused, so that taking and
// releasing a lock allocates nothing (a contended lock is taken millions of times a run).
import { describe, expect, it } from 'vitest';
import { HeldLocks } from '../../src/kernel/prcb.js';

describe('HeldLocks (a CPU’s spin-lock owner records)', () => {
  it('finds each held lock by address and forgets it on release', () => {
    const held = new HeldLocks();
    held.take(0x1000, 2, 2, 7, 'dpc', 3);
    held.take(0x2000, 3, 2, 7, 'isr', 4);
    expect(held.size).toBe(2);
    expect(held.get(0x1000)).toMatchObject({ address: 0x1000, frame: 2, holderRole: 'dpc', holderRoutine: 3 });
    held.delete(0x1000);
    expect(held.get(0x1000)).toBeUndefined();
    expect(held.get(0x2000)).toMatchObject({ address: 0x2000, holderRole: 'isr' });
    expect(held.size).toBe(1);
  });

  it('reuses a released record for the next lock taken instead of allocating one', () => {
    const held = new HeldLocks();
    held.take(0x1000, 1, 0, 5, 'thread', 1);
    const first = held.get(0x1000);
    held.delete(0x1000);
    held.take(0x3000, 4, 2, 6, 'dpc', 9);
    expect(held.get(0x3000)).toBe(first);
    expect(held.get(0x3000)).toMatchObject({ address: 0x3000, frame: 4, irql: 2, thread: 6, holderRole: 'dpc', holderRoutine: 9 });
  });

  it('lists copies of the held records for reports, which later takes do not change', () => {
    const held = new HeldLocks();
    held.take(0x1000, 1, 0, 5, 'thread', 1);
    const listed = held.list();
    held.delete(0x1000);
    held.take(0x2000, 2, 2, 5, 'dpc', 2);
    expect(listed).toEqual([{ address: 0x1000, frame: 1, irql: 0, thread: 5, holderRole: 'thread', holderRoutine: 1 }]);
  });
});
