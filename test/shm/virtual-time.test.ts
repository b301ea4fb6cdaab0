// The shared-memory protocol of parallel mode's virtual time (src/shm/virtual-time.ts), one
// board per actor over one buffer, driven step by step in one thread.
import { describe, expect, it } from 'vitest';
import { computeLayout, ControlField, CounterField, DoorbellField, PrcbField } from '../../src/shm/layout.js';
import { VirtualTimeBoard } from '../../src/shm/virtual-time.js';

function machine(cpus: number) {
  const layout = computeLayout({ cpus, threads: cpus, dpcs: 1, interruptLocks: 1, codeWords: 1024, memoryWords: 4096, ringCapacity: 64, traceCapacity: 16 });
  const sab = new SharedArrayBuffer(layout.totalWords * 4);
  const i32 = new Int32Array(sab);
  const f64 = new Float64Array(sab);
  // each actor has its own board over the same memory, as each worker does
  const board = (): VirtualTimeBoard => new VirtualTimeBoard(i32, f64, layout);
  const doorbellCount = (actor: number): number => Atomics.load(i32, layout.doorbell(actor) + DoorbellField.COUNT);
  const ringDoorbell = (actor: number): void => {
    Atomics.add(i32, layout.doorbell(actor) + DoorbellField.COUNT, 1);
  };
  const idleWord = (cpu: number): number => Atomics.load(i32, layout.prcb(cpu) + PrcbField.IDLE);
  return { layout, i32, f64, board, doorbellCount, ringDoorbell, idleWord };
}

const CPU_ACTOR = (cpu: number): number => 2 + cpu;
const COORDINATOR = 1;

describe('virtual time: the global virtual time', () => {
  it('the GVT is the minimum over running CPUs and the next undelivered event; halted CPUs do not hold it back', () => {
    const m = machine(3);
    const [cpu0, cpu1, cpu2, coordinator] = [m.board(), m.board(), m.board(), m.board()];
    coordinator.setNextEvent(50_000);
    cpu0.publish(0, 30_000);
    cpu1.publish(1, 20_000);
    cpu2.publish(2, 40_000);
    expect(cpu0.gvt()).toBe(20_000);
    expect(cpu1.halt(1, 20_000, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    expect(cpu0.gvt()).toBe(30_000);
    cpu0.publish(0, 60_000);
    cpu2.publish(2, 70_000);
    // every running CPU is past the next event: the event holds the GVT until it is delivered
    expect(cpu0.gvt()).toBe(50_000);
    expect(coordinator.runningMinimum()).toBe(60_000);
  });

  it('a CPU whose publication lets the GVT reach the next event rings the coordinator once until it looks', () => {
    const m = machine(1);
    const [cpu0, coordinator] = [m.board(), m.board()];
    coordinator.setNextEvent(10_000);
    const before = m.doorbellCount(COORDINATOR);
    cpu0.publish(0, 5_000);
    expect(m.doorbellCount(COORDINATOR)).toBe(before);
    cpu0.publish(0, 10_000);
    cpu0.publish(0, 11_000);
    expect(m.doorbellCount(COORDINATOR)).toBe(before + 1);
    coordinator.coordinatorLooks();
    cpu0.publish(0, 12_000);
    expect(m.doorbellCount(COORDINATOR)).toBe(before + 2);
  });

  it('a CPU waiting at the slack is rung when the GVT reaches what it needs, not before', () => {
    const m = machine(2);
    const [cpu0, cpu1, coordinator] = [m.board(), m.board(), m.board()];
    coordinator.setNextEvent(1e9);
    cpu0.publish(0, 25_000);
    cpu1.publish(1, 10_000);
    cpu0.beginWait(0, 18_000);
    const before = m.doorbellCount(CPU_ACTOR(0));
    cpu1.publish(1, 17_000);
    expect(m.doorbellCount(CPU_ACTOR(0))).toBe(before);
    cpu1.publish(1, 18_000);
    expect(m.doorbellCount(CPU_ACTOR(0))).toBe(before + 1);
    cpu0.endWait(0);
    expect(m.f64[m.layout.counters(0) + CounterField.WAITING_FOR_NS]).toBe(0);
    expect(Atomics.load(m.i32, m.layout.control + ControlField.GVT_WAITERS)).toBe(0);
  });
});

describe('virtual time: halts and wakes', () => {
  it('a CPU that rejoins while every CPU is halted takes the time of the last event delivered, not the next one', () => {
    // at boot: nothing delivered yet, the next event is the run's end; a CPU woken by its first
    // message must not jump there
    const m = machine(2);
    const [cpu0, cpu1, coordinator] = [m.board(), m.board(), m.board()];
    coordinator.setNextEvent(400_000_000);
    expect(cpu0.halt(0, 1_000, m.doorbellCount(CPU_ACTOR(0)))).toBe(true);
    expect(cpu1.halt(1, 1_200, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    expect(cpu1.machineTime()).toBe(0);
    coordinator.delivering(250_000);
    expect(cpu1.machineTime()).toBe(250_000);
    // once a CPU runs, the GVT: its clock, or the next event if that is earlier
    cpu0.rejoin(0, 300_000);
    expect(cpu1.machineTime()).toBe(300_000);
  });

  it('a waker takes a halted CPU back at the message time, so the GVT never dips below the sender', () => {
    const m = machine(2);
    const [cpu0, cpu1] = [m.board(), m.board()];
    cpu0.setNextEvent(1e9);
    cpu1.publish(1, 1_000);
    expect(cpu1.halt(1, 1_000, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    cpu0.publish(0, 90_000);
    m.ringDoorbell(CPU_ACTOR(1)); // the message is published first
    const rings = m.doorbellCount(CPU_ACTOR(1));
    expect(cpu0.wakeIfHalted(1, 90_000)).toBe(true);
    // and the take-back rings it too: the message may have been taken before the halt, and a
    // sleeper in the running set would hold the GVT
    expect(m.doorbellCount(CPU_ACTOR(1))).toBe(rings + 1);
    expect(cpu0.isHalted(1)).toBe(false);
    expect(cpu0.clockOf(1)).toBe(90_000);
    expect(cpu0.gvt()).toBe(90_000);
    // a second sender finds it running already
    expect(cpu0.wakeIfHalted(1, 95_000)).toBe(false);
  });

  it('every halt has its own number: a take-back aimed at an earlier halt cannot wake a later one', () => {
    const m = machine(1);
    const [cpu0, waker] = [m.board(), m.board()];
    expect(cpu0.halt(0, 1_000, m.doorbellCount(CPU_ACTOR(0)))).toBe(true);
    const firstHalt = m.idleWord(0);
    // the CPU wakes by itself (its doorbell rang) before the waker gets to its exchange
    cpu0.rejoin(0, 2_000);
    expect(m.idleWord(0)).toBe(0);
    expect(cpu0.halt(0, 3_000, m.doorbellCount(CPU_ACTOR(0)))).toBe(true);
    const secondHalt = m.idleWord(0);
    expect(secondHalt).not.toBe(0);
    expect(secondHalt).not.toBe(firstHalt);
    // the delayed waker's exchange, from the halt number it saw, fails: the CPU stays halted
    expect(Atomics.compareExchange(m.i32, m.layout.prcb(0) + PrcbField.IDLE, firstHalt, 0)).toBe(secondHalt);
    expect(waker.isHalted(0)).toBe(true);
    expect(waker.wakeIfHalted(0, 4_000)).toBe(true);
    expect(waker.isHalted(0)).toBe(false);
  });

  it('a CPU that finds a message at its halt does not sleep, and rejoins only once it has taken it (at its time)', () => {
    const m = machine(2);
    const [cpu0, cpu1] = [m.board(), m.board()];
    cpu1.setNextEvent(1e9);
    cpu1.publish(1, 50_000);
    const seen = m.doorbellCount(CPU_ACTOR(0));
    m.ringDoorbell(CPU_ACTOR(0)); // a sender (at 50 µs) published after the CPU's last look, before its halt
    expect(cpu0.halt(0, 1_000, seen)).toBe(false);
    // still out of the running set: its halt-time clock must not hold the GVT back meanwhile
    expect(cpu1.gvt()).toBe(50_000);
    cpu0.rejoin(0, 50_000);
    expect(cpu0.isHalted(0)).toBe(false);
    expect(cpu1.gvt()).toBe(50_000);
  });

  it('"every CPU halted" is false while a message is in flight to a halted CPU, and true once it is seen', () => {
    const m = machine(2);
    const [cpu0, cpu1, coordinator] = [m.board(), m.board(), m.board()];
    expect(cpu0.halt(0, 5_000, m.doorbellCount(CPU_ACTOR(0)))).toBe(true);
    expect(coordinator.allHalted()).toBe(false);
    expect(cpu1.halt(1, 6_000, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    expect(coordinator.allHalted()).toBe(true);
    expect(coordinator.runningMinimum()).toBe(Infinity);
    m.ringDoorbell(CPU_ACTOR(1));
    expect(coordinator.allHalted()).toBe(false);
    // a ring that carried no message (a nudge): the CPU looks, finds nothing and stays halted
    expect(cpu1.stayHalted(1, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    expect(coordinator.allHalted()).toBe(true);
  });
});

describe('virtual time: the spin horizon', () => {
  it("a spinner's horizon is the other running CPUs' earliest clock and the next event, never its own clock or a halted CPU's", () => {
    const m = machine(3);
    const [cpu0, cpu1, cpu2, coordinator] = [m.board(), m.board(), m.board(), m.board()];
    coordinator.setNextEvent(90_000);
    cpu0.publish(0, 10_000);
    cpu1.publish(1, 30_000);
    cpu2.publish(2, 50_000);
    // CPU 0 holds the GVT; nothing another CPU does can be stamped before 30 µs
    expect(cpu0.gvt()).toBe(10_000);
    expect(cpu0.spinHorizon(0)).toBe(30_000);
    expect(cpu1.spinHorizon(1)).toBe(10_000);
    // a halted CPU writes nothing until a waker takes it back, at the waker's time
    expect(cpu1.halt(1, 30_000, m.doorbellCount(CPU_ACTOR(1)))).toBe(true);
    expect(cpu0.spinHorizon(0)).toBe(50_000);
    // the next undelivered event bounds it: an interrupt or a tick may come then
    coordinator.setNextEvent(40_000);
    expect(cpu0.spinHorizon(0)).toBe(40_000);
    // alone and nothing due before the run's end: the end
    expect(cpu2.halt(2, 50_000, m.doorbellCount(CPU_ACTOR(2)))).toBe(true);
    coordinator.setNextEvent(1_000_000);
    expect(cpu0.spinHorizon(0)).toBe(1_000_000);
  });
});
