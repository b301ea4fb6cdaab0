// APCs (nt-semantics.md §5, §4.11's APC steps, §12 items 2, 10, 12, 13), in-process: the pure APC
// functions of src/kernel/apc.ts over a thread's KApcState and its thread-table words, and
// KeInsertQueueApc / KeAlertThread as dispatcher operations on the KernelMachine of kernel-machine.ts.
// These tests drive KiDeliverApc's iterator, the specification the CPU's KiDeliverApc frame
// (src/kernel/apc-call.ts) follows; the kernel-mode delivery end to end is test/cpu/apc-delivery.test.ts.
import { describe, expect, it } from 'vitest';
import {
  ApcBuiltinRoutine,
  ApcEnvironment,
  KApc,
  NO_ROUTINE,
  SharedApcWords,
  THREAD_ALERT_INCREMENT,
  alertThread,
  apcAddress,
  areAllApcsDisabled,
  areApcsDisabled,
  checkAlertability,
  combinedApcDisable,
  enterCriticalRegion,
  enterGuardedRegion,
  flushQueueApc,
  initializeApc,
  insertQueueApc,
  kernelApcBeforeWait,
  leaveCriticalRegion,
  leaveGuardedRegion,
  newApcThreadWords,
  queueApc,
  removeQueueApc,
  testAlertThread,
} from '../../src/kernel/apc.js';
import type { ApcMode, ApcThreadWords } from '../../src/kernel/apc.js';
import { kiDeliverApc, rundownThreadApcs, systemServiceExitCheck } from '../../src/kernel/apc-delivery.js';
import type { ApcDeliveryEnd, ApcDeliveryStep, KernelRoutineReturn } from '../../src/kernel/apc-delivery.js';
import { KApcState } from '../../src/kernel/apc-state.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js';
import { KernelMode, STATUS, UserMode } from '../../src/kernel/status.js';
import { KThread, ResumeAction, ThreadState } from '../../src/kernel/thread.js';
import { ApcPendingBit, ApcQueuedBit, ThreadField } from '../../src/shm/layout.js';
import { KernelMachine } from './kernel-machine.js';

// routine indices of the test's "program"
const KERNEL_ROUTINE = 10;
const NORMAL_ROUTINE = 11;
const RUNDOWN_ROUTINE = 12;

let nextApcId = 0;

function loneThread(): KThread {
  return new KThread({ id: 9, name: 'T', basePriority: 8, affinity: [true, true], idealProcessor: 0, quantumReset: 6, stackTop: 0 });
}

/** A KAPC initialised for `thread`: special (no NormalRoutine), normal kernel, or user. */
function apcFor(thread: KThread, name: string, kind: 'special' | 'normal' | 'user'): KApc {
  const apc = new KApc(nextApcId++, name, KERNEL_ROUTINE);
  initializeApc(apc, thread, ApcEnvironment.Original, {
    kernelRoutine: KERNEL_ROUTINE,
    rundownRoutine: RUNDOWN_ROUTINE,
    normalRoutine: kind === 'special' ? NO_ROUTINE : NORMAL_ROUTINE,
    mode: kind === 'user' ? UserMode : KernelMode,
    context: 0x100 + apc.id,
  });
  return apc;
}

/** Insert from a DPC on CPU 1 that runs on some other thread (so `thread` is never the inserter's current thread). */
function insertFromElsewhere(apc: KApc, words: ApcThreadWords, sa1 = 0, sa2 = 0): ReturnType<typeof queueApc> {
  return queueApc(apc, sa1, sa2, { cpu: 1, currentThread: loneThread() }, words);
}

interface DeliveryLog {
  steps: string[];
  end: ApcDeliveryEnd;
}

/**
 * Drive KiDeliverApc as the CPU will: each KernelRoutine returns at APC_LEVEL (or `kernelRoutineIrql`)
 * leaving its arguments; `during` runs inside each NormalRoutine (at PASSIVE_LEVEL).
 */
function deliver(
  state: KApcState,
  words: ApcThreadWords,
  previousMode: ApcMode,
  options: { kernelRoutineIrql?: number; cancelNormal?: boolean; during?: (step: ApcDeliveryStep) => void } = {},
): DeliveryLog {
  const steps: string[] = [];
  const delivery = kiDeliverApc(state, words, previousMode);
  let reply: KernelRoutineReturn | undefined;
  for (;;) {
    const next = delivery.next(reply);
    if (next.done) return { steps, end: next.value };
    const step = next.value;
    reply = undefined;
    steps.push(`${step.kind}:${step.apc.name}`);
    if (step.kind === 'kernel-routine') {
      const call = options.cancelNormal ? { ...step.call, normalRoutine: NO_ROUTINE } : step.call;
      reply = { irql: options.kernelRoutineIrql ?? APC_LEVEL, call };
    } else if (step.kind === 'normal-routine') {
      expect(words.kernelApcInProgress, 'KernelApcInProgress while a NormalRoutine runs').toBe(true);
      options.during?.(step);
    }
  }
}

describe('§5.3 KeInitializeApc', () => {
  it('an APC without a NormalRoutine is a special kernel APC: kernel mode and a NULL context whatever was passed', () => {
    const thread = loneThread();
    const apc = new KApc(0, 'A', KERNEL_ROUTINE);
    initializeApc(apc, thread, ApcEnvironment.Original, {
      kernelRoutine: 1,
      rundownRoutine: NO_ROUTINE,
      normalRoutine: NO_ROUTINE,
      mode: UserMode,
      context: 7,
    });
    expect(apc.special).toBe(true);
    expect(apc.apcMode).toBe(KernelMode);
    expect(apc.normalContext).toBe(0);
    expect(apc.inserted).toBe(false);
    expect(apc.thread).toBe(thread);
  });

  it('CurrentApcEnvironment is resolved at initialisation, InsertApcEnvironment at insertion', () => {
    const thread = loneThread();
    const current = new KApc(0, 'C', KERNEL_ROUTINE);
    initializeApc(current, thread, ApcEnvironment.Current, {
      kernelRoutine: 1,
      rundownRoutine: NO_ROUTINE,
      normalRoutine: NO_ROUTINE,
      mode: KernelMode,
      context: 0,
    });
    expect(current.apcStateIndex).toBe(ApcEnvironment.Original);
    const insert = new KApc(1, 'I', KERNEL_ROUTINE);
    initializeApc(insert, thread, ApcEnvironment.Insert, {
      kernelRoutine: 1,
      rundownRoutine: NO_ROUTINE,
      normalRoutine: NO_ROUTINE,
      mode: KernelMode,
      context: 0,
    });
    expect(insert.apcStateIndex).toBe(ApcEnvironment.Insert);
    expect(insertFromElsewhere(insert, newApcThreadWords()).inserted).toBe(true);
    expect(insert.apcStateIndex).toBe(ApcEnvironment.Original);
  });

  it('re-initialising an APC that is still queued is refused (it would corrupt its thread’s list)', () => {
    const thread = loneThread();
    const apc = apcFor(thread, 'A', 'normal');
    insertFromElsewhere(apc, newApcThreadWords());
    expect(
      initializeApc(apc, thread, ApcEnvironment.Original, {
        kernelRoutine: 1,
        rundownRoutine: NO_ROUTINE,
        normalRoutine: NO_ROUTINE,
        mode: KernelMode,
        context: 0,
      }),
    ).toBe(false);
    expect(apc.normalRoutine).toBe(NORMAL_ROUTINE);
  });
});

describe('§5.4 KeInsertQueueApc: results and queue order', () => {
  it('returns FALSE for an APC already inserted, and the new system arguments are dropped', () => {
    const thread = loneThread();
    const apc = apcFor(thread, 'A', 'normal');
    const words = newApcThreadWords();
    expect(insertFromElsewhere(apc, words, 1, 2).inserted).toBe(true);
    expect(insertFromElsewhere(apc, words, 3, 4)).toEqual({ inserted: false, reason: 'already-inserted' });
    expect([apc.systemArgument1, apc.systemArgument2]).toEqual([1, 2]);
    expect(thread.apcState.kernelList).toEqual([apc]);
  });

  it('returns FALSE when the thread is exiting (ApcQueueable cleared)', () => {
    const thread = loneThread();
    thread.apcState.apcQueueable = false;
    const apc = apcFor(thread, 'A', 'special');
    expect(insertFromElsewhere(apc, newApcThreadWords())).toEqual({ inserted: false, reason: 'thread-exiting' });
    expect(apc.inserted).toBe(false);
  });

  it('queue N1 (normal), S1 (special), N2, S2 → the kernel list is S1, S2, N1, N2 (§12 item 13: specials FIFO ahead of normals)', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    for (const [name, kind] of [
      ['N1', 'normal'],
      ['S1', 'special'],
      ['N2', 'normal'],
      ['S2', 'special'],
    ] as const) {
      insertFromElsewhere(apcFor(thread, name, kind), words);
    }
    expect(thread.apcState.kernelList.map((a) => a.name)).toEqual(['S1', 'S2', 'N1', 'N2']);
  });

  it('kernel and user APCs go to separate lists; user APCs in FIFO order', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'U1', 'user'), words);
    insertFromElsewhere(apcFor(thread, 'K1', 'normal'), words);
    insertFromElsewhere(apcFor(thread, 'U2', 'user'), words);
    expect(thread.apcState.kernelList.map((a) => a.name)).toEqual(['K1']);
    expect(thread.apcState.userList.map((a) => a.name)).toEqual(['U1', 'U2']);
  });
});

describe('§5.4 KeInsertQueueApc: what the insertion does to the target', () => {
  it('a kernel APC to the current thread sets KernelApcPending and requests an APC software interrupt on this CPU', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    const result = queueApc(apcFor(thread, 'K', 'normal'), 0, 0, { cpu: 0, currentThread: thread }, words);
    expect(result).toEqual({ inserted: true, signal: { kind: 'apc-interrupt', cpu: 0, remote: false } });
    expect(words.kernelApcPending).toBe(true);
  });

  it('…inside a guarded region: pending, but no interrupt is requested (it is delivered when the region is left)', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    enterGuardedRegion(words);
    const result = queueApc(apcFor(thread, 'S', 'special'), 0, 0, { cpu: 0, currentThread: thread }, words);
    expect(result).toEqual({ inserted: true, signal: { kind: 'none' } });
    expect(words.kernelApcPending).toBe(true);
  });

  it('a user APC to yourself is queued but not made pending (QueueUserAPC(self) runs at the next alertable wait)', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    const result = queueApc(apcFor(thread, 'U', 'user'), 0, 0, { cpu: 0, currentThread: thread }, words);
    expect(result).toEqual({ inserted: true, signal: { kind: 'none' } });
    expect(words.userApcPending).toBe(false);
    expect(thread.apcState.userList).toHaveLength(1);
  });

  it('a kernel APC to a thread running on another CPU asks for IPI(APC) to that CPU', () => {
    const thread = loneThread();
    thread.state = ThreadState.Running;
    thread.nextProcessor = 0;
    const words = newApcThreadWords();
    expect(insertFromElsewhere(apcFor(thread, 'K', 'special'), words)).toEqual({ inserted: true, signal: { kind: 'apc-interrupt', cpu: 0, remote: true } });
    expect(words.kernelApcPending).toBe(true);
  });

  it('a kernel APC to a Ready or Standby thread does nothing more: it is pending, delivered when the thread is switched in', () => {
    for (const state of [ThreadState.Ready, ThreadState.Standby, ThreadState.DeferredReady]) {
      const thread = loneThread();
      thread.state = state;
      const words = newApcThreadWords();
      expect(insertFromElsewhere(apcFor(thread, 'K', 'special'), words)).toEqual({ inserted: true, signal: { kind: 'none' } });
      expect(words.kernelApcPending).toBe(true);
    }
  });

  it('a kernel APC breaks a wait at PASSIVE_LEVEL with STATUS_KERNEL_APC; not a wait at APC_LEVEL nor one in a guarded region', () => {
    const waiting = (waitIrql: number): KThread => {
      const thread = loneThread();
      thread.state = ThreadState.Waiting;
      thread.waitIrql = waitIrql;
      return thread;
    };
    expect(insertFromElsewhere(apcFor(waiting(PASSIVE_LEVEL), 'S', 'special'), newApcThreadWords())).toEqual({
      inserted: true,
      signal: { kind: 'unwait', status: STATUS.KERNEL_APC },
    });
    expect(insertFromElsewhere(apcFor(waiting(APC_LEVEL), 'S', 'special'), newApcThreadWords())).toEqual({ inserted: true, signal: { kind: 'none' } });
    const guarded = newApcThreadWords();
    enterGuardedRegion(guarded);
    expect(insertFromElsewhere(apcFor(waiting(PASSIVE_LEVEL), 'S', 'special'), guarded)).toEqual({ inserted: true, signal: { kind: 'none' } });
  });

  it('a normal kernel APC does not break the wait of a thread in a critical region or inside a NormalRoutine; a special one does', () => {
    for (const setup of [(w: ApcThreadWords) => enterCriticalRegion(w), (w: ApcThreadWords) => void (w.kernelApcInProgress = true)]) {
      const thread = loneThread();
      thread.state = ThreadState.Waiting;
      const words = newApcThreadWords();
      setup(words);
      expect(insertFromElsewhere(apcFor(thread, 'N', 'normal'), words)).toEqual({ inserted: true, signal: { kind: 'none' } });
      expect(insertFromElsewhere(apcFor(thread, 'S', 'special'), words)).toEqual({ inserted: true, signal: { kind: 'unwait', status: STATUS.KERNEL_APC } });
    }
  });

  it('a user APC unwaits an alertable user-mode wait with STATUS_USER_APC and makes it pending; a non-alertable or kernel-mode wait keeps it queued', () => {
    const waiter = (alertable: boolean, mode: ApcMode): KThread => {
      const thread = loneThread();
      thread.state = ThreadState.Waiting;
      thread.apcState.alertable = alertable;
      thread.apcState.waitMode = mode;
      return thread;
    };
    const words = newApcThreadWords();
    expect(insertFromElsewhere(apcFor(waiter(true, UserMode), 'U', 'user'), words)).toEqual({
      inserted: true,
      signal: { kind: 'unwait', status: STATUS.USER_APC },
    });
    expect(words.userApcPending).toBe(true);
    for (const [alertable, mode] of [
      [false, UserMode],
      [true, KernelMode],
    ] as const) {
      const quiet = newApcThreadWords();
      expect(insertFromElsewhere(apcFor(waiter(alertable, mode), 'U', 'user'), quiet)).toEqual({ inserted: true, signal: { kind: 'none' } });
      expect(quiet.userApcPending).toBe(false);
    }
  });

  it('a user APC to a running thread is not pending: running user code is never interrupted by it (§12 item 12)', () => {
    const thread = loneThread();
    thread.state = ThreadState.Running;
    thread.nextProcessor = 0;
    const words = newApcThreadWords();
    expect(insertFromElsewhere(apcFor(thread, 'U', 'user'), words)).toEqual({ inserted: true, signal: { kind: 'none' } });
    expect(words.userApcPending).toBe(false);
  });
});

describe('§5.6 KiDeliverApc: the order', () => {
  it('queued N1, S1, N2, S2 → delivered S1, S2, N1 (KernelRoutine, then NormalRoutine at PASSIVE), N2', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    for (const [name, kind] of [
      ['N1', 'normal'],
      ['S1', 'special'],
      ['N2', 'normal'],
      ['S2', 'special'],
    ] as const) {
      insertFromElsewhere(apcFor(thread, name, kind), words);
    }
    const { steps, end } = deliver(thread.apcState, words, KernelMode);
    expect(steps).toEqual(['kernel-routine:S1', 'kernel-routine:S2', 'kernel-routine:N1', 'normal-routine:N1', 'kernel-routine:N2', 'normal-routine:N2']);
    expect(end).toEqual({ kind: 'done', reason: 'nothing-left' });
    expect(words.kernelApcPending).toBe(false);
    expect(words.kernelApcInProgress).toBe(false);
    expect(thread.apcState.kernelList).toEqual([]);
  });

  it('a KernelRoutine that clears the NormalRoutine leaves nothing to run at PASSIVE_LEVEL', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'N', 'normal'), words);
    expect(deliver(thread.apcState, words, KernelMode, { cancelNormal: true }).steps).toEqual(['kernel-routine:N']);
  });

  it('a KernelRoutine that returns at another IRQL is 0xC8 IRQL_UNEXPECTED_VALUE with (irql << 16 | APC_LEVEL << 8), the routine, the APC, the NormalRoutine', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    const apc = apcFor(thread, 'N', 'normal');
    insertFromElsewhere(apc, words);
    const { steps, end } = deliver(thread.apcState, words, KernelMode, { kernelRoutineIrql: DISPATCH_LEVEL });
    expect(steps).toEqual(['kernel-routine:N']);
    expect(end).toEqual({
      kind: 'bugcheck',
      bugcheck: {
        code: BUGCHECK.IRQL_UNEXPECTED_VALUE,
        params: [(DISPATCH_LEVEL << 16) | (APC_LEVEL << 8), KERNEL_ROUTINE, apcAddress(apc.id), NORMAL_ROUTINE],
      },
    });
  });

  it('in a guarded region nothing is delivered (KernelApcPending is still cleared, the APCs stay queued)', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'S', 'special'), words);
    enterGuardedRegion(words);
    expect(deliver(thread.apcState, words, KernelMode)).toEqual({ steps: [], end: { kind: 'done', reason: 'guarded-region' } });
    expect(words.kernelApcPending).toBe(false);
    expect(thread.apcState.kernelList).toHaveLength(1);
  });

  it('in a critical region specials are delivered and the first normal APC stops the whole delivery', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'N', 'normal'), words);
    insertFromElsewhere(apcFor(thread, 'S', 'special'), words);
    insertFromElsewhere(apcFor(thread, 'U', 'user'), words);
    words.userApcPending = true;
    enterCriticalRegion(words);
    const { steps, end } = deliver(thread.apcState, words, UserMode);
    expect(steps).toEqual(['kernel-routine:S']);
    // the stop skips the user APC too
    expect(end).toEqual({ kind: 'done', reason: 'kernel-apc-disable' });
    expect(thread.apcState.kernelList.map((a) => a.name)).toEqual(['N']);
    expect(thread.apcState.userList.map((a) => a.name)).toEqual(['U']);
  });

  it('a special APC queued while a NormalRoutine runs is delivered inside it; the next normal APC waits until the NormalRoutine is done', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'N1', 'normal'), words);
    const nested: DeliveryLog[] = [];
    const outer = deliver(thread.apcState, words, KernelMode, {
      during: (step) => {
        if (step.apc.name !== 'N1') return;
        insertFromElsewhere(apcFor(thread, 'N2', 'normal'), words);
        insertFromElsewhere(apcFor(thread, 'S1', 'special'), words);
        // the NormalRoutine runs at PASSIVE_LEVEL: the APC interrupt of the special one fires inside it
        nested.push(deliver(thread.apcState, words, KernelMode));
        expect(words.kernelApcInProgress, 'a special APC inside the NormalRoutine leaves KernelApcInProgress set').toBe(true);
      },
    });
    expect(nested[0]).toEqual({ steps: ['kernel-routine:S1'], end: { kind: 'done', reason: 'kernel-apc-in-progress' } });
    expect(outer.steps).toEqual(['kernel-routine:N1', 'normal-routine:N1', 'kernel-routine:N2', 'normal-routine:N2']);
  });

  it('user APCs are delivered only on a return to user mode with UserApcPending, exactly one per transition', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    for (const name of ['U1', 'U2', 'U3']) insertFromElsewhere(apcFor(thread, name, 'user'), words);
    // not pending (no alertable wait yet): nothing, even on the way to user mode
    expect(deliver(thread.apcState, words, UserMode).steps).toEqual([]);
    words.userApcPending = true;
    // a kernel-mode return never delivers user APCs
    expect(deliver(thread.apcState, words, KernelMode).steps).toEqual([]);
    const first = deliver(thread.apcState, words, UserMode);
    expect(first).toEqual({ steps: ['kernel-routine:U1', 'user-apc:U1'], end: { kind: 'done', reason: 'user-apc-delivered' } });
    expect(words.userApcPending).toBe(false);
    // NtContinue(TestAlert = TRUE) re-arms UserApcPending while more are queued: the chain runs U2, then U3
    const chain: string[] = [];
    while (!testAlertThread(thread.apcState, words, UserMode) && words.userApcPending) chain.push(...deliver(thread.apcState, words, UserMode).steps);
    expect(chain).toEqual(['kernel-routine:U2', 'user-apc:U2', 'kernel-routine:U3', 'user-apc:U3']);
  });

  it('a user APC whose KernelRoutine cancels the user-mode part re-arms UserApcPending for the next (KeTestAlertThread)', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'U1', 'user'), words);
    insertFromElsewhere(apcFor(thread, 'U2', 'user'), words);
    words.userApcPending = true;
    expect(deliver(thread.apcState, words, UserMode, { cancelNormal: true })).toEqual({
      steps: ['kernel-routine:U1'],
      end: { kind: 'done', reason: 'user-apc-consumed' },
    });
    expect(words.userApcPending).toBe(true);
  });
});

describe('§5.8 critical and guarded regions', () => {
  it('CombinedApcDisable is Special << 16 | Kernel; KeAreApcsDisabled in either region; KeAreAllApcsDisabled in a guarded region or at APC_LEVEL', () => {
    const words = newApcThreadWords();
    expect([areApcsDisabled(words), areAllApcsDisabled(words, PASSIVE_LEVEL), areAllApcsDisabled(words, APC_LEVEL)]).toEqual([false, false, true]);
    enterCriticalRegion(words);
    expect(combinedApcDisable(words)).toBe(0x0000ffff);
    expect([areApcsDisabled(words), areAllApcsDisabled(words, PASSIVE_LEVEL)]).toEqual([true, false]);
    enterGuardedRegion(words);
    expect(combinedApcDisable(words)).toBe(0xffffffff);
    expect(areAllApcsDisabled(words, PASSIVE_LEVEL)).toBe(true);
  });

  it('regions nest: only the last leave makes the queued APCs deliverable, and at PASSIVE_LEVEL they are delivered right then', () => {
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    enterCriticalRegion(words);
    expect(leaveCriticalRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'none' });
    expect(leaveCriticalRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'deliver-now' });
    enterGuardedRegion(words);
    enterGuardedRegion(words);
    expect(leaveGuardedRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'none' });
    expect(leaveGuardedRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'deliver-now' });
  });

  it('leaving with nothing queued delivers nothing; leaving a critical region inside a guarded one delivers nothing', () => {
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    expect(leaveCriticalRegion(words, false, PASSIVE_LEVEL)).toEqual({ kind: 'none' });
    enterGuardedRegion(words);
    enterCriticalRegion(words);
    expect(leaveCriticalRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'none' });
    expect(leaveGuardedRegion(words, true, PASSIVE_LEVEL)).toEqual({ kind: 'deliver-now' });
  });

  it('a thread at APC_LEVEL (a fast mutex) leaving a critical region gets KernelApcPending and an APC interrupt for when it drops to PASSIVE_LEVEL', () => {
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    expect(leaveCriticalRegion(words, true, APC_LEVEL)).toEqual({ kind: 'request-apc-interrupt' });
    expect(words.kernelApcPending).toBe(true);
  });

  it('a thread in a critical region: the special APC is delivered at once, the normal one when it leaves the region, at PASSIVE_LEVEL', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    insertFromElsewhere(apcFor(thread, 'N', 'normal'), words);
    insertFromElsewhere(apcFor(thread, 'S', 'special'), words);
    expect(deliver(thread.apcState, words, KernelMode).steps).toEqual(['kernel-routine:S']);
    expect(leaveCriticalRegion(words, thread.apcState.kernelList.length > 0, PASSIVE_LEVEL)).toEqual({ kind: 'deliver-now' });
    expect(deliver(thread.apcState, words, KernelMode).steps).toEqual(['kernel-routine:N', 'normal-routine:N']);
  });

  it('leaving a region that was never entered is 0xC4 / 0x3E and leaves the count alone', () => {
    const words = newApcThreadWords();
    const critical = leaveCriticalRegion(words, false, PASSIVE_LEVEL);
    expect(critical).toEqual({ kind: 'not-entered', bugcheck: { code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, params: [0x3e, 0, 0, 0] } });
    expect(leaveGuardedRegion(words, false, PASSIVE_LEVEL).kind).toBe('not-entered');
    expect([words.kernelApcDisable, words.specialApcDisable]).toEqual([0, 0]);
  });
});

describe('§4.11 waits and alerts', () => {
  it('the wait pre-check: a pending, deliverable kernel APC and a wait below APC_LEVEL → do not block, deliver first', () => {
    const words = newApcThreadWords();
    expect(kernelApcBeforeWait(words, PASSIVE_LEVEL)).toBe(false);
    words.kernelApcPending = true;
    expect(kernelApcBeforeWait(words, PASSIVE_LEVEL)).toBe(true);
    expect(kernelApcBeforeWait(words, APC_LEVEL)).toBe(false);
    enterGuardedRegion(words);
    expect(kernelApcBeforeWait(words, PASSIVE_LEVEL)).toBe(false);
  });

  it('an alertable user-mode wait with a user APC queued returns STATUS_USER_APC at once; a non-alertable one blocks', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'U', 'user'), words);
    expect(checkAlertability(thread.apcState, words, false, UserMode)).toBeNull();
    expect(checkAlertability(thread.apcState, words, true, UserMode)).toBe(STATUS.USER_APC);
    expect(words.userApcPending).toBe(true);
    // once pending, even a non-alertable user wait returns STATUS_USER_APC
    expect(checkAlertability(thread.apcState, words, false, UserMode)).toBe(STATUS.USER_APC);
  });

  it('Alerted[mode] makes an alertable wait return STATUS_ALERTED once; a kernel alert also ends an alertable user wait', () => {
    const state = new KApcState();
    const words = newApcThreadWords();
    state.alerted[UserMode] = true;
    expect(checkAlertability(state, words, true, UserMode)).toBe(STATUS.ALERTED);
    expect(checkAlertability(state, words, true, UserMode)).toBeNull();
    state.alerted[KernelMode] = true;
    expect(checkAlertability(state, words, true, KernelMode)).toBe(STATUS.ALERTED);
    state.alerted[KernelMode] = true;
    expect(checkAlertability(state, words, true, UserMode)).toBe(STATUS.ALERTED);
    expect(state.alerted).toEqual([false, false]);
  });

  it('KeTestAlertThread returns and clears Alerted[mode]; else, in user mode with user APCs queued, sets UserApcPending', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    thread.apcState.alerted[UserMode] = true;
    expect(testAlertThread(thread.apcState, words, UserMode)).toBe(true);
    expect(testAlertThread(thread.apcState, words, UserMode)).toBe(false);
    expect(words.userApcPending).toBe(false);
    insertFromElsewhere(apcFor(thread, 'U', 'user'), words);
    expect(testAlertThread(thread.apcState, words, KernelMode)).toBe(false);
    expect(words.userApcPending).toBe(false);
    expect(testAlertThread(thread.apcState, words, UserMode)).toBe(false);
    expect(words.userApcPending).toBe(true);
  });
});

describe('§5.10 KeRemoveQueueApc, KeFlushQueueApc', () => {
  it('KeRemoveQueueApc unlinks an inserted APC (TRUE) and clears the pending flag when its list empties; FALSE if not inserted', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    const a = apcFor(thread, 'A', 'special');
    const b = apcFor(thread, 'B', 'normal');
    insertFromElsewhere(a, words);
    insertFromElsewhere(b, words);
    words.kernelApcPending = true;
    expect(removeQueueApc(a, words)).toBe(true);
    expect(words.kernelApcPending).toBe(true);
    expect(removeQueueApc(b, words)).toBe(true);
    expect(words.kernelApcPending).toBe(false);
    expect(removeQueueApc(b, words)).toBe(false);
    expect([a.inserted, b.inserted]).toEqual([false, false]);
    // a removed APC may be inserted again
    expect(insertFromElsewhere(a, words).inserted).toBe(true);
  });

  it('KeFlushQueueApc detaches the whole list in order, every APC no longer inserted', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    for (const name of ['U1', 'U2']) insertFromElsewhere(apcFor(thread, name, 'user'), words);
    const flushed = flushQueueApc(thread.apcState, UserMode);
    expect(flushed.map((a) => [a.name, a.inserted])).toEqual([
      ['U1', false],
      ['U2', false],
    ]);
    expect(thread.apcState.userList).toEqual([]);
    expect(flushQueueApc(thread.apcState, UserMode)).toEqual([]);
  });
});

describe('§5.7 system-service exit and thread exit', () => {
  it('a system call returning with KernelApcDisable = −1 is 0x1 APC_INDEX_MISMATCH with P3 = 0x0000FFFF', () => {
    const words = newApcThreadWords();
    expect(systemServiceExitCheck(words, PASSIVE_LEVEL, 42)).toBeNull();
    enterCriticalRegion(words);
    expect(systemServiceExitCheck(words, PASSIVE_LEVEL, 42)).toEqual({ code: BUGCHECK.APC_INDEX_MISMATCH, params: [42, 0, 0x0000ffff, 0] });
  });

  it('a system call returning inside a guarded region is 0x1 with P3 = 0xFFFF0000; from a worker routine P4 = 1', () => {
    const words = newApcThreadWords();
    enterGuardedRegion(words);
    expect(systemServiceExitCheck(words, PASSIVE_LEVEL, 42)).toEqual({ code: BUGCHECK.APC_INDEX_MISMATCH, params: [42, 0, 0xffff0000, 0] });
    expect(systemServiceExitCheck(words, PASSIVE_LEVEL, 42, true)?.params[3]).toBe(1);
  });

  it('a system call returning above PASSIVE_LEVEL is 0x4A first', () => {
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    expect(systemServiceExitCheck(words, APC_LEVEL, 42)).toEqual({ code: BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE, params: [42, APC_LEVEL, 0, 0] });
  });

  it('thread exit: no more insertions; user APCs still queued go to their rundown; kernel APCs still queued are 0x20', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    insertFromElsewhere(apcFor(thread, 'U1', 'user'), words);
    insertFromElsewhere(apcFor(thread, 'U2', 'user'), words);
    const clean = rundownThreadApcs(thread.apcState, words, PASSIVE_LEVEL);
    expect(clean.rundown.map((a) => [a.name, a.rundownRoutine])).toEqual([
      ['U1', RUNDOWN_ROUTINE],
      ['U2', RUNDOWN_ROUTINE],
    ]);
    expect(clean.bugcheck).toBeNull();
    expect(insertFromElsewhere(apcFor(thread, 'late', 'special'), words)).toEqual({ inserted: false, reason: 'thread-exiting' });

    const other = loneThread();
    const otherWords = newApcThreadWords();
    const stuck = apcFor(other, 'K', 'normal');
    insertFromElsewhere(stuck, otherWords);
    expect(rundownThreadApcs(other.apcState, otherWords, PASSIVE_LEVEL).bugcheck).toEqual({
      code: BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT,
      params: [apcAddress(stuck.id), 0, PASSIVE_LEVEL, 0],
    });
  });

  it('thread exit inside a critical region is 0x20 with CombinedApcDisable as P2', () => {
    const thread = loneThread();
    const words = newApcThreadWords();
    enterCriticalRegion(words);
    expect(rundownThreadApcs(thread.apcState, words, PASSIVE_LEVEL).bugcheck).toEqual({
      code: BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT,
      params: [0, 0x0000ffff, PASSIVE_LEVEL, 0],
    });
  });
});

describe('the APC words in the shared thread table', () => {
  it('SharedApcWords reads and writes ThreadField’s APC words; the pending bits are separate bits of one word', () => {
    const i32 = new Int32Array(2 * ThreadField.WORDS);
    const record = ThreadField.WORDS;
    const words = new SharedApcWords(i32, record);
    enterCriticalRegion(words);
    enterGuardedRegion(words);
    words.kernelApcInProgress = true;
    words.kernelApcPending = true;
    words.userApcPending = true;
    words.kernelApcPending = false;
    expect(i32[record + ThreadField.KERNEL_APC_DISABLE]).toBe(-1);
    expect(i32[record + ThreadField.SPECIAL_APC_DISABLE]).toBe(-1);
    expect(i32[record + ThreadField.KERNEL_APC_IN_PROGRESS]).toBe(1);
    expect(i32[record + ThreadField.APC_PENDING]).toBe(ApcPendingBit.USER);
    expect(combinedApcDisable(words)).toBe(0xffffffff);
    // the thread before it is untouched
    expect(Array.from(i32.subarray(0, record)).every((w) => w === 0)).toBe(true);
  });

  it('the dispatcher publishes which APC lists are non-empty, for a region exit to test without asking', () => {
    const i32 = new Int32Array(ThreadField.WORDS);
    const words = new SharedApcWords(i32, 0);
    const thread = loneThread();
    insertFromElsewhere(apcFor(thread, 'U', 'user'), words);
    words.publishQueued(thread.apcState);
    expect([words.kernelApcsQueued, words.userApcsQueued]).toEqual([false, true]);
    expect(i32[ThreadField.APC_QUEUED]).toBe(ApcQueuedBit.USER);
  });
});

describe('KeInsertQueueApc and KeAlertThread as dispatcher operations (§5.4 step 5, §12 item 10)', () => {
  function machine(): KernelMachine {
    const m = new KernelMachine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, affinity: [0] },
        { name: 'B', priority: 8, affinity: [1] },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    return m;
  }

  it('a special APC to a thread blocked at PASSIVE_LEVEL: it wakes with KERNEL_APC (its wait call restarts), runs the APC, re-waits with the remaining timeout, and its caller sees no change', () => {
    const m = machine();
    const a = m.t('A');
    const timeout = -100 * 10_000; // 100 ms, relative
    m.at(0);
    m.wait(0, ['E'], { timeout });
    const due = a.timer.dueTime;
    expect(a.state).toBe(ThreadState.Waiting);
    m.at(2); // ~31 ms later
    const apc = apcFor(a, 'S', 'special');
    const words = newApcThreadWords();
    const { outcome, result } = insertQueueApc(m.db, m.caller(1), apc, 0, 0, 1, words);
    expect(result).toEqual({ inserted: true, signal: { kind: 'unwait', status: STATUS.KERNEL_APC } });
    expect(outcome.status).toBe(1);
    expect(words.kernelApcPending).toBe(true);
    expect(a.waitStatus).toBe(STATUS.KERNEL_APC);
    expect(a.resume).toEqual({ action: ResumeAction.RestartCall, value: a.restartPc });
    // CPU 0 switches A back in; the APC runs before A's code resumes (its wait restarts)
    m.dispatchInterrupt(0);
    expect(m.current(0)).toBe(a);
    expect(deliver(a.apcState, words, KernelMode).steps).toEqual(['kernel-routine:S']);
    m.at(3);
    m.wait(0, ['E'], { timeout });
    expect(a.state).toBe(ThreadState.Waiting);
    expect(a.timer.dueTime, 'the restarted wait keeps its original due time').toBe(due);
  });

  it('a kernel APC to a thread running on the other CPU: inserted, and the decision is IPI(APC) to that CPU (no reschedule IPI)', () => {
    const m = machine();
    const b = m.t('B');
    expect(m.current(1)).toBe(b);
    const words = newApcThreadWords();
    const { outcome, result } = insertQueueApc(m.db, m.caller(0), apcFor(b, 'K', 'normal'), 0, 0, 0, words);
    expect(result).toEqual({ inserted: true, signal: { kind: 'apc-interrupt', cpu: 1, remote: true } });
    expect(outcome.ipiTargets).toEqual([]);
    expect(outcome.switchTo).toBeNull();
  });

  it('KeInsertQueueApc of an APC already queued returns FALSE through the dispatcher too', () => {
    const m = machine();
    const apc = apcFor(m.t('B'), 'K', 'special');
    const words = newApcThreadWords();
    insertQueueApc(m.db, m.caller(0), apc, 0, 0, 0, words);
    expect(insertQueueApc(m.db, m.caller(0), apc, 0, 0, 0, words).outcome.status).toBe(0);
  });

  it('KeAlertThread breaks an alertable wait with STATUS_ALERTED (boosted), else sets Alerted[mode]; returns the previous Alerted', () => {
    const m = machine();
    const a = m.t('A');
    m.wait(0, ['E']);
    a.apcState.alertable = true;
    a.apcState.waitMode = UserMode;
    const first = alertThread(m.db, m.caller(1), a.id, UserMode);
    expect(first.status).toBe(0);
    expect(a.state).not.toBe(ThreadState.Waiting);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.ALERTED });
    expect(a.adjustIncrement).toBe(THREAD_ALERT_INCREMENT);
    // not waiting now: the alert is remembered
    expect(alertThread(m.db, m.caller(1), a.id, KernelMode).status).toBe(0);
    expect(a.apcState.alerted[KernelMode]).toBe(true);
    expect(alertThread(m.db, m.caller(1), a.id, KernelMode).status).toBe(1);
  });
});

describe('built-in APC routines', () => {
  it('the I/O manager’s routines are negative, so one Int32 names an interpreted routine or a built-in', () => {
    for (const routine of Object.values(ApcBuiltinRoutine)) expect(routine).toBeLessThan(NO_ROUTINE);
  });
});
