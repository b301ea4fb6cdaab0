// The machine's native guard through the API: a native routine (the scenario's host code, run in
// a CPU worker) that never returns ends the run with a ScenarioError naming it and its CPU, in both
// modes, and the machine's workers are gone afterwards. The limit is set low (nativeTimeoutMs) so
// the test is quick; nothing here measures time.
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import { ScenarioError } from '../../src/util/errors.js';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'scenarios', 'native-never-returns.mjs');

/** OS threads of this process (Linux): a worker left running keeps its thread. */
function threadCount(): number | null {
  if (!existsSync('/proc/self/status')) return null;
  const match = /^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : null;
}

describe('a native routine that never returns (API)', () => {
  for (const mode of ['deterministic', 'parallel'] as const) {
    it(`${mode}: rejects with a ScenarioError naming the native and the CPU, and stops every worker`, async () => {
      const loaded = await loadScenario(fixture);
      // 600 s emulated: the run can only end by the guard, however late the host lets CPU 1 reach the native
      const options = { cpus: 2, mode, seed: 1, durationNs: 600e9, verbose: false, command: 'test', nativeTimeoutMs: 300 };
      await stat(fixture); // starts libuv's thread pool now, so that it cannot count as a leak below
      const guarded = (): Promise<unknown> =>
        runScenario(loaded, options).then(
          () => null,
          (thrown: unknown) => thrown,
        );
      // a first run grows the process's own helper threads (V8's platform, libuv's pool) to what
      // such a run needs; the second is the one counted
      await guarded();
      const before = threadCount();
      const error = await guarded();
      expect(error).toBeInstanceOf(ScenarioError);
      expect((error as Error).message).toBe("scenario 'fixture-native-never-returns': native routine 'spin' on CPU 1 did not return within 0.3 s of host time");
      // the coordinator and two CPU workers were started and must all have ended: a worker left
      // spinning keeps its thread for ever, while a terminated one's thread may take a moment to go
      if (before !== null) {
        let after = threadCount()!;
        for (let look = 0; look < 100 && after > before; look++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          after = threadCount()!;
        }
        expect(after).toBeLessThanOrEqual(before);
      }
      loaded.dispose();
    });
  }
});
