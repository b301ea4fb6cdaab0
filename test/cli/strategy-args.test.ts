// `irqlab run --strategy random|pct|perturb --depth D`: parsed and checked (deterministic mode only,
// --depth with pct only), and kept in the line that reproduces the run (the replay command).
import { describe, expect, it } from 'vitest';
import { parseCommandLine, reproduceCommand, resolveRunOptions } from '../../src/cli/args.js';
import type { RunArgs } from '../../src/cli/args.js';
import { replayCommandFor } from '../../src/machine/execute.js';
import { UsageError } from '../../src/util/errors.js';

const host = { availableParallelism: 8, randomSeed: () => 424242 };

function runArgs(argv: string[]): RunArgs {
  const command = parseCommandLine(['run', ...argv], {});
  if (command.command !== 'run') throw new Error(`expected run, got ${command.command}`);
  return command.args;
}

function usageError(argv: string[]): string {
  try {
    parseCommandLine(['run', ...argv], {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('irqlab run --strategy / --depth', () => {
  it('takes a strategy and pct’s depth in deterministic mode', () => {
    expect(runArgs(['s', '--mode', 'deterministic', '--strategy', 'pct', '--depth', '5'])).toMatchObject({ strategy: 'pct', depth: 5 });
    expect(runArgs(['s', '--mode', 'deterministic', '--strategy', 'perturb'])).toMatchObject({ strategy: 'perturb' });
    expect(runArgs(['s', '--mode', 'deterministic']).strategy).toBeUndefined();
  });

  it('refuses a strategy it does not know, a bad depth, --depth without pct and a strategy in parallel mode, each in one line', () => {
    expect(usageError(['s', '--mode', 'deterministic', '--strategy', 'dfs'])).toMatch(/--strategy must be 'random', 'pct', 'perturb' \(got dfs\)/);
    expect(usageError(['s', '--mode', 'deterministic', '--strategy', 'pct', '--depth', '0'])).toMatch(/--depth must be an integer from 1/);
    expect(usageError(['s', '--mode', 'deterministic', '--strategy', 'perturb', '--depth', '2'])).toBe('--depth applies to --strategy pct only');
    expect(usageError(['s', '--mode', 'deterministic', '--depth', '2'])).toBe('--depth applies to --strategy pct only');
    expect(usageError(['s', '--strategy', 'pct'])).toMatch(/--strategy applies to --mode deterministic only/);
  });

  it('keeps the strategy and depth in the reproducing line and the replay command; random is left out, as before', () => {
    const pct = resolveRunOptions(runArgs(['s', '--mode', 'deterministic', '--strategy', 'pct', '--seed', '7']), undefined, host);
    expect(pct.command).toBe('irqlab run s --cpus 8 --mode deterministic --seed 7 --duration 100ms --strategy pct --depth 3');
    expect(replayCommandFor({ mode: 'deterministic', seed: 7, command: pct.command })).toBe(
      'irqlab run s --cpus 8 --duration 100ms --strategy pct --depth 3 --mode deterministic --seed 7',
    );
    const again = parseCommandLine(pct.command.split(' ').slice(1), {});
    expect(again.command === 'run' && again.args).toMatchObject({ strategy: 'pct', depth: 3, seed: 7 });
    expect(reproduceCommand({ scenario: 's', cpus: 2, mode: 'deterministic', seed: 1, durationNs: 1e6, strategy: 'perturb' })).toBe(
      'irqlab run s --cpus 2 --mode deterministic --seed 1 --duration 1ms --strategy perturb',
    );
    expect(reproduceCommand({ scenario: 's', cpus: 2, mode: 'deterministic', seed: 1, durationNs: 1e6, strategy: 'random' })).toBe(
      'irqlab run s --cpus 2 --mode deterministic --seed 1 --duration 1ms',
    );
  });
});
