// Deterministic mode: the same scenario and seed give the identical event trace (its hash) on real
// workers; another seed gives another interleaving. Parallel mode is never asserted to race.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import { R1, R2, R5 } from '../../src/isa/registers.js';
import interruptStorm from '../../src/scenarios/interrupt-storm.js';
import { runOnWorkers } from './harness.js';

const ROUNDS = 3000;

/** Two CPUs add 1 to a shared word with a plain load / add / store: updates get lost when slices interleave. */
const unlockedCounter = defineScenario({
  name: 'unlocked-counter',
  description: 'two CPUs increment a shared counter without a lock',
  memory: { Counter: {} },
  threads: { A: { routine: 'Adder', cpu: 0 }, B: { routine: 'Adder', cpu: 1 } },
  routines: {
    Adder: (a) => {
      a.movi(R5, 0);
      a.label('loop');
      a.load(R1, a.var('Counter'));
      a.work(5);
      a.add(R1, R1, 1);
      a.store(a.var('Counter'), 0, R1);
      a.add(R5, R5, 1);
      a.blt(R5, ROUNDS, 'loop');
      a.ret(0);
    },
  },
  results: (run) => ({ counter: run.read('Counter') }),
});

describe('deterministic replay', () => {
  it('the same scenario and seed give the same trace hash, counters and results', async () => {
    const a = await runOnWorkers(interruptStorm, { cpus: 4, seed: 11, durationMs: 20 });
    const b = await runOnWorkers(interruptStorm, { cpus: 4, seed: 11, durationMs: 20 });
    expect(a.result.traceEvents).toBeGreaterThan(1000);
    expect(b.result.traceHash).toBe(a.result.traceHash);
    expect(b.result.traceEvents).toBe(a.result.traceEvents);
    expect(b.result.perCpu).toEqual(a.result.perCpu);
    expect(b.result.results).toEqual(a.result.results);
    expect(b.result.latency).toEqual(a.result.latency);
  });

  it('another seed gives another interleaving', async () => {
    const a = await runOnWorkers(interruptStorm, { cpus: 4, seed: 11, durationMs: 20 });
    const c = await runOnWorkers(interruptStorm, { cpus: 4, seed: 12, durationMs: 20 });
    expect(c.result.traceHash).not.toBe(a.result.traceHash);
  });

  it('a racy counter loses the same updates for the same seed, and different ones for other seeds', async () => {
    const counts: number[] = [];
    for (const seed of [1, 1, 2, 3]) counts.push((await runOnWorkers(unlockedCounter, { cpus: 2, seed, durationMs: 1 })).result.results.counter as number);
    expect(counts[1], 'replayed').toBe(counts[0]);
    for (const count of counts) expect(count).toBeLessThanOrEqual(2 * ROUNDS);
    expect(new Set(counts).size, `counts ${counts.join(', ')}`).toBeGreaterThan(1);
  });
});

void R2;
