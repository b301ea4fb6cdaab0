/**
 * `npm run profile -- <scenario> [--tool doctor|flame|cpu-prof] [--cpus N] [--duration MS] [--seed S] [--repeat K] [--out DIR]`:
 * profile the emulator itself.
 *
 * - `doctor`, `flame` (clinic): the scenario runs on the in-process backend (profile-target.ts),
 *   so the coordinator, every CPU and the interpreter run in the one thread clinic samples. On the
 *   worker backend clinic would see only the main thread, which waits; and its samplers, inherited
 *   by workers through NODE_OPTIONS, write over its own data files (the machine strips
 *   NODE_OPTIONS from workers when it sees clinic, src/machine/machine.ts).
 *   NO_INSIGHT=1 is set: without it, in a shell with no terminal, clinic asks whether to send
 *   insights, gets no answer, and exits 0 without starting the program.
 * - `cpu-prof`: the real thing, `irqlab run` on the worker backend (parallel mode unless
 *   `--mode deterministic`), under `node --cpu-prof`: every thread writes its own V8 profile, and
 *   cpuprofile-summary.ts prints the top functions by self time per actor.
 *
 * Output goes to --out (default .profile/<tool>-<scenario>-<time>/, ignored by git).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatSummary, summarizeFlameSamples, summarizeFolder } from './cpuprofile-summary.js';

const TOOLS = ['doctor', 'flame', 'cpu-prof'] as const;
type Tool = (typeof TOOLS)[number];

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, '..', '..');

function fail(message: string): never {
  process.stderr.write(`irqlab profile: ${message}\n`);
  process.exit(1);
}

const parsed = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        tool: { type: 'string', default: 'flame' },
        cpus: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        repeat: { type: 'string' },
        mode: { type: 'string' },
        out: { type: 'string' },
        top: { type: 'string' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
const { values, positionals } = parsed;
const scenario =
  positionals[0] ?? fail('usage: npm run profile -- <scenario> [--tool doctor|flame|cpu-prof] [--cpus N] [--duration MS] [--seed S] [--repeat K] [--out DIR]');
const tool = values.tool as Tool;
if (!TOOLS.includes(tool)) fail(`--tool must be one of ${TOOLS.join(', ')} (got '${values.tool}')`);
for (const flag of ['cpus', 'duration', 'seed', 'repeat', 'top'] as const) {
  const value = values[flag];
  if (value !== undefined && !(Number(value) >= 0 && Number.isFinite(Number(value)))) fail(`--${flag} must be a number (got '${value}')`);
}
if (values.mode !== undefined && values.mode !== 'parallel' && values.mode !== 'deterministic')
  fail(`--mode must be parallel or deterministic (got '${values.mode}')`);
if (values.mode !== undefined && tool !== 'cpu-prof') fail('--mode applies to --tool cpu-prof only (clinic runs the in-process backend, deterministic mode)');
if (values.repeat !== undefined && tool === 'cpu-prof') fail('--repeat applies to the clinic tools only');

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
const out = resolve(values.out ?? join(repository, '.profile', `${tool}-${scenario.replace(/[^A-Za-z0-9_-]/g, '_')}-${stamp}`));
mkdirSync(out, { recursive: true });

const runFlags = [
  ...(values.cpus !== undefined ? ['--cpus', values.cpus] : []),
  ...(values.duration !== undefined ? ['--duration', values.duration] : []),
  ...(values.seed !== undefined ? ['--seed', values.seed] : []),
];

if (tool === 'cpu-prof') {
  const cli = join(repository, 'dist', 'src', 'cli', 'main.js');
  const args = ['--cpu-prof', '--cpu-prof-dir', out, cli, 'run', scenario, '--mode', values.mode ?? 'parallel', ...runFlags];
  process.stderr.write(`irqlab profile: node ${args.join(' ')}\n`);
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (run.error) fail(run.error.message);
  const threads = summarizeFolder(out, values.top === undefined ? 10 : Number(values.top));
  if (threads.length === 0) fail(`no .cpuprofile was written under ${out}`);
  process.stdout.write(`\n${formatSummary(threads)}\n\nprofiles (open in Chrome DevTools or speedscope): ${out}\n`);
  process.exit(run.status ?? 3);
}

const clinic = join(repository, 'node_modules', '.bin', process.platform === 'win32' ? 'clinic.cmd' : 'clinic');
if (!existsSync(clinic)) fail('clinic is not installed here: it is a development dependency, run npm install in the repository');
const target = join(here, 'profile-target.js');
const args = [
  tool,
  '--open=false',
  '--dest',
  out,
  '--',
  process.execPath,
  target,
  scenario,
  ...runFlags,
  ...(values.repeat !== undefined ? ['--repeat', values.repeat] : []),
];
process.stderr.write(`irqlab profile: clinic ${args.join(' ')}\n`);
const run = spawnSync(clinic, args, { stdio: 'inherit', env: { ...process.env, NO_INSIGHT: '1' } });
if (run.error) fail(run.error.message);
const html = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.html'));
if (run.status !== 0 || html.length === 0) fail(`clinic ${tool} ended with status ${run.status} and wrote no report under ${out}`);
if (tool === 'flame') {
  const samples = readdirSync(out, { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith('.clinic-flame-samples'));
  if (samples !== undefined) {
    const summary = summarizeFlameSamples(join(out, samples), values.top === undefined ? 15 : Number(values.top));
    process.stdout.write(`top functions by self time (${summary.samples} samples):\n`);
    for (const fn of summary.top) process.stdout.write(`  ${(fn.share * 100).toFixed(1).padStart(5)}%  ${fn.name}\n`);
  }
}
if (tool === 'doctor') {
  // the doctor's verdicts are embedded in its report (no other output carries them)
  const verdicts = readFileSync(join(out, html[0]!), 'utf8').match(/"issues":(\{"delay":"[a-z]+","cpu":"[a-z]+","memory":\{[^}]*\}\})/);
  if (verdicts) process.stdout.write(`doctor's verdicts (none = no issue, performance = an issue, data = too little data): ${verdicts[1]}\n`);
}
process.stdout.write(`report: ${html.map((f) => join(out, f)).join(', ')}\n`);
