// nt-semantics.md §4 on real CPU workers: the real races of lost-update, in both modes (the
// dispatcher rules themselves run in process: test/cpu/dispatcher.test.ts).
import { describe, expect, it } from 'vitest';
import lostUpdate from '../../src/scenarios/lost-update.js';
import { runOnWorkers } from './harness.js';

describe('real races: lost-update', () => {
  it('deterministic mode: the locked and interlocked counts are exact, and the unlocked count replays for the same seed', async () => {
    const first = await runOnWorkers(lostUpdate, { cpus: 2, seed: 5 });
    const again = await runOnWorkers(lostUpdate, { cpus: 2, seed: 5 });
    for (const check of first.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(again.result.results.plain).toBe(first.result.results.plain);
    expect(again.result.traceHash).toBe(first.result.traceHash);
  });

  it('parallel mode: the locked and interlocked counts are exact (whether or not the plain one lost updates)', async () => {
    const run = await runOnWorkers(lostUpdate, { cpus: 2, mode: 'parallel', durationMs: 2000 });
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results.plain as number).toBeLessThanOrEqual(run.result.results.expected as number);
  });
});
