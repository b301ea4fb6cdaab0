/**
 * The prose of a CPU's reports: names for routines, threads, objects and addresses (the kernel's
 * ReportNames, used in bugcheck detail text), what the running code is, the frame list and the
 * faulting instruction of a bugcheck report, and the one-line description of each trace event in
 * the last-events window. Read-only over the CPU's state.
 */

import { bugcheckName } from '../kernel/bugcheck.js';
import type { ReportNames } from '../kernel/cpu.js';
import { irqlName } from '../kernel/irql.js';
import { TraceEvent } from '../kernel/trace-events.js';
import { builtinRoutineName } from '../kernel/apc-state.js';
import { irpStageName, kapcName } from '../kernel/io.js';
import { disassemble } from '../isa/disasm.js';
import { ReplyFlag, operationName } from '../ipc/dispatcher-ops.js';
import { ContextField, DpcField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import type { Prcb } from '../kernel/prcb.js';
import type { ProcessorConfig } from '../contract/config.js';
import type { BugcheckFrame, FrozenDpc, FrozenSpinLock } from '../contract/result.js';
import { FRAME_CODE, FRAME_KERNEL, isUserCode } from './frames.js';
import type { Frame } from './frames.js';

/** Names from the scenario's tables (the compiled config). */
export class ConfigNames implements ReportNames {
  private readonly config: ProcessorConfig;
  constructor(config: ProcessorConfig) {
    this.config = config;
  }

  routine(index: number): string {
    return this.config.routines[index]?.name ?? builtinRoutineName(index) ?? `routine#${index}`;
  }

  thread(id: number): string {
    if (id >= 1 && id <= this.config.cpus) return `Idle#${id - 1}`;
    return this.config.threads.find((t) => t.id === id)?.name ?? `#${id}`;
  }

  object(id: number): string {
    const object = this.config.objects.find((o) => o.id === id);
    if (object) return `${object.kind} ${object.name}`;
    if (id >= 1 && id <= this.config.cpus + this.config.threads.length) return `thread ${this.thread(id)}`;
    return `object #${id}`;
  }

  address(address: number): string {
    for (const [name, info] of this.config.variableNames) {
      if (address >= info.address && address < info.address + info.words * 4) {
        const offset = address - info.address;
        return offset === 0 ? `${name} (0x${address.toString(16)})` : `${name}+${offset} (0x${address.toString(16)})`;
      }
    }
    return `0x${(address >>> 0).toString(16)}`;
  }
}

/** What the innermost code frame at or below `frameIndex` is: "DPC routine Foo", "ISR Bar", "thread Main (Main)". */
export function describeRunning(frames: readonly Frame[], frameIndex: number, names: ReportNames, currentThread: number): string {
  for (let i = frameIndex; i >= 0; i--) {
    const f = frames[i]!;
    if (f.kind === FRAME_CODE) return describeHolder(f.role, f.routine, names, currentThread);
  }
  return `thread ${names.thread(currentThread)}`;
}

/** Who runs a code frame of `role` and `routine` (−1: no code frame, the thread itself), in describeRunning's words. */
export function describeHolder(role: string, routine: number, names: ReportNames, thread: number): string {
  if (routine < 0) return `thread ${names.thread(thread)}`;
  const name = names.routine(routine);
  if (role === 'thread') return `thread ${names.thread(thread)} (${name})`;
  if (role === 'dpc') return `DPC routine ${name}`;
  if (role === 'isr') return `ISR ${name}`;
  return `${role} routine ${name}`;
}

/** Frames from the bottom up, each with the IRQL it was running at (the top one: the current IRQL). */
export function describeFrames(frames: readonly Frame[], irql: number, config: ProcessorConfig): BugcheckFrame[] {
  return frames.map((f, i) => {
    const above = frames[i + 1];
    const routine = f.kind === FRAME_CODE ? (config.routines[f.routine]?.name ?? `routine#${f.routine}`) : f.name;
    return { kind: f.role, routine: isUserCode(f) ? `${routine} (user mode)` : routine, irql: above ? above.irql : irql };
  });
}

/** The routine whose code holds `pc` (a frame's own routine may have CALLed another). */
function routineAt(config: ProcessorConfig, pc: number): { name: string; entry: number } | undefined {
  let best: { name: string; entry: number } | undefined;
  for (const routine of config.routines) if (routine.entry <= pc && (!best || routine.entry > best.entry)) best = routine;
  return best;
}

/** The faulting instruction, disassembled: the innermost code frame's pc, or the KCALL of the kernel frame above it. */
export function describeInstruction(frames: readonly Frame[], code: Int32Array, config: ProcessorConfig): string {
  let callPc = -1;
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = frames[i]!;
    if (f.kind === FRAME_KERNEL) {
      if (callPc < 0 && f.callPc >= 0) callPc = f.callPc;
      continue;
    }
    const pc = callPc >= 0 ? callPc : f.ctx[f.base + ContextField.PC]!;
    try {
      const routine = routineAt(config, pc);
      return `${routine?.name ?? '?'}+0x${(pc - (routine?.entry ?? 0)).toString(16)}: ${disassemble(code, pc).text}`;
    } catch {
      return `pc ${pc}`;
    }
  }
  return '';
}

/** One trace record in words, for the last-events window of a report. */
export function describeEvent(config: ProcessorConfig, names: ReportNames, event: number, a: number, b: number, c: number): string {
  const routine = (index: number): string => config.routines[index]?.name ?? builtinRoutineName(index) ?? `#${index}`;
  const dpcName = (index: number): string => config.dpcNames[index] ?? `#${index}`;
  const apcName = (index: number): string => `APC ${kapcName(config.apcs, index)}`;
  switch (event) {
    case TraceEvent.ISR_ENTER:
      return `vector 0x${a.toString(16)}`;
    case TraceEvent.ISR_EXIT:
      return `vector 0x${a.toString(16)} ${b ? 'claimed' : 'unclaimed'}`;
    case TraceEvent.DPC_START:
      return `${dpcName(a)} → ${routine(b)}`;
    case TraceEvent.DPC_END:
      return dpcName(a);
    case TraceEvent.DPC_INSERT:
      return `${dpcName(a)} → CPU ${b}${c ? '' : ' (already queued: FALSE)'}`;
    case TraceEvent.IPI_SEND:
      return `to CPU ${a} bits 0x${b.toString(16)}`;
    case TraceEvent.IPI_RECEIVE:
      return `from CPU ${a} bits 0x${b.toString(16)}`;
    case TraceEvent.IRQL:
      return `${irqlName(config.arch, a)} → ${irqlName(config.arch, b)}`;
    case TraceEvent.CLOCK:
      return `tick ${a}`;
    case TraceEvent.USER:
      return `${config.traceTags[a] ?? `tag ${a}`} value ${b}`;
    case TraceEvent.BUGCHECK:
      return `${bugcheckName(a)} (0x${a.toString(16)})`;
    case TraceEvent.THREAD_EXIT:
      return `${routine(a)} returned ${b}`;
    case TraceEvent.GENERIC_CALL:
      return `${routine(a)}(${b})${c ? ' as target' : ''}`;
    case TraceEvent.IPI_PACKET:
      return `from CPU ${a}: ${routine(b)}`;
    case TraceEvent.CONTEXT_SWITCH:
      return `${names.thread(a)} → ${names.thread(b)} (resumes at ${irqlName(config.arch, c)})`;
    case TraceEvent.DISPATCHER: {
      const op = operationName(a) ?? `op ${a}`;
      const flags = [
        c & ReplyFlag.SWITCH ? 'switch' : '',
        c & ReplyFlag.REQUEST_DISPATCH ? 'dispatch requested' : '',
        c & ReplyFlag.BUGCHECK ? 'bugcheck' : '',
        c & ReplyFlag.APC_INTERRUPT_SELF ? 'APC interrupt requested' : '',
      ].filter(Boolean);
      return `${op} → 0x${(b >>> 0).toString(16)}${flags.length ? ` (${flags.join(', ')})` : ''}`;
    }
    case TraceEvent.TIMER_EXPIRED:
      return `expired: its DPC ${dpcName(a)}`;
    case TraceEvent.PAGE_FAULT:
      return `${names.address(a)} (${b === 1 ? 'write' : b === 8 ? 'execute' : 'read'}) not resident: waiting for the disk`;
    case TraceEvent.PAGE_IN:
      return `page at 0x${(a >>> 0).toString(16)} resident (thread ${names.thread(b)})`;
    case TraceEvent.SPIN_LOCK:
      return `${names.address(a)} ${b === 1 ? 'acquired' : b === 0 ? 'released' : 'held by another: spinning'}${c ? ' (queued)' : ''}`;
    case TraceEvent.APC_INSERT:
      return `${apcName(a)} ${b ? 'queued' : 'not queued (FALSE)'}${c === 1 ? ': APC interrupt here' : c === 2 ? ': IPI(APC) sent' : ''}`;
    case TraceEvent.APC_DELIVER:
    case TraceEvent.APC_DELIVER_END:
      return `${apcName(a)}: ${c === 2 ? 'NormalRoutine' : c === 3 ? 'user-mode NormalRoutine' : 'KernelRoutine'} ${routine(b)}${event === TraceEvent.APC_DELIVER_END ? ' returned' : ''}`;
    case TraceEvent.IRP:
      return `IRP #${a} ${irpStageName(b)}${irpStageWord(b, c, routine)}`;
    default:
      return `${a} ${b} ${c}`;
  }
}

/** The IRP event's third word, by stage (src/kernel/io.ts IrpTraceStage). */
function irpStageWord(stage: number, word: number, routine: (index: number) => string): string {
  switch (stage) {
    case 1:
      return `: major function 0x${word.toString(16)}`;
    case 2:
      return `: ${routine(word)}`;
    case 6:
      return '';
    case 5:
      return ` in the issuing thread: IO_STATUS_BLOCK.Status 0x${(word >>> 0).toString(16)} written`;
    default:
      return `: status 0x${(word >>> 0).toString(16)}`;
  }
}

/** The DPC queue in run order, without entries a KeRemoveQueueDpc has taken off (their DpcData no longer carries the tag). */
export function describeDpcQueue(prcb: Prcb, i32: Int32Array, layout: MachineLayout, config: ProcessorConfig, names: ReportNames): FrozenDpc[] {
  const out: FrozenDpc[] = [];
  for (const entry of prcb.dpcQueue) {
    const record = layout.dpc(entry.dpc);
    if (i32[record + DpcField.DPC_DATA] !== entry.tag) continue;
    const dpc = config.dpcNames[entry.dpc] ?? `#${entry.dpc}`;
    out.push({ dpc, routine: names.routine(i32[record + DpcField.ROUTINE]!), queuedNs: entry.insertedNs, fromIsr: entry.fromIsr });
  }
  return out;
}

/** The spin locks this CPU holds, by address, each with its owner (this CPU, the thread, the frame that took it). */
export function describeHeldLocks(prcb: Prcb, config: ProcessorConfig, names: ReportNames): FrozenSpinLock[] {
  const out: FrozenSpinLock[] = [];
  for (const held of prcb.heldLocks.list()) {
    out.push({
      lock: names.address(held.address),
      address: held.address,
      ownerCpu: prcb.number,
      ownerThread: names.thread(held.thread),
      takenBy: describeHolder(held.holderRole, held.holderRoutine, names, held.thread),
      irqlName: irqlName(config.arch, held.irql),
    });
  }
  return out.sort((a, b) => a.address - b.address);
}
