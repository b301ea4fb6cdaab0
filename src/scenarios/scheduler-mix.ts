/**
 * scheduler-mix: threads of several priorities and affinities on N CPUs (nt-semantics.md §4.5–4.6),
 * coordinating through a semaphore and events.
 *
 *   Producer  (priority 10, any CPU)        releases one semaphore count per work item
 *   Worker×5  (priority 8, any CPU)         wait on the semaphore, process an item, loop
 *   Pinned    (priority 9, affinity CPU 0)  CPU-bound, yields now and then: CPU 0's own business
 *   Batch×2   (priority 6, CPUs 1…N−1)      CPU-bound background work, polling the AllDone event
 *   Monitor   (priority 12, any CPU)        waits for AllDone
 *
 * What to look at in the thread table: workers that ran on several CPUs (placement prefers idle
 * CPUs, then the ideal one: threads migrate), Pinned never leaving CPU 0 (hard affinity), the
 * priority-6 batch threads getting CPU time only when nothing above them is ready there, round robin
 * between equal priorities, and idle CPUs taking work queued behind busy ones (stealing).
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2, R5 } from '../isa/registers.js';

const ITEMS = 40;
const WORKERS = 5;
const workers = Object.fromEntries(Array.from({ length: WORKERS }, (_, i) => [`Worker${i + 1}`, { routine: 'Worker', priority: 8 }]));

export default defineScenario({
  name: 'scheduler-mix',
  description: 'threads of several priorities and affinities on N CPUs waiting on a semaphore and events: migration, stealing, round robin',
  machine: { cpus: 4, durationMs: 250 },
  memory: { Taken: {}, Processed: {}, Handled: { words: ITEMS }, Duplicates: {}, DoneAt: {}, PinnedLoops: {}, BatchLoops: {} },
  semaphores: { WorkReady: { count: 0, limit: ITEMS + WORKERS } },
  events: { AllDone: { type: 'notification' } },
  threads: {
    Producer: { routine: 'Producer', priority: 10 },
    ...workers,
    Pinned: { routine: 'Pinned', priority: 9, affinity: [0] },
    Batch1: { routine: 'Batch', priority: 6, affinity: [1, 2, 3] },
    Batch2: { routine: 'Batch', priority: 6, affinity: [1, 2, 3] },
    Monitor: { routine: 'Monitor', priority: 12 },
  },
  routines: {
    Producer: (a) => {
      a.movi(R5, 0);
      a.label('next');
      a.work(500_000);
      a.kcall('KeReleaseSemaphore', a.semaphore('WorkReady'), 1, 1, 0);
      a.add(R5, R5, 1);
      a.blt(R5, ITEMS, 'next');
      // one more count per worker: the workers that take them find no item and exit
      a.kcall('KeReleaseSemaphore', a.semaphore('WorkReady'), 1, WORKERS, 0);
      a.ret(0);
    },
    Worker: (a) => {
      a.label('wait');
      a.kcall('KeWaitForSingleObject', a.semaphore('WorkReady'), 0, 0, 0, 0);
      a.movi(R2, 1);
      a.xadd(R5, a.var('Taken'), 0, R2); // R5 = the item this worker takes
      a.bge(R5, ITEMS, 'exit');
      // mark the item handled (a second mark would be a duplicate)
      a.shl(R1, R5, 2);
      a.add(R1, R1, a.var('Handled'));
      a.xchg(R0, R1, 0, R2);
      a.beqz(R0, 'fresh');
      a.xadd(R0, a.var('Duplicates'), 0, R2);
      a.label('fresh');
      a.work(3_000_000);
      a.xadd(R0, a.var('Processed'), 0, R2);
      a.add(R0, R0, 1);
      a.blt(R0, ITEMS, 'wait');
      a.kcall('KeQueryPerformanceCounter');
      a.store(a.var('DoneAt'), 0, R0);
      a.kcall('KeSetEvent', a.event('AllDone'), 0, 0);
      a.jmp('wait');
      a.label('exit');
      a.ret(0);
    },
    Pinned: (a) => {
      a.label('loop');
      a.work(100_000);
      a.movi(R2, 1);
      a.xadd(R0, a.var('PinnedLoops'), 0, R2);
      a.kcall('ZwYieldExecution');
      a.kcall('KeReadStateEvent', a.event('AllDone'));
      a.beqz(R0, 'loop');
      a.ret(0);
    },
    Batch: (a) => {
      a.label('loop');
      a.work(150_000);
      a.movi(R2, 1);
      a.xadd(R0, a.var('BatchLoops'), 0, R2);
      a.kcall('KeReadStateEvent', a.event('AllDone'));
      a.beqz(R0, 'loop');
      a.ret(0);
    },
    Monitor: (a) => {
      a.kcall('KeWaitForSingleObject', a.event('AllDone'), 0, 0, 0, 0);
      a.ret(0);
    },
  },
  results: (run) => {
    const worker = run.threads.filter((t) => t.name.startsWith('Worker'));
    return {
      itemsProcessed: run.read('Processed'),
      duplicates: run.read('Duplicates'),
      allDoneAtUs: Math.round(((run.read('DoneAt') >>> 0) / 1000) * 100) / 100,
      workersThatMigrated: worker.filter((t) => t.ranOn.length > 1).length,
      workerCpus: worker.map((t) => t.ranOn.length),
      pinnedCpus: run.threads.find((t) => t.name === 'Pinned')?.ranOn ?? [],
      pinnedLoops: run.read('PinnedLoops'),
      batchLoops: run.read('BatchLoops'),
      contextSwitches: run.perCpu.reduce((sum, c) => sum + c.contextSwitches, 0),
    };
  },
  checks: (run) => {
    const pinned = run.threads.find((t) => t.name === 'Pinned');
    const unfinished = run.threads.filter((t) => t.state !== 'Terminated').map((t) => t.name);
    return [
      {
        name: 'every work item was processed exactly once',
        passed: run.read('Processed') === ITEMS && run.read('Duplicates') === 0,
        detail: `${run.read('Processed')} of ${ITEMS}, ${run.read('Duplicates')} duplicates`,
      },
      {
        name: 'the pinned thread never left CPU 0 (hard affinity)',
        passed: pinned?.ranOn.every((cpu) => cpu === 0) ?? false,
        detail: `ran on ${pinned?.ranOn.join(', ')}`,
      },
      {
        name: 'every thread finished',
        passed: unfinished.length === 0,
        detail: unfinished.length ? `still running or waiting: ${unfinished.join(', ')} (raise --duration)` : 'all terminated',
      },
    ];
  },
});
