/**
 * The inspector's `!apc` (nt-semantics.md §10): every thread's queued APCs, by process (the
 * emulator has one, System), each KAPC with its routines, arguments, mode and Inserted flag. The
 * lists are the dispatcher database's (KThread.apcState, src/kernel/apc-state.ts). The real
 * extension's exact spacing was not verified (the reference says so too): the fields and their
 * order follow it.
 */

import { NO_ROUTINE, apcAddress, builtinRoutineName } from '../kernel/apc-state.js';
import type { KApc } from '../kernel/apc-state.js';
import { threadAddress } from '../kernel/dispatcher-call.js';
import { KernelMode } from '../kernel/status.js';
import type { KThread } from '../kernel/thread.js';
import type { Snapshot } from './session.js';
import { addr, word } from './format.js';

const SYSTEM_PROCESS = 0xfa000000;

function routineText(snapshot: Snapshot, routine: number): string {
  const { arch, routines } = snapshot.compiled.machine;
  if (routine === NO_ROUTINE) return addr(0, arch);
  const builtin = builtinRoutineName(routine);
  if (builtin !== null) return `nt!${builtin}`;
  const info = routines[routine];
  return info ? `${addr(info.entry, arch)} ${info.name}` : `routine #${routine}`;
}

function apcLines(snapshot: Snapshot, apc: KApc): string[] {
  const { arch } = snapshot.compiled.machine;
  return [
    `      KAPC @ ${addr(apcAddress(apc.id), arch)}  (${apc.name}, ${apc.kind})`,
    '        Type           12',
    `        KernelRoutine  ${routineText(snapshot, apc.kernelRoutine)}`,
    `        RundownRoutine ${routineText(snapshot, apc.rundownRoutine)}`,
    `        NormalRoutine  ${routineText(snapshot, apc.normalRoutine)}`,
    `        NormalContext  ${word(apc.normalContext)}`,
    `        SystemArgument1 ${word(apc.systemArgument1)}`,
    `        SystemArgument2 ${word(apc.systemArgument2)}`,
    `        ApcStateIndex  ${apc.apcStateIndex}`,
    `        ApcMode        ${apc.apcMode === KernelMode ? 'KernelMode' : 'UserMode'}`,
    `        Inserted       ${apc.inserted ? 1 : 0}`,
  ];
}

/** `!apc`: the APCs queued to every thread (only threads with some are listed). */
export function apcView(snapshot: Snapshot, only: KThread | null): string {
  const { arch } = snapshot.compiled.machine;
  const lines = only ? [] : ['*** Enumerating APCs in all processes', `Process ${addr(SYSTEM_PROCESS, arch)} System`];
  let queued = 0;
  for (const thread of only ? [only] : snapshot.actors.coordinator.dispatcher.threads) {
    const state = thread.apcState;
    if (state.kernelList.length === 0 && state.userList.length === 0) {
      if (only) lines.push(`Thread ${addr(threadAddress(thread.id), arch)} ${thread.name}: no APCs queued`);
      continue;
    }
    lines.push(`    Thread ${addr(threadAddress(thread.id), arch)} ${thread.name}  ApcStateIndex ${state.apcStateIndex}`);
    for (const [mode, list] of [
      ['KernelMode', state.kernelList],
      ['UserMode', state.userList],
    ] as const) {
      if (list.length === 0) continue;
      lines.push(`      ${mode} APCs`);
      for (const apc of list) lines.push(...apcLines(snapshot, apc));
      queued += list.length;
    }
  }
  if (!only && queued === 0) lines.push('    No APCs queued to any thread');
  return lines.join('\n');
}
