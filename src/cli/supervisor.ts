/**
 * The `irqlab` process's main thread when it runs a scenario (`run`, `replay`, `minimize`): a thin
 * supervisor. The command's pipeline (load, validate, compile, run, results()/checks()/outcome(),
 * printing) runs in a worker (workers/cli.ts → runCli), so that whatever the scenario's own code
 * does there, this thread still answers: it relays the worker's output, stops it on SIGINT (exit
 * 130) or SIGTERM (exit 143), and stops it when one call of the scenario's code (the module's top
 * level, a builder callback, results(), checks(), outcome()) runs longer than --code-timeout (exit
 * 1, naming the function).
 * Terminating the pipeline worker ends the machine's workers too (they are its children).
 * Other commands run here, in process: help, list, version and usage errors; `explore`, whose main
 * thread runs none of the scenario's code (its pool workers do); `inspect`, an interactive session.
 */

import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CODE_TIMEOUT_S, parseCommandLine } from './args.js';
import { MODULE_TOP_LEVEL } from './scenario-code.js';
import { sealInterruptedTrace } from '../machine/chrome-trace.js';
import { minimizedPathFor } from '../explore/replay-file.js';
import type { PipelineMessage } from '../ipc/messages.js';

/** What the pipeline worker starts with. */
export interface PipelineData {
  argv: string[];
  stderrIsTTY: boolean;
  stderrColumns?: number;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * The least time the module's top level gets, whatever --code-timeout says: loading a file includes
 * the loader's own work (transforming TypeScript, filling its cache), which a busy host slows down.
 */
const TOP_LEVEL_MIN_TIMEOUT_MS = 60_000;

/** How long to wait for a terminated worker to be gone before exiting anyway. */
const TERMINATE_GRACE_MS = 2000;

/**
 * Run the command line; resolves to the exit code once the pipeline worker is gone.
 * `inProcess` runs the commands that need no supervision (runCli).
 */
export async function runSupervised(argv: readonly string[], inProcess: (argv: readonly string[]) => Promise<number>): Promise<number> {
  const startedMs = Date.now();
  let limitMs: number;
  let traceFile: string | undefined;
  /** minimize's output file: written only at its end, so an interrupted minimize says whether it was */
  let minimizedFile: string | undefined;
  let verbose = false;
  try {
    const command = parseCommandLine(argv, process.env);
    if (command.command === 'run' || command.command === 'replay') traceFile = command.args.trace;
    else if (command.command === 'minimize') minimizedFile = command.args.out ?? minimizedPathFor(command.args.file);
    else return await inProcess(argv);
    limitMs = command.args.codeTimeoutMs ?? DEFAULT_CODE_TIMEOUT_S * 1000;
    verbose = command.args.verbose;
  } catch {
    // runCli reports it (one line, exit 1)
    return inProcess(argv);
  }
  const data: PipelineData = { argv: [...argv], stderrIsTTY: process.stderr.isTTY === true };
  if (process.stderr.columns !== undefined) data.stderrColumns = process.stderr.columns;
  const worker = new Worker(new URL('../../workers/cli.js', import.meta.url), { workerData: data, name: 'irqlab run' });

  return new Promise<number>((resolve) => {
    /** the scenario functions the pipeline is inside now, innermost last */
    const inside: Array<{ scenario: string; what: string }> = [];
    let limitTimer: ReturnType<typeof setTimeout> | null = null;
    let finished = false;
    /** runCli's exit code, once the worker has sent it */
    let reported: number | null = null;
    /** a signal cut the run while it wrote its trace: close the trace's JSON once the worker is gone */
    let sealTrace = false;

    const finish = (code: number, line?: string): void => {
      if (finished) return;
      finished = true;
      if (limitTimer) clearTimeout(limitTimer);
      for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) process.removeListener(signal, onSignal);
      if (line !== undefined) {
        // erase a progress line the worker may have left
        if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
        process.stderr.write(line);
      }
      const grace = new Promise<void>((done) => setTimeout(done, TERMINATE_GRACE_MS).unref());
      const terminated = worker.terminate().then(
        () => true,
        () => false,
      );
      void Promise.race([terminated, grace.then(() => false)]).then((gone) => {
        // the writer is stopped for good only once its worker is gone: then the cut trace can be closed
        if (gone && sealTrace && traceFile !== undefined) sealInterruptedTrace(traceFile);
        resolve(code);
      });
    };

    const current = (): string => {
      const top = inside[inside.length - 1];
      return top ? `scenario '${top.scenario}': ${top.what}` : '';
    };

    function onSignal(signal: HandledSignal): void {
      const where = current();
      // the trace is streamed to its file as the run goes: say that what is there is cut short
      sealTrace = traceFile !== undefined && writtenSince(traceFile, startedMs);
      const traceCut = sealTrace ? `; the trace in ${traceFile} ends where the run was stopped` : '';
      const written = minimizedFile === undefined ? '' : writtenSince(minimizedFile, startedMs) ? `; ${minimizedFile} was written` : '; nothing written';
      finish(SIGNAL_EXIT_CODES[signal], `irqlab: interrupted (${signal})${where ? ` while ${where} was running` : ''}${traceCut}${written}\n`);
    }
    for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) process.on(signal, onSignal);

    worker.on('message', (message: PipelineMessage) => {
      if (finished) return;
      switch (message.type) {
        case 'stdout':
          process.stdout.write(message.text);
          return;
        case 'stderr':
          process.stderr.write(message.text);
          return;
        case 'enter':
          inside.push({ scenario: message.scenario, what: message.what });
          if (limitTimer) clearTimeout(limitTimer);
          {
            const topLevel = message.what === MODULE_TOP_LEVEL;
            const ms = topLevel ? Math.max(limitMs, TOP_LEVEL_MIN_TIMEOUT_MS) : limitMs;
            limitTimer = setTimeout(() => {
              finish(1, `irqlab: ${current()} did not return within ${ms / 1000} s of host time${topLevel ? '' : ' (--code-timeout)'}\n`);
            }, ms);
          }
          return;
        case 'leave':
          inside.pop();
          if (limitTimer) clearTimeout(limitTimer);
          limitTimer = null;
          return;
        case 'exit':
          // the worker ends by itself once runCli has returned, and its console output (a scenario's
          // console.log) reaches this process before its 'exit' event; something the scenario left
          // running (a timer) must not keep it alive, though
          reported = message.code;
          setTimeout(() => finish(message.code), TERMINATE_GRACE_MS).unref();
          return;
      }
    });
    worker.on('error', (error) => {
      const stack = verbose && error.stack ? `${error.stack}\n` : '';
      finish(
        3,
        `irqlab: internal error: the run's worker failed: ${error.message.split('\n', 1)[0]}${verbose ? '' : ' (run with --verbose for the stack)'}\n${stack}`,
      );
    });
    worker.on('exit', (code) => {
      if (reported !== null) finish(reported);
      else finish(3, `irqlab: internal error: the run's worker exited (code ${code}) without finishing the command\n`);
    });
  });
}

/** Whether `file` exists and was written at or after `sinceMs` (this run's, not an older file). */
function writtenSince(file: string, sinceMs: number): boolean {
  try {
    return statSync(file).mtimeMs >= sinceMs - 1000;
  } catch {
    return false;
  }
}
