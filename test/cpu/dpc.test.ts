// nt-semantics.md §2 (DPCs) in process (the in-process backend), deterministic mode: KeInsertQueueDpc's return value
// and request rules, the retire order, requeueing, KeRemoveQueueDpc, the 0xC8 check.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { R0, R1, R2, R3, R4, R5, R6 } from '../../src/isa/registers.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import dpcImportance from '../../src/scenarios/dpc-importance.js';
import { runInProcess } from '../smp/harness.js';

/** DPC routine that traces (tag = its context, value = sa1) */
const traceContext = (a: RoutineBuilder): void => {
  a.trace(0, R2); // tag 0: which DPC (its context)
  a.ret();
};

/** Queue `Warm` 8 times in each of two clock ticks, so the DPC request rate reaches MinimumDpcRate. */
function warmDpcRate(a: RoutineBuilder): void {
  a.movi(R5, 0);
  a.label('warm-tick');
  a.movi(R6, 0);
  a.label('warm-one');
  a.kcall('KeInsertQueueDpc', a.dpc('Warm'), 0, 0);
  a.add(R6, R6, 1);
  a.blt(R6, 8, 'warm-one');
  a.kcall('KeQueryTickCount');
  a.mov(R2, R0);
  a.label('wait-tick');
  a.work(200);
  a.kcall('KeQueryTickCount');
  a.beq(R0, R2, 'wait-tick');
  a.add(R5, R5, 1);
  a.blt(R5, 2, 'warm-tick');
}

const oneThread = (name: string, description: string, rest: Partial<ScenarioDefinition>, main: (a: RoutineBuilder) => void): ScenarioDefinition =>
  defineScenario({
    name,
    description,
    machine: { clockIntervalMs: 1 },
    ...rest,
    threads: { Main: { routine: 'Main', cpu: 0 }, ...(rest.threads ?? {}) },
    routines: { Main: main, ...(rest.routines ?? {}) },
  });

describe('§2 DPCs (in process)', () => {
  it('inserting a queued KDPC again returns FALSE and keeps the first arguments and the depth', async () => {
    const run = await runInProcess(
      oneThread(
        'insert-twice',
        'queue the same DPC twice at DISPATCH_LEVEL',
        {
          dpcs: { D: { routine: 'Dpc' } },
          routines: {
            Dpc: (a) => {
              a.trace(10, R3);
              a.trace(11, R4);
              a.ret();
            },
          },
        },
        (a) => {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.kcall('KeInsertQueueDpc', a.dpc('D'), 11, 22);
          a.trace(1, R0);
          a.kcall('KeInsertQueueDpc', a.dpc('D'), 33, 44);
          a.trace(2, R0);
          a.kcall('KeLowerIrql', 0);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 1],
      [2, 0],
      [10, 11],
      [11, 22],
    ]);
    expect(run.result.perCpu[0]!.maxDpcQueueDepth).toBe(1);
    expect(run.result.perCpu[0]!.dpcs).toBe(1);
  });

  it('a DPC that requeues itself from its own routine gets TRUE and runs again after the current run', async () => {
    const run = await runInProcess(
      oneThread(
        'requeue-self',
        'a DPC routine queues its own KDPC once',
        {
          memory: { Runs: {} },
          dpcs: { D: { routine: 'Dpc' } },
          routines: {
            Dpc: (a) => {
              a.movi(R2, 1);
              a.xadd(R5, a.var('Runs'), 0, R2); // R5 = runs before this one
              a.trace(10, R5);
              a.bnez(R5, 'done');
              a.kcall('KeInsertQueueDpc', R1, 0, 0);
              a.trace(11, R0);
              a.label('done');
              a.trace(12, R5);
              a.ret();
            },
          },
        },
        (a) => {
          a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
          a.trace(1);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [10, 0],
      [11, 1],
      [12, 0],
      [10, 1],
      [12, 1],
      [1, 0],
    ]);
  });

  it('a local Medium DPC queued at PASSIVE runs before KeInsertQueueDpc returns', async () => {
    const run = await runInProcess(
      oneThread('local-medium', 'queue a Medium DPC at PASSIVE_LEVEL', { dpcs: { D: { routine: 'Dpc' } }, routines: { Dpc: traceContext } }, (a) => {
        a.trace(1);
        a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
        a.trace(2);
        a.ret(0);
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.tags(0)).toEqual([1, 0, 2]);
  });

  it('a local Low DPC (depth 1 < 4, rate ≥ 3) is not requested: it runs at the next clock tick', async () => {
    const run = await runInProcess(
      oneThread(
        'local-low',
        'warm the DPC rate, then queue a Low DPC at PASSIVE_LEVEL',
        {
          dpcs: { Warm: { routine: 'Nothing' }, Low: { routine: 'Dpc', context: 7, importance: 'Low' } },
          routines: {
            Nothing: (a) => a.ret(),
            Dpc: (a) => {
              a.kcall('KeQueryTickCount');
              a.trace(7, R0);
              a.ret();
            },
          },
        },
        (a) => {
          warmDpcRate(a);
          a.kcall('KeQueryTickCount');
          a.trace(1, R0);
          a.kcall('KeInsertQueueDpc', a.dpc('Low'), 0, 0);
          a.trace(2);
          a.label('spin');
          a.work(100);
          a.kcall('KeQueryTickCount');
          a.sub(R1, R0, 3);
          a.blt(R1, R2, 'spin'); // until 3 ticks after the insert
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 10 },
    );
    const tags = run.tags(0);
    expect(tags.indexOf(7), 'not run before KeInsertQueueDpc returned').toBeGreaterThan(tags.indexOf(2));
    expect(run.first(7).value, 'ran in the tick after the insert').toBe(run.first(1).value + 1);
  });

  it('with Low DPCs the fourth insert (depth reaches MaximumDpcQueueDepth) requests the DISPATCH interrupt', async () => {
    const low = Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`L${i}`, { routine: 'Dpc', context: 10 + i, importance: 'Low' as const }]));
    const run = await runInProcess(
      oneThread(
        'five-low',
        'warm the DPC rate, then queue five Low DPCs',
        {
          dpcs: { Warm: { routine: 'Nothing' }, ...low },
          routines: { Nothing: (a) => a.ret(), Dpc: traceContext },
        },
        (a) => {
          warmDpcRate(a);
          for (let i = 1; i <= 5; i++) {
            a.kcall('KeInsertQueueDpc', a.dpc(`L${i}`), 0, 0);
            a.trace(i);
          }
          a.trace(100);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 5 },
    );
    const sequence = run.events.map((e) => (e.tag === 0 ? e.value : e.tag));
    expect(sequence.slice(0, 9)).toEqual([1, 2, 3, 11, 12, 13, 14, 4, 5]);
    expect(sequence.indexOf(15), 'the fifth waits (depth 1 again)').toBeGreaterThan(sequence.indexOf(100));
  });

  it('a High DPC inserted into a queue holding [A, B] runs first: H, A, B', async () => {
    const run = await runInProcess(
      oneThread(
        'high-at-head',
        'queue A, B (Medium) and H (High) at DISPATCH_LEVEL',
        {
          dpcs: { A: { routine: 'Dpc', context: 1 }, B: { routine: 'Dpc', context: 2 }, H: { routine: 'Dpc', context: 3, importance: 'High' } },
          routines: { Dpc: traceContext },
        },
        (a) => {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.kcall('KeInsertQueueDpc', a.dpc('A'), 0, 0);
          a.kcall('KeInsertQueueDpc', a.dpc('B'), 0, 0);
          a.kcall('KeInsertQueueDpc', a.dpc('H'), 0, 0);
          a.kcall('KeLowerIrql', 0);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.events.map((e) => e.value)).toEqual([3, 1, 2]);
  });

  it('KeRemoveQueueDpc on a queued DPC returns TRUE and the routine never runs', async () => {
    const run = await runInProcess(
      oneThread(
        'remove-queued',
        'queue at DISPATCH_LEVEL, then remove',
        { dpcs: { D: { routine: 'Dpc', context: 9 } }, routines: { Dpc: traceContext } },
        (a) => {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
          a.kcall('KeRemoveQueueDpc', a.dpc('D'));
          a.trace(1, R0);
          a.kcall('KeRemoveQueueDpc', a.dpc('D'));
          a.trace(2, R0);
          a.kcall('KeLowerIrql', 0);
          a.work(20_000);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 3 },
    );
    expect(run.events.map((e) => [e.tag, e.value])).toEqual([
      [1, 1],
      [2, 0],
    ]);
    expect(run.result.perCpu[0]!.dpcs).toBe(0);
  });

  it('KeRemoveQueueDpc on a DPC whose routine is running on another CPU returns FALSE and the routine completes', async () => {
    const run = await runInProcess(
      defineScenario({
        name: 'remove-running',
        description: 'CPU 0 removes a DPC while its routine runs on CPU 1',
        memory: { Running: {} },
        dpcs: { D: { routine: 'Dpc', importance: 'High', targetCpu: 1 } },
        threads: { Main: { routine: 'Main', cpu: 0 } },
        routines: {
          Main: (a) => {
            a.kcall('KeInsertQueueDpc', a.dpc('D'), 0, 0);
            a.label('wait');
            a.work(50);
            a.load(R1, a.var('Running'));
            a.beqz(R1, 'wait');
            a.kcall('KeRemoveQueueDpc', a.dpc('D'));
            a.trace(1, R0);
            a.ret(0);
          },
          Dpc: (a) => {
            a.store(a.var('Running'), 0, 1);
            a.work(50_000);
            a.trace(2);
            a.ret();
          },
        },
      }),
      { cpus: 2, durationMs: 1 },
    );
    expect(run.first(1).value).toBe(0);
    expect(run.first(2).cpu).toBe(1);
    expect(run.first(2).timeNs, 'the routine completed after the remove').toBeGreaterThan(run.first(1).timeNs);
  });

  it('the KeInsertQueueDpc request rules side by side (dpc-importance): only the High remote DPC costs an IPI', async () => {
    const run = await runInProcess(dpcImportance, { cpus: 3 });
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results).toMatchObject({
      LocalMediumRanOnCpu: 0,
      LocalLowRanOnCpu: 0,
      RemoteHighBusyRanOnCpu: 1,
      RemoteMediumBusyRanOnCpu: 1,
      RemoteMediumIdleRanOnCpu: 2,
      cpu0IpisSent: 1,
    });
    expect(run.result.perCpu[1]!.interruptsByVector['0xe1'], 'CPU 1 serviced one IPI').toBe(1);
    expect(run.result.perCpu[2]!.ipisReceived, 'the idle CPU was not interrupted').toBe(0);
  });

  it('a DPC routine that returns below DISPATCH_LEVEL is bugcheck 0xC8 IRQL_UNEXPECTED_VALUE', async () => {
    const run = await runInProcess(
      oneThread(
        'dpc-lowers',
        'a DPC routine lowers to PASSIVE and returns',
        {
          dpcs: { Bad: { routine: 'BadDpc' } },
          routines: {
            BadDpc: (a) => {
              a.kcall('KeLowerIrql', 0);
              a.ret();
            },
          },
        },
        (a) => {
          a.kcall('KeInsertQueueDpc', a.dpc('Bad'), 0, 0);
          a.ret(0);
        },
      ),
      { cpus: 1, durationMs: 1 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.IRQL_UNEXPECTED_VALUE);
    expect(bugcheck.params[0]).toBe((0 << 16) | (2 << 8));
    expect(bugcheck.detail).toMatch(/DPC Bad \(routine BadDpc\) returned at PASSIVE_LEVEL/);
  });
});

void R1;
