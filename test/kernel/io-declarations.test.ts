// The scenario declarations of APCs and drivers (src/scenario/define.ts `apcs`, `drivers`): their
// validation (one `irqlab:`-style line per problem) and what the compiler hands the machine
// (MachineConfig.apcs, .drivers, .deviceObjects, and each file object's event among the dispatcher
// objects, after every declared one so that existing ids do not move).
import { describe, expect, it } from 'vitest';
import { validateScenario } from '../../src/scenario/validate.js';
import { compileScenario } from '../../src/scenario/compile.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { ScenarioError } from '../../src/util/errors.js';
import { NO_ROUTINE } from '../../src/kernel/apc.js';
import { IrpMajorFunction } from '../../src/kernel/io.js';
import { KernelMode, UserMode } from '../../src/kernel/status.js';

const noop = (): void => {};
const machine = { cpus: 2, arch: 'x64' as const };

// biome-ignore lint/suspicious/noExplicitAny: the tests bend this object into wrong shapes on purpose
function scenario(extra: Record<string, any> = {}): Record<string, any> {
  return {
    name: 'io',
    description: 'APCs and a driver',
    routines: { Main: noop, KernelRoutine: noop, NormalRoutine: noop, Rundown: noop, ReadDispatch: noop, WriteDispatch: noop },
    threads: { App: { routine: 'Main' } },
    events: { Done: { type: 'notification' } },
    apcs: {
      Special: { kernelRoutine: 'KernelRoutine', mode: 'kernel' },
      Normal: { kernelRoutine: 'KernelRoutine', normalRoutine: 'NormalRoutine', rundownRoutine: 'Rundown', mode: 'kernel', context: 7 },
      User: { kernelRoutine: 'KernelRoutine', normalRoutine: 'NormalRoutine', mode: 'user' },
    },
    drivers: {
      Irql: { dispatch: { read: 'ReadDispatch' } },
      Disk: { dispatch: { read: 'ReadDispatch', write: 'WriteDispatch' }, devices: { Disk0: {}, Disk1: { io: 'overlapped' } } },
    },
    ...extra,
  };
}

function problem(def: unknown): string {
  try {
    validateScenario(def, machine);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as Error).message;
  }
  throw new Error('no problem found');
}

describe('apcs and drivers declarations', () => {
  it('a scenario declaring APCs and drivers validates', () => {
    expect(() => validateScenario(scenario(), machine)).not.toThrow();
  });

  it('an APC names existing routines and a mode; a user APC needs its normalRoutine', () => {
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'Nope', mode: 'kernel' } } }))).toBe(
      "scenario 'io': apcs.A.kernelRoutine names unknown routine 'Nope'",
    );
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'KernelRoutine', normalRoutine: 'Nope', mode: 'kernel' } } }))).toBe(
      "scenario 'io': apcs.A.normalRoutine names unknown routine 'Nope'",
    );
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'KernelRoutine', mode: 'both' } } }))).toBe(
      "scenario 'io': apcs.A.mode must be 'kernel' or 'user' (got \"both\")",
    );
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'KernelRoutine', mode: 'user' } } }))).toContain('apcs.A is a user APC without a normalRoutine');
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'KernelRoutine', mode: 'kernel', context: 1.5 } } }))).toContain(
      'apcs.A.context must be a 32-bit integer',
    );
    expect(problem(scenario({ apcs: { A: { kernelRoutine: 'KernelRoutine', mode: 'kernel', thread: 'App' } } }))).toContain(
      'apcs.A.thread is not a scenario field',
    );
  });

  it('a driver’s dispatch names IRP_MJ requests and existing routines; device names are unique across drivers', () => {
    expect(problem(scenario({ drivers: { D: {} } }))).toBe("scenario 'io': drivers.D.dispatch is missing (an object)");
    expect(problem(scenario({ drivers: { D: { dispatch: { reed: 'ReadDispatch' } } } }))).toContain('drivers.D.dispatch.reed is not a scenario field');
    expect(problem(scenario({ drivers: { D: { dispatch: { read: 'Nope' } } } }))).toBe("scenario 'io': drivers.D.dispatch.read names unknown routine 'Nope'");
    expect(problem(scenario({ drivers: { D: { dispatch: {}, devices: {} } } }))).toContain('drivers.D.devices is empty');
    expect(problem(scenario({ drivers: { D: { dispatch: {}, devices: { X: { io: 'async' } } } } }))).toContain(
      "drivers.D.devices.X.io must be 'synchronous' or 'overlapped'",
    );
    expect(problem(scenario({ drivers: { D: { dispatch: {} }, E: { dispatch: {}, devices: { D: {} } } } }))).toContain(
      "drivers.E.devices.D: drivers.D already has a device object named 'D'",
    );
  });

  it('the compiler hands the machine the APC table, the drivers, the device objects, and a file-object event per device after every declared object', () => {
    const def = validateScenario(scenario(), machine) as ScenarioDefinition;
    const compiled = compileScenario(def, { cpus: 2, mode: 'deterministic', seed: 1, durationNs: 1e6, timeScale: 1, traceToMain: false, nativeModule: null });
    const routine = (name: string): number => compiled.machine.routines.findIndex((r) => r.name === name);
    expect(compiled.machine.apcs).toEqual([
      { id: 0, name: 'Special', kernelRoutine: routine('KernelRoutine'), normalRoutine: NO_ROUTINE, rundownRoutine: NO_ROUTINE, mode: KernelMode, context: 0 },
      {
        id: 1,
        name: 'Normal',
        kernelRoutine: routine('KernelRoutine'),
        normalRoutine: routine('NormalRoutine'),
        rundownRoutine: routine('Rundown'),
        mode: KernelMode,
        context: 7,
      },
      {
        id: 2,
        name: 'User',
        kernelRoutine: routine('KernelRoutine'),
        normalRoutine: routine('NormalRoutine'),
        rundownRoutine: NO_ROUTINE,
        mode: UserMode,
        context: 0,
      },
    ]);
    expect(compiled.machine.drivers).toEqual([
      { id: 0, name: 'Irql', dispatch: { [IrpMajorFunction.read]: routine('ReadDispatch') }, devices: [0] },
      {
        id: 1,
        name: 'Disk',
        dispatch: { [IrpMajorFunction.read]: routine('ReadDispatch'), [IrpMajorFunction.write]: routine('WriteDispatch') },
        devices: [1, 2],
      },
    ]);
    // ids: idle threads 1–2, App 3, Done 4, then the file objects' events
    expect(compiled.machine.deviceObjects).toEqual([
      { id: 0, name: 'Irql', driver: 0, io: 'synchronous', fileEvent: 5 },
      { id: 1, name: 'Disk0', driver: 1, io: 'synchronous', fileEvent: 6 },
      { id: 2, name: 'Disk1', driver: 1, io: 'overlapped', fileEvent: 7 },
    ]);
    expect(compiled.machine.objects.map((o) => [o.id, o.name, o.kind])).toEqual([
      [4, 'Done', 'event'],
      [5, 'Irql.FileObject.Event', 'event'],
      [6, 'Disk0.FileObject.Event', 'event'],
      [7, 'Disk1.FileObject.Event', 'event'],
    ]);
  });

  it('a scenario without APCs or drivers compiles exactly as before: no apcs, drivers or deviceObjects in its config', () => {
    const def = validateScenario(scenario({ apcs: undefined, drivers: undefined }), machine) as ScenarioDefinition;
    const compiled = compileScenario(def, { cpus: 2, mode: 'deterministic', seed: 1, durationNs: 1e6, timeScale: 1, traceToMain: false, nativeModule: null });
    expect('apcs' in compiled.machine || 'drivers' in compiled.machine || 'deviceObjects' in compiled.machine).toBe(false);
  });
});
