/**
 * The keys a scenario's `latency` budget may have, all in µs: `<series><statistic>Us` for the
 * series assertToIsr, isrToDpc, dpcToReady and readyToRunning and the statistics P50, P90, P99, P999 and Max (isrToDpcP99Us),
 * and maxIsrUs / maxDpcUs: the longest single execution of any ISR / DPC routine. Checked at the
 * end of the run by src/machine/latency-report.ts.
 */
export const LATENCY_BUDGET_SERIES = ['assertToIsr', 'isrToDpc', 'dpcToReady', 'readyToRunning'] as const;
export const LATENCY_BUDGET_STATISTICS = ['P50', 'P90', 'P99', 'P999', 'Max'] as const;
export const LATENCY_BUDGET_KEYS: readonly string[] = [
  ...LATENCY_BUDGET_SERIES.flatMap((series) => LATENCY_BUDGET_STATISTICS.map((statistic) => `${series}${statistic}Us`)),
  'maxIsrUs',
  'maxDpcUs',
];
