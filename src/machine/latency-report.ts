/**
 * The run's latency report (`irqlab run --latency`, `latency` in --json): the CPUs' latency
 * histograms merged (src/util/latency-histogram.ts), per ISR and DPC routine the exclusive
 * execution time each CPU measured (src/cpu/latency-recorder.ts), and the scenario's latency
 * budgets checked against them. Main thread, at the end of the run.
 */

import type { CpuLatencyReport } from '../cpu/latency-recorder.js';
import type {
  CheckResult,
  DriverExecutionReport,
  LatencyBudgetResult,
  LatencyDistribution,
  LatencyReport,
  LatencySeriesReport,
  LatencySummary,
  RoutineExecutionReport,
} from '../contract/result.js';
import { LATENCY_BUCKET_LABELS, LatencySeries } from '../util/latency-histogram.js';
import type { ScenarioDefinition } from '../scenario/define.js';
import { routineDrivers } from '../scenario/routine-drivers.js';
import type { EncodedLatencySeries } from '../util/latency-histogram.js';

/** The series a budget may name, and what each measures. */
const SERIES = {
  assertToIsr: 'device assert → ISR start',
  isrToDpc: 'ISR → DPC start',
  dpcToReady: 'DPC queued → thread ready',
  readyToRunning: 'thread ready → running',
} as const;
type SeriesName = keyof typeof SERIES;
const STATISTICS = { P50: 50, P90: 90, P99: 99, P999: 99.9, Max: 100 } as const;

export type LatencyBudgets = Readonly<Record<string, number>>;

function distribution(series: LatencySeries): LatencyDistribution {
  const buckets: Record<string, number> = {};
  LATENCY_BUCKET_LABELS.forEach((label, i) => {
    buckets[label] = series.buckets[i]!;
  });
  return {
    count: series.count,
    meanNs: series.count === 0 ? 0 : Math.round(series.sumNs / series.count),
    p50Ns: series.percentile(50),
    p90Ns: series.percentile(90),
    p99Ns: series.percentile(99),
    p999Ns: series.percentile(99.9),
    maxNs: series.maxNs,
    buckets,
  };
}

function mergeSeries(perCpu: readonly (EncodedLatencySeries | undefined)[]): { report: LatencySeriesReport; summary: LatencySummary } {
  const overall = new LatencySeries();
  const cpus: LatencyDistribution[] = [];
  for (const encoded of perCpu) {
    const one = new LatencySeries();
    if (encoded) {
      one.merge(encoded);
      overall.merge(encoded);
    }
    cpus.push(distribution(one));
  }
  const all = distribution(overall);
  return { report: { overall: all, perCpu: cpus }, summary: { count: all.count, p50Ns: all.p50Ns, p99Ns: all.p99Ns, maxNs: all.maxNs } };
}

/**
 * `perCpu[i]`: CPU i's latency record (undefined for a CPU that sent none: stopped from outside).
 * `cpuTimeNs`: the emulated time each CPU's shares are of. `scenario`: its latency budgets, and the
 * drivers its interrupt and DPC objects name (src/scenario/routine-drivers.ts; a routine whose
 * objects name none is its own driver).
 */
export function buildLatencyReport(
  perCpu: readonly (CpuLatencyReport | undefined)[],
  cpuTimeNs: number,
  scenario: Pick<ScenarioDefinition, 'latency' | 'dpcs' | 'interrupts'> | undefined,
): LatencyReport {
  const budgets = scenario?.latency;
  const driverByRoutine = scenario ? routineDrivers(scenario) : new Map<string, string>();
  const assertToIsr = mergeSeries(perCpu.map((r) => r?.assertToIsr));
  const isrToDpc = mergeSeries(perCpu.map((r) => r?.isrToDpc));
  const dpcToReady = mergeSeries(perCpu.map((r) => r?.dpcToReady));
  const readyToRunning = mergeSeries(perCpu.map((r) => r?.readyToRunning));
  const routines = new Map<string, RoutineExecutionReport>();
  perCpu.forEach((report, cpu) => {
    for (const row of report?.routines ?? []) {
      const key = `${row.kind}:${row.name}`;
      let merged = routines.get(key);
      if (merged === undefined) {
        const driver = driverByRoutine.get(row.name) ?? row.name;
        merged = { kind: row.kind, routine: row.name, driver, count: 0, totalNs: 0, maxNs: 0, meanNs: 0, perCpu: [] };
        routines.set(key, merged);
      }
      merged.count += row.count;
      merged.totalNs += row.totalNs;
      merged.maxNs = Math.max(merged.maxNs, row.maxNs);
      const sharePercent = cpuTimeNs > 0 ? Math.round((row.totalNs / cpuTimeNs) * 1e6) / 1e4 : 0;
      merged.perCpu.push({ cpu, count: row.count, totalNs: Math.round(row.totalNs), maxNs: Math.round(row.maxNs), sharePercent });
    }
  });
  const rows = [...routines.values()].map((r) => ({
    ...r,
    totalNs: Math.round(r.totalNs),
    maxNs: Math.round(r.maxNs),
    meanNs: Math.round(r.totalNs / r.count),
  }));
  rows.sort((a, b) => b.maxNs - a.maxNs || b.totalNs - a.totalNs || a.routine.localeCompare(b.routine));
  const series = { assertToIsr: assertToIsr.report, isrToDpc: isrToDpc.report, dpcToReady: dpcToReady.report, readyToRunning: readyToRunning.report };
  const budgetResults = budgets ? checkBudgets(budgets, series, rows, driverByRoutine) : [];
  return {
    assertToIsr: assertToIsr.summary,
    isrToDpc: isrToDpc.summary,
    dpcToReady: dpcToReady.summary,
    readyToRunning: readyToRunning.summary,
    series,
    routines: rows,
    drivers: groupByDriver(rows, driverByRoutine),
    budgets: budgetResults,
    verdict: verdictOf(budgetResults),
  };
}

/**
 * LatencyMon's Drivers tab: per driver, its ISR and DPC routines' runs and total time summed and
 * the highest single execution over them; highest execution (ISR or DPC) first. From the routine
 * rows, so memory stays one row per routine however long the run.
 */
function groupByDriver(routines: readonly RoutineExecutionReport[], driverByRoutine: ReadonlyMap<string, string>): DriverExecutionReport[] {
  const drivers = new Map<string, DriverExecutionReport>();
  for (const r of routines) {
    let driver = drivers.get(r.driver);
    if (driver === undefined) {
      driver = { driver: r.driver, declared: false, routines: [], isrCount: 0, isrMaxNs: 0, isrTotalNs: 0, dpcCount: 0, dpcMaxNs: 0, dpcTotalNs: 0 };
      drivers.set(r.driver, driver);
    }
    if (driverByRoutine.has(r.routine)) driver.declared = true;
    if (!driver.routines.includes(r.routine)) driver.routines.push(r.routine);
    if (r.kind === 'isr') {
      driver.isrCount += r.count;
      driver.isrTotalNs += r.totalNs;
      driver.isrMaxNs = Math.max(driver.isrMaxNs, r.maxNs);
    } else {
      driver.dpcCount += r.count;
      driver.dpcTotalNs += r.totalNs;
      driver.dpcMaxNs = Math.max(driver.dpcMaxNs, r.maxNs);
    }
  }
  const highest = (d: DriverExecutionReport): number => Math.max(d.isrMaxNs, d.dpcMaxNs);
  const total = (d: DriverExecutionReport): number => d.isrTotalNs + d.dpcTotalNs;
  return [...drivers.values()].sort((a, b) => highest(b) - highest(a) || total(b) - total(a) || a.driver.localeCompare(b.driver));
}

function checkBudgets(
  budgets: LatencyBudgets,
  series: Record<SeriesName, LatencySeriesReport>,
  routines: readonly RoutineExecutionReport[],
  driverByRoutine: ReadonlyMap<string, string>,
): LatencyBudgetResult[] {
  const out: LatencyBudgetResult[] = [];
  for (const [budget, limitUs] of Object.entries(budgets)) {
    if (budget === 'maxIsrUs' || budget === 'maxDpcUs') {
      const kind = budget === 'maxIsrUs' ? 'isr' : 'dpc';
      const slowest = routines.filter((r) => r.kind === kind).reduce<RoutineExecutionReport | null>((a, r) => (a === null || r.maxNs > a.maxNs ? r : a), null);
      const actualUs = (slowest?.maxNs ?? 0) / 1000;
      const driver = slowest && driverByRoutine.has(slowest.routine) ? ` (${slowest.driver})` : '';
      const what = slowest ? `${kind === 'isr' ? 'ISR' : 'DPC'} routine ${slowest.routine}${driver}` : `no ${kind === 'isr' ? 'ISR' : 'DPC'} ran`;
      out.push({ budget, limitUs, actualUs, passed: actualUs <= limitUs, what });
      continue;
    }
    const match = /^(assertToIsr|isrToDpc|dpcToReady|readyToRunning)(P50|P90|P99|P999|Max)Us$/.exec(budget);
    if (!match) continue; // validate.ts refused unknown keys
    const name = match[1] as SeriesName;
    const statistic = match[2] as keyof typeof STATISTICS;
    const overall = series[name].overall;
    const ns = { P50: overall.p50Ns, P90: overall.p90Ns, P99: overall.p99Ns, P999: overall.p999Ns, Max: overall.maxNs }[statistic];
    const actualUs = ns / 1000;
    out.push({ budget, limitUs, actualUs, passed: actualUs <= limitUs, what: `${SERIES[name]} ${statistic === 'Max' ? 'max' : `p${STATISTICS[statistic]}`}` });
  }
  return out;
}

const us = (value: number): string => (Math.round(value * 10) / 10).toString();

function verdictOf(budgets: readonly LatencyBudgetResult[]): string | null {
  if (budgets.length === 0) return null;
  const failed = budgets.filter((b) => !b.passed);
  if (failed.length === 0) return `Within every latency budget (${budgets.length} checked).`;
  const worst = failed.reduce((a, b) => (b.actualUs / b.limitUs > a.actualUs / a.limitUs ? b : a));
  const more = failed.length > 1 ? `; ${failed.length - 1} more budget${failed.length > 2 ? 's' : ''} exceeded` : '';
  return `Latency budget exceeded: ${worst.what} took ${us(worst.actualUs)} µs, over the ${worst.budget} budget of ${us(worst.limitUs)} µs${more}.`;
}

/** The budgets as checks (RunResult.checks): a run that exceeds one fails as a failed check does (exit 2). */
export function budgetChecks(report: LatencyReport): CheckResult[] {
  return report.budgets.map((b) => ({
    name: `latency budget ${b.budget}`,
    passed: b.passed,
    detail: `${b.what}: ${us(b.actualUs)} µs (budget ${us(b.limitUs)} µs)`,
  }));
}
