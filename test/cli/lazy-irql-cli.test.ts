// Lazy IRQL from the outside: machine.lazyIrql in a scenario, `irqlab run --lazy-irql`, and the
// summary line that counts the local APICs' task-priority writes (src/kernel/irql.ts).
import { describe, expect, it } from 'vitest';
import { RUN_HELP, parseCommandLine, resolveRunOptions } from '../../src/cli/args.js';
import type { RunArgs } from '../../src/cli/args.js';
import { formatSummary, formatTaskPriority } from '../../src/cli/format.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { compileScenario } from '../../src/scenario/compile.js';
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { runInProcess } from '../smp/harness.js';

function runArgs(argv: string[]): RunArgs {
  const command = parseCommandLine(['run', ...argv], {});
  if (command.command !== 'run') throw new Error(`expected run, got ${command.command}`);
  return command.args;
}

const host = { availableParallelism: 2, randomSeed: () => 1 };

function scenario(machine: Record<string, unknown>): ScenarioDefinition {
  return defineScenario({
    name: 'raise-lower',
    description: 'raise to DISPATCH_LEVEL and lower, three times, with no interrupt in between',
    machine,
    threads: { Main: { routine: 'Main', cpu: 0 } },
    routines: {
      Main: (a) => {
        for (let i = 0; i < 3; i++) {
          a.kcall('KeRaiseIrqlToDpcLevel');
          a.kcall('KeLowerIrql', 0);
        }
        a.ret(0);
      },
    },
  });
}

function scenarioProblem(machine: Record<string, unknown>): string {
  try {
    validateScenario({ ...scenario({}), machine }, { cpus: 1, arch: 'x64' });
  } catch (error) {
    return (error as Error).message;
  }
  return 'no problem';
}

describe('lazy IRQL settings', () => {
  it('machine.lazyIrql must be true or false; absent, the machine is eager', () => {
    expect(scenarioProblem({ lazyIrql: 'yes' })).toBe(`scenario 'raise-lower': machine.lazyIrql must be true or false (got "yes")`);
    expect(scenarioProblem({ lazyIrql: 1 })).toMatch(/^scenario 'raise-lower': machine\.lazyIrql must be true or false \(got /);
    expect(scenarioProblem({ lazyIrql: true })).toBe('no problem');
    const compile = (def: ScenarioDefinition, lazyIrql?: boolean): boolean =>
      compileScenario(def, {
        cpus: 1,
        mode: 'deterministic',
        seed: 1,
        durationNs: 1e6,
        timeScale: 1,
        traceToMain: false,
        nativeModule: null,
        ...(lazyIrql !== undefined ? { lazyIrql } : {}),
      }).machine.lazyIrql;
    expect(compile(scenario({}))).toBe(false);
    expect(compile(scenario({ lazyIrql: true }))).toBe(true);
    expect(compile(scenario({}), true), '--lazy-irql turns it on for the run').toBe(true);
  });

  it('--lazy-irql is a run flag kept in the reproducing command, and documented in run --help', () => {
    expect(runArgs(['x']).lazyIrql).toBeUndefined();
    expect(runArgs(['x', '--lazy-irql']).lazyIrql).toBe(true);
    const resolved = resolveRunOptions(runArgs(['s', '--mode', 'deterministic', '--lazy-irql']), undefined, host);
    expect(resolved.lazyIrql).toBe(true);
    expect(resolved.command).toBe('irqlab run s --cpus 2 --mode deterministic --seed 1 --duration 100ms --lazy-irql');
    expect(RUN_HELP).toContain('--lazy-irql');
  });

  it('the summary says how many task-priority writes there were and, with lazy IRQL, how many it saved', () => {
    expect(formatTaskPriority({ lazyIrql: true, writes: 1234, writesSaved: 5678 })).toBe('task-priority writes: 1,234 (lazy IRQL saved 5,678)');
    expect(formatTaskPriority({ lazyIrql: false, writes: 9, writesSaved: 0 })).toBe(
      'task-priority writes: 9 (eager IRQL: one per IRQL change; --lazy-irql defers them)',
    );
  });

  it('a run with machine.lazyIrql saves the writes of raises and lowers no interrupt came between, and its summary shows it', async () => {
    const eager = await runInProcess(scenario({}), { cpus: 1, durationMs: 1 });
    const lazy = await runInProcess(scenario({ lazyIrql: true }), { cpus: 1, durationMs: 1 });
    expect(lazy.result.traceHash).toBe(eager.result.traceHash);
    expect(lazy.result.taskPriority.writesSaved, 'at least the 3 raises and 3 lowers').toBeGreaterThanOrEqual(6);
    expect(lazy.result.taskPriority.writes + lazy.result.taskPriority.writesSaved).toBe(eager.result.taskPriority.writes);
    expect(formatSummary(lazy.result, { cores: 2 })).toContain(
      `task-priority writes: ${lazy.result.taskPriority.writes} (lazy IRQL saved ${lazy.result.taskPriority.writesSaved})`,
    );
  });
});
