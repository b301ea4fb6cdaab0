// `irqlab run --trace`: the path is checked before the run (exit 1, one line, nothing run: through
// runCli in this process), and the trace streamed during the run is a complete JSON document
// (through the built binary: the trace comes from the machine's workers).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');

function irqlab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, IRQLAB_SEED: '' } });
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** The command line run in this process, as the binary's pipeline worker runs it (no signal handlers). */
async function irqlabInProcess(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    args,
    {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { isTTY: false, write: (chunk: string) => (stderr += chunk) },
      env: { ...process.env, IRQLAB_SEED: '' },
    },
    { handleSignals: false },
  );
  return { status, stdout, stderr };
}

function expectOneLineFailure(run: { status: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(run.status, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('irqlab run --trace', () => {
  it('refuses to write the trace over the scenario file itself, and leaves the file as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-trace-cli-'));
    const scenario = join(dir, 'scenario.mjs');
    copyFileSync(join(root, 'test/fixtures/scenarios/minimal.mjs'), scenario);
    const before = readFileSync(scenario, 'utf8');
    expectOneLineFailure(
      await irqlabInProcess(['run', scenario, '--trace', scenario]),
      /^irqlab: --trace: '.*scenario\.mjs' is the scenario file itself; writing the trace there would overwrite it$/,
    );
    expect(readFileSync(scenario, 'utf8')).toBe(before);
  });

  it('refuses a path it cannot write before the run: under a regular file, or a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-trace-cli-'));
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const underFile = await irqlabInProcess([
      'run',
      'interrupt-storm',
      '--cpus',
      '2',
      '--mode',
      'deterministic',
      '--duration',
      '1ms',
      '--trace',
      join(file, 'trace.json'),
    ]);
    expectOneLineFailure(underFile, /^irqlab: --trace: '.*plain-file' is not a directory$/);
    expectOneLineFailure(await irqlabInProcess(['run', 'interrupt-storm', '--cpus', '2', '--trace', dir]), /^irqlab: --trace: '.*' is a directory$/);
  });

  it('writes a complete Chrome trace JSON document', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-trace-cli-'));
    const trace = join(dir, 'storm.json');
    const run = irqlab(['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--seed', '1', '--duration', '5ms', '--trace', trace]);
    expect([0, 2], run.stderr).toContain(run.status);
    const json = JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: Array<{ ph: string }> };
    expect(json.traceEvents.filter((e) => e.ph === 'B').length).toBe(json.traceEvents.filter((e) => e.ph === 'E').length);
    expect(json.traceEvents.length).toBeGreaterThan(100);
  });
});
