/**
 * How module-loader.ts transforms a scenario file on its first load (no cached transform): with
 * sucrase, never loading Babel, which alone cost ~95 ms of every first load after an edit. A file of
 * its own: Node's module registry is per test file, so "Babel was never loaded" is this file's own.
 */

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { R1 } from '../../src/index.js';
import { loadScenario } from '../../src/scenario/load.js';
import { importScenarioModule } from '../../src/scenario/module-loader.js';
import { validateScenario } from '../../src/scenario/validate.js';

const work = mkdtempSync(join(tmpdir(), 'irqlab-transform-'));
// an empty transform cache, so that every load below is a first load (read when the loader is made)
process.env.XDG_CACHE_HOME = join(work, 'cache');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const babelLoaded = (): boolean => Object.keys(createRequire(import.meta.url).cache).some((path) => /[\\/]jiti[\\/]dist[\\/]babel\.cjs$/.test(path));

function scenarioFile(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** What scenario authors write in TypeScript: type-only imports, interfaces, generics, `as`, an enum. */
const typedScenario = [
  "import { defineScenario, R1 } from 'irqlab';",
  "import type { RoutineBuilder } from 'irqlab';",
  'interface Tuning { spins: number }',
  'enum Phase { Warm = 3, Hot }',
  'const tuning = { spins: 7 } as Tuning;',
  'function first<T>(items: readonly T[]): T | undefined { return items[0]; }',
  'const main = (a: RoutineBuilder): void => { a.movi(R1, first<number>([tuning.spins]) ?? Phase.Hot); a.ret(0); };',
  'export const register = R1;',
  'export const hot: number = Phase.Hot;',
  'export default defineScenario({',
  "  name: 'typed', description: 'TypeScript features',",
  '  machine: { cpus: 1, durationMs: 1 },',
  "  threads: { Main: { routine: 'Main' } },",
  '  routines: { Main: main },',
  '});',
  '',
].join('\n');

describe('the first load of a scenario file', () => {
  it('transforms a .ts scenario without loading Babel, and caches the result outside the folder', async () => {
    const path = scenarioFile('typed.ts', typedScenario);
    const loaded = await loadScenario(path);
    expect(loaded.definition.name).toBe('typed');
    expect(() => validateScenario(loaded.definition, { cpus: 1, arch: 'x64' })).not.toThrow();
    const module = (await importScenarioModule(path)) as { register: unknown; hot: unknown };
    expect(module.register).toBe(R1);
    expect(module.hot).toBe(4);
    // before: jiti's default transform, Babel (a 1.5 MB bundle), on every first load
    expect(babelLoaded()).toBe(false);
    expect(readdirSync(join(work, 'cache', 'irqlab', 'jiti-sucrase')).length).toBeGreaterThan(0);
  });

  it('a .mjs scenario too', async () => {
    const path = scenarioFile(
      'plain.mjs',
      [
        "import { defineScenario, R1 } from 'irqlab';",
        'export default defineScenario({',
        "  name: 'plain', description: 'JavaScript',",
        '  machine: { cpus: 1, durationMs: 1 },',
        "  threads: { Main: { routine: 'Main' } },",
        '  routines: { Main: (a) => { a.movi(R1, 1); a.ret(0); } },',
        '});',
      ].join('\n'),
    );
    expect((await loadScenario(path)).definition.name).toBe('plain');
    expect(babelLoaded()).toBe(false);
  });

  it('a file that uses import.meta gets it (through Babel, which sucrase leaves it to)', async () => {
    const path = scenarioFile('meta.ts', typedScenario.replace("description: 'TypeScript features'", 'description: import.meta.url'));
    const loaded = await loadScenario(path);
    expect(loaded.definition.description).toBe(`file://${path}`);
  });

  it('a syntax error still names the file, line and column Babel finds (sucrase places it a token late)', async () => {
    const path = scenarioFile('broken.ts', "import { defineScenario } from 'irqlab';\nexport default defineScenario({\n  name: 'broken',\n);\n");
    await expect(loadScenario(path)).rejects.toThrow(/^cannot load scenario '[^']*broken\.ts': broken\.ts:4:1: \S[^\n]*$/);
  });

  it.each([
    ['a duplicate let', 'let a = 1;\nlet a = 2;', "dup.ts:3:5: Identifier 'a' has already been declared"],
    ['await in a plain function', 'function f() { await 1; }', 'dup.ts:2:16: Unexpected reserved word'],
  ])('an error sucrase lets through (%s) is still named with file, line and column, not only by V8', async (_what, code, expected) => {
    const path = scenarioFile('dup.ts', `import { defineScenario } from 'irqlab';\n${code}\nexport default defineScenario({ name: 'dup' });\n`);
    const message = await loadScenario(path).then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toContain(`cannot load scenario '${path}': ${expected}`);
    expect(message).not.toContain('\n');
  });
});
