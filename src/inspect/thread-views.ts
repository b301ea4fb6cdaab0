/**
 * The inspector's `!thread` (a KTHREAD as WinDbg prints it: state, wait blocks, times, stack) and
 * `!locks` (the spin locks held, by whom, and which CPUs spin on them). The dispatcher's view of a
 * thread is the coordinator's database; its context and counters are in shared memory; when it
 * started waiting and who holds or spins on which lock come from the trace records up to here.
 */

import { ObjectType } from '../kernel/dispatcher-object.js';
import type { DispatcherObject } from '../kernel/dispatcher-object.js';
import { threadAddress } from '../kernel/dispatcher-call.js';
import { irqlName } from '../kernel/irql.js';
import { KMutant } from '../kernel/mutant.js';
import { KSemaphore } from '../kernel/semaphore.js';
import { KernelMode, waitReasonName } from '../kernel/status.js';
import { ThreadState } from '../kernel/thread.js';
import type { KThread } from '../kernel/thread.js';
import { TraceEvent } from '../kernel/trace-events.js';
import { ContextField, ThreadCounterField, ThreadField } from '../shm/layout.js';
import { FRAME_KERNEL } from '../cpu/frames.js';
import { describeHolder } from '../cpu/report.js';
import { formatDuration } from '../cli/format.js';
import type { InspectSession, Snapshot } from './session.js';
import { addr, objectAddress, symbolAt, word } from './format.js';
import { spansOf, stackView } from './views.js';

/** The System process every emulated thread belongs to (a stand-in EPROCESS address). */
const SYSTEM_PROCESS = 0xfa000000;

/** A thread named by `!thread`'s argument: its name (any case), its id, or its address; null if none. */
export function findThread(snapshot: Snapshot, text: string): KThread | null {
  const threads = snapshot.actors.coordinator.dispatcher.threads;
  const byName = threads.find((t) => t.name.toLowerCase() === text.toLowerCase());
  if (byName) return byName;
  if (/^\d+$/.test(text)) return threads.find((t) => t.id === Number(text)) ?? null;
  const hex = /^(?:0x)?([0-9a-f]+)$/i.exec(text);
  if (hex) return threads.find((t) => threadAddress(t.id) === Number.parseInt(hex[1]!, 16)) ?? null;
  return null;
}

/** The thread CPU `cpu` runs at this position (the dispatcher's current thread there). */
export function currentThread(snapshot: Snapshot, cpu: number): KThread {
  return snapshot.actors.coordinator.dispatcher.scheduler.prcbs[cpu]!.currentThread;
}

function waitObjectLine(object: DispatcherObject, arch: 'x86' | 'x64'): string {
  let kind: string;
  switch (object.type) {
    case ObjectType.EventNotification:
      kind = 'NotificationEvent';
      break;
    case ObjectType.EventSynchronization:
      kind = 'SynchronizationEvent';
      break;
    case ObjectType.Mutant: {
      const owner = object instanceof KMutant ? object.owner : null;
      kind = `Mutant - owning thread ${addr(owner ? threadAddress(owner.id) : 0, arch)}`;
      break;
    }
    case ObjectType.Semaphore:
      kind = `Semaphore Limit 0x${object instanceof KSemaphore ? object.limit.toString(16) : '?'}`;
      break;
    case ObjectType.TimerNotification:
      kind = 'NotificationTimer';
      break;
    case ObjectType.TimerSynchronization:
      kind = 'SynchronizationTimer';
      break;
    case ObjectType.Thread:
      kind = 'Thread';
      break;
    default:
      kind = 'Object';
  }
  const address = object.type === ObjectType.Thread ? threadAddress(object.id) : objectAddress(object.id);
  return `    ${addr(address, arch)}  ${kind}  ${object.name} (signal state ${object.signalState})`;
}

/** 00:00:04.609 */
function clockTime(ns: number): string {
  const ms = Math.floor(ns / 1e6);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(Math.floor(ms / 3_600_000))}:${two(Math.floor(ms / 60_000) % 60)}:${two(Math.floor(ms / 1000) % 60)}.${String(ms % 1000).padStart(3, '0')}`;
}

/** The first line's state token (§10: RUNNING on processor N, READY on processor N, WAIT: (…) …). */
function stateToken(snapshot: Snapshot, thread: KThread): string {
  switch (thread.state) {
    case ThreadState.Running:
      return `RUNNING on processor ${thread.nextProcessor}`;
    case ThreadState.Ready:
      return `READY on processor ${thread.nextProcessor}`;
    case ThreadState.Standby:
      return 'STANDBY';
    case ThreadState.Waiting:
      return `WAIT: (${waitReasonName(thread.waitReason)}) ${thread.apcState.waitMode === KernelMode ? 'KernelMode' : 'UserMode'} ${thread.apcState.alertable ? 'Alertable' : 'Non-Alertable'}`;
    case ThreadState.Terminated:
      return 'TERMINATED';
    case ThreadState.Transition:
      return 'TRANSITION';
    case ThreadState.DeferredReady:
      return 'DEFERREDREADY';
    default:
      return snapshot.compiled.machine.threads.find((t) => t.id === thread.id)?.startAtBoot === false
        ? 'INITIALIZED (not started: PsCreateSystemThread starts it)'
        : 'INITIALIZED';
  }
}

/** When the thread last switched out (its wait started), from the CONTEXT_SWITCH records before the position; −1 if never. */
function lastSwitchedOutNs(session: InspectSession, snapshot: Snapshot, threadId: number): number {
  for (let i = snapshot.position - 1; i >= 0; i--) {
    if (session.log.event(i) === TraceEvent.CONTEXT_SWITCH && session.log.args(i)[0] === threadId) return session.log.timeNs(i);
  }
  return -1;
}

/** `!thread [T]` (flags 0x6: wait information and stack). */
export function threadView(session: InspectSession, snapshot: Snapshot, thread: KThread): string {
  const { arch, clockIntervalNs } = snapshot.compiled.machine;
  const config = snapshot.compiled.machine.threads.find((t) => t.id === thread.id);
  const layout = snapshot.machine.layout;
  const i32 = new Int32Array(snapshot.machine.sab);
  const record = layout.thread(thread.id - 1);
  const counters = layout.threadCounters(thread.id - 1);
  const spans = spansOf(snapshot);
  const zero = addr(0, arch);
  const lines = [
    `THREAD ${addr(threadAddress(thread.id), arch)}  Cid 0004.${word(thread.id).slice(4)}  Teb: ${zero} Win32Thread: ${zero} ${stateToken(snapshot, thread)}`,
  ];
  if (thread.state === ThreadState.Waiting) {
    for (const block of thread.waitBlocks) lines.push(waitObjectLine(block.object, arch));
    if (thread.timer.inserted) {
      const dueNs = (thread.timer.dueTime - snapshot.actors.coordinator.dispatcher.interruptTime(snapshot.timeNs)) * 100;
      lines.push(`    ${zero}  NotificationTimer  ${thread.name}.Timer: the wait times out in ${formatDuration(Math.max(0, dueNs))}`);
    }
  }
  const nowTick = Math.floor(snapshot.timeNs / clockIntervalNs);
  const switchedOut = thread.state === ThreadState.Waiting ? lastSwitchedOutNs(session, snapshot, thread.id) : -1;
  const waitTick = switchedOut >= 0 ? Math.floor(switchedOut / clockIntervalNs) : nowTick;
  const routine = config ? snapshot.compiled.machine.routines[config.routine] : undefined;
  const sp = i32[record + ThreadField.CONTEXT + ContextField.SP]!;
  const stackTop = config?.stackTop ?? thread.stackTop;
  lines.push(
    'Not impersonating',
    `Owning Process            ${addr(SYSTEM_PROCESS, arch)}       Image:         System`,
    'Attached Process          N/A            Image:         N/A',
    `Thread Name               ${thread.name}`,
    `Wait Start TickCount      ${waitTick}        Ticks: ${nowTick - waitTick} (${clockTime((nowTick - waitTick) * clockIntervalNs)})`,
    `Context Switch Count      ${snapshot.machine.f64[counters + ThreadCounterField.CONTEXT_SWITCHES]}           IdealProcessor: ${thread.idealProcessor}`,
    `UserTime                  ${clockTime(0)}`,
    `KernelTime                ${clockTime(snapshot.machine.f64[counters + ThreadCounterField.RUN_NS]!)}`,
    `Win32 Start Address ${routine?.name ?? (thread.isIdle ? 'KiIdleLoop' : '?')} (0x${addr(routine?.entry ?? 0, arch)})`,
    `Stack Init ${addr(stackTop, arch)} Current ${addr(sp, arch)}`,
    `Base ${addr(stackTop, arch)} Limit ${addr(config?.stackLimit ?? 0, arch)} Call ${zero}`,
    `Priority ${thread.priority} BasePriority ${thread.basePriority} PriorityDecrement ${thread.priorityDecrement} IoPriority 2 PagePriority 5`,
  );
  const runningOn = snapshot.actors.processors.findIndex((p) => p.prcb.currentThread === thread.id);
  if (runningOn >= 0) {
    lines.push(`(running on processor ${runningOn}: its frames, innermost first)`, stackView(snapshot, runningOn));
  } else if (!thread.isIdle) {
    const pc = i32[record + ThreadField.CONTEXT + ContextField.PC]!;
    const args = [1, 2, 3, 4].map((r) => word(i32[record + ThreadField.CONTEXT + ContextField.R0 + r]!)).join(' ');
    lines.push(`Child-SP${' '.repeat(arch === 'x64' ? 10 : 2)}RetAddr${' '.repeat(arch === 'x64' ? 11 : 3)}: Args to Child${' '.repeat(24)}: Call Site`);
    lines.push(`${addr(sp, arch)}  ${addr(0, arch)}  : ${args} : ${symbolAt(spans, pc)} (its saved context)`);
  }
  return lines.join('\n');
}

/** Who holds and who spins on each spin lock at this position, from the SPIN_LOCK records up to here. */
interface LockState {
  /** `thread`: the thread the CPU ran when it took the lock (from the CONTEXT_SWITCH records) */
  holder: { cpu: number; thread: number; sinceNs: number; queued: boolean } | null;
  spinners: Array<{ cpu: number; sinceNs: number }>;
}

function lockStates(session: InspectSession, snapshot: Snapshot): Map<number, LockState> {
  const locks = new Map<number, LockState>();
  const state = (address: number): LockState => {
    let s = locks.get(address);
    if (!s) locks.set(address, (s = { holder: null, spinners: [] }));
    return s;
  };
  // each CPU runs its idle thread (id cpu + 1) until its first switch
  const running = Array.from({ length: snapshot.compiled.machine.cpus }, (_, cpu) => cpu + 1);
  for (let i = 0; i < snapshot.position; i++) {
    const event = session.log.event(i);
    const cpu = session.log.cpu(i);
    if (event === TraceEvent.CONTEXT_SWITCH) running[cpu] = session.log.args(i)[1];
    if (event !== TraceEvent.SPIN_LOCK) continue;
    const [address, what, queued] = session.log.args(i);
    const s = state(address);
    if (what === 2) s.spinners.push({ cpu, sinceNs: session.log.timeNs(i) });
    else if (what === 1) {
      s.holder = { cpu, thread: running[cpu] ?? 0, sinceNs: session.log.timeNs(i), queued: queued === 1 };
      s.spinners = s.spinners.filter((spinner) => spinner.cpu !== cpu);
    } else s.holder = null;
  }
  for (const [address, s] of locks) if (s.holder === null && s.spinners.length === 0) locks.delete(address);
  return locks;
}

/** What CPU `cpu` is spinning in: the code below its innermost acquire frame. */
function spinnerText(snapshot: Snapshot, cpu: number): string {
  const processor = snapshot.actors.processors[cpu]!;
  const frames = processor.frameStack;
  for (let i = frames.length - 1; i > 0; i--) {
    const frame = frames[i]!;
    if (frame.kind === FRAME_KERNEL && /Acquire/.test(frame.name)) return `${processor.describeRunning(i - 1)} in ${frame.name}`;
  }
  return processor.describeRunning();
}

/** `!locks`: every spin lock held or spun on, its holder (CPU, thread, the code that took it, at which IRQL) and its spinners. */
export function locksView(session: InspectSession, snapshot: Snapshot): string {
  const { arch } = snapshot.compiled.machine;
  const names = snapshot.actors.processors[0]!.names;
  const memory = snapshot.machine.memory();
  const tick = (ns: number): number => Math.floor(ns / snapshot.compiled.machine.clockIntervalNs);
  const ticks = (ns: number): string => `${tick(snapshot.timeNs) - tick(ns)} ticks ago`;
  const lines = ['**** DUMP OF SPIN LOCKS HELD OR SPUN ON ****', ''];
  let held = 0;
  let spinning = 0;
  for (const [address, s] of [...lockStates(session, snapshot)].sort((a, b) => a[0] - b[0])) {
    const lockWord = memory[address >>> 2] ?? 0;
    lines.push(`SpinLock @ ${names.address(address)}  word ${word(lockWord)}${s.holder?.queued ? ' (queued: the tail waiter’s KLOCK_QUEUE_HANDLE)' : ''}`);
    if (s.holder) {
      held++;
      // the owner records and the lock word say who holds it, unless the release is under way (the
      // holder's next event is the release: it cleared both just before recording it)
      const record = snapshot.actors.processors[s.holder.cpu]!.prcb.heldLocks.get(address);
      const thread = snapshot.actors.coordinator.dispatcher.thread(s.holder.thread);
      const threadId = s.holder.thread;
      const wordCpu = s.holder.cpu;
      const taken = record
        ? `, taken by ${describeHolder(record.holderRole, record.holderRoutine, names, record.thread)} at ${irqlName(arch, record.irql)}`
        : '';
      lines.push(
        `    Held by CPU ${wordCpu}, thread ${thread ? `${thread.name} (${addr(threadAddress(thread.id), arch)})` : `#${threadId}`}${taken}, since ${formatDuration(s.holder.sinceNs)} (${ticks(s.holder.sinceNs)})`,
      );
    } else {
      lines.push('    Not held');
    }
    for (const spinner of s.spinners) {
      spinning++;
      lines.push(
        `    Spinning: CPU ${spinner.cpu} (${spinnerText(snapshot, spinner.cpu)}) since ${formatDuration(spinner.sinceNs)} (${ticks(spinner.sinceNs)})`,
      );
    }
    lines.push('');
  }
  if (held === 0 && spinning === 0) lines.push('No spin lock is held or spun on.');
  else lines.push(`${held} spin lock${held === 1 ? '' : 's'} held, ${spinning} CPU${spinning === 1 ? '' : 's'} spinning`);
  return lines.join('\n');
}
