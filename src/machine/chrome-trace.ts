/**
 * Chrome trace JSON (the format ui.perfetto.dev and chrome://tracing open) from CPU trace records:
 * one track per CPU (tid = CPU), ISRs and DPCs as nested B/E slices (a CPU's activity nests by
 * construction: ISR over DPC over thread), IRQL as a counter track, everything else as instants.
 * Main thread only. The full observability issue builds on this.
 */

import { TraceEvent, traceEventName } from '../cpu/trace-events.js';
import type { CompiledScenario } from '../scenario/compile.js';

interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  s?: string;
  args?: Record<string, number | string>;
}

export class ChromeTraceWriter {
  private readonly events: ChromeEvent[] = [];
  private readonly compiled: CompiledScenario;

  constructor(compiled: CompiledScenario) {
    this.compiled = compiled;
    for (let cpu = 0; cpu < compiled.machine.cpus; cpu++) {
      this.events.push({ name: 'thread_name', ph: 'M', ts: 0, pid: 1, tid: cpu, args: { name: `CPU ${cpu}` } });
    }
    this.events.push({ name: 'process_name', ph: 'M', ts: 0, pid: 1, tid: 0, args: { name: 'irqlab machine' } });
  }

  add(cpu: number, timeNs: number, event: number, a: number, b: number, c: number): void {
    const ts = timeNs / 1000;
    const routine = (index: number): string => this.compiled.machine.routines[index]?.name ?? `#${index}`;
    const dpc = (index: number): string => this.compiled.machine.dpcNames[index] ?? `#${index}`;
    switch (event) {
      case TraceEvent.ISR_ENTER:
        this.events.push({ name: `ISR 0x${a.toString(16)}`, ph: 'B', ts, pid: 1, tid: cpu, cat: 'isr' });
        return;
      case TraceEvent.ISR_EXIT:
        this.events.push({ name: `ISR 0x${a.toString(16)}`, ph: 'E', ts, pid: 1, tid: cpu, cat: 'isr', args: { claimed: b } });
        return;
      case TraceEvent.DPC_START:
        this.events.push({ name: `DPC ${dpc(a)}`, ph: 'B', ts, pid: 1, tid: cpu, cat: 'dpc', args: { routine: routine(b) } });
        return;
      case TraceEvent.DPC_END:
        this.events.push({ name: `DPC ${dpc(a)}`, ph: 'E', ts, pid: 1, tid: cpu, cat: 'dpc' });
        return;
      case TraceEvent.IRQL:
        this.events.push({ name: `IRQL CPU ${cpu}`, ph: 'C', ts, pid: 1, tid: cpu, args: { irql: b } });
        return;
      default:
        this.events.push({ name: traceEventName(event), ph: 'i', s: 't', ts, pid: 1, tid: cpu, args: { a, b, c } });
    }
  }

  toJson(): string {
    return JSON.stringify({ traceEvents: this.events, displayTimeUnit: 'ns' });
  }
}
