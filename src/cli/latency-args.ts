/**
 * `irqlab run`'s latency flags (args.ts parses the command line and hands their values here):
 * --latency prints the latency report, --breaktrace US stops a run at the first ISR
 * or DPC routine whose execution exceeds US µs and writes the timeline before it. Pure, like
 * args.ts; imports nothing from it (args.ts uses LATENCY_RUN_HELP at its top level).
 */

import { UsageError } from '../util/errors.js';

/** Where the breaktrace window goes unless --breaktrace-out names a file (the current directory). */
export const DEFAULT_BREAKTRACE_FILE = 'irqlab-breaktrace.json';
/** --breaktrace's upper bound, µs of emulated execution (a second) */
export const MAX_BREAKTRACE_US = 1e6;

export const LATENCY_RUN_OPTIONS = {
  latency: { type: 'boolean' },
  breaktrace: { type: 'string' },
  'breaktrace-out': { type: 'string' },
} as const;

export const LATENCY_RUN_HELP = `      --latency           print the latency report: per ISR and DPC routine its runs, total and
                          highest execution time and share of each CPU; per CPU and overall the
                          assert → ISR, ISR → DPC, DPC queued → thread ready and ready → running
                          latencies (p50 … p99.9, max, LatencyMon's buckets); the scenario's
                          latency budgets. --json always carries it
      --breaktrace US     stop the run the first time an ISR or DPC routine
                          executes for more than US µs (0.001 to 1000000) and write the timeline
                          of the records before it as a Chrome trace; exit 2
      --breaktrace-out F  where --breaktrace writes (default ./${DEFAULT_BREAKTRACE_FILE})
`;

export interface LatencyRunArgs {
  /** --latency: print the latency report */
  latency?: boolean;
  /** --breaktrace, emulated ns */
  breaktraceNs?: number;
  /** --breaktrace-out (with --breaktrace) */
  breaktraceFile?: string;
}

/** The latency flags' values, checked: each problem a UsageError with one line. */
export function parseLatencyFlags(values: {
  latency?: boolean | undefined;
  breaktrace?: string | undefined;
  'breaktrace-out'?: string | undefined;
}): LatencyRunArgs {
  const out: LatencyRunArgs = {};
  if (values.latency) out.latency = true;
  if (values.breaktrace !== undefined) {
    const text = values.breaktrace.trim();
    const us = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
    if (!(us >= 0.001 && us <= MAX_BREAKTRACE_US)) {
      throw new UsageError(`--breaktrace takes µs of execution, 0.001 to ${MAX_BREAKTRACE_US} (got '${values.breaktrace}')`);
    }
    out.breaktraceNs = Math.round(us * 1000);
    out.breaktraceFile = DEFAULT_BREAKTRACE_FILE;
  }
  if (values['breaktrace-out'] !== undefined) {
    if (out.breaktraceNs === undefined) throw new UsageError('--breaktrace-out applies to --breaktrace only');
    if (values['breaktrace-out'].trim() === '') throw new UsageError('--breaktrace-out needs a file name');
    out.breaktraceFile = values['breaktrace-out'];
  }
  return out;
}

/** The latency fields of a RunArgs, carried over to the resolved run. */
export function latencyRunArgs(args: LatencyRunArgs): LatencyRunArgs {
  const out: LatencyRunArgs = {};
  if (args.latency) out.latency = true;
  if (args.breaktraceNs !== undefined) out.breaktraceNs = args.breaktraceNs;
  if (args.breaktraceFile !== undefined) out.breaktraceFile = args.breaktraceFile;
  return out;
}
