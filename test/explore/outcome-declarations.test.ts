// The scenario's outcome(), outcomes and explore declarations are checked before anything runs
// (src/scenario/validate.ts): a wrong shape is one line naming the field, never a grade silently
// skipped or a jitter ignored.
import { describe, expect, it } from 'vitest';
import { validateScenario } from '../../src/scenario/validate.js';
import { R0 } from '../../src/isa/registers.js';

const base = {
  name: 'v',
  description: 'validation',
  routines: {
    T: (a: { movi(r: unknown, v: number): void; ret(v: number): void }) => {
      a.movi(R0, 0);
      a.ret(0);
    },
  },
};

const check = (extra: Record<string, unknown>) => () => validateScenario({ ...base, ...extra }, { cpus: 2, arch: 'x64' });

describe('outcome declarations', () => {
  it('accepts outcome(), grades matched by text, RegExp or predicate, and an explore.jitter', () => {
    expect(
      check({
        outcome: () => 'x',
        outcomes: [
          { match: 'x', expect: 'acceptable', description: 'fine' },
          { match: /^lost/, expect: 'forbidden', description: 'bad' },
          { match: (text: string) => text === 'y', expect: 'interesting', description: 'rare' },
        ],
        explore: { jitter: { deviceNs: 1000, tickPhaseNs: 0, ipiDelayNs: 500 } },
      }),
    ).not.toThrow();
  });

  it.each([
    [{ outcome: 'exact' }, 'scenario \'v\': outcome must be a function (run) => … (got "exact")'],
    [{ outcomes: { match: 'x' } }, "scenario 'v': outcomes must be an array of { match, expect, description } (got an object)"],
    [{ outcomes: ['x'] }, 'scenario \'v\': outcomes[0] must be an object (got "x")'],
    [
      { outcomes: [{ match: 1, expect: 'forbidden', description: 'd' }] },
      "scenario 'v': outcomes[0].match must be the outcome's text, a RegExp or a function (outcome) => boolean (got 1)",
    ],
    [
      { outcomes: [{ match: 'x', expect: 'FORBIDDEN', description: 'd' }] },
      "scenario 'v': outcomes[0].expect must be one of 'acceptable', 'interesting', 'forbidden' (got \"FORBIDDEN\")",
    ],
    [{ outcomes: [{ match: 'x', expect: 'forbidden' }] }, "scenario 'v': outcomes[0].description must be a string (got undefined)"],
    [
      { outcomes: [{ match: 'x', expect: 'forbidden', description: 'd', grade: 1 }] },
      "scenario 'v': outcomes[0].grade is not a scenario field (expected match, expect, description)",
    ],
    [{ explore: { jitter: { deviceNs: -1 } } }, "scenario 'v': explore.jitter.deviceNs must be a number of emulated ns ≥ 0 (got -1)"],
    [{ explore: { jiter: {} } }, "scenario 'v': explore.jiter is not a scenario field (expected jitter)"],
    [{ explore: { jitter: { ipiNs: 1 } } }, "scenario 'v': explore.jitter.ipiNs is not a scenario field (expected deviceNs, tickPhaseNs, ipiDelayNs)"],
  ])('refuses %j: %s', (extra, message) => {
    expect(check(extra)).toThrow(message);
  });
});
