/**
 * What every inspector view shares: where the session stands (the line each view starts with),
 * addresses as the debugger prints them, the emulator's stand-in addresses for objects that have
 * none, names of routines and code addresses, and wall-clock times of NT's 100 ns system time.
 */

import type { Arch } from '../kernel/irql.js';
import { formatDuration } from '../cli/format.js';
import type { InspectSession, Snapshot } from './session.js';

/**
 * An address as WinDbg's extensions print it: 16 hex digits on x64, 8 on x86 (the emulator's
 * addresses are 32-bit; on x64 they are shown zero-extended).
 */
export function addr(value: number, arch: Arch): string {
  return (value >>> 0).toString(16).padStart(arch === 'x64' ? 16 : 8, '0');
}

/** A word as `dd` prints it: 8 hex digits. */
export function word(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/**
 * Stand-in addresses (the emulator's kernel objects have ids, not addresses): a KDPC by index, a
 * dispatcher object by id; beside the kernel's own stand-ins (PRCB f8…, KTHREAD fb…, KAPC fc…).
 */
export function dpcAddress(index: number): number {
  return 0xfd000000 + index * 0x40;
}

export function objectAddress(id: number): number {
  return 0xfe000000 + id * 0x40;
}

/** The "event k of N, CPU c, t: event detail" line that opens every view. */
export function whereLine(session: InspectSession, snapshot: Snapshot): string {
  const { position, total } = snapshot;
  if (position === 0) return `[start: before event 1 of ${total}, 0 ns]`;
  const { event, detail } = session.describe(position - 1);
  const at = `[event ${position} of ${total}, CPU ${snapshot.cpu}, ${formatDuration(session.log.timeNs(position - 1))}: ${event} ${detail}`;
  if (!snapshot.ended) return `${at}]`;
  return session.result.bugcheck ? `${at}; the machine stopped here]` : `${at}; the run ended at ${formatDuration(snapshot.timeNs)}]`;
}

export interface RoutineSpan {
  name: string;
  entry: number;
  end: number;
}

/** The scenario's routines as code spans (each ends where the next begins). */
export function routineSpans(routines: ReadonlyArray<{ name: string; entry: number }>, code: Int32Array): RoutineSpan[] {
  const sorted = routines.filter((r) => r.entry >= 0).sort((a, b) => a.entry - b.entry);
  // the program image is padded with zero words after the last routine
  let end = code.length;
  while (end > 0 && code[end - 1] === 0) end--;
  return sorted.map((r, i) => ({ name: r.name, entry: r.entry, end: sorted[i + 1]?.entry ?? Math.max(end, r.entry + 1) }));
}

/** `Routine+0x3` for a code address, or `0x1c` when it is in no routine. */
export function symbolAt(spans: readonly RoutineSpan[], pc: number): string {
  const span = spans.find((s) => pc >= s.entry && pc < s.end);
  if (!span) return `0x${(pc >>> 0).toString(16)}`;
  return pc === span.entry ? span.name : `${span.name}+0x${(pc - span.entry).toString(16)}`;
}

/** NT system time (100 ns since 1601-01-01 UTC) as WinDbg's !timer prints it: ` 1/ 1/2025 00:00:10.000`. */
export function systemTimeText(systemTime: number): string {
  const ms = systemTime / 10_000 - 11_644_473_600_000;
  const date = new Date(Math.floor(ms));
  if (Number.isNaN(date.getTime())) return '         NEVER         ';
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = `${String(date.getUTCMonth() + 1).padStart(2)}/${String(date.getUTCDate()).padStart(2)}/${date.getUTCFullYear()}`;
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${String(date.getUTCMilliseconds()).padStart(3, '0')}`;
  return `${day} ${time}`;
}

/** A CPU number argument: decimal or 0x hex, within the machine. */
export function parseCpuArgument(text: string | undefined, cpus: number): number | null {
  if (text === undefined) return null;
  const value = /^\d+$/.test(text) ? Number(text) : /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : Number.NaN;
  return Number.isInteger(value) && value >= 0 && value < cpus ? value : -1;
}
