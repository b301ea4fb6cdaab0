/**
 * `irqlab minimize FILE [--out F] [--max-runs N]`: shrink a replay file's schedule to what its
 * outcome needs (src/explore/minimize.ts), every test run a deterministic run in this thread (the
 * in-process backend: the same run as on workers, without thread start-ups), and write the result
 * as a new replay file with explicit decisions. Prints one screen: before → after, the runs it
 * took, and the decisions that remained, as CPU switches and interrupt arrivals.
 *
 * Exit codes: 0 written (also when --max-runs cut the search short: the file written still shows
 * the outcome, and the summary says the bound bit), 1 usage error, refused file, or a file whose
 * run no longer shows its outcome, 3 internal error.
 */

import type { CliIo } from './main.js';
import type { MinimizeArgs } from './replay-args.js';
import { formatDuration } from './format.js';
import { describeReplay, loadRecordedScenario, outcomeLabel, replayCommandLine, runRecorded } from './replay-command.js';
import { irqlabVersion, minimizedPathFor, readReplayFile, writeReplayFileAt } from '../explore/replay-file.js';
import type { ReplayFile, ReplayRecord } from '../explore/replay-file.js';
import { minimizeSchedule } from '../explore/minimize.js';
import type { MinimizeResult, TakenDecision, Trial, TrialRunner } from '../explore/minimize.js';
import type { DecisionKind, ScheduleDecision } from '../contract/schedule.js';
import { ExitCode } from '../machine/result.js';
import { DEFAULT_MINIMIZE_MAX_RUNS } from './replay-args.js';
import type { ScenarioDefinition } from '../scenario/define.js';
import { MODULE_TOP_LEVEL, inScenarioCodeAsync, watchScenarioCode } from './scenario-code.js';
import type { ScenarioCodeListener } from './scenario-code.js';

export async function minimizeCommand(args: MinimizeArgs, io: CliIo, handleSignals: boolean, listener?: ScenarioCodeListener): Promise<number> {
  const file = readReplayFile(args.file);
  const loaded = await inScenarioCodeAsync(listener, file.scenario.name, MODULE_TOP_LEVEL, () => loadRecordedScenario(file, args.file));
  const outPath = args.out ?? minimizedPathFor(args.file);
  const maxRuns = args.maxRuns ?? DEFAULT_MINIMIZE_MAX_RUNS;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
    io.stderr.write(`irqlab: interrupted (${signal}); nothing written\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const command = replayCommandLine(outPath);
  const run: TrialRunner = async (schedule, durationNs) => {
    // an in-process run yields only to microtasks: let the event loop take a signal between runs
    await new Promise<void>((resolve) => setImmediate(resolve));
    let decisions: TakenDecision[] = [];
    const { result, outcome, grade } = await runRecorded(file, loaded, {
      backend: 'in-process',
      schedule,
      durationNs,
      command,
      ...(listener ? { watch: (definition: ScenarioDefinition) => watchScenarioCode(definition, listener) } : {}),
      onDecisions: (taken) => {
        decisions = taken;
      },
    });
    const trial: Trial = {
      outcome,
      grade,
      bugcheck: result.bugcheck ? { code: result.bugcheck.code, name: result.bugcheck.name } : null,
      traceHash: result.traceHash,
      emulatedTimeNs: result.emulatedTimeNs,
      decisions,
    };
    return trial;
  };
  if (args.verbose) io.stderr.write(`irqlab: minimizing ${describeReplay(file)}\n`);
  let minimized: MinimizeResult;
  try {
    minimized = await minimizeSchedule(file, run, {
      maxRuns,
      onRun: (runs, phase, decisions) => {
        const line = `irqlab minimize: run ${runs}/${maxRuns}, ${phase}, ${decisions} decisions`;
        // a terminal gets one line redrawn; elsewhere --verbose gets a line per run
        if (io.stderr.isTTY) io.stderr.write(`\r${line}\x1b[K`);
        else if (args.verbose) io.stderr.write(`${line}\n`);
      },
    });
  } finally {
    if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const record = minimizedRecord(file, args.file, minimized);
  const written = writeReplayFileAt(outPath, record);
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          file: written,
          outcome: minimized.final.outcome,
          grade: minimized.final.grade,
          complete: minimized.complete,
          runs: minimized.runs,
          maxRuns,
          before: minimized.before,
          after: { decisions: minimized.schedule.decisions.length, durationNs: minimized.durationNs },
          decisions: describedDecisions(minimized),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout.write(formatMinimizeSummary(file, minimized, written, maxRuns));
  }
  return ExitCode.Ok;
}

/** The new replay file: the original's scenario, CPUs, clock, strategy and seed, the decisions and duration that remained. */
export function minimizedRecord(file: ReplayFile, fromPath: string, minimized: MinimizeResult): ReplayRecord {
  const final = minimized.final;
  return {
    scenario: file.scenario,
    run: { ...file.run, durationNs: minimized.durationNs },
    seed: file.seed,
    schedule: minimized.schedule,
    recorded: { outcome: final.outcome, grade: final.grade, bugcheck: final.bugcheck, traceHash: final.traceHash, emulatedTimeNs: final.emulatedTimeNs },
    created: { at: new Date().toISOString(), by: `irqlab minimize ${fromPath}`, irqlabVersion: irqlabVersion() },
    minimized: {
      from: fromPath,
      decisions: { before: minimized.before.decisions, after: minimized.schedule.decisions.length },
      durationNs: { before: minimized.before.durationNs, after: minimized.durationNs },
      runs: minimized.runs,
      complete: minimized.complete,
    },
  };
}

const SWITCH_KINDS: ReadonlySet<DecisionKind> = new Set(['slice', 'tie', 'priority', 'priority-change']);

/** A remaining decision, as the summary and --json tell it. */
interface DescribedDecision extends ScheduleDecision {
  group: 'cpu switch' | 'interrupt arrival';
  /** where the minimized run took it (emulated ns) and the CPU it concerns, when the emulator says */
  atNs?: number;
  atCpu?: number;
  text: string;
}

/** The remaining decisions, each with where the minimized run took it and what it does, in plain words. */
function describedDecisions(minimized: MinimizeResult): DescribedDecision[] {
  const taken = new Map(minimized.final.decisions.map((decision) => [decisionKey(decision), decision]));
  return minimized.schedule.decisions.map((decision) => {
    const where = taken.get(decisionKey(decision));
    const described: DescribedDecision = {
      ...decision,
      group: SWITCH_KINDS.has(decision.kind) ? 'cpu switch' : 'interrupt arrival',
      text: decisionText(decision, where?.neutral),
    };
    if (where?.atNs !== undefined) described.atNs = where.atNs;
    if (where?.atCpu !== undefined) described.atCpu = where.atCpu;
    return described;
  });
}

/** `CPU 1 at 12.345 µs` (an IPI: its sender) */
function positionText(item: DescribedDecision): string {
  // a priority change concerns the CPU that would run, which the position does not name
  const cpu = item.atCpu !== undefined && item.atCpu >= 0 && item.kind !== 'priority-change' ? `CPU ${item.atCpu}` : '';
  const at = item.atNs !== undefined ? `at ${formatDuration(item.atNs)}` : '';
  return [cpu, at].filter((part) => part !== '').join(' ');
}

function decisionText(decision: ScheduleDecision, neutral: number | undefined): string {
  const value = decision.value;
  switch (decision.kind) {
    case 'slice':
      return `runs ${value} cycles, then is switched out${neutral !== undefined ? ` (a full slice: ${neutral})` : ''}`;
    case 'tie':
      return `CPU ${value} runs first of the CPUs at the same time${neutral !== undefined ? ` (neutral: CPU ${neutral})` : ''}`;
    case 'priority':
      return `PCT: CPU ${decision.ordinal} starts with priority ${value} (0 runs first; neutral: CPU number order)`;
    case 'priority-change':
      return value === 1 ? 'PCT: the CPU that would run next drops to the lowest priority' : `PCT: priority change ${value}`;
    case 'device-delay':
      return `a device assertion due then lands ${formatDuration(value)} later`;
    case 'tick-phase':
      return `the clock's phase moved by ${formatDuration(value)}`;
    case 'ipi-delay':
      return `its IPI to CPU ${decision.cpu ?? '?'} is taken ${formatDuration(value)} after it was sent`;
  }
}

function decisionKey(decision: ScheduleDecision): string {
  return `${decision.kind}:${decision.cpu ?? ''}:${decision.ordinal}`;
}

/** At most this many decisions are listed (the rest are in the file). */
const LISTED_DECISIONS = 12;

/** The one screen minimize prints. */
export function formatMinimizeSummary(file: ReplayFile, minimized: MinimizeResult, written: string, maxRuns: number): string {
  const out: string[] = [];
  const final = minimized.final;
  const described = describedDecisions(minimized);
  const switchesBefore = minimized.original.decisions.filter((d) => d.value !== d.neutral && SWITCH_KINDS.has(d.kind)).length;
  const arrivalsBefore = minimized.original.decisions.filter((d) => d.value !== d.neutral && !SWITCH_KINDS.has(d.kind)).length;
  const switchesAfter = described.filter((d) => d.group === 'cpu switch').length;
  const arrivalsAfter = described.length - switchesAfter;
  out.push(`Minimized ${describeReplay(file)}: ${outcomeLabel(final.outcome, final.grade)} kept`);
  // a file with explicit decisions already: its list is the "before"; otherwise the recorded run's non-neutral decisions
  out.push(
    `  decisions          ${minimized.before.decisions} → ${described.length}`,
    `    CPU switches     ${file.schedule.decisions ? '' : `${switchesBefore} → `}${switchesAfter}`,
    `    interrupt moves  ${file.schedule.decisions ? '' : `${arrivalsBefore} → `}${arrivalsAfter}`,
    `  run               ${formatDuration(minimized.before.durationNs)} → ${formatDuration(minimized.durationNs)}`,
    `  test runs         ${minimized.runs}${minimized.complete ? '' : ` — stopped at --max-runs ${maxRuns}: the schedule may shrink further with more runs`}`,
  );
  out.push('', described.length === 0 ? 'The outcome needs no decision: the neutral schedule shows it.' : 'What the outcome needs:');
  for (const group of ['cpu switch', 'interrupt arrival'] as const) {
    const items = described.filter((d) => d.group === group);
    if (items.length === 0) continue;
    out.push(group === 'cpu switch' ? '  CPU switches' : '  interrupt arrivals');
    for (const item of items.slice(0, LISTED_DECISIONS)) {
      const name = `${item.kind} #${item.ordinal}`;
      out.push(`    ${name.padEnd(20)} ${positionText(item).padEnd(22)} ${item.text}`);
    }
    if (items.length > LISTED_DECISIONS) out.push(`    … ${items.length - LISTED_DECISIONS} more (in the file)`);
  }
  out.push('', `Written: ${written}`, `Replay it: ${replayCommandLine(written)}`);
  return `${out.join('\n')}\n`;
}
