// Scenario native routines run in process as on workers: loaded from the scenario module the same
// way (loadNatives), with the same results and trace hash; a native that throws ends the run with
// the same scenario error, one that faults with the same bugcheck.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunBackend } from '../../src/machine/execute.js';

const fixture = (name: string): string => join(import.meta.dirname, '../fixtures/scenarios', `${name}.mjs`);

async function run(name: string, backend: RunBackend) {
  return runScenario(await loadScenario(fixture(name)), { mode: 'deterministic', seed: 3, backend });
}

describe('native routines in process', () => {
  it('a native that reads and writes emulated memory gives the workers’ results and trace hash', async () => {
    const onWorkers = await run('native-sum', 'workers');
    const inProcess = await run('native-sum', 'in-process');
    expect(inProcess.results).toEqual({ sums: [42, 4] });
    expect(inProcess.results).toEqual(onWorkers.results);
    expect(inProcess.traceHash).toBe(onWorkers.traceHash);
  });

  it('a native that throws ends the run with the same scenario error', async () => {
    const message =
      /scenario 'fixture-native-throws': native routine 'checkRange' \(called on CPU 0 at PASSIVE_LEVEL\) threw RangeError: value 42 is out of range/;
    await expect(run('scenario-error-native-throws', 'workers')).rejects.toThrow(message);
    await expect(run('scenario-error-native-throws', 'in-process')).rejects.toThrow(message);
  });

  it('a native that reads page 0 bugchecks as on workers', async () => {
    const onWorkers = await run('native-null-read', 'workers');
    const inProcess = await run('native-null-read', 'in-process');
    expect(inProcess.bugcheck?.code).toBe(0x50);
    expect(inProcess.bugcheck).toEqual(onWorkers.bugcheck);
    expect(inProcess.traceHash).toBe(onWorkers.traceHash);
  });
});
