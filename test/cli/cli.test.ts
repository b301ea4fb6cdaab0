// The irqlab command: exit codes, one-line errors, stdout discipline. Most cases run the command's
// pipeline in this process (runCli, the function the binary's pipeline worker runs), their
// deterministic runs on the in-process backend (the same run as on workers: in-process-equivalence);
// the last group runs the built binary as a child process, for what only the real process has: the
// shebang entry, the supervisor's pipeline worker relaying stdout and stderr, the machine's workers,
// and the exit status.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import type { RunResult } from '../../src/machine/result.js';

// runCli imports the machine when a run needs it: its deterministic runs go to the in-process backend
vi.mock('../../src/machine/run.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/machine/run.js')>();
  const runScenario: typeof real.runScenario = (loaded, options = {}) =>
    real.runScenario(loaded, options.mode === 'deterministic' ? { ...options, backend: 'in-process' } : options);
  return { ...real, runScenario };
});

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const fixtures = 'test/fixtures/scenarios';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The command line run in this process, as the binary's pipeline worker runs it (no signal handlers). */
async function irqlab(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    args,
    {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { isTTY: false, write: (chunk: string) => (stderr += chunk) },
      env: { ...process.env, IRQLAB_SEED: '', ...env },
    },
    { handleSignals: false },
  );
  return { status, stdout, stderr };
}

/** The built binary as a child process. */
function irqlabProcess(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, IRQLAB_SEED: '', ...env },
  });
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** exit 1, exactly one line on stderr starting `irqlab: `, no stack, nothing on stdout */
function expectUsageFailure(run: Run, pattern?: RegExp): void {
  expect(run.status, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^irqlab: \S/);
  expect(run.stderr).not.toMatch(/^\s{4}at /m);
  if (pattern) expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  if (!existsSync(bin)) {
    const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);
  }
}, 120_000);

describe('irqlab: bad input', () => {
  it('a scenario that does not exist', async () => {
    expectUsageFailure(
      await irqlab(['run', 'no-such-scenario']),
      /^irqlab: scenario 'no-such-scenario' is neither a built-in scenario \(see 'irqlab list'\) nor a file$/,
    );
    expectUsageFailure(await irqlab(['run', './missing.ts']), /nor a file$/);
  });

  it('scenarios that fail to load', async () => {
    expectUsageFailure(await irqlab(['run', `${fixtures}/syntax-error.ts`]), /^irqlab: cannot load scenario '.*syntax-error\.ts': syntax-error\.ts:7:1: /);
    expectUsageFailure(
      await irqlab(['run', `${fixtures}/syntax-error.mjs`]),
      /^irqlab: cannot load scenario '.*syntax-error\.mjs': SyntaxError: .*\(syntax-error\.mjs:5:1\)$/,
    );
    expectUsageFailure(await irqlab(['run', `${fixtures}/no-default.mjs`]), /it has no default export/);
    expectUsageFailure(await irqlab(['run', `${fixtures}/throws.mjs`]), /: scenario setup exploded$/);
    expectUsageFailure(await irqlab(['run', `${fixtures}/not-object.mjs`]), /its default export is a number/);
    expectUsageFailure(await irqlab(['run', `${fixtures}/not-a-scenario.json`]), /unsupported file type '\.json'/);
    expect(readdirSync(join(root, fixtures)).filter((name) => name.startsWith('.irqlab-'))).toEqual([]);
  });

  it('a scenario of the wrong shape', async () => {
    expectUsageFailure(await irqlab(['run', `${fixtures}/wrong-shape.mjs`]), /^irqlab: scenario 'wrong-shape': routines must be an object \(got "Main"\)$/);
  });

  it('a DPC that names an unknown routine', async () => {
    expectUsageFailure(
      await irqlab(['run', `${fixtures}/unknown-routine.mjs`]),
      /^irqlab: scenario 'unknown-routine': dpcs\.StormDpc\.routine names unknown routine 'Nope'$/,
    );
  });

  it('a CPU count the scenario does not fit', async () => {
    expectUsageFailure(
      await irqlab(['run', 'dpc-importance', '--cpus', '2']),
      /^irqlab: scenario 'dpc-importance': dpcs\.\w+\.targetCpu names CPU 2 but the machine has 2/,
    );
  });

  it('--cpus 0 and --cpus 1000', async () => {
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--cpus', '0']), /^irqlab: --cpus must be an integer from 1 to 64 \(got 0\)$/);
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--cpus', '1000']), /^irqlab: --cpus must be an integer from 1 to 64 \(got 1000\)$/);
  });

  it('unknown flags, bad values, missing arguments, unknown commands', async () => {
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--turbo']), /^irqlab: unknown option '--turbo' for 'irqlab run'/);
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--mode', 'fast']), /--mode must be 'parallel' or 'deterministic'/);
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--duration', '5 parsecs']), /--duration must be a positive time/);
    expectUsageFailure(await irqlab(['run', 'interrupt-storm', '--time-scale', '0']), /--time-scale must be a positive number/);
    expectUsageFailure(await irqlab(['run', 'interrupt-storm'], { IRQLAB_SEED: 'banana' }), /^irqlab: IRQLAB_SEED must be an integer/);
    expectUsageFailure(
      await irqlab(['run', 'interrupt-storm', '--trace', 'no/such/dir/t.json']),
      /^irqlab: --trace: directory 'no\/such\/dir' does not exist$/,
    );
    expectUsageFailure(await irqlab(['run']), /^irqlab: run needs a scenario/);
    expectUsageFailure(await irqlab(['explode']), /^irqlab: unknown command 'explode'/);
    expectUsageFailure(await irqlab([]), /^irqlab: missing command/);
  });

  it('--verbose adds the stack of a load failure', async () => {
    const run = await irqlab(['run', `${fixtures}/throws.mjs`, '--verbose']);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toMatch(/^irqlab: cannot load scenario/);
    expect(run.stderr).toMatch(/^\s{4}at /m);
  });
});

describe('irqlab: list, help, version', () => {
  it('list prints the built-ins', async () => {
    const run = await irqlab(['list']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(BUILTIN_SCENARIOS.length);
    for (const builtin of BUILTIN_SCENARIOS)
      expect(run.stdout).toMatch(new RegExp(`^${builtin.name} +${builtin.description.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    for (const name of ['interrupt-storm', 'ipi-pingpong', 'dpc-importance']) expect(run.stdout).toContain(name);
  });

  it('--help for every command', async () => {
    for (const args of [['--help'], ['run', '--help'], ['list', '--help'], ['-h']]) {
      const run = await irqlab(args);
      expect(run.status, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/Usage:/);
      expect(run.stderr).toBe('');
    }
  });

  it("--version is package.json's", async () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const run = await irqlab(['--version']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

describe('irqlab run: results and exit codes', () => {
  it('--json: one JSON object on stdout, nothing on stderr, exit 0', async () => {
    const run = await irqlab(['run', `${fixtures}/minimal.mjs`, '--mode', 'deterministic', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result).toMatchObject({ scenario: 'fixture-minimal', mode: 'deterministic', seed: 1, cpus: 1, bugcheck: null, results: { done: 1 } });
    expect(result.command).toBe(`irqlab run ${fixtures}/minimal.mjs --cpus 1 --mode deterministic --seed 1 --duration 1ms`);
  });

  it('IRQLAB_SEED seeds the run', async () => {
    const run = await irqlab(['run', `${fixtures}/minimal.mjs`, '--mode', 'deterministic', '--json'], { IRQLAB_SEED: '31337' });
    expect(run.status).toBe(0);
    expect((JSON.parse(run.stdout) as RunResult).seed).toBe(31337);
  });

  it('a TypeScript scenario runs and leaves no temporary file behind', async () => {
    const run = await irqlab(['run', `${fixtures}/with-import.ts`, '--mode', 'deterministic']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^fixture-ts: deterministic mode, seed 1, 2 CPUs \(x64\)/);
    expect(readdirSync(join(root, fixtures)).filter((name) => name.startsWith('.irqlab-'))).toEqual([]);
  });

  it('a failed check: exit 2', async () => {
    const run = await irqlab(['run', `${fixtures}/failing-check.mjs`, '--mode', 'deterministic']);
    expect(run.status).toBe(2);
    expect(run.stdout).toContain('FAIL impossible — by design');
  });

  it('a bugcheck: the summary, the analysis and the replay command; exit 2', async () => {
    const run = await irqlab(['run', `${fixtures}/bugcheck.mjs`, '--mode', 'deterministic', '--seed', '5']);
    expect(run.status).toBe(2);
    expect(run.stdout).toContain('Bugcheck Analysis');
    expect(run.stdout).toContain('MANUALLY_INITIATED_CRASH (e2)');
    expect(run.stdout).toContain('Arg1: 0000000000000011');
    expect(run.stdout).toContain('Arg4: ffffffffffffffff');
    expect(run.stdout).toMatch(/PROCESSOR:\s+1/);
    expect(run.stdout).toMatch(/To replay this run:\nirqlab run .*bugcheck\.mjs .*--mode deterministic --seed 5\n$/);
  });

  it('a bugcheck with --json: the object only, exit 2', async () => {
    const run = await irqlab(['run', `${fixtures}/bugcheck.mjs`, '--mode', 'deterministic', '--json']);
    expect(run.status).toBe(2);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result.bugcheck).toMatchObject({ code: 0xe2, cpu: 1 });
  });
});

describe('the built binary as a child process', () => {
  it("--version is package.json's, found from dist/", () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const run = irqlabProcess(['--version']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });

  it('a scenario that does not exist: exit 1, one line from the pipeline worker, nothing on stdout', () => {
    expectUsageFailure(
      irqlabProcess(['run', 'no-such-scenario']),
      /^irqlab: scenario 'no-such-scenario' is neither a built-in scenario \(see 'irqlab list'\) nor a file$/,
    );
  });

  it('--json: one JSON object on stdout, nothing on stderr, exit 0; IRQLAB_SEED seeds the run', () => {
    const run = irqlabProcess(['run', `${fixtures}/minimal.mjs`, '--mode', 'deterministic', '--json'], { IRQLAB_SEED: '31337' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result).toMatchObject({ scenario: 'fixture-minimal', mode: 'deterministic', seed: 31337, cpus: 1, bugcheck: null, results: { done: 1 } });
  });

  it('a bugcheck with --json: the object only, exit 2', () => {
    const run = irqlabProcess(['run', `${fixtures}/bugcheck.mjs`, '--mode', 'deterministic', '--json']);
    expect(run.status).toBe(2);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result.bugcheck).toMatchObject({ code: 0xe2, cpu: 1 });
  });
});
