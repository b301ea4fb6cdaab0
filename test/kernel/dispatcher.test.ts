// The dispatcher database (nt-semantics.md §4), in-process and deterministic, on the KernelMachine
// of kernel-machine.ts: a DispatcherDatabase driven the way a CPU drives it, its invariants checked
// after every operation. The same rules run end to end on real workers in test/smp/.
import { describe, expect, it, vi } from 'vitest';
import { DispatcherInvariantError, KThread, ResumeAction, ThreadState, isLegalTransition } from '../../src/kernel/thread.js';
import type { ThreadStateCode } from '../../src/kernel/thread.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { EVENT_INCREMENT, IO_NO_INCREMENT, STATUS, WaitReason, WaitType } from '../../src/kernel/status.js';
import { CALL_PC, KernelMachine as Machine, QUANTUM } from './kernel-machine.js';
import type { Caller, DispatchOutcome, DispatcherLock } from '../../src/kernel/dispatcher-lock.js';
import { releaseSemaphore } from '../../src/kernel/semaphore.js';

const S = ThreadState;

// -------------------------------------------------------------------------------------------------
// §4.1 thread states
// -------------------------------------------------------------------------------------------------

describe('§4.1 thread states', () => {
  it('isLegalTransition allows exactly the transitions of §4.1 (plus Running → DeferredReady for KxQueueReadyThread migration, §4.5.3, and Ready → DeferredReady for KiSetPriorityThread)', () => {
    const legal: Array<[ThreadStateCode, ThreadStateCode]> = [
      [S.Initialized, S.DeferredReady],
      [S.Initialized, S.Ready],
      [S.Initialized, S.Standby],
      [S.Ready, S.Standby],
      [S.Ready, S.Running],
      [S.Ready, S.DeferredReady],
      [S.Standby, S.Running],
      [S.Standby, S.DeferredReady],
      [S.Running, S.Ready],
      [S.Running, S.Waiting],
      [S.Running, S.Terminated],
      [S.Running, S.DeferredReady],
      [S.Waiting, S.DeferredReady],
      [S.Waiting, S.Ready],
      [S.Waiting, S.Standby],
      [S.Waiting, S.Transition],
      [S.Transition, S.Ready],
      [S.DeferredReady, S.Ready],
      [S.DeferredReady, S.Standby],
    ];
    const states = Object.values(ThreadState);
    for (const from of states) {
      for (const to of states) {
        const expected = legal.some(([f, t]) => f === from && t === to);
        expect(isLegalTransition(from, to), `${from} → ${to}`).toBe(expected);
      }
    }
    // nothing leaves Terminated, nothing goes back to Initialized
    for (const to of states) {
      expect(isLegalTransition(S.Terminated, to)).toBe(false);
      expect(isLegalTransition(to, S.Initialized)).toBe(false);
    }
  });

  it('an illegal transition throws DispatcherInvariantError and leaves the state unchanged', () => {
    const thread = new KThread({ id: 9, name: 'T', basePriority: 8, affinity: [true], idealProcessor: 0, quantumReset: 6, stackTop: 0 });
    expect(thread.state).toBe(S.Initialized);
    expect(() => thread.setState(S.Running)).toThrow(DispatcherInvariantError);
    expect(thread.state).toBe(S.Initialized);
    thread.setState(S.DeferredReady);
    thread.setState(S.Standby);
    thread.setState(S.Running);
    expect(() => thread.setState(S.Standby)).toThrow(DispatcherInvariantError);
    thread.setState(S.Terminated);
    expect(() => thread.setState(S.Ready)).toThrow(/illegal state transition Terminated → Ready/);
    expect(thread.state).toBe(S.Terminated);
  });

  it('the database makes only §4.1 transitions: a busy scenario records each one it makes', () => {
    const seen = new Set<string>();
    const original = KThread.prototype.setState;
    const spy = vi.spyOn(KThread.prototype, 'setState').mockImplementation(function (this: KThread, to: ThreadStateCode) {
      if (!this.isIdle) {
        expect(isLegalTransition(this.state, to), `${this.name}: ${this.state} → ${to}`).toBe(true);
        seen.add(`${this.state}>${to}`);
      }
      original.call(this, to);
    });
    try {
      const m = new Machine({
        cpus: 2,
        threads: [
          { name: 'H', priority: 12, ideal: 0 },
          { name: 'A', priority: 8, ideal: 0 },
          { name: 'B', priority: 8, ideal: 1 },
          { name: 'C', priority: 8, ideal: 1 },
          { name: 'L', priority: 4, ideal: 1, startAtBoot: false },
        ],
        events: [{ name: 'E', sync: true }, { name: 'F' }],
      });
      m.start(); // CPU 0: H, A ready; CPU 1: B, C ready
      m.startThread(1, 'L'); // Initialized → DeferredReady → Ready
      m.wait(0, ['E']); // H waits, A runs
      m.setEvent(1, 'E', 0, false, { oldIrql: 2 }); // H standby on CPU 0
      expect(m.dispatchInterrupt(0).switchTo?.name).toBe('H'); // A preempted → Ready (head)
      m.quantumEnd(1); // B → tail, C runs
      m.yield(1); // C → tail, B runs
      m.terminate(0); // H terminates, A runs
      m.wait(1, ['F']); // B waits
      m.wait(1, ['F']); // C waits; L runs
      m.wait(1, ['F']); // L waits; nothing left: CPU 1 idles
    } finally {
      spy.mockRestore();
    }
    const name = (code: number): string => Object.entries(ThreadState).find(([, v]) => v === code)![0];
    const made = [...seen]
      .map((k) =>
        k
          .split('>')
          .map((v) => name(Number(v)))
          .join(' → '),
      )
      .sort();
    expect(made).toEqual(
      [
        'Initialized → DeferredReady',
        'DeferredReady → Standby',
        'DeferredReady → Ready',
        'Standby → Running',
        'Ready → Running',
        'Ready → Standby',
        'Running → Ready',
        'Running → Waiting',
        'Running → Terminated',
        'Waiting → DeferredReady',
      ].sort(),
    );
  });

  it('boot readies the declared threads: Initialized → Standby on idle CPUs, Ready behind busy ones; a later thread stays Initialized', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
        { name: 'C', priority: 8, ideal: 1 },
        { name: 'Later', priority: 8, startAtBoot: false },
      ],
    });
    m.boot();
    expect([m.standby(0), m.standby(1)]).toEqual(['A', 'B']);
    expect(m.readyList(1, 8)).toEqual(['C']);
    expect(m.t('Later').state).toBe(S.Initialized);
    m.dispatchInterrupt(0);
    m.dispatchInterrupt(1);
    expect(m.running()).toEqual(['A', 'B']);
    expect(m.t('A').lastProcessor).toBe(0);
  });

  it('a thread started by PsCreateSystemThread resumes with its StartContext; starting it twice is STATUS_INVALID_PARAMETER', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'T', priority: 8, startAtBoot: false },
      ],
    });
    m.start();
    expect(m.startThread(0, 'T', 0x1234).status).toBe(STATUS.SUCCESS);
    expect(m.t('T').state).toBe(S.Ready);
    expect(m.t('T').resume).toEqual({ action: ResumeAction.StartContext, value: 0x1234 });
    expect(m.startThread(0, 'T', 0).status).toBe(STATUS.INVALID_PARAMETER);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.11 waits
// -------------------------------------------------------------------------------------------------

describe('§4.11 waits', () => {
  it('WaitAny returns the lowest satisfiable index and consumes only that object', () => {
    const m = new Machine({
      cpus: 1,
      threads: [{ name: 'A', priority: 8 }],
      events: [
        { name: 'E1', sync: true },
        { name: 'E2', sync: true, signaled: true },
        { name: 'E3', sync: true, signaled: true },
      ],
    });
    m.start();
    const out = m.wait(0, ['E1', 'E2', 'E3']);
    expect(out.status).toBe(1);
    expect(out.switchTo).toBeNull();
    expect(m.event('E1').signalState).toBe(0);
    expect(m.event('E2').signalState).toBe(0);
    expect(m.event('E3').signalState).toBe(1);
    expect(m.t('A').state).toBe(S.Running);
  });

  it('WaitAny satisfied by a notification event returns its index and leaves it signaled', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], events: [{ name: 'E1' }, { name: 'E2', signaled: true }] });
    m.start();
    expect(m.wait(0, ['E1', 'E2']).status).toBe(1);
    expect(m.event('E2').signalState).toBe(1);
  });

  it('WaitAll on [M owned by the caller, S count 1] succeeds: M recursion 2 (SignalState −1), S 0', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], mutexes: [{ name: 'M' }], semaphores: [{ name: 'S', count: 1, limit: 4 }] });
    m.start();
    expect(m.wait(0, ['M']).status).toBe(STATUS.WAIT_0);
    expect(m.mutex('M').owner).toBe(m.t('A'));
    expect(m.mutex('M').signalState).toBe(0);
    const out = m.wait(0, ['M', 'S'], { type: WaitType.WaitAll });
    expect(out.status).toBe(STATUS.SUCCESS);
    expect(out.switchTo).toBeNull();
    expect(m.mutex('M').signalState).toBe(-1);
    expect(m.mutex('M').owner).toBe(m.t('A'));
    expect(m.t('A').ownedMutants).toEqual([m.mutex('M')]);
    expect(m.semaphore('S').signalState).toBe(0);
  });

  it('WaitAll with one object unsatisfiable blocks and consumes none of them', () => {
    const m = new Machine({
      cpus: 1,
      threads: [{ name: 'A', priority: 8 }],
      events: [
        { name: 'E', sync: true, signaled: true },
        { name: 'F', sync: true },
      ],
      semaphores: [{ name: 'S', count: 1, limit: 1 }],
    });
    m.start();
    const out = m.wait(0, ['E', 'S', 'F'], { type: WaitType.WaitAll });
    expect(out.switchTo).toBe(m.idle(0));
    expect(m.t('A').state).toBe(S.Waiting);
    expect(m.event('E').signalState).toBe(1);
    expect(m.semaphore('S').signalState).toBe(1);
    expect([m.waiters('E'), m.waiters('S'), m.waiters('F')]).toEqual([['A'], ['A'], ['A']]);
  });

  it('a zero timeout on an unsatisfiable wait returns STATUS_TIMEOUT without blocking', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    const out = m.wait(0, ['E'], { timeout: 0 });
    expect(out.status).toBe(STATUS.TIMEOUT);
    expect(out.switchTo).toBeNull();
    expect(m.t('A').state).toBe(S.Running);
    expect(m.waiters('E')).toEqual([]);
    expect(m.t('A').waits).toBe(0);
    // legal at DISPATCH_LEVEL too: it never blocks
    expect(m.wait(0, ['E'], { timeout: 0, oldIrql: 2 }).status).toBe(STATUS.TIMEOUT);
  });

  it('a blocking wait links at the tail of the wait list, records WaitIrql/WaitReason and switches to the next ready thread', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    expect(m.wait(0, ['E'], { oldIrql: 1 }).switchTo?.name).toBe('B');
    expect(m.wait(0, ['E']).switchTo?.name).toBe('C');
    expect(m.waiters('E')).toEqual(['A', 'B']);
    const a = m.t('A');
    expect([a.state, a.waitIrql, a.waitReason, a.restartPc, a.waits]).toEqual([S.Waiting, 1, WaitReason.Executive, CALL_PC, 1]);
  });

  it('the thread that runs next when the current one would block is what peekNextThread names, without changing anything', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 6 },
        { name: 'C', priority: 7 },
      ],
    });
    m.start();
    expect(m.db.peekNextThread(0).name).toBe('C');
    expect(m.readyList(0, 7)).toEqual(['C']);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.10 events
// -------------------------------------------------------------------------------------------------

describe('§4.10 events', () => {
  /** One CPU: B blocks on WaitAll [E, X] first, then A and C on WaitAny [E]; S is left running. */
  function syncEventWaiters(): Machine {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'B', priority: 8 },
        { name: 'A', priority: 8 },
        { name: 'C', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'E', sync: true }, { name: 'X' }],
    });
    m.start();
    expect(m.running()).toEqual(['B']);
    m.wait(0, ['E', 'X'], { type: WaitType.WaitAll });
    m.wait(0, ['E']);
    m.wait(0, ['E']);
    expect(m.running()).toEqual(['S']);
    expect(m.waiters('E')).toEqual(['B', 'A', 'C']);
    return m;
  }

  it('KeSetEvent on a sync event releases a WaitAll waiter ahead with STATUS_KERNEL_APC (RestartCall), the first WaitAny waiter, and resets the event', () => {
    const m = syncEventWaiters();
    const out = m.setEvent(0, 'E');
    expect(out.status).toBe(0); // previous state
    expect(out.switchTo).toBeNull();
    const [a, b, c] = [m.t('A'), m.t('B'), m.t('C')];
    expect(b.state).toBe(S.Ready);
    expect(b.waitStatus).toBe(STATUS.KERNEL_APC);
    expect(b.resume).toEqual({ action: ResumeAction.RestartCall, value: CALL_PC });
    expect(m.waiters('X')).toEqual([]); // all of B's wait blocks are gone
    expect(a.state).toBe(S.Ready);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.WAIT_0 });
    expect(c.state).toBe(S.Waiting);
    expect(m.waiters('E')).toEqual(['C']);
    expect(m.event('E').signalState).toBe(0);
    expect(m.readyList(0, 8)).toEqual(['B', 'A']);
  });

  it('the WaitAll waiter released with STATUS_KERNEL_APC re-tests its wait when it runs and blocks again', () => {
    const m = syncEventWaiters();
    m.setEvent(0, 'E');
    expect(m.wait(0, ['X']).switchTo?.name).toBe('B'); // S blocks, B runs and restarts its call
    const out = m.wait(0, ['E', 'X'], { type: WaitType.WaitAll });
    expect(out.switchTo?.name).toBe('A');
    expect(m.t('B').state).toBe(S.Waiting);
    expect(m.waiters('E')).toEqual(['C', 'B']);
  });

  it('a sync event with only a WaitAll waiter that cannot complete stays signaled', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'B', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'E', sync: true }, { name: 'X' }],
    });
    m.start();
    m.wait(0, ['E', 'X'], { type: WaitType.WaitAll });
    m.setEvent(0, 'E');
    expect(m.t('B').waitStatus).toBe(STATUS.KERNEL_APC);
    expect(m.event('E').signalState).toBe(1);
  });

  it('a notification event releases every waiter and stays signaled', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'N' }, { name: 'F' }],
    });
    m.start();
    m.wait(0, ['N']);
    m.wait(0, ['F', 'N']);
    m.wait(0, ['N']);
    const out = m.setEvent(0, 'N');
    expect(out.status).toBe(0);
    expect(m.event('N').signalState).toBe(1);
    expect(m.waiters('N')).toEqual([]);
    expect(m.waiters('F')).toEqual([]);
    expect(['A', 'B', 'C'].map((n) => m.t(n).resume)).toEqual([
      { action: ResumeAction.SetResult, value: 0 },
      { action: ResumeAction.SetResult, value: 1 },
      { action: ResumeAction.SetResult, value: 0 },
    ]);
    expect(m.readyList(0, 8)).toEqual(['A', 'B', 'C']);
    // a later wait is satisfied at once and does not consume it
    expect(m.wait(0, ['N']).status).toBe(0);
    expect(m.event('N').signalState).toBe(1);
  });

  it('setting an already-signaled notification event returns 1 and wakes nobody', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], events: [{ name: 'N', signaled: true }] });
    m.start();
    const out = m.setEvent(0, 'N');
    expect(out.status).toBe(1);
    expect(out.switchTo).toBeNull();
    expect(m.event('N').signalState).toBe(1);
  });

  it('KeResetEvent returns the previous state and clears the event; KeReadStateEvent reads it', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], events: [{ name: 'N', signaled: true }] });
    m.start();
    expect(m.db.readState(m.caller(0), m.id('N')).status).toBe(1);
    expect(m.db.resetEvent(m.caller(0), m.id('N')).status).toBe(1);
    expect(m.event('N').signalState).toBe(0);
    expect(m.db.resetEvent(m.caller(0), m.id('N')).status).toBe(0);
    expect(m.db.readState(m.caller(0), m.id('N')).status).toBe(0);
  });

  it('KePulseEvent releases the waiters of a notification event and leaves it reset', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [{ name: 'N' }],
    });
    m.start();
    m.wait(0, ['N']);
    m.wait(0, ['N']);
    const out = m.pulseEvent(0, 'N');
    expect(out.status).toBe(0);
    expect(m.event('N').signalState).toBe(0);
    expect(m.waiters('N')).toEqual([]);
    expect([m.t('A').state, m.t('B').state]).toEqual([S.Ready, S.Ready]);
  });

  it('KePulseEvent on a sync event releases one waiter; with no waiters it only resets', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'S', priority: 8 },
      ],
      events: [
        { name: 'E', sync: true },
        { name: 'N', signaled: true },
      ],
    });
    m.start();
    m.wait(0, ['E']);
    m.wait(0, ['E']);
    m.pulseEvent(0, 'E');
    expect(m.waiters('E')).toEqual(['B']);
    expect(m.t('A').state).toBe(S.Ready);
    expect(m.event('E').signalState).toBe(0);
    expect(m.pulseEvent(0, 'N').status).toBe(1);
    expect(m.event('N').signalState).toBe(0);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.10 mutants and semaphores, threads as objects
// -------------------------------------------------------------------------------------------------

describe('§4.10 mutants', () => {
  it('a mutex release by a non-owner raises STATUS_MUTANT_NOT_OWNED: bugcheck 0x1E with P1 0xC0000046', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
      ],
      mutexes: [{ name: 'M' }],
    });
    m.start();
    // free: nobody owns it
    let out = m.releaseMutant(0, 'M');
    expect(out.bugcheck?.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect(out.bugcheck?.params[0]).toBe(0xc0000046);
    // owned by B on the other CPU
    m.wait(1, ['M']);
    out = m.releaseMutant(0, 'M');
    expect(out.bugcheck).toEqual({ code: 0x1e, params: [STATUS.MUTANT_NOT_OWNED, 0, m.id('M'), m.id('A')] });
    expect(m.mutex('M').owner).toBe(m.t('B'));
    expect(m.mutex('M').signalState).toBe(0);
  });

  it('a recursively held mutex is free only after as many releases; the last release gives it to the first waiter', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
      ],
      mutexes: [{ name: 'M' }],
    });
    m.start();
    m.wait(0, ['M']);
    m.wait(0, ['M']);
    expect(m.wait(1, ['M']).switchTo).toBe(m.idle(1));
    expect(m.releaseMutant(0, 'M').status).toBe(-1);
    expect(m.mutex('M').owner).toBe(m.t('A'));
    expect(m.waiters('M')).toEqual(['B']);
    const out = m.releaseMutant(0, 'M');
    expect(out.status).toBe(0);
    expect(out.ipiTargets).toEqual([1]);
    expect(m.mutex('M').owner).toBe(m.t('B'));
    expect(m.mutex('M').signalState).toBe(0);
    expect(m.t('A').ownedMutants).toEqual([]);
    expect(m.t('B').ownedMutants).toEqual([m.mutex('M')]);
    expect(m.standby(1)).toBe('B');
  });

  it('a thread that exits owning a KMUTEX bugchecks 0x46 THREAD_TERMINATE_HELD_MUTEX', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], mutexes: [{ name: 'M', kernel: true }] });
    m.start();
    m.wait(0, ['M']);
    const out = m.terminate(0);
    expect(out.bugcheck?.code).toBe(BUGCHECK.THREAD_TERMINATE_HELD_MUTEX);
    expect(out.bugcheck?.code).toBe(0x46);
  });

  it('a thread that exits owning a mutant abandons it: the next waiter owns it with STATUS_ABANDONED_WAIT_0 + index', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
      ],
      mutexes: [{ name: 'M', kernel: false }],
      events: [{ name: 'F' }],
    });
    m.start();
    m.wait(0, ['M']);
    expect(m.wait(1, ['F', 'M']).switchTo).toBe(m.idle(1));
    const out = m.terminate(0, 7);
    expect(out.bugcheck).toBeNull();
    expect(out.switchTo).toBe(m.idle(0));
    expect(out.ipiTargets).toEqual([1]);
    expect(m.t('A').state).toBe(S.Terminated);
    expect(m.t('A').exitStatus).toBe(7);
    expect(m.t('A').ownedMutants).toEqual([]);
    const b = m.t('B');
    expect(b.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.ABANDONED_WAIT_0 + 1 });
    expect(m.mutex('M').owner).toBe(b);
    expect(m.mutex('M').signalState).toBe(0);
    expect(m.mutex('M').abandoned).toBe(false); // reported once
    expect(m.standby(1)).toBe('B');
  });

  it('a mutant abandoned with no waiter: a non-owner release raises STATUS_ABANDONED, the next acquirer gets STATUS_ABANDONED_WAIT_0', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
      ],
      mutexes: [{ name: 'M', kernel: false }],
    });
    m.start();
    m.wait(0, ['M']);
    m.terminate(0);
    expect(m.mutex('M').abandoned).toBe(true);
    expect(m.mutex('M').signalState).toBe(1);
    expect(m.mutex('M').owner).toBeNull();
    // releasing an abandoned mutant one does not own raises STATUS_ABANDONED
    expect(m.releaseMutant(1, 'M').bugcheck).toEqual({ code: 0x1e, params: [STATUS.ABANDONED, 0, m.id('M'), m.id('B')] });
    expect(m.wait(1, ['M']).status).toBe(STATUS.ABANDONED_WAIT_0);
    expect(m.mutex('M').owner).toBe(m.t('B'));
  });
});

describe('§4.10 semaphores', () => {
  it('a semaphore release past the limit raises STATUS_SEMAPHORE_LIMIT_EXCEEDED: bugcheck 0x1E, count unchanged', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }], semaphores: [{ name: 'S', count: 1, limit: 2 }] });
    m.start();
    const out = m.releaseSemaphore(0, 'S', 2);
    expect(out.bugcheck?.code).toBe(0x1e);
    expect(out.bugcheck?.params[0]).toBe(0xc0000047);
    expect(m.semaphore('S').signalState).toBe(1);
    expect(m.releaseSemaphore(0, 'S', 1).status).toBe(1);
    expect(m.semaphore('S').signalState).toBe(2);
  });

  it('a semaphore release of adjustment 2 releases two WaitAny waiters, in FIFO order', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
        { name: 'R', priority: 8 },
      ],
      semaphores: [{ name: 'S', count: 0, limit: 5 }],
    });
    m.start();
    m.wait(0, ['S']);
    m.wait(0, ['S']);
    m.wait(0, ['S']);
    const out = m.releaseSemaphore(0, 'S', 2);
    expect(out.status).toBe(0);
    expect(m.semaphore('S').signalState).toBe(0);
    expect([m.t('A').state, m.t('B').state, m.t('C').state]).toEqual([S.Ready, S.Ready, S.Waiting]);
    expect(m.waiters('S')).toEqual(['C']);
  });
});

describe('threads as dispatcher objects', () => {
  it('a thread object becomes signaled at termination, releases its waiters and stays signaled', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'W1', priority: 8, ideal: 0 },
        { name: 'T', priority: 8, ideal: 1 },
        { name: 'W2', priority: 8, ideal: 0 },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['W1', 'T']);
    m.wait(0, ['T']); // W2 runs on CPU 0
    m.wait(0, ['T']);
    expect(m.waiters('T')).toEqual(['W1', 'W2']);
    const out = m.terminate(1);
    const t = m.t('T');
    expect(t.state).toBe(S.Terminated);
    expect(t.signalState).toBe(1);
    expect(m.waiters('T')).toEqual([]);
    expect([m.t('W1').resume.value, m.t('W2').resume.value]).toEqual([0, 0]);
    // W1 takes idle CPU 0 (standby); W2 queues behind it on its ideal CPU 0, and CPU 1, left with
    // nothing of its own, steals it instead of going idle
    expect(out.ipiTargets).toEqual([0]);
    expect(out.switchTo?.name).toBe('W2');
    expect(m.standby(0)).toBe('W1');
    m.dispatchInterrupt(0);
    expect(m.running()).toEqual(['W1', 'W2']);
    expect(m.wait(0, ['T']).status).toBe(0);
    expect(t.signalState).toBe(1);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.5 / §4.7 readying and KiExitDispatcher
// -------------------------------------------------------------------------------------------------

describe('§4.7 KiExitDispatcher: preemption inside the call', () => {
  /** CPU 0: T (12) blocked on E, A (8) running, B (8) ready; CPU 1: X (8). */
  function setterAndWaiter(): Machine {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T', priority: 12, affinity: [0] },
        { name: 'A', priority: 8, affinity: [0] },
        { name: 'B', priority: 8, affinity: [0] },
        { name: 'X', priority: 8, affinity: [1], ideal: 1 },
      ],
      events: [{ name: 'E', sync: true }],
    });
    m.start();
    expect(m.running()).toEqual(['T', 'X']);
    expect(m.wait(0, ['E']).switchTo?.name).toBe('A');
    expect(m.readyList(0, 8)).toEqual(['B']);
    return m;
  }

  it('KeSetEvent at PASSIVE waking a higher-priority thread of the same CPU switches inside the call; the caller goes Ready at the head of its list', () => {
    const m = setterAndWaiter();
    const a = m.t('A');
    const out = m.setEvent(0, 'E', EVENT_INCREMENT);
    expect(out.switchTo?.name).toBe('T');
    expect(out.status).toBe(0);
    expect(out.requestDispatch).toBe(false);
    expect(out.ipiTargets).toEqual([]);
    expect(out.quantum).toBe(m.t('T').quantum);
    expect(a.state).toBe(S.Ready);
    expect(m.readyList(0, 8)).toEqual(['A', 'B']);
    expect(a.preempted).toBe(false);
    expect(a.waitReason).toBe(WaitReason.WrPreempted);
    expect(a.waitIrql).toBe(0);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: 0 }); // KeSetEvent's previous state
    expect(m.running()).toEqual(['T', 'X']);
  });

  it('a caller at DISPATCH_LEVEL waking a higher-priority thread of its CPU gets requestDispatch and keeps running; the DISPATCH interrupt switches', () => {
    const m = setterAndWaiter();
    const out = m.setEvent(0, 'E', IO_NO_INCREMENT, false, { oldIrql: 2 });
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(true);
    expect(out.ipiTargets).toEqual([]);
    expect(m.running()).toEqual(['A', 'X']);
    expect(m.standby(0)).toBe('T');
    expect(m.t('A').preempted).toBe(true);
    const out2 = m.dispatchInterrupt(0);
    expect(out2.switchTo?.name).toBe('T');
    expect(m.readyList(0, 8)).toEqual(['A', 'B']);
    expect(m.t('A').waitReason).toBe(WaitReason.WrDispatchInt);
    expect(m.t('A').resume.action).toBe(ResumeAction.None);
  });

  it('KeSetEvent waking a higher-priority thread whose affinity is another, busy CPU: IPI to that CPU, which gets it as Standby; the caller continues', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T', priority: 12, affinity: [1], ideal: 1 },
        { name: 'A', priority: 8, affinity: [0], ideal: 0 },
        { name: 'X', priority: 8, affinity: [1], ideal: 1 },
      ],
      events: [{ name: 'E', sync: true }],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'T']);
    m.wait(1, ['E']);
    expect(m.running()).toEqual(['A', 'X']);
    const out = m.setEvent(0, 'E');
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(false);
    expect(out.ipiTargets).toEqual([1]);
    expect(m.standby(1)).toBe('T');
    expect(m.t('T').state).toBe(S.Standby);
    expect(m.t('X').preempted).toBe(true);
    expect(m.running()).toEqual(['A', 'X']);
    // CPU 1 takes the IPI(DPC) → DISPATCH interrupt and switches; X keeps its place at the head
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('T');
    expect(m.readyList(1, 8)).toEqual(['X']);
    expect(m.t('X').preempted).toBe(false);
  });

  it('a thread readied at the same priority as the running one does not preempt: it queues at the tail and runs at quantum end', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'T', priority: 8 },
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    m.wait(0, ['E']);
    expect(m.running()).toEqual(['A']);
    const out = m.setEvent(0, 'E', IO_NO_INCREMENT);
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(false);
    expect(m.standby(0)).toBeNull();
    expect(m.readyList(0, 8)).toEqual(['B', 'T']);
    expect(m.quantumEnd(0).switchTo?.name).toBe('B');
    expect(m.quantumEnd(0).switchTo?.name).toBe('T');
  });

  it('PsCreateSystemThread at PASSIVE of a higher-priority thread for this CPU switches to it inside the call', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'T', priority: 9, startAtBoot: false },
      ],
    });
    m.start();
    const out = m.startThread(0, 'T', 42);
    expect(out.switchTo?.name).toBe('T');
    expect(m.t('A').resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.SUCCESS });
    expect(m.t('T').resume).toEqual({ action: ResumeAction.StartContext, value: 42 });
  });
});

describe('§4.5 processor selection', () => {
  it('with idle candidates the ideal processor is taken first', () => {
    const m = new Machine({
      cpus: 4,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'T', priority: 8, ideal: 2, startAtBoot: false },
      ],
    });
    m.start();
    const out = m.startThread(0, 'T');
    expect(out.ipiTargets).toEqual([2]);
    expect(m.standby(2)).toBe('T');
    expect(m.db.scheduler.idleSummary).toEqual([false, true, false, true]);
  });

  it('with the ideal processor busy, no last processor and the current CPU busy, the lowest-numbered idle CPU is taken', () => {
    const m = new Machine({
      cpus: 4,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B2', priority: 8, ideal: 2 },
        { name: 'T', priority: 8, ideal: 2, startAtBoot: false },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'Idle#1', 'B2', 'Idle#3']);
    expect(m.startThread(0, 'T').ipiTargets).toEqual([1]);
    expect(m.standby(1)).toBe('T');
  });

  it('with the ideal processor busy, the idle processor the thread last ran on comes before the lowest idle one', () => {
    const m = new Machine({
      cpus: 4,
      threads: [
        { name: 'B0', priority: 8, ideal: 0 },
        { name: 'B1', priority: 8, ideal: 1, affinity: [1] },
        { name: 'B2', priority: 8, ideal: 2 },
        { name: 'T', priority: 8, ideal: 2, startAtBoot: false },
      ],
      events: [{ name: 'E' }, { name: 'F' }],
    });
    m.start();
    expect(m.running()).toEqual(['B0', 'B1', 'B2', 'Idle#3']);
    expect(m.startThread(0, 'T').ipiTargets).toEqual([3]);
    m.dispatchInterrupt(3);
    m.wait(3, ['E']); // T ran on CPU 3 and blocks; CPU 3 idles
    m.wait(1, ['F']); // CPU 1 idles
    expect(m.running()).toEqual(['B0', 'Idle#1', 'B2', 'Idle#3']);
    expect(m.t('T').lastProcessor).toBe(3);
    const out = m.setEvent(0, 'E');
    expect(out.ipiTargets).toEqual([3]);
    expect(m.standby(3)).toBe('T');
    expect(m.standby(1)).toBeNull();
  });

  it('with the ideal and last processors busy, an idle current processor comes before the lowest idle one', () => {
    const m = new Machine({
      cpus: 4,
      threads: [
        { name: 'T', priority: 8, ideal: 2 },
        { name: 'B3', priority: 8, ideal: 3, affinity: [3] },
        { name: 'B2', priority: 8, ideal: 2, affinity: [2], startAtBoot: false },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    expect(m.running()).toEqual(['Idle#0', 'Idle#1', 'T', 'B3']);
    m.wait(2, ['E']);
    m.startThread(3, 'B2');
    m.dispatchInterrupt(2);
    expect(m.running()).toEqual(['Idle#0', 'Idle#1', 'B2', 'B3']);
    expect(m.t('T').lastProcessor).toBe(2);
    // a DPC running on idle CPU 1 sets the event
    const out = m.setEvent(1, 'E', IO_NO_INCREMENT, false, { oldIrql: 2 });
    expect(m.standby(1)).toBe('T');
    expect(m.standby(0)).toBeNull();
    expect(out.ipiTargets).toEqual([]);
    expect(out.requestDispatch).toBe(true);
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('T');
  });

  it('with no idle candidate the ideal processor is the target, even when another CPU runs a lower-priority thread', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 4, ideal: 0 },
        { name: 'H', priority: 10, ideal: 1 },
        { name: 'T', priority: 6, ideal: 1, startAtBoot: false },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'H']);
    const out = m.startThread(0, 'T');
    expect(out.switchTo).toBeNull();
    expect(out.ipiTargets).toEqual([]);
    expect(m.readyList(1, 6)).toEqual(['T']);
    expect(m.readyList(0, 6)).toEqual([]);
  });

  it('an idle candidate outside the affinity is not one: the thread queues on its only allowed CPU', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'T', priority: 8, ideal: 1, affinity: [0], startAtBoot: false },
      ],
    });
    m.start();
    const out = m.startThread(0, 'T');
    expect(out.ipiTargets).toEqual([]);
    expect(m.readyList(0, 8)).toEqual(['T']);
    expect(m.db.scheduler.idleSummary).toEqual([false, true]);
  });
});

describe('§4.5 standby', () => {
  it('a standby thread displaced by a higher-priority one is placed again: at the head of its list on the same CPU', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T2', priority: 12, affinity: [1], ideal: 1 },
        { name: 'T1', priority: 10, affinity: [1], ideal: 1 },
        { name: 'X', priority: 8, affinity: [1], ideal: 1 },
        { name: 'Y', priority: 10, affinity: [1], ideal: 1, startAtBoot: false },
        { name: 'A', priority: 8, affinity: [0], ideal: 0 },
      ],
      events: [{ name: 'E1' }, { name: 'E2' }],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'T2']);
    m.wait(1, ['E2']);
    m.wait(1, ['E1']);
    expect(m.running()).toEqual(['A', 'X']);
    m.startThread(0, 'Y'); // an equal-priority thread queued earlier
    expect(m.standby(1)).toBe('Y');
    m.dispatchInterrupt(1);
    expect(m.running()).toEqual(['A', 'Y']);
    m.wait(1, ['E1']); // Y blocks too; X runs again
    expect(m.running()).toEqual(['A', 'X']);
    // T1 and Y become Standby / Ready on CPU 1
    expect(m.setEvent(0, 'E1').ipiTargets).toEqual([1]);
    expect(m.standby(1)).toBe('T1');
    expect(m.readyList(1, 10)).toEqual(['Y']);
    // T2 displaces T1, which goes back at the head of list 10, before Y (CPU 1's IPI is already on its way)
    expect(m.setEvent(0, 'E2').ipiTargets).toEqual([]);
    expect(m.standby(1)).toBe('T2');
    expect(m.t('T1').state).toBe(S.Ready);
    expect(m.readyList(1, 10)).toEqual(['T1', 'Y']);
    expect(m.t('T1').preempted).toBe(false);
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('T2');
  });

  it('a standby thread displaced while another CPU has gone idle moves to that idle CPU', () => {
    const m = new Machine({
      cpus: 3,
      threads: [
        { name: 'A', priority: 8, affinity: [0], ideal: 0 },
        { name: 'X', priority: 8, affinity: [1], ideal: 1 },
        { name: 'Z', priority: 8, affinity: [2], ideal: 2 },
        { name: 'T1', priority: 10, affinity: [1, 2], ideal: 1, startAtBoot: false },
        { name: 'T2', priority: 12, affinity: [1], ideal: 1, startAtBoot: false },
      ],
      events: [{ name: 'F' }],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'X', 'Z']);
    expect(m.startThread(0, 'T1').ipiTargets).toEqual([1]);
    expect(m.standby(1)).toBe('T1');
    m.wait(2, ['F']); // CPU 2 idles before CPU 1 switched
    expect(m.running()).toEqual(['A', 'X', 'Idle#2']);
    const out = m.startThread(0, 'T2');
    expect(out.ipiTargets).toEqual([2]); // CPU 1 already has its IPI coming

    expect(m.standby(1)).toBe('T2');
    expect(m.standby(2)).toBe('T1');
  });
});

// -------------------------------------------------------------------------------------------------
// §4.4 quantum and yield
// -------------------------------------------------------------------------------------------------

describe('§4.4 quantum end and yield', () => {
  it('quantum end round-robins among equal priorities: the old thread goes to the tail with a fresh quantum', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
      ],
    });
    m.start();
    const order: string[] = [m.running()[0]!];
    for (let i = 0; i < 4; i++) order.push(m.quantumEnd(0).switchTo!.name);
    expect(order).toEqual(['A', 'B', 'C', 'A', 'B']);
    const c = m.t('C');
    expect(m.readyList(0, 8)).toEqual(['C', 'A']);
    expect(c.quantum).toBe(QUANTUM);
    expect(c.waitReason).toBe(WaitReason.WrQuantumEnd);
    expect(c.resume.action).toBe(ResumeAction.None);
  });

  it('quantum end with only lower-priority threads ready resets the quantum and keeps the thread running', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'L', priority: 7 },
      ],
    });
    m.start();
    const out = m.quantumEnd(0, { quantum: -1 });
    expect(out.switchTo).toBeNull();
    expect(out.quantum).toBe(QUANTUM);
    expect(m.t('A').quantum).toBe(QUANTUM);
    expect(m.readyList(0, 7)).toEqual(['L']);
  });

  it('a DISPATCH interrupt with quantum left does not rotate: dispatch(quantumEnd) with quantum > 0 switches nothing', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    const out = m.quantumEnd(0, { quantum: 3 });
    expect(out.switchTo).toBeNull();
    expect(out.quantum).toBe(3);
  });

  it('a preempted thread goes back at the head of its list, ahead of equal-priority threads queued earlier; a quantum-end thread at the tail', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'H', priority: 12 },
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    m.wait(0, ['E']); // H blocks; A runs
    expect(m.setEvent(0, 'E').switchTo?.name).toBe('H');
    expect(m.readyList(0, 8)).toEqual(['A', 'B', 'C']);
    m.wait(0, ['E'], { timeout: 0 }); // H's event is still signaled (notification): satisfied, keeps running
    m.db.resetEvent(m.caller(0), m.id('E'));
    expect(m.wait(0, ['E']).switchTo?.name).toBe('A'); // A resumes first
    expect(m.quantumEnd(0).switchTo?.name).toBe('B');
    expect(m.readyList(0, 8)).toEqual(['C', 'A']);
  });

  it('yield to an equal-priority ready thread: the yielder goes to the tail and gets STATUS_SUCCESS', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 8 },
        { name: 'B', priority: 8 },
        { name: 'C', priority: 8 },
      ],
    });
    m.start();
    const out = m.yield(0);
    expect(out.status).toBe(STATUS.SUCCESS);
    expect(out.switchTo?.name).toBe('B');
    const a = m.t('A');
    expect(m.readyList(0, 8)).toEqual(['C', 'A']);
    expect(a.waitReason).toBe(WaitReason.WrYieldExecution);
    expect(a.resume).toEqual({ action: ResumeAction.SetResult, value: STATUS.SUCCESS });
    expect(a.quantum).toBe(QUANTUM);
  });

  it('yield with nothing ready on this CPU returns STATUS_NO_YIELD_PERFORMED and keeps running', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'B', priority: 8, ideal: 1 },
        { name: 'C', priority: 8, ideal: 1 },
      ],
    });
    m.start();
    expect(m.readyList(1, 8)).toEqual(['C']); // ready, but on the other CPU
    const out = m.yield(0);
    expect(out.status).toBe(STATUS.NO_YIELD_PERFORMED);
    expect(out.switchTo).toBeNull();
    expect(m.running()).toEqual(['A', 'B']);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.6 picking the next thread: idle stealing
// -------------------------------------------------------------------------------------------------

describe('§4.6 idle stealing', () => {
  it('a CPU whose thread blocks takes an eligible ready thread from another CPU before going idle, skipping ones its affinity excludes', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'C', priority: 8, ideal: 1 },
        { name: 'B', priority: 6, ideal: 0 },
        { name: 'D', priority: 7, ideal: 0, affinity: [0] },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'C']);
    expect([m.readyList(0, 7), m.readyList(0, 6)]).toEqual([['D'], ['B']]);
    const out = m.wait(1, ['E']);
    expect(out.switchTo?.name).toBe('B');
    expect(m.t('B').nextProcessor).toBe(1);
    expect(m.readyList(0, 6)).toEqual([]);
    // nothing eligible is left for CPU 1: it idles, D stays where it is
    expect(m.wait(1, ['E']).switchTo).toBe(m.idle(1));
    expect(m.readyList(0, 7)).toEqual(['D']);
    expect(m.db.scheduler.idleSummary).toEqual([false, true]);
  });

  it('its own ready list comes before stealing', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0 },
        { name: 'C', priority: 8, ideal: 1 },
        { name: 'H', priority: 7, ideal: 0 },
        { name: 'L', priority: 2, ideal: 1 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    expect(m.wait(1, ['E']).switchTo?.name).toBe('L');
    expect(m.readyList(0, 7)).toEqual(['H']);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.2 priorities and boosts
// -------------------------------------------------------------------------------------------------

describe('§4.2 unwait boost', () => {
  it('a dynamic-priority thread woken with increment 2 runs at base + 2 and loses the boost at quantum end', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'T', priority: 8 },
        { name: 'A', priority: 8 },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    m.wait(0, ['E']);
    const out = m.setEvent(0, 'E', 2);
    expect(out.switchTo?.name).toBe('T'); // 10 > 8: it preempts
    const t = m.t('T');
    expect([t.priority, t.basePriority, t.priorityDecrement]).toEqual([10, 8, 2]);
    expect(m.db.queryPriority(m.caller(0), t.id).status).toBe(10);
    expect(m.quantumEnd(0).switchTo?.name).toBe('A'); // back to 8: equal-priority A takes over
    expect([t.priority, t.priorityDecrement]).toEqual([8, 0]);
    expect(m.readyList(0, 8)).toEqual(['T']);
  });

  it('the unwait boost is capped at 15', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T', priority: 14, ideal: 1, affinity: [1] },
        { name: 'A', priority: 8, ideal: 0, affinity: [0] },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    m.wait(1, ['E']);
    m.setEvent(0, 'E', 6);
    expect(m.t('T').priority).toBe(15);
    expect(m.t('T').priorityDecrement).toBe(1);
  });

  it('real-time threads (≥ 16) get no unwait boost', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T', priority: 16, ideal: 1, affinity: [1] },
        { name: 'A', priority: 8, ideal: 0, affinity: [0] },
      ],
      events: [{ name: 'E' }],
    });
    m.start();
    m.wait(1, ['E']);
    m.setEvent(0, 'E', 2);
    expect(m.t('T').priority).toBe(16);
    expect(m.t('T').priorityDecrement).toBe(0);
  });

  it('no boost is applied over an outstanding one', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'T', priority: 8, ideal: 1, affinity: [1] },
        { name: 'A', priority: 8, ideal: 0, affinity: [0] },
      ],
      events: [{ name: 'E', sync: true }],
    });
    m.start();
    m.wait(1, ['E']);
    m.setEvent(0, 'E', 1);
    m.dispatchInterrupt(1);
    expect(m.t('T').priority).toBe(9);
    m.wait(1, ['E']); // blocks again, still carrying its boost
    m.setEvent(0, 'E', 4);
    expect([m.t('T').priority, m.t('T').priorityDecrement]).toEqual([9, 1]);
  });
});

// -------------------------------------------------------------------------------------------------
// §4.7 signal-and-wait
// -------------------------------------------------------------------------------------------------

describe('§4.7 Wait = TRUE (signal-and-wait)', () => {
  function waiter(): Machine {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'T', priority: 12 },
        { name: 'A', priority: 8 },
      ],
      events: [{ name: 'E', sync: true }, { name: 'F' }],
    });
    m.start();
    m.wait(0, ['E']);
    expect(m.running()).toEqual(['A']);
    return m;
  }

  it("KeSetEvent(..., Wait = TRUE) keeps the dispatcher lock (lockedBy = the caller's CPU) and does not switch; the following wait releases it", () => {
    const m = waiter();
    const out = m.setEvent(0, 'E', IO_NO_INCREMENT, true, { oldIrql: 1 });
    expect(out.status).toBe(0);
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(false);
    expect(out.ipiTargets).toEqual([]);
    expect(m.db.lockedBy).toBe(0);
    const a = m.t('A');
    expect(a.waitNext).toBe(true);
    expect(a.waitIrql).toBe(1);
    expect(m.t('T').state).toBe(S.DeferredReady); // readied, not yet placed
    expect(m.event('E').signalState).toBe(0);
    const out2 = m.wait(0, ['F'], { oldIrql: 1 });
    expect(m.db.lockedBy).toBe(-1);
    expect(a.waitNext).toBe(false);
    expect(a.state).toBe(S.Waiting);
    expect(out2.switchTo?.name).toBe('T');
  });

  it('after a signal-and-wait, a wait satisfied at once exits the dispatcher: the woken thread preempts then', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'T', priority: 12 },
        { name: 'A', priority: 8 },
      ],
      events: [
        { name: 'E', sync: true },
        { name: 'F', signaled: true },
      ],
    });
    m.start();
    m.wait(0, ['E']);
    expect(m.setEvent(0, 'E', IO_NO_INCREMENT, true).switchTo).toBeNull();
    const out = m.wait(0, ['E', 'F']);
    expect(m.db.lockedBy).toBe(-1);
    expect(out.status).toBe(1);
    expect(out.switchTo?.name).toBe('T');
    expect(m.t('A').state).toBe(S.Ready);
    expect(m.t('A').resume).toEqual({ action: ResumeAction.SetResult, value: 1 });
  });
});

// -------------------------------------------------------------------------------------------------
// KeSetPriorityThread
// -------------------------------------------------------------------------------------------------

describe('KeSetPriorityThread', () => {
  it('lowering the running thread below a ready thread of its CPU at DISPATCH_LEVEL makes that thread Standby and requests a DISPATCH interrupt', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 10 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    const out = m.setPriority(0, 'A', 6, { oldIrql: 2 });
    expect(out.status).toBe(10); // the old priority
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(true);
    expect(m.standby(0)).toBe('B');
    expect(m.t('A').priority).toBe(6);
    expect(m.dispatchInterrupt(0).switchTo?.name).toBe('B');
    expect(m.readyList(0, 6)).toEqual(['A']);
  });

  it('lowering the running thread below a ready thread of its CPU at PASSIVE switches inside the call', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 10 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    const out = m.setPriority(0, 'A', 6);
    expect(out.status).toBe(10);
    expect(out.switchTo?.name).toBe('B');
    expect(m.t('A').state).toBe(S.Ready);
    expect(m.t('A').resume).toEqual({ action: ResumeAction.SetResult, value: 10 });
  });

  it('lowering a thread running on another CPU below a ready thread there: IPI to that CPU, whose ready thread becomes Standby', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0, affinity: [0] },
        { name: 'X', priority: 10, ideal: 1, affinity: [1] },
        { name: 'Y', priority: 9, ideal: 1, affinity: [1] },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'X']);
    const out = m.setPriority(0, 'X', 7);
    expect(out.status).toBe(10);
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(false);
    expect(out.ipiTargets).toEqual([1]);
    expect(m.standby(1)).toBe('Y');
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('Y');
    expect(m.readyList(1, 7)).toEqual(['X']);
  });

  it('lowering the running thread but not below any ready thread changes nothing else', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 10 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    const out = m.setPriority(0, 'A', 8);
    expect(out.switchTo).toBeNull();
    expect(out.requestDispatch).toBe(false);
    expect(m.standby(0)).toBeNull();
    expect(m.t('A').priority).toBe(8);
  });

  it('lowering a Standby thread below a ready thread of its CPU gives the standby slot to that thread', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, ideal: 0, affinity: [0] },
        { name: 'X', priority: 8, ideal: 1, affinity: [1] },
        { name: 'Y', priority: 9, ideal: 1, affinity: [1], startAtBoot: false },
        { name: 'T', priority: 12, ideal: 1, affinity: [1], startAtBoot: false },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['A', 'X']);
    m.startThread(0, 'Y');
    m.startThread(0, 'T');
    expect(m.standby(1)).toBe('T');
    expect(m.readyList(1, 9)).toEqual(['Y']);
    const out = m.setPriority(0, 'T', 5);
    expect(out.status).toBe(12);
    expect(m.standby(1)).toBe('Y');
    expect(m.readyList(1, 9)).toEqual([]);
    expect(m.readyList(1, 5)).toEqual(['T']);
    expect(m.dispatchInterrupt(1).switchTo?.name).toBe('Y');
  });

  it('changing a Ready thread’s priority takes it off its list and places it again: raised above the running thread it preempts', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 10 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    expect(m.readyList(0, 8)).toEqual(['B']);
    const out = m.setPriority(0, 'B', 12);
    expect(out.status).toBe(8);
    expect(out.switchTo?.name, 'B now outranks the caller: the caller is preempted inside the call').toBe('B');
    expect(m.readyList(0, 8)).toEqual([]);
    expect(m.readyList(0, 10)).toEqual(['A']);
  });

  it('changing a Ready thread’s priority to another that does not preempt requeues it at its new priority', () => {
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'A', priority: 10 },
        { name: 'B', priority: 8 },
      ],
    });
    m.start();
    const out = m.setPriority(0, 'B', 6);
    expect(out.switchTo).toBeNull();
    expect(m.readyList(0, 8)).toEqual([]);
    expect(m.readyList(0, 6)).toEqual(['B']);
  });

  it('a priority outside 1..31 raises STATUS_INVALID_PARAMETER (0x1E)', () => {
    const m = new Machine({ cpus: 1, threads: [{ name: 'A', priority: 8 }] });
    m.start();
    for (const bad of [0, 32]) {
      const out = m.setPriority(0, 'A', bad);
      expect(out.bugcheck?.code).toBe(0x1e);
      expect(out.bugcheck?.params[0]).toBe(STATUS.INVALID_PARAMETER);
    }
    expect(m.t('A').priority).toBe(8);
  });
});

describe('§4.11 a wait clears Preempted', () => {
  it('a thread preempted (its standby not yet taken) that then waits is queued at the tail when woken, behind an earlier equal-priority thread', () => {
    const m = new Machine({
      cpus: 2,
      threads: [
        { name: 'A', priority: 8, affinity: [0] },
        { name: 'Setter', priority: 8, affinity: [1], ideal: 1 },
        { name: 'T', priority: 10, affinity: [0] },
        { name: 'B', priority: 8, affinity: [0] },
      ],
      events: [
        { name: 'E', sync: true },
        { name: 'F', sync: true },
      ],
    });
    m.start();
    expect(m.running()).toEqual(['T', 'Setter']);
    m.wait(0, ['E']); // T waits; A runs on CPU 0, B is ready behind it
    expect(m.running()).toEqual(['A', 'Setter']);
    expect(m.readyList(0, 8)).toEqual(['B']);
    // CPU 1 wakes T: T is Standby on CPU 0 and A is marked Preempted (the IPI is still in flight)
    expect(m.setEvent(1, 'E').ipiTargets).toEqual([0]);
    expect(m.t('A').preempted).toBe(true);
    // before CPU 0 takes that IPI, A waits: it switches to T, and its Preempted flag is cleared
    expect(m.wait(0, ['F']).switchTo?.name).toBe('T');
    expect(m.t('A').preempted).toBe(false);
    m.setEvent(1, 'F');
    expect(m.readyList(0, 8), 'A woke behind B: tail, not head').toEqual(['B', 'A']);
  });
});

// -------------------------------------------------------------------------------------------------
// The dispatcher lock: an operation is a function over it, in its object's module
// -------------------------------------------------------------------------------------------------

describe('dispatcher operations over the dispatcher lock', () => {
  it('a new operation written outside the database, from the lock alone (enter, wake, KiExitDispatcher), releases a waiter and preempts like KeSetEvent', () => {
    // what an APC, KQUEUE or IRP module will do: signal an object and run KiWaitTest under the lock
    const signalAndWake = (lock: DispatcherLock, caller: Caller, objectId: number): DispatchOutcome => {
      const { prcb, effects } = lock.enter(caller);
      const object = lock.objects[objectId]!;
      object.signalState = 1;
      lock.wake(object, EVENT_INCREMENT, caller.cpu, effects);
      return lock.exitDispatcher(caller, prcb, effects, 0);
    };
    const m = new Machine({
      cpus: 1,
      threads: [
        { name: 'Low', priority: 8 },
        { name: 'High', priority: 12 },
      ],
      events: [{ name: 'E', sync: true }],
    });
    m.start();
    m.wait(0, ['E']); // High waits, Low runs
    expect(m.running()).toEqual(['Low']);
    const out = m.apply(0, m.current(0), signalAndWake(m.db, m.caller(0), m.id('E')));
    expect(out.switchTo?.name).toBe('High');
    expect(m.event('E').signalState, 'the synchronization event was consumed by the waiter it released').toBe(0);
    expect(m.readyList(0, 8)).toEqual(['Low']);
  });

  it('each database method routes to the operation in its object module: the same outcome either way', () => {
    const build = (): Machine => {
      const m = new Machine({
        cpus: 2,
        threads: [
          { name: 'A', priority: 8 },
          { name: 'B', priority: 9 },
        ],
        events: [{ name: 'N' }],
        semaphores: [{ name: 'S', count: 0, limit: 4 }],
      });
      m.start();
      m.wait(0, ['S']);
      return m;
    };
    const viaDatabase = build();
    const viaModule = build();
    const a = viaDatabase.apply(1, viaDatabase.current(1), viaDatabase.db.releaseSemaphore(viaDatabase.caller(1), viaDatabase.id('S'), 1, 2, false));
    const b = viaModule.apply(1, viaModule.current(1), releaseSemaphore(viaModule.db, viaModule.caller(1), viaModule.id('S'), 1, 2, false));
    expect({ ...b, switchTo: b.switchTo?.name }).toEqual({ ...a, switchTo: a.switchTo?.name });
    expect(viaModule.semaphore('S').signalState).toBe(viaDatabase.semaphore('S').signalState);
  });
});
