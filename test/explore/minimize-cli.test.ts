// `irqlab minimize FILE` on real runs: the minimized schedule keeps the outcome with no more
// decisions than the run had, and the file it writes replays on worker threads with that outcome.
// Real workers for the replays: run `npm run build` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { readReplayFile } from '../../src/explore/replay-file.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runRecorded } from '../../src/explore/replay.js';
import type { RecordedDecision } from '../../src/contract/decision-source.js';
import { findRecordedFailure, recordRun } from './replay-helpers.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/scenarios');
const dir = mkdtempSync(join(tmpdir(), 'irqlab-minimize-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { isTTY: false, write: (s: string) => err.push(s) }, env: {} };
  const code = await runCli(argv, io, { handleSignals: false });
  return { code, out: out.join(''), err: err.join('') };
}

/** The non-neutral decisions the file's own run takes (what minimize starts from). */
async function nonNeutralDecisions(path: string): Promise<number> {
  const file = readReplayFile(path);
  const loaded = await loadScenario(file.scenario.kind === 'file' ? file.scenario.path : file.scenario.name);
  let taken: RecordedDecision[] = [];
  await runRecorded(file, loaded, { backend: 'in-process', command: 'test', onDecisions: (d) => (taken = d) });
  return taken.filter((d) => d.value !== d.neutral).length;
}

describe('irqlab minimize', () => {
  it('keeps the lost update with fewer decisions, and the file it writes replays on workers with that outcome', async () => {
    const { path } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const before = await nonNeutralDecisions(path);
    const out = join(dir, 'lost.min.replay.json');
    const minimize = await cli(['minimize', path, '--out', out]);
    expect(minimize.err).toBe('');
    expect(minimize.code).toBe(0);
    const minimized = readReplayFile(out);
    expect(minimized.recorded.outcome).toBe('lost update');
    expect(minimized.schedule.decisions!.length).toBeGreaterThan(0);
    expect(minimized.schedule.decisions!.length).toBeLessThanOrEqual(before);
    expect(minimized.minimized).toMatchObject({ from: path, decisions: { before, after: minimized.schedule.decisions!.length }, complete: true });
    expect(minimize.out).toContain(`decisions          ${before} → ${minimized.schedule.decisions!.length}`);
    expect(minimize.out).toContain(`Written: ${out}`);
    // each switch that remained, with the CPU it cut and when
    expect(minimize.out).toMatch(/^ {4}slice #\d+ +CPU [01] at [\d.]+ (ns|µs) +runs \d+ cycles, then is switched out \(a full slice: 16384\)$/m);

    const replay = await cli(['replay', out]);
    expect(replay.code).toBe(2);
    expect(replay.out).toContain(`REPRODUCED 'lost update' (FORBIDDEN), the same trace hash ${minimized.recorded.traceHash}`);
  });

  it('never grows the decisions of a file minimized already, and keeps its outcome', async () => {
    const { path } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const once = join(dir, 'once.replay.json');
    const twice = join(dir, 'twice.replay.json');
    expect((await cli(['minimize', path, '--out', once])).code).toBe(0);
    expect((await cli(['minimize', once, '--out', twice])).code).toBe(0);
    const [a, b] = [readReplayFile(once), readReplayFile(twice)];
    expect(b.recorded.outcome).toBe('lost update');
    expect(b.schedule.decisions!.length).toBeLessThanOrEqual(a.schedule.decisions!.length);
    expect(b.run.durationNs).toBeLessThanOrEqual(a.run.durationNs);
  });

  it('shortens a run that bugchecks to just past the bugcheck', async () => {
    const { path, file } = await findRecordedFailure(join(FIXTURES, 'replay-race-bugcheck.mjs'), dir, '0xE2 MANUALLY_INITIATED_CRASH');
    const out = join(dir, 'crash.min.replay.json');
    expect((await cli(['minimize', path, '--out', out])).code).toBe(0);
    const minimized = readReplayFile(out);
    expect(minimized.recorded.outcome).toBe('0xE2 MANUALLY_INITIATED_CRASH');
    expect(minimized.run.durationNs).toBeLessThan(file.run.durationNs);
    expect(minimized.run.durationNs).toBeLessThanOrEqual(Math.floor(minimized.recorded.emulatedTimeNs) + 1000);
    const replay = await cli(['replay', out]);
    expect(replay.code).toBe(2);
    expect(replay.out).toContain("REPRODUCED '0xE2 MANUALLY_INITIATED_CRASH' (FORBIDDEN)");
  });

  it('shrinks a perturbed schedule to the interrupt arrivals the torn read needs, with where each was due', async () => {
    // isr-torn-read under perturb: the device's assertions move within the scenario's jitter
    let recorded: Awaited<ReturnType<typeof recordRun>> | undefined;
    for (let seed = 1; seed <= 20 && recorded === undefined; seed++) {
      const candidate = await recordRun('isr-torn-read', dir, { seed, schedule: { strategy: 'perturb' }, durationNs: 3_000_000 });
      if (candidate.file.recorded.grade === 'forbidden') recorded = candidate;
    }
    expect(recorded).toBeDefined();
    const { path, file, decisions } = recorded!;
    const out = join(dir, 'torn.min.replay.json');
    const minimize = await cli(['minimize', path, '--out', out]);
    expect(minimize.code).toBe(0);
    const minimized = readReplayFile(out);
    expect(minimized.recorded.outcome).toBe(file.recorded.outcome);
    expect(minimized.schedule.decisions!.length).toBeLessThanOrEqual(decisions.filter((d) => d.value !== d.neutral).length);
    for (const decision of minimized.schedule.decisions!.filter((d) => d.kind === 'device-delay')) {
      expect(minimize.out).toMatch(new RegExp(`^ {4}device-delay #${decision.ordinal} +at [\\d.]+ (ns|µs|ms) +a device assertion due then lands `, 'm'));
    }
    const replay = await cli(['replay', out]);
    expect(replay.code).toBe(2);
    expect(replay.out).toContain(`the same trace hash ${minimized.recorded.traceHash}`);
  });

  it('says when --max-runs stopped it, and still writes a file that shows the outcome', async () => {
    const { path } = await findRecordedFailure(join(FIXTURES, 'replay-race.mjs'), dir, 'lost update');
    const out = join(dir, 'bounded.replay.json');
    const minimize = await cli(['minimize', path, '--out', out, '--max-runs', '3']);
    expect(minimize.code).toBe(0);
    expect(minimize.out).toContain('test runs         3 — stopped at --max-runs 3: the schedule may shrink further with more runs');
    const minimized = readReplayFile(out);
    expect(minimized.minimized!.complete).toBe(false);
    expect(minimized.recorded.outcome).toBe('lost update');
  });

  it('refuses --max-runs below 2 in one line', async () => {
    const result = await cli(['minimize', 'x.replay.json', '--max-runs', '1']);
    expect([result.code, result.err]).toEqual([1, 'irqlab: --max-runs must be an integer of at least 2 (got 1)\n']);
  });
});
