// Replay files: what the writer puts in them, what the reader refuses, and when the scenario a file
// names is no longer the scenario it ran.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  irqlabVersion,
  locateReplayScenario,
  minimizedPathFor,
  readReplayFile,
  replayFileName,
  scenarioIdentity,
  sha256OfFile,
  writeReplayFile,
} from '../../src/explore/replay-file.js';
import type { ReplayRecord } from '../../src/explore/replay-file.js';
import { loadScenario } from '../../src/scenario/load.js';
import { UsageError } from '../../src/util/errors.js';

const RACE = join(import.meta.dirname, '../fixtures/scenarios/replay-race.mjs');
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-replay-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function record(overrides: Partial<ReplayRecord> = {}): ReplayRecord {
  return {
    scenario: { kind: 'builtin', name: 'lost-update', irqlabVersion: irqlabVersion() },
    run: { mode: 'deterministic', cpus: 2, durationNs: 5_000_000 },
    seed: 42,
    schedule: { strategy: 'pct', depth: 3 },
    recorded: {
      outcome: '0xE2 MANUALLY_INITIATED_CRASH',
      grade: 'forbidden',
      bugcheck: { code: 0xe2, name: 'MANUALLY_INITIATED_CRASH' },
      traceHash: 'abc',
      emulatedTimeNs: 1234,
    },
    created: { at: '2026-12-06T07:00:00.000Z', by: 'irqlab explore lost-update -i 100', irqlabVersion: irqlabVersion() },
    ...overrides,
  };
}

/** The one line a UsageError thrown by `body` says. */
function refusal(body: () => unknown): string {
  try {
    body();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a refusal');
}

describe('writing a replay file', () => {
  it('names it scenario-outcome-strategy-seed and reads back what was written, with format and version', () => {
    const dir = tempDir();
    const path = writeReplayFile(dir, record());
    expect(path).toBe(join(dir, 'lost-update-0xe2-manually-initiated-crash-pct-seed42.replay.json'));
    const file = readReplayFile(path);
    expect(file).toEqual({ format: 'irqlab-replay', version: 1, ...record() });
    expect(JSON.parse(readFileSync(path, 'utf8')).format).toBe('irqlab-replay');
  });

  it('rewrites the same run in place and gives a different run with the same name a file of its own', () => {
    const dir = tempDir();
    const first = writeReplayFile(dir, record());
    const again = writeReplayFile(dir, record({ created: { at: '2026-12-07T00:00:00.000Z', by: 'again', irqlabVersion: irqlabVersion() } }));
    expect(again).toBe(first);
    const other = writeReplayFile(dir, record({ run: { mode: 'deterministic', cpus: 4, durationNs: 5_000_000 } }));
    expect(other).toBe(join(dir, 'lost-update-0xe2-manually-initiated-crash-pct-seed42-2.replay.json'));
    expect(readReplayFile(first).run.cpus).toBe(2);
    expect(readReplayFile(other).run.cpus).toBe(4);
  });

  it('refuses to write a record with a field a reader would reject', () => {
    expect(refusal(() => writeReplayFile(tempDir(), record({ seed: -1 })))).toMatch(/seed must be an integer from 0/);
  });

  it('names the minimized file beside the original', () => {
    expect(minimizedPathFor('/x/lost-update-a-pct-seed1.replay.json')).toBe('/x/lost-update-a-pct-seed1.min.replay.json');
    expect(minimizedPathFor('/x/mine.json')).toBe('/x/mine.min.replay.json');
    expect(minimizedPathFor('dpc-list-race-lost-node-random-seed23.replay.json')).toBe('dpc-list-race-lost-node-random-seed23.min.replay.json');
    expect(minimizedPathFor('out/a.replay.json')).toBe(join('out', 'a.min.replay.json'));
  });

  it('keeps file names to safe characters', () => {
    const name = replayFileName({ ...record(), recorded: { ...record().recorded, outcome: 'torn: hi=1, lo=0 / "oops"' } });
    expect(name).toBe('lost-update-torn-hi-1-lo-0-oops-pct-seed42.replay.json');
  });
});

describe('reading a replay file refuses, in one line', () => {
  it('a file that is not JSON', () => {
    const path = join(tempDir(), 'x.json');
    writeFileSync(path, 'not json');
    expect(refusal(() => readReplayFile(path))).toBe(`'${path}' is not an irqlab replay file (not JSON)`);
  });

  it('JSON that is not a replay file', () => {
    const path = join(tempDir(), 'x.json');
    writeFileSync(path, '{"traceHash": "1"}');
    expect(refusal(() => readReplayFile(path))).toBe(`'${path}' is not an irqlab replay file (no "format": "irqlab-replay")`);
  });

  it('a version it does not know', () => {
    const path = writeReplayFile(tempDir(), record());
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), version: 2 }));
    expect(refusal(() => readReplayFile(path))).toMatch(/has version 2, which this irqlab \(.*\) does not know: it reads version 1$/);
  });

  it('a hand-edited field, naming it', () => {
    const path = writeReplayFile(tempDir(), record());
    const file = JSON.parse(readFileSync(path, 'utf8'));
    file.schedule.decisions = [
      { kind: 'slice', ordinal: 0, value: 10 },
      { kind: 'preempt', ordinal: 1, value: 1 },
    ];
    writeFileSync(path, JSON.stringify(file));
    expect(refusal(() => readReplayFile(path))).toMatch(/schedule\.decisions\[1\]\.kind must be one of slice, tie, /);
  });

  it('a file that does not exist', () => {
    const path = join(tempDir(), 'gone.replay.json');
    expect(refusal(() => readReplayFile(path))).toBe(`replay file '${path}' does not exist`);
  });
});

describe('the scenario of a replay file', () => {
  it('is a file identified by its absolute path, the path as given and the sha256 of its bytes', async () => {
    const loaded = await loadScenario(RACE);
    expect(scenarioIdentity(loaded, 'test/fixtures/scenarios/replay-race.mjs')).toEqual({
      kind: 'file',
      name: 'fixture-replay-race',
      path: RACE,
      given: 'test/fixtures/scenarios/replay-race.mjs',
      sha256: sha256OfFile(RACE),
    });
  });

  it('is refused when the file changed since the replay file was written', async () => {
    const dir = tempDir();
    const copy = join(dir, 'race.mjs');
    copyFileSync(RACE, copy);
    const path = writeReplayFile(dir, record({ scenario: scenarioIdentity(await loadScenario(copy)) }));
    expect(locateReplayScenario(readReplayFile(path), path)).toBe(copy);
    appendFileSync(copy, '// edited\n');
    expect(refusal(() => locateReplayScenario(readReplayFile(path), path))).toMatch(
      new RegExp(`^scenario file '${copy}' changed since replay file '${path}' was written \\(sha256 [0-9a-f]{12}…, recorded [0-9a-f]{12}…\\)`),
    );
  });

  it('is a built-in identified by its name and the irqlab version, refused under another version', () => {
    const dir = tempDir();
    const path = writeReplayFile(dir, record());
    expect(locateReplayScenario(readReplayFile(path), path)).toBe('lost-update');
    const older = writeReplayFile(dir, record({ scenario: { kind: 'builtin', name: 'lost-update', irqlabVersion: '0.0.1' } }));
    expect(refusal(() => locateReplayScenario(readReplayFile(older), older))).toMatch(/ran built-in scenario 'lost-update' of irqlab 0\.0\.1; this is irqlab /);
  });
});
