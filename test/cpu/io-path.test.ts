// nt-semantics.md §8 end to end on the in-process machine: NtReadFile / ReadFile / ReadFileEx /
// DeviceIoControl through a declared driver's dispatch routine, the dispatch rule (STATUS_PENDING
// ⇔ IoMarkIrpPending), IoCompleteRequest at ≤ DISPATCH_LEVEL, the completion APC IopCompleteRequest
// in the issuing thread (the IO_STATUS_BLOCK written there, not before), the synchronous ReadFile's
// wait on the file object, and ReadFileEx completion routines as user APCs. Then the three built-ins
// of the I/O path give their documented outcomes (deterministic, in-process and on workers).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeScenario } from '../../src/machine/execute.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { defineScenario, relativeTime } from '../../src/scenario/define.js';
import type { ScenarioDefinition } from '../../src/scenario/define.js';
import type { RoutineBuilder } from '../../src/isa/builder.js';
import { BUGCHECK } from '../../src/kernel/bugcheck.js';
import { IRQLAB_PENDING_MISMATCH, irpAddress } from '../../src/kernel/io.js';
import { STATUS } from '../../src/kernel/status.js';
import { R0, R1, R2 } from '../../src/isa/registers.js';
import { runInProcess, runOnWorkers } from '../smp/harness.js';
import irqlTestFixed from '../../src/scenarios/irql-test-fixed.js';
import readFileExCompletion from '../../src/scenarios/readfileex-completion.js';
import apcIndexMismatch from '../../src/scenarios/apc-index-mismatch.js';

/** byte offsets in an IRP's record (src/kernel/io.ts IrpField) */
const IRP_STATUS = 0;
const IRP_INFORMATION = 4;
const WAIT_IO_COMPLETION = 0xc0;

/** A dispatch routine that pends the IRP (IoMarkIrpPending) and keeps it in PendingIrp. */
function pendingDispatch(a: RoutineBuilder): void {
  a.store(a.var('PendingIrp'), 0, R2);
  a.kcall('IoMarkIrpPending', R2);
  a.ret(STATUS.PENDING);
}

/** A dispatch routine that completes the IRP inside itself with STATUS_SUCCESS / 8 bytes. */
function completingDispatch(a: RoutineBuilder): void {
  a.store(R2, IRP_STATUS, STATUS.SUCCESS);
  a.store(R2, IRP_INFORMATION, 8);
  a.kcall('IoCompleteRequest', R2, 0);
  a.ret(STATUS.SUCCESS);
}

function ioScenario(name: string, parts: Omit<ScenarioDefinition, 'name' | 'description'>): ScenarioDefinition {
  return defineScenario({ name, description: name, ...parts });
}

describe('the IO_STATUS_BLOCK is written by the completion APC in the issuing thread (§8 test 1)', () => {
  const OBSERVED = 1;
  const ISSUER_AFTER = 2;
  const COMPLETED = 3;
  /** The issuer runs on CPU 0 in a guarded region until the observer on CPU 1 has read the IOSB after the completion. */
  const iosbBeforeApc = ioScenario('iosb-before-apc', {
    machine: { cpus: 2, clockIntervalMs: 0.5 },
    memory: { OneMs: { words: 2, init: relativeTime(1) }, PendingIrp: {}, Iosb: { words: 2, init: [-1, -1] }, Completed: {}, Observed: {} },
    timers: { Timer: {} },
    dpcs: { CompleteDpc: { routine: 'CompleteDpc', targetCpu: 1 } },
    drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
    threads: { Issuer: { routine: 'Issuer', cpu: 0 }, Observer: { routine: 'Observer', cpu: 1 } },
    routines: {
      Issuer: (a) => {
        a.kcall('NtReadFile', a.file('Dev'), 0, -1, 0, a.var('Iosb'), 0, 0);
        a.kcall('KeSetTimer', a.timer('Timer'), a.var('OneMs'), a.dpc('CompleteDpc'));
        // hold every APC off until the observer has looked
        a.kcall('KeEnterGuardedRegion');
        a.label('wait');
        a.work(20);
        a.load(R1, a.var('Observed'));
        a.beqz(R1, 'wait');
        a.kcall('KeLeaveGuardedRegion');
        a.load(R1, a.var('Iosb'));
        a.trace(ISSUER_AFTER, R1);
        a.ret(0);
      },
      Observer: (a) => {
        a.label('wait');
        a.work(20);
        a.load(R1, a.var('Completed'));
        a.beqz(R1, 'wait');
        a.load(R1, a.var('Iosb'));
        a.trace(OBSERVED, R1);
        a.store(a.var('Observed'), 0, 1);
        a.ret(0);
      },
      Dispatch: pendingDispatch,
      CompleteDpc: (a) => {
        a.load(R1, a.var('PendingIrp'));
        a.store(R1, IRP_STATUS, STATUS.SUCCESS);
        a.kcall('IoCompleteRequest', R1, 0);
        a.trace(COMPLETED);
        a.store(a.var('Completed'), 0, 1);
        a.ret();
      },
    },
  });

  it.each([
    ['deterministic', 'in-process'],
    ['parallel', 'workers'],
  ] as const)(
    'a thread reading the IOSB after IoCompleteRequest returned, before the APC ran in the issuer, sees the old value (%s mode)',
    async (mode, backend) => {
      const run = await runOnWorkers(iosbBeforeApc, { cpus: 2, durationMs: 5, mode, backend });
      expect(run.result.bugcheck).toBeNull();
      expect(run.first(COMPLETED).cpu).toBe(1);
      expect(run.first(OBSERVED).value).toBe(-1);
      expect(run.first(ISSUER_AFTER).value).toBe(STATUS.SUCCESS);
    },
  );
});

describe('IoCompleteRequest', () => {
  it('above DISPATCH_LEVEL is 0xC9 DRIVER_VERIFIER_IOMANAGER_VIOLATION with P1 0xE and the IRQL', async () => {
    const run = await runInProcess(
      ioScenario('complete-above-dispatch', {
        memory: { PendingIrp: {} },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('Dev'), 0, 0, 0);
            a.kcall('KeRaiseIrql', 5);
            a.load(R1, a.var('PendingIrp'));
            a.kcall('IoCompleteRequest', R1, 0);
            a.ret(0);
          },
          Dispatch: pendingDispatch,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION);
    expect(run.result.bugcheck?.params.map((p) => p >>> 0)).toEqual([0x0e, 5, irpAddress(1), 0]);
  });

  it('twice on one IRP is 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS', async () => {
    const run = await runInProcess(
      ioScenario('complete-twice', {
        memory: { PendingIrp: {} },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('Dev'), 0, 0, 0);
            a.load(R1, a.var('PendingIrp'));
            a.kcall('IoCompleteRequest', R1, 0);
            a.load(R1, a.var('PendingIrp'));
            a.kcall('IoCompleteRequest', R1, 0);
            a.ret(0);
          },
          Dispatch: pendingDispatch,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS);
    expect(run.result.bugcheck?.detail).toContain('IoCompleteRequest on IRP #1, which no driver owns any more');
  });
});

describe('the dispatch rule (§8.2)', () => {
  it('returning STATUS_PENDING without IoMarkIrpPending is 0xC9 with irqlab P1 0x1000', async () => {
    const run = await runInProcess(
      ioScenario('pending-unmarked', {
        drivers: { D: { dispatch: { read: 'Dispatch' } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('D'), 0, 0, 0);
            a.ret(0);
          },
          Dispatch: (a) => a.ret(STATUS.PENDING),
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION);
    expect(run.result.bugcheck?.params.map((p) => p >>> 0)).toEqual([IRQLAB_PENDING_MISMATCH, STATUS.PENDING, irpAddress(1), 0]);
    expect(run.result.bugcheck?.detail).toContain('returned STATUS_PENDING for IRP #1 without calling IoMarkIrpPending');
  });

  it('the dispatch routine gets the device object in r1 and the IRP record in r2, at the caller IRQL; a driver without the routine gets STATUS_INVALID_DEVICE_REQUEST', async () => {
    const run = await runInProcess(
      ioScenario('dispatch-arguments', {
        drivers: { D: { dispatch: { read: 'Dispatch' } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('D'), 0x40, 12, 0);
            a.trace(1, R0);
            a.kcall('DeviceIoControl', a.file('D'), 0x222000, 0, 0, 0);
            a.trace(2, R0);
            a.ret(0);
          },
          Dispatch: (a) => {
            a.trace(10, R1);
            a.load(R0, R2, 8); // UserBuffer
            a.trace(11, R0);
            a.load(R0, R2, 12); // Length
            a.trace(12, R0);
            a.kcall('KeGetCurrentIrql');
            a.trace(13, R0);
            completingDispatch(a);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(10).value).toBe(1);
    expect(run.first(11).value).toBe(0x40);
    expect(run.first(12).value).toBe(12);
    expect(run.first(13).value).toBe(0);
    expect(run.first(1).value).toBe(STATUS.SUCCESS);
    expect(run.first(2).value >>> 0).toBe(STATUS.INVALID_DEVICE_REQUEST);
  });
});

describe('a dispatch routine runs nested on the issuing thread', () => {
  it('a wait inside it is refused (0x1E STATUS_NOT_IMPLEMENTED, naming the routine): the thread cannot be switched there', async () => {
    const run = await runInProcess(
      ioScenario('dispatch-routine-blocks', {
        memory: { OneMs: { words: 2, init: relativeTime(1) } },
        drivers: { D: { dispatch: { read: 'Dispatch' } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('D'), 0, 0, 0);
            a.ret(0);
          },
          Dispatch: (a) => {
            a.kcall('KeDelayExecutionThread', 0, 0, a.var('OneMs'));
            completingDispatch(a);
          },
        },
      }),
      { cpus: 1, durationMs: 3 },
    );
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    expect((run.result.bugcheck?.params[0] ?? 0) >>> 0).toBe(STATUS.NOT_IMPLEMENTED);
    expect(run.result.bugcheck?.detail).toContain('KeDelayExecutionThread from driver routine Dispatch');
  });
});

describe('a synchronous ReadFile', () => {
  it.each(['kernel', 'user'] as const)(
    'from a %s-mode thread waits on the file object for a pended IRP and returns the final IoStatus.Status, not the wait status',
    async (mode) => {
      const run = await runInProcess(
        ioScenario(`synchronous-read-final-status-${mode}`, {
          machine: { cpus: 2, clockIntervalMs: 0.5 },
          memory: { OneMs: { words: 2, init: relativeTime(1) }, PendingIrp: {}, Iosb: { words: 2, init: [-1, -1] } },
          timers: { Timer: {} },
          dpcs: { CompleteDpc: { routine: 'CompleteDpc', targetCpu: 1 } },
          drivers: { D: { dispatch: { read: 'Dispatch' } } },
          threads: { T: { routine: 'T', cpu: 0, mode } },
          routines: {
            T: (a) => {
              a.kcall('ReadFile', a.file('D'), 0, 0, a.var('Iosb'));
              a.trace(1, R0);
              a.load(R1, a.var('Iosb'));
              a.trace(2, R1);
              a.ret(0);
            },
            Dispatch: (a) => {
              a.kcall('KeSetTimer', a.timer('Timer'), a.var('OneMs'), a.dpc('CompleteDpc'));
              pendingDispatch(a);
            },
            CompleteDpc: (a) => {
              a.load(R1, a.var('PendingIrp'));
              a.store(R1, IRP_STATUS, STATUS.UNSUCCESSFUL);
              a.kcall('IoCompleteRequest', R1, 0);
              a.ret();
            },
          },
        }),
        { cpus: 2, durationMs: 5 },
      );
      expect(run.result.bugcheck).toBeNull();
      expect(run.first(1).value >>> 0).toBe(STATUS.UNSUCCESSFUL);
      expect(run.first(2).value >>> 0).toBe(STATUS.UNSUCCESSFUL);
      expect(run.first(1).timeNs).toBeGreaterThanOrEqual(1e6);
    },
  );

  it('a request its dispatch routine marks pending, completes and returns STATUS_PENDING for: the completion APC runs inside the routine, ReadFile returns the final status', async () => {
    const run = await runInProcess(
      ioScenario('pended-and-completed-in-dispatch', {
        memory: { Iosb: { words: 2, init: [-1, -1] } },
        drivers: { D: { dispatch: { read: 'Dispatch' } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('D'), 0, 0, a.var('Iosb'));
            a.trace(1, R0);
            a.kcall('ReadFile', a.file('D'), 0, 0, a.var('Iosb'));
            a.trace(2, R0);
            a.ret(0);
          },
          Dispatch: (a) => {
            a.kcall('IoMarkIrpPending', R2);
            a.store(R2, IRP_STATUS, STATUS.CANCELLED);
            a.kcall('IoCompleteRequest', R2, 0);
            a.ret(STATUS.PENDING);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value >>> 0).toBe(STATUS.CANCELLED);
    // the IRP's record was given back once the routine returned: the next request reuses it
    expect(run.first(2).value >>> 0).toBe(STATUS.CANCELLED);
  });

  it('returns the status of a request its dispatch routine completed itself, without waiting', async () => {
    const run = await runInProcess(
      ioScenario('synchronous-read-completed-in-dispatch', {
        memory: { Iosb: { words: 2, init: [-1, -1] } },
        drivers: { D: { dispatch: { read: 'Dispatch' } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.kcall('ReadFile', a.file('D'), 0, 0, a.var('Iosb'));
            a.trace(1, R0);
            a.load(R1, a.var('Iosb'), 4);
            a.trace(2, R1);
            a.ret(0);
          },
          Dispatch: completingDispatch,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(STATUS.SUCCESS);
    expect(run.first(2).value).toBe(8);
  });
});

describe('NtReadFile with an event on an overlapped file', () => {
  it('returns STATUS_PENDING; the event is set by the completion, after the IOSB is written', async () => {
    const run = await runInProcess(
      ioScenario('ntreadfile-event', {
        machine: { cpus: 2, clockIntervalMs: 0.5 },
        memory: { OneMs: { words: 2, init: relativeTime(1) }, PendingIrp: {}, Iosb: { words: 2, init: [-1, -1] } },
        events: { Done: { type: 'notification', signaled: true } },
        timers: { Timer: {} },
        dpcs: { CompleteDpc: { routine: 'CompleteDpc', targetCpu: 1 } },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            // the event starts signaled: NtReadFile resets it
            a.kcall('NtReadFile', a.file('Dev'), a.event('Done'), -1, 0, a.var('Iosb'), 0, 0);
            a.trace(1, R0);
            a.kcall('KeWaitForSingleObject', a.event('Done'), 0, 0, 0, 0);
            a.load(R1, a.var('Iosb'), 4);
            a.trace(2, R1);
            a.ret(0);
          },
          Dispatch: (a) => {
            a.kcall('KeSetTimer', a.timer('Timer'), a.var('OneMs'), a.dpc('CompleteDpc'));
            pendingDispatch(a);
          },
          CompleteDpc: (a) => {
            a.load(R1, a.var('PendingIrp'));
            a.store(R1, IRP_STATUS, STATUS.SUCCESS);
            a.store(R1, IRP_INFORMATION, 24);
            a.kcall('IoCompleteRequest', R1, 0);
            a.ret();
          },
        },
      }),
      { cpus: 2, durationMs: 5 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(STATUS.PENDING);
    expect(run.first(2).value).toBe(24);
    expect(run.first(2).timeNs).toBeGreaterThanOrEqual(1e6);
  });
});

describe('ReadFileEx completion routines are user APCs (§8.5, §12 item 12)', () => {
  it('two completed requests: both routines run inside one alertable SleepEx, in completion order, and SleepEx returns WAIT_IO_COMPLETION', async () => {
    const ROUTINE = 10;
    const SLEEP_RETURNED = 20;
    const run = await runInProcess(
      ioScenario('two-readfileex', {
        memory: { Overlapped1: { words: 2 }, Overlapped2: { words: 2 }, Runs: {} },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('ReadFileEx', a.file('Dev'), 0, 0, a.var('Overlapped1'), a.routine('Completion'));
            a.kcall('ReadFileEx', a.file('Dev'), 0, 0, a.var('Overlapped2'), a.routine('Completion'));
            a.load(R1, a.var('Runs'));
            a.trace(1, R1);
            a.kcall('SleepEx', 10, 1);
            a.trace(SLEEP_RETURNED, R0);
            a.load(R1, a.var('Runs'));
            a.trace(2, R1);
            a.ret(0);
          },
          // Completion(Overlapped, IoStatusBlock, 0)
          Completion: (a) => {
            a.trace(ROUTINE, R1);
            a.load(R2, a.var('Runs'));
            a.add(R2, R2, 1);
            a.store(a.var('Runs'), 0, R2);
            a.ret(0);
          },
          Dispatch: completingDispatch,
        },
      }),
      { cpus: 1, durationMs: 2 },
    );
    expect(run.result.bugcheck).toBeNull();
    expect(run.first(1).value).toBe(0);
    expect(run.tags(0)).toEqual([1, ROUTINE, ROUTINE, SLEEP_RETURNED, 2]);
    // in the order of their completions: Overlapped1's routine first (its context is its OVERLAPPED)
    const [first, second] = run.all(ROUTINE).map((e) => e.value);
    expect(second! - first!).toBe(16);
    expect(run.first(SLEEP_RETURNED).value).toBe(WAIT_IO_COMPLETION);
    expect(run.first(2).value).toBe(2);
  });
});

describe('IRPs in the bugcheck report', () => {
  it("the last events name the IRP's stages, its Tail.Apc and the I/O manager's routines", async () => {
    const run = await runInProcess(
      ioScenario('irp-in-report', {
        memory: { Overlapped: { words: 2 } },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
        routines: {
          App: (a) => {
            a.kcall('ReadFileEx', a.file('Dev'), 0, 0, a.var('Overlapped'), a.routine('Completion'));
            a.kcall('SleepEx', 10, 1);
            a.ret(0);
          },
          // a kernel-only call from user mode: 0x1E, with the completion in the last events
          Completion: (a) => {
            a.kcall('KeRaiseIrql', 2);
            a.ret(0);
          },
          Dispatch: completingDispatch,
        },
      }),
      { cpus: 1, durationMs: 2 },
    );
    const bugcheck = run.result.bugcheck!;
    expect(bugcheck.code).toBe(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
    const events = bugcheck.cpus[0]!.lastEvents.map((e) => `${e.event}: ${e.detail}`);
    expect(events).toContain('irp: IRP #1 dispatched: Dispatch');
    expect(events).toContain('irp: IRP #1 completed: status 0x0');
    expect(events).toContain('apc-deliver: APC Irp#1.Tail.Apc: KernelRoutine IopFreeIrpKernelApc');
    expect(events).toContain('irp: IRP #1 freed');
    expect(events).toContain('apc-deliver: APC Irp#1.Tail.Apc: user-mode NormalRoutine Completion');
  });
});

describe('IRPs in the timeline', () => {
  it('--trace shows each stage of the IRP as an instant and the completion APC as a slice named by its routine and Tail.Apc', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'irqlab-io-trace-')), 'trace.json');
    await executeScenario(validateScenario(irqlTestFixed, { cpus: 2, arch: 'x64' }), null, {
      cpus: 2,
      mode: 'deterministic',
      seed: 1,
      durationNs: 11e9,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run irql-test-fixed',
      traceFile: file,
    });
    const events = (JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Array<{ name: string; ph: string; args?: Record<string, unknown> }> }).traceEvents;
    const irpStages = events.filter((e) => e.ph === 'i' && e.name.startsWith('IRP #1')).map((e) => e.name);
    expect(irpStages).toEqual(['IRP #1 allocated', 'IRP #1 dispatched', 'IRP #1 pending', 'IRP #1 completed', 'IRP #1 IopCompleteRequest', 'IRP #1 freed']);
    const apc = events.find((e) => e.ph === 'B' && e.name === 'APC IopCompleteRequest');
    expect(apc?.args).toMatchObject({ apc: 'Irp#1.Tail.Apc', routine: 'IopCompleteRequest', kind: 'KernelRoutine' });
  });
});

describe('the IRP zone', () => {
  it('a request while every IRP record is in use fails with STATUS_INSUFFICIENT_RESOURCES; a freed record serves the next one', async () => {
    const run = await runInProcess(
      ioScenario('irp-zone-exhausted', {
        memory: { PendingIrp: {}, Index: {} },
        drivers: { D: { dispatch: { read: 'Dispatch' }, devices: { Dev: { io: 'overlapped' } } } },
        threads: { T: { routine: 'T', cpu: 0 } },
        routines: {
          T: (a) => {
            a.movi(R2, 17);
            a.label('issue');
            a.kcall('ReadFile', a.file('Dev'), 0, 0, 0);
            a.trace(1, R0);
            a.sub(R2, R2, 1);
            a.bnez(R2, 'issue');
            // complete the last pended IRP: its record is free again
            a.load(R1, a.var('PendingIrp'));
            a.store(R1, IRP_STATUS, STATUS.SUCCESS);
            a.kcall('IoCompleteRequest', R1, 0);
            a.kcall('ReadFile', a.file('Dev'), 0, 0, 0);
            a.trace(2, R0);
            a.ret(0);
          },
          Dispatch: pendingDispatch,
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.bugcheck).toBeNull();
    const statuses = run.all(1).map((e) => e.value >>> 0);
    expect(statuses).toEqual([...new Array<number>(16).fill(STATUS.PENDING), STATUS.INSUFFICIENT_RESOURCES]);
    expect(run.first(2).value).toBe(STATUS.PENDING);
  });
});

describe('the built-ins of the I/O path', () => {
  it('irql-test-fixed: the DPC completes the IRP and ReadFile returns STATUS_SUCCESS, no bugcheck', async () => {
    const run = await runInProcess(irqlTestFixed, { cpus: 2 });
    expect(run.result.bugcheck).toBeNull();
    expect(run.result.checks.every((check) => check.passed)).toBe(true);
    expect(run.result.results.readFileStatus).toBe(STATUS.SUCCESS);
  });

  it('readfileex-completion: 0 runs in the non-alertable wait with the IOSB written, 1 run in SleepEx on App in user mode, QueueUserAPC + SleepEx(0)', async () => {
    for (const backend of ['in-process', 'workers'] as const) {
      const run = await runOnWorkers(readFileExCompletion, { cpus: 2, backend });
      expect(run.result.bugcheck).toBeNull();
      expect(run.result.checks.map((check) => [check.name, check.passed])).toEqual(run.result.checks.map((check) => [check.name, true]));
      expect(run.result.results).toMatchObject({
        phase1RoutineRuns: 0,
        phase1IosbStatus: 0,
        phase2SleepEx: WAIT_IO_COMPLETION,
        phase2RoutineRuns: 1,
        routineMode: 1,
      });
    }
  });

  it('apc-index-mismatch: 0x1 APC_INDEX_MISMATCH with P3 0xFFFF0000 when DeviceIoControl returns to user mode', async () => {
    const run = await runInProcess(apcIndexMismatch, { cpus: 1 });
    expect(run.result.bugcheck?.code).toBe(BUGCHECK.APC_INDEX_MISMATCH);
    expect(run.result.bugcheck?.params.map((p) => p >>> 0).slice(1)).toEqual([0, 0xffff0000, 0]);
    expect(run.result.checks.every((check) => check.passed)).toBe(true);
  });
});
