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

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  tid: number;
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
    expectBalancedSlices(events);
    // 50 ISRs claim; the 51st bugchecks inside its ISR, whose slice the writer ends at the end of the trace
    expect(events.filter((e) => e.name === 'ISR 0x50' && e.ph === 'B').length).toBe(51);
    expect(events.filter((e) => e.args?.unfinished === 1).map((e) => e.name)).toContain('ISR 0x50');
  });
});
