// Replay files for tests, written the way `irqlab explore --out` writes one: a deterministic run
// in process, then its record.
import { loadScenario } from '../../src/scenario/load.js';
import { irqlabVersion, readReplayFile, replayRecord, scenarioIdentity, writeReplayFile } from '../../src/explore/replay-file.js';
import type { ReplayFile } from '../../src/explore/replay-file.js';
import { runRecorded } from '../../src/explore/replay.js';
import type { RecordedDecision } from '../../src/contract/decision-source.js';
import type { ScheduleOptions } from '../../src/contract/schedule.js';

export interface RecordRun {
  seed: number;
  schedule: ScheduleOptions;
  cpus?: number;
  durationNs?: number;
}

/** Run `scenario` (a built-in name or a file) in process and write its replay file under `dir`; also every decision the run took. */
export async function recordRun(scenario: string, dir: string, run: RecordRun): Promise<{ path: string; file: ReplayFile; decisions: RecordedDecision[] }> {
  const loaded = await loadScenario(scenario);
  const identity = scenarioIdentity(loaded, scenario);
  const cpus = run.cpus ?? 2;
  const durationNs = run.durationNs ?? 1_000_000;
  const draft: ReplayFile = {
    format: 'irqlab-replay',
    version: 1,
    scenario: identity,
    run: { mode: 'deterministic', cpus, durationNs },
    seed: run.seed,
    schedule: run.schedule,
    recorded: { outcome: '', grade: 'unknown', bugcheck: null, traceHash: '', emulatedTimeNs: 0 },
    created: { at: new Date().toISOString(), by: 'test', irqlabVersion: irqlabVersion() },
  };
  let decisions: RecordedDecision[] = [];
  const result = await runRecorded(draft, loaded, { backend: 'in-process', command: 'test', onDecisions: (taken) => (decisions = taken) });
  const path = writeReplayFile(
    dir,
    replayRecord({
      scenario: identity,
      cpus,
      durationNs,
      seed: run.seed,
      schedule: run.schedule,
      outcome: result.outcome,
      grade: result.grade,
      result: result.result,
      by: 'test',
    }),
  );
  return { path, file: readReplayFile(path), decisions };
}

/** The replay file of the first seed (1 to 50, random strategy) whose run shows `outcome`. */
export async function findRecordedFailure(scenarioPath: string, dir: string, outcome: string): Promise<{ path: string; file: ReplayFile }> {
  for (let seed = 1; seed <= 50; seed++) {
    const recorded = await recordRun(scenarioPath, dir, { seed, schedule: { strategy: 'random' } });
    if (recorded.file.recorded.outcome === outcome) return recorded;
  }
  throw new Error(`no seed from 1 to 50 shows '${outcome}' in ${scenarioPath}`);
}
