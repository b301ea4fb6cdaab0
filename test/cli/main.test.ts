// runCli in-process: the error funnel (one line, exit codes by error class, stacks only with --verbose).
import { describe, expect, it } from 'vitest';
import { reportError, runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { InternalError, ScenarioError, UsageError } from '../../src/util/errors.js';
import { DEFAULT_SLACK_NS } from '../../src/contract/config.js';

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

  it('--pace, --slack and --time-scale where they mean nothing: exit 1, one line, nothing runs', async () => {
    const cases: Array<[string[], string]> = [
      [['--mode', 'deterministic', '--pace', 'host'], '--pace applies to parallel mode only'],
      [['--mode', 'deterministic', '--slack', '10us'], '--slack applies to parallel mode only'],
      [['--time-scale', '2'], '--time-scale applies to --pace host only'],
      [['--pace', 'host', '--slack', '10us'], '--slack applies to --pace virtual only'],
      [['--slack', '5s'], '--slack must be an emulated time from 1ns to 1s'],
    ];
    for (const [flags, message] of cases) {
      const a = io();
      expect(await runCli(['run', 'test/fixtures/scenarios/minimal.mjs', ...flags], a), flags.join(' ')).toBe(1);
      expect(a.out).toEqual([]);
      expect(a.err).toHaveLength(1);
      expect(a.err[0]).toMatch(new RegExp(`^irqlab: ${message.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}[^\n]*\n$`));
    }
  });

  it("a parallel run's summary gives its parameters and says it is not replayable; a deterministic run's, its replay", async () => {
    const parallel = io();
    expect(await runCli(['run', 'test/fixtures/scenarios/minimal.mjs', '--slack', '20us'], parallel, { handleSignals: false })).toBe(0);
    const lines = parallel.out.join('').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^fixture-minimal: parallel mode \(virtual time, slack 20\.000 µs\), seed \d+, 1 CPU/);
    expect(lines.slice(-2)).toEqual([
      'OK. The run (not replayable: parallel runs race for real): irqlab run test/fixtures/scenarios/minimal.mjs --cpus 1 --mode parallel --duration 1ms --slack 20us',
      "For a run that replays exactly: irqlab run test/fixtures/scenarios/minimal.mjs --cpus 1 --duration 1ms --mode deterministic (a seeded schedule of its own, not this run's)",
    ]);
    const deterministic = io();
    expect(await runCli(['run', 'test/fixtures/scenarios/minimal.mjs', '--mode', 'deterministic'], deterministic, { handleSignals: false })).toBe(0);
    expect(deterministic.out.join('').trimEnd().split('\n').at(-1)).toBe(
      'OK. The run: irqlab run test/fixtures/scenarios/minimal.mjs --cpus 1 --mode deterministic --seed 1 --duration 1ms',
    );
  });

  it('--json of a parallel run: its parameters (a chosen seed included) in command, replayCommand null', async () => {
    const a = io();
    expect(await runCli(['run', 'test/fixtures/scenarios/minimal.mjs', '--seed', '9', '--json'], a, { handleSignals: false })).toBe(0);
    const result = JSON.parse(a.out.join('')) as {
      command: string;
      replayCommand: string | null;
      pace: string;
      slackNs: number | null;
      timeScale: number | null;
    };
    expect(result).toMatchObject({
      command: 'irqlab run test/fixtures/scenarios/minimal.mjs --cpus 1 --mode parallel --seed 9 --duration 1ms',
      replayCommand: null,
      pace: 'virtual',
      slackNs: DEFAULT_SLACK_NS,
      timeScale: null,
    });
  });
});
