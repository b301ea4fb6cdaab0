/**
 * The dispatcher operations: what a CPU asks the dispatcher database (src/kernel/dispatcher.ts,
 * served by the coordinator's dispatcher-lock server) and what it answers, by the WDK routine each
 * implements. One definition per operation (its wire code, its typed fields, what the reply's
 * status means) and one encoder/decoder for all of them, used by the CPU side
 * (src/kernel/dispatcher-call.ts) and the coordinator side (src/coordinator/dispatcher-lock-server.ts).
 *
 * The wire is fixed Int32 words (the hot path: no msgpackr). A request (Kind.DISPATCH_REQUEST) is
 * the caller's header [code, cpu, thread, oldIrql, quantum, flags, callPc, timeLo, timeHi], then
 * the operation's fields in their listed order; a reply (Kind.DISPATCH_REPLY) is [status, flags,
 * next, nextWaitIrql, quantum, resumeAction, resumeValue, ipiLo, ipiHi, bugcheckCode, p1, p2, p3,
 * p4, systemTimeLo, systemTimeHi, dpcCount, apcIpiLo, apcIpiHi, payloadCount, woken,
 * firstWakeSerial, nextWakeSerial, nextReadyLo, nextReadyHi, readyQueueCount, then the expired
 * timers' DPCs, then the payload, then the ready-queue pairs]. The codes are the wire
 * format (and appear in traces as the DISPATCHER event's first word): append only.
 */

import { joinTime, timeHi, timeLo } from './wire-time.js';

/**
 * How one field travels: `word` one Int32; `flag` a boolean as 0/1; `time` a 64-bit value as two
 * words; `optionalTime` a present word (−1 absent, 1 present) then two words; `ids` a count word
 * then the ids (variable length, so only as an operation's last field).
 */
type FieldCodec = 'word' | 'flag' | 'time' | 'optionalTime' | 'ids';
type FieldValue<C extends FieldCodec> = C extends 'flag' ? boolean : C extends 'optionalTime' ? number | null : C extends 'ids' ? number[] : number;

interface OperationDefinition {
  readonly code: number;
  readonly fields: readonly (readonly [string, FieldCodec])[];
  /** what the reply's status carries */
  readonly status: string;
  /** the caller runs the expired timers' DPCs of the reply itself (the expiration pass), instead of dispatcherCall queuing them */
  readonly callerRunsTimerDpcs?: true;
}

export const DISPATCHER_OPERATIONS = {
  KeSetEvent: {
    code: 1,
    fields: [
      ['event', 'word'],
      ['increment', 'word'],
      ['wait', 'flag'],
    ],
    status: 'the previous signal state',
  },
  KeResetEvent: { code: 2, fields: [['event', 'word']], status: 'the previous signal state' },
  KePulseEvent: {
    code: 3,
    fields: [
      ['event', 'word'],
      ['increment', 'word'],
      ['wait', 'flag'],
    ],
    status: 'the previous signal state',
  },
  /** KeReadStateEvent / KeReadStateSemaphore / KeReadStateMutex / KeReadStateTimer */
  KeReadState: { code: 4, fields: [['object', 'word']], status: 'the signal state' },
  KeReleaseSemaphore: {
    code: 5,
    fields: [
      ['semaphore', 'word'],
      ['increment', 'word'],
      ['adjustment', 'word'],
      ['wait', 'flag'],
    ],
    status: 'the previous count',
  },
  KeReleaseMutant: {
    code: 6,
    fields: [
      ['mutant', 'word'],
      ['increment', 'word'],
      ['abandon', 'flag'],
      ['wait', 'flag'],
    ],
    status: 'the previous signal state',
  },
  /**
   * KeWaitForSingleObject / KeWaitForMultipleObjects. `alertable` and `waitMode` (KPROCESSOR_MODE)
   * are the caller's arguments (KiCheckAlertability: STATUS_ALERTED / STATUS_USER_APC). The status
   * STATUS_KERNEL_APC (never a switch) tells the caller to take the pending kernel APC and issue the
   * wait again.
   */
  KeWaitForObjects: {
    code: 7,
    fields: [
      ['waitType', 'word'],
      ['waitReason', 'word'],
      ['timeout', 'optionalTime'],
      ['alertable', 'flag'],
      ['waitMode', 'word'],
      ['objects', 'ids'],
    ],
    status: 'the wait status (when it did not block; a blocked thread gets it when it resumes)',
  },
  /** KiDispatchInterrupt / the idle loop: quantum end and NextThread */
  KiDispatchInterrupt: { code: 8, fields: [['quantumEnd', 'flag']], status: 'STATUS_SUCCESS' },
  NtYieldExecution: { code: 9, fields: [], status: 'STATUS_SUCCESS or STATUS_NO_YIELD_PERFORMED' },
  PspExitThread: { code: 10, fields: [['exitStatus', 'word']], status: 'none: the reply always switches' },
  PsCreateSystemThread: {
    code: 11,
    fields: [
      ['thread', 'word'],
      ['startContext', 'word'],
    ],
    status: 'the status of the start',
  },
  KeSetPriorityThread: {
    code: 12,
    fields: [
      ['thread', 'word'],
      ['priority', 'word'],
    ],
    status: 'the previous priority',
  },
  KeQueryPriorityThread: { code: 13, fields: [['thread', 'word']], status: 'the priority' },
  /** read-only: who would run next here (the "new thread" of a 0xB8) */
  PeekNextThread: { code: 14, fields: [], status: 'the id of the thread that would run next' },
  KeInitializeTimer: {
    code: 15,
    fields: [
      ['timer', 'word'],
      ['synchronization', 'flag'],
    ],
    status: 'STATUS_SUCCESS',
  },
  /** KeSetTimer / KeSetTimerEx: `due` is the LARGE_INTEGER's value (100 ns units, negative: relative); `dpc` the KDPC index, −1 for none */
  KeSetTimer: {
    code: 16,
    fields: [
      ['timer', 'word'],
      ['due', 'time'],
      ['periodMs', 'word'],
      ['dpc', 'word'],
    ],
    status: 'whether the timer was already in the timer table',
  },
  KeCancelTimer: { code: 17, fields: [['timer', 'word']], status: 'whether the timer was in the timer table' },
  /** the clock-owner CPU's expiration pass (TimerRequest): a batch of due timers */
  KiTimerExpiration: { code: 18, fields: [], status: '1 when the pass is done, 0 when more batches follow', callerRunsTimerDpcs: true },
  /** `alertable` and `waitMode` as on KeWaitForObjects */
  KeDelayExecutionThread: {
    code: 19,
    fields: [
      ['interval', 'time'],
      ['alertable', 'flag'],
      ['waitMode', 'word'],
    ],
    status: 'the delay status (when it did not block)',
  },
  /** a touch of a non-resident pageable page below DISPATCH_LEVEL: wait for the disk read */
  MmAccessFault: { code: 20, fields: [['page', 'word']], status: 'STATUS_SUCCESS' },
  KeSetSystemTime: { code: 21, fields: [['time', 'time']], status: 'STATUS_SUCCESS' },
  /** KeInitializeApc on a declared KAPC (its routines, mode and context are the declaration's) */
  KeInitializeApc: {
    code: 22,
    fields: [
      ['apc', 'word'],
      ['thread', 'word'],
      ['environment', 'word'],
    ],
    status: 'TRUE, or FALSE when the APC is still inserted',
  },
  /** the reply's APC IPI mask and APC_INTERRUPT_SELF flag say which processors must take the APC interrupt */
  KeInsertQueueApc: {
    code: 23,
    fields: [
      ['apc', 'word'],
      ['systemArgument1', 'word'],
      ['systemArgument2', 'word'],
      ['increment', 'word'],
    ],
    status: 'TRUE if queued, FALSE if already inserted, not initialised, or the thread is exiting',
  },
  KeRemoveQueueApc: { code: 24, fields: [['apc', 'word']], status: 'TRUE if it was inserted' },
  /** one turn of KiDeliverApc (§5.6) on the caller's current thread: the payload is [apc, kernelRoutine, normalRoutine, normalContext, sa1, sa2] */
  KiTakeApc: {
    code: 25,
    fields: [
      ['previousMode', 'word'],
      ['user', 'flag'],
    ],
    status: 'ApcTakeKind: 0 empty, 1 special, 2 normal, 3 held by KernelApcDisable, 4 held by KernelApcInProgress, 5 user',
  },
  KeAlertThread: {
    code: 26,
    fields: [
      ['thread', 'word'],
      ['mode', 'word'],
    ],
    status: 'the previous Alerted[mode]',
  },
  KeTestAlertThread: { code: 27, fields: [['mode', 'word']], status: 'TRUE if the thread was alerted in mode' },
  // ---- the I/O path (nt-semantics.md §8; src/kernel/io-operations.ts): codes 28–32
  /**
   * NtReadFile's and NtDeviceIoControlFile's common part, up to IoCallDriver: the IRP for
   * `majorFunction` (IRP_MJ_READ or IRP_MJ_DEVICE_CONTROL), the file's and caller's events reset,
   * the dispatch routine found; payload = [IoRequestKind, value, IRP slot, dispatch routine, device]
   */
  IoCallDriver: {
    code: 28,
    fields: [
      ['file', 'word'],
      ['buffer', 'word'],
      ['length', 'word'],
      ['iosb', 'word'],
      ['event', 'word'],
      ['apcRoutine', 'word'],
      ['apcContext', 'word'],
      ['majorFunction', 'word'],
      ['ioControlCode', 'word'],
    ],
    status: 'the IRP id (0 when none was sent to a driver)',
  },
  /**
   * the dispatch routine returned `status` with the IRP's Control word as it left it: the §8.2 check,
   * then how the service ends; payload = [IoRequestKind, value, completed here (an IRP completed
   * inside its dispatch routine, finished by the issuer), iosb, iosbStatus, iosbInformation, freed]
   */
  IoDispatchReturned: {
    code: 29,
    fields: [
      ['irp', 'word'],
      ['status', 'word'],
      ['control', 'word'],
    ],
    status: 'STATUS_SUCCESS, or a bugcheck (0xC9)',
  },
  /** IoCompleteRequest with the IoStatus and Control the driver left in the IRP's record; queues the completion APC (APC IPI / self flag) */
  IoCompleteRequest: {
    code: 30,
    fields: [
      ['irp', 'word'],
      ['boost', 'word'],
      ['status', 'word'],
      ['information', 'word'],
      ['control', 'word'],
    ],
    status: '1 when the completion APC was queued, 0 when the issuer finishes it (deferred) or the IRP was dropped',
  },
  /** the completion APC's KernelRoutine in the issuing thread: events set, the ReadFileEx user APC queued; payload = [iosb, status, information] for the CPU to write */
  IopCompleteRequest: { code: 31, fields: [['irp', 'word']], status: 'STATUS_SUCCESS' },
  /** IoFreeIrp: the user APC's KernelRoutine IopFreeIrpKernelApc, or a rundown */
  IopFreeIrp: { code: 32, fields: [['irp', 'word']], status: 'STATUS_SUCCESS' },
  // ---- user mode (src/kernel/service-call.ts, apc-operations.ts): codes 33–34 (helper U); later operations from 35
  /**
   * The user-APC half of PspExitThread, one APC per call: ApcQueueable cleared (no more insertions),
   * then the next user APC still queued is unlinked; payload = [apc, rundownRoutine] for the CPU to
   * run its RundownRoutine (NO_ROUTINE: freed). The 0x20 check stays PspExitThread's.
   */
  PspExitThreadApcs: { code: 33, fields: [], status: '1 when a user APC was unlinked (payload), 0 when none is left' },
  /** NtQueueApcThread (QueueUserAPC): a user APC allocated for `thread` (0: the caller) whose KernelRoutine frees it */
  NtQueueApcThread: {
    code: 34,
    fields: [
      ['thread', 'word'],
      ['routine', 'word'],
      ['context', 'word'],
    ],
    status: 'TRUE if queued, FALSE if the thread is no thread or is exiting',
  },
  // ---- APCs, continued (src/kernel/apc-operations.ts): code 35
  /** KeFlushQueueApc: `thread` (0: the caller's) loses every APC of `mode` (KernelMode 0, UserMode 1), each no longer inserted, to the caller */
  KeFlushQueueApc: {
    code: 35,
    fields: [
      ['thread', 'word'],
      ['mode', 'word'],
    ],
    status: "the number of APCs removed (0: the list was empty, NT's NULL)",
  },
} as const satisfies Record<string, OperationDefinition>;

type Operations = typeof DISPATCHER_OPERATIONS;
export type DispatcherOpName = keyof Operations;
type FieldsOf<F extends readonly (readonly [string, FieldCodec])[]> = { -readonly [E in F[number] as E[0]]: FieldValue<E[1]> };

/** One dispatcher operation with its typed fields, e.g. `{ op: 'KeSetEvent', event, increment, wait }`. */
export type DispatcherRequest = { [N in DispatcherOpName]: { op: N } & FieldsOf<Operations[N]['fields']> }[DispatcherOpName];
export type DispatcherRequestOf<N extends DispatcherOpName> = Extract<DispatcherRequest, { op: N }>;

/** Who asks: the caller's state the dispatcher checks and charges (the dispatcher's Caller, plus the calling instruction). */
export interface DispatchRequestHeader {
  cpu: number;
  thread: number;
  /** the IRQL before the call raised to SYNCH_LEVEL */
  oldIrql: number;
  quantum: number;
  /** a DPC routine is running on the caller's CPU */
  dpcActive: boolean;
  /** the pc of the kernel call (a wait restarts there) */
  callPc: number;
  /** the caller's emulated time */
  timeNs: number;
}

/** The dispatcher's answer, as the CPU reads it. */
export interface DispatchReplyFields {
  status: number;
  flags: number;
  next: number;
  nextWaitIrql: number;
  quantum: number;
  resumeAction: number;
  resumeValue: number;
  ipiLo: number;
  ipiHi: number;
  bugcheckCode: number;
  bugcheckParams: [number, number, number, number];
  /** SystemArgument1/2 for the DPCs below */
  systemTime: number;
  /** KDPCs of timers that expired in the operation, to queue or call in this order */
  dpcs: number[];
  /** CPUs to send IPI(APC): a kernel APC was queued to the thread running there */
  apcIpiLo: number;
  apcIpiHi: number;
  /** an operation's extra words (KiTakeApc: the APC's call fields) */
  payload: number[];
  /** threads whose wait the operation ended (KiUnwaitThread): they became Ready at the caller's time */
  woken: number;
  /** the wake serial of the first of them (the others follow in order); pairs a wake with its switch-in in a timeline */
  firstWakeSerial: number;
  /** `next` was woken from a wait and has not run since: its wake serial (0: not woken) and when it became Ready */
  nextWakeSerial: number;
  nextReadyNs: number;
  /** traced runs only: the CPUs whose ready-queue length changed since the last reply, as (cpu, length) pairs */
  readyQueues: number[];
}

/** KiTakeApc's status: what the head of the current thread's APC list allowed. */
export const ApcTakeKind = { EMPTY: 0, SPECIAL: 1, NORMAL: 2, BLOCKED_DISABLE: 3, BLOCKED_IN_PROGRESS: 4, USER: 5 } as const;

/**
 * IoCallDriver's and IoDispatchReturned's payload word 0: what the CPU does next. DISPATCH: call the
 * dispatch routine (IoCallDriver only); RETURN: the service returns payload word 1; WAIT: wait on the
 * file object's event (payload word 1), then ask again.
 */
export const IoRequestKind = { DISPATCH: 0, RETURN: 1, WAIT: 2 } as const;

/** DISPATCH_REQUEST header flags */
export const RequestFlag = { DPC_ACTIVE: 1 } as const;
/** DISPATCH_REPLY flags */
export const ReplyFlag = {
  SWITCH: 1,
  REQUEST_DISPATCH: 2,
  BUGCHECK: 4,
  /** HalRequestSoftwareInterrupt(APC_LEVEL) on the calling CPU: a kernel APC was queued to the thread it runs */
  APC_INTERRUPT_SELF: 8,
} as const;

const HEADER_WORDS = 9;
/** the largest request before a wait's object ids (size a request buffer as this + the most ids) */
export const DISPATCH_REQUEST_FIXED_WORDS = HEADER_WORDS + 9;
/** words of a reply before the expired timers' DPCs (then the payload, then the ready-queue pairs) */
export const DISPATCH_REPLY_WORDS = 26;

const OPERATION_BY_CODE: DispatcherOpName[] = [];
for (const name of Object.keys(DISPATCHER_OPERATIONS) as DispatcherOpName[]) OPERATION_BY_CODE[DISPATCHER_OPERATIONS[name].code] = name;

export function operationDefinition(op: DispatcherOpName): OperationDefinition {
  return DISPATCHER_OPERATIONS[op];
}

/** The name of the operation a wire code (a trace's DISPATCHER event) stands for, or undefined. */
export function operationName(code: number): DispatcherOpName | undefined {
  return OPERATION_BY_CODE[code];
}

type AnyFieldValue = number | boolean | number[] | null;
function fieldsOf(request: DispatcherRequest): Readonly<Record<string, AnyFieldValue | string>> {
  return request;
}

function encodeField(w: Int32Array, at: number, codec: FieldCodec, value: AnyFieldValue | string | undefined): number {
  switch (codec) {
    case 'word':
      w[at] = value as number;
      return at + 1;
    case 'flag':
      w[at] = value ? 1 : 0;
      return at + 1;
    case 'time':
      w[at] = timeLo(value as number);
      w[at + 1] = timeHi(value as number);
      return at + 2;
    case 'optionalTime':
      w[at] = value === null ? -1 : 1;
      w[at + 1] = value === null ? 0 : timeLo(value as number);
      w[at + 2] = value === null ? 0 : timeHi(value as number);
      return at + 3;
    case 'ids': {
      const ids = value as number[];
      w[at] = ids.length;
      for (let i = 0; i < ids.length; i++) w[at + 1 + i] = ids[i]!;
      return at + 1 + ids.length;
    }
  }
}

/** Encode a request into w from word 0; returns its length in words. */
export function encodeDispatchRequest(w: Int32Array, header: DispatchRequestHeader, request: DispatcherRequest): number {
  const definition: OperationDefinition = DISPATCHER_OPERATIONS[request.op];
  w[0] = definition.code;
  w[1] = header.cpu;
  w[2] = header.thread;
  w[3] = header.oldIrql;
  w[4] = header.quantum;
  w[5] = header.dpcActive ? RequestFlag.DPC_ACTIVE : 0;
  w[6] = header.callPc;
  w[7] = timeLo(header.timeNs);
  w[8] = timeHi(header.timeNs);
  const values = fieldsOf(request);
  let at = HEADER_WORDS;
  for (const [name, codec] of definition.fields) at = encodeField(w, at, codec, values[name]);
  return at;
}

/** Decode a request record (length words from o). An unknown code or a short record is an internal error. */
export function decodeDispatchRequest(w: Int32Array, o: number, length: number): { header: DispatchRequestHeader; request: DispatcherRequest } {
  const op = OPERATION_BY_CODE[w[o]!];
  if (op === undefined) throw new Error(`dispatcher request: unknown operation code ${w[o]} from CPU ${w[o + 1]}`);
  const header: DispatchRequestHeader = {
    cpu: w[o + 1]!,
    thread: w[o + 2]!,
    oldIrql: w[o + 3]!,
    quantum: w[o + 4]!,
    dpcActive: (w[o + 5]! & RequestFlag.DPC_ACTIVE) !== 0,
    callPc: w[o + 6]!,
    timeNs: joinTime(w[o + 7]!, w[o + 8]!),
  };
  const fields: Record<string, AnyFieldValue | string> = { op };
  const definition: OperationDefinition = DISPATCHER_OPERATIONS[op];
  let at = o + HEADER_WORDS;
  for (const [name, codec] of definition.fields) {
    switch (codec) {
      case 'word':
        fields[name] = w[at++]!;
        break;
      case 'flag':
        fields[name] = w[at++] !== 0;
        break;
      case 'time':
        fields[name] = joinTime(w[at]!, w[at + 1]!);
        at += 2;
        break;
      case 'optionalTime':
        fields[name] = w[at]! < 0 ? null : joinTime(w[at + 1]!, w[at + 2]!);
        at += 3;
        break;
      case 'ids': {
        const count = w[at]!;
        fields[name] = Array.from(w.subarray(at + 1, at + 1 + count));
        at += 1 + count;
        break;
      }
    }
  }
  if (at !== o + length) throw new Error(`dispatcher request ${op}: ${length} words, its fields take ${at - o}`);
  return { header, request: fields as DispatcherRequest };
}

/** The first word of a request's fields: the object a bugcheck about the call names (P1 of its 0xA). */
export function requestSubject(request: DispatcherRequest): number {
  const definition: OperationDefinition = DISPATCHER_OPERATIONS[request.op];
  const first = definition.fields[0];
  if (!first) return 0;
  const scratch = new Int32Array(3);
  encodeField(scratch, 0, first[1], fieldsOf(request)[first[0]]);
  return scratch[0]!;
}

/** Encode a reply into w from word 0 (w must hold DISPATCH_REPLY_WORDS + the DPCs); returns its length in words. */
export function encodeDispatchReply(w: Int32Array, reply: DispatchReplyFields): number {
  w[0] = reply.status;
  w[1] = reply.flags;
  w[2] = reply.next;
  w[3] = reply.nextWaitIrql;
  w[4] = reply.quantum;
  w[5] = reply.resumeAction;
  w[6] = reply.resumeValue;
  w[7] = reply.ipiLo;
  w[8] = reply.ipiHi;
  w[9] = reply.bugcheckCode;
  w[10] = reply.bugcheckParams[0];
  w[11] = reply.bugcheckParams[1];
  w[12] = reply.bugcheckParams[2];
  w[13] = reply.bugcheckParams[3];
  w[14] = timeLo(reply.systemTime);
  w[15] = timeHi(reply.systemTime);
  w[16] = reply.dpcs.length;
  w[17] = reply.apcIpiLo;
  w[18] = reply.apcIpiHi;
  w[19] = reply.payload.length;
  w[20] = reply.woken;
  w[21] = reply.firstWakeSerial;
  w[22] = reply.nextWakeSerial;
  w[23] = timeLo(reply.nextReadyNs);
  w[24] = timeHi(reply.nextReadyNs);
  w[25] = reply.readyQueues.length;
  for (let i = 0; i < reply.dpcs.length; i++) w[DISPATCH_REPLY_WORDS + i] = reply.dpcs[i]!;
  const payloadAt = DISPATCH_REPLY_WORDS + reply.dpcs.length;
  for (let i = 0; i < reply.payload.length; i++) w[payloadAt + i] = reply.payload[i]!;
  const queuesAt = payloadAt + reply.payload.length;
  for (let i = 0; i < reply.readyQueues.length; i++) w[queuesAt + i] = reply.readyQueues[i]!;
  return queuesAt + reply.readyQueues.length;
}

/** No payload: shared by the replies that carry none (decoding does not allocate for them). */
const NO_PAYLOAD: number[] = [];

export function decodeDispatchReply(w: Int32Array, o: number): DispatchReplyFields {
  const dpcCount = w[o + 16]!;
  const payloadCount = w[o + 19]!;
  const payloadAt = o + DISPATCH_REPLY_WORDS + dpcCount;
  const queueCount = w[o + 25]!;
  const queuesAt = payloadAt + payloadCount;
  return {
    status: w[o]!,
    flags: w[o + 1]!,
    next: w[o + 2]!,
    nextWaitIrql: w[o + 3]!,
    quantum: w[o + 4]!,
    resumeAction: w[o + 5]!,
    resumeValue: w[o + 6]!,
    ipiLo: w[o + 7]!,
    ipiHi: w[o + 8]!,
    bugcheckCode: w[o + 9]!,
    bugcheckParams: [w[o + 10]!, w[o + 11]!, w[o + 12]!, w[o + 13]!],
    systemTime: joinTime(w[o + 14]!, w[o + 15]!),
    dpcs: Array.from(w.subarray(o + DISPATCH_REPLY_WORDS, o + DISPATCH_REPLY_WORDS + dpcCount)),
    apcIpiLo: w[o + 17]!,
    apcIpiHi: w[o + 18]!,
    payload: payloadCount === 0 ? NO_PAYLOAD : Array.from(w.subarray(payloadAt, payloadAt + payloadCount)),
    woken: w[o + 20]!,
    firstWakeSerial: w[o + 21]!,
    nextWakeSerial: w[o + 22]!,
    nextReadyNs: joinTime(w[o + 23]!, w[o + 24]!),
    readyQueues: queueCount === 0 ? NO_PAYLOAD : Array.from(w.subarray(queuesAt, queuesAt + queueCount)),
  };
}
