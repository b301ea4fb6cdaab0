// Fences the dependency rules of DESIGN.md §6: the kernel is pure; only src/ipc touches msgpackr;
// workers are wiring; nothing in src imports workers/. And the layering: the main thread
// (src/machine, src/explore and src/inspect, above them src/cli and src/index.ts) sits on the actors (src/cpu, src/coordinator,
// workers/) and the scenario compiler, which sit on the kernel and the plumbing (src/kernel,
// src/hal, src/isa, src/ipc, src/shm, src/util). What actors and the main thread share (startup
// config, run mode, report frames and run results) is in src/contract/, below both.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(path: string): string[] {
  const source = readFileSync(path, 'utf8');
  return [...source.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Every relative import of `file`, as a path from the repository root ('src/machine/result.js'). */
function importedPaths(file: string): string[] {
  return imports(file)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(root, resolve(dirname(file), spec)));
}

/** `dir/…` files (from the root) whose relative imports land in one of `forbidden` (root-relative folders), as 'file → target'. */
function crossings(dirs: readonly string[], forbidden: readonly string[]): string[] {
  const offenders: string[] = [];
  for (const dir of dirs) {
    for (const file of files(join(root, dir))) {
      for (const target of importedPaths(file)) {
        if (forbidden.some((folder) => target.startsWith(`${folder}/`))) offenders.push(`${relative(root, file)} → ${target}`);
      }
    }
  }
  return offenders.sort();
}

/** Every folder under src/ but these (and src/index.ts, which is no folder). */
function srcFoldersExcept(...above: string[]): string[] {
  return readdirSync(join(root, 'src'))
    .filter((name) => statSync(join(root, 'src', name)).isDirectory() && !above.includes(name))
    .map((name) => `src/${name}`);
}

describe('layering', () => {
  it('src/kernel imports nothing from cpu/, coordinator/, machine/ (nor from cli/, scenario/ or contract/, which sit above it)', () => {
    expect(crossings(['src/kernel'], ['src/cpu', 'src/coordinator', 'src/machine', 'src/cli', 'src/scenario', 'src/scenarios', 'src/contract'])).toEqual([]);
  });

  it('nothing below the main thread imports src/machine/ (the actors, the workers, the scenario layer, the kernel and the plumbing)', () => {
    const below = [...srcFoldersExcept('machine', 'cli', 'explore', 'inspect'), 'workers'];
    expect(crossings(below, ['src/machine'])).toEqual([]);
  });

  it('src/explore sits with src/machine, above the actors: it reaches them only through src/machine, and only src/cli and its pool worker entry import it', () => {
    expect(crossings(['src/explore'], ['src/cpu', 'src/coordinator'])).toEqual([]);
    const below = srcFoldersExcept('cli', 'explore');
    expect(crossings(below, ['src/explore'])).toEqual([]);
    const workerImports = files(join(root, 'workers')).flatMap((file) => importedPaths(file).map((target) => `${relative(root, file)} → ${target}`));
    expect(workerImports.filter((line) => line.includes('src/explore/'))).toEqual(['workers/explore-worker.ts → src/explore/pool-worker.js']);
  });

  it('src/inspect (the time-travel inspector) sits with src/machine: only src/cli imports it, and of src/cli it uses only the report formatting', () => {
    expect(crossings(srcFoldersExcept('cli', 'inspect'), ['src/inspect'])).toEqual([]);
    expect(crossings(['workers'], ['src/inspect'])).toEqual([]);
    const cliImports = files(join(root, 'src/inspect')).flatMap((file) => importedPaths(file).filter((target) => target.startsWith('src/cli/')));
    expect([...new Set(cliImports)]).toEqual(['src/cli/format.js']);
  });

  it('src/coordinator never imports src/cpu/ (the two actors meet in src/kernel, src/ipc and src/contract)', () => {
    expect(crossings(['src/coordinator'], ['src/cpu'])).toEqual([]);
  });

  it('src/cpu never imports src/coordinator/', () => {
    expect(crossings(['src/cpu'], ['src/coordinator'])).toEqual([]);
  });

  it('src/scenario and the built-in scenarios import nothing from src/machine/, src/cpu/ or src/coordinator/', () => {
    expect(crossings(['src/scenario', 'src/scenarios'], ['src/machine', 'src/cpu', 'src/coordinator'])).toEqual([]);
  });

  it('src/contract (the types actors and the main thread share) sits below both: it imports only the kernel and the plumbing', () => {
    expect(crossings(['src/contract'], ['src/machine', 'src/cli', 'src/cpu', 'src/coordinator', 'src/scenario', 'src/scenarios', 'workers'])).toEqual([]);
  });

  it('the startup config, run mode and result types are defined in src/contract/ only (elsewhere at most re-exported)', () => {
    const declared = /^export\s+(?:interface|type|const)\s+(MachineConfig|ProcessorConfig|WorkerData|RunMode|RunResult|BugcheckFrame|CpuEvent|CpuSummary)\b/gm;
    const offenders = files(join(root, 'src'))
      .filter((file) => !file.includes('/src/contract/'))
      .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(declared)].map((m) => `${relative(root, file)} declares ${m[1]}`));
    expect(offenders).toEqual([]);
  });
});

describe('one module per kernel object', () => {
  const lines = (file: string): number => readFileSync(file, 'utf8').split('\n').length;

  it('no file under src/ is over 600 lines', () => {
    const long = files(join(root, 'src'))
      .filter((file) => lines(file) > 600)
      .map((file) => `${relative(root, file)}: ${lines(file)} lines`);
    expect(long).toEqual([]);
  });

  it("the dispatcher database only routes: each operation's body is in its object's module, under the dispatcher lock", () => {
    const source = readFileSync(join(root, 'src/kernel/dispatcher.ts'), 'utf8');
    expect(source).not.toMatch(/\.enter\(|\.exitDispatcher\(|\.wake\(|\.unwaitThread\(/);
  });
});

describe('hygiene', () => {
  it('no `void Name;` statements keep an unused import alive', () => {
    const offenders = [...files(join(root, 'src')), ...files(join(root, 'workers'))].flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/^\s*void\s+[A-Za-z_$][\w$.]*;/gm)].map((m) => `${relative(root, file)}: ${m[0].trim()}`),
    );
    expect(offenders).toEqual([]);
  });

  it('no counter is only ever written: every property src/ increments is read somewhere (src, workers, perf or a test)', () => {
    const sources = [...files(join(root, 'src')), ...files(join(root, 'workers')), ...files(join(root, 'perf')), ...files(join(root, 'test'))].map((file) =>
      readFileSync(file, 'utf8'),
    );
    const counters = new Set(
      files(join(root, 'src')).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\.([A-Za-z_$][\w$]*)\s*(?:\+\+|--|\+=|-=)/g)].map((m) => m[1]!)),
    );
    const unread = [...counters].filter((name) => {
      const uses = new RegExp(`\\.${name}\\b(?!\\s*(?:\\+\\+|--|[-+]?=(?!=)))`);
      return !sources.some((source) => uses.test(source));
    });
    expect(unread).toEqual([]);
  });

  it('NTSTATUS values come from src/kernel/status.ts, not inline numbers or local STATUS_ constants', () => {
    const offenders = files(join(root, 'src'))
      .filter((file) => !file.endsWith('/src/kernel/status.ts'))
      .flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/\b0x[cC]0{3}[0-9a-fA-F]{4}\b|\bconst STATUS_[A-Z_]+\s*=/g)].map(
          (m) => `${relative(root, file)}: ${/^0x/i.test(m[0]) ? m[0].toLowerCase() : m[0]}`,
        ),
      );
    expect(offenders).toEqual([]);
  });

  it('the HostClock type is declared once, in src/ipc/actor-port.ts, and imported from there', () => {
    const declarations = files(join(root, 'src')).filter((file) => /\btype HostClock\s*=/.test(readFileSync(file, 'utf8')));
    expect(declarations.map((file) => relative(root, file))).toEqual(['src/ipc/actor-port.ts']);
  });

  it('every module under src/ is used by the package (reachable from src/index.ts, src/cli/main.ts or a worker), not only by tests', () => {
    const entries = [join(root, 'src/index.ts'), join(root, 'src/cli/main.ts'), ...files(join(root, 'workers'))];
    const reached = new Set<string>();
    const pending = [...entries];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (reached.has(file)) continue;
      reached.add(file);
      const source = readFileSync(file, 'utf8');
      // static and dynamic imports, and the built-in scenarios' catalogue, which names its files for a lazy import()
      const specs = [...source.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g), ...source.matchAll(/\bfile:\s*['"]([^'"]+\.js)['"]/g)].map((m) =>
        m[1]!.startsWith('.') ? m[1]! : `./${m[1]!}`,
      );
      for (const spec of specs) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        if (existsSync(target)) pending.push(target);
      }
    }
    // src/isa/index.ts: the instruction set in one import, for the ISA tests (a barrel, no code of its own)
    const barrels = [join(root, 'src/isa/index.ts')];
    const unused = files(join(root, 'src'))
      .filter((file) => !reached.has(file) && !barrels.includes(file))
      .map((file) => relative(root, file));
    expect(unused).toEqual([]);
  });
});

describe('architecture', () => {
  it('src/kernel imports no Node module, no worker, codec or event library, and nothing outside the kernel but hal, shm and ipc types', () => {
    const offenders: string[] = [];
    for (const file of files(join(root, 'src/kernel'))) {
      for (const spec of imports(file)) {
        const bad =
          spec.startsWith('node:') ||
          ['msgpackr', 'piscina', 'nanoevents', 'worker_threads'].includes(spec) ||
          /\/(machine|cpu|cli|coordinator|scenario|contract)\//.test(spec);
        if (bad) offenders.push(`${relative(root, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('only src/ipc imports msgpackr', () => {
    const offenders = files(join(root, 'src'))
      .filter((file) => !file.includes('/src/ipc/'))
      .flatMap((file) =>
        imports(file)
          .filter((spec) => spec === 'msgpackr')
          .map(() => relative(root, file)),
      );
    expect(offenders).toEqual([]);
  });

  it('nothing in src imports workers/', () => {
    const offenders = files(join(root, 'src')).flatMap((file) =>
      imports(file)
        .filter((spec) => spec.includes('/workers/'))
        .map((spec) => `${relative(root, file)} → ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('worker entry files are wiring only (short, no classes or loops of their own)', () => {
    for (const file of files(join(root, 'workers'))) {
      const source = readFileSync(file, 'utf8');
      const code = source.split('\n').filter((line) => line.trim() && !line.trim().startsWith('//'));
      expect(code.length, relative(root, file)).toBeLessThanOrEqual(25);
      expect(source).not.toMatch(/\bclass\s|\bwhile\s*\(|\bfor\s*\(/);
    }
  });

  it('the CPU and coordinator actors do not touch Node or worker APIs (they talk through an ActorPort)', () => {
    const offenders: string[] = [];
    for (const dir of ['src/cpu', 'src/coordinator', 'src/hal']) {
      for (const file of files(join(root, dir))) {
        for (const spec of imports(file)) if (spec.startsWith('node:') || spec === 'msgpackr') offenders.push(`${relative(root, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
