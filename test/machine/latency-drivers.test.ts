// The latency report grouped by driver (LatencyMon's Drivers tab): an `interrupts` or `dpcs`
// entry's `driver` names the driver its routine belongs to; the report sums each driver's
// routines, names the driver beside the routine, and the run itself (its trace hash) is the same
// with or without the names. Deterministic mode, in process.
import { describe, expect, it } from 'vitest';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import { buildLatencyReport } from '../../src/machine/latency-report.js';
import type { RoutineExecution } from '../../src/cpu/latency-recorder.js';
import { LatencySeries } from '../../src/util/latency-histogram.js';
import { formatLatencyReport } from '../../src/cli/latency-format.js';
import interruptStorm from '../../src/scenarios/interrupt-storm.js';
import { nestedIsrScenario } from './nested-isr.js';
import type { IsrDrivers } from './nested-isr.js';

async function run(definition: ScenarioDefinition, cpus = 1, durationNs = 2e6) {
  validateScenario(definition, { cpus, arch: 'x64' });
  return executeScenario(definition, null, {
    cpus,
    mode: 'deterministic',
    seed: 1,
    durationNs,
    verbose: false,
    command: '',
    backend: 'in-process',
  });
}

/** The shared nested-ISR scenario with its objects' drivers named as given. */
function twoIsrScenario(drivers: IsrDrivers, extra: Partial<ScenarioDefinition> = {}): ScenarioDefinition {
  return nestedIsrScenario(true, extra, drivers);
}

const empty = () => new LatencySeries().encode();
const cpuReport = (routines: RoutineExecution[]) => ({ assertToIsr: empty(), isrToDpc: empty(), dpcToReady: empty(), readyToRunning: empty(), routines });

function problem(definition: unknown): string {
  try {
    validateScenario(definition, { cpus: 1, arch: 'x64' });
  } catch (error) {
    return (error as Error).message;
  }
  return 'no problem';
}

describe('the latency report grouped by driver', () => {
  it('sums two routines of one driver in its row, its highest execution the highest of theirs', () => {
    const report = buildLatencyReport(
      [
        cpuReport([
          { kind: 'isr', routine: 0, name: 'RxIsr', count: 3, totalNs: 9_000, maxNs: 4_000 },
          { kind: 'isr', routine: 1, name: 'TxIsr', count: 2, totalNs: 10_000, maxNs: 7_000 },
          { kind: 'dpc', routine: 2, name: 'RxDpcRoutine', count: 3, totalNs: 30_000, maxNs: 12_000 },
        ]),
        cpuReport([
          { kind: 'isr', routine: 0, name: 'RxIsr', count: 1, totalNs: 8_000, maxNs: 8_000 },
          { kind: 'dpc', routine: 3, name: 'TimerDpcRoutine', count: 1, totalNs: 50_000, maxNs: 50_000 },
        ]),
      ],
      1e9,
      {
        interrupts: { Rx: { vector: 0x80, routine: 'RxIsr', driver: 'ndis.sys' }, Tx: { vector: 0x81, routine: 'TxIsr', driver: 'ndis.sys' } },
        dpcs: { RxDpc: { routine: 'RxDpcRoutine', driver: 'ndis.sys' }, TimerDpc: { routine: 'TimerDpcRoutine' } },
      },
    );
    expect(report.drivers).toEqual([
      // TimerDpcRoutine names no driver: it is its own, and its 50 µs is the highest execution
      {
        driver: 'TimerDpcRoutine',
        declared: false,
        routines: ['TimerDpcRoutine'],
        isrCount: 0,
        isrMaxNs: 0,
        isrTotalNs: 0,
        dpcCount: 1,
        dpcMaxNs: 50_000,
        dpcTotalNs: 50_000,
      },
      {
        driver: 'ndis.sys',
        declared: true,
        routines: ['RxDpcRoutine', 'RxIsr', 'TxIsr'],
        isrCount: 3 + 1 + 2,
        isrMaxNs: 8_000,
        isrTotalNs: 9_000 + 8_000 + 10_000,
        dpcCount: 3,
        dpcMaxNs: 12_000,
        dpcTotalNs: 30_000,
      },
    ]);
    expect(report.routines.map((r) => [r.routine, r.driver])).toEqual([
      ['TimerDpcRoutine', 'TimerDpcRoutine'],
      ['RxDpcRoutine', 'ndis.sys'],
      ['RxIsr', 'ndis.sys'],
      ['TxIsr', 'ndis.sys'],
    ]);
    const text = formatLatencyReport(report, 2);
    expect(text).toContain(
      [
        'Drivers (their ISR and DPC routines together, highest single execution first; µs)',
        '  driver           ISR count  highest ISR  total ISR  DPC count  highest DPC  total DPC',
        '  TimerDpcRoutine          0            -          -          1        50.00      50.00',
        '  ndis.sys                 6         8.00      27.00          3        12.00      30.00',
      ].join('\n'),
    );
    expect(text).toMatch(/Highest ISR routine execution time\s+8\.00 µs\s+RxIsr in ndis\.sys \(CPU 1\)\n/);
    expect(text).toMatch(/\n {2}routine\s+driver\s+kind\s+runs/);
    expect(text).toMatch(/\n {2}RxIsr\s+ndis\.sys\s+ISR\s+4\s/);
  });

  it('names each routine’s driver in a run, in --json’s routines and drivers, the text and the budget verdict', async () => {
    const result = await run(twoIsrScenario({ slow: 'storage.sys', fast: 'storage.sys' }, { latency: { maxIsrUs: 100 } }));
    const routine = (name: string) => result.latency.routines.find((r) => r.routine === name)!;
    const slow = routine('SlowIsr');
    const fast = routine('FastIsr');
    expect([slow.driver, fast.driver, routine('SlowDpcRoutine').driver]).toEqual(['storage.sys', 'storage.sys', 'SlowDpcRoutine']);
    const storage = result.latency.drivers.find((d) => d.driver === 'storage.sys')!;
    expect(storage).toMatchObject({ declared: true, isrCount: 2, isrTotalNs: slow.totalNs + fast.totalNs, isrMaxNs: slow.maxNs, dpcCount: 0 });
    expect(slow.maxNs).toBeGreaterThan(fast.maxNs);
    expect(result.latency.verdict).toMatch(/^Latency budget exceeded: ISR routine SlowIsr \(storage\.sys\) took 2\d\d(\.\d)? µs/);
    expect(formatLatencyReport(result.latency, 1)).toMatch(/Highest ISR routine execution time\s+2\d\d\.\d\d µs\s+SlowIsr in storage\.sys \(CPU 0\)/);
  });

  it('has no Drivers table nor driver column when the scenario names no driver: each routine is its own', async () => {
    const result = await run(twoIsrScenario({}));
    expect(result.latency.drivers.map((d) => [d.driver, d.declared, d.routines])).toEqual([
      ['SlowIsr', false, ['SlowIsr']],
      ['SlowDpcRoutine', false, ['SlowDpcRoutine']],
      ['FastIsr', false, ['FastIsr']],
    ]);
    const text = formatLatencyReport(result.latency, 1);
    expect(text).not.toContain('Drivers');
    expect(text).toMatch(/Highest ISR routine execution time\s+2\d\d\.\d\d µs\s+SlowIsr \(CPU 0\)\n/);
    expect(text).toMatch(/Highest DPC routine total time\s+50\.00 µs\s+SlowDpcRoutine\n/);
    expect(text).toContain('\n  routine         kind  runs   total    mean     max  CPU 0 %\n  SlowIsr         ISR      1  200.06');
  });

  it('leaves the run alone: the same trace hash and routine times with and without driver names', async () => {
    const withoutNames = (def: ScenarioDefinition): ScenarioDefinition => ({
      ...def,
      dpcs: Object.fromEntries(Object.entries(def.dpcs ?? {}).map(([name, { driver: _driver, ...dpc }]) => [name, dpc])),
      interrupts: Object.fromEntries(Object.entries(def.interrupts ?? {}).map(([name, { driver: _driver, ...interrupt }]) => [name, interrupt])),
    });
    expect(Object.values(interruptStorm.interrupts).every((i) => i.driver !== undefined)).toBe(true);
    const named = await run(interruptStorm, 2, 5e6);
    const plain = await run(withoutNames(interruptStorm), 2, 5e6);
    expect(named.traceHash).toBe(plain.traceHash);
    expect(named.latency.routines.map((r) => [r.routine, r.count, r.totalNs, r.maxNs])).toEqual(
      plain.latency.routines.map((r) => [r.routine, r.count, r.totalNs, r.maxNs]),
    );
    expect(named.latency.drivers.map((d) => d.driver).sort()).toEqual(['disk.sys', 'ndis.sys', 'sensor.sys']);

    const small = await run(twoIsrScenario({ slow: 'a.sys', fast: 'b.sys', dpc: 'a.sys' }));
    expect(small.traceHash).toBe((await run(twoIsrScenario({}))).traceHash);
  });
});

describe('the driver declaration', () => {
  it('is refused with one line naming the key when it is not a non-empty one-line string', () => {
    expect(problem(twoIsrScenario({ dpc: '' }))).toBe(
      "scenario 'nested-isr': dpcs.SlowDpc.driver must be the driver's name, a non-empty one-line string such as 'ndis.sys' (got \"\")",
    );
    expect(problem({ ...twoIsrScenario({}), interrupts: { Slow: { vector: 0x50, routine: 'SlowIsr', driver: 7 } } })).toBe(
      "scenario 'nested-isr': interrupts.Slow.driver must be the driver's name, a non-empty one-line string such as 'ndis.sys' (got 7)",
    );
    expect(problem(twoIsrScenario({ fast: '  ' }))).toContain('interrupts.Fast.driver must be the driver');
    expect(problem(twoIsrScenario({ fast: 'a\nb.sys' }))).toContain('interrupts.Fast.driver must be the driver');
  });

  it('refuses one routine in two drivers, and lets an object that names none share the routine’s driver', () => {
    const shared = (second: string | undefined) => ({
      ...twoIsrScenario({}),
      interrupts: {
        Slow: { vector: 0x50, routine: 'SlowIsr', driver: 'a.sys' },
        Fast: { vector: 0xa0, routine: 'SlowIsr', ...(second === undefined ? {} : { driver: second }) },
      },
    });
    expect(problem(shared('b.sys'))).toBe(
      "scenario 'nested-isr': interrupts.Fast.driver 'b.sys': its routine SlowIsr is also interrupts.Slow's, of driver 'a.sys' (a routine's code is in one driver, which the latency report names it by)",
    );
    expect(problem(shared('a.sys'))).toBe('no problem');
    expect(problem(shared(undefined))).toBe('no problem');
    const report = buildLatencyReport(
      [cpuReport([{ kind: 'isr', routine: 0, name: 'SlowIsr', count: 2, totalNs: 2_000, maxNs: 1_000 }])],
      1e9,
      shared(undefined),
    );
    expect(report.routines[0]!.driver).toBe('a.sys');
  });

  it('may name one of the scenario’s drivers, or any other name', () => {
    expect(
      problem({
        ...twoIsrScenario({ slow: 'Disk', fast: 'hid.sys' }),
        drivers: { Disk: { dispatch: {} } },
      }),
    ).toBe('no problem');
  });
});
