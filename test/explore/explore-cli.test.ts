// `irqlab explore`: exit codes (Coyote's: 0, 1, 2, 4), one-line usage errors, --json, --out
// (report, journal, replay files), --merge, and Ctrl-C. The command runs in this process (runCli)
// except for Ctrl-C, which needs a real process and a real signal; its pool runs the built workers
// (`npm run build` first).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { ExploreReport } from '../../src/explore/table.js';
import { unfinishedSeeds } from '../../src/explore/journal.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const race = 'test/fixtures/scenarios/explore-race.mjs';
const scratch = mkdtempSync(join(tmpdir(), 'irqlab-explore-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

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

function table({ workers: _w, hostTimeMs: _h, iterationsPerSecond: _r, shard: _s, ...rest }: ExploreReport) {
  return rest;
}

describe('irqlab explore exit codes', () => {
  it('exits 0 when nothing FORBIDDEN came up, and prints the table', async () => {
    const run = await irqlab(['explore', race, '-i', '10', '--workers', '1']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ {2}Outcome +Count +Share +Grade +First seeds +Description$/m);
    expect(run.stdout).toMatch(/^ {2}exact +10 +100\.0% +ACCEPTABLE +1, 2, 3 +every increment counted$/m);
    expect(run.stdout).toContain('Result: nothing FORBIDDEN in 10 iterations');
  });

  it('exits 2 on a FORBIDDEN outcome and prints the command that replays it', async () => {
    const run = await irqlab(['explore', race, '-i', '20', '--workers', '2']);
    expect(run.status).toBe(2);
    expect(run.stdout).toMatch(/^ {2}lost update, most +1 +5\.0% +FORBIDDEN +17 +an increment was overwritten$/m);
    expect(run.stdout).toContain('FORBIDDEN lost update, most (1 of 20): replay with\n');
    expect(run.stdout).toContain(`  irqlab run ${race} --cpus 2 --mode deterministic --seed 17 --duration 1ms\n`);
  });

  it('exits 2 on a bugcheck', async () => {
    const run = await irqlab(['explore', 'test/fixtures/scenarios/bugcheck.mjs', '-i', '2', '--workers', '1']);
    expect(run.status).toBe(2);
    expect(run.stdout).toMatch(/0xE2 MANUALLY_INITIATED_CRASH +2 +100\.0% +FORBIDDEN/);
  });

  it('exits 4 with --strict when the time limit cut the exploration short, 0 without --strict', async () => {
    const strict = await irqlab(['explore', race, '-i', '1000000', '--time-limit', '0.001', '--strict', '--json']);
    expect(strict.status).toBe(4);
    const report = JSON.parse(strict.stdout) as ExploreReport;
    expect(report).toMatchObject({ incomplete: true, stoppedBy: 'time-limit' });
    const lenient = await irqlab(['explore', race, '-i', '1000000', '--time-limit', '0.001']);
    expect(lenient.status).toBe(0);
    expect(lenient.stdout).toContain('incomplete: the time limit stopped it');
  });

  it.each([
    [['explore'], "irqlab: explore needs a scenario: a built-in name (see 'irqlab list') or a .ts/.js file"],
    [['explore', race, '-i', '0'], 'irqlab: --iterations must be an integer from 1 to 4294967296 (got 0)'],
    [['explore', race, '--strategy', 'dfs'], "irqlab: --strategy must be 'random', 'pct', 'perturb' (got dfs)"],
    [['explore', race, '--depth', '3'], 'irqlab: --depth applies to --strategy pct only'],
    [['explore', race, '--shard', '3/2'], 'irqlab: --shard must be K/N with 1 <= K <= N, like 2/8 (got 3/2)'],
    [['explore', race, '--workers', 'many'], 'irqlab: --workers must be an integer from 1 to 256 (got many)'],
    [['explore', race, '--time-limit', '-1'], "irqlab: option '--time-limit' got a value starting with '-' (write --time-limit=<value> if you mean it)"],
    [['explore', '--merge', 'a.json', '-i', '5'], 'irqlab: --iterations does not apply to --merge (it adds up finished tables)'],
    [['explore', '--merge', 'missing.json'], "irqlab: cannot read 'missing.json': no such file"],
    [['explore', race, '--out', 'package.json'], "irqlab: --out 'package.json' cannot be a folder here: a file is in the way"],
    [['explore', 'no-such-scenario'], "irqlab: scenario 'no-such-scenario' is neither a built-in scenario (see 'irqlab list') nor a file"],
    [
      ['explore', 'test/fixtures/scenarios/explore-outcome-throws.mjs', '--seed', '7', '-w', '1'],
      "irqlab: scenario 'fixture-explore-outcome-throws': outcome() threw no outcome today (iteration 0, seed 7)",
    ],
  ])('refuses %j with one line and exit 1', async (args, line) => {
    const run = await irqlab(args);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`${line}\n`);
    expect(run.stdout).toBe('');
  });
});

describe('irqlab explore output', () => {
  it('--json prints one object with the iterations of each outcome’s first seeds', async () => {
    const run = await irqlab(['explore', race, '-i', '20', '--json']);
    const report = JSON.parse(run.stdout) as ExploreReport;
    expect(report).toMatchObject({ format: 'irqlab-explore', version: 1, scenario: race, seed: 1, iterations: 20, iterationsRun: 20, completed: [[0, 20]] });
    const lost = report.outcomes.find((row) => row.grade === 'forbidden')!;
    expect(lost).toMatchObject({ firstIterations: [16], firstSeeds: [17], count: 1 });
  });

  it('--out writes the report, a journal with every seed before its end, and a replay file per FORBIDDEN outcome', async () => {
    const out = join(scratch, 'out');
    const run = await irqlab(['explore', race, '-i', '20', '--out', out]);
    expect(run.status).toBe(2);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ExploreReport;
    const replayFile = report.outcomes.find((row) => row.grade === 'forbidden')!.replayFile!;
    expect(existsSync(replayFile)).toBe(true);
    expect(JSON.parse(readFileSync(replayFile, 'utf8'))).toMatchObject({
      format: 'irqlab-replay',
      seed: 17,
      recorded: { outcome: 'lost update, most', grade: 'forbidden' },
    });
    expect(run.stdout).toContain(`replay file: ${replayFile}`);
    const journal = readFileSync(join(out, 'journal.log'), 'utf8').split('\n');
    expect(journal[0]).toMatch(/^# irqlab explore test\/fixtures\/scenarios\/explore-race\.mjs -i 20 --seed 1 /);
    for (let index = 0; index < 20; index++) {
      const started = journal.indexOf(`start ${index} ${index + 1}`);
      const ended = journal.findIndex((line) => line.startsWith(`end ${index} ${index + 1} `));
      expect(started).toBeGreaterThan(0);
      expect(ended).toBeGreaterThan(started);
    }
    expect(journal).toContain('end 16 17 FORBIDDEN lost update, most');
  });

  it('--merge adds the JSON tables of shards up to the unsharded table', async () => {
    const whole = JSON.parse((await irqlab(['explore', race, '-i', '30', '--json'])).stdout) as ExploreReport;
    const files: string[] = [];
    for (const k of [1, 2, 3, 4]) {
      const out = join(scratch, `shard${k}`);
      await irqlab(['explore', race, '-i', '30', '--shard', `${k}/4`, '--out', out, '--workers', '1']);
      files.push(join(out, 'report.json'));
    }
    const merged = await irqlab(['explore', '--merge', ...files, '--json']);
    expect(merged.status).toBe(2);
    const report = JSON.parse(merged.stdout) as ExploreReport;
    const strip = (r: ExploreReport) => ({ ...table(r), outcomes: r.outcomes.map(({ replayFile: _f, ...row }) => row) });
    expect(strip(report)).toEqual(strip(whole));
    // the merged text table is the one explore prints
    const text = await irqlab(['explore', '--merge', ...files]);
    expect(text.stdout).toContain('FORBIDDEN lost update, most (1 of 30)');
    // a missing shard makes the merge incomplete: exit 4 with --strict (when nothing was found)
    const partial = await irqlab(['explore', '--merge', files[0]!, files[2]!, '--strict', '--json']);
    expect((JSON.parse(partial.stdout) as ExploreReport).incomplete).toBe(true);
  });
});

describe('irqlab explore and Ctrl-C', () => {
  it('prints the table of the iterations that completed and exits 130', async () => {
    const child = spawn(process.execPath, [bin, 'explore', 'lost-update', '-i', '100000', '--duration', '2ms', '--verbose'], {
      cwd: root,
      env: { ...process.env, IRQLAB_SEED: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // the first progress line comes once the first batch has completed (a child that ends first fails the test)
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^irqlab explore lost-update +\d+\/100000/m.test(stderr)) resolve();
      });
      void exited.then((code) => reject(new Error(`irqlab exited (${code}) before its first progress line: ${stderr}`)));
    });
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(130);
    expect(stderr).toMatch(/irqlab: interrupted \(SIGINT\): the table has the \d+ iterations that completed\n$/);
    expect(stdout).toMatch(/^ {2}Outcome +Count/m);
    expect(stdout).toMatch(/Result: .*incomplete: interrupted/);
    const done = Number(/the table has the (\d+) iterations/.exec(stderr)![1]);
    expect(done).toBeGreaterThan(0);
  });
});

describe('irqlab explore when the emulator itself dies', () => {
  it('exits 3 naming the iteration and its seed, with the seed on disk in the journal before it ran', async () => {
    const out = join(scratch, 'dies');
    const run = await irqlab(['explore', 'test/fixtures/scenarios/explore-emulator-dies.mjs', '-i', '5', '--seed', '41', '--workers', '1', '--out', out]);
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(
      /^irqlab: internal error: a pool worker failed while running iterations 0–0 \(seeds 41–41\): .*the journal .*journal\.log lists every seed started/,
    );
    expect(run.stderr.split('\n')).toHaveLength(2);
    const journal = readFileSync(join(out, 'journal.log'), 'utf8');
    expect(unfinishedSeeds(journal)).toContainEqual({ index: 0, seed: 41 });
  });

  it('keeps the temporary journal when there is no --out, and names it', async () => {
    const run = await irqlab(['explore', 'test/fixtures/scenarios/explore-emulator-dies.mjs', '-i', '1', '--workers', '1']);
    expect(run.status).toBe(3);
    const path = /the journal (\S+) lists/.exec(run.stderr)![1]!;
    expect(unfinishedSeeds(readFileSync(path, 'utf8'))).toEqual([{ index: 0, seed: 1 }]);
    rmSync(join(path, '..'), { recursive: true, force: true });
  });
});
