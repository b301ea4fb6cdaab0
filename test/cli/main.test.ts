// runCli in-process: the error funnel (one line, exit codes by error class, stacks only with --verbose).
import { describe, expect, it } from 'vitest';
import { reportError, runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { InternalError, ScenarioError, UsageError } from '../../src/util/errors.js';

function io(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) }, stderr: { isTTY: false, write: (s: string) => err.push(s) }, env: {} };
}

describe('reportError', () => {
  it('usage and scenario errors: exit 1, one line, first line of the message only', () => {
    const a = io();
    expect(reportError(new UsageError('--cpus must be an integer from 1 to 64 (got 0)'), false, a)).toBe(1);
    expect(a.err.join('')).toBe('irqlab: --cpus must be an integer from 1 to 64 (got 0)\n');
    const b = io();
    expect(reportError(new ScenarioError("scenario 'x': bad\nsecond line"), false, b)).toBe(1);
    expect(b.err.join('')).toBe("irqlab: scenario 'x': bad\n");
  });

  it('anything else is an internal error: exit 3, one line pointing at --verbose', () => {
    const a = io();
    expect(reportError(new InternalError('CPU 3 worker exited with code 1'), false, a)).toBe(3);
    expect(a.err.join('')).toBe('irqlab: internal error: CPU 3 worker exited with code 1 (run with --verbose for the stack)\n');
    const b = io();
    expect(reportError(new TypeError('x is not a function'), false, b)).toBe(3);
    expect(b.err.join('')).toBe('irqlab: internal error: x is not a function (run with --verbose for the stack)\n');
    const c = io();
    expect(reportError('a string', false, c)).toBe(3);
    expect(c.err.join('')).toBe('irqlab: internal error: a string (run with --verbose for the stack)\n');
  });

  it('--verbose prints the stack and its causes', () => {
    const a = io();
    const cause = new RangeError('deep');
    expect(reportError(new InternalError('outer', { cause }), true, a)).toBe(3);
    const text = a.err.join('');
    expect(text.split('\n')[0]).toBe('irqlab: internal error: outer');
    expect(text).toMatch(/^\s{4}at /m);
    expect(text).toContain('Caused by: RangeError: deep');
  });
});

describe('runCli', () => {
  it('help, version and list write to stdout only', async () => {
    for (const argv of [['--help'], ['--version'], ['list'], ['run', '--help']]) {
      const a = io();
      expect(await runCli(argv, a)).toBe(0);
      expect(a.out.join('')).not.toBe('');
      expect(a.err).toEqual([]);
    }
  });

  it('usage and load errors: exit 1, one line on stderr, nothing on stdout', async () => {
    for (const argv of [['run', 'x', '--cpus', '0'], ['run', 'no-such-scenario'], ['run', 'test/fixtures/scenarios/unknown-routine.mjs'], ['nope']]) {
      const a = io();
      expect(await runCli(argv, a), argv.join(' ')).toBe(1);
      expect(a.out).toEqual([]);
      expect(a.err).toHaveLength(1);
      expect(a.err[0]).toMatch(/^irqlab: [^\n]+\n$/);
    }
  });
});
