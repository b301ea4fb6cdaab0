// The APC fixture the in-process APC tests share (apc-delivery, apc-flush): two declared kernel APCs
// whose routines TRACE a tag with the IRQL they run at, a one-thread scenario around a test body,
// and the TRACE records a run made.
import { defineScenario } from '../../src/scenario/define.js';
import type { ApcDeclaration, ScenarioDefinition } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { R0 } from '../../src/isa/registers.js';
import type { runInProcess } from '../smp/harness.js';

/** An APC routine that traces `tag` with the IRQL it runs at. */
export function traceIrql(tag: number) {
  return (a: RoutineBuilder): void => {
    a.kcall('KeGetCurrentIrql');
    a.trace(tag, R0);
    a.ret(0);
  };
}

/** Tags: an APC routine's tag is 100 + 10·apc + 1 KernelRoutine / 2 NormalRoutine; the value is its IRQL. */
export const SPECIAL_KERNEL = 111;
export const NORMAL_KERNEL = 121;
export const NORMAL_NORMAL = 122;

export const apcRoutines = {
  SpecialKernel: traceIrql(SPECIAL_KERNEL),
  NormalKernel: traceIrql(NORMAL_KERNEL),
  NormalNormal: traceIrql(NORMAL_NORMAL),
};

/** `Special`: a special kernel APC; `Normal`: a normal kernel APC (KernelRoutine, then NormalRoutine). */
export const apcs: Record<string, ApcDeclaration> = {
  Special: { kernelRoutine: 'SpecialKernel', mode: 'kernel' },
  Normal: { kernelRoutine: 'NormalKernel', normalRoutine: 'NormalNormal', mode: 'kernel' },
};

/** One thread T on CPU 0 running `main`, with the two APCs declared. */
export function oneThread(name: string, main: (a: RoutineBuilder) => void): ScenarioDefinition {
  return defineScenario({
    name,
    description: name,
    threads: { T: { routine: 'Main', cpu: 0 } },
    apcs,
    routines: { Main: main, ...apcRoutines },
  });
}

/** [tag, value] of every TRACE on CPU `cpu`, in order. */
export function traced(run: Awaited<ReturnType<typeof runInProcess>>, cpu = 0): Array<[number, number]> {
  return run.events.filter((e) => e.cpu === cpu).map((e) => [e.tag, e.value]);
}
