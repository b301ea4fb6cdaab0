import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { importScenarioModule } from '../../src/scenario/module-loader.js';
import type { LoadedScenario } from '../../src/scenario/load.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { ScenarioError } from '../../src/util/errors.js';
import { R1 } from '../../src/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'scenarios');
const fixture = (name: string): string => join(fixtures, name);
/** the path as a user would type it, relative to the working directory */
const typed = (name: string): string => relative(process.cwd(), fixture(name));

/** name → size and mtime of every entry: what "nothing was written here" is checked against */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir).map((name) => {
      const stat = statSync(join(dir, name));
      return [name, `${stat.size}:${stat.mtimeMs}`];
    }),
  );

const opened: LoadedScenario[] = [];
afterEach(() => {
  for (const loaded of opened.splice(0)) loaded.dispose();
});

async function load(nameOrPath: string): Promise<LoadedScenario> {
  const loaded = await loadScenario(nameOrPath);
  opened.push(loaded);
  return loaded;
}

async function loadError(nameOrPath: string): Promise<string> {
  try {
    opened.push(await loadScenario(nameOrPath));
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`${nameOrPath} loaded`);
}

describe('loadScenario', () => {
  it('loads every built-in by name', async () => {
    for (const builtin of BUILTIN_SCENARIOS) {
      const loaded = await load(builtin.name);
      expect(loaded.kind).toBe('builtin');
      expect(loaded.source).toBe(builtin.name);
      expect(loaded.definition.name).toBe(builtin.name);
      expect(loaded.definition.description).toBe(builtin.description);
      expect(existsSync(loaded.modulePath)).toBe(true);
    }
  });

  it('imports a .mjs scenario directly', async () => {
    const loaded = await load(typed('minimal.mjs'));
    expect(loaded.kind).toBe('file');
    expect(loaded.source).toBe(fixture('minimal.mjs'));
    expect(loaded.modulePath).toBe(fixture('minimal.mjs'));
    expect(loaded.definition.name).toBe('fixture-minimal');
    expect(() => validateScenario(loaded.definition, { cpus: 1, arch: 'x64' })).not.toThrow();
  });

  it("loads a .ts scenario that imports 'irqlab' and a sibling module, writing nothing beside it", async () => {
    const before = snapshot(fixtures);
    const loaded = await load(typed('with-import.ts'));
    expect(loaded.kind).toBe('file');
    expect(loaded.source).toBe(fixture('with-import.ts'));
    // workers import the file itself: there is no transpiled copy
    expect(loaded.modulePath).toBe(fixture('with-import.ts'));
    expect(loaded.definition.name).toBe('fixture-ts');
    expect(typeof loaded.definition.routines.Main).toBe('function');
    expect(() => validateScenario(loaded.definition, { cpus: 2, arch: 'x64' })).not.toThrow();
    expect(snapshot(fixtures)).toEqual(before);
  });

  it('a nonexistent path', async () => {
    expect(await loadError('./no-such-scenario.ts')).toBe("scenario './no-such-scenario.ts' is neither a built-in scenario (see 'irqlab list') nor a file");
    expect(await loadError('interrupt-strom')).toBe("scenario 'interrupt-strom' is neither a built-in scenario (see 'irqlab list') nor a file");
  });

  it('a directory or an unsupported file type', async () => {
    expect(await loadError(typed(''))).toMatch(/is not a file$/);
    expect(await loadError(typed('not-a-scenario.json'))).toBe(
      `cannot load scenario '${typed('not-a-scenario.json')}': unsupported file type '.json' (use .ts, .mts, .js or .mjs)`,
    );
  });

  it('a TypeScript syntax error names the file, line and column', async () => {
    const message = await loadError(typed('syntax-error.ts'));
    expect(message).toMatch(/^cannot load scenario '[^']*syntax-error\.ts': syntax-error\.ts:7:1: \S/);
  });

  it("a JavaScript syntax error (the exact wording is the runtime's: see the CLI test for plain Node)", async () => {
    expect(await loadError(typed('syntax-error.mjs'))).toMatch(/^cannot load scenario '[^']*syntax-error\.mjs': SyntaxError: .*\(syntax-error\.mjs:5:1\)$/);
  });

  it('a module without a default export', async () => {
    expect(await loadError(typed('no-default.mjs'))).toBe(
      `cannot load scenario '${typed('no-default.mjs')}': it has no default export (export default defineScenario({ … }))`,
    );
  });

  it('a default export that is not an object', async () => {
    expect(await loadError(typed('not-object.mjs'))).toBe(
      `cannot load scenario '${typed('not-object.mjs')}': its default export is a number, not a scenario object`,
    );
  });

  it('a module that throws at top level: the first line of the cause', async () => {
    expect(await loadError(typed('throws.mjs'))).toBe(`cannot load scenario '${typed('throws.mjs')}': scenario setup exploded`);
  });
});

/** A scenario outside any package: Node alone could not resolve 'irqlab' from here. */
function scenarioSource(typed: boolean): string {
  return [
    "import { defineScenario, R1 } from 'irqlab';",
    typed ? "import type { RoutineBuilder } from 'irqlab';" : '',
    "import { double } from './natives.mjs';",
    `const main = (a${typed ? ': RoutineBuilder' : ''}) => { a.movi(R1, 21); a.native('double', R1); a.ret(0); };`,
    'export const register = R1;',
    'export default defineScenario({',
    "  name: 'outside', description: 'a scenario in a folder of its own',",
    '  machine: { cpus: 1, durationMs: 1 },',
    "  threads: { Main: { routine: 'Main' } },",
    '  natives: { double },',
    '  routines: { Main: main },',
    '});',
  ].join('\n');
}

describe('scenario files outside the package', () => {
  const folders: string[] = [];
  afterEach(() => {
    for (const dir of folders.splice(0)) {
      spawnSync('chattr', ['-i', dir]);
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  function folderWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-load-'));
    folders.push(dir);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  const natives = 'export const double = (args) => args[0] * 2;\n';

  it.each(['ts', 'mts', 'js', 'mjs'])("'irqlab' in a .%s scenario is the running irqlab (its registers pass the builder)", async (extension) => {
    const dir = folderWith({ [`outside.${extension}`]: scenarioSource(extension.endsWith('ts')), 'natives.mjs': natives, 'package.json': '{"type":"module"}' });
    const loaded = await load(join(dir, `outside.${extension}`));
    expect(((await importScenarioModule(loaded.modulePath)) as { register: unknown }).register).toBe(R1);
    // before: a second copy's R1 was rejected ("load expects a register (R0..R15), got object")
    expect(() => validateScenario(loaded.definition, { cpus: 1, arch: 'x64' })).not.toThrow();
  });

  it.each(['ts', 'mjs', 'js'])(
    "'irqlab' in a .%s scenario and in the modules it imports is the running irqlab where node_modules holds another copy",
    async (extension) => {
      const otherCopy = "export const R1 = Object.freeze({ index: 1, name: 'r1' });\nexport const defineScenario = (definition) => definition;\n";
      const dir = folderWith({
        [`outside.${extension}`]: scenarioSource(extension === 'ts').replace(
          "'./natives.mjs'",
          "'./natives.mjs';\nexport { helperRegister } from './helper.mjs'",
        ),
        'natives.mjs': natives,
        'helper.mjs': "import { R1 } from 'irqlab';\nexport const helperRegister = R1;\n",
        'package.json': '{"type":"module"}',
      });
      mkdirSync(join(dir, 'node_modules', 'irqlab'), { recursive: true });
      writeFileSync(join(dir, 'node_modules', 'irqlab', 'package.json'), '{"name":"irqlab","type":"module","exports":"./index.js"}');
      writeFileSync(join(dir, 'node_modules', 'irqlab', 'index.js'), otherCopy);
      const loaded = await load(join(dir, `outside.${extension}`));
      const module = (await importScenarioModule(loaded.modulePath)) as { register: unknown; helperRegister: unknown };
      expect(module.register).toBe(R1);
      expect(module.helperRegister).toBe(R1);
      expect(() => validateScenario(loaded.definition, { cpus: 1, arch: 'x64' })).not.toThrow();
    },
  );

  it.each(['ts', 'mjs'])("a .%s scenario may use top-level await, and its own 'irqlab' is still the running irqlab", async (extension) => {
    const dir = folderWith({
      [`outside.${extension}`]: scenarioSource(extension === 'ts').replace('export const register = R1;', 'export const register = await Promise.resolve(R1);'),
      'natives.mjs': natives,
      'package.json': '{"type":"module"}',
      'node_modules/irqlab/package.json': '{"name":"irqlab","type":"module","exports":"./index.js"}',
      'node_modules/irqlab/index.js': 'export const R1 = Object.freeze({ index: 1 });\nexport const defineScenario = (definition) => definition;\n',
    });
    const loaded = await load(join(dir, `outside.${extension}`));
    expect(((await importScenarioModule(loaded.modulePath)) as { register: unknown }).register).toBe(R1);
    expect(loaded.definition.name).toBe('outside');
  });

  it.each(['ts', 'mjs'])('a .%s scenario loaded again after an edit is the edited one', async (extension) => {
    const dir = folderWith({ [`outside.${extension}`]: scenarioSource(extension === 'ts'), 'natives.mjs': natives });
    expect((await load(join(dir, `outside.${extension}`))).definition.name).toBe('outside');
    writeFileSync(join(dir, `outside.${extension}`), scenarioSource(extension === 'ts').replace("name: 'outside'", "name: 'edited'"));
    expect((await load(join(dir, `outside.${extension}`))).definition.name).toBe('edited');
  });

  it('a .ts scenario in a read-only folder loads, and nothing appears beside it', async () => {
    const dir = folderWith({ 'outside.ts': scenarioSource(true), 'natives.mjs': natives });
    // root ignores permission bits: make the folder immutable where chattr works, read-only otherwise
    const immutable = process.getuid?.() === 0 && spawnSync('chattr', ['+i', dir]).status === 0;
    if (!immutable) chmodSync(dir, 0o555);
    const before = snapshot(dir);
    const loaded = await load(join(dir, 'outside.ts'));
    expect(loaded.definition.name).toBe('outside');
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(['natives.mjs', 'outside.ts']);
  });
});
