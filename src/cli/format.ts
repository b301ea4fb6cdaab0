/**
 * Human-readable reports of a RunResult: the run summary (per-CPU tables, time at IRQL, latency,
 * results and checks), the debugger-style bugcheck analysis (the shape of `!analyze -v`), and the
 * JSON output of `--json`. Pure string building: nothing here writes to a stream.
 */

import type { BugcheckInfo, CpuSummary, InterruptAccounting, LatencySummary, RunResult, ThreadSummary } from '../machine/result.js';
import { availableParallelism } from 'node:os';
import { irqlName, irqlTable, type Arch } from '../kernel/irql.js';
import { NOT_REPLAYABLE } from './args.js';

/** CPU columns per table block; wider machines get several blocks. */
export const CPU_COLUMNS_PER_BLOCK = 16;

// ---------------------------------------------------------------- small helpers

type Align = 'left' | 'right';

/** A plain-text table: the first column left-aligned, the others right-aligned; two spaces apart. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly Align[], indent = '  '): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const alignOf = (i: number): Align => align?.[i] ?? (i === 0 ? 'left' : 'right');
  const line = (cells: readonly string[]): string =>
    indent +
    cells
      .map((cell, i) => (alignOf(i) === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));

/** ns → "12.34 µs" style with 2 decimals, in µs. */
export function formatMicros(ns: number): string {
  return (ns / 1000).toFixed(2);
}

/** A duration for headers: ns / µs / ms / s with sensible precision. */
export function formatDuration(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(3)} µs`;
  return `${Math.round(ns)} ns`;
}

function formatHostMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function percent(part: number, whole: number): string {
  if (part <= 0 || whole <= 0) return '-';
  const p = (100 * part) / whole;
  if (p < 0.05) return '<0.1%';
  return `${p.toFixed(1)}%`;
}

function blocks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

/** 64-bit two's-complement hex, 16 digits, lowercase (how the debugger shows a ULONG_PTR). */
export function hex64(value: number): string {
  const big = Number.isInteger(value) ? BigInt(value) : BigInt(Math.trunc(value));
  return BigInt.asUintN(64, big).toString(16).padStart(16, '0');
}

/** Unpadded lowercase hex (two's complement for negatives), like BUGCHECK_P1. */
function hexShort(value: number): string {
  return BigInt.asUintN(64, BigInt(Math.trunc(value))).toString(16);
}

function resultValue(value: number | string | boolean | number[]): string {
  if (Array.isArray(value)) {
    const shown = value.slice(0, 16).join(', ');
    return value.length > 16 ? `[${shown}, … (${value.length} values)]` : `[${shown}]`;
  }
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  return String(value);
}

function vectorOrder(a: string, b: string): number {
  return Number.parseInt(a, 16) - Number.parseInt(b, 16);
}

// ---------------------------------------------------------------- summary

/** What the summary needs to know about the host it ran on. */
export interface HostFacts {
  /** cores Node may run workers on (os.availableParallelism()) */
  cores: number;
}

/** The run summary printed after `irqlab run` (without --json). */
/** One line saying where every device assertion ended up: asserted (+ re-asserted) = taken + pending + undelivered. */
export function formatInterruptAccounting(a: InterruptAccounting): string {
  const left = `${int(a.asserted)} asserted${a.reasserted > 0 ? ` + ${int(a.reasserted)} re-asserted (unclaimed, level-triggered)` : ''}`;
  const right = `${int(a.taken)} taken + ${int(a.pendingInLocalApics)} pending in local APICs + ${int(a.undelivered)} undelivered`;
  const gap =
    a.unaccounted === 0
      ? ''
      : ` — ${int(a.unaccounted)} NOT ACCOUNTED FOR${a.exact ? '' : ' (a worker was stopped from outside; its last counts are missing)'}`;
  return `device interrupts: ${left} = ${right}${gap}`;
}

/** One line on the local APICs' task-priority writes, and with lazy IRQL the writes it saved over eager IRQL. */
export function formatTaskPriority(tpr: RunResult['taskPriority']): string {
  const scheme = tpr.lazyIrql ? `lazy IRQL saved ${int(tpr.writesSaved)}` : 'eager IRQL: one per IRQL change; --lazy-irql defers them';
  return `task-priority writes: ${int(tpr.writes)} (${scheme})`;
}

export function formatSummary(result: RunResult, host: HostFacts = { cores: availableParallelism() }): string {
  const out: string[] = [];
  const cpuWord = result.cpus === 1 ? 'CPU' : 'CPUs';
  out.push(
    `${result.scenario}: ${modeLabel(result)}, seed ${result.seed}, ${result.cpus} ${cpuWord} (${result.arch}), ` +
      `${formatDuration(result.emulatedTimeNs)} emulated in ${formatHostMs(result.hostTimeMs)} host, trace hash ${result.traceHash}`,
  );
  out.push('');
  out.push(perCpuTable(result.perCpu, result.emulatedTimeNs));
  if (result.threads?.length) out.push('', 'Threads', threadTable(result.threads));
  const vectors = interruptsByVector(result.perCpu, result.arch);
  if (vectors) out.push('', 'Interrupts by vector', vectors);
  const irqls = timeAtIrql(result);
  if (irqls) out.push('', "Time at IRQL (% of each CPU's time)", irqls);
  // no interrupt was timed (no devices, or none fired): an all-dash table says nothing
  if (result.latency.assertToIsr.count > 0 || result.latency.isrToDpc.count > 0) out.push('', 'Latency (µs)', latencyTable(result.latency));

  const notes: string[] = [];
  if (result.mode === 'parallel' && result.cpus > host.cores) {
    const shared = `note: ${result.cpus} emulated CPUs shared ${host.cores} host ${host.cores === 1 ? 'core' : 'cores'}, so they did not all run at the same time: `;
    notes.push(
      result.pace === 'host'
        ? `${shared}races are rarer and interrupt and IPI latencies longer than on real hardware (deterministic mode does not depend on host cores)`
        : `${shared}races are rarer than on real hardware (emulated time is the cycles each CPU executed, not host time)`,
    );
  }
  if (result.virtualTime && typeof result.slackNs === 'number') {
    // the slack bounds the error of every latency above: say how it held
    notes.push(
      `virtual time: each CPU ran at most ${formatDuration(result.slackNs)} (the slack) ahead of the slowest; largest lead seen ${formatDuration(result.virtualTime.maxSkewNs)}, ${int(result.virtualTime.slackWaits)} waits at the slack`,
    );
  }
  const unclaimed = result.perCpu.reduce((sum, c) => sum + (c.unclaimedInterrupts ?? 0), 0);
  if (unclaimed > 0) notes.push(`${int(unclaimed)} device interrupts were not claimed by any ISR`);
  if (result.unresponsiveCpus?.length) notes.push(`CPUs that did not report at the end (stopped from outside): ${result.unresponsiveCpus.join(', ')}`);
  if (result.userEventLimit?.limitReached) {
    const { limitPerCpu, dropped } = result.userEventLimit;
    notes.push(
      `run.userEvents kept the first ${int(limitPerCpu)} TRACE events of each CPU: ${int(dropped)} later ones are in the trace but not in run.userEvents`,
    );
  }
  if (result.deviceAssertions?.length) {
    notes.push(`device assertions: ${result.deviceAssertions.map((d) => `${d.name} ${int(d.asserted)}`).join(', ')}`);
  }
  if (result.interruptAccounting && result.deviceAssertions?.length) notes.push(formatInterruptAccounting(result.interruptAccounting));
  if (result.taskPriority) notes.push(formatTaskPriority(result.taskPriority));
  if (notes.length > 0) out.push('', ...notes);

  const results = Object.entries(result.results ?? {});
  if (results.length > 0) {
    out.push('', 'Results');
    const width = Math.max(...results.map(([name]) => name.length));
    for (const [name, value] of results) out.push(`  ${name.padEnd(width)} = ${resultValue(value)}`);
  }
  if (result.checks.length > 0) {
    out.push('', 'Checks');
    for (const check of result.checks) out.push(`  ${check.passed ? 'PASS' : 'FAIL'} ${check.name}${check.detail ? ` — ${check.detail}` : ''}`);
  }
  const failed = result.checks.filter((c) => !c.passed).length;
  out.push('');
  if (result.bugcheck)
    out.push(`BUGCHECK ${result.bugcheck.name} (0x${result.bugcheck.code.toString(16)}) on CPU ${result.bugcheck.cpu}: see the analysis below`);
  else {
    const verdict = failed > 0 ? `${failed} of ${result.checks.length} checks failed.` : 'OK.';
    if (result.replayCommand === null) {
      out.push(`${verdict} The run (${NOT_REPLAYABLE}): ${result.command}`, replayableHint(result.command, ''));
    } else {
      out.push(`${verdict} The run: ${result.command}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** `deterministic mode`, or `parallel mode (virtual time, slack 10.000 µs)` / `(host time: latencies include the host)`. */
function modeLabel(result: RunResult): string {
  if (result.mode !== 'parallel') return `${result.mode} mode`;
  if (result.pace === 'host') {
    const scale = result.timeScale !== null && result.timeScale !== undefined && result.timeScale !== 1 ? ` × ${result.timeScale}` : '';
    return `parallel mode (host time${scale}: latencies include the host)`;
  }
  const slack = typeof result.slackNs === 'number' ? `, slack ${formatDuration(result.slackNs)}` : '';
  return `parallel mode (virtual time${slack})`;
}

/**
 * A parallel run cannot be replayed; what can be said truthfully is how to get a run that can:
 * the same configuration in deterministic mode, which is another run (its own seeded schedule).
 */
function replayableHint(parallelCommand: string, outcome: string): string {
  return `For a run that replays exactly: ${deterministicCommand(parallelCommand)} (a seeded schedule of its own, not this run's${outcome})`;
}

/** A parallel run's command in deterministic mode: without its seed and its parallel-only options. */
export function deterministicCommand(command: string): string {
  const parts = command.split(' ');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '--mode' || parts[i] === '--seed' || parts[i] === '--pace' || parts[i] === '--slack' || parts[i] === '--time-scale') {
      i++;
      continue;
    }
    out.push(parts[i]!);
  }
  out.push('--mode', 'deterministic');
  return out.join(' ');
}

function perCpuTable(perCpu: readonly CpuSummary[], emulatedNs: number): string {
  const header = [
    'CPU',
    'Interrupts',
    'Deepest nesting',
    'DPCs',
    'Deepest DPC queue',
    'IPIs sent',
    'IPIs received',
    'Context switches',
    'Deepest ready queue',
    'Idle',
  ];
  const rows = perCpu.map((c) => [
    String(c.cpu),
    int(c.interrupts),
    String(c.maxNesting),
    int(c.dpcs),
    String(c.maxDpcQueueDepth),
    int(c.ipisSent),
    int(c.ipisReceived),
    int(c.contextSwitches ?? 0),
    String(c.maxReadyDepth ?? 0),
    percent(c.idleNs ?? 0, cpuTotalNs(c, emulatedNs)),
  ]);
  if (perCpu.length > 1) {
    const sum = (f: (c: CpuSummary) => number): number => perCpu.reduce((s, c) => s + f(c), 0);
    const max = (f: (c: CpuSummary) => number): number => Math.max(...perCpu.map(f));
    rows.push([
      'all',
      int(sum((c) => c.interrupts)),
      String(max((c) => c.maxNesting)),
      int(sum((c) => c.dpcs)),
      String(max((c) => c.maxDpcQueueDepth)),
      int(sum((c) => c.ipisSent)),
      int(sum((c) => c.ipisReceived)),
      int(sum((c) => c.contextSwitches ?? 0)),
      String(max((c) => c.maxReadyDepth ?? 0)),
      percent(
        sum((c) => c.idleNs ?? 0),
        sum((c) => cpuTotalNs(c, emulatedNs)),
      ),
    ]);
  }
  return renderTable(header, rows);
}

/** One row per scenario thread: where it ended, its priority, and what the CPUs counted. */
export function threadTable(threads: readonly ThreadSummary[]): string {
  const header = ['Thread', 'State', 'Priority', 'Base', 'CPU time (µs)', 'Switches', 'Waits', 'Ran on'];
  const rows = threads.map((t) => [
    t.name,
    t.state === 'Waiting' || t.state === 'Ready' ? `${t.state} (${t.waitReason})` : t.state,
    String(t.priority),
    String(t.basePriority),
    formatMicros(t.cpuTimeNs),
    int(t.contextSwitches),
    int(t.waits),
    t.ranOn.length === 0 ? '-' : t.ranOn.join(','),
  ]);
  return renderTable(header, rows, ['left', 'left']);
}

/** A table with one row per key and one column per CPU, in blocks of 16 CPUs; `total` adds a last column. */
function perCpuColumns(
  perCpu: readonly CpuSummary[],
  rowLabel: string,
  rowKeys: readonly string[],
  rowName: (key: string) => string,
  cell: (cpu: CpuSummary, key: string) => string,
  total: ((key: string) => string) | null,
): string {
  const groups = blocks(perCpu, CPU_COLUMNS_PER_BLOCK);
  return groups
    .map((group, index) => {
      const last = index === groups.length - 1;
      const header = [rowLabel, ...group.map((c) => `CPU${c.cpu}`), ...(last && total ? ['all'] : [])];
      const rows = rowKeys.map((key) => [rowName(key), ...group.map((c) => cell(c, key)), ...(last && total ? [total(key)] : [])]);
      return renderTable(header, rows);
    })
    .join('\n\n');
}

/** The kernel's own vectors by name; device vectors are shown as numbers. */
export function vectorLabel(arch: Arch, vector: string): string {
  const table = irqlTable(arch);
  const number = Number.parseInt(vector, 16);
  const name = number === table.clockVector ? 'CLOCK' : number === table.clockIpiVector ? 'CLOCK IPI' : number === table.ipiVector ? 'IPI' : '';
  return name ? `${vector} ${name}` : vector;
}

function interruptsByVector(perCpu: readonly CpuSummary[], arch: Arch): string | null {
  const vectors = [...new Set(perCpu.flatMap((c) => Object.keys(c.interruptsByVector ?? {})))].sort(vectorOrder);
  if (vectors.length === 0) return null;
  const count = (c: CpuSummary, v: string): number => c.interruptsByVector?.[v] ?? 0;
  return perCpuColumns(
    perCpu,
    'Vector',
    vectors,
    (v) => vectorLabel(arch, v),
    (c, v) => int(count(c, v)),
    perCpu.length > 1 ? (v) => int(perCpu.reduce((s, c) => s + count(c, v), 0)) : null,
  );
}

function cpuTotalNs(c: CpuSummary, fallback: number): number {
  const busy = Object.values(c.timeAtIrqlNs ?? {}).reduce((s, n) => s + n, 0);
  const total = busy + (c.idleNs ?? 0);
  return total > 0 ? total : fallback;
}

function timeAtIrql(result: RunResult): string | null {
  const { perCpu } = result;
  const levels = [...new Set(perCpu.flatMap((c) => Object.keys(c.timeAtIrqlNs ?? {})))]
    .map(Number)
    .sort((a, b) => a - b)
    .map(String)
    .filter((level) => perCpu.some((c) => (c.timeAtIrqlNs?.[level] ?? 0) > 0));
  const keys = [...levels];
  const idle = perCpu.some((c) => (c.idleNs ?? 0) > 0);
  if (idle) keys.push('idle');
  if (keys.length === 0) return null;
  const ns = (c: CpuSummary, key: string): number => (key === 'idle' ? (c.idleNs ?? 0) : (c.timeAtIrqlNs?.[key] ?? 0));
  const grand = perCpu.reduce((s, c) => s + cpuTotalNs(c, result.emulatedTimeNs), 0);
  return perCpuColumns(
    perCpu,
    'IRQL',
    keys,
    (key) => (key === 'idle' ? 'idle (halted)' : `${key.padStart(2)} ${irqlName(result.arch, Number(key))}`),
    (c, key) => percent(ns(c, key), cpuTotalNs(c, result.emulatedTimeNs)),
    perCpu.length > 1
      ? (key) =>
          percent(
            perCpu.reduce((s, c) => s + ns(c, key), 0),
            grand,
          )
      : null,
  );
}

function latencyTable(latency: RunResult['latency']): string {
  const row = (name: string, l: LatencySummary): string[] =>
    l.count === 0 ? [name, '0', '-', '-', '-'] : [name, int(l.count), formatMicros(l.p50Ns), formatMicros(l.p99Ns), formatMicros(l.maxNs)];
  return renderTable(['', 'count', 'p50', 'p99', 'max'], [row('device assert → ISR start', latency.assertToIsr), row('ISR → DPC start', latency.isrToDpc)]);
}

// ---------------------------------------------------------------- bugcheck analysis

const BANNER_WIDTH = 79;

function bannerLine(text: string): string {
  const inner = BANNER_WIDTH - 2;
  const left = Math.floor((inner - text.length) / 2);
  return `${`*${' '.repeat(Math.max(0, left))}${text}`.padEnd(BANNER_WIDTH - 1)}*`;
}

function wrap(text: string, width = BANNER_WIDTH): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** The bugcheck analysis, in the shape of WinDbg's `!analyze -v`. */
export function formatBugcheck(result: RunResult): string {
  const bc = result.bugcheck;
  if (!bc) return '';
  const star = '*'.repeat(BANNER_WIDTH);
  const out: string[] = [star, bannerLine(''), bannerLine('Bugcheck Analysis'), bannerLine(''), star, ''];
  out.push(`${bc.name} (${bc.code.toString(16)})`);
  out.push(...wrap(bc.description));
  if (bc.detail) out.push(...wrap(`In this run: ${bc.detail}`));
  out.push('Arguments:');
  for (let i = 0; i < 4; i++) out.push(`Arg${i + 1}: ${hex64(bc.params[i] ?? 0)}, ${bc.paramMeanings[i] ?? ''}`.trimEnd());
  out.push('', 'Debugging Details:', '------------------', '');
  out.push(`BUGCHECK_CODE:  ${bc.code.toString(16)}`, '');
  for (let i = 0; i < 4; i++) out.push(`BUGCHECK_P${i + 1}: ${hexShort(bc.params[i] ?? 0)}`);
  out.push('');
  out.push(`CURRENT_IRQL:  ${bc.irql} (${bc.irqlName || irqlName(result.arch, bc.irql)})`, '');
  out.push(`PROCESSOR:  ${bc.cpu}`, '');
  out.push(`EMULATED_TIME:  ${formatMicros(bc.emulatedTimeNs)} µs`, '');
  out.push(
    `SCENARIO:  ${result.scenario} (${result.cpus} ${result.cpus === 1 ? 'CPU' : 'CPUs'}, ${result.arch}, ${result.mode} mode, seed ${result.seed})`,
    '',
  );
  if (bc.routine) out.push(`FAULTING_ROUTINE:  ${bc.routine}`, '');
  if (bc.faultingInstruction) out.push(`FAULTING_INSTRUCTION:  ${bc.faultingInstruction}`, '');
  out.push('STACK_TEXT:');
  out.push(...stackText(bc.frames, '  '));
  out.push('');

  out.push(...frozenStateText(bc));
  out.push('LAST EVENTS:');
  for (const cpu of bc.cpus) {
    const state = cpu.responded ? 'responded to the freeze' : 'did NOT respond to the freeze (stopped from outside)';
    const level = cpu.irql >= 0 ? `${cpu.irql} (${cpu.irqlName || irqlName(result.arch, cpu.irql)})` : 'unknown';
    const marker = cpu.cpu === bc.cpu ? ' <- bugchecked here' : '';
    out.push(`CPU ${cpu.cpu}: frozen at IRQL ${level}, ${state}${marker}`);
    if (cpu.cpu !== bc.cpu && cpu.frames.length > 0) {
      out.push('  running:');
      out.push(...stackText(cpu.frames, '    '));
    }
    if (cpu.lastEvents.length === 0) {
      out.push('  (no events)');
    } else {
      const rows = cpu.lastEvents.map((e) => [`${formatMicros(e.timeNs)} µs`, e.event, e.detail]);
      const timeWidth = Math.max(...rows.map((r) => r[0]!.length));
      const eventWidth = Math.max(...rows.map((r) => r[1]!.length));
      for (const [time, event, detail] of rows) out.push(`  ${time!.padStart(timeWidth)}  ${event!.padEnd(eventWidth)}  ${detail}`.trimEnd());
    }
    out.push('');
  }
  if (bc.replayCommand === null) {
    out.push(`The run (${NOT_REPLAYABLE}):`, result.command, replayableHint(result.command, ': it may or may not reach this crash'));
  } else {
    out.push('To replay this run:', bc.replayCommand);
  }
  return `${out.join('\n')}\n`;
}

/** The frozen state beyond the frames: the faulting CPU's DPC queue, the spin locks held and their owners, each CPU's ready lists. */
function frozenStateText(bc: BugcheckInfo): string[] {
  const out: string[] = [];
  const faulting = bc.cpus.find((c) => c.cpu === bc.cpu);
  out.push(`DPC_QUEUE (processor ${bc.cpu}, in the order it would run them):`);
  if (!faulting || faulting.dpcQueue.length === 0) out.push('  (empty)');
  for (const d of faulting?.dpcQueue ?? [])
    out.push(`  ${d.dpc}  routine ${d.routine}, queued at ${formatMicros(d.queuedNs)} µs${d.fromIsr ? ' by an ISR' : ''}`);
  out.push('', 'SPIN_LOCKS_HELD:');
  const held = bc.cpus.flatMap((c) => c.heldLocks);
  if (held.length === 0) out.push('  (none)');
  for (const l of held) out.push(`  ${l.lock}  held by CPU ${l.ownerCpu}, thread ${l.ownerThread}, taken by ${l.takenBy} at ${l.irqlName}`);
  out.push('', 'READY_THREADS (highest priority first):');
  for (const c of bc.cpus) {
    const list = c.readyThreads.map((t) => `${t.thread} (priority ${t.priority})`).join(', ');
    out.push(`  Processor ${c.cpu}: ${list || '(none)'}`);
  }
  out.push('');
  return out;
}

function stackText(frames: BugcheckInfo['frames'], indent: string): string[] {
  if (frames.length === 0) return [`${indent}(no frames)`];
  const innermostFirst = [...frames].reverse();
  return innermostFirst.map((f, i) => `${indent}${String(i).padStart(2, '0')} ${f.kind} ${f.routine} @ IRQL ${f.irql}`);
}

// ---------------------------------------------------------------- JSON

/** `--json`: the RunResult, 2-space indented, with a final newline. */
export function formatJson(result: RunResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

// ---------------------------------------------------------------- list

/** `irqlab list --json`: an array of {name, description}, 2-space indented, with a final newline. */
export function formatScenarioListJson(scenarios: ReadonlyArray<{ name: string; description: string }>): string {
  return `${JSON.stringify(
    scenarios.map((s) => ({ name: s.name, description: s.description })),
    null,
    2,
  )}\n`;
}

/** `irqlab list`: one line per scenario, descriptions aligned. */
export function formatScenarioList(scenarios: ReadonlyArray<{ name: string; description: string }>): string {
  const width = Math.max(0, ...scenarios.map((s) => s.name.length));
  return `${scenarios.map((s) => `${s.name.padEnd(width)}  ${s.description}`).join('\n')}\n`;
}
