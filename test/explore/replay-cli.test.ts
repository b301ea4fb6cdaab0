// `irqlab replay FILE` end to end: a replay file written for a run that lost an update (the way
// `irqlab explore --out` writes one) re-runs on worker threads with the same trace hash as the
// original run, and a file whose scenario changed, or that is not a replay file, is refused in
// one line with exit 1. Real workers: run `npm run build` first.
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { findRecordedFailure, recordRun } from './replay-helpers.js';
import { plainDecision } from '../../src/explore/minimize.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/scenarios');
const dir = mkdtempSync(join(tmpdir(), 'irqlab-replay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) }, stderr: { isTTY: false, write: (s: string) => err.push(s) }, env: {} };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const streams = io();
  const code = await runCli(argv, streams, { handleSignals: false });
  return { code, out: streams.out.join(''), err: streams.err.join('') };
}

describe('irqlab replay', () => {
  it('re-runs a lost update on workers with the trace hash of the original run, and exits 2 (a FORBIDDEN outcome)', async () => {
    const { path, file } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const replay = await cli(['replay', path]);
    expect(replay.err).toBe('');
    expect(replay.code).toBe(2);
    expect(replay.out).toContain(`trace hash ${file.recorded.traceHash}`);
    expect(replay.out).toContain(`REPRODUCED 'lost update' (FORBIDDEN), the same trace hash ${file.recorded.traceHash}: the same run, event for event`);
    // and it is the run `irqlab run --mode deterministic` gives for that seed
    const run = await cli(['run', file.scenario.kind === 'file' ? file.scenario.path : '', '--mode', 'deterministic', '--seed', String(file.seed), '--json']);
    expect(JSON.parse(run.out).traceHash).toBe(file.recorded.traceHash);
  });

  it('reproduces a bugcheck with exit 2 and puts the replay command in the analysis', async () => {
    const { path } = await findRecordedFailure(join(FIXTURES, 'replay-race-bugcheck.mjs'), dir, '0xE2 MANUALLY_INITIATED_CRASH');
    const replay = await cli(['replay', path]);
    expect(replay.code).toBe(2);
    expect(replay.out).toContain(`To replay this run:\nirqlab replay ${path}`);
    expect(replay.out).toMatch(/REPRODUCED '0xE2 MANUALLY_INITIATED_CRASH' \(FORBIDDEN\), the same trace hash/);
  });

  it('--json gives the verdict and the run result as one object', async () => {
    const { path, file } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const replay = await cli(['replay', path, '--json']);
    expect(replay.code).toBe(2);
    const parsed = JSON.parse(replay.out);
    expect(parsed.replay).toMatchObject({ file: path, reproduced: true, sameTrace: true, replayed: { outcome: 'lost update', grade: 'forbidden' } });
    expect(parsed.result.traceHash).toBe(file.recorded.traceHash);
  });

  it('replays each strategy, and its decisions given explicitly, on workers with the trace hash of the in-process run', async () => {
    // ipi-pingpong: IPIs, so that perturb delays some (the CPUs' own decision streams) as well as slices and the clock
    for (const strategy of ['random', 'pct', 'perturb'] as const) {
      const { path, file, decisions } = await recordRun('ipi-pingpong', dir, { seed: 3, schedule: { strategy }, durationNs: 3_000_000 });
      const replay = await cli(['replay', path]);
      expect(replay.out, strategy).toContain(`REPRODUCED 'checks passed' (ACCEPTABLE), the same trace hash ${file.recorded.traceHash}`);
      expect(replay.code).toBe(0);
      const nonNeutral = decisions.filter((d) => d.value !== d.neutral).map(plainDecision);
      if (strategy === 'perturb') expect(nonNeutral.some((d) => d.kind === 'ipi-delay')).toBe(true);
      const explicit = await recordRun('ipi-pingpong', dir, { seed: 3, schedule: { strategy, decisions: nonNeutral }, durationNs: 3_000_000 });
      expect(explicit.file.recorded.traceHash, strategy).toBe(file.recorded.traceHash);
      const explicitReplay = await cli(['replay', explicit.path]);
      expect(explicitReplay.out, strategy).toContain(`the same trace hash ${file.recorded.traceHash}`);
    }
  });

  it('says NOT REPRODUCED, with both outcomes, and exits 0 when the run no longer shows a failure', async () => {
    const { path, file } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    // the same file with no short slice at all: the neutral schedule counts every increment
    const neutral = join(dir, 'neutral.replay.json');
    writeFileSync(neutral, JSON.stringify({ ...file, schedule: { strategy: 'random', decisions: [] } }));
    const replay = await cli(['replay', neutral]);
    expect(replay.code).toBe(0);
    expect(replay.out).toContain(
      `NOT REPRODUCED: the replay shows 'exact' (ACCEPTABLE); fixture-replay-race, seed ${file.seed}, random, 2 CPUs, 1.000 ms (0 explicit decisions) recorded 'lost update' (FORBIDDEN)`,
    );
    expect(path).not.toBe(neutral);
  });

  it('refuses, in one line with exit 1, a replay file whose scenario file changed', async () => {
    const copyDir = mkdtempSync(join(dir, 'changed-'));
    const scenario = join(copyDir, 'race.mjs');
    copyFileSync(join(FIXTURES, 'replay-race.mjs'), scenario);
    const { path } = await findRecordedFailure(scenario, copyDir, 'lost update');
    appendFileSync(scenario, '// an edit after the replay file was written\n');
    const replay = await cli(['replay', path]);
    expect(replay.code).toBe(1);
    expect(replay.out).toBe('');
    expect(replay.err.split('\n')).toHaveLength(2);
    expect(replay.err).toMatch(new RegExp(`^irqlab: scenario file '${scenario}' changed since replay file '${path}' was written \\(sha256 `));
  });

  it('refuses, in one line with exit 1, a file that is not a replay file or has a version it does not know', async () => {
    const notReplay = join(dir, 'result.json');
    writeFileSync(notReplay, '{"traceHash":"x"}');
    const a = await cli(['replay', notReplay]);
    expect([a.code, a.err]).toEqual([1, `irqlab: '${notReplay}' is not an irqlab replay file (no "format": "irqlab-replay")\n`]);

    const { path } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const future = join(dir, 'future.replay.json');
    writeFileSync(future, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), version: 99 }));
    const b = await cli(['replay', future]);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/^irqlab: replay file '.*future\.replay\.json' has version 99, which this irqlab \(.*\) does not know: it reads version 1\n$/);

    const c = await cli(['replay']);
    expect([c.code, c.err]).toEqual([1, 'irqlab: replay needs a replay file (written by irqlab explore --out or irqlab minimize)\n']);
  });
});
