/**
 * The exploration engine: runs iterations [start, end) of an exploration on a piscina pool of
 * worker threads (pool-worker.ts, one machine per iteration on the in-process deterministic
 * backend) and adds their outcomes to a table. Main thread only; it runs no scenario code itself
 * (loading, validating, outcome() and grading all happen in the pool), so it stays responsive to
 * signals whatever the scenario does.
 *
 * Work goes out in batches of consecutive iterations, sized from the measured iteration time so
 * that a batch takes about BATCH_TARGET_MS: per-task messaging stays a small share of short
 * iterations, and progress, Ctrl-C and the time limit stay prompt. Each worker's first task loads
 * the scenario (all of them at once, before the first batch). The table depends only on which
 * iterations completed, never on their order or on the pool's size.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { InternalError, ScenarioError, UsageError } from '../util/errors.js';
import type { ExploreSpec, PreparedInfo, WorkerError, WorkerIterationRecord, WorkerReply, WorkerTask } from './pool-worker.js';
import type { Shard } from './plan.js';
import { iterationSeed, shardRange } from './plan.js';
import { OutcomeTable, buildReport, rowKey } from './table.js';
import type { ExploreConfig, ExploreReport } from './table.js';
import { isFailure } from './outcome.js';
import type { Grade } from './outcome.js';

/** A batch's host time the sizing aims at. */
const BATCH_TARGET_MS = 50;
const MAX_BATCH = 2000;

export interface ExploreProgress {
  /** iterations completed */
  done: number;
  /** iterations this run was asked for (its slice) */
  planned: number;
  elapsedMs: number;
  /** outcomes so far, most frequent first */
  counts: Array<{ outcome: string; grade: Grade; count: number }>;
}

export interface ExploreOptions {
  spec: ExploreSpec;
  /** the whole iteration space */
  iterations: number;
  /** --seed: iteration i runs seed (seed + i) mod 2^32 */
  seed: number;
  /** pool threads */
  workers: number;
  shard?: Shard;
  /** host ms after which no further iteration starts */
  timeLimitMs?: number;
  /** aborting stops the exploration: the pool is destroyed, the report has what completed */
  signal?: AbortSignal;
  /** called as batches complete (the progress line) */
  onProgress?: (progress: ExploreProgress) => void;
  /** called for every completed iteration, in completion order */
  onIteration?: (record: WorkerIterationRecord) => void;
  /** called once the pool has loaded the scenario, before the first iteration */
  onPrepared?: (info: PreparedInfo) => void;
  /** the replay line for a seed of this exploration */
  replayCommand: (config: ExploreConfig, seed: number) => string | null;
}

export interface ExploreRun {
  report: ExploreReport;
  info: PreparedInfo;
  /** per failing row (rowKey): the record of its first iteration, for replay files */
  firstFailures: Map<string, WorkerIterationRecord>;
}

/** The built pool worker entry (workers run compiled JavaScript, also under a test runner). */
export function exploreWorkerEntry(): string {
  const candidates = [new URL('../../workers/explore-worker.js', import.meta.url), new URL('../../dist/workers/explore-worker.js', import.meta.url)].map(
    (url) => fileURLToPath(url),
  );
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  throw new InternalError(`worker entry explore-worker.js is missing (looked for ${candidates.join(' and ')}): run 'npm run build'`);
}

/** A worker's error as the error the CLI reports (ScenarioError and UsageError: exit 1; anything else: exit 3). */
function toError(error: WorkerError): Error {
  const where = error.seed !== undefined ? ` (iteration ${error.index}, seed ${error.seed})` : '';
  const message = `${error.message}${where}`;
  const cause = Object.assign(new Error(error.message), { stack: error.stack });
  if (error.kind === 'scenario') return new ScenarioError(message, { cause });
  if (error.kind === 'usage') return new UsageError(message, { cause });
  return new InternalError(message, { cause });
}

export async function explore(options: ExploreOptions): Promise<ExploreRun> {
  const started = performance.now();
  const [start, end] = shardRange(options.iterations, options.shard);
  const planned = end - start;
  const deadlineMs = options.timeLimitMs !== undefined ? Date.now() + options.timeLimitMs : undefined;
  const workers = Math.max(1, Math.min(options.workers, Math.max(1, planned)));
  const pool = new Piscina<WorkerTask, WorkerReply>({
    filename: exploreWorkerEntry(),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    // the pool's own timing histograms are not read
    recordTiming: false,
  });
  const table = new OutcomeTable();
  const firstFailures = new Map<string, WorkerIterationRecord>();
  let stoppedBy: ExploreReport['stoppedBy'] = null;
  let failure: Error | null = null;
  const aborted = (): boolean => options.signal?.aborted === true;
  const abortedPromise = abortPromise(options.signal);

  try {
    // every worker loads the scenario now, at once; the first answer says what it is
    const preparing = Promise.all(Array.from({ length: workers }, () => pool.run({ kind: 'prepare', spec: options.spec })));
    // a failed prepare is seen below; this only keeps its rejection from going unhandled on Ctrl-C
    preparing.catch(() => {});
    await Promise.race([preparing, abortedPromise]);
    if (aborted()) throw new ExploreInterrupted();
    const prepares = await preparing;
    for (const reply of prepares) if (!reply.ok) throw toError(reply.error);
    const first = prepares[0]!;
    if (!first.ok || first.kind !== 'prepare') throw new InternalError('explore: the pool did not prepare the scenario');
    const info = first.info;
    options.onPrepared?.(info);
    const config: ExploreConfig = {
      scenario: options.spec.scenario,
      scenarioName: info.name,
      cpus: info.cpus,
      durationNs: info.durationNs,
      clockMs: options.spec.clockMs ?? null,
      strategy: options.spec.schedule?.strategy ?? 'random',
      depth: options.spec.schedule?.strategy === 'pct' ? (options.spec.schedule.depth ?? null) : null,
      seed: options.seed,
      iterations: options.iterations,
    };

    let next = start;
    let batch = 1;
    let measuredMs = 0;
    let measuredIterations = 0;
    const inFlight = new Set<Promise<void>>();
    const report = (): void => options.onProgress?.({ done: table.iterationsRun, planned, elapsedMs: performance.now() - started, counts: table.counts() });

    const settle = (reply: WorkerReply, taskMs: number): void => {
      const records = reply.ok ? (reply.kind === 'run' ? reply.records : []) : (reply.records ?? []);
      for (const record of records) {
        table.add(record);
        options.onIteration?.(record);
        if (isFailure(record.grade, record.bugcheck)) {
          const key = rowKey(record);
          const known = firstFailures.get(key);
          if (!known || record.index < known.index) firstFailures.set(key, record);
        }
      }
      if (records.length > 0) {
        table.addRanges([[records[0]!.index, records[records.length - 1]!.index + 1]]);
        measuredMs += taskMs;
        measuredIterations += records.length;
      }
      if (!reply.ok && !failure) failure = toError(reply.error);
    };

    const dispatch = (): void => {
      const remaining = end - next;
      // the tail is shared out finely, so that no worker is left alone with a long last batch
      const size = Math.max(1, Math.min(batch, MAX_BATCH, Math.ceil(remaining / (workers * 2))));
      const task: WorkerTask = { kind: 'run', spec: options.spec, baseSeed: options.seed, first: next, count: size };
      if (deadlineMs !== undefined) task.deadlineMs = deadlineMs;
      next += size;
      const sent = performance.now();
      const running: Promise<void> = pool.run(task, options.signal ? { signal: options.signal } : {}).then(
        (reply) => {
          inFlight.delete(running);
          settle(reply, performance.now() - sent);
          if (measuredIterations > 0) batch = Math.max(1, Math.round(BATCH_TARGET_MS / (measuredMs / measuredIterations)));
          report();
        },
        (error: unknown) => {
          inFlight.delete(running);
          if (aborted()) return;
          failure ??= new InternalError(
            `a pool worker failed while running iterations ${task.first}–${task.first + task.count - 1} (seeds ${iterationSeed(options.seed, task.first)}–${iterationSeed(options.seed, task.first + task.count - 1)}): ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        },
      );
      inFlight.add(running);
    };

    // two batches per worker in flight: a worker finishing one finds the next already queued
    while (!failure && !aborted()) {
      const timeUp = deadlineMs !== undefined && Date.now() >= deadlineMs;
      while (!failure && !aborted() && !timeUp && next < end && inFlight.size < workers * 2) dispatch();
      if (inFlight.size === 0) break;
      await Promise.race([...inFlight, abortedPromise]);
    }
    if (aborted()) stoppedBy = 'interrupted';
    else if (table.iterationsRun < planned && !failure) stoppedBy = 'time-limit';
    if (failure) throw failure;
    return {
      report: buildReport(config, table, {
        shard: options.shard ?? null,
        stoppedBy,
        workers,
        hostTimeMs: performance.now() - started,
        replayCommand: (seed) => options.replayCommand(config, seed),
        planned,
      }),
      info,
      firstFailures,
    };
  } finally {
    await pool.destroy();
  }
}

/** Ctrl-C came before the pool had loaded the scenario: there is no table to show. */
export class ExploreInterrupted extends Error {
  override get name(): string {
    return 'ExploreInterrupted';
  }
}

/** Settles when the signal aborts (never, without one). */
function abortPromise(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise<void>(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
