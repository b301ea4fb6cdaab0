import { describe, expect, it } from 'vitest';
import { LIST_HELP, MAIN_HELP, RUN_HELP, parseCommandLine, parseDuration, reproduceCommand, resolveRunOptions, shellQuote } from '../../src/cli/args.js';
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
    for (const flag of ['--cpus', '--mode', '--seed', '--duration', '--time-scale', '--json', '--trace', '--code-timeout', '--verbose', 'IRQLAB_SEED']) {
      expect(RUN_HELP).toContain(flag);
    }
    expect(MAIN_HELP).toContain('irqlab run <scenario>');
    expect(MAIN_HELP).toContain('irqlab list');
  });

  it('rejects a missing or unknown command', () => {
    expect(usageError([])).toBe("missing command: expected 'run' or 'list' (see 'irqlab --help')");
    expect(usageError(['walk'])).toBe("unknown command 'walk': expected 'run' or 'list' (see 'irqlab --help')");
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
        'deterministic',
        '--seed',
        '7',
        '--duration',
        '2s',
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
      mode: 'deterministic',
      seed: 7,
      durationNs: 2e9,
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
    expect(runArgs(['x'])).toEqual<RunArgs>({ scenario: 'x', mode: 'parallel', timeScale: 1, json: false, verbose: false });
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
    expect(runArgs(['x', '--time-scale', '2.5']).timeScale).toBe(2.5);
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
    expect(resolved).toMatchObject({ cpus: 3, durationNs: 120e6, seed: 1, mode: 'deterministic', timeScale: 1 });
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

  it('--time-scale and --trace', () => {
    const resolved = resolveRunOptions(runArgs(['s', '--time-scale', '0.25', '--trace', 't.json']), undefined, host);
    expect(resolved.traceFile).toBe('t.json');
    expect(resolved.command).toBe('irqlab run s --cpus 8 --mode parallel --seed 424242 --duration 100ms --time-scale 0.25');
  });

  it('the reproducing command parses back to the same run', () => {
    const first = resolveRunOptions(runArgs(['./my scenario.ts', '--duration', '1234567ns', '--time-scale', '3']), undefined, host);
    const again = parseCommandLine(splitShell(first.command).slice(1));
    if (again.command !== 'run') throw new Error('not a run');
    const second = resolveRunOptions(again.args, undefined, host);
    expect(second).toMatchObject({ scenario: './my scenario.ts', cpus: 8, seed: 424242, durationNs: 1234567, timeScale: 3 });
    expect(second.command).toBe(first.command);
  });
});

describe('shellQuote / reproduceCommand', () => {
  it('quotes only when needed', () => {
    expect(shellQuote('interrupt-storm')).toBe('interrupt-storm');
    expect(shellQuote('./a/b.ts')).toBe('./a/b.ts');
    expect(shellQuote("it's here.ts")).toBe(`'it'\\''s here.ts'`);
  });

  it('builds the documented shape', () => {
    expect(reproduceCommand({ scenario: 'x', cpus: 2, mode: 'deterministic', seed: 3, durationNs: 2e6, timeScale: 1 })).toBe(
      'irqlab run x --cpus 2 --mode deterministic --seed 3 --duration 2ms',
    );
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
