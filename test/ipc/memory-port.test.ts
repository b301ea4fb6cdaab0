// The in-memory actor port (src/ipc/memory-port.ts) delivers as the worker transport does: each
// inbox in ascending sender order, each sender's records in the order sent; every send rings the
// receiver's doorbell word in shared memory; an actor that would sleep lets the others act, and a
// sleep nobody can end is an error, not a hang.
import { describe, expect, it } from 'vitest';
import { MemoryHub } from '../../src/ipc/memory-port.js';
import { DoorbellField, computeLayout } from '../../src/shm/layout.js';

function hub(): { hub: MemoryHub; layout: ReturnType<typeof computeLayout>; i32: Int32Array } {
  const layout = computeLayout({ cpus: 2, threads: 2, dpcs: 0, interruptLocks: 0, codeWords: 64, memoryWords: 1024, ringCapacity: 64, traceCapacity: 64 });
  const sab = new SharedArrayBuffer(layout.totalWords * 4);
  return { hub: new MemoryHub(sab, layout, { onReport: () => {} }), layout, i32: new Int32Array(sab) };
}

describe('in-memory actor port', () => {
  it('delivers by sender in ascending actor order, each sender’s records in the order sent', () => {
    const { hub: h } = hub();
    const cpu0 = h.port(2);
    const cpu1 = h.port(3);
    const coordinator = h.port(1);
    cpu1.send(2, 7, 1, 31);
    coordinator.send(2, 7, 1, 11);
    cpu1.send(2, 7, 1, 32);
    coordinator.sendWords(2, 8, Int32Array.of(12, 13), 0, 2);
    const seen: Array<[number, number, number[]]> = [];
    expect(cpu0.hasWork()).toBe(true);
    const count = cpu0.poll((kind, w, offset, length, from) => seen.push([from, kind, Array.from(w.subarray(offset, offset + length))]));
    expect(count).toBe(4);
    expect(seen).toEqual([
      [1, 7, [11]],
      [1, 8, [12, 13]],
      [3, 7, [31]],
      [3, 7, [32]],
    ]);
    expect(cpu0.hasWork()).toBe(false);
  });

  it('rings the receiver’s doorbell word in shared memory on every send, and reports what the receiver last saw', () => {
    const { hub: h, layout, i32 } = hub();
    const cpu0 = h.port(2);
    const coordinator = h.port(1);
    const bell = layout.doorbell(2) + DoorbellField.COUNT;
    expect(cpu0.doorbell).toEqual({ i32, index: bell });
    coordinator.send(2, 7, 0);
    coordinator.send(2, 7, 0);
    expect(Atomics.load(i32, bell)).toBe(2);
    cpu0.poll(() => {});
    expect(cpu0.doorbellSeen()).toBe(2);
    coordinator.send(2, 7, 0);
    expect(Atomics.load(i32, bell)).not.toBe(cpu0.doorbellSeen());
  });

  it('a sleeping actor lets the others act through the stalled hook; a sleep nobody can end throws', () => {
    const { hub: h } = hub();
    const cpu0 = h.port(2);
    const coordinator = h.port(1);
    h.stalled = () => {
      coordinator.send(2, 9, 1, 5);
      return true;
    };
    cpu0.sleep(10);
    expect(cpu0.hasWork()).toBe(true);
    cpu0.poll(() => {});
    h.stalled = () => false;
    expect(() => cpu0.sleep(10)).toThrow(/waits for a message that nobody is left to send/);
  });
});
