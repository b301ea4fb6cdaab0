/**
 * The compute-bound machine the backend benchmarks share (perf/in-process.ts, perf/worker-backend.ts)
 * and the floor they measure it against: the bare interpreter running the same routine, with no
 * machine around it.
 */

import { compileScenario } from '../src/scenario/compile.js';
import { defineScenario } from '../src/scenario/define.js';
import type { ScenarioDefinition } from '../src/scenario/define.js';
import { validateScenario } from '../src/scenario/validate.js';
import { Interpreter, enterRoutine, PAGE_SIZE, STEP_OK } from '../src/isa/interpreter.js';
import type { ExecHost } from '../src/isa/interpreter.js';
import { ContextField } from '../src/shm/layout.js';
import { R1, R2, R3 } from '../src/isa/registers.js';

/** Every CPU runs a thread of its own that computes forever: no kernel calls, no devices. */
export function computeScenario(cpus: number): ScenarioDefinition {
  const threads: Record<string, { routine: string; cpu: number }> = {};
  for (let cpu = 0; cpu < cpus; cpu++) threads[`Compute${cpu}`] = { routine: 'Compute', cpu };
  return defineScenario({
    name: 'perf-compute',
    description: 'one computing thread per CPU, no kernel calls',
    memory: { Scratch: { words: 64 } },
    threads,
    routines: {
      Compute: (a) => {
        a.movi(R1, 0);
        a.movi(R2, 1);
        a.label('loop');
        a.add(R1, R1, R2);
        a.load(R3, a.var('Scratch'));
        a.add(R3, R3, R1);
        a.store(a.var('Scratch'), 0, R3);
        a.sub(R2, R2, -1);
        a.blt(R1, 0x7fffffff, 'loop');
        a.movi(R1, 0);
        a.jmp('loop');
      },
    },
  });
}

/** Instructions per host second of the bare interpreter on the compiled Compute routine (`definition`: the 1-CPU machine). */
export function rawInterpreterRate(definition: ScenarioDefinition, instructions: number): number {
  const compiled = compileScenario(validateScenario(definition, { cpus: 1, arch: 'x64' }), {
    cpus: 1,
    mode: 'deterministic',
    seed: 1,
    durationNs: 1e6,
    timeScale: 1,
    traceToMain: false,
    nativeModule: null,
  });
  const memory = new Int32Array(compiled.machine.layout.memoryWords);
  for (const { address, values } of compiled.memoryInit) memory.set(values, address >> 2);
  const refuse = (): never => {
    throw new Error('the compute routine made a call the raw interpreter does not serve');
  };
  const host: ExecHost = {
    pageFlags: new Uint8Array(Math.ceil((memory.length * 4) / PAGE_SIZE)),
    memoryFault: refuse,
    checkAccess: () => 0,
    arithmeticFault: refuse,
    stackOverflow: refuse,
    kernelCall: refuse,
    nativeCall: refuse,
    trace: () => {},
    routineEntry: () => -1,
  };
  const interp = new Interpreter(compiled.code, memory, host);
  const thread = compiled.machine.threads[0]!;
  const ctx = new Int32Array(ContextField.WORDS);
  enterRoutine(ctx, 0, compiled.machine.routines[thread.routine]!.entry, thread.routine, thread.stackTop, thread.stackLimit, [], memory);
  const start = performance.now();
  for (let i = 0; i < instructions; i++) if (interp.step(ctx, 0) !== STEP_OK) refuse();
  return instructions / ((performance.now() - start) / 1000);
}
