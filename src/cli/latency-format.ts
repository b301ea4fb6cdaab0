/**
 * `irqlab run --latency`: the latency report (RunResult.latency) as text, in LatencyMon's order:
 * the highest ISR and DPC execution first, then the drivers (when the scenario names any), then
 * every routine, then the latency distributions per CPU and overall with LatencyMon's buckets,
 * then the verdict on the scenario's budgets. Pure.
 */

import type { DriverExecutionReport, LatencyDistribution, LatencyReport, RoutineExecutionReport } from '../contract/result.js';
import { LATENCY_BUCKET_LABELS } from '../util/latency-histogram.js';
import { formatMicros, renderTable } from './format.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function slowest(routines: readonly RoutineExecutionReport[], kind: 'isr' | 'dpc', by: 'maxNs' | 'totalNs'): RoutineExecutionReport | null {
  return routines.filter((r) => r.kind === kind).reduce<RoutineExecutionReport | null>((a, r) => (a === null || r[by] > a[by] ? r : a), null);
}

function cpuOfMax(r: RoutineExecutionReport): number {
  return r.perCpu.reduce((a, c) => (c.maxNs > a.maxNs ? c : a), r.perCpu[0]!).cpu;
}

/** LatencyMon's Drivers tab: runs, highest single execution and total time of each driver's ISRs and DPCs. */
function driverTable(drivers: readonly DriverExecutionReport[]): string {
  const times = (count: number, maxNs: number, totalNs: number): string[] =>
    count === 0 ? ['0', '-', '-'] : [int(count), formatMicros(maxNs), formatMicros(totalNs)];
  return renderTable(
    ['driver', 'ISR count', 'highest ISR', 'total ISR', 'DPC count', 'highest DPC', 'total DPC'],
    drivers.map((d) => [d.driver, ...times(d.isrCount, d.isrMaxNs, d.isrTotalNs), ...times(d.dpcCount, d.dpcMaxNs, d.dpcTotalNs)]),
  );
}

export function formatLatencyReport(latency: LatencyReport, cpus: number): string {
  const out: string[] = ['Latency report (emulated time; a routine’s execution excludes interrupts taken while it ran)', ''];
  // a scenario that names no driver keeps the routine-only layout: each routine is its own driver
  const byDriver = latency.drivers.some((d) => d.declared);
  const named = (r: RoutineExecutionReport): string => (byDriver ? `${r.routine} in ${r.driver}` : r.routine);
  const headline: string[][] = [];
  for (const kind of ['isr', 'dpc'] as const) {
    const label = kind === 'isr' ? 'ISR' : 'DPC';
    const highest = slowest(latency.routines, kind, 'maxNs');
    const busiest = slowest(latency.routines, kind, 'totalNs');
    headline.push([
      `Highest ${label} routine execution time`,
      highest ? `${formatMicros(highest.maxNs)} µs` : '-',
      highest ? `${named(highest)} (CPU ${cpuOfMax(highest)})` : `no ${label} ran`,
    ]);
    headline.push([`Highest ${label} routine total time`, busiest ? `${formatMicros(busiest.totalNs)} µs` : '-', busiest ? named(busiest) : '']);
  }
  out.push(renderTable(['', 'time', 'routine'], headline, ['left', 'right', 'left']));

  if (byDriver) {
    out.push('', 'Drivers (their ISR and DPC routines together, highest single execution first; µs)');
    out.push(driverTable(latency.drivers));
  }

  if (latency.routines.length > 0) {
    const cpuColumns = Array.from({ length: cpus }, (_, cpu) => `CPU ${cpu} %`);
    const rows = latency.routines.map((r) => {
      const share = (cpu: number): string => {
        const c = r.perCpu.find((p) => p.cpu === cpu);
        return c ? c.sharePercent.toFixed(3) : '-';
      };
      return [
        r.routine,
        ...(byDriver ? [r.driver] : []),
        r.kind.toUpperCase(),
        int(r.count),
        formatMicros(r.totalNs),
        formatMicros(r.meanNs),
        formatMicros(r.maxNs),
        ...cpuColumns.map((_, cpu) => share(cpu)),
      ];
    });
    out.push('', 'ISR and DPC routines (highest single execution first; µs; % = share of each CPU’s time)');
    const header = ['routine', ...(byDriver ? ['driver'] : []), 'kind', 'runs', 'total', 'mean', 'max', ...cpuColumns];
    out.push(renderTable(header, rows, byDriver ? ['left', 'left', 'left'] : ['left', 'left']));
  }

  const distributionRows: string[][] = [];
  const row = (name: string, who: string, d: LatencyDistribution): string[] =>
    d.count === 0
      ? [name, who, '0', ...Array<string>(6 + LATENCY_BUCKET_LABELS.length).fill('-')]
      : [
          name,
          who,
          int(d.count),
          formatMicros(d.meanNs),
          formatMicros(d.p50Ns),
          formatMicros(d.p90Ns),
          formatMicros(d.p99Ns),
          formatMicros(d.p999Ns),
          formatMicros(d.maxNs),
          ...LATENCY_BUCKET_LABELS.map((label) => int(d.buckets[label] ?? 0)),
        ];
  const series = [
    ['device assert → ISR start', latency.series.assertToIsr],
    ['ISR → DPC start', latency.series.isrToDpc],
    ['DPC queued → thread ready', latency.series.dpcToReady],
    ['thread ready → running', latency.series.readyToRunning],
  ] as const;
  for (const [name, s] of series) {
    distributionRows.push(row(name, 'all', s.overall));
    // a series with no sample (no DPC woke a thread) is one row, not one per CPU
    s.perCpu.forEach((d, cpu) => {
      if (cpus > 1 && s.overall.count > 0) distributionRows.push(row('', `CPU ${cpu}`, d));
    });
  }
  out.push('', 'Latencies (µs; the bucket columns count samples, LatencyMon’s ranges in µs)');
  out.push(renderTable(['', '', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max', ...LATENCY_BUCKET_LABELS], distributionRows, ['left', 'left']));

  if (latency.budgets.length > 0) {
    out.push('', 'Latency budgets');
    out.push(
      renderTable(
        ['budget', 'limit µs', 'actual µs', '', 'measured'],
        latency.budgets.map((b) => [b.budget, String(b.limitUs), b.actualUs.toFixed(2), b.passed ? 'ok' : 'EXCEEDED', b.what]),
        ['left', 'right', 'right', 'left', 'left'],
      ),
    );
  }
  out.push('', `Verdict: ${latency.verdict ?? 'no latency budget declared (a scenario declares them in its latency field)'}`);
  return `${out.join('\n')}\n`;
}
