#!/usr/bin/env node
/**
 * The irqlab command: parse → load → validate → run → print → exit code.
 *   0 ok · 1 usage or scenario error · 2 the emulated system failed (bugcheck or a failed check)
 *   · 3 internal error · 130/143 interrupted (SIGINT/SIGTERM).
 * The `irqlab` binary runs `run` under the supervisor (supervisor.ts): this pipeline in a worker,
 * which the main thread stops on a signal or when the scenario's own code does not return.
 * Every error is one line on stderr starting `irqlab: ` (the stack only with --verbose). Results
 * go to stdout: the summary (and the bugcheck analysis), or with --json one JSON object and
 * nothing else. Progress goes to stderr, only on a terminal.
 */

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { parseCommandLine, resolveRunOptions } from './args.js';
import type { RunArgs } from './args.js';
import { formatBugcheck, formatJson, formatScenarioList, formatScenarioListJson, formatSummary } from './format.js';
import { createProgress } from './progress.js';
import type { ProgressStream } from './progress.js';
import { loadScenario } from '../scenario/load.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario } from '../scenario/validate.js';
import { checkTracePath } from '../machine/chrome-trace.js';
import { BreaktraceStopped } from '../machine/latency-breaktrace.js';
import { formatLatencyReport } from './latency-format.js';
import { ExitCode } from '../machine/result.js';
import type { RunResult } from '../machine/result.js';
import { BUILTIN_SCENARIOS } from '../scenarios/index.js';
import { ScenarioError, UsageError } from '../util/errors.js';
import { inScenarioCodeAsync, MODULE_TOP_LEVEL, watchScenarioCode } from './scenario-code.js';
import type { ScenarioCodeListener } from './scenario-code.js';

// the machine (run.js and what it imports) is most of the CLI's load time: imported when a run
// needs it, so that the supervisor's thread, which only parses and relays, does without it
type RunModule = typeof import('../machine/run.js');

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

export interface CliOptions {
  /** told which scenario function runs (the supervisor's pipeline worker: supervisor.ts) */
  scenarioCode?: ScenarioCodeListener;
  /** end the process on SIGINT (130) and SIGTERM (143) during a run (default true; a worker gets no signals) */
  handleSignals?: boolean;
}

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/**
 * Run the command line (argv without node and the script) in this thread; resolves to the exit
 * code. The `irqlab` binary runs it under the supervisor (supervisor.ts), which can stop it.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo(), cliOptions: CliOptions = {}): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    const command = parseCommandLine(argv, io.env);
    switch (command.command) {
      case 'help':
        io.stdout.write(command.text);
        return ExitCode.Ok;
      case 'version':
        io.stdout.write(`${packageVersion()}\n`);
        return ExitCode.Ok;
      case 'list':
        io.stdout.write(command.json ? formatScenarioListJson(BUILTIN_SCENARIOS) : formatScenarioList(BUILTIN_SCENARIOS));
        return ExitCode.Ok;
      case 'run':
        return await run(command.args, io, cliOptions);
      case 'explore':
        return await (await import('./explore-command.js')).exploreCommand(command.args, io, cliOptions.handleSignals ?? true);
      case 'replay':
        return await (await import('./replay-command.js')).replayCommand(command.args, io, cliOptions.handleSignals ?? true, cliOptions.scenarioCode);
      case 'minimize':
        return await (await import('./minimize-command.js')).minimizeCommand(command.args, io, cliOptions.handleSignals ?? true, cliOptions.scenarioCode);
      case 'inspect':
        return await (await import('./inspect-command.js')).inspectCommand(command.args, io);
    }
  } catch (error) {
    return reportError(error, verbose, io);
  }
}

async function run(args: RunArgs, io: CliIo, cliOptions: CliOptions): Promise<number> {
  let loaded: LoadedScenario | undefined;
  const progress = createProgress(args.scenario, io.stderr);
  const handleSignals = cliOptions.handleSignals ?? true;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    progress.clear();
    loaded?.dispose();
    io.stderr.write(`irqlab: interrupted (${signal})\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const listener = cliOptions.scenarioCode;
  try {
    loaded = await inScenarioCodeAsync(listener, args.scenario, MODULE_TOP_LEVEL, () => loadScenario(args.scenario));
    const machine = loaded.definition.machine as { cpus?: unknown; durationMs?: unknown; arch?: unknown } | undefined;
    const options = resolveRunOptions(args, typeof machine === 'object' && machine !== null ? machine : undefined);
    const arch = machine?.arch === 'x86' ? 'x86' : 'x64';
    validateScenario(loaded.definition, { cpus: options.cpus, arch });
    if (options.traceFile !== undefined) checkTracePath(options.traceFile, loaded.kind === 'file' ? loaded.source : undefined);
    if (options.breaktraceFile !== undefined) checkTracePath(options.breaktraceFile, loaded.kind === 'file' ? loaded.source : undefined, '--breaktrace-out');
    if (options.verbose) {
      io.stderr.write(`irqlab: ${loaded.kind === 'builtin' ? 'built-in scenario' : 'scenario file'} ${loaded.source}\n`);
      io.stderr.write(`irqlab: ${options.command}\n`);
    }
    const watched: LoadedScenario = listener ? { ...loaded, definition: watchScenarioCode(loaded.definition, listener) } : loaded;
    let result: RunResult;
    try {
      const { runScenario } = (await import('../machine/run.js')) as RunModule;
      result = await runScenario(watched, {
        cpus: options.cpus,
        mode: options.mode,
        seed: options.seed,
        durationNs: options.durationNs,
        ...(options.pace !== undefined ? { pace: options.pace } : {}),
        ...(options.slackNs !== undefined ? { slackNs: options.slackNs } : {}),
        ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}),
        ...(options.clockMs !== undefined ? { clockIntervalMs: options.clockMs } : {}),
        ...(options.lazyIrql ? { lazyIrql: true } : {}),
        ...(options.traceFile !== undefined ? { traceFile: options.traceFile } : {}),
        ...(options.breaktraceNs !== undefined ? { breaktrace: { aboveNs: options.breaktraceNs, file: options.breaktraceFile! } } : {}),
        verbose: options.verbose,
        command: options.command,
        ...(options.codeTimeoutMs !== undefined ? { nativeTimeoutMs: options.codeTimeoutMs } : {}),
        ...(options.strategy !== undefined
          ? { schedule: { strategy: options.strategy, ...(options.depth !== undefined ? { depth: options.depth } : {}) } }
          : {}),
        onProgress: (emulatedNs, durationNs) => progress.update(emulatedNs, durationNs),
      });
    } catch (error) {
      if (!(error instanceof BreaktraceStopped)) throw error;
      // cyclictest's --breaktrace: the run stopped at the first routine over the bound; exit 2 as a failed check
      if (options.json) io.stdout.write(`${JSON.stringify({ breaktrace: error.info }, null, 2)}\n`);
      else io.stdout.write(`${error.message} (${error.info.records} trace records, Chrome trace JSON: open it at ui.perfetto.dev)\n`);
      return ExitCode.SystemFailed;
    } finally {
      progress.clear();
    }
    if (options.json) {
      io.stdout.write(formatJson(result));
    } else {
      io.stdout.write(formatSummary(result));
      if (options.latency) io.stdout.write(`\n${formatLatencyReport(result.latency, result.cpus)}`);
      if (result.bugcheck) io.stdout.write(`\n${formatBugcheck(result)}`);
    }
    if (options.traceFile !== undefined && options.verbose) io.stderr.write(`irqlab: trace written to ${options.traceFile}\n`);
    const failed = result.bugcheck !== null || result.checks.some((check) => !check.passed);
    return failed ? ExitCode.SystemFailed : ExitCode.Ok;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    loaded?.dispose();
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}

export function reportError(error: unknown, verbose: boolean, io: CliIo): number {
  const err = error instanceof Error ? error : new Error(String(error));
  const known = err instanceof UsageError || err instanceof ScenarioError;
  const message = firstLine(err.message) || err.name;
  if (known) {
    io.stderr.write(`irqlab: ${message}\n`);
  } else {
    io.stderr.write(`irqlab: internal error: ${message}${verbose ? '' : ' (run with --verbose for the stack)'}\n`);
  }
  if (verbose) {
    let current: unknown = err;
    let depth = 0;
    while (current instanceof Error && depth < 5) {
      io.stderr.write(`${depth > 0 ? 'Caused by: ' : ''}${current.stack ?? current.message}\n`);
      current = current.cause;
      depth++;
    }
  }
  return known ? ExitCode.Usage : ExitCode.Internal;
}

function packageVersion(): string {
  for (const relative of ['../../../package.json', '../../package.json']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'irqlab' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// the pipeline worker (workers/cli.ts) imports this module too, with the same process.argv[1]
if (isMainThread && isEntryPoint()) {
  // a closed pipe (`irqlab list | head -1`) is not an error worth a stack
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  // imported here, not above: the supervisor is the entry's business, and runCli is its in-process half
  const { runSupervised } = await import('./supervisor.js');
  const code = await runSupervised(process.argv.slice(2), (argv) => runCli(argv));
  process.exitCode = code;
  // the machine stops its workers; should anything still hold the event loop, do not hang on it
  setTimeout(() => process.exit(code), 2000).unref();
}
