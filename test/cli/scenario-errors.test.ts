// Scenario code that misbehaves (a wrong return shape, a throw of anything, a native that throws in
// a CPU worker) is a scenario error: exit 1, one line naming the scenario function and the value,
// and with --verbose the scenario's own stack frames. The scenario's functions that run on the
// command's thread are checked through runCli in this process (their deterministic runs on the
// in-process backend); a native that throws in its CPU worker through the built binary.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { compileScenario } from '../../src/scenario/compile.js';
import { defineScenario } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { ScenarioError } from '../../src/util/errors.js';

// runCli imports the machine when a run needs it: its deterministic runs go to the in-process backend
vi.mock('../../src/machine/run.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/machine/run.js')>();
  const runScenario: typeof real.runScenario = (loaded, options = {}) =>
    real.runScenario(loaded, options.mode === 'deterministic' ? { ...options, backend: 'in-process' } : options);
  return { ...real, runScenario };
});

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const fixture = (name: string): string => `test/fixtures/scenarios/scenario-error-${name}.mjs`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The built binary as a child process. */
function irqlabProcess(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, IRQLAB_SEED: '', ...env } });
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** The command line run in this process, as the binary's pipeline worker runs it (no signal handlers). */
async function irqlab(args: string[]): Promise<Run> {
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

/** exit 1, one line on stderr, no stack, nothing on stdout */
function expectScenarioError(run: Run, pattern: RegExp): void {
  expect(run.status, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe("scenario errors from the scenario's own functions", () => {
  it('checks() that returns something other than an array', async () => {
    expectScenarioError(
      await irqlab(['run', fixture('checks-not-array'), '--mode', 'deterministic']),
      /^irqlab: scenario 'fixture-checks-not-array': checks\(\) returned an object, not an array of checks$/,
    );
  });

  it("a check whose passed is not a boolean ('no' does not pass)", async () => {
    expectScenarioError(
      await irqlab(['run', fixture('check-passed-not-boolean'), '--mode', 'deterministic']),
      /^irqlab: scenario 'fixture-check-passed-not-boolean': checks\(\)\[0\] \('the thing worked'\): passed must be true or false \(got a string "no"\)$/,
    );
  });

  it('results() with a value JSON cannot hold, with --json and without', async () => {
    const pattern = /^irqlab: scenario 'fixture-results-bigint': results\(\) returned cycles = a BigInt \(12345678901234567890n\), which JSON cannot hold$/;
    expectScenarioError(await irqlab(['run', fixture('results-bigint'), '--mode', 'deterministic', '--json']), pattern);
    expectScenarioError(await irqlab(['run', fixture('results-bigint'), '--mode', 'deterministic']), pattern);
  });

  it('a builder callback that throws a string', async () => {
    expectScenarioError(
      await irqlab(['run', fixture('builder-throws-string'), '--mode', 'deterministic']),
      /^irqlab: scenario 'fixture-builder-throws-string': the builder callback of routine 'Main' threw "no idea how to build this"$/,
    );
  });

  it('a builder callback that throws an Error keeps it as the cause, with its stack', () => {
    const definition = validateScenario(
      defineScenario({
        name: 'builder-throws',
        description: 'a builder callback throws a TypeError',
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: () => {
            throw new TypeError('cannot read the register table');
          },
        },
      }),
      { cpus: 1, arch: 'x64' },
    );
    let caught: unknown;
    try {
      compileScenario(definition, { cpus: 1, mode: 'deterministic', seed: 1, durationNs: 1e6, timeScale: 1, traceToMain: false, nativeModule: null });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ScenarioError);
    expect((caught as Error).message).toBe("scenario 'builder-throws': the builder callback of routine 'Main' threw TypeError: cannot read the register table");
    expect(((caught as Error).cause as Error).stack).toContain('scenario-errors.test.ts');
  });

  it("a native routine that throws an Error in its CPU worker; --verbose shows the native's own frames", () => {
    const pattern =
      /^irqlab: scenario 'fixture-native-throws': native routine 'checkRange' \(called on CPU 0 at PASSIVE_LEVEL\) threw RangeError: value 42 is out of range$/;
    expectScenarioError(irqlabProcess(['run', fixture('native-throws'), '--mode', 'deterministic']), pattern);
    const verbose = irqlabProcess(['run', fixture('native-throws'), '--mode', 'deterministic', '--verbose']);
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).toMatch(/Caused by: RangeError: value 42 is out of range\n\s+at explode \(.*scenario-error-native-throws\.mjs:\d+:\d+\)/);
    expect(verbose.stderr).not.toContain('internal error');
  });

  it('a native routine that throws a string', () => {
    expectScenarioError(
      irqlabProcess(['run', fixture('native-throws'), '--mode', 'deterministic'], { IRQLAB_FIXTURE_THROW: 'string' }),
      /^irqlab: scenario 'fixture-native-throws': native routine 'checkRange' \(called on CPU 0 at PASSIVE_LEVEL\) threw "native gave up"$/,
    );
  });
});
