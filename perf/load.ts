/**
 * Load benchmark: how long `loadScenario` takes, in a fresh child process each sample (a fresh
 * process is what a user's `irqlab run` is: nothing loaded yet), for a built-in scenario (Node's own
 * import), a small .mjs file and the same scenario as .ts (through module-loader.ts), each .ts/.mjs
 * both with an empty transform cache (the first load after an edit, the common case) and with the
 * cache already holding the file. Added time of TypeScript = .ts minus .mjs, same cache state.
 * Timed inside the child around the `loadScenario` call alone, after irqlab's own modules are
 * loaded (a run of any scenario needs them), so Node's start-up and irqlab are part of no figure.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadScenario } from '../src/scenario/load.js';
import type { BenchResult } from './bench-result.js';
import { median, metOrNot, printResult, round1, standalone } from './common.js';

/** the target of issue 7: a .ts scenario loads in well under 100 ms of added time */
const TARGET_ADDED_MS = 100;
const BUILTIN = 'interrupt-storm';

/** A small scenario as a user writes it; `typed` adds what only TypeScript has. */
function scenarioSource(typed: boolean): string {
  return [
    "import { defineScenario, R1, R2 } from 'irqlab';",
    typed ? "import type { RoutineBuilder } from 'irqlab';" : '',
    typed ? 'interface Tuning { spins: number; label: string }' : '',
    `const tuning = { spins: 1000, label: 'load-bench' }${typed ? ' as Tuning' : ''};`,
    `function first${typed ? '<T>' : ''}(items${typed ? ': readonly T[]' : ''})${typed ? ': T | undefined' : ''} { return items[0]; }`,
    `const main = (a${typed ? ': RoutineBuilder' : ''}) => { a.movi(R1, first([tuning.spins]) ?? 0); a.movi(R2, 1); a.ret(0); };`,
    'export default defineScenario({',
    "  name: 'load-bench', description: tuning.label,",
    '  machine: { cpus: 1, durationMs: 1 },',
    "  threads: { Main: { routine: 'Main' } },",
    '  routines: { Main: main },',
    '});',
    '',
  ].join('\n');
}

interface Sample {
  /** host wall time */
  ms: number;
  /** process.cpuUsage() (user + system) over the same span: what a busy host inflates least */
  cpuMs: number;
}

/** In the child: load once, print how long `loadScenario` took. */
async function childMain(nameOrPath: string): Promise<void> {
  // every run needs all of irqlab (a built-in's too): loaded first, so that no figure holds it
  await import('../src/index.js');
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await loadScenario(nameOrPath);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const sample: Sample = { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

const run = promisify(execFile);

/** One sample in a fresh process; cacheHome is its XDG_CACHE_HOME (where the transform cache lives). */
async function sampleInChild(nameOrPath: string, cacheHome: string): Promise<Sample> {
  const self = fileURLToPath(import.meta.url);
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [self, '--child', nameOrPath], { timeout: 60_000, env: { ...process.env, XDG_CACHE_HOME: cacheHome } }));
  } catch (error) {
    const e = error as Error & { code?: number | string; signal?: string; stderr?: string };
    const why = e.stderr?.trim().split('\n').pop() || `exit code ${e.code ?? '?'}${e.signal ? `, signal ${e.signal}` : ''}`;
    throw new Error(`load sample child (${nameOrPath}) failed: ${why}`);
  }
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Sample;
}

export async function runLoadBench(opts: { json: boolean; repetitions?: number }): Promise<BenchResult> {
  const reps = opts.repetitions ?? 9;
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-load-bench-'));
  try {
    const tsFile = join(dir, 'scenario.ts');
    const mjsFile = join(dir, 'scenario.mjs');
    writeFileSync(tsFile, scenarioSource(true));
    writeFileSync(mjsFile, scenarioSource(false));
    const warmCache = join(dir, 'warm-cache');
    const samples: Record<'builtin' | 'mjsFirst' | 'mjsCached' | 'tsFirst' | 'tsCached', Sample[]> = {
      builtin: [],
      mjsFirst: [],
      mjsCached: [],
      tsFirst: [],
      tsCached: [],
    };
    const loadBefore = loadavg()[0]!;
    // fill the warm cache once, unmeasured
    await sampleInChild(tsFile, warmCache);
    await sampleInChild(mjsFile, warmCache);
    // the kinds interleaved, so that a busy spell of the host falls on all of them alike
    for (let rep = 0; rep < reps; rep++) {
      samples.builtin.push(await sampleInChild(BUILTIN, warmCache));
      samples.mjsFirst.push(await sampleInChild(mjsFile, join(dir, `empty-cache-mjs-${rep}`)));
      samples.mjsCached.push(await sampleInChild(mjsFile, warmCache));
      samples.tsFirst.push(await sampleInChild(tsFile, join(dir, `empty-cache-ts-${rep}`)));
      samples.tsCached.push(await sampleInChild(tsFile, warmCache));
    }
    const loadAfter = loadavg()[0]!;
    const metrics: Record<string, number> = {};
    const wall = (kind: keyof typeof samples): number[] => samples[kind].map((sample) => sample.ms);
    const cpu = (kind: keyof typeof samples): number[] => samples[kind].map((sample) => sample.cpuMs);
    for (const kind of Object.keys(samples) as Array<keyof typeof samples>) {
      metrics[`${kind}Ms`] = round1(median(wall(kind)));
      metrics[`${kind}MinMs`] = round1(Math.min(...wall(kind)));
      metrics[`${kind}MaxMs`] = round1(Math.max(...wall(kind)));
      metrics[`${kind}CpuMs`] = round1(median(cpu(kind)));
    }
    const addedFirst = median(wall('tsFirst')) - median(wall('mjsFirst'));
    const addedCached = median(wall('tsCached')) - median(wall('mjsCached'));
    // a built-in is Node's own import of compiled JavaScript: what a file would cost with no loader at all
    const overBuiltin = median(wall('tsFirst')) - median(wall('builtin'));
    metrics.tsAddedFirstLoadMs = round1(addedFirst);
    metrics.tsAddedCachedMs = round1(addedCached);
    metrics.tsFirstOverBuiltinMs = round1(overBuiltin);
    metrics.tsFirstOverBuiltinCpuMs = round1(median(cpu('tsFirst')) - median(cpu('builtin')));
    metrics.repetitions = reps;
    metrics.hostLoadAverage1mBefore = round1(loadBefore);
    metrics.hostLoadAverage1mAfter = round1(loadAfter);
    const notes = [
      `medians of ${reps} samples, each in a fresh child process, timed around loadScenario() alone; 'first' = empty transform cache (the first load after an edit), 'cached' = the cache already holds the file`,
      `built-in '${BUILTIN}' (Node's import) ${metrics.builtinMs} ms; .mjs ${metrics.mjsFirstMs} ms first / ${metrics.mjsCachedMs} ms cached; .ts ${metrics.tsFirstMs} ms first / ${metrics.tsCachedMs} ms cached`,
      `.ts − .mjs, same cache state (both go through the same loader and transformer): ${metrics.tsAddedFirstLoadMs} ms first load, ${metrics.tsAddedCachedMs} ms cached`,
      `.ts first load over a built-in (no loader at all), the time a .ts scenario adds: ${metrics.tsFirstOverBuiltinMs} ms wall, ${metrics.tsFirstOverBuiltinCpuMs} ms CPU (target well under ${TARGET_ADDED_MS} ms, taken as under half): ${metOrNot(overBuiltin < TARGET_ADDED_MS / 2)}`,
      `host 1-minute load average ${metrics.hostLoadAverage1mBefore} before, ${metrics.hostLoadAverage1mAfter} after: figures from a busy host are larger`,
    ];
    const result: BenchResult = { name: 'load', metrics, notes };
    if (!opts.json) printResult(result, 'load benchmark (scenario files, fresh process each)');
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') {
    await childMain(process.argv[3]!);
  } else {
    await standalone('load', runLoadBench);
  }
}
