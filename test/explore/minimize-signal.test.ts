// The built `irqlab minimize` stops on SIGTERM between two test runs (its runs are in process and
// would otherwise keep the event loop from ever taking the signal): exit 143, one line, and no
// minimized file. The built binary: run `npm run build` first.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordRun } from './replay-helpers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'irqlab-minimize-signal-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('irqlab minimize and signals', () => {
  it('stops on SIGTERM between test runs: exit 143, one line, nothing written', async () => {
    // lost-update at full length: each test run takes long enough that the search is still going when the signal comes
    const { path } = await recordRun('lost-update', dir, { seed: 1, schedule: { strategy: 'random' }, durationNs: 400_000_000 });
    const out = join(dir, 'never.replay.json');
    const child = spawn(process.execPath, [bin, 'minimize', path, '--out', out, '--verbose'], { cwd: root });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const before = stderr;
      stderr += chunk;
      // after the second run: the machine's modules are loaded by then, so nothing but the runs themselves would yield
      if (!/run 2\//.test(before) && /run 2\//.test(stderr)) child.kill('SIGTERM');
    });
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    expect(status, stderr).toBe(143);
    const lines = stderr.split('\n').filter((line) => line !== '' && !line.startsWith('irqlab minimize: run '));
    expect(lines).toEqual([expect.stringMatching(/^irqlab: minimizing lost-update, seed 1/), 'irqlab: interrupted (SIGTERM); nothing written']);
    expect(stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
