/**
 * The clock (nt-semantics.md §3, §2.6, §2.9): KeUpdateSystemTime / KeUpdateRunTime on each tick
 * (the tick count, DPC rate and queue-depth adaptation, the quantum, the DPC watchdog),
 * KiTimerExpiration (timer DPCs, run from KiRetireDpcList), KeQueryInterruptTime and the other
 * time queries, and the KTIMER kernel calls (the timers themselves are dispatcher objects:
 * src/kernel/timer.ts, in the coordinator). Runs on the CPU that took the tick; CPU 0 owns the
 * clock, the others take the clock IPI.
 */

import { BugCheck, BUGCHECK } from './bugcheck.js';
import type { Cpu, KernelCallHandler, KernelGenerator } from './cpu.js';
import { SIGNAL_CALL } from './cpu.js';
import { dispatcherCall, dispatcherKcall } from './dispatcher-call.js';
import { checkDpcReturnIrql, dpcIndex, dpcQueueDepth, insertQueueDpc, requestDpcInterrupt, updateDpcRate } from './dpc.js';
import { endInterrupt } from './interrupt.js';
import { DISPATCH_LEVEL, requestSoftwareInterrupt, setIrql, taskPriorityOnArrival } from './irql.js';
import { readLargeInteger, touch, writeLargeInteger } from './mm.js';
import { CLOCK_QUANTUM_DECREMENT, STATUS } from './status.js';
import { BOOT_SYSTEM_TIME } from './timer.js';
import { TraceEvent } from './trace-events.js';
import { KCALL_DONE, KCALL_RETRY } from '../isa/interpreter.js';
import { joinTime, timeHi, timeLo } from '../ipc/messages.js';
import { ContextField, ControlField, CounterField, DpcField, PrcbField } from '../shm/layout.js';

/** A clock tick message arrived: post the clock vector (CPU 0) or the clock IPI (the others). */
export function clockTickArrived(cpu: Cpu, timeNs: number, timerRequest: boolean): void {
  const prcb = cpu.prcb;
  prcb.ticksDelivered++;
  // CPU 0 owns the clock (KeUpdateSystemTime); the others take the clock IPI (KeUpdateRunTime)
  const vector = prcb.number === 0 ? cpu.table.clockVector : cpu.table.clockIpiVector;
  cpu.apic.postOnce(vector, timeNs);
  taskPriorityOnArrival(cpu, vector);
  if (timerRequest) {
    // KeUpdateSystemTime found a timer due: TimerRequest, and a DISPATCH interrupt to expire it
    prcb.timerRequest = true;
    requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
  }
}

/** KeUpdateSystemTime / KeUpdateRunTime (§3.5, §2.6): the per-tick work this machine does. */
export function* clockInterrupt(cpu: Cpu, vector: number, oldIrql: number): KernelGenerator {
  const prcb = cpu.prcb;
  prcb.ticksTaken++;
  Atomics.store(cpu.i32, prcb.shared + PrcbField.TICKS_TAKEN, prcb.ticksDelivered);
  cpu.f64[cpu.counters + CounterField.CLOCK_TICKS] = prcb.ticksTaken;
  cpu.record(TraceEvent.CLOCK, prcb.ticksTaken, vector, 0);
  dpcWatchdog(cpu, oldIrql);
  const requestDispatch = updateDpcRate(prcb.dpcRate, dpcQueueDepth(cpu), prcb.dpcRoutineActive, cpu.config.dpc);
  cpu.i32[prcb.shared + PrcbField.MAXIMUM_DPC_QUEUE_DEPTH] = prcb.dpcRate.maximumDpcQueueDepth;
  if (requestDispatch) requestDpcInterrupt(cpu);
  // the quantum: 3 units a tick; at ≤ 0 KiQuantumEnd runs in the next DISPATCH interrupt (§4.4)
  if (prcb.currentThread !== prcb.idleThread && !prcb.waitNext) {
    prcb.quantum -= CLOCK_QUANTUM_DECREMENT;
    if (prcb.quantum <= 0 && !prcb.quantumEnd) {
      prcb.quantumEnd = true;
      requestSoftwareInterrupt(cpu, DISPATCH_LEVEL);
    }
  }
  endInterrupt(cpu, oldIrql);
  // a generator must yield at least once to be a frame; the tick itself is atomic
  return;
  // biome-ignore lint/correctness/noUnreachable: makes this a generator function (a kernel frame) that finishes at once
  yield 0;
}

/**
 * The DPC watchdog (§2.9), on each tick: ticks the same DPC or ISR keeps running past DpcTimeLimit
 * is 0x133 with P1 = 0; consecutive ticks at ≥ DISPATCH_LEVEL past the watchdog period, P1 = 1.
 */
function dpcWatchdog(cpu: Cpu, interruptedIrql: number): void {
  const prcb = cpu.prcb;
  const config = cpu.config;
  if (interruptedIrql < DISPATCH_LEVEL) {
    prcb.dpcWatchdogCount = 0;
    prcb.dpcTimeCount = 0;
    prcb.watchdogSerial = 0;
    return;
  }
  prcb.dpcWatchdogCount++;
  const running = cpu.runningRoutine();
  if (running) {
    if (running.serial === prcb.watchdogSerial) prcb.dpcTimeCount++;
    else {
      prcb.watchdogSerial = running.serial;
      prcb.dpcTimeCount = 1;
    }
    if (prcb.dpcTimeCount > config.dpcTimeLimitTicks) {
      throw new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, 0, prcb.dpcTimeCount, config.dpcTimeLimitTicks, 0).withDetail(
        `${running.role === 'dpc' ? 'DPC routine' : 'ISR'} ${cpu.names.routine(running.routine)} on CPU ${prcb.number} has run for ${prcb.dpcTimeCount} clock ticks; its allotment (DpcTimeLimit) is ${config.dpcTimeLimitTicks}`,
      );
    }
  } else {
    prcb.dpcTimeCount = 0;
    prcb.watchdogSerial = 0;
  }
  if (prcb.dpcWatchdogCount > config.dpcWatchdogPeriodTicks) {
    throw new BugCheck(BUGCHECK.DPC_WATCHDOG_VIOLATION, 1, config.dpcWatchdogPeriodTicks, 0, 0).withDetail(
      `CPU ${prcb.number} has stayed at DISPATCH_LEVEL or above for ${prcb.dpcWatchdogCount} consecutive clock ticks (${cpu.describeRunning()}); the watchdog period is ${config.dpcWatchdogPeriodTicks}`,
    );
  }
}

/**
 * KiTimerExpiration (§3.6), in KiRetireDpcList at DISPATCH_LEVEL: the dispatcher expires the due
 * timers a batch at a time (releasing their waiters and re-arming periodic ones first); each
 * expired timer's DPC then runs here, in expiration order, with SystemArgument1/2 = the system
 * time, unless it is targeted at another CPU, which gets it through KeInsertQueueDpc.
 */
export function* timerExpiration(cpu: Cpu): KernelGenerator {
  const i32 = cpu.i32;
  for (;;) {
    const reply = yield* dispatcherCall(cpu, { op: 'KiTimerExpiration' }, DISPATCH_LEVEL);
    setIrql(cpu, DISPATCH_LEVEL);
    const sa1 = timeLo(reply.systemTime);
    const sa2 = timeHi(reply.systemTime);
    for (const dpc of reply.dpcs) {
      const record = cpu.layout.dpc(dpc);
      cpu.record(TraceEvent.TIMER_EXPIRED, dpc, 0, 0);
      const target = i32[record + DpcField.TARGET]!;
      if (target >= 0 && target !== cpu.prcb.number) {
        insertQueueDpc(cpu, dpc, sa1, sa2);
        continue;
      }
      const routine = i32[record + DpcField.ROUTINE]!;
      cpu.f64[cpu.counters + CounterField.DPCS] += 1;
      cpu.record(TraceEvent.DPC_START, dpc, routine, 1);
      cpu.pushCall('dpc', routine, dpc + 1, i32[record + DpcField.CONTEXT]!, sa1, sa2);
      yield SIGNAL_CALL;
      cpu.record(TraceEvent.DPC_END, dpc, 0, 0);
      checkDpcReturnIrql(cpu, dpc, routine);
    }
    if (reply.status === 1) return;
  }
}

/** Interrupt time (100 ns) as of the last clock tick: KeQueryInterruptTime. */
function interruptTime(cpu: Cpu): number {
  return Math.floor(cpu.now() / cpu.config.clockIntervalNs) * Math.round(cpu.config.clockIntervalNs / 100);
}

/** System time (100 ns since 1601): boot time + interrupt time + KeSetSystemTime's bias. */
function systemTime(cpu: Cpu): number {
  const control = cpu.layout.control;
  const bias = joinTime(cpu.i32[control + ControlField.SYSTEM_TIME_BIAS_LO]!, cpu.i32[control + ControlField.SYSTEM_TIME_BIAS_HI]!);
  return BOOT_SYSTEM_TIME + interruptTime(cpu) + bias;
}

// ======================================================================================
// Kernel calls: time, the DPC watchdog, timers
// ======================================================================================

export const clockCalls = {
  KeStallExecutionProcessor: (cpu, args, ctx, base) =>
    // burns up to the end of the budget and resumes from the context's WORK_LEFT, so interrupts
    // still land during the stall (RETRY keeps pc on the call)
    cpu.stall(ctx, base, Math.round(args[0]! * 1000 * cpu.config.cyclesPerNs)) ? KCALL_DONE : KCALL_RETRY,
  KeQueryInterruptTime: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = timeLo(interruptTime(cpu));
    return KCALL_DONE;
  },
  KeQueryPerformanceCounter: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = Math.floor(cpu.now()) | 0;
    return KCALL_DONE;
  },
  KeQueryTickCount: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = Math.floor(cpu.now() / cpu.config.clockIntervalNs) | 0;
    return KCALL_DONE;
  },
  KeQuerySystemTime: (cpu, args) => {
    writeLargeInteger(cpu, args[0]!, systemTime(cpu));
    return KCALL_DONE;
  },
  KeQueryTimeIncrement: (cpu, _args, ctx, base) => {
    ctx[base + ContextField.R0] = Math.round(cpu.config.clockIntervalNs / 100);
    return KCALL_DONE;
  },
  KeQueryDpcWatchdogInformation: (cpu, args, ctx, base) => {
    // KDPC_WATCHDOG_INFORMATION: limits and the time *remaining*, in ticks; unsuccessful outside a DPC
    const prcb = cpu.prcb;
    const config = cpu.config;
    const info = args[0]!;
    for (let i = 0; i < 4; i++) touch(cpu, info + i * 4, 1);
    const words = [
      config.dpcTimeLimitTicks,
      Math.max(0, config.dpcTimeLimitTicks - prcb.dpcTimeCount),
      config.dpcWatchdogPeriodTicks,
      Math.max(0, config.dpcWatchdogPeriodTicks - prcb.dpcWatchdogCount),
    ];
    words.forEach((word, i) => {
      cpu.memory[(info >>> 2) + i] = word;
    });
    ctx[base + ContextField.R0] = prcb.dpcRoutineActive ? STATUS.SUCCESS : STATUS.UNSUCCESSFUL;
    return KCALL_DONE;
  },
  KeInitializeTimer: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeInitializeTimer', { op: 'KeInitializeTimer', timer: args[0]!, synchronization: false }, ctx, base),
  KeInitializeTimerEx: (cpu, args, ctx, base) =>
    dispatcherKcall(cpu, 'KeInitializeTimerEx', { op: 'KeInitializeTimer', timer: args[0]!, synchronization: args[1]! === 1 }, ctx, base),
  KeSetTimer: (cpu, args, ctx, base) => setTimer(cpu, 'KeSetTimer', args[0]!, args[1]!, 0, args[2]!, ctx, base),
  KeSetTimerEx: (cpu, args, ctx, base) => setTimer(cpu, 'KeSetTimerEx', args[0]!, args[1]!, args[2]!, args[3]!, ctx, base),
  KeCancelTimer: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeCancelTimer', { op: 'KeCancelTimer', timer: args[0]! }, ctx, base),
  KeReadStateTimer: (cpu, args, ctx, base) => dispatcherKcall(cpu, 'KeReadStateTimer', { op: 'KeReadState', object: args[0]! }, ctx, base),
  KeSetSystemTime: (cpu, args, ctx, base) => {
    return dispatcherKcall(cpu, 'KeSetSystemTime', { op: 'KeSetSystemTime', time: readLargeInteger(cpu, args[0]!) }, ctx, base);
  },
} satisfies Record<string, KernelCallHandler>;

/** KeSetTimer / KeSetTimerEx: the due time is a LARGE_INTEGER in emulated memory; a NULL DPC is none (−1). */
function setTimer(cpu: Cpu, name: string, timer: number, dueAddress: number, period: number, dpc: number, ctx: Int32Array, base: number): number {
  const due = readLargeInteger(cpu, dueAddress);
  return dispatcherKcall(cpu, name, { op: 'KeSetTimer', timer, due, periodMs: period, dpc: dpc === 0 ? -1 : dpcIndex(cpu, dpc) }, ctx, base);
}
