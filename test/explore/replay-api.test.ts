// replayFile(): a replay file replayed from code, as `irqlab replay` does from the command line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFile } from '../../src/index.js';
import { UsageError } from '../../src/util/errors.js';
import { findRecordedFailure } from './replay-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'irqlab-replay-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replayFile', () => {
  it('replays a recorded lost update in process with its outcome and trace hash', async () => {
    const { path, file } = await findRecordedFailure(join(import.meta.dirname, '../fixtures/scenarios/replay-race.mjs'), dir, 'lost update');
    const replay = await replayFile(path, { backend: 'in-process' });
    expect({ reproduced: replay.reproduced, sameTrace: replay.sameTrace, outcome: replay.outcome, grade: replay.grade }).toEqual({
      reproduced: true,
      sameTrace: true,
      outcome: 'lost update',
      grade: 'forbidden',
    });
    expect(replay.result.traceHash).toBe(file.recorded.traceHash);
  });

  it('rejects a file that is not a replay file with a UsageError', async () => {
    const path = join(dir, 'not-replay.json');
    writeFileSync(path, '[]');
    await expect(replayFile(path)).rejects.toThrow(UsageError);
  });
});
