// The deterministic slice scheduler (src/coordinator/slice-scheduler.ts) as a step-function
// object, without a transport: the earliest runnable CPU runs, slices stop at the next event,
// events are delivered between slices at their time, halted CPUs are woken by what they were sent,
// and the same seed gives the same sequence of grants.
import { describe, expect, it } from 'vitest';
import { SliceScheduler } from '../../src/coordinator/slice-scheduler.js';
import type { SliceGrant } from '../../src/coordinator/slice-scheduler.js';
import type { PendingEvent } from '../../src/coordinator/event-delivery.js';
import { Prng } from '../../src/util/prng.js';
import { RandomSlices } from '../../src/coordinator/schedule-strategy.js';
import { DecisionSource } from '../../src/contract/decision-source.js';

/** A machine whose only event is a clock tick every `intervalNs` that goes to every CPU. */
function machine(cpus: number, seed: number, intervalNs = 1_000_000) {
  let nextTick = intervalNs;
  const delivered: Array<{ timeNs: number; woke: number[] }> = [];
  const doorbells = new Array<number>(cpus).fill(0);
  const scheduler = new SliceScheduler(
    { cpus, durationNs: 5_000_000, cyclesPerNs: 1 },
    new RandomSlices(new Prng(seed), new DecisionSource(undefined, false)),
    {
      nextEvent: (): PendingEvent => ({ timeNs: nextTick, source: 'clock', index: 0 }),
      deliver: (event, stampNs, woken) => {
        const woke: number[] = [];
        for (let cpu = 0; cpu < cpus; cpu++) {
          woken(cpu);
          woke.push(cpu);
        }
        delivered.push({ timeNs: stampNs, woke });
        nextTick = event.timeNs + intervalNs;
      },
    },
    () => {},
    (cpu) => doorbells[cpu]!,
  );
  return { scheduler, delivered, doorbells };
}

/** Run every slice to its budget (never halting) and return the grants. */
function grants(cpus: number, seed: number): SliceGrant[] {
  const { scheduler } = machine(cpus, seed);
  const out: SliceGrant[] = [];
  for (let grant = scheduler.next(); grant !== null; grant = scheduler.next()) {
    out.push(grant);
    scheduler.completed(grant.startNs + grant.budget, false, 0);
  }
  return out;
}

describe('the deterministic slice scheduler', () => {
  it('grants the earliest CPU a slice that ends at the next event, and delivers the event between slices', () => {
    const { scheduler, delivered } = machine(2, 1);
    const first = scheduler.next()!;
    expect(first.startNs).toBe(0);
    expect(first.untilNs).toBe(1_000_000);
    expect(first.budget).toBeGreaterThanOrEqual(64);
    expect(first.budget).toBeLessThanOrEqual(16384);
    scheduler.completed(first.budget, false, 0);
    const second = scheduler.next()!;
    expect(second.cpu).toBe(1 - first.cpu);
    expect(second.startNs).toBe(0);
    expect(delivered).toEqual([]);
    // both CPUs run up to the tick: the tick is delivered before either runs past it
    scheduler.completed(1_000_000, false, 0);
    const third = scheduler.next()!;
    expect(third.cpu).toBe(first.cpu);
    scheduler.completed(1_000_000, false, 0);
    const fourth = scheduler.next()!;
    expect(delivered).toEqual([{ timeNs: 1_000_000, woke: [0, 1] }]);
    expect(fourth.startNs).toBe(1_000_000);
  });

  it('a CPU running alone runs to the next event; a halted CPU is woken at the sender’s time by a message', () => {
    const { scheduler, doorbells } = machine(2, 1);
    const first = scheduler.next()!;
    scheduler.completed(100, true, doorbells[first.cpu]!);
    const lone = scheduler.next()!;
    // without a message the halted CPU stays halted: the other one runs alone, up to the tick
    expect(lone.cpu).toBe(1 - first.cpu);
    expect(lone.budget).toBe(1_000_000);
    // the lone CPU sends the halted one something, ending its slice early
    doorbells[first.cpu]! += 1;
    scheduler.completed(5000, false, 0);
    // both now at 5000: they run in seeded order, the woken one among them
    const next = scheduler.next()!;
    scheduler.completed(next.startNs + next.budget, false, 0);
    const after = scheduler.next()!;
    expect([next.cpu, after.cpu].sort()).toEqual([0, 1]);
    expect(next.startNs).toBe(5000);
    expect(after.startNs).toBe(5000);
  });

  it('the same seed gives the same grants; another seed interleaves differently', () => {
    expect(grants(4, 7)).toEqual(grants(4, 7));
    expect(grants(4, 8)).not.toEqual(grants(4, 7));
  });

  it('ends the run (null) at its duration', () => {
    const all = grants(2, 3);
    expect(all.length).toBeGreaterThan(0);
    expect(all.every((g) => g.startNs < 5_000_000 && g.untilNs <= 5_000_000)).toBe(true);
  });
});
