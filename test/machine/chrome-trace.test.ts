// The --trace writer: streamed to its file in bounded chunks as the run goes, always valid JSON
// (open slices ended, the array closed) after a normal end and after a bugcheck, and a trace path
// checked before the run.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChromeTraceWriter, checkTracePath } from '../../src/machine/chrome-trace.js';
import { compileScenario } from '../../src/scenario/compile.js';
import { defineScenario } from '../../src/scenario/define.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { executeScenario } from '../../src/machine/execute.js';
import { TraceEvent } from '../../src/kernel/trace-events.js';
import { UsageError } from '../../src/util/errors.js';
import { R0, R2 } from '../../src/isa/registers.js';
import { WAKES, dpcWakesThread } from './dpc-wakes-thread.js';

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  tid: number;
  id?: number;
  bp?: string;
  s?: string;
  cat?: string;
  args?: Record<string, unknown>;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'irqlab-trace-'));

const twoCpus = compileScenario(
  validateScenario(defineScenario({ name: 'trace-shape', description: 'two CPUs, nothing to do', routines: {} }), { cpus: 2, arch: 'x64' }),
  {
    cpus: 2,
    mode: 'deterministic',
    seed: 1,
    durationNs: 1e6,
    timeScale: 1,
    traceToMain: true,
    nativeModule: null,
  },
);

function parseTrace(file: string): ChromeEvent[] {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[]; displayTimeUnit: string };
  expect(json.displayTimeUnit).toBe('ns');
  return json.traceEvents;
}

/** Every B has its E on the same track, properly nested, and ends are not before their begins (what Perfetto's importer needs). */
function expectBalancedSlices(events: readonly ChromeEvent[]): void {
  const stacks = new Map<number, ChromeEvent[]>();
  for (const event of events) {
    const stack = stacks.get(event.tid) ?? [];
    stacks.set(event.tid, stack);
    if (event.ph === 'B') stack.push(event);
    if (event.ph === 'E') {
      const begin = stack.pop();
      expect(begin, `E without B on CPU ${event.tid}: ${event.name}`).toBeDefined();
      expect(event.name).toBe(begin!.name);
      expect(event.ts).toBeGreaterThanOrEqual(begin!.ts);
    }
  }
  for (const [tid, stack] of stacks) expect(stack, `slices left open on CPU ${tid}`).toEqual([]);
}

/**
 * The rules Perfetto's JSON importer relies on (no trace processor can be installed here, so the
 * format's rules are checked instead): B/E nesting per track (expectBalancedSlices), timestamps that
 * never go back on a track, and every flow id with exactly one start ('s') and one end ('f',
 * bound to the enclosing slice, so a slice of its track spans it), the end not before the start by
 * more than the CPUs' clocks can differ; every counter sample a non-negative number.
 */
/** The most one CPU's clock runs ahead of another's in deterministic mode: one maximum slice (16,384 cycles at 1 GHz). */
const MAX_CLOCK_SKEW_US = 16.384;

function expectValidTimeline(events: readonly ChromeEvent[]): void {
  expectBalancedSlices(events);
  // per track (slices, instants) and per counter
  const last = new Map<string, number>();
  for (const event of events) {
    if (event.ph === 'M' || event.ph === 's' || event.ph === 'f') continue;
    const track = event.ph === 'C' ? `counter ${event.name}` : `CPU ${event.tid}`;
    expect(event.ts, `time went back on ${track} at ${event.name}`).toBeGreaterThanOrEqual(last.get(track) ?? 0);
    last.set(track, event.ts);
  }
  for (const counter of events.filter((e) => e.ph === 'C')) {
    const values = Object.values(counter.args ?? {});
    expect(values.length, `counter ${counter.name} without a value`).toBeGreaterThan(0);
    for (const value of values) expect(typeof value === 'number' && value >= 0, `counter ${counter.name}: ${String(value)}`).toBe(true);
  }
  // the spans of each track's slices, to check that a flow's end lies in one (Perfetto binds it to the enclosing slice)
  const spans = new Map<number, Array<[number, number]>>();
  const open = new Map<number, number[]>();
  for (const event of events) {
    if (event.ph === 'B') open.set(event.tid, [...(open.get(event.tid) ?? []), event.ts]);
    if (event.ph === 'E') {
      const begins = open.get(event.tid)!;
      spans.set(event.tid, [...(spans.get(event.tid) ?? []), [begins.pop()!, event.ts]]);
    }
  }
  const flows = new Map<number, ChromeEvent[]>();
  for (const event of events) if (event.ph === 's' || event.ph === 'f') flows.set(event.id!, [...(flows.get(event.id!) ?? []), event]);
  for (const [id, ends] of flows) {
    expect(ends.map((e) => e.ph).sort(), `flow ${id}`).toEqual(['f', 's']);
    const [start, finish] = [ends.find((e) => e.ph === 's')!, ends.find((e) => e.ph === 'f')!];
    expect(finish.bp).toBe('e');
    expect(
      (spans.get(finish.tid) ?? []).some(([from, to]) => from <= finish.ts && finish.ts <= to),
      `${start.cat} flow ${id} ends on CPU ${finish.tid} at ${finish.ts} µs, inside no slice`,
    ).toBe(true);
    // each CPU has its own clock; in deterministic mode a CPU's slice runs up to 16,384 cycles (16.4 µs
    // at 1 GHz) past the others', so a CPU behind can see a DPC queued "later" by one ahead of it
    expect(
      finish.ts,
      `${start.cat} flow ${id}: ends on CPU ${finish.tid} at ${finish.ts} µs, before it starts on CPU ${start.tid} at ${start.ts} µs`,
    ).toBeGreaterThanOrEqual(start.ts - MAX_CLOCK_SKEW_US);
  }
}

describe('ChromeTraceWriter', () => {
  it('writes the trace to the file as it goes, never holding more than its flush size', () => {
    const file = join(tempDir(), 'trace.json');
    const writer = ChromeTraceWriter.open(file, twoCpus, 16);
    const sizes: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const cpu = i % 2;
      writer.add(cpu, i * 1000, TraceEvent.ISR_ENTER, 0x50, 0, 0);
      writer.add(cpu, i * 1000 + 10, TraceEvent.IRQL, 0, 5, 0);
      writer.add(cpu, i * 1000 + 500, TraceEvent.ISR_EXIT, 0x50, 1, 0);
      expect(writer.bufferedEvents).toBeLessThanOrEqual(16);
      if (i % 1000 === 999) sizes.push(statSync(file).size);
    }
    // the file grew while events were still coming: nothing waits for the end of the run
    expect(sizes[0]).toBeGreaterThan(100_000);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThan(sizes[i - 1]!);
    writer.close(5e6);
    const events = parseTrace(file);
    expect(events.filter((e) => e.ph === 'M')).toHaveLength(3);
    expect(events.filter((e) => e.ph !== 'M')).toHaveLength(15_000);
    expectBalancedSlices(events);
  });

  it('gives an arrow the same id whatever order the CPUs’ records are drained in', () => {
    // CPU 0 inserts a DPC into CPU 1's queue and sends it an IPI; CPU 1 runs the DPC: two arrows
    const cpu0 = [
      [0, 1000, TraceEvent.DPC_INSERT, 7, 1, 1],
      [0, 1100, TraceEvent.IPI_SEND, 1, 0x2, 0],
    ] as const;
    const cpu1 = [
      [1, 1200, TraceEvent.IPI_RECEIVE, 0, 0x2, 0],
      [1, 1300, TraceEvent.DPC_START, 7, 0, 0],
    ] as const;
    const arrows = (order: ReadonlyArray<readonly [number, number, number, number, number, number]>): string[] => {
      const file = join(tempDir(), 'trace.json');
      const writer = ChromeTraceWriter.open(file, twoCpus);
      for (const [cpu, ts, event, a, b, c] of order) writer.add(cpu, ts, event, a, b, c);
      writer.close(2000);
      return parseTrace(file)
        .filter((e) => e.cat?.startsWith('flow.'))
        .map((e) => `${e.cat} ${e.ph} ${e.id} ${e.tid} ${e.ts}`)
        .sort();
    };
    const cpu0First = arrows([...cpu0, ...cpu1]);
    expect(cpu0First).toHaveLength(4);
    expect(arrows([...cpu1, ...cpu0])).toEqual(cpu0First);
  });

  it('ends the slices still open (a bugcheck inside an ISR and a DPC) and closes the JSON', () => {
    const file = join(tempDir(), 'trace.json');
    const writer = ChromeTraceWriter.open(file, twoCpus, 4);
    writer.add(0, 1000, TraceEvent.DPC_START, 0, 0, 0);
    writer.add(0, 2000, TraceEvent.ISR_ENTER, 0x50, 0, 0);
    writer.add(1, 2500, TraceEvent.ISR_ENTER, 0x60, 0, 0);
    writer.add(1, 2600, TraceEvent.ISR_EXIT, 0x60, 1, 0);
    writer.add(0, 3000, TraceEvent.BUGCHECK, 0xd1, 0, 0);
    writer.close(4000);
    writer.close(4000);
    const events = parseTrace(file);
    expectBalancedSlices(events);
    const unfinished = events.filter((e) => e.args?.unfinished === 1);
    expect(unfinished.map((e) => [e.tid, e.name, e.ts])).toEqual([
      [0, 'ISR 0x50', 4],
      [0, 'DPC #0', 4],
    ]);
  });

  it('refuses a trace path that would overwrite the scenario, is a directory, or lies under a file, before the run', () => {
    const dir = tempDir();
    const scenario = join(dir, 'my-scenario.mjs');
    writeFileSync(scenario, 'export default {}\n');
    expect(() => checkTracePath(scenario, scenario)).toThrow(UsageError);
    expect(() => checkTracePath(scenario, scenario)).toThrow(/is the scenario file itself/);
    expect(() => checkTracePath(dir)).toThrow(/is a directory/);
    expect(() => checkTracePath(join(scenario, 'trace.json'))).toThrow(/is not a directory/);
    expect(() => checkTracePath(join(dir, 'no', 'trace.json'))).toThrow(/does not exist/);
    expect(() => checkTracePath(join(dir, 'trace.json'), scenario)).not.toThrow();
    expect(() => ChromeTraceWriter.open(join(scenario, 'trace.json'), twoCpus)).toThrow(UsageError);
  });
});

describe('--trace on a real run', () => {
  it('streams a valid trace of a run that ends in a bugcheck inside an ISR', async () => {
    const file = join(tempDir(), 'trace.json');
    const definition = validateScenario(
      defineScenario({
        name: 'bugcheck-in-isr',
        description: 'the 50th disk interrupt bugchecks inside its ISR',
        memory: { Count: {} },
        interrupts: { Disk: { vector: 0x50, routine: 'DiskIsr' } },
        dpcs: { DiskDpc: { routine: 'DiskDpc' } },
        devices: { disk: { vector: 0x50, ratePerSec: 100_000 } },
        routines: {
          DiskIsr: (a) => {
            a.kcall('KeInsertQueueDpc', a.dpc('DiskDpc'), 0, 0);
            a.movi(R2, 1);
            a.xadd(R0, a.var('Count'), 0, R2);
            a.blt(R0, 50, 'done');
            a.kcall('KeBugCheckEx', 0xe2, 0, 0, 0, 0);
            a.label('done');
            a.ret(1);
          },
          DiskDpc: (a) => {
            a.work(20_000);
            a.ret(0);
          },
        },
      }),
      { cpus: 2, arch: 'x64' },
    );
    const result = await executeScenario(definition, null, {
      cpus: 2,
      mode: 'deterministic',
      seed: 3,
      durationNs: 10e6,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run bugcheck-in-isr',
      traceFile: file,
    });
    expect(result.bugcheck?.code).toBe(0xe2);
    const events = parseTrace(file);
    expectValidTimeline(events);
    // 50 ISRs claim; the 51st bugchecks inside its ISR, whose slice the writer ends at the end of the trace
    expect(events.filter((e) => e.name === 'ISR DiskIsr' && e.ph === 'B').length).toBe(51);
    expect(events.filter((e) => e.args?.unfinished === 1).map((e) => e.name)).toContain('ISR DiskIsr');
    const bugcheck = events.filter((e) => e.cat === 'bugcheck');
    expect(bugcheck.map((e) => [e.name, e.s])).toEqual([['BUGCHECK 0xe2 MANUALLY_INITIATED_CRASH', 'g']]);
  });

  it('names slices by routine and thread, draws an arrow from each KeInsertQueueDpc to its DPC and from each IPI send to its receipt, and gives instants named arguments', async () => {
    const file = join(tempDir(), 'trace.json');
    const definition = validateScenario(
      defineScenario({
        name: 'timeline',
        description: 'a device whose ISR queues a DPC targeted at the other CPU; a thread on each CPU',
        interrupts: { Disk: { vector: 0x50, routine: 'DiskIsr' } },
        dpcs: { DiskDpc: { routine: 'DiskDpcRoutine', targetCpu: 1, importance: 'High' } },
        devices: { disk: { vector: 0x50, ratePerSec: 20_000, cpus: [0] } },
        threads: { Worker0: { routine: 'Spin', cpu: 0 }, Worker1: { routine: 'Spin', cpu: 1 } },
        routines: {
          DiskIsr: (a) => {
            a.kcall('KeInsertQueueDpc', a.dpc('DiskDpc'), 0, 0);
            a.ret(1);
          },
          DiskDpcRoutine: (a) => {
            a.work(2_000);
            a.ret(0);
          },
          Spin: (a) => {
            a.label('top');
            a.work(1_000);
            a.jmp('top');
          },
        },
      }),
      { cpus: 2, arch: 'x64' },
    );
    await executeScenario(definition, null, {
      cpus: 2,
      mode: 'deterministic',
      seed: 1,
      durationNs: 2e6,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run timeline',
      traceFile: file,
    });
    const events = parseTrace(file);
    expectValidTimeline(events);
    const begins = events.filter((e) => e.ph === 'B');
    expect(begins.some((e) => e.tid === 0 && e.name === 'ISR DiskIsr')).toBe(true);
    expect(begins.some((e) => e.tid === 1 && e.name === 'DPC DiskDpcRoutine' && e.args?.dpc === 'DiskDpc')).toBe(true);
    expect(begins.some((e) => e.tid === 0 && e.name === 'Worker0' && e.cat === 'thread')).toBe(true);
    expect(begins.some((e) => e.tid === 1 && e.name === 'Worker1' && e.cat === 'thread')).toBe(true);
    const dpcFlows = events.filter((e) => e.cat === 'flow.DPC');
    expect(dpcFlows.length).toBeGreaterThan(20);
    for (const start of dpcFlows.filter((e) => e.ph === 's')) expect(start.tid).toBe(0);
    for (const end of dpcFlows.filter((e) => e.ph === 'f')) expect(end.tid).toBe(1);
    // a DPC targeted at another CPU is requested by IPI: those arrows go CPU 0 → CPU 1 too
    expect(events.filter((e) => e.cat === 'flow.IPI' && e.ph === 's').length).toBeGreaterThan(0);
    const insert = events.find((e) => e.name === 'KeInsertQueueDpc')!;
    expect(insert.args).toEqual({ dpc: 'DiskDpc', target: 1, inserted: 'TRUE' });
    expect(events.some((e) => e.name === 'DPC queue CPU 1' && e.ph === 'C')).toBe(true);
  });

  it('draws an arrow from each KeSetEvent that ended a wait to the woken thread’s switch-in, and each CPU’s ready-queue length as a counter', async () => {
    const file = join(tempDir(), 'trace.json');
    const definition = validateScenario(dpcWakesThread(1), { cpus: 2, arch: 'x64' });
    const options = { cpus: 2, mode: 'deterministic', seed: 1, durationNs: 2e6, timeScale: 1, verbose: false, command: 'irqlab run dpc-wakes-thread' } as const;
    const traced = await executeScenario(definition, null, { ...options, traceFile: file });
    const plain = await executeScenario(definition, null, options);
    // the arrows' ends travel beside the trace records, not in them
    expect(traced.traceHash).toBe(plain.traceHash);
    const events = parseTrace(file);
    expectValidTimeline(events);
    const wakes = events.filter((e) => e.cat === 'flow.wake');
    expect(wakes.map((e) => [e.ph, e.name]).filter(([ph]) => ph === 's')).toEqual(Array(WAKES).fill(['s', 'KeSetEvent → wake']));
    const setEvents = events.filter((e) => e.name === 'dispatcher' && e.args?.operation === 'KeSetEvent');
    const waiterSwitchIns = events.filter((e) => e.ph === 'B' && e.cat === 'thread' && e.name === 'Waiter');
    for (const start of wakes.filter((e) => e.ph === 's')) {
      // from the KeSetEvent instant inside the DPC on CPU 0 …
      expect(setEvents.some((e) => e.tid === 0 && e.ts === start.ts)).toBe(true);
      const finish = wakes.find((e) => e.ph === 'f' && e.id === start.id)!;
      // … to the Waiter's slice beginning on CPU 1
      expect(finish.tid).toBe(1);
      expect(waiterSwitchIns.some((e) => e.tid === 1 && e.ts === finish.ts)).toBe(true);
    }
    const readyQueues = events.filter((e) => e.ph === 'C' && e.name.startsWith('Ready queue CPU '));
    // Busy1 is Ready (1 thread) behind the Waiter at boot and whenever a wake preempts it, until the Waiter waits again (0); CPU 0's queue never changes
    expect(readyQueues.map((e) => [e.tid, e.args?.threads])).toEqual(
      Array(1 + WAKES)
        .fill([
          [1, 1],
          [1, 0],
        ])
        .flat(),
    );
  });

  it('shows APC routines as slices named by routine on the CPU that ran them, and each KeInsertQueueApc as an instant naming the APC', async () => {
    const file = join(tempDir(), 'trace.json');
    const apcDelivery = (await import('../../src/scenarios/apc-delivery.js')).default;
    await executeScenario(validateScenario(apcDelivery, { cpus: 2, arch: 'x64' }), null, {
      cpus: 2,
      mode: 'deterministic',
      seed: 1,
      durationNs: 5e6,
      timeScale: 1,
      verbose: false,
      command: 'irqlab run apc-delivery',
      traceFile: file,
    });
    const events = parseTrace(file);
    expectValidTimeline(events);
    const apcSlices = events.filter((e) => e.ph === 'B' && e.cat === 'apc').map((e) => [e.tid, e.name, e.args?.apc, e.args?.kind]);
    expect(apcSlices).toEqual([
      [0, 'APC S1Kernel', 'S1', 'KernelRoutine'],
      [0, 'APC N1Kernel', 'N1', 'KernelRoutine'],
      [0, 'APC N1Normal', 'N1', 'NormalRoutine'],
      [0, 'APC S2Kernel', 'S2', 'KernelRoutine'],
      [0, 'APC S3Kernel', 'S3', 'KernelRoutine'],
      [1, 'APC S4Kernel', 'S4', 'KernelRoutine'],
    ]);
    const remote = events.find((e) => e.name === 'KeInsertQueueApc' && e.args?.apc === 'S4')!;
    expect(remote.args).toEqual({ apc: 'S4', inserted: 'TRUE', signal: 'IPI(APC)' });
  });
});
