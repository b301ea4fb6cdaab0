// The dispatcher operations' one encoder/decoder (src/ipc/dispatcher-ops.ts): every operation's
// typed fields cross the fixed Int32 wire unchanged, inside a ring record's decodeMessage.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DISPATCHER_OPERATIONS,
  DISPATCH_REQUEST_FIXED_WORDS,
  DISPATCH_REPLY_WORDS,
  ReplyFlag,
  decodeDispatchRequest,
  encodeDispatchReply,
  encodeDispatchRequest,
  operationName,
} from '../../src/ipc/dispatcher-ops.js';
import type { DispatchReplyFields, DispatchRequestHeader, DispatcherOpName, DispatcherRequestOf } from '../../src/ipc/dispatcher-ops.js';
import { Kind, decodeMessage } from '../../src/ipc/messages.js';
import type { DispatcherRequest } from '../../src/ipc/dispatcher-ops.js';
import { DispatcherLockServer } from '../../src/coordinator/dispatcher-lock-server.js';
import { defineScenario, relativeTime } from '../../src/scenario/define.js';
import { R0 } from '../../src/isa/registers.js';
import { STATUS, UserMode } from '../../src/kernel/status.js';
import { runInProcess } from '../smp/harness.js';

const header: DispatchRequestHeader = {
  cpu: 3,
  thread: 7,
  oldIrql: 1,
  quantum: 12,
  dpcActive: true,
  callPc: 0x1040,
  timeNs: 2 ** 40 + 12345,
};

// one sample per operation: the compiler checks that none is missing
const samples: { [N in DispatcherOpName]: DispatcherRequestOf<N> } = {
  KeSetEvent: { op: 'KeSetEvent', event: 4, increment: 1, wait: true },
  KeResetEvent: { op: 'KeResetEvent', event: 4 },
  KePulseEvent: { op: 'KePulseEvent', event: 5, increment: 2, wait: false },
  KeReadState: { op: 'KeReadState', object: 9 },
  KeReleaseSemaphore: { op: 'KeReleaseSemaphore', semaphore: 2, increment: 1, adjustment: 3, wait: true },
  KeReleaseMutant: { op: 'KeReleaseMutant', mutant: 6, increment: 1, abandon: true, wait: false },
  KeWaitForObjects: { op: 'KeWaitForObjects', waitType: 0, waitReason: 5, timeout: -(2 ** 35), alertable: true, waitMode: 1, objects: [3, 1, 4] },
  KiDispatchInterrupt: { op: 'KiDispatchInterrupt', quantumEnd: true },
  NtYieldExecution: { op: 'NtYieldExecution' },
  PspExitThread: { op: 'PspExitThread', exitStatus: -1073741823 },
  PsCreateSystemThread: { op: 'PsCreateSystemThread', thread: 8, startContext: 0x2000 },
  KeSetPriorityThread: { op: 'KeSetPriorityThread', thread: 8, priority: 15 },
  KeQueryPriorityThread: { op: 'KeQueryPriorityThread', thread: 8 },
  PeekNextThread: { op: 'PeekNextThread' },
  KeInitializeTimer: { op: 'KeInitializeTimer', timer: 2, synchronization: true },
  KeSetTimer: { op: 'KeSetTimer', timer: 2, due: -(2 ** 33) - 7, periodMs: 10, dpc: -1 },
  KeCancelTimer: { op: 'KeCancelTimer', timer: 2 },
  KiTimerExpiration: { op: 'KiTimerExpiration' },
  KeDelayExecutionThread: { op: 'KeDelayExecutionThread', interval: -100000, alertable: false, waitMode: 0 },
  MmAccessFault: { op: 'MmAccessFault', page: 77 },
  KeSetSystemTime: { op: 'KeSetSystemTime', time: 2 ** 50 + 3 },
  KeInitializeApc: { op: 'KeInitializeApc', apc: 3, thread: 9, environment: 2 },
  KeInsertQueueApc: { op: 'KeInsertQueueApc', apc: 3, systemArgument1: -5, systemArgument2: 0x7fff0000, increment: 2 },
  KeRemoveQueueApc: { op: 'KeRemoveQueueApc', apc: 3 },
  KiTakeApc: { op: 'KiTakeApc', previousMode: 1, user: true },
  KeAlertThread: { op: 'KeAlertThread', thread: 9, mode: 1 },
  KeTestAlertThread: { op: 'KeTestAlertThread', mode: 0 },
  IoCallDriver: {
    op: 'IoCallDriver',
    file: 1,
    buffer: 0x2000,
    length: 16,
    iosb: 0x2040,
    event: 0,
    apcRoutine: -1,
    apcContext: 0x2040,
    majorFunction: 3,
    ioControlCode: 0x222000,
  },
  IoDispatchReturned: { op: 'IoDispatchReturned', irp: 2, status: 0x103, control: 1 },
  IoCompleteRequest: { op: 'IoCompleteRequest', irp: 2, boost: 1, status: -0x3fffffef, information: 16, control: 1 },
  IopCompleteRequest: { op: 'IopCompleteRequest', irp: 2 },
  IopFreeIrp: { op: 'IopFreeIrp', irp: 2 },
  PspExitThreadApcs: { op: 'PspExitThreadApcs' },
  NtQueueApcThread: { op: 'NtQueueApcThread', thread: 0, routine: 4, context: -7 },
  KeFlushQueueApc: { op: 'KeFlushQueueApc', thread: 9, mode: 1 },
};

function encodeRequest(request: DispatcherRequestOf<DispatcherOpName>): { words: Int32Array; length: number } {
  const words = new Int32Array(DISPATCH_REQUEST_FIXED_WORDS + 64);
  return { words, length: encodeDispatchRequest(words, header, request) };
}

describe('dispatcher operations on the wire', () => {
  it.each(Object.values(samples))('$op crosses the wire with its header and typed fields unchanged', (request) => {
    const { words, length } = encodeRequest(request);
    expect(decodeMessage(Kind.DISPATCH_REQUEST, words, 0, length)).toEqual({ type: 'dispatch/request', header, request });
  });

  it('a wait without a timeout decodes its timeout as null', () => {
    const request = { ...samples.KeWaitForObjects, timeout: null };
    const { words, length } = encodeRequest(request);
    expect(decodeDispatchRequest(words, 0, length).request).toEqual(request);
  });

  it('every operation code is distinct and names its operation (the trace shows the name)', () => {
    const codes = Object.values(DISPATCHER_OPERATIONS).map((definition) => definition.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [name, definition] of Object.entries(DISPATCHER_OPERATIONS)) expect(operationName(definition.code)).toBe(name);
  });

  it('the largest fixed request fits the fixed size a request buffer is given', () => {
    for (const request of Object.values(samples)) {
      const { length } = encodeRequest(request.op === 'KeWaitForObjects' ? { ...request, objects: [] } : request);
      expect(length).toBeLessThanOrEqual(DISPATCH_REQUEST_FIXED_WORDS);
    }
  });

  it('an unknown operation code or a record of the wrong length is an error, not a guess', () => {
    const { words, length } = encodeRequest(samples.KeSetEvent);
    expect(() => decodeDispatchRequest(words, 0, length + 1)).toThrow(/KeSetEvent: 13 words, its fields take 12/);
    words[0] = 99;
    expect(() => decodeDispatchRequest(words, 0, length)).toThrow(/unknown operation code 99 from CPU 3/);
  });

  it('a reply crosses the wire with its expired timer DPCs', () => {
    const reply: DispatchReplyFields = {
      status: 0x102,
      flags: ReplyFlag.SWITCH | ReplyFlag.REQUEST_DISPATCH,
      next: 9,
      nextWaitIrql: 2,
      quantum: 6,
      resumeAction: 1,
      resumeValue: 0x103,
      ipiLo: 0b1010,
      ipiHi: 1,
      bugcheckCode: 0,
      bugcheckParams: [0, 0, 0, 0],
      systemTime: 2 ** 45 + 1,
      dpcs: [4, 2],
      apcIpiLo: 0,
      apcIpiHi: 0,
      payload: [],
      woken: 0,
      firstWakeSerial: 0,
      nextWakeSerial: 0,
      nextReadyNs: 0,
      readyQueues: [],
    };
    const words = new Int32Array(DISPATCH_REPLY_WORDS + 2);
    const length = encodeDispatchReply(words, reply);
    expect(length).toBe(DISPATCH_REPLY_WORDS + 2);
    expect(decodeMessage(Kind.DISPATCH_REPLY, words, 0, length)).toEqual({ type: 'dispatch/reply', ...reply });
  });

  it('a reply crosses the wire with its APC IPI mask, its APC-interrupt-here flag and a payload after the DPCs', () => {
    const reply: DispatchReplyFields = {
      status: 1,
      flags: ReplyFlag.APC_INTERRUPT_SELF,
      next: 0,
      nextWaitIrql: 0,
      quantum: 6,
      resumeAction: 0,
      resumeValue: 0,
      ipiLo: 0,
      ipiHi: 0,
      bugcheckCode: 0,
      bugcheckParams: [0, 0, 0, 0],
      systemTime: 7,
      dpcs: [3],
      apcIpiLo: 0b100,
      apcIpiHi: 2,
      payload: [5, 11, -1, 0, 7, -8],
      woken: 0,
      firstWakeSerial: 0,
      nextWakeSerial: 0,
      nextReadyNs: 0,
      readyQueues: [],
    };
    const words = new Int32Array(DISPATCH_REPLY_WORDS + 7);
    const length = encodeDispatchReply(words, reply);
    expect(length).toBe(DISPATCH_REPLY_WORDS + 7);
    expect(decodeMessage(Kind.DISPATCH_REPLY, words, 0, length)).toEqual({ type: 'dispatch/reply', ...reply });
  });

  it('a reply crosses the wire with the waits it ended, the switched-in thread’s wake, and the ready-queue lengths after the payload', () => {
    const reply: DispatchReplyFields = {
      status: 0,
      flags: ReplyFlag.SWITCH,
      next: 5,
      nextWaitIrql: 0,
      quantum: 6,
      resumeAction: 0,
      resumeValue: 0,
      ipiLo: 0b10,
      ipiHi: 0,
      bugcheckCode: 0,
      bugcheckParams: [0, 0, 0, 0],
      systemTime: 7,
      dpcs: [3],
      apcIpiLo: 0,
      apcIpiHi: 0,
      payload: [9],
      woken: 2,
      firstWakeSerial: 41,
      nextWakeSerial: 40,
      nextReadyNs: 2 ** 36 + 123,
      readyQueues: [0, 1, 3, 0],
    };
    const words = new Int32Array(DISPATCH_REPLY_WORDS + 6);
    const length = encodeDispatchReply(words, reply);
    expect(length).toBe(DISPATCH_REPLY_WORDS + 6);
    expect(decodeMessage(Kind.DISPATCH_REPLY, words, 0, length)).toEqual({ type: 'dispatch/reply', ...reply });
  });
});

describe('retired record kinds', () => {
  it('kind 12 (REPORT, never sent) is reserved: it decodes as an unknown kind', () => {
    expect(Kind).not.toHaveProperty('REPORT');
    expect(Kind.RESERVED_12).toBe(12);
    expect(() => decodeMessage(12, new Int32Array(4), 0, 4)).toThrow(/unknown record kind 12/);
  });
});

describe('the wait kernel calls carry Alertable and WaitMode (for APCs) without acting on them', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** the requests the dispatcher-lock server serves in a run, and the run's traced statuses */
  async function servedWaits(alertable: number, waitMode: number): Promise<{ requests: DispatcherRequest[]; statuses: number[] }> {
    // operate() is the server's private per-operation step: watch what reaches it
    const server = DispatcherLockServer.prototype as unknown as { operate: (...args: unknown[]) => unknown };
    const operate = vi.spyOn(server, 'operate');
    const run = await runInProcess(
      defineScenario({
        name: 'wait-apc-fields',
        description: 'a wait, a multiple wait and a delay, each with the given Alertable and WaitMode',
        machine: { clockIntervalMs: 1 },
        memory: { Objects: { words: 1 }, Short: { words: 2, init: relativeTime(1) } },
        events: { Ready: { type: 'notification', signaled: true } },
        threads: { Main: { routine: 'Main' } },
        routines: {
          Main: (a) => {
            a.kcall('KeWaitForSingleObject', a.event('Ready'), 0, waitMode, alertable, 0);
            a.trace(1, R0);
            a.store(a.var('Objects'), 0, a.event('Ready'));
            a.kcall('KeWaitForMultipleObjects', 1, a.var('Objects'), 1, 0, waitMode, alertable, 0, 0);
            a.trace(2, R0);
            a.kcall('KeDelayExecutionThread', waitMode, alertable, a.var('Short'));
            a.trace(3, R0);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 10 },
    );
    expect(run.result.bugcheck).toBeNull();
    const requests = operate.mock.calls.map((call) => call[3] as DispatcherRequest);
    return { requests, statuses: run.events.map((event) => event.value) };
  }

  it('an alertable UserMode wait and delay reach the dispatcher marked so, and end as a non-alertable KernelMode one', async () => {
    const alertable = await servedWaits(1, UserMode);
    const waits = alertable.requests.filter((request) => request.op === 'KeWaitForObjects' || request.op === 'KeDelayExecutionThread');
    expect(waits.map((request) => [request.op, 'alertable' in request && request.alertable, 'waitMode' in request && request.waitMode])).toEqual([
      ['KeWaitForObjects', true, UserMode],
      ['KeWaitForObjects', true, UserMode],
      ['KeDelayExecutionThread', true, UserMode],
    ]);
    const plain = await servedWaits(0, 0);
    expect(alertable.statuses).toEqual([STATUS.SUCCESS, STATUS.SUCCESS, STATUS.SUCCESS]);
    expect(alertable.statuses).toEqual(plain.statuses);
  });
});
