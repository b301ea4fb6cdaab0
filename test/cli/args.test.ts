import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LIST_HELP,
  MAIN_HELP,
  RUN_HELP,
  formatEmulatedTime,
  parseCommandLine,
  parseDuration,
  parseSlack,
  reproduceCommand,
  resolveRunOptions,
  shellQuote,
} from '../../src/cli/args.js';
import { DEFAULT_SLACK_NS } from '../../src/contract/config.js';
import type { Command, RunArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/util/errors.js';

const NO_ENV = {};
const host = { availableParallelism: 8, randomSeed: () => 424242 };

function runArgs(argv: string[], env: NodeJS.ProcessEnv = NO_ENV): RunArgs {
  const command = parseCommandLine(['run', ...argv], env);
  if (command.command !== 'run') throw new Error(`expected run, got ${command.command}`);
  return command.args;
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = NO_ENV): string {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseCommandLine: commands', () => {
  it('help and version', () => {
    expect(parseCommandLine(['--help'])).toEqual<Command>({ command: 'help', text: MAIN_HELP });
    expect(parseCommandLine(['-h'])).toEqual<Command>({ command: 'help', text: MAIN_HELP });
    expect(parseCommandLine(['--version'])).toEqual<Command>({ command: 'version' });
    expect(parseCommandLine(['-V'])).toEqual<Command>({ command: 'version' });
    expect(parseCommandLine(['run', '--help'])).toEqual<Command>({ command: 'help', text: RUN_HELP });
    expect(parseCommandLine(['run', 'x', '-h'])).toEqual<Command>({ command: 'help', text: RUN_HELP });
    expect(parseCommandLine(['list', '--help'])).toEqual<Command>({ command: 'help', text: LIST_HELP });
    expect(parseCommandLine(['help', 'run'])).toEqual<Command>({ command: 'help', text: RUN_HELP });
    expect(parseCommandLine(['list'])).toEqual<Command>({ command: 'list', json: false });
  });

  it('list --json asks for the list as JSON, and its help says so', () => {
    expect(parseCommandLine(['list', '--json'])).toEqual<Command>({ command: 'list', json: true });
    expect(LIST_HELP).toContain('--json');
  });

  it('the help texts name every run option', () => {
    for (const flag of [
      '--cpus',
      '--mode',
      '--seed',
      '--duration',
      '--pace',
      '--slack',
      '--time-scale',
      '--json',
      '--trace',
      '--code-timeout',
      '--verbose',
      'IRQLAB_SEED',
    ]) {
      expect(RUN_HELP).toContain(flag);
    }
    expect(MAIN_HELP).toContain('irqlab run <scenario>');
    expect(MAIN_HELP).toContain('irqlab list');
  });

  it('rejects a missing or unknown command', () => {
    expect(usageError([])).toBe("missing command: expected 'run', 'explore', 'replay', 'minimize', 'inspect' or 'list' (see 'irqlab --help')");
    expect(usageError(['walk'])).toBe("unknown command 'walk': expected 'run', 'explore', 'replay', 'minimize', 'inspect' or 'list' (see 'irqlab --help')");
    expect(usageError(['--frobnicate'])).toBe("unknown option '--frobnicate' for 'irqlab' (see 'irqlab --help')");
  });

  it('list takes no arguments and no option but --json', () => {
    expect(usageError(['list', 'extra'])).toBe("unexpected argument 'extra' for 'irqlab list' (see 'irqlab list --help')");
    expect(usageError(['list', '--yaml'])).toBe("unknown option '--yaml' for 'irqlab list' (see 'irqlab list --help')");
  });
});

describe('parseCommandLine: run', () => {
  it('parses every flag', () => {
    expect(
      runArgs([
        'storm',
        '--cpus',
        '4',
        '--mode',
        'parallel',
        '--seed',
        '7',
        '--duration',
        '2s',
        '--pace',
        'host',
        '--time-scale',
        '0.5',
        '--json',
        '--trace',
        'out.json',
        '--verbose',
      ]),
    ).toEqual<RunArgs>({
      scenario: 'storm',
      cpus: 4,
      mode: 'parallel',
      seed: 7,
      durationNs: 2e9,
      pace: 'host',
      timeScale: 0.5,
      json: true,
      trace: 'out.json',
      verbose: true,
    });
  });

  it('short flags and --flag=value', () => {
    expect(runArgs(['-c', '2', '-m', 'parallel', '-s', '0x10', '-d', '3ms', '-v', 'x'])).toMatchObject({
      cpus: 2,
      mode: 'parallel',
      seed: 16,
      durationNs: 3e6,
      verbose: true,
      scenario: 'x',
    });
    expect(runArgs(['x', '--cpus=3'])).toMatchObject({ cpus: 3 });
  });

  it('defaults before the scenario is known', () => {
    expect(runArgs(['x'])).toEqual<RunArgs>({ scenario: 'x', mode: 'parallel', json: false, verbose: false });
  });

  it('IRQLAB_SEED is the default seed; --seed wins', () => {
    expect(runArgs(['x'], { IRQLAB_SEED: '99' }).seed).toBe(99);
    expect(runArgs(['x', '--seed', '5'], { IRQLAB_SEED: '99' }).seed).toBe(5);
    expect(runArgs(['x'], { IRQLAB_SEED: '' }).seed).toBeUndefined();
    expect(usageError(['run', 'x'], { IRQLAB_SEED: 'abc' })).toBe('IRQLAB_SEED must be an integer from 0 to 4294967295 (got abc)');
  });

  it('--cpus must be an integer from 1 to 64', () => {
    expect(usageError(['run', 'x', '--cpus', '0'])).toBe('--cpus must be an integer from 1 to 64 (got 0)');
    expect(usageError(['run', 'x', '--cpus', '1000'])).toBe('--cpus must be an integer from 1 to 64 (got 1000)');
    expect(usageError(['run', 'x', '--cpus', '65'])).toBe('--cpus must be an integer from 1 to 64 (got 65)');
    expect(usageError(['run', 'x', '--cpus', '2.5'])).toBe('--cpus must be an integer from 1 to 64 (got 2.5)');
    expect(usageError(['run', 'x', '--cpus', 'four'])).toBe('--cpus must be an integer from 1 to 64 (got four)');
    expect(usageError(['run', 'x', '--cpus='])).toBe("--cpus must be an integer from 1 to 64 (got '')");
    expect(runArgs(['x', '--cpus', '1']).cpus).toBe(1);
    expect(runArgs(['x', '--cpus', '64']).cpus).toBe(64);
  });

  it('--mode, --seed, --time-scale', () => {
    expect(usageError(['run', 'x', '--mode', 'fast'])).toBe("--mode must be 'parallel' or 'deterministic' (got fast)");
    expect(usageError(['run', 'x', '--seed', '1.5'])).toBe('--seed must be an integer from 0 to 4294967295 (got 1.5)');
    expect(usageError(['run', 'x', '--seed=-1'])).toBe('--seed must be an integer from 0 to 4294967295 (got -1)');
    expect(usageError(['run', 'x', '--seed', '4294967296'])).toBe('--seed must be an integer from 0 to 4294967295 (got 4294967296)');
    expect(runArgs(['x', '--seed', '4294967295']).seed).toBe(4294967295);
    expect(runArgs(['x', '--seed', '0']).seed).toBe(0);
    expect(usageError(['run', 'x', '--time-scale', '0'])).toBe('--time-scale must be a positive number (got 0)');
    expect(usageError(['run', 'x', '--time-scale', 'fast'])).toBe('--time-scale must be a positive number (got fast)');
    expect(usageError(['run', 'x', '--time-scale=-2'])).toBe('--time-scale must be a positive number (got -2)');
    expect(usageError(['run', 'x', '--time-scale', 'Infinity'])).toBe('--time-scale must be a positive number (got Infinity)');
    expect(runArgs(['x', '--pace', 'host', '--time-scale', '2.5']).timeScale).toBe(2.5);
  });

  it('--clock: a clock interval from 0.5 to 15.625 ms, kept in the reproducing command', () => {
    expect(runArgs(['x', '--clock', '1']).clockMs).toBe(1);
    expect(runArgs(['x', '--clock', '0.5ms']).clockMs).toBe(0.5);
    expect(usageError(['run', 'x', '--clock', '0.25'])).toBe('--clock must be a clock interval from 0.5 to 15.625 ms (got 0.25)');
    expect(usageError(['run', 'x', '--clock', '20'])).toBe('--clock must be a clock interval from 0.5 to 15.625 ms (got 20)');
    expect(usageError(['run', 'x', '--clock', 'fast'])).toBe('--clock must be a clock interval from 0.5 to 15.625 ms (got fast)');
    const resolved = resolveRunOptions(runArgs(['s', '--clock', '1', '--mode', 'deterministic']), undefined, { availableParallelism: 2, randomSeed: () => 1 });
    expect(resolved.command).toBe('irqlab run s --cpus 2 --mode deterministic --seed 1 --duration 100ms --clock 1');
  });

  it('a value that looks like an option', () => {
    expect(usageError(['run', 'x', '--seed', '-1'])).toBe("option '--seed' got a value starting with '-' (write --seed=<value> if you mean it)");
  });

  it('unknown flags, missing values, flags that take none', () => {
    expect(usageError(['run', 'x', '--cpu', '4'])).toBe("unknown option '--cpu' for 'irqlab run' (see 'irqlab run --help')");
    expect(usageError(['run', 'x', '-q'])).toBe("unknown option '-q' for 'irqlab run' (see 'irqlab run --help')");
    expect(usageError(['run', 'x', '--cpus'])).toBe("option '--cpus' needs a value");
    expect(usageError(['run', 'x', '-c'])).toBe("option '--cpus' needs a value");
    expect(usageError(['run', 'x', '--json=yes'])).toBe("option '--json' does not take a value");
    expect(usageError(['run', 'x', '--trace='])).toBe('--trace needs a file name');
  });

  it('exactly one scenario', () => {
    expect(usageError(['run'])).toBe("run needs a scenario: a built-in name (see 'irqlab list') or a .ts/.js file");
    expect(usageError(['run', '--cpus', '2'])).toBe("run needs a scenario: a built-in name (see 'irqlab list') or a .ts/.js file");
    expect(usageError(['run', 'a', 'b'])).toBe("unexpected argument 'b': run takes one scenario (see 'irqlab run --help')");
    expect(usageError(['run', ''])).toBe('the scenario argument is empty');
  });
});

describe('parseCommandLine: --pace, --slack and --time-scale', () => {
  it('--pace virtual or host', () => {
    expect(runArgs(['x', '--pace', 'virtual']).pace).toBe('virtual');
    expect(runArgs(['x', '--pace=host']).pace).toBe('host');
    expect(usageError(['run', 'x', '--pace', 'real'])).toBe("--pace must be 'virtual' or 'host' (got real)");
    expect(usageError(['run', 'x', '--pace='])).toBe("--pace must be 'virtual' or 'host' (got '')");
    expect(usageError(['run', 'x', '--pace'])).toBe("option '--pace' needs a value");
  });

  it('--slack takes an emulated time as --duration does, 1ns to 1s', () => {
    expect(runArgs(['x', '--slack', '10us']).slackNs).toBe(10_000);
    expect(runArgs(['x', '--slack', '0.5ms']).slackNs).toBe(500_000);
    expect(runArgs(['x', '--slack', '250ns']).slackNs).toBe(250);
    expect(runArgs(['x', '--slack', '20µs']).slackNs).toBe(20_000);
    expect(runArgs(['x', '--slack', '1s']).slackNs).toBe(1e9);
    expect(runArgs(['x', '--slack', '0.01']).slackNs, 'a bare number is ms, as for --duration').toBe(10_000);
    expect(runArgs(['x', '--slack', '1ns']).slackNs).toBe(1);
    for (const bad of ['0', '0us', '0.1ns', '2s', '1001ms', '-5us', 'fast', '10 parsecs', 'NaNus', 'Infinity', '1e999']) {
      expect(() => parseSlack(bad), bad).toThrow(UsageError);
    }
    expect(usageError(['run', 'x', '--slack', '2s'])).toBe('--slack must be an emulated time from 1ns to 1s, like 10us or 0.5ms (got 2s)');
    expect(usageError(['run', 'x', '--slack', '0'])).toBe('--slack must be an emulated time from 1ns to 1s, like 10us or 0.5ms (got 0)');
    expect(usageError(['run', 'x', '--slack='])).toBe("--slack must be an emulated time from 1ns to 1s, like 10us or 0.5ms (got '')");
  });

  it('--pace, --slack and --time-scale with --mode deterministic are usage errors (they mean nothing there)', () => {
    const why = 'applies to parallel mode only (deterministic mode runs on a virtual clock of its own)';
    expect(usageError(['run', 'x', '--mode', 'deterministic', '--pace', 'virtual'])).toBe(`--pace ${why}`);
    expect(usageError(['run', 'x', '--mode', 'deterministic', '--pace', 'host'])).toBe(`--pace ${why}`);
    expect(usageError(['run', 'x', '-m', 'deterministic', '--slack', '10us'])).toBe(`--slack ${why}`);
    expect(usageError(['run', 'x', '--mode=deterministic', '--time-scale', '2'])).toBe(`--time-scale ${why}`);
  });

  it('--time-scale only with --pace host, --slack only with --pace virtual', () => {
    expect(usageError(['run', 'x', '--time-scale', '2'])).toBe(
      '--time-scale applies to --pace host only (add --pace host; with --pace virtual, emulated time is executed cycles)',
    );
    expect(usageError(['run', 'x', '--pace', 'virtual', '--time-scale', '1'])).toMatch(/^--time-scale applies to --pace host only/);
    expect(usageError(['run', 'x', '--pace', 'host', '--slack', '10us'])).toBe(
      '--slack applies to --pace virtual only (with --pace host, emulated time follows the host clock)',
    );
    expect(runArgs(['x', '--pace', 'virtual', '--slack', '5us'])).toMatchObject({ pace: 'virtual', slackNs: 5000 });
    expect(runArgs(['x', '--slack', '5us', '--mode', 'parallel'])).toMatchObject({ mode: 'parallel', slackNs: 5000 });
  });

  it('a bad value is reported before a conflict', () => {
    expect(usageError(['run', 'x', '--mode', 'deterministic', '--slack', 'soon'])).toMatch(/^--slack must be an emulated time/);
    expect(usageError(['run', 'x', '--time-scale', '0'])).toBe('--time-scale must be a positive number (got 0)');
  });

  it('resolved: a parallel run gets the virtual pace and the default slack; a deterministic run neither', () => {
    const parallel = resolveRunOptions(runArgs(['s']), undefined, host);
    expect(parallel).toMatchObject({ mode: 'parallel', pace: 'virtual', slackNs: DEFAULT_SLACK_NS, seedDrawn: true });
    expect(parallel.timeScale).toBeUndefined();
    expect(parallel.command, 'no seed drawn at random, no default pace or slack').toBe('irqlab run s --cpus 8 --mode parallel --duration 100ms');
    const deterministic = resolveRunOptions(runArgs(['s', '--mode', 'deterministic']), undefined, host);
    expect(deterministic.pace).toBeUndefined();
    expect(deterministic.slackNs).toBeUndefined();
    expect(deterministic.timeScale).toBeUndefined();
    expect(deterministic.seedDrawn).toBe(false);
    expect(resolveRunOptions(runArgs(['s', '--slack', '25us']), undefined, host).command).toBe(
      'irqlab run s --cpus 8 --mode parallel --duration 100ms --slack 25us',
    );
    expect(resolveRunOptions(runArgs(['s', '--slack', '10us']), undefined, host).command, 'the default slack is not repeated').toBe(
      'irqlab run s --cpus 8 --mode parallel --duration 100ms',
    );
    expect(resolveRunOptions(runArgs(['s'], { IRQLAB_SEED: '12' }), undefined, host).command, 'a seed the user chose stays').toBe(
      'irqlab run s --cpus 8 --mode parallel --seed 12 --duration 100ms',
    );
  });

  it('the help documents the pace, the slack and its default, and that host pace includes the host', () => {
    const help = RUN_HELP.replace(/\s+/g, ' ');
    expect(help).toContain('--pace PACE');
    expect(help).toContain('latencies include the host');
    expect(help).toContain(`(default ${formatEmulatedTime(DEFAULT_SLACK_NS)})`);
    expect(help).toContain('--slack T');
    expect(help).toContain('--time-scale X parallel mode, --pace host');
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme, "the README's --slack default is the code's").toContain(`\`1s\`; default \`${formatEmulatedTime(DEFAULT_SLACK_NS)}\``);
    expect(readme, "the README's slackNs default is the code's").toContain(`\`slackNs\` ${DEFAULT_SLACK_NS}`);
  });
});

describe('formatEmulatedTime', () => {
  it('the largest unit that keeps the number at least 1, parsed back by parseDuration', () => {
    expect(formatEmulatedTime(10_000)).toBe('10us');
    expect(formatEmulatedTime(1500)).toBe('1.5us');
    expect(formatEmulatedTime(999)).toBe('999ns');
    expect(formatEmulatedTime(2e6)).toBe('2ms');
    expect(formatEmulatedTime(1e9)).toBe('1s');
    for (const ns of [1, 999, 1000, 1234, 10_000, 1_234_567, 5e8, 1e9]) expect(parseDuration(formatEmulatedTime(ns))).toBe(ns);
  });
});

describe('parseDuration', () => {
  it('units', () => {
    expect(parseDuration('250ms')).toBe(250e6);
    expect(parseDuration('2s')).toBe(2e9);
    expect(parseDuration('500us')).toBe(500e3);
    expect(parseDuration('500µs')).toBe(500e3);
    expect(parseDuration('1000000ns')).toBe(1e6);
    expect(parseDuration('1.5ms')).toBe(1.5e6);
    expect(parseDuration('0.5s')).toBe(5e8);
    expect(parseDuration('7 MS')).toBe(7e6);
  });

  it('a bare number is milliseconds', () => {
    expect(parseDuration('20')).toBe(20e6);
    expect(parseDuration('0.25')).toBe(250e3);
  });

  it('rejects nonsense, zero and negatives', () => {
    for (const bad of ['', 'ms', '5 parsecs', '-1ms', '0', '0ns', '0.1ns', '1h', '1e999', 'NaNms', 'Infinity']) {
      expect(() => parseDuration(bad), bad).toThrow(UsageError);
    }
    expect(() => parseDuration('5m')).toThrow(`--duration must be a positive time like 250ms, 2s, 500us or 1000000ns (got 5m)`);
  });
});

describe('resolveRunOptions', () => {
  it('the scenario declares the CPU count and the duration', () => {
    const resolved = resolveRunOptions(runArgs(['s', '--mode', 'deterministic']), { cpus: 3, durationMs: 120 }, host);
    expect(resolved).toMatchObject({ cpus: 3, durationNs: 120e6, seed: 1, mode: 'deterministic' });
    expect(resolved.command).toBe('irqlab run s --cpus 3 --mode deterministic --seed 1 --duration 120ms');
  });

  it('flags override the scenario', () => {
    const resolved = resolveRunOptions(runArgs(['s', '--cpus', '5', '--duration', '500us', '--seed', '9']), { cpus: 3, durationMs: 120 }, host);
    expect(resolved).toMatchObject({ cpus: 5, durationNs: 500e3, seed: 9, mode: 'parallel' });
    expect(resolved.command).toBe('irqlab run s --cpus 5 --mode parallel --seed 9 --duration 0.5ms');
  });

  it('host defaults: available parallelism (at most 64), 100 ms, a random seed in parallel mode', () => {
    expect(resolveRunOptions(runArgs(['s']), undefined, host)).toMatchObject({ cpus: 8, durationNs: 100e6, seed: 424242 });
    expect(resolveRunOptions(runArgs(['s']), {}, { availableParallelism: 512, randomSeed: () => 1 }).cpus).toBe(64);
    expect(resolveRunOptions(runArgs(['s', '--mode', 'deterministic']), undefined, host).seed).toBe(1);
  });

  it('ignores malformed scenario defaults (validation reports them)', () => {
    expect(resolveRunOptions(runArgs(['s']), { cpus: 0, durationMs: -5 }, host)).toMatchObject({ cpus: 8, durationNs: 100e6 });
    expect(resolveRunOptions(runArgs(['s']), { cpus: '4', durationMs: 'x' }, host)).toMatchObject({ cpus: 8, durationNs: 100e6 });
  });

  it('--pace host, --time-scale and --trace', () => {
    const resolved = resolveRunOptions(runArgs(['s', '--pace', 'host', '--time-scale', '0.25', '--trace', 't.json']), undefined, host);
    expect(resolved.traceFile).toBe('t.json');
    expect(resolved).toMatchObject({ pace: 'host', timeScale: 0.25 });
    expect(resolved.slackNs).toBeUndefined();
    expect(resolved.command).toBe('irqlab run s --cpus 8 --mode parallel --duration 100ms --pace host --time-scale 0.25');
  });

  it('the reproducing command parses back to the same configuration', () => {
    const first = resolveRunOptions(
      runArgs(['./my scenario.ts', '--duration', '1234567ns', '--seed', '5', '--pace', 'host', '--time-scale', '3']),
      undefined,
      host,
    );
    const again = parseCommandLine(splitShell(first.command).slice(1));
    if (again.command !== 'run') throw new Error('not a run');
    const second = resolveRunOptions(again.args, undefined, host);
    expect(second).toMatchObject({ scenario: './my scenario.ts', cpus: 8, seed: 5, durationNs: 1234567, pace: 'host', timeScale: 3 });
    expect(second.command).toBe(first.command);
    const slack = resolveRunOptions(runArgs(['s', '--slack', '1.5us']), undefined, host);
    const slackAgain = parseCommandLine(splitShell(slack.command).slice(1));
    if (slackAgain.command !== 'run') throw new Error('not a run');
    expect(slackAgain.args.slackNs).toBe(1500);
  });
});

describe('shellQuote / reproduceCommand', () => {
  it('quotes only when needed', () => {
    expect(shellQuote('interrupt-storm')).toBe('interrupt-storm');
    expect(shellQuote('./a/b.ts')).toBe('./a/b.ts');
    expect(shellQuote("it's here.ts")).toBe(`'it'\\''s here.ts'`);
  });

  it('builds the documented shape', () => {
    expect(reproduceCommand({ scenario: 'x', cpus: 2, mode: 'deterministic', seed: 3, durationNs: 2e6 })).toBe(
      'irqlab run x --cpus 2 --mode deterministic --seed 3 --duration 2ms',
    );
  });

  it("a parallel run's line: no seed drawn at random, the pace, slack and time scale only when not the default", () => {
    const parallel = { scenario: 'x', cpus: 2, mode: 'parallel', seed: 3, durationNs: 2e6 } as const;
    expect(reproduceCommand({ ...parallel, seedDrawn: true, pace: 'virtual', slackNs: DEFAULT_SLACK_NS })).toBe(
      'irqlab run x --cpus 2 --mode parallel --duration 2ms',
    );
    expect(reproduceCommand({ ...parallel, seedDrawn: false })).toBe('irqlab run x --cpus 2 --mode parallel --seed 3 --duration 2ms');
    expect(reproduceCommand({ ...parallel, seedDrawn: true, pace: 'virtual', slackNs: 50_000 })).toBe(
      'irqlab run x --cpus 2 --mode parallel --duration 2ms --slack 50us',
    );
    expect(reproduceCommand({ ...parallel, seedDrawn: true, pace: 'host', timeScale: 1 })).toBe(
      'irqlab run x --cpus 2 --mode parallel --duration 2ms --pace host',
    );
    expect(reproduceCommand({ ...parallel, seedDrawn: true, pace: 'host', timeScale: 4 })).toBe(
      'irqlab run x --cpus 2 --mode parallel --duration 2ms --pace host --time-scale 4',
    );
    expect(
      reproduceCommand({ scenario: 'x', cpus: 2, mode: 'deterministic', seed: 3, seedDrawn: true, durationNs: 2e6 }),
      'a deterministic run keeps its seed',
    ).toBe('irqlab run x --cpus 2 --mode deterministic --seed 3 --duration 2ms');
  });
});

/** A tiny POSIX-shell word splitter for single-quoted words (enough for shellQuote's output). */
function splitShell(line: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(line))) words.push(match[1] !== undefined ? match[1].replace(/'\\''/g, "'") : match[2]!);
  return words;
}
