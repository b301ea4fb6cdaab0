/**
 * `irqlab inspect <scenario|replay file>`: the time-travel inspector (src/inspect/). Builds the
 * deterministic run (the scenario with irqlab run's options in deterministic mode, or the run a
 * replay file records), runs it once on the in-process backend to learn its events, then answers
 * WinDbg-style commands: at a prompt on a terminal (node:readline), from --eval ('cmd; cmd', then
 * exit), or line by line from a pipe.
 *
 * Exit codes: 0 when the commands ran (the inspected run bugchecking is not a failure of the
 * command), 1 for a usage or scenario error and for an --eval command it does not take (named),
 * 3 internal error. At the prompt a bad command costs one line and the prompt comes back.
 */

import { createInterface } from 'node:readline';
import type { CliIo } from './main.js';
import type { InspectArgs } from './inspect-args.js';
import { REPLAY_EXTENSION, readReplayFile } from '../explore/replay-file.js';
import { loadRecordedScenario } from './replay-command.js';
import { loadScenario } from '../scenario/load.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario } from '../scenario/validate.js';
import type { RunOptions } from '../machine/execute.js';
import { ExitCode } from '../machine/result.js';
import { resolveRunOptions } from './args.js';
import type { RunArgs } from './args.js';
import { UsageError } from '../util/errors.js';
import { InspectSession } from '../inspect/session.js';
import { InspectCommandError, Inspector, splitCommands } from '../inspect/commands.js';

/** The run to inspect and the scenario module it came from (disposed at the end). */
async function inspectedRun(args: InspectArgs): Promise<{ loaded: LoadedScenario; options: RunOptions; what: string }> {
  if (args.target.endsWith(REPLAY_EXTENSION)) {
    const given = ['cpus', 'seed', 'durationNs', 'clockMs', 'strategy', 'depth'].filter((key) => args[key as keyof InspectArgs] !== undefined);
    if (given.length > 0)
      throw new UsageError(`a replay file fixes its run: inspect ${args.target} without --cpus, --seed, --duration, --clock, --strategy or --depth`);
    const file = readReplayFile(args.target);
    const loaded = await loadRecordedScenario(file, args.target);
    const options: RunOptions = {
      cpus: file.run.cpus,
      mode: 'deterministic',
      seed: file.seed,
      durationNs: file.run.durationNs,
      ...(file.run.clockIntervalMs !== undefined ? { clockIntervalMs: file.run.clockIntervalMs } : {}),
      schedule: file.schedule,
      verbose: args.verbose,
      command: `irqlab inspect ${args.target}`,
    };
    return { loaded, options, what: `the run ${args.target} records (${file.scenario.name}, seed ${file.seed})` };
  }
  const loaded = await loadScenario(args.target);
  // the same run as `irqlab run <scenario> --mode deterministic` with these flags
  const run: RunArgs = { scenario: args.target, mode: 'deterministic', json: false, verbose: args.verbose };
  for (const key of ['cpus', 'seed', 'durationNs', 'clockMs', 'strategy', 'depth'] as const)
    if (args[key] !== undefined) Object.assign(run, { [key]: args[key] });
  const resolved = resolveRunOptions(run, loaded.definition.machine as { cpus?: unknown; durationMs?: unknown } | undefined);
  const { cpus, seed } = resolved;
  const options: RunOptions = {
    cpus,
    mode: 'deterministic',
    seed,
    durationNs: resolved.durationNs,
    ...(resolved.clockMs !== undefined ? { clockIntervalMs: resolved.clockMs } : {}),
    ...(resolved.strategy !== undefined
      ? { schedule: { strategy: resolved.strategy, ...(resolved.depth !== undefined ? { depth: resolved.depth } : {}) } }
      : {}),
    verbose: args.verbose,
    command: resolved.command,
  };
  return { loaded, options, what: `${loaded.definition.name}, ${cpus} CPU${cpus === 1 ? '' : 's'}, seed ${seed}` };
}

export async function inspectCommand(args: InspectArgs, io: CliIo, input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin): Promise<number> {
  const { loaded, options, what } = await inspectedRun(args);
  try {
    const machine = loaded.definition.machine as { arch?: unknown } | undefined;
    const definition = validateScenario(loaded.definition, { cpus: options.cpus, arch: machine?.arch === 'x86' ? 'x86' : 'x64' });
    const session = await InspectSession.open({ definition, modulePath: loaded.modulePath, options });
    const inspector = new Inspector(session);
    await session.goTo(0);
    const bugcheck = session.result.bugcheck;
    const banner = `Inspecting ${what}: ${session.total} events, ${bugcheck ? `bugcheck 0x${bugcheck.code.toString(16)} ${bugcheck.name} at the last one` : 'no bugcheck'}. '?' lists the commands.\n`;
    if (args.eval !== undefined) {
      io.stdout.write(banner);
      for (const command of splitCommands(args.eval)) {
        io.stdout.write(`\n${inspector.prompt()}${command}\n`);
        try {
          const outcome = await inspector.execute(command);
          if (outcome.output) io.stdout.write(`${outcome.output}\n`);
          if (outcome.quit) break;
        } catch (error) {
          if (!(error instanceof InspectCommandError)) throw error;
          io.stderr.write(`irqlab: inspect: ${error.message}\n`);
          return ExitCode.Usage;
        }
      }
      return ExitCode.Ok;
    }
    return await prompt(inspector, io, input, banner);
  } finally {
    loaded.dispose();
  }
}

/** The interactive loop: one command per line; a bad one is one line on stderr and the prompt comes back. */
async function prompt(inspector: Inspector, io: CliIo, input: NodeJS.ReadableStream & { isTTY?: boolean }, banner: string): Promise<number> {
  const terminal = input.isTTY === true;
  const output = process.stdout;
  const lines = createInterface({ input, ...(terminal ? { output, terminal: true } : {}) });
  if (terminal) io.stdout.write(banner);
  const ask = (): void => {
    if (!terminal) return;
    lines.setPrompt(inspector.prompt());
    lines.prompt();
  };
  // Ctrl-C at the prompt ends the session as an interrupted command does (the terminal is in raw
  // mode, so it reaches readline, not the process)
  let interrupted = false;
  lines.on('SIGINT', () => {
    interrupted = true;
    io.stdout.write('\n');
    lines.close();
  });
  ask();
  try {
    for await (const line of lines) {
      for (const command of splitCommands(line)) {
        try {
          const outcome = await inspector.execute(command);
          if (outcome.quit) return ExitCode.Ok;
          if (outcome.output) io.stdout.write(`${outcome.output}\n`);
        } catch (error) {
          if (!(error instanceof InspectCommandError)) throw error;
          io.stderr.write(`irqlab: inspect: ${error.message}\n`);
        }
      }
      ask();
    }
  } finally {
    lines.close();
  }
  return interrupted ? 130 : ExitCode.Ok;
}
