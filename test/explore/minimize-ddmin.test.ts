// Schedule minimization's search, on a stand-in for the emulator: a "run" shows the outcome when
// its explicit decisions include the ones the bug needs and it lasts long enough. The real runs
// are in minimize-cli.test.ts.
import { describe, expect, it } from 'vitest';
import { ddmin, minimizeSchedule } from '../../src/explore/minimize.js';
import type { TakenDecision, Trial, TrialRunner } from '../../src/explore/minimize.js';
import type { ReplayFile } from '../../src/explore/replay-file.js';
import type { ScheduleDecision, ScheduleOptions } from '../../src/contract/schedule.js';

describe('ddmin', () => {
  const holdsWith = (needed: number[]) => async (candidate: number[]) => needed.every((item) => candidate.includes(item));

  it('finds the one element the property needs among a hundred', async () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    expect(await ddmin(items, holdsWith([37]))).toEqual([37]);
  });

  it('finds a pair that is only needed together, in their original order', async () => {
    const items = Array.from({ length: 64 }, (_, i) => i);
    expect(await ddmin(items, holdsWith([77 % 64, 3]))).toEqual([3, 13]);
  });

  it('returns the empty list when the property needs nothing', async () => {
    expect(await ddmin([1, 2, 3], async () => true)).toEqual([]);
  });

  it('returns a 1-minimal list: removing any one element loses the property', async () => {
    // holds when the candidate has at least three odd numbers: many 1-minimal answers, none larger than 3
    const property = async (candidate: number[]) => candidate.filter((n) => n % 2 === 1).length >= 3;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const result = await ddmin(items, property);
    expect(result).toHaveLength(3);
    expect(await property(result)).toBe(true);
    for (let i = 0; i < result.length; i++) expect(await property(result.filter((_, j) => j !== i))).toBe(false);
  });

  it('never runs the same candidate twice', async () => {
    const seen = new Set<string>();
    let repeats = 0;
    await ddmin(
      Array.from({ length: 30 }, (_, i) => i),
      async (candidate) => {
        const key = candidate.join(',');
        if (seen.has(key)) repeats++;
        seen.add(key);
        return candidate.includes(5) && candidate.includes(20);
      },
    );
    expect(repeats).toBe(0);
  });
});

/** A replay file for the stand-in: strategy random, 200 recorded decisions, 100 µs. */
function replayFile(overrides: Partial<ReplayFile> = {}): ReplayFile {
  return {
    format: 'irqlab-replay',
    version: 1,
    scenario: { kind: 'builtin', name: 'stand-in', irqlabVersion: '0.0.0' },
    run: { mode: 'deterministic', cpus: 2, durationNs: 100_000 },
    seed: 7,
    schedule: { strategy: 'random' },
    recorded: { outcome: 'lost update', grade: 'forbidden', bugcheck: null, traceHash: 'h', emulatedTimeNs: 100_000 },
    created: { at: '2026-01-01T00:00:00.000Z', by: 'test', irqlabVersion: '0.0.0' },
    ...overrides,
  };
}

/**
 * The stand-in emulator: 200 slice decision points, one every 500 ns; the seed's run takes a short
 * slice at every even ordinal (non-neutral). The outcome is 'lost update' when slices 40 and 120
 * are short and the run reaches slice 120 (60 µs), else 'exact'.
 */
function standIn(): { run: TrialRunner; runs: () => number } {
  let runs = 0;
  const NEUTRAL = 16384;
  const run: TrialRunner = async (schedule: ScheduleOptions, durationNs: number): Promise<Trial> => {
    runs++;
    const explicit = schedule.decisions === undefined ? null : new Map(schedule.decisions.map((d) => [d.ordinal, d.value]));
    const decisions: TakenDecision[] = [];
    for (let ordinal = 0; ordinal < 200 && ordinal * 500 < durationNs; ordinal++) {
      const seeded = ordinal % 2 === 0 ? 100 + ordinal : NEUTRAL;
      const value = explicit === null ? seeded : (explicit.get(ordinal) ?? NEUTRAL);
      decisions.push({ kind: 'slice', ordinal, value, neutral: NEUTRAL, atNs: ordinal * 500 });
    }
    const short = (ordinal: number) => decisions.some((d) => d.ordinal === ordinal && d.value !== NEUTRAL);
    const outcome = short(40) && short(120) ? 'lost update' : 'exact';
    return { outcome, grade: outcome === 'exact' ? 'acceptable' : 'forbidden', bugcheck: null, traceHash: 'h', emulatedTimeNs: durationNs, decisions };
  };
  return { run, runs: () => runs };
}

describe('minimizeSchedule', () => {
  it('keeps the outcome with only the decisions it needs and the shortest run that shows it', async () => {
    const { run, runs } = standIn();
    const result = await minimizeSchedule(replayFile(), run);
    expect(result.final.outcome).toBe('lost update');
    expect(result.schedule.decisions).toEqual([
      { kind: 'slice', ordinal: 40, value: 140 },
      { kind: 'slice', ordinal: 120, value: 220 },
    ]);
    expect(result.before).toEqual({ decisions: 100, durationNs: 100_000 });
    // slice 120 is taken at 60 µs: the run must last past it, to within the search's 1 µs
    expect(result.durationNs).toBeGreaterThan(60_000);
    expect(result.durationNs).toBeLessThanOrEqual(61_000);
    expect(result.complete).toBe(true);
    expect(result.runs).toBe(runs());
    // and the result, run on its own, shows the outcome
    expect((await run(result.schedule, result.durationNs)).outcome).toBe('lost update');
  });

  it('stops at --max-runs with the smallest schedule found so far, which still shows the outcome', async () => {
    const { run, runs } = standIn();
    const result = await minimizeSchedule(replayFile(), run, { maxRuns: 6 });
    expect(result.complete).toBe(false);
    expect(runs()).toBe(6);
    expect(result.runs).toBe(6);
    expect(result.schedule.decisions.length).toBeLessThanOrEqual(100);
    expect((await run(result.schedule, result.durationNs)).outcome).toBe('lost update');
  });

  it('never grows the decision list of a file that has explicit decisions already', async () => {
    const { run } = standIn();
    const decisions: ScheduleDecision[] = [40, 41, 120, 121, 122].map((ordinal) => ({ kind: 'slice', ordinal, value: 5 }));
    const result = await minimizeSchedule(replayFile({ schedule: { strategy: 'random', decisions } }), run);
    expect(result.before.decisions).toBe(5);
    expect(result.schedule.decisions.map((d) => d.ordinal)).toEqual([40, 120]);
  });

  it('refuses a file whose run no longer shows its recorded outcome', async () => {
    const { run } = standIn();
    const file = replayFile({ recorded: { outcome: 'torn read', grade: 'forbidden', bugcheck: null, traceHash: 'h', emulatedTimeNs: 1 } });
    await expect(minimizeSchedule(file, run)).rejects.toThrow(/shows 'lost update', not its recorded outcome 'torn read'/);
  });
});
