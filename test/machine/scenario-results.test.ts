// results() and checks() are the scenario's code: whatever they throw, and whatever wrong shape
// they return, ends the run as a ScenarioError (exit 1) naming the function and the value.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import { ScenarioError } from '../../src/util/errors.js';

async function runEnd(parts: Pick<ScenarioDefinition, 'results' | 'checks'>): Promise<unknown> {
  const definition = validateScenario(defineScenario({ name: 'ends', description: 'nothing to do', routines: {}, ...parts }), { cpus: 1, arch: 'x64' });
  try {
    await executeScenario(definition, null, {
      cpus: 1,
      mode: 'deterministic',
      seed: 1,
      durationNs: 1e5,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run ends',
    });
  } catch (error) {
    return error;
  }
  return null;
}

async function expectScenarioError(parts: Pick<ScenarioDefinition, 'results' | 'checks'>, message: string): Promise<ScenarioError> {
  const error = await runEnd(parts);
  expect(error).toBeInstanceOf(ScenarioError);
  expect((error as Error).message).toBe(message);
  return error as ScenarioError;
}

describe('results() and checks() errors', () => {
  it('a throw of anything names the function and the value; an Error stays the cause, with its stack', async () => {
    await expectScenarioError(
      {
        results: () => {
          throw undefined;
        },
      },
      "scenario 'ends': results() threw undefined",
    );
    await expectScenarioError(
      {
        checks: () => {
          throw 'not today';
        },
      },
      'scenario \'ends\': checks() threw "not today"',
    );
    const error = await expectScenarioError(
      {
        checks: () => {
          throw new RangeError('bad index');
        },
      },
      "scenario 'ends': checks() threw RangeError: bad index",
    );
    expect((error.cause as Error).stack).toContain('scenario-results.test.ts');
  });

  it('results() values JSON cannot hold exactly', async () => {
    await expectScenarioError(
      { results: () => ({ ratio: 0 / 0 }) },
      "scenario 'ends': results() returned ratio = NaN, which JSON cannot hold (it would become null)",
    );
    await expectScenarioError(
      { results: () => ({ list: [1, 2, undefined as unknown as number] }) },
      "scenario 'ends': results() returned list[2] = undefined, which JSON cannot hold",
    );
    await expectScenarioError(
      { results: () => 42 as unknown as Record<string, number> },
      "scenario 'ends': results() returned the number 42, not an object of named values",
    );
  });

  it('checks() of the wrong shape', async () => {
    await expectScenarioError(
      { checks: () => [{ name: 'x', passed: 1 as unknown as boolean }] },
      "scenario 'ends': checks()[0] ('x'): passed must be true or false (got the number 1)",
    );
    await expectScenarioError(
      { checks: () => [null as unknown as { name: string; passed: boolean }] },
      "scenario 'ends': checks()[0] is null, not a check { name, passed }",
    );
  });

  it('well-formed results and checks pass through', async () => {
    expect(await runEnd({ results: () => ({ a: 1, b: 'two', c: [3], d: true }), checks: () => [{ name: 'fine', passed: true }] })).toBeNull();
  });
});
