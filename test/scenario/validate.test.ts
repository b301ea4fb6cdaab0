import { describe, expect, it } from 'vitest';
import { validateScenario } from '../../src/scenario/validate.js';
import { ScenarioError } from '../../src/util/errors.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { loadScenario } from '../../src/scenario/load.js';

const noop = (): void => {};

/** A minimal valid scenario: one device on vector 0x50 with its ISR and DPC, and one thread. */
// biome-ignore lint/suspicious/noExplicitAny: the tests bend this object into every wrong shape on purpose
function valid(): Record<string, any> {
  return {
    name: 'x',
    description: 'a minimal scenario',
    machine: { cpus: 4, durationMs: 10 },
    memory: { Count: {}, Table: { words: 4, init: [1, 2, 3] } },
    routines: { Isr: noop, DpcRoutine: noop, Main: noop },
    natives: { Helper: () => 0 },
    dpcs: { StormDpc: { routine: 'DpcRoutine', importance: 'High', targetCpu: 3, context: 7 } },
    interrupts: { Disk: { vector: 0x50, routine: 'Isr', synchronizeIrql: 6, mode: 'level', lock: 'DiskLock' } },
    devices: { disk: { vector: 0x50, ratePerSec: 1000, burst: 2, jitter: 0.5, delivery: 'fixed', cpus: [0, 1], startMs: 1, count: 10, line: 3 } },
    threads: { T0: { routine: 'Main', cpu: 0, args: [1, 2] } },
    results: () => ({}),
    checks: () => [],
  };
}

const machine = { cpus: 4, arch: 'x64' as const };

function problem(def: unknown, m: { cpus: number; arch: 'x64' | 'x86' } = machine): string {
  try {
    validateScenario(def, m);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('no problem found');
}

// biome-ignore lint/suspicious/noExplicitAny: as valid(): a scenario bent out of shape on purpose
function edit(change: (def: Record<string, any>) => void): Record<string, any> {
  const def = valid();
  change(def);
  return def;
}

describe('validateScenario', () => {
  it('accepts a valid scenario and returns it', () => {
    const def = valid();
    expect(validateScenario(def, machine)).toBe(def);
  });

  it('accepts the built-in scenarios on their own machines', async () => {
    for (const builtin of BUILTIN_SCENARIOS) {
      const loaded = await loadScenario(builtin.name);
      const cpus = loaded.definition.machine?.cpus ?? 4;
      expect(() => validateScenario(loaded.definition, { cpus, arch: loaded.definition.machine?.arch ?? 'x64' }), builtin.name).not.toThrow();
    }
  });

  it('the top level', () => {
    expect(problem(42)).toBe('the scenario is 42, not a scenario object (export default defineScenario({ … }))');
    expect(problem(null)).toMatch(/^the scenario is null/);
    expect(problem(edit((d) => delete d.name))).toBe("the scenario has no name: 'name' must be a non-empty string (got undefined)");
    expect(problem(edit((d) => (d.name = '')))).toMatch(/^the scenario has no name/);
    expect(problem(edit((d) => delete d.description))).toBe("scenario 'x': description must be a string, one line for 'irqlab list' (got undefined)");
    expect(problem(edit((d) => (d.description = 'two\nlines')))).toBe("scenario 'x': description must be one line");
    expect(problem(edit((d) => delete d.routines))).toBe("scenario 'x': routines is missing (an object)");
    expect(problem(edit((d) => (d.routines = [])))).toBe("scenario 'x': routines must be an object (got an array)");
    expect(problem(edit((d) => (d.interupts = {})))).toMatch(/^scenario 'x': interupts is not a scenario field \(expected name, description, /);
  });

  it('routines, natives, results and checks must be functions', () => {
    expect(problem(edit((d) => (d.routines.Main = 'ret')))).toBe(`scenario 'x': routines.Main must be a function (a: RoutineBuilder) => void (got "ret")`);
    expect(problem(edit((d) => (d.natives.Helper = 1)))).toMatch(/^scenario 'x': natives\.Helper must be a function/);
    expect(problem(edit((d) => (d.results = { a: 1 })))).toBe("scenario 'x': results must be a function (run) => … (got an object)");
    expect(problem(edit((d) => (d.checks = [])))).toBe("scenario 'x': checks must be a function (run) => … (got an array)");
  });

  it('machine defaults', () => {
    expect(problem(edit((d) => (d.machine.cpus = 0)))).toBe("scenario 'x': machine.cpus must be an integer from 1 to 64 (got 0)");
    expect(problem(edit((d) => (d.machine.arch = 'arm64')))).toBe(`scenario 'x': machine.arch must be 'x64' or 'x86' (got "arm64")`);
    expect(problem(edit((d) => (d.machine.durationMs = -1)))).toBe("scenario 'x': machine.durationMs must be a positive number (got -1)");
    expect(problem(edit((d) => (d.machine.clockIntervalMs = Infinity)))).toBe(
      "scenario 'x': machine.clockIntervalMs must be from 0.5 to 15.625 ms (got Infinity)",
    );
    expect(problem(edit((d) => (d.machine.ipiAckTimeoutTicks = 1.5)))).toBe("scenario 'x': machine.ipiAckTimeoutTicks must be a positive integer (got 1.5)");
    expect(problem(edit((d) => (d.machine.cpu = 2)))).toMatch(/^scenario 'x': machine\.cpu is not a scenario field/);
  });

  it('memory', () => {
    expect(problem(edit((d) => (d.memory.Count = 5)))).toBe("scenario 'x': memory.Count must be an object (got 5)");
    expect(problem(edit((d) => (d.memory.Count.words = 0)))).toMatch(/^scenario 'x': memory\.Count\.words must be an integer from 1 to/);
    expect(problem(edit((d) => (d.memory.Table.init = [1, 2, 3, 4, 5])))).toBe("scenario 'x': memory.Table.init has 5 values but words is 4");
    expect(problem(edit((d) => (d.memory.Table.init = [1, 'two'])))).toBe(`scenario 'x': memory.Table.init[1] must be a 32-bit integer (got "two")`);
    expect(problem(edit((d) => (d.memory.Count.init = 2 ** 40)))).toMatch(/^scenario 'x': memory\.Count\.init must be a 32-bit integer/);
  });

  it('DPCs', () => {
    expect(problem(edit((d) => (d.dpcs.StormDpc.routine = 'Nope')))).toBe("scenario 'x': dpcs.StormDpc.routine names unknown routine 'Nope'");
    expect(problem(edit((d) => delete d.dpcs.StormDpc.routine))).toBe("scenario 'x': dpcs.StormDpc.routine must be a routine name (got undefined)");
    expect(problem(edit((d) => (d.dpcs.StormDpc.routine = 'toString')))).toBe("scenario 'x': dpcs.StormDpc.routine names unknown routine 'toString'");
    expect(problem(edit((d) => (d.dpcs.StormDpc.importance = 'Urgent')))).toBe(
      `scenario 'x': dpcs.StormDpc.importance must be one of 'Low', 'Medium', 'High', 'MediumHigh' (got "Urgent")`,
    );
    expect(problem(edit((d) => (d.dpcs.StormDpc.targetCpu = 4)))).toBe("scenario 'x': dpcs.StormDpc.targetCpu names CPU 4 but the machine has 4 (CPUs 0–3)");
    expect(problem(edit((d) => (d.dpcs.StormDpc.targetCpu = -1)))).toBe("scenario 'x': dpcs.StormDpc.targetCpu must be a CPU number (got -1)");
    expect(problem(edit((d) => (d.dpcs.StormDpc = 'DpcRoutine')))).toBe(`scenario 'x': dpcs.StormDpc must be an object (got "DpcRoutine")`);
  });

  it('interrupt vectors and IRQLs (x64)', () => {
    expect(problem(edit((d) => (d.interrupts.Disk.vector = 0x1f)))).toBe(
      "scenario 'x': interrupts.Disk.vector 0x1f is not a device vector (x64 devices use 0x30–0xcf)",
    );
    expect(problem(edit((d) => (d.interrupts.Disk.vector = 0xd1)))).toBe(
      "scenario 'x': interrupts.Disk.vector 0xd1 is not a device vector (x64 devices use 0x30–0xcf)",
    );
    expect(problem(edit((d) => (d.interrupts.Disk.vector = '0x50')))).toBe(`scenario 'x': interrupts.Disk.vector must be an integer vector (got "0x50")`);
    expect(problem(edit((d) => (d.interrupts.Disk.routine = 'Nope')))).toBe("scenario 'x': interrupts.Disk.routine names unknown routine 'Nope'");
    expect(problem(edit((d) => (d.interrupts.Disk.irql = 12)))).toBe("scenario 'x': interrupts.Disk.irql 12 is out of range (x64 device IRQLs are 3–11)");
    expect(problem(edit((d) => (d.interrupts.Disk.irql = 2)))).toBe("scenario 'x': interrupts.Disk.irql 2 is out of range (x64 device IRQLs are 3–11)");
    // 0xc5 >> 4 = 12 (SYNCH_LEVEL): not a device IRQL unless given explicitly
    const c5 = edit((d) => {
      d.interrupts.Disk.vector = 0xc5;
      d.devices.disk.vector = 0xc5;
      delete d.interrupts.Disk.synchronizeIrql;
    });
    expect(problem(c5)).toMatch(/^scenario 'x': interrupts\.Disk: vector 0xc5 maps to IRQL 12 \(SYNCH_LEVEL\), not a device IRQL/);
    c5.interrupts.Disk.irql = 11;
    expect(() => validateScenario(c5, machine)).not.toThrow();
  });

  it('synchronizeIrql', () => {
    expect(problem(edit((d) => (d.interrupts.Disk.synchronizeIrql = 4)))).toBe(
      "scenario 'x': interrupts.Disk.synchronizeIrql 4 is below its irql 5 (SynchronizeIrql must be ≥ Irql)",
    );
    expect(problem(edit((d) => (d.interrupts.Disk.synchronizeIrql = 13)))).toBe(
      "scenario 'x': interrupts.Disk.synchronizeIrql 13 is out of range (x64 device IRQLs are 3–11)",
    );
  });

  it('x86 vectors and IRQLs', () => {
    const x86 = { cpus: 4, arch: 'x86' as const };
    expect(
      problem(
        edit((d) => (d.interrupts.Disk.vector = 0xc0)),
        x86,
      ),
    ).toBe("scenario 'x': interrupts.Disk.vector 0xc0 is not a device vector (x86 devices use 0x30–0xbf)");
    expect(
      problem(
        edit((d) => (d.interrupts.Disk.irql = 27)),
        x86,
      ),
    ).toBe("scenario 'x': interrupts.Disk.irql 27 is out of range (x86 device IRQLs are 3–26)");
    expect(() =>
      validateScenario(
        edit((d) => Object.assign(d.interrupts.Disk, { irql: 20, synchronizeIrql: 26 })),
        x86,
      ),
    ).not.toThrow();
  });

  it('other interrupt fields', () => {
    expect(problem(edit((d) => (d.interrupts.Disk.mode = 'edge')))).toBe(`scenario 'x': interrupts.Disk.mode must be 'level' or 'latched' (got "edge")`);
    expect(problem(edit((d) => (d.interrupts.Disk.shareVector = 'yes')))).toBe(`scenario 'x': interrupts.Disk.shareVector must be true or false (got "yes")`);
    expect(problem(edit((d) => (d.interrupts.Disk.lock = '')))).toBe(`scenario 'x': interrupts.Disk.lock must be a spin lock name (got "")`);
  });

  it('shared vectors: KeConnectInterrupt rules', () => {
    const shared = (second: Record<string, unknown>, first: Record<string, unknown> = { shareVector: true }) =>
      edit((d) => {
        Object.assign(d.interrupts.Disk, first);
        d.interrupts.Disk2 = { vector: 0x50, routine: 'Isr', ...second };
      });
    expect(problem(shared({}))).toBe(
      "scenario 'x': KeConnectInterrupt would fail: interrupts.Disk, interrupts.Disk2 share vector 0x50 but interrupts.Disk2 does not set shareVector: true",
    );
    expect(problem(shared({ shareVector: true }, {}))).toMatch(/KeConnectInterrupt would fail: .* but interrupts\.Disk does not set shareVector: true$/);
    expect(problem(shared({ shareVector: true, mode: 'latched' }))).toBe(
      "scenario 'x': KeConnectInterrupt would fail: interrupts.Disk (level) and interrupts.Disk2 (latched) share vector 0x50 with different modes",
    );
    expect(problem(shared({ shareVector: true, irql: 6 }))).toMatch(/KeConnectInterrupt would fail: .* share vector 0x50 at different IRQLs$/);
    expect(() => validateScenario(shared({ shareVector: true }), machine)).not.toThrow();
  });

  it('devices', () => {
    expect(problem(edit((d) => (d.devices.disk.vector = 0x60)))).toBe(
      "scenario 'x': devices.disk.vector 0x60 has no interrupt object connected (declare one in interrupts with vector 0x60)",
    );
    expect(problem(edit((d) => (d.devices.disk.vector = 0x10)))).toBe(
      "scenario 'x': devices.disk.vector 0x10 is not a device vector (x64 devices use 0x30–0xcf)",
    );
    expect(problem(edit((d) => (d.devices.disk.cpus = [0, 7])))).toBe("scenario 'x': devices.disk.cpus names CPU 7 but the machine has 4 (CPUs 0–3)");
    expect(problem(edit((d) => (d.devices.disk.cpus = [])))).toBe("scenario 'x': devices.disk.cpus is empty (omit it to target every CPU)");
    expect(problem(edit((d) => (d.devices.disk.cpus = [1, 1])))).toBe("scenario 'x': devices.disk.cpus names CPU 1 twice");
    expect(problem(edit((d) => (d.devices.disk.ratePerSec = -5)))).toBe(
      "scenario 'x': devices.disk.ratePerSec must be a finite number ≥ 0, interrupts per emulated second (got -5)",
    );
    expect(problem(edit((d) => (d.devices.disk.ratePerSec = Infinity)))).toMatch(/devices\.disk\.ratePerSec must be a finite number/);
    expect(problem(edit((d) => (d.devices.disk.ratePerSec = NaN)))).toMatch(/devices\.disk\.ratePerSec must be a finite number/);
    expect(problem(edit((d) => delete d.devices.disk.ratePerSec))).toMatch(/devices\.disk\.ratePerSec must be a finite number .* \(got undefined\)$/);
    expect(problem(edit((d) => (d.devices.disk.jitter = 1.5)))).toBe("scenario 'x': devices.disk.jitter must be a number from 0 to 1 (got 1.5)");
    expect(problem(edit((d) => (d.devices.disk.jitter = -0.1)))).toBe("scenario 'x': devices.disk.jitter must be a number from 0 to 1 (got -0.1)");
    expect(problem(edit((d) => (d.devices.disk.burst = 0)))).toBe("scenario 'x': devices.disk.burst must be a positive integer (got 0)");
    expect(problem(edit((d) => (d.devices.disk.delivery = 'broadcast')))).toBe(
      `scenario 'x': devices.disk.delivery must be 'fixed' or 'lowest-priority' (got "broadcast")`,
    );
    expect(problem(edit((d) => (d.devices.disk.line = -1)))).toMatch(/devices\.disk\.line must be an IOAPIC input/);
    expect(problem(edit((d) => (d.devices.disk.startMs = -1)))).toBe("scenario 'x': devices.disk.startMs must be a finite number ≥ 0 (got -1)");
    expect(problem(edit((d) => (d.devices.disk.count = 1.5)))).toBe("scenario 'x': devices.disk.count must be an integer ≥ 0 (got 1.5)");
    expect(problem(edit((d) => (d.devices.disk.rate = 5)))).toMatch(/^scenario 'x': devices\.disk\.rate is not a scenario field/);
  });

  it('threads', () => {
    expect(problem(edit((d) => (d.threads.T0.cpu = 9)))).toBe("scenario 'x': threads.T0.cpu names CPU 9 but the machine has 4 (CPUs 0–3)");
    expect(problem(edit((d) => (d.threads.T0.routine = 'Nope')))).toBe("scenario 'x': threads.T0.routine names unknown routine 'Nope'");
    expect(() =>
      validateScenario(
        edit((d) => (d.threads.T1 = { routine: 'Main', cpu: 0 })),
        machine,
      ),
    ).not.toThrow();
    expect(problem(edit((d) => (d.threads.T0.priority = 32)))).toBe("scenario 'x': threads.T0.priority must be an integer from 1 to 31 (got 32)");
    expect(problem(edit((d) => (d.threads.T0.affinity = [])))).toBe("scenario 'x': threads.T0.affinity is empty (omit it to allow every CPU)");
    expect(problem(edit((d) => (d.threads.T0.affinity = [1, 2])))).toBe("scenario 'x': threads.T0.cpu 0 is not in its affinity [1, 2]");
    expect(problem(edit((d) => (d.threads.T1 = { routine: 'Main', affinity: [1, 2], idealProcessor: 3 })))).toBe(
      "scenario 'x': threads.T1.idealProcessor 3 is not in its affinity [1, 2]",
    );
    expect(problem(edit((d) => (d.threads.T0.start = 'later')))).toBe(`scenario 'x': threads.T0.start must be 'boot' or 'created' (got "later")`);
    expect(problem(edit((d) => (d.threads.T0.args = [1, 'a'])))).toBe(`scenario 'x': threads.T0.args[1] must be a 32-bit integer (got "a")`);
    expect(problem(edit((d) => (d.threads.T0.args = new Array(16).fill(0))))).toBe("scenario 'x': threads.T0.args has 16 values; at most 15 (r1–r15)");
  });

  it('clock range, timers and paged memory', () => {
    expect(problem(edit((d) => (d.machine.clockIntervalMs = 0.25)))).toBe("scenario 'x': machine.clockIntervalMs must be from 0.5 to 15.625 ms (got 0.25)");
    expect(problem(edit((d) => (d.machine.clockIntervalMs = 20)))).toBe("scenario 'x': machine.clockIntervalMs must be from 0.5 to 15.625 ms (got 20)");
    expect(problem(edit((d) => (d.machine.dpcTimeLimitTicks = 0)))).toBe("scenario 'x': machine.dpcTimeLimitTicks must be a positive integer (got 0)");
    expect(problem(edit((d) => ((d as Record<string, unknown>).timers = { T: { type: 'periodic' } })))).toBe(
      `scenario 'x': timers.T.type must be 'notification' or 'synchronization' (got "periodic")`,
    );
    expect(problem(edit((d) => ((d as Record<string, Record<string, unknown>>).memory!.Buffer = { words: 4, pagedOut: true })))).toBe(
      "scenario 'x': memory.Buffer.pagedOut needs paged: true (only pageable memory can be out of memory)",
    );
    expect(problem(edit((d) => ((d as Record<string, Record<string, unknown>>).memory!.Buffer = { words: 4, paged: 'yes' })))).toBe(
      `scenario 'x': memory.Buffer.paged must be true or false (got "yes")`,
    );
  });

  it('events, semaphores and mutexes', () => {
    const withObjects = (change: (d: Record<string, Record<string, Record<string, unknown>>>) => void) =>
      edit((d) => {
        d.events = { E: { type: 'synchronization' } };
        d.semaphores = { S: { count: 1, limit: 2 } };
        d.mutexes = { M: {} };
        change(d);
      });
    expect(() =>
      validateScenario(
        withObjects(() => {}),
        machine,
      ),
    ).not.toThrow();
    expect(problem(withObjects((d) => (d.events!.E!.type = 'auto')))).toBe(
      `scenario 'x': events.E.type must be 'notification' or 'synchronization' (got "auto")`,
    );
    expect(problem(withObjects((d) => (d.semaphores!.S!.count = 3)))).toBe("scenario 'x': semaphores.S.count must be an integer from 0 to its limit 2 (got 3)");
    expect(problem(withObjects((d) => (d.semaphores!.S!.limit = 0)))).toBe("scenario 'x': semaphores.S.limit must be an integer from 1 to 2147483647 (got 0)");
    expect(problem(withObjects((d) => (d.mutexes!.M!.kind = 'fast')))).toBe(`scenario 'x': mutexes.M.kind must be 'mutex' or 'mutant' (got "fast")`);
    expect(problem(withObjects((d) => (d.mutexes!.M!.owner = 'T0')))).toMatch(/^scenario 'x': mutexes\.M\.owner is not a scenario field/);
  });

  it('a CPU count that fits the scenario on one machine does not on a smaller one', () => {
    expect(() => validateScenario(valid(), { cpus: 4, arch: 'x64' })).not.toThrow();
    expect(problem(valid(), { cpus: 2, arch: 'x64' })).toBe("scenario 'x': dpcs.StormDpc.targetCpu names CPU 3 but the machine has 2 (CPUs 0–1)");
  });
});
