import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScenario, rewriteIrqlabSpecifier, TEMP_PREFIX } from '../../src/scenario/load.js';
import type { LoadedScenario } from '../../src/scenario/load.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { ScenarioError } from '../../src/util/errors.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'scenarios');
const fixture = (name: string): string => join(fixtures, name);
/** the path as a user would type it, relative to the working directory */
const typed = (name: string): string => relative(process.cwd(), fixture(name));

const tempFiles = (): string[] => readdirSync(fixtures).filter((name) => name.startsWith(TEMP_PREFIX));

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

  it("transpiles a .ts scenario that imports 'irqlab' and a sibling module, and cleans up", async () => {
    expect(tempFiles()).toEqual([]);
    const loaded = await loadScenario(typed('with-import.ts'));
    try {
      expect(loaded.kind).toBe('file');
      expect(loaded.source).toBe(fixture('with-import.ts'));
      expect(loaded.definition.name).toBe('fixture-ts');
      expect(typeof loaded.definition.routines.Main).toBe('function');
      // the module workers import: a plain ES module next to the original, with 'irqlab' resolved
      expect(dirname(loaded.modulePath)).toBe(fixtures);
      expect(loaded.modulePath).toMatch(/[\\/]\.irqlab-with-import\.[0-9a-f]+\.mjs$/);
      const code = readFileSync(loaded.modulePath, 'utf8');
      expect(code).not.toMatch(/from\s*['"]irqlab['"]/);
      expect(code).toMatch(/from\s*['"]file:\/\/[^'"]+\/index\.(js|ts)['"]/);
      expect(code).toContain("from './helper.mjs'");
      expect(tempFiles()).toHaveLength(1);
    } finally {
      loaded.dispose();
      loaded.dispose(); // idempotent
    }
    expect(tempFiles()).toEqual([]);
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
    expect(message).toMatch(/^cannot load scenario '[^']*syntax-error\.ts': syntax-error\.ts:7:1: /);
    expect(tempFiles()).toEqual([]);
  });

  it('a JavaScript syntax error (the exact wording is the runtime\'s: see the CLI test for plain Node)', async () => {
    expect(await loadError(typed('syntax-error.mjs'))).toMatch(/^cannot load scenario '[^']*syntax-error\.mjs': \S/);
  });

  it('a module without a default export', async () => {
    expect(await loadError(typed('no-default.mjs'))).toBe(
      `cannot load scenario '${typed('no-default.mjs')}': it has no default export (export default defineScenario({ … }))`,
    );
  });

  it('a default export that is not an object', async () => {
    expect(await loadError(typed('not-object.mjs'))).toBe(`cannot load scenario '${typed('not-object.mjs')}': its default export is a number, not a scenario object`);
  });

  it('a module that throws at top level: the first line of the cause', async () => {
    expect(await loadError(typed('throws.mjs'))).toBe(`cannot load scenario '${typed('throws.mjs')}': scenario setup exploded`);
  });
});

describe('rewriteIrqlabSpecifier', () => {
  it('rewrites imports, re-exports and dynamic imports of the bare name only', () => {
    const code = [
      "import { defineScenario } from 'irqlab';",
      'import * as irq from "irqlab";',
      "export { R0 } from 'irqlab';",
      "import 'irqlab';",
      "const m = await import('irqlab');",
      "import { x } from 'irqlab-extra';",
      "const s = 'irqlab';",
    ].join('\n');
    const out = rewriteIrqlabSpecifier(code, 'file:///pkg/dist/src/index.js');
    expect(out).toBe(
      [
        "import { defineScenario } from 'file:///pkg/dist/src/index.js';",
        'import * as irq from "file:///pkg/dist/src/index.js";',
        "export { R0 } from 'file:///pkg/dist/src/index.js';",
        "import 'file:///pkg/dist/src/index.js';",
        "const m = await import('file:///pkg/dist/src/index.js');",
        "import { x } from 'irqlab-extra';",
        "const s = 'irqlab';",
      ].join('\n'),
    );
  });
});
