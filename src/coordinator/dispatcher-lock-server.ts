/**
 * The dispatcher-lock server: NT's dispatcher lock (KiDispatcherLock / the per-object locks of
 * later kernels) as one actor serving one DISPATCH_REQUEST at a time against the dispatcher
 * database (src/kernel/dispatcher.ts: threads, ready lists, dispatcher objects, the timer table).
 * A CPU that holds the lock across a Wait = TRUE KeSetEvent / KeReleaseSemaphore / KeReleaseMutant
 * keeps it until its wait: requests from other CPUs meanwhile wait here, in arrival order.
 *
 * Owned by the coordinator actor (coordinator.ts hands it every dispatch/request message). It
 * answers each request with a DISPATCH_REPLY to the requesting CPU and publishes the system-time
 * bias after KeSetSystemTime. The operations, their typed fields and the reply's wire format are
 * src/ipc/dispatcher-ops.ts's.
 */

import type { Caller, DispatchOutcome, DispatcherDatabase } from '../kernel/dispatcher.js';
import { ResumeAction } from '../kernel/thread.js';
import { Kind, actorOfCpu, assertNever, timeHi, timeLo } from '../ipc/messages.js';
import { DISPATCH_REPLY_WORDS, ReplyFlag, encodeDispatchReply } from '../ipc/dispatcher-ops.js';
import type { DispatcherRequest } from '../ipc/dispatcher-ops.js';
import type { Message } from '../ipc/messages.js';
import type { ActorPort } from '../ipc/actor-port.js';
import { ControlField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { SharedApcWords } from '../kernel/apc-state.js';
import type { WaitApc } from '../kernel/wait-block.js';
import { KernelMode, UserMode } from '../kernel/status.js';
import {
  alertThreadOperation,
  exitThreadApcs,
  exitThreadUserApcsOperation,
  flushQueueApcOperation,
  queueUserApcOperation,
  initializeApcOperation,
  insertQueueApcOperation,
  removeQueueApcOperation,
  takeApcOperation,
  testAlertThreadOperation,
} from '../kernel/apc-operations.js';
import {
  completeRequestOperation,
  dispatchReturnedOperation,
  freeIrpOperation,
  iopCompleteRequestOperation,
  readFileOperation,
} from '../kernel/io-operations.js';

export type DispatchRequest = Extract<Message, { type: 'dispatch/request' }>;

const NO_PAYLOAD: number[] = [];
const READY_QUEUE_PAIRS = 16;

export class DispatcherLockServer {
  /** requests from other CPUs while one holds the dispatcher lock across a Wait = TRUE set/release */
  private readonly deferredRequests: DispatchRequest[] = [];
  private readonly replyWords: Int32Array;
  private publishedBias = 0;
  /** a thread's APC words in the shared thread table (the dispatcher reads and writes them only while the thread is not executing) */
  private readonly apcWordsOf = (threadId: number): SharedApcWords => new SharedApcWords(this.i32, this.layout.thread(threadId - 1));

  readonly dispatcher: DispatcherDatabase;
  private readonly i32: Int32Array;
  private readonly layout: MachineLayout;
  private readonly port: ActorPort;
  private readonly pagingLatencyNs: number;
  /** the clock owner's timer expiration pass finished (KiTimerExpiration answered 1) */
  private readonly timerExpirationDone: () => void;
  /**
   * A traced run's timeline draws each CPU's ready-queue length: the length each CPU was last told
   * (null when the run is not traced, and the replies carry none).
   */
  private readonly reportedReadyCounts: Int32Array | null;
  private readonly readyQueuePairs: number[] = [];
  constructor(
    dispatcher: DispatcherDatabase,
    i32: Int32Array,
    layout: MachineLayout,
    port: ActorPort,
    pagingLatencyNs: number,
    timerExpirationDone: () => void,
    reportReadyQueues = false,
  ) {
    this.dispatcher = dispatcher;
    this.i32 = i32;
    this.layout = layout;
    this.port = port;
    this.pagingLatencyNs = pagingLatencyNs;
    this.timerExpirationDone = timerExpirationDone;
    this.reportedReadyCounts = reportReadyQueues ? new Int32Array(dispatcher.cpus) : null;
    this.replyWords = new Int32Array(DISPATCH_REPLY_WORDS + 64 + 2 * READY_QUEUE_PAIRS);
  }

  /** At boot: ready the threads that start at boot; each CPU given a standby thread is told to reschedule. */
  bootThreads(): void {
    for (const cpu of this.dispatcher.boot()) this.port.send(actorOfCpu(cpu), Kind.RESCHEDULE, 0);
    this.port.flush();
  }

  /** A CPU's request: served now, or after the CPU that holds the lock across its Wait = TRUE call has waited. */
  request(message: DispatchRequest): void {
    if (this.dispatcher.lockedBy >= 0 && this.dispatcher.lockedBy !== message.header.cpu) {
      this.deferredRequests.push(message);
      return;
    }
    this.serve(message);
    while (this.dispatcher.lockedBy < 0 && this.deferredRequests.length > 0) this.serve(this.deferredRequests.shift()!);
  }

  private serve({ header, request }: DispatchRequest): void {
    const db = this.dispatcher;
    const { callPc, ...caller }: { callPc: number } & Caller = header;
    const wakesBefore = db.wakeSerials;
    const outcome = this.operate(db, caller, callPc, request);
    const woken = db.wakeSerials - wakesBefore;
    if (db.systemTimeBias !== this.publishedBias) {
      // KeSetSystemTime moved system time: every CPU's KeQuerySystemTime reads the bias
      this.publishedBias = db.systemTimeBias;
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_LO] = timeLo(db.systemTimeBias);
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_HI] = timeHi(db.systemTimeBias);
    }
    this.reply(header.cpu, outcome, woken, wakesBefore + 1);
  }

  /** The (cpu, length) pairs of the ready queues that changed since the last reply (traced runs only). */
  private changedReadyQueues(): number[] {
    const reported = this.reportedReadyCounts;
    if (reported === null) return NO_PAYLOAD;
    const pairs = this.readyQueuePairs;
    pairs.length = 0;
    // at most READY_QUEUE_PAIRS per reply (a reply must fit a 256-word ring of a 64-CPU machine): the rest go with the next
    for (let cpu = 0; cpu < reported.length && pairs.length < 2 * READY_QUEUE_PAIRS; cpu++) {
      const count = this.dispatcher.prcb(cpu).readyCount;
      if (count === reported[cpu]) continue;
      reported[cpu] = count;
      pairs.push(cpu, count);
    }
    return pairs;
  }

  /** One operation against the database: the fields of each go to its routine. */
  private operate(db: DispatcherDatabase, caller: Caller, callPc: number, request: DispatcherRequest): DispatchOutcome {
    switch (request.op) {
      case 'KeSetEvent':
        return db.setEvent(caller, request.event, request.increment, request.wait);
      case 'KeResetEvent':
        return db.resetEvent(caller, request.event);
      case 'KePulseEvent':
        return db.pulseEvent(caller, request.event, request.increment, request.wait);
      case 'KeReadState':
        return db.readState(caller, request.object);
      case 'KeReleaseSemaphore':
        return db.releaseSemaphore(caller, request.semaphore, request.increment, request.adjustment, request.wait);
      case 'KeReleaseMutant':
        return db.releaseMutant(caller, request.mutant, request.increment, request.abandon, request.wait);
      case 'KeWaitForObjects':
        return db.waitForObjects(caller, request.objects, request.waitType, request.waitReason, request.timeout, callPc, this.waitApc(caller, request));
      case 'KeInitializeTimer':
        return db.initializeTimer(caller, request.timer, request.synchronization);
      case 'KeSetTimer':
        return db.setTimer(caller, request.timer, request.due, request.periodMs, request.dpc);
      case 'KeCancelTimer':
        return db.cancelTimer(caller, request.timer);
      case 'KiTimerExpiration': {
        const outcome = db.expireTimers(caller);
        if (outcome.status === 1) this.timerExpirationDone();
        return outcome;
      }
      case 'KeDelayExecutionThread':
        return db.delayExecution(caller, request.interval, callPc, this.waitApc(caller, request));
      case 'MmAccessFault':
        return db.pageFault(caller, request.page, this.pagingLatencyNs);
      case 'KeSetSystemTime':
        return db.setSystemTime(caller, request.time);
      case 'KiDispatchInterrupt':
        return db.dispatch(caller, request.quantumEnd);
      case 'NtYieldExecution':
        return db.yieldExecution(caller);
      case 'PspExitThread':
        return exitThreadApcs(db, caller, this.apcWordsOf) ?? db.terminateThread(caller, request.exitStatus);
      case 'PsCreateSystemThread':
        return db.startThread(caller, request.thread, request.startContext);
      case 'KeSetPriorityThread':
        return db.setPriority(caller, request.thread, request.priority);
      case 'KeQueryPriorityThread':
        return db.queryPriority(caller, request.thread);
      case 'KeInitializeApc':
        return initializeApcOperation(db, caller, request.apc, request.thread, request.environment);
      case 'KeInsertQueueApc':
        return insertQueueApcOperation(db, caller, request.apc, request.systemArgument1, request.systemArgument2, request.increment, this.apcWordsOf);
      case 'KeRemoveQueueApc':
        return removeQueueApcOperation(db, caller, request.apc, this.apcWordsOf);
      case 'KiTakeApc':
        return takeApcOperation(db, caller, request.previousMode, request.user, this.apcWordsOf);
      case 'KeAlertThread':
        return alertThreadOperation(db, caller, request.thread, request.mode);
      case 'KeTestAlertThread':
        return testAlertThreadOperation(db, caller, request.mode, this.apcWordsOf);
      case 'PspExitThreadApcs':
        return exitThreadUserApcsOperation(db, caller, this.apcWordsOf);
      case 'NtQueueApcThread':
        return queueUserApcOperation(db, caller, request.thread, request.routine, request.context, this.apcWordsOf);
      case 'KeFlushQueueApc':
        return flushQueueApcOperation(db, caller, request.thread, request.mode, this.apcWordsOf);
      case 'IoCallDriver':
        return readFileOperation(db, caller, request);
      case 'IoDispatchReturned':
        return dispatchReturnedOperation(db, caller, request.irp, request.status, request.control, this.apcWordsOf);
      case 'IoCompleteRequest':
        return completeRequestOperation(db, caller, request, this.apcWordsOf);
      case 'IopCompleteRequest':
        return iopCompleteRequestOperation(db, caller, request.irp, this.apcWordsOf);
      case 'IopFreeIrp':
        return freeIrpOperation(db, caller, request.irp);
      case 'PeekNextThread':
        return {
          status: db.peekNextThread(caller.cpu).id,
          switchTo: null,
          requestDispatch: false,
          ipiTargets: [],
          quantum: caller.quantum,
          bugcheck: null,
          dpcs: [],
          systemTime: 0,
        };
      default:
        return assertNever(request);
    }
  }

  /** A wait's APC side: its Alertable and WaitMode as the caller passed them, and the waiting thread's words. */
  private waitApc(caller: Caller, request: { alertable: boolean; waitMode: number }): WaitApc | undefined {
    if (caller.thread <= this.dispatcher.cpus) return undefined;
    return { alertable: request.alertable, waitMode: request.waitMode === UserMode ? UserMode : KernelMode, words: this.apcWordsOf(caller.thread) };
  }

  private reply(cpu: number, outcome: DispatchOutcome, woken: number, firstWakeSerial: number): void {
    const w = this.replyWords;
    const next = outcome.switchTo;
    let flags = 0;
    if (next) flags |= ReplyFlag.SWITCH;
    if (outcome.requestDispatch) flags |= ReplyFlag.REQUEST_DISPATCH;
    if (outcome.bugcheck) flags |= ReplyFlag.BUGCHECK;
    let ipiLo = 0;
    let ipiHi = 0;
    for (const target of outcome.ipiTargets) {
      if (target < 32) ipiLo |= 1 << target;
      else ipiHi |= 1 << (target - 32);
    }
    let apcIpiLo = 0;
    let apcIpiHi = 0;
    for (const target of outcome.apcInterruptCpus ?? []) {
      if (target < 32) apcIpiLo |= 1 << target;
      else apcIpiHi |= 1 << (target - 32);
    }
    if (outcome.apcInterruptSelf) flags |= ReplyFlag.APC_INTERRUPT_SELF;
    const length = encodeDispatchReply(w, {
      status: outcome.status,
      flags,
      next: next ? next.id : 0,
      nextWaitIrql: next ? next.waitIrql : 0,
      quantum: outcome.quantum,
      resumeAction: next ? next.resume.action : ResumeAction.None,
      resumeValue: next ? next.resume.value : 0,
      ipiLo,
      ipiHi,
      bugcheckCode: outcome.bugcheck?.code ?? 0,
      bugcheckParams: outcome.bugcheck?.params ?? [0, 0, 0, 0],
      systemTime: outcome.systemTime,
      dpcs: outcome.dpcs,
      apcIpiLo,
      apcIpiHi,
      payload: outcome.payload ?? NO_PAYLOAD,
      woken,
      firstWakeSerial: woken > 0 ? firstWakeSerial : 0,
      nextWakeSerial: next ? next.wakeSerial : 0,
      nextReadyNs: next && next.wakeSerial !== 0 ? next.readiedAtNs : 0,
      readyQueues: this.changedReadyQueues(),
    });
    // the resume action (and the wake the latency report measures) is delivered once, to the CPU that switches the thread in
    if (next) {
      next.resume = { action: ResumeAction.None, value: 0 };
      next.wakeSerial = 0;
    }
    this.port.sendWords(actorOfCpu(cpu), Kind.DISPATCH_REPLY, w, 0, length);
    this.port.flush();
  }
}
