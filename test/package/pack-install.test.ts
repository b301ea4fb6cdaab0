// The package as `npm install irqlab` gives it to a user: pack this checkout, install the tarball
// into an empty project without dev dependencies, and run from there a built-in scenario, a user's
// TypeScript scenario that imports 'irqlab', and the README's API example. It packs the current
// dist/ (`npm test` builds first) with --ignore-scripts, so the build is not run twice, and installs
// with --prefer-offline from npm's cache. Cost on the 2-core host, measured alone: about 5 s (pack
// 1 s, install 2 to 3 s, the three runs 2 s).
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/machine/result.js';

const root = join(import.meta.dirname, '..', '..');
let work: string;
let app: string;
let packedFiles: string[];

/**
 * The environment without what `npm test` exports to its scripts (npm_config_local_prefix would
 * point a child npm at this checkout instead of the consumer project), keeping npm's cache.
 */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
if (process.env.npm_config_cache) childEnv.npm_config_cache = process.env.npm_config_cache;
childEnv.IRQLAB_SEED = '';

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const child = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000, env: childEnv });
  if (child.error) throw child.error;
  return child;
}

function succeeded(child: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  expect(child.status, `${what}\n${child.stdout}\n${child.stderr}`).toBe(0);
  return child;
}

const userScenario = `// A user's scenario: TypeScript, registers and types from 'irqlab', a native, a relative import.
import { defineScenario, R0, R1 } from 'irqlab';
import type { RoutineBuilder, NativeRoutine } from 'irqlab';
import { FACTOR } from './factor.mjs';

const scale: NativeRoutine = (args) => (args[0] ?? 0) * FACTOR;

export default defineScenario({
  name: 'user-scenario',
  description: 'a TypeScript scenario in a project that installed irqlab',
  machine: { cpus: 2, durationMs: 2 },
  memory: { Out: {} },
  threads: { Main: { routine: 'Main', cpu: 1 } },
  natives: { scale },
  routines: {
    Main: (a: RoutineBuilder): void => {
      a.movi(R1, 21);
      a.native('scale', R1);
      a.store(a.var('Out'), 0, R0);
      a.ret(0);
    },
  },
  results: (run) => ({ out: run.read('Out') }),
  checks: (run) => [{ name: 'the native ran in the CPU worker', passed: run.read('Out') === 42 }],
});
`;

beforeAll(() => {
  expect(existsSync(join(root, 'dist', 'workers', 'cpu.js')), "run 'npm run build' first").toBe(true);
  work = mkdtempSync(join(tmpdir(), 'irqlab-pack-'));
  const pack = succeeded(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root), 'npm pack');
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = packed!.files.map((file) => file.path);
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'irqlab-consumer', version: '1.0.0', private: true, type: 'module' }));
  succeeded(
    run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(work, packed!.filename)], app),
    'npm install <tarball>',
  );
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package, installed into an empty project', () => {
  it('ships the built code and the workers, and no sources', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/workers/cpu.js', 'dist/workers/coordinator.js']),
    );
    expect(packedFiles.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs without TypeScript or any other dev dependency', () => {
    for (const dev of ['typescript', 'vitest', '@types/node']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'jiti'))).toBe(true);
  });

  it('ships sucrase as one bundled file with the license of every package in it, and installs no sucrase', () => {
    // the user's .ts scenario below is transformed by this bundle: there is no other sucrase to load
    expect(packedFiles).toContain('dist/src/vendor/sucrase.cjs');
    expect(existsSync(join(app, 'node_modules', 'sucrase'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false);
    const bundle = readFileSync(join(app, 'node_modules', 'irqlab', 'dist', 'src', 'vendor', 'sucrase.cjs'), 'utf8');
    const licenses = bundle.slice(0, bundle.indexOf('*/'));
    expect(licenses).toMatch(/^sucrase@[\d.]+ \(MIT\)$/m);
    expect(licenses).toContain('Copyright (c) 2012-2018 various contributors (see AUTHORS)');
    expect(licenses).toMatch(/^ts-interface-checker@[\d.]+ \(Apache-2\.0\)$/m);
  });

  it('npx irqlab runs a built-in scenario', () => {
    const child = succeeded(
      run('npx', ['--no-install', 'irqlab', 'run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--duration', '20ms'], app),
      'npx irqlab run interrupt-storm',
    );
    expect(child.stdout).toMatch(/^OK\. The run: irqlab run interrupt-storm --cpus 2 --mode deterministic --seed 1 --duration 20ms$/m);
    expect(child.stderr).toBe('');
  });

  it("runs a user's TypeScript scenario that imports 'irqlab', with a native in the CPU worker, writing nothing beside it", () => {
    writeFileSync(join(app, 'scenario.ts'), userScenario);
    writeFileSync(join(app, 'factor.mjs'), 'export const FACTOR = 2;\n');
    const before = readdirSync(app).sort();
    const child = run(join(app, 'node_modules', '.bin', 'irqlab'), ['run', './scenario.ts', '--mode', 'deterministic', '--json'], app);
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const result = JSON.parse(child.stdout) as RunResult;
    expect(result.scenario).toBe('user-scenario');
    expect(result.results).toEqual({ out: 42 });
    expect(result.checks.every((check) => check.passed)).toBe(true);
    expect(readdirSync(app).sort()).toEqual(before);
  });

  it("runs the README's API example", () => {
    const readme = readFileSync(join(app, 'node_modules', 'irqlab', 'README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('\n## Programmatic API\n')))?.[1];
    writeFileSync(join(app, 'example.mjs'), example ?? '');
    const child = succeeded(run(process.execPath, ['example.mjs'], app), 'node example.mjs');
    expect(child.stdout).toMatch(/^every check passed$/m);
  });
});
