// Pins every shared-memory offset: a change here is a format change and must be deliberate.
import { describe, expect, it } from 'vitest';
import {
  ApcPendingBit,
  ApcQueuedBit,
  computeLayout,
  ContextField,
  ControlField,
  CounterField,
  DoorbellField,
  DeviceCounterField,
  DpcField,
  PrcbField,
  RingHeader,
  ThreadCounterField,
  ThreadField,
  TraceField,
} from '../../src/shm/layout.js';

describe('shared-memory layout', () => {
  it('record field offsets are pinned', () => {
    expect(RingHeader).toEqual({ WRITE: 0, READ: 1, CAPACITY: 2, RESERVED: 3, WORDS: 4 });
    expect(DoorbellField).toEqual({ COUNT: 0, SLEEPING: 1, WORDS: 2 });
    expect(ContextField).toEqual({ PC: 0, SP: 1, STACK_LIMIT: 2, ROUTINE: 3, R0: 4, REGISTER_COUNT: 16, WORK_LEFT: 20, WORDS: 21 });
    expect(ControlField).toEqual({
      STATE: 0,
      BUGCHECK_OWNER: 1,
      GENERIC_LOCK: 2,
      GENERIC_COUNT: 3,
      GENERIC_ROUTINE: 4,
      GENERIC_ARGUMENT: 5,
      GENERIC_REMAINING: 6,
      GENERIC_SOURCE: 7,
      EPOCH: 8,
      SYSTEM_TIME_BIAS_LO: 10,
      SYSTEM_TIME_BIAS_HI: 11,
      EMULATED_NS: 12,
      GVT_WAITERS: 14,
      WAKE_EPOCH: 15,
      COORDINATOR_CALLED: 16,
      NEXT_EVENT_NS: 18,
      DELIVERED_NS: 20,
      WORDS: 22,
    });
    expect(PrcbField).toEqual({
      IRQL: 0,
      DPC_QUEUE_DEPTH: 1,
      DPC_ROUTINE_ACTIVE: 2,
      DPC_INTERRUPT_REQUESTED: 3,
      MAXIMUM_DPC_QUEUE_DEPTH: 4,
      IDLE: 5,
      TICKS_TAKEN: 6,
      GENERIC_ARRIVED: 7,
      PACKET_ROUTINE: 8,
      PACKET_ARGUMENT: 9,
      PACKET_REMAINING: 10,
      PACKET_PENDING_LO: 11,
      PACKET_PENDING_HI: 12,
      NATIVE_ROUTINE: 13,
      NATIVE_CALLS: 14,
      DOORBELL_AT_HALT: 15,
      WORDS: 16,
    });
    expect(DpcField).toEqual({
      ROUTINE: 0,
      CONTEXT: 1,
      IMPORTANCE: 2,
      TARGET: 3,
      DPC_DATA: 4,
      SYSTEM_ARGUMENT1: 5,
      SYSTEM_ARGUMENT2: 6,
      GENERATION: 7,
      WORDS: 8,
    });
    expect(TraceField).toEqual({ TIME_LO: 0, TIME_HI: 1, EVENT: 2, A: 3, B: 4, C: 5, WORDS: 6 });
    expect(ThreadField).toEqual({
      CONTEXT: 0,
      SWAP_BUSY: 21,
      RAN_ON_LO: 22,
      RAN_ON_HI: 23,
      KERNEL_APC_DISABLE: 24,
      SPECIAL_APC_DISABLE: 25,
      KERNEL_APC_IN_PROGRESS: 26,
      APC_PENDING: 27,
      APC_QUEUED: 28,
      SYSTEM_SERVICE: 29,
      WORDS: 30,
    });
    expect(ApcPendingBit).toEqual({ KERNEL: 1, USER: 2 });
    expect(ApcQueuedBit).toEqual({ KERNEL: 1, USER: 2 });
    expect(ThreadCounterField).toEqual({ RUN_NS: 0, CONTEXT_SWITCHES: 1, WORDS: 2 });
    expect(DeviceCounterField).toEqual({ RECEIVED: 0, TAKEN: 1, REASSERTED: 2, PENDING: 3, UNDELIVERED: 4, BACKLOGGED: 5, WORDS: 6 });
    expect(CounterField.TIME_AT_IRQL).toBe(16);
    expect(CounterField.CONTEXT_SWITCHES).toBe(12);
    expect([CounterField.VIRTUAL_NS, CounterField.WAITING_FOR_NS]).toEqual([13, 14]);
    expect(CounterField.BY_VECTOR).toBe(48);
    expect(CounterField.TASK_PRIORITY_WRITES).toBe(304);
    expect(CounterField.TASK_PRIORITY_WRITES_SAVED).toBe(305);
    expect(CounterField.WORDS).toBe(306);
  });

  it('the machine map of a 4-CPU machine is pinned', () => {
    const layout = computeLayout({
      cpus: 4,
      threads: 6,
      dpcs: 3,
      interruptLocks: 2,
      codeWords: 1024,
      memoryWords: 8192,
      ringCapacity: 1024,
      traceCapacity: 16,
    });
    expect(layout.actors).toBe(6);
    expect(layout.control).toBe(0);
    expect(layout.doorbell(0)).toBe(22);
    expect(layout.doorbell(5)).toBe(32);
    expect(layout.prcb(0)).toBe(34);
    expect(layout.prcb(3)).toBe(82);
    // Float64 counters: 8-byte aligned, index in Float64 units
    expect(layout.counters(0)).toBe(49);
    expect(layout.counters(1)).toBe(49 + 306);
    // per-thread Float64 counters, then the thread table (context + SwapBusy + ran-on mask)
    expect(layout.threadCounters(0)).toBe((98 + 4 * 306 * 2) / 2);
    expect(layout.threadCounters(5)).toBe((98 + 4 * 306 * 2) / 2 + 5 * 2);
    expect(layout.thread(0)).toBe(98 + 4 * 306 * 2 + 6 * 2 * 2);
    expect(layout.thread(5)).toBe(layout.thread(0) + 5 * 30);
    expect(layout.dpc(0)).toBe(layout.thread(0) + 6 * 30);
    // one page-state word per 4 KB page of memory (8192 words = 8 pages), plus one
    expect(layout.pageState(0)).toBe(layout.dpc(0) + 3 * 8);
    expect(layout.interruptLock(0)).toBe(layout.pageState(0) + 9);
    expect(layout.interruptLock(1)).toBe(layout.pageState(0) + 9 + 1);
    expect(layout.ring(0, 1)).toBe(layout.pageState(0) + 9 + 2 + 1 * 1028);
    expect(layout.ring(2, 3)).toBe(layout.pageState(0) + 9 + 2 + (2 * 6 + 3) * 1028);
    expect(layout.trace(0)).toBe(layout.pageState(0) + 9 + 2 + 36 * 1028);
    expect(layout.code).toBe(layout.trace(0) + 4 * 20);
    expect(layout.memory).toBe(layout.code + 1024);
    expect(layout.totalWords).toBe(layout.memory + 8192 + ((layout.memory + 8192) % 2));
  });

  it('the per-CPU device counters follow memory (Float64, 8-byte aligned), one record per CPU and device', () => {
    const layout = computeLayout({
      cpus: 4,
      threads: 6,
      dpcs: 3,
      interruptLocks: 2,
      codeWords: 1024,
      memoryWords: 8192,
      ringCapacity: 1024,
      traceCapacity: 16,
      devices: 3,
    });
    const afterMemory = layout.memory + 8192 + ((layout.memory + 8192) % 2);
    expect(layout.deviceCounters(0, 0)).toBe(afterMemory / 2);
    expect(layout.deviceCounters(0, 2)).toBe(afterMemory / 2 + 2 * 6);
    expect(layout.deviceCounters(1, 0)).toBe(afterMemory / 2 + 3 * 6);
    expect(layout.deviceCounters(3, 2)).toBe(afterMemory / 2 + 11 * 6);
    expect(layout.totalWords).toBe(afterMemory + 4 * 3 * 6 * 2);
  });

  it('regions do not overlap and Float64 regions are aligned', () => {
    for (const cpus of [1, 2, 16, 64]) {
      const layout = computeLayout({
        cpus,
        threads: cpus + 3,
        dpcs: 10,
        interruptLocks: 3,
        codeWords: 4096,
        memoryWords: 65536,
        ringCapacity: 256,
        traceCapacity: 1 << 16,
      });
      expect((layout.counters(0) * 8) % 8).toBe(0);
      expect(layout.counters(0) * 2).toBeGreaterThanOrEqual(layout.prcb(cpus - 1) + PrcbField.WORDS);
      expect(layout.threadCounters(0) * 2).toBeGreaterThanOrEqual(layout.counters(cpus - 1) * 2 + CounterField.WORDS * 2);
      expect(layout.thread(0)).toBeGreaterThanOrEqual(layout.threadCounters(cpus + 2) * 2 + ThreadCounterField.WORDS * 2);
      expect(layout.dpc(0)).toBeGreaterThanOrEqual(layout.thread(cpus + 2) + ThreadField.WORDS);
      expect(layout.interruptLock(0)).toBeGreaterThanOrEqual(layout.dpc(9) + DpcField.WORDS);
      expect(layout.ring(0, 1)).toBeGreaterThanOrEqual(layout.interruptLock(2) + 1);
      expect(layout.trace(0)).toBeGreaterThanOrEqual(layout.ring(cpus + 1, cpus) + RingHeader.WORDS + 256);
      expect(layout.code).toBeGreaterThanOrEqual(layout.trace(cpus - 1) + RingHeader.WORDS + (1 << 16));
      expect(((layout.control + ControlField.EPOCH) * 4) % 8).toBe(0);
      expect(((layout.control + ControlField.EMULATED_NS) * 4) % 8).toBe(0);
    }
  });
});
