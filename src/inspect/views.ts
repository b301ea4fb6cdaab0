/**
 * The inspector's processor views, in WinDbg's layout (nt-semantics.md §10): `!irql`, `!prcb`,
 * `!dpcs`, `!timer`, `!ready`, `k`, `u`, `dd` and `.events`. Each reads a Snapshot (the coordinator's
 * dispatcher database and the CPUs' PRCBs and frame stacks as they were at one trace record) and
 * returns text; nothing here changes the machine. Threads and spin locks: thread-views.ts.
 */

import { irqlName } from '../kernel/irql.js';
import { DISPATCH_LEVEL } from '../kernel/irql.js';
import { dpcTagCpu } from '../kernel/dpc.js';
import { prcbAddress } from '../kernel/prcb.js';
import { threadAddress } from '../kernel/dispatcher-call.js';
import { TIMER_TABLE_SIZE } from '../kernel/timer.js';
import type { KThread } from '../kernel/thread.js';
import { disassemble, disassembleRoutine } from '../isa/disasm.js';
import { ContextField, CounterField, DpcField, PrcbField } from '../shm/layout.js';
import { FRAME_CODE } from '../cpu/frames.js';
import { formatDuration } from '../cli/format.js';
import type { InspectSession, Snapshot } from './session.js';
import { addr, dpcAddress, objectAddress, routineSpans, symbolAt, systemTimeText, word } from './format.js';
import type { RoutineSpan } from './format.js';

const IMPORTANCE_NAMES = ['Low', 'Medium', 'High', 'MediumHigh'];

export function spansOf(snapshot: Snapshot): RoutineSpan[] {
  return routineSpans(snapshot.compiled.machine.routines, snapshot.compiled.code);
}

/** `!irql [cpu]`: the IRQL the CPU was at (the debugger's "saved IRQL": the machine stands still here). */
export function irqlView(snapshot: Snapshot, cpu: number): string {
  const irql = snapshot.actors.processors[cpu]!.prcb.irql;
  return `Debugger saved IRQL for processor 0x${cpu.toString(16)} -- ${irql} (${irqlName(snapshot.compiled.machine.arch, irql)})`;
}

/** Ticks of emulated ns, as the PRCB's time counters count them. */
function ticks(snapshot: Snapshot, ns: number): string {
  return word(Math.floor(ns / snapshot.compiled.machine.clockIntervalNs));
}

/** `!prcb [cpu]`: the PRCB's threads, identity, interrupt count and time counters, then the emulator's DPC and ready state. */
export function prcbView(snapshot: Snapshot, cpu: number): string {
  const { arch } = snapshot.compiled.machine;
  const processor = snapshot.actors.processors[cpu]!;
  const prcb = processor.prcb;
  const scheduler = snapshot.actors.coordinator.dispatcher.scheduler.prcbs[cpu]!;
  const f64 = snapshot.machine.f64;
  const i32 = new Int32Array(snapshot.machine.sab);
  const counters = snapshot.machine.layout.counters(cpu);
  // time at each IRQL is charged when the IRQL changes: add the stretch the CPU is in now
  const atIrql = (level: number): number => {
    let ns = f64[counters + CounterField.TIME_AT_IRQL + level]!;
    if (level === prcb.irql && !processor.halted) ns += Math.max(0, Math.min(processor.now(), snapshot.timeNs) - prcb.lastIrqlChangeNs);
    return ns;
  };
  let interruptNs = 0;
  for (let level = DISPATCH_LEVEL + 1; level < (arch === 'x86' ? 32 : 16); level++) interruptNs += atIrql(level);
  const next = scheduler.nextThread ? addr(threadAddress(scheduler.nextThread.id), arch) : addr(0, arch);
  const shared = snapshot.machine.layout.prcb(cpu);
  return [
    `PRCB for Processor ${cpu} at ${addr(prcbAddress(cpu), arch)}:`,
    `Current IRQL -- ${prcb.irql}`,
    `Threads--  Current ${addr(threadAddress(prcb.currentThread), arch)} Next ${next} Idle ${addr(threadAddress(prcb.idleThread), arch)}`,
    `Number ${cpu} SetMember ${word(cpu < 32 ? 1 << cpu : 0)}`,
    `Interrupt Count -- ${word(f64[counters + CounterField.INTERRUPTS]!)}`,
    `Times -- Dpc    ${ticks(snapshot, atIrql(DISPATCH_LEVEL))} Interrupt ${ticks(snapshot, interruptNs)}`,
    `         Kernel ${ticks(snapshot, atIrql(0) + atIrql(1))} User      ${word(0)}`,
    '',
    `DpcQueueDepth ${i32[shared + PrcbField.DPC_QUEUE_DEPTH]}  DpcRoutineActive ${prcb.dpcRoutineActive ? 1 : 0}  DpcInterruptRequested ${i32[shared + PrcbField.DPC_INTERRUPT_REQUESTED]}  MaximumDpcQueueDepth ${prcb.dpcRate.maximumDpcQueueDepth}  TimerRequest ${prcb.timerRequest ? 1 : 0}`,
    `ReadySummary ${word(scheduler.readySummary)}  Quantum ${prcb.quantum}  QuantumEnd ${prcb.quantumEnd ? 1 : 0}  ClockTicks ${prcb.ticksTaken}  ${processor.halted ? 'halted (idle)' : `running ${processor.describeRunning()}`}`,
  ].join('\n');
}

/** `!dpcs [cpu]`: each CPU's DPC queue, then DPCs claimed for a queue whose link message has not arrived. */
export function dpcsView(snapshot: Snapshot, only: number | null): string {
  const { arch, dpcNames, cpus } = snapshot.compiled.machine;
  const i32 = new Int32Array(snapshot.machine.sab);
  const layout = snapshot.machine.layout;
  const lines = [`CPU Type      KDPC${' '.repeat(arch === 'x64' ? 16 : 8)} Function`];
  const line = (cpu: number, dpc: number, note: string): string => {
    const record = layout.dpc(dpc);
    const routine = snapshot.compiled.machine.routines[i32[record + DpcField.ROUTINE]!];
    const importance = IMPORTANCE_NAMES[i32[record + DpcField.IMPORTANCE]!] ?? '?';
    return `${String(cpu).padStart(2)}: Normal  : 0x${addr(dpcAddress(dpc), arch)} 0x${addr(routine?.entry ?? 0, arch)} ${routine?.name ?? '?'}  (${dpcNames[dpc] ?? `#${dpc}`}, ${importance}${note})`;
  };
  let shown = 0;
  const queued = new Set<number>();
  for (let cpu = 0; cpu < cpus; cpu++) {
    for (const entry of snapshot.actors.processors[cpu]!.prcb.dpcQueue) {
      // an entry whose DpcData no longer carries its tag was removed (KeRemoveQueueDpc): the queue skips it
      if (i32[layout.dpc(entry.dpc) + DpcField.DPC_DATA] !== entry.tag) continue;
      queued.add(entry.dpc);
      if (only !== null && cpu !== only) continue;
      lines.push(line(cpu, entry.dpc, `, queued at ${formatDuration(entry.insertedNs)}${entry.fromIsr ? ' by an ISR' : ''}`));
      shown++;
    }
  }
  for (let dpc = 0; dpc < snapshot.compiled.machine.dpcCount; dpc++) {
    const tag = i32[layout.dpc(dpc) + DpcField.DPC_DATA]!;
    if (tag === 0 || queued.has(dpc)) continue;
    const cpu = dpcTagCpu(tag);
    if (only !== null && cpu !== only) continue;
    lines.push(line(cpu, dpc, ', claimed for this queue: its link message has not reached the CPU yet'));
    shown++;
  }
  if (shown === 0) lines.push(only === null ? 'No DPCs queued on any processor' : `No DPCs queued on processor ${only}`);
  return lines.join('\n');
}

/** `dt _KDPC NAME`: a KDPC's fields as `dt` shows them (offsets of the x64 layout), from its record in shared memory. */
export function kdpcView(snapshot: Snapshot, name: string): string | null {
  const { arch, dpcNames, routines } = snapshot.compiled.machine;
  const dpc = dpcNames.findIndex((n) => n.toLowerCase() === name.toLowerCase());
  if (dpc < 0) return null;
  const i32 = new Int32Array(snapshot.machine.sab);
  const record = snapshot.machine.layout.dpc(dpc);
  const field = (f: number): number => i32[record + f]!;
  const routine = routines[field(DpcField.ROUTINE)];
  const target = field(DpcField.TARGET);
  const tag = field(DpcField.DPC_DATA);
  const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;
  return [
    `nt!_KDPC at ${addr(dpcAddress(dpc), arch)}  (${dpcNames[dpc]})`,
    '   +0x000 Type             : 0x13',
    `   +0x001 Importance       : ${hex(field(DpcField.IMPORTANCE))} (${IMPORTANCE_NAMES[field(DpcField.IMPORTANCE)] ?? '?'})`,
    `   +0x002 Number           : ${target < 0 ? '0 (untargeted: the inserting CPU)' : `${target} (KeSetTargetProcessorDpc)`}`,
    `   +0x008 DpcListEntry     : ${tag === 0 ? 'not queued' : `queued on CPU ${dpcTagCpu(tag)}`}`,
    `   +0x018 DeferredRoutine  : 0x${addr(routine?.entry ?? 0, arch)} ${routine?.name ?? '?'}`,
    `   +0x020 DeferredContext  : ${hex(field(DpcField.CONTEXT))}`,
    `   +0x028 SystemArgument1  : ${hex(field(DpcField.SYSTEM_ARGUMENT1))}`,
    `   +0x030 SystemArgument2  : ${hex(field(DpcField.SYSTEM_ARGUMENT2))}`,
    `   +0x038 DpcData          : ${hex(tag)}`,
  ].join('\n');
}

/** A thread as `!timer` and `!ready` name it: `thread fb000c00 (Worker)`. */
function threadLabel(thread: KThread, arch: 'x86' | 'x64'): string {
  return `thread ${addr(threadAddress(thread.id), arch)} (${thread.name})`;
}

/** `!timer`: the timer table, bucket by bucket, with each timer's due time and its DPC or thread. */
export function timerView(snapshot: Snapshot): string {
  const { arch } = snapshot.compiled.machine;
  const lock = snapshot.actors.coordinator.dispatcher;
  const i32 = new Int32Array(snapshot.machine.sab);
  const now = snapshot.timeNs;
  const interruptNow = lock.interruptTime(now);
  const lowHigh = (value: number): string => `${word(value % 2 ** 32)} ${word(Math.floor(value / 2 ** 32))}`;
  const lines = ['Dump system timers', '', `Interrupt time: ${lowHigh(interruptNow)} [${systemTimeText(lock.systemTime(now))} (UTC)]`, ''];
  lines.push(`List Timer${' '.repeat(arch === 'x64' ? 12 : 4)}Interrupt Low/High     Fire Time              DPC/thread`);
  let total = 0;
  let longest = 0;
  lock.timerTable.buckets.forEach((bucket, hand) => {
    longest = Math.max(longest, bucket.length);
    bucket.forEach((timer, i) => {
      total++;
      const list = i === 0 ? String(hand).padStart(3) : '   ';
      const periodic = timer.period > 0 ? 'P' : ' ';
      const fire = systemTimeText(lock.bootSystemTime + lock.systemTimeBias + timer.dueTime);
      let target: string;
      if (timer.owner) {
        const owner = lock.thread(timer.owner.id);
        target = owner ? threadLabel(owner, arch) : `thread #${timer.owner.id}`;
      } else if (timer.dpc >= 0) {
        const routine = snapshot.compiled.machine.routines[i32[snapshot.machine.layout.dpc(timer.dpc) + DpcField.ROUTINE]!];
        target = `${routine?.name ?? '?'} (DPC @ ${addr(dpcAddress(timer.dpc), arch)})  ${timer.name}`;
      } else {
        target = `(no DPC)  ${timer.name}`;
      }
      const due = `due in ${formatDuration(Math.max(0, (timer.dueTime - interruptNow) * 100))}`;
      lines.push(
        `${list} ${addr(objectAddress(timer.id), arch)} ${periodic} ${lowHigh(timer.dueTime)} [${fire}]  ${target}  (${due}${timer.period > 0 ? `, period ${timer.period} ms` : ''})`,
      );
    });
  });
  const hand = Math.floor(now / lock.clockIntervalNs) & (TIMER_TABLE_SIZE - 1);
  lines.push('', `Total Timers: ${total}, Maximum List: ${longest}`, `Current Hand: ${hand}, Maximum Search: 0`);
  return lines.join('\n');
}

/** `!ready`: each processor's ready threads by descending priority, then its standby and deferred-ready threads. */
export function readyView(snapshot: Snapshot): string {
  const { arch, cpus } = snapshot.compiled.machine;
  const scheduler = snapshot.actors.coordinator.dispatcher.scheduler;
  const threadLine = (thread: KThread, state: string): string =>
    `    THREAD ${addr(threadAddress(thread.id), arch)}  Cid 0004.${word(thread.id).slice(4)}  Teb: ${addr(0, arch)} Win32Thread: ${addr(0, arch)} ${state}  ${thread.name}`;
  const lines: string[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const prcb = scheduler.prcbs[cpu]!;
    let any = false;
    for (let priority = prcb.readyLists.length - 1; priority >= 0; priority--) {
      const list = prcb.readyLists[priority]!;
      if (list.length === 0) continue;
      any = true;
      lines.push(`Processor ${cpu}: Ready Threads at priority ${priority}`);
      for (const thread of list) lines.push(threadLine(thread, `READY on processor ${cpu}`));
    }
    if (!any) lines.push(`Processor ${cpu}: No threads in READY state`);
    if (prcb.nextThread) {
      lines.push(`Processor ${cpu}: Standby thread (NextThread) at priority ${prcb.nextThread.priority}`);
      lines.push(threadLine(prcb.nextThread, `STANDBY on processor ${cpu}`));
    }
    if (prcb.deferredReady.length > 0) {
      lines.push(`Processor ${cpu}: Deferred ready threads (placed when the dispatcher exits)`);
      for (const thread of prcb.deferredReady) lines.push(threadLine(thread, 'DEFERREDREADY'));
    }
  }
  return lines.join('\n');
}

/** `k [cpu]`: the CPU's frames, innermost first, each with its IRQL and where its code is. */
export function stackView(snapshot: Snapshot, cpu: number): string {
  const { arch } = snapshot.compiled.machine;
  const processor = snapshot.actors.processors[cpu]!;
  const frames = processor.frameStack;
  const spans = spansOf(snapshot);
  const lines = [` # Child-SP${' '.repeat(arch === 'x64' ? 9 : 1)}RetAddr${' '.repeat(arch === 'x64' ? 11 : 2)}Call Site`];
  const dashes = '-'.repeat(arch === 'x64' ? 16 : 8);
  for (let i = frames.length - 1, n = 0; i >= 0; i--, n++) {
    const frame = frames[i]!;
    const irql = i === frames.length - 1 ? processor.prcb.irql : frames[i + 1]!.irql;
    const level = `[${frame.role}, IRQL ${irql} ${irqlName(arch, irql)}]`;
    const number = n.toString(16).padStart(2, '0');
    if (frame.kind === FRAME_CODE) {
      const pc = frame.ctx[frame.base + ContextField.PC]!;
      const sp = frame.ctx[frame.base + ContextField.SP]!;
      const below = frames[i - 1];
      const ret = below && below.kind === FRAME_CODE ? addr(below.ctx[below.base + ContextField.PC]!, arch) : dashes;
      const thread = frame.role === 'thread' ? ` (thread ${snapshot.actors.coordinator.dispatcher.thread(processor.prcb.currentThread)?.name ?? '?'})` : '';
      lines.push(`${number} ${addr(sp, arch)} ${ret} ${symbolAt(spans, pc)}${thread}  ${level}`);
    } else {
      lines.push(`${number} ${dashes} ${dashes} ${frame.name}  ${level}`);
    }
  }
  return lines.join('\n');
}

/** `u routine|pc`: a routine's code (the instruction a CPU is at marked `=>`), or eight instructions from a pc. */
export function disassemblyView(snapshot: Snapshot, target: string, cpu: number): string | null {
  const spans = spansOf(snapshot);
  const code = snapshot.compiled.code;
  const frames = snapshot.actors.processors[cpu]!.frameStack;
  let mark: number | undefined;
  for (let i = frames.length - 1; i >= 0; i--) {
    const frame = frames[i]!;
    if (frame.kind === FRAME_CODE) {
      mark = frame.ctx[frame.base + ContextField.PC]!;
      break;
    }
  }
  const span = spans.find((s) => s.name.toLowerCase() === target.toLowerCase());
  if (span) return disassembleRoutine(code, span, spans, mark);
  const pc = /^\d+$/.test(target) ? Number(target) : /^0x[0-9a-f]+$/i.test(target) ? Number.parseInt(target.slice(2), 16) : Number.NaN;
  if (!Number.isInteger(pc) || pc < 0 || pc >= code.length) return null;
  const lines = [`${symbolAt(spans, pc)}:`];
  let at = pc;
  for (let n = 0; n < 8 && at < code.length; n++) {
    const { text, length } = disassemble(code, at, spans);
    lines.push(`${at === mark ? '=>' : '  '}${String(at).padStart(6)}  ${text}`);
    at += length;
  }
  return lines.join('\n');
}

/** `dd name[+bytes] [L count]`: words of emulated memory by variable name, four to a line. */
export function memoryView(snapshot: Snapshot, target: string, count: number | null): string | null {
  const match = /^([A-Za-z_$][\w$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(target);
  if (!match) return null;
  const info =
    snapshot.compiled.variables.get(match[1]!) ?? [...snapshot.compiled.variables].find(([name]) => name.toLowerCase() === match[1]!.toLowerCase())?.[1];
  if (!info) return null;
  const offset = match[2] === undefined ? 0 : match[2].startsWith('0x') ? Number.parseInt(match[2].slice(2), 16) : Number(match[2]);
  const start = info.address + (offset & ~3);
  const words = count ?? Math.max(1, info.words - (offset >> 2));
  const memory = snapshot.machine.memory();
  const lines = [`${match[1]} at ${word(info.address)} (${info.words} word${info.words === 1 ? '' : 's'}):`];
  for (let at = 0; at < words; at += 4) {
    const row: string[] = [];
    for (let k = at; k < Math.min(words, at + 4); k++) {
      const index = (start >> 2) + k;
      row.push(index < memory.length ? word(memory[index]!) : '????????');
    }
    lines.push(`${word(start + at * 4)}  ${row.join(' ')}`);
  }
  return lines.join('\n');
}

/** `.events [N]`: the last N records up to here, oldest first, the current one marked. */
export function eventsView(session: InspectSession, snapshot: Snapshot, count: number): string {
  const end = snapshot.position;
  const start = Math.max(0, end - count);
  if (end === 0) return 'No events yet (the start of the run).';
  const rows: string[][] = [];
  for (let i = start; i < end; i++) {
    const { event, detail } = session.describe(i);
    rows.push([i === end - 1 ? '=>' : '  ', `#${i + 1}`, formatDuration(session.log.timeNs(i)), `CPU ${session.log.cpu(i)}`, event, detail]);
  }
  const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c < 5 ? (c === 1 || c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)) : cell))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
