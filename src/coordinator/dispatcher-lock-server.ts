/**
 * The dispatcher-lock server: NT's dispatcher lock (KiDispatcherLock / the per-object locks of
 * later kernels) as one actor serving one DISPATCH_REQUEST at a time against the dispatcher
 * database (src/kernel/dispatcher.ts: threads, ready lists, dispatcher objects, the timer table).
 * A CPU that holds the lock across a Wait = TRUE KeSetEvent / KeReleaseSemaphore / KeReleaseMutant
 * keeps it until its wait: requests from other CPUs meanwhile wait here, in arrival order.
 *
 * Owned by the coordinator actor (coordinator.ts hands it every dispatch/request message). It
 * answers each request with a DISPATCH_REPLY to the requesting CPU and publishes the system-time
 * bias after KeSetSystemTime.
 */

import type { Caller, DispatchOutcome, DispatcherDatabase } from '../kernel/dispatcher.js';
import { ResumeAction } from '../kernel/thread.js';
import { WaitType } from '../kernel/status.js';
import { DISPATCH_REPLY_WORDS, DispatcherOp, Kind, ReplyFlag, RequestFlag, actorOfCpu, joinTime, timeHi, timeLo } from '../ipc/messages.js';
import type { Message } from '../ipc/messages.js';
import type { ActorPort } from '../ipc/actor-port.js';
import { ControlField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';

export type DispatchRequest = Extract<Message, { type: 'dispatch/request' }>;

export class DispatcherLockServer {
  /** requests from other CPUs while one holds the dispatcher lock across a Wait = TRUE set/release */
  private readonly deferredRequests: DispatchRequest[] = [];
  private readonly replyWords = new Int32Array(DISPATCH_REPLY_WORDS + 64);
  private publishedBias = 0;

  readonly dispatcher: DispatcherDatabase;
  private readonly i32: Int32Array;
  private readonly layout: MachineLayout;
  private readonly port: ActorPort;
  private readonly pagingLatencyNs: number;
  /** the clock owner's timer expiration pass finished (KiTimerExpiration answered 1) */
  private readonly timerExpirationDone: () => void;
  constructor(
    dispatcher: DispatcherDatabase,
    i32: Int32Array,
    layout: MachineLayout,
    port: ActorPort,
    pagingLatencyNs: number,
    timerExpirationDone: () => void,
  ) {
    this.dispatcher = dispatcher;
    this.i32 = i32;
    this.layout = layout;
    this.port = port;
    this.pagingLatencyNs = pagingLatencyNs;
    this.timerExpirationDone = timerExpirationDone;
  }

  /** At boot: ready the threads that start at boot; each CPU given a standby thread is told to reschedule. */
  bootThreads(): void {
    for (const cpu of this.dispatcher.boot()) this.port.send(actorOfCpu(cpu), Kind.RESCHEDULE, 0);
    this.port.flush();
  }

  /** A CPU's request: served now, or after the CPU that holds the lock across its Wait = TRUE call has waited. */
  request(message: DispatchRequest): void {
    if (this.dispatcher.lockedBy >= 0 && this.dispatcher.lockedBy !== message.cpu) {
      this.deferredRequests.push(message);
      return;
    }
    this.serve(message);
    while (this.dispatcher.lockedBy < 0 && this.deferredRequests.length > 0) this.serve(this.deferredRequests.shift()!);
  }

  private serve(request: DispatchRequest): void {
    const db = this.dispatcher;
    const caller: Caller = {
      cpu: request.cpu,
      thread: request.thread,
      oldIrql: request.oldIrql,
      quantum: request.quantum,
      dpcActive: (request.flags & RequestFlag.DPC_ACTIVE) !== 0,
      timeNs: request.timeNs,
    };
    const [a0, a1, a2, a3, a4, a5] = request.args as [number, number, number, number, number, number];
    let outcome: DispatchOutcome;
    switch (request.op) {
      case DispatcherOp.KeSetEvent:
        outcome = db.setEvent(caller, a0, a1, a2 !== 0);
        break;
      case DispatcherOp.KeResetEvent:
        outcome = db.resetEvent(caller, a0);
        break;
      case DispatcherOp.KePulseEvent:
        outcome = db.pulseEvent(caller, a0, a1, a2 !== 0);
        break;
      case DispatcherOp.KeReadState:
        outcome = db.readState(caller, a0);
        break;
      case DispatcherOp.KeReleaseSemaphore:
        outcome = db.releaseSemaphore(caller, a0, a1, a2, a3 !== 0);
        break;
      case DispatcherOp.KeReleaseMutant:
        outcome = db.releaseMutant(caller, a0, a1, a2 !== 0, a3 !== 0);
        break;
      case DispatcherOp.KeWaitForObjects:
        outcome = db.waitForObjects(
          caller,
          request.tail,
          a1 === WaitType.WaitAll ? WaitType.WaitAll : WaitType.WaitAny,
          a2,
          a3 < 0 ? null : joinTime(a4, a5),
          request.callPc,
        );
        break;
      case DispatcherOp.KeInitializeTimer:
        outcome = db.initializeTimer(caller, a0, a1 !== 0);
        break;
      case DispatcherOp.KeSetTimer:
        outcome = db.setTimer(caller, a0, joinTime(a1, a2), a3, a4);
        break;
      case DispatcherOp.KeCancelTimer:
        outcome = db.cancelTimer(caller, a0);
        break;
      case DispatcherOp.KiTimerExpiration:
        outcome = db.expireTimers(caller);
        if (outcome.status === 1) this.timerExpirationDone();
        break;
      case DispatcherOp.KeDelayExecutionThread:
        outcome = db.delayExecution(caller, joinTime(a0, a1), request.callPc);
        break;
      case DispatcherOp.MmAccessFault:
        outcome = db.pageFault(caller, a0, this.pagingLatencyNs);
        break;
      case DispatcherOp.KeSetSystemTime:
        outcome = db.setSystemTime(caller, joinTime(a0, a1));
        break;
      case DispatcherOp.KiDispatchInterrupt:
        outcome = db.dispatch(caller, a0 !== 0);
        break;
      case DispatcherOp.NtYieldExecution:
        outcome = db.yieldExecution(caller);
        break;
      case DispatcherOp.PspExitThread:
        outcome = db.terminateThread(caller, a0);
        break;
      case DispatcherOp.PsCreateSystemThread:
        outcome = db.startThread(caller, a0, a1);
        break;
      case DispatcherOp.KeSetPriorityThread:
        outcome = db.setPriority(caller, a0, a1);
        break;
      case DispatcherOp.KeQueryPriorityThread:
        outcome = db.queryPriority(caller, a0);
        break;
      case DispatcherOp.PeekNextThread:
        outcome = {
          status: db.peekNextThread(caller.cpu).id,
          switchTo: null,
          requestDispatch: false,
          ipiTargets: [],
          quantum: request.quantum,
          bugcheck: null,
          dpcs: [],
          systemTime: 0,
        };
        break;
      default:
        throw new Error(`coordinator: unknown dispatcher operation ${request.op} from CPU ${request.cpu}`);
    }
    if (db.systemTimeBias !== this.publishedBias) {
      // KeSetSystemTime moved system time: every CPU's KeQuerySystemTime reads the bias
      this.publishedBias = db.systemTimeBias;
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_LO] = timeLo(db.systemTimeBias);
      this.i32[this.layout.control + ControlField.SYSTEM_TIME_BIAS_HI] = timeHi(db.systemTimeBias);
    }
    this.reply(request.cpu, outcome);
  }

  private reply(cpu: number, outcome: DispatchOutcome): void {
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
    w[0] = outcome.status;
    w[1] = flags;
    w[2] = next ? next.id : 0;
    w[3] = next ? next.waitIrql : 0;
    w[4] = outcome.quantum;
    w[5] = next ? next.resume.action : ResumeAction.None;
    w[6] = next ? next.resume.value : 0;
    w[7] = ipiLo;
    w[8] = ipiHi;
    const params = outcome.bugcheck?.params ?? [0, 0, 0, 0];
    w[9] = outcome.bugcheck?.code ?? 0;
    w[10] = params[0];
    w[11] = params[1];
    w[12] = params[2];
    w[13] = params[3];
    w[14] = timeLo(outcome.systemTime);
    w[15] = timeHi(outcome.systemTime);
    w[16] = outcome.dpcs.length;
    for (let i = 0; i < outcome.dpcs.length; i++) w[DISPATCH_REPLY_WORDS + i] = outcome.dpcs[i]!;
    // the resume action is delivered once, to the CPU that switches the thread in
    if (next) next.resume = { action: ResumeAction.None, value: 0 };
    this.port.sendWords(actorOfCpu(cpu), Kind.DISPATCH_REPLY, w, 0, DISPATCH_REPLY_WORDS + outcome.dpcs.length);
    this.port.flush();
  }
}
