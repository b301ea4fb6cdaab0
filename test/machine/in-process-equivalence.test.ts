// The in-process backend computes the same run as the workers: every built-in scenario, run in
// one thread with the pinned table's CPU count and seed, gives exactly the pinned trace hash,
// bugcheck and results (test/pinned/builtins.json, which the worker backend is held to).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';

interface Pinned {
  cpus: number;
  seed: number;
  traceHash: string;
  traceEvents: number;
  bugcheck: { code: number; params: number[] } | null;
  results: unknown;
}

const table = JSON.parse(readFileSync(join(import.meta.dirname, '../pinned/builtins.json'), 'utf8')) as Record<string, Pinned>;

describe('the in-process backend gives the workers’ pinned run for every built-in scenario', () => {
  for (const { name } of BUILTIN_SCENARIOS) {
    it(`${name} in-process gives the pinned trace hash, bugcheck and results`, async () => {
      const pinned = table[name]!;
      const loaded = await loadScenario(name);
      const result = await runScenario(loaded, { cpus: pinned.cpus, mode: 'deterministic', seed: pinned.seed, backend: 'in-process' });
      expect({
        cpus: pinned.cpus,
        seed: pinned.seed,
        traceHash: result.traceHash,
        traceEvents: result.traceEvents,
        bugcheck: result.bugcheck ? { code: result.bugcheck.code, params: result.bugcheck.params } : null,
        results: JSON.parse(JSON.stringify(result.results)) as unknown,
      }).toEqual(pinned);
    });
  }

  it('refuses the in-process backend outside deterministic mode', async () => {
    const loaded = await loadScenario('interrupt-storm');
    await expect(runScenario(loaded, { mode: 'parallel', backend: 'in-process' })).rejects.toThrow(/deterministic mode only/);
    await expect(runScenario(loaded, { backend: 'in-process' })).rejects.toThrow(/deterministic mode only/);
  });

  it('refuses a backend it does not know, naming the option', async () => {
    const loaded = await loadScenario('interrupt-storm');
    const bad = { mode: 'deterministic', backend: 'threads' } as unknown as Parameters<typeof runScenario>[1];
    await expect(runScenario(loaded, bad)).rejects.toThrow(/options\.backend must be 'workers' or 'in-process' \(got "threads"\)/);
  });
});
