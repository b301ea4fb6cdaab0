// The emulated interrupt hardware: local APIC masking and nesting order, IOAPIC routing, devices.
import { describe, expect, it } from 'vitest';
import { LocalApic } from '../../src/hal/lapic.js';
import { IoApic } from '../../src/hal/ioapic.js';
import { InterruptSource } from '../../src/hal/device.js';
import { X64, vectorToIrql } from '../../src/kernel/irql.js';
import { TraceHash } from '../../src/util/hash.js';
import { Prng } from '../../src/util/prng.js';

const x64Levels = (): Int32Array => Int32Array.from({ length: 256 }, (_, v) => vectorToIrql(X64, v));

describe('local APIC', () => {
  it('a masked interrupt stays pending and is never lost', () => {
    const apic = new LocalApic(x64Levels());
    apic.post(0x40, 10);
    apic.post(0x40, 20);
    expect(apic.highestPendingIrql()).toBe(4);
    expect(apic.accept(4)).toBe(0x40);
    expect(apic.acceptedAssertNs).toBe(10);
    expect(apic.accept(4)).toBe(0x40);
    expect(apic.acceptedAssertNs).toBe(20);
    expect(apic.highestPendingIrql()).toBe(-1);
  });
  it('a saturated line keeps every assertion time in order (FIFO) through interleaved posts and accepts', () => {
    const apic = new LocalApic(x64Levels());
    const accepted: number[] = [];
    let next = 0;
    for (let round = 0; round < 5000; round++) {
      apic.post(0x40, next++);
      apic.post(0x40, next++);
      apic.accept(4);
      accepted.push(apic.acceptedAssertNs);
    }
    while (apic.highestPendingIrql() === 4) {
      apic.accept(4);
      accepted.push(apic.acceptedAssertNs);
    }
    expect(accepted).toEqual(Array.from({ length: next }, (_, i) => i));
  });
  it('assertions held ahead of their time come out in order with their own times and sources, through growth and wrap-around', () => {
    const apic = new LocalApic(x64Levels());
    const taken: Array<[number, number, number]> = [];
    let next = 0;
    // the held stretch never drains: it grows, then wraps as it is refilled
    for (let round = 0; round < 3000; round++) {
      for (let i = 0; i < 3; i++, next++) apic.hold(0x40 + (next % 3), next * 10, next % 7);
      for (let i = 0; i < 2; i++) {
        expect(apic.nextHeldNs()).toBe(taken.length * 10);
        apic.takeHeld();
        taken.push([apic.heldTakenVector, apic.heldTakenNs, apic.heldTakenSource]);
      }
    }
    expect(apic.heldCount()).toBe(next - taken.length);
    expect(apic.heldSourcesLeft()).toEqual(Array.from({ length: next - taken.length }, (_, i) => (taken.length + i) % 7));
    while (apic.heldCount() > 0) {
      apic.takeHeld();
      taken.push([apic.heldTakenVector, apic.heldTakenNs, apic.heldTakenSource]);
    }
    expect(apic.nextHeldNs()).toBe(Infinity);
    expect(taken).toEqual(Array.from({ length: next }, (_, i) => [0x40 + (i % 3), i * 10, i % 7]));
  });
  it('the source of every queued assertion comes out with its time', () => {
    const apic = new LocalApic(x64Levels());
    for (let i = 0; i < 100; i++) apic.post(0x40, i, i % 5);
    for (let i = 0; i < 100; i++) {
      apic.accept(4);
      expect([apic.acceptedAssertNs, apic.acceptedSource]).toEqual([i, i % 5]);
    }
  });
  it('the highest pending level is offered first', () => {
    const apic = new LocalApic(x64Levels());
    apic.post(0x40, 0);
    apic.post(0x60, 0);
    apic.post(0x50, 0);
    expect(apic.highestPendingIrql()).toBe(6);
    apic.accept(6);
    expect(apic.highestPendingIrql()).toBe(5);
  });
  it('IPI-style posts coalesce while the vector is pending', () => {
    const apic = new LocalApic(x64Levels());
    apic.postOnce(0xe1, 0);
    apic.postOnce(0xe1, 1);
    apic.accept(14);
    expect(apic.isPending(0xe1)).toBe(false);
  });
  it('EOI takes the innermost vector out of service', () => {
    const apic = new LocalApic(x64Levels());
    apic.post(0x50, 0);
    apic.post(0x80, 0);
    apic.accept(8);
    apic.accept(5);
    expect(apic.inService).toEqual([0x80, 0x50]);
    expect(apic.eoi()).toBe(0x50);
    expect(apic.eoi()).toBe(0x80);
  });
});

describe('IOAPIC', () => {
  it('fixed delivery cycles through the destination set in order', () => {
    const ioapic = new IoApic();
    ioapic.program({ line: 1, vector: 0x50, delivery: 'fixed', destinations: [2, 0] });
    expect([1, 2, 3].map(() => ioapic.route(1, () => 0))).toEqual([2, 0, 2]);
  });
  it('lowest-priority delivery picks the destination at the lowest IRQL', () => {
    const ioapic = new IoApic();
    ioapic.program({ line: 3, vector: 0x50, delivery: 'lowest-priority', destinations: [0, 1, 2] });
    const irqls = [5, 2, 0];
    expect(ioapic.route(3, (cpu) => irqls[cpu]!)).toBe(2);
  });
});

describe('device interrupt source', () => {
  it('fires at its mean rate, in bursts, and stops after its count', () => {
    const device = new InterruptSource({
      name: 'd',
      line: 0,
      vector: 0x50,
      ratePerSec: 1000,
      burst: 2,
      jitter: 0,
      delivery: 'fixed',
      cpus: [0],
      startNs: 0,
      count: 5,
      seed: 1,
    });
    const times: number[] = [];
    let total = 0;
    while (device.nextEventNs() !== Infinity) {
      times.push(device.nextEventNs());
      total += device.fire();
    }
    expect(total).toBe(5);
    expect(times).toEqual([0, 2e6, 4e6]);
  });
  it('jitter is seeded: the same seed gives the same gaps, another seed other gaps', () => {
    const gaps = (seed: number): number[] => {
      const device = new InterruptSource({
        name: 'd',
        line: 0,
        vector: 0x50,
        ratePerSec: 1000,
        burst: 1,
        jitter: 0.5,
        delivery: 'fixed',
        cpus: [0],
        startNs: 0,
        count: 20,
        seed,
      });
      const out: number[] = [];
      while (device.nextEventNs() !== Infinity) {
        out.push(device.nextEventNs());
        device.fire();
      }
      return out;
    };
    expect(gaps(7)).toEqual(gaps(7));
    expect(gaps(7)).not.toEqual(gaps(8));
    for (const [a, b] of gaps(7)
      .slice(1)
      .map((t, i, all) => [i === 0 ? 0 : all[i - 1]!, t] as const)) {
      expect(b - a).toBeGreaterThanOrEqual(0.5e6 - 1);
      expect(b - a).toBeLessThanOrEqual(1.5e6 + 1);
    }
  });
});

describe('utilities', () => {
  it('the trace hash depends on every word and on their order', () => {
    const hash = (words: number[]): string => {
      const h = new TraceHash();
      for (const w of words) h.word(w);
      return h.hex();
    };
    expect(hash([1, 2, 3])).toBe(hash([1, 2, 3]));
    expect(hash([1, 2, 3])).not.toBe(hash([1, 3, 2]));
    expect(hash([1, 2, 3])).not.toBe(hash([1, 2, 4]));
    expect(hash([0])).not.toBe(hash([]));
    expect(hash([1, 2, 3])).toMatch(/^[0-9a-f]{16}$/);
  });
  it('the PRNG replays from its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(new Prng(43).nextUint32()).not.toBe(xs[0]);
  });
});
