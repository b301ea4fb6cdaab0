// The exploration strategies on real workers: a scenario, seed and schedule give the same run (trace
// hash) on worker threads as on the in-process backend, through the command line
// (`irqlab run --mode deterministic --strategy pct --depth 3`, whose replay command keeps the
// strategy) and through the API with explicit decisions recorded in-process (what a replay file
// carries to `irqlab replay`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunResult } from '../../src/machine/result.js';
import type { RecordedDecision } from '../../src/contract/decision-source.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');

describe('strategies on real workers', () => {
  it('irqlab run --strategy pct --depth 3 on workers gives the in-process trace hash, and its replay command keeps the strategy', async () => {
    const child = spawnSync(
      process.execPath,
      [bin, 'run', 'ipi-pingpong', '--cpus', '2', '--mode', 'deterministic', '--strategy', 'pct', '--depth', '3', '--seed', '4', '--duration', '5ms', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, IRQLAB_SEED: '' } },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const onWorkers = JSON.parse(child.stdout) as RunResult;
    expect(onWorkers.replayCommand).toMatch(/ --strategy pct --depth 3 .*--mode deterministic --seed 4$/);
    const loaded = await loadScenario('ipi-pingpong');
    const inProcess = await runScenario(loaded, {
      cpus: 2,
      mode: 'deterministic',
      seed: 4,
      durationNs: 5_000_000,
      backend: 'in-process',
      schedule: { strategy: 'pct', depth: 3 },
    });
    expect(onWorkers.traceHash).toBe(inProcess.traceHash);
    expect(onWorkers.slices).toBe(inProcess.slices);
  });

  it('a perturb run recorded in-process replays on workers from its non-neutral decisions (IPI delays included)', async () => {
    const loaded = await loadScenario('ipi-pingpong');
    const options = { cpus: 2, mode: 'deterministic', seed: 9, durationNs: 3_000_000 } as const;
    let recorded: RecordedDecision[] = [];
    const original = await runScenario(loaded, {
      ...options,
      backend: 'in-process',
      schedule: { strategy: 'perturb' },
      onDecisions: (decisions) => {
        recorded = decisions;
      },
    });
    const decisions = recorded.filter((d) => d.value !== d.neutral).map(({ neutral: _neutral, ...decision }) => decision);
    expect(decisions.some((d) => d.kind === 'ipi-delay')).toBe(true);
    const onWorkers = await runScenario(loaded, { ...options, schedule: { strategy: 'perturb', decisions } });
    expect(onWorkers.traceHash).toBe(original.traceHash);
  });
});
