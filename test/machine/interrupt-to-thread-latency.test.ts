// Interrupt → thread latency in the latency report: DPC queued → thread ready (from the
// KeInsertQueueDpc of the DPC whose routine ended the wait to the dispatcher call that made the
// waiter Ready) and thread ready → running (to the woken thread's switch-in), per CPU and overall,
// checked sample for sample against what the trace records say happened. Deterministic, in process.
import { describe, expect, it } from 'vitest';
import { WAKES, dpcWakesThread, runRecorded } from './dpc-wakes-thread.js';
import type { Recorded } from './dpc-wakes-thread.js';
import { TraceEvent } from '../../src/kernel/trace-events.js';
import { DISPATCHER_OPERATIONS } from '../../src/ipc/dispatcher-ops.js';
import { DISPATCHER_CALL_CYCLES } from '../../src/cpu/cpu-core.js';
import { formatLatencyReport } from '../../src/cli/latency-format.js';

/** The samples the trace says the report must hold: per wake, insert → ready, and ready → the waiter's next switch-in. */
function expectedSamples(records: readonly Recorded[], waiterId: number) {
  const keSetEvent = DISPATCHER_OPERATIONS.KeSetEvent.code;
  const dpcToReady: Array<{ cpu: number; ns: number }> = [];
  const readyToRunning: Array<{ cpu: number; ns: number }> = [];
  const inserts = records.filter((r) => r.event === TraceEvent.DPC_INSERT && r.c === 1);
  const sets = records.filter((r) => r.event === TraceEvent.DISPATCHER && r.a === keSetEvent);
  const switchIns = records.filter((r) => r.event === TraceEvent.CONTEXT_SWITCH && r.b === waiterId);
  sets.forEach((set, i) => {
    // the wait ended when KeSetEvent was asked: its DISPATCHER record comes after the dispatcher call's fixed cost
    const readyNs = set.time - DISPATCHER_CALL_CYCLES;
    dpcToReady.push({ cpu: set.cpu, ns: readyNs - inserts[i]!.time });
    // the waiter's first switch-in is its start at boot, not a wake
    const switchIn = switchIns[i + 1]!;
    readyToRunning.push({ cpu: switchIn.cpu, ns: Math.max(0, switchIn.time - readyNs) });
  });
  return { dpcToReady, readyToRunning, sets: sets.length };
}

function summary(samples: ReadonlyArray<{ ns: number }>) {
  const total = samples.reduce((sum, s) => sum + s.ns, 0);
  return { count: samples.length, maxNs: Math.max(...samples.map((s) => s.ns)), meanNs: Math.round(total / samples.length) };
}

describe('interrupt → thread latency', () => {
  it('measures DPC queued → thread ready and ready → running on one CPU exactly, one sample per wake', async () => {
    const { result, records } = await runRecorded(dpcWakesThread(0), 1);
    const waiterId = 2; // thread ids: 1 is the idle thread, then the scenario's in declaration order
    const expected = expectedSamples(records, waiterId);
    expect(expected.sets).toBe(WAKES);
    const { dpcToReady, readyToRunning } = result.latency.series;
    expect({ count: dpcToReady.overall.count, maxNs: dpcToReady.overall.maxNs, meanNs: dpcToReady.overall.meanNs }).toEqual(summary(expected.dpcToReady));
    expect({ count: readyToRunning.overall.count, maxNs: readyToRunning.overall.maxNs, meanNs: readyToRunning.overall.meanNs }).toEqual(
      summary(expected.readyToRunning),
    );
    // the ISR's 700 cycles, the DPC's 5,000 before KeSetEvent: at least 5 µs from the insert to the wake
    expect(dpcToReady.overall.maxNs).toBeGreaterThan(5_000);
    // Busy, preempted back to Ready by each wake, is no wake itself: exactly one ready → running sample per wake
    expect(result.latency.readyToRunning.count).toBe(WAKES);
    expect(result.latency.dpcToReady.count).toBe(WAKES);
  });

  it('puts DPC queued → thread ready on the DPC’s CPU and ready → running on the CPU that switched the thread in', async () => {
    const { result, records } = await runRecorded(dpcWakesThread(1), 2);
    const expected = expectedSamples(records, 3); // two idle threads, then Waiter
    expect(expected.sets).toBe(WAKES);
    expect(expected.readyToRunning.every((s) => s.cpu === 1)).toBe(true);
    const { dpcToReady, readyToRunning } = result.latency.series;
    expect(dpcToReady.perCpu.map((d) => d.count)).toEqual([WAKES, 0]);
    expect(readyToRunning.perCpu.map((d) => d.count)).toEqual([0, WAKES]);
    const cpu1 = readyToRunning.perCpu[1]!;
    expect({ count: cpu1.count, maxNs: cpu1.maxNs, meanNs: cpu1.meanNs }).toEqual(summary(expected.readyToRunning));
    const cpu0 = dpcToReady.perCpu[0]!;
    expect({ count: cpu0.count, maxNs: cpu0.maxNs, meanNs: cpu0.meanNs }).toEqual(summary(expected.dpcToReady));
    const text = formatLatencyReport(result.latency, 2);
    expect(text).toMatch(/DPC queued → thread ready\s+all\s+3 /);
    expect(text).toMatch(/thread ready → running\s+all\s+3 /);
  });

  it('checks dpcToReady and readyToRunning budgets like the others', async () => {
    const { result } = await runRecorded(dpcWakesThread(0, { latency: { dpcToReadyMaxUs: 1000, readyToRunningP99Us: 0.001 } }), 1);
    expect(result.latency.budgets.map((b) => [b.budget, b.passed])).toEqual([
      ['dpcToReadyMaxUs', true],
      ['readyToRunningP99Us', false],
    ]);
    expect(result.latency.verdict).toMatch(
      /^Latency budget exceeded: thread ready → running p99 took [\d.]+ µs, over the readyToRunningP99Us budget of 0 µs\.$/,
    );
  });

  it('adds no trace record: the trace hash is the same with the timeline’s annotations sent', async () => {
    const plain = await runRecorded(dpcWakesThread(1), 2, { on: {} });
    const traced = await runRecorded(dpcWakesThread(1), 2);
    expect(traced.result.traceHash).toBe(plain.result.traceHash);
    expect(traced.records.every((r) => r.event < 0x1000)).toBe(true);
  });
});
