// The built `irqlab` binary against scenario code that never returns, and against signals: every
// case ends with one line naming what did not return, the README's exit code, and no process left.
// Limits are set low with --code-timeout so the tests are quick; nothing here measures time.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCodeTimeout, parseCommandLine } from '../../src/cli/args.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const fixtures = 'test/fixtures/scenarios';

interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function irqlab(args: string[]): Finished {
  const child = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, IRQLAB_SEED: '' } });
  if (child.error) throw child.error;
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr };
}

// a test that fails by timing out must not leave its child spinning
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/**
 * Start the CLI, wait until stderr shows `marker` (and, with `whenFileGrows`, until that file holds
 * more than its first bytes), send `signal`, and collect how it ended.
 */
function interruptWhenSeen(args: string[], marker: RegExp, signal: NodeJS.Signals, whenFileGrows?: string): Promise<Finished & { pid: number }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, IRQLAB_SEED: '' } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (!sent && marker.test(stderr)) {
      sent = true;
      if (whenFileGrows === undefined) child.kill(signal);
      else {
        const poll = setInterval(() => {
          if (existsSync(whenFileGrows) && statSync(whenFileGrows).size > 4096) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 10);
        child.on('close', () => clearInterval(poll));
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, endSignal) => resolve({ status, signal: endSignal, stdout, stderr, pid: child.pid! }));
  });
}

function expectOneLine(run: Finished, code: number, pattern: RegExp): void {
  expect(run.status, run.stderr).toBe(code);
  const lines = run.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('fixture:'));
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stdout).not.toMatch(/^OK/m);
}

/** The process is gone: its worker threads (pipeline, coordinator, CPUs) went with it. */
function expectGone(pid: number): void {
  expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
}

describe('a native routine that never returns', () => {
  for (const mode of ['deterministic', 'parallel'] as const) {
    it(`ends a ${mode} run with exit 1 and a line naming the native and its CPU`, () => {
      // a run far longer than the limit: it can only end by the guard, however late the host lets
      // CPU 1 reach the native (a 50 ms run could end before that, under load, and pass as OK)
      const run = irqlab(['run', `${fixtures}/native-never-returns.mjs`, '--mode', mode, '--duration', '600s', '--code-timeout', '0.5']);
      expectOneLine(run, 1, /^irqlab: scenario 'fixture-native-never-returns': native routine 'spin' on CPU 1 did not return within 0\.5 s of host time$/);
    });
  }
});

describe("scenario code on the CLI's thread that never returns", () => {
  it('checks(): exit 1, naming checks()', () => {
    const run = irqlab(['run', `${fixtures}/checks-never-returns.mjs`, '--mode', 'deterministic', '--code-timeout', '1']);
    expectOneLine(run, 1, /^irqlab: scenario 'fixture-checks-never-returns': checks\(\) did not return within 1 s of host time/);
  });

  it("a routine's builder callback: exit 1, naming the routine", () => {
    const run = irqlab(['run', `${fixtures}/builder-never-returns.mjs`, '--mode', 'deterministic', '--code-timeout', '1']);
    expectOneLine(run, 1, /^irqlab: scenario 'fixture-builder-never-returns': the builder callback of routine 'Main' did not return within 1 s/);
  });

  // the top level gets at least 60 s (loading includes the loader's own work): stopped by Ctrl-C here
  it("Ctrl-C while the module's top level loops: exit 130, naming the file and the top level", async () => {
    const run = await interruptWhenSeen(['run', `${fixtures}/top-level-never-returns.mjs`], /top level entered/, 'SIGINT');
    expectOneLine(run, 130, /^irqlab: interrupted \(SIGINT\) while scenario '[^']*top-level-never-returns\.mjs': the module's top level was running$/);
    expectGone(run.pid);
  });

  it('Ctrl-C while checks() loops: exit 130, naming checks()', async () => {
    const run = await interruptWhenSeen(['run', `${fixtures}/checks-never-returns.mjs`, '--mode', 'deterministic'], /checks\(\) entered/, 'SIGINT');
    expectOneLine(run, 130, /^irqlab: interrupted \(SIGINT\) while scenario 'fixture-checks-never-returns': checks\(\) was running$/);
    expectGone(run.pid);
  });
});

describe('signals during a long run', () => {
  // the verbose line with the command is printed just before the machine boots
  const longRun = ['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--duration', '600s', '--verbose'];
  const started = /^irqlab: irqlab run interrupt-storm/m;

  it('SIGTERM stops it like SIGINT: exit 143, one line, no process left', async () => {
    const run = await interruptWhenSeen(longRun, started, 'SIGTERM');
    expect(run.status, run.stderr).toBe(143);
    expect(run.stderr).toMatch(/^irqlab: interrupted \(SIGTERM\)( while .*)?$/m);
    expect(run.stdout).toBe('');
    expectGone(run.pid);
  });

  it('SIGINT: exit 130', async () => {
    const run = await interruptWhenSeen(longRun, started, 'SIGINT');
    expect(run.status, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/^irqlab: interrupted \(SIGINT\)( while .*)?$/m);
    expectGone(run.pid);
  });

  it('SIGTERM during a run that writes a trace is not swallowed: exit 143', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-signal-'));
    try {
      const trace = join(dir, 'trace.json');
      const run = await interruptWhenSeen([...longRun, '--trace', trace], started, 'SIGTERM', trace);
      expect(run.status, run.stderr).toBe(143);
      expect(run.stderr).toMatch(/^irqlab: interrupted \(SIGTERM\)( while .*)?(; the trace in .* ends where the run was stopped)?$/m);
      expect(run.stdout).toBe('');
      // what was written before the signal is a trace that parses: its JSON is closed after the worker is gone
      expect(run.stderr).toContain(`the trace in ${trace} ends where the run was stopped`);
      expect((JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: unknown[] }).traceEvents.length).toBeGreaterThan(0);
      expectGone(run.pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--code-timeout', () => {
  it('takes host seconds (fractions too) and refuses what is not a positive number', () => {
    expect(parseCodeTimeout('1.5')).toBe(1500);
    expect(parseCodeTimeout('2s')).toBe(2000);
    for (const bad of ['0', '-1', 'soon', '', 'Infinity']) expect(() => parseCodeTimeout(bad), bad).toThrow(/^--code-timeout must be a number of seconds/);
  });

  it('reaches the run options', () => {
    const command = parseCommandLine(['run', 'x', '--code-timeout', '0.25'], {});
    expect(command.command === 'run' && command.args.codeTimeoutMs).toBe(250);
  });
});
