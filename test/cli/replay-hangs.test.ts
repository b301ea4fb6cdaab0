// `irqlab replay` and `irqlab minimize` run under the supervisor, as `irqlab run` does: scenario code
// that never returns ends with one line naming it and exit 1 (--code-timeout), not a hang.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { recordRun } from '../explore/replay-helpers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const fixture = join(root, 'test/fixtures/scenarios/outcome-hangs-when-told.mjs');

function irqlabWithHang(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    // a hang must fail the test, not hold it: an unsupervised replay's main thread, stuck in the
    // scenario's loop, never runs its SIGTERM handler
    timeout: 30_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, IRQLAB_SEED: '', IRQLAB_FIXTURE_HANG: '1' },
  });
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('replay and minimize under the supervisor', () => {
  it('irqlab replay: an outcome() that never returns ends with exit 1, naming outcome() and --code-timeout', async () => {
    const { path } = await recordRun(fixture, mkdtempSync(join(tmpdir(), 'irqlab-replay-hang-')), { seed: 1, schedule: { strategy: 'random' }, cpus: 1 });
    const run = irqlabWithHang(['replay', path, '--code-timeout', '1']);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      "irqlab: scenario 'fixture-outcome-hangs-when-told': outcome() did not return within 1 s of host time (--code-timeout)",
    ]);
  });

  it('irqlab minimize: the same, before anything is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-minimize-hang-'));
    const { path } = await recordRun(fixture, dir, { seed: 1, schedule: { strategy: 'random' }, cpus: 1 });
    const run = irqlabWithHang(['minimize', path, '--code-timeout', '1', '--out', join(dir, 'out.replay.json')]);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^irqlab: scenario 'fixture-outcome-hangs-when-told': outcome\(\) did not return within 1 s of host time \(--code-timeout\)$/m);
  });

  it('takes --code-timeout on replay and minimize, as on run', () => {
    expect(parseCommandLine(['replay', 'x.replay.json', '--code-timeout', '2.5'])).toMatchObject({ command: 'replay', args: { codeTimeoutMs: 2500 } });
    expect(parseCommandLine(['minimize', 'x.replay.json', '--code-timeout', '3'])).toMatchObject({ command: 'minimize', args: { codeTimeoutMs: 3000 } });
    expect(() => parseCommandLine(['replay', 'x.replay.json', '--code-timeout', '0'])).toThrow(/--code-timeout must be a number of seconds greater than 0/);
  });
});
