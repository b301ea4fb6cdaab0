// Fences the dependency rules of DESIGN.md §6: the kernel is pure; only src/ipc touches msgpackr;
// workers are wiring; nothing in src imports workers/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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

describe('architecture', () => {
  it('src/kernel imports no Node module, no worker, codec or event library, and nothing outside the kernel but hal, shm and ipc types', () => {
    const offenders: string[] = [];
    for (const file of files(join(root, 'src/kernel'))) {
      for (const spec of imports(file)) {
        const bad =
          spec.startsWith('node:') ||
          ['msgpackr', 'piscina', 'nanoevents', 'worker_threads'].includes(spec) ||
          /\/(machine|cpu|cli|coordinator|scenario)\//.test(spec);
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
