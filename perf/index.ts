/**
 * The bench runner: `npm run bench -- [--scope ring|ipi|interrupts|boot|threads|time|load|in-process|worker-backend|fidelity|throughput|slack|explore|all] [--json]`.
 * Runs the chosen benchmarks one after another (never concurrently: each one measures the host),
 * prints each human-readable as it finishes, or with --json prints one object on stdout,
 * {host: {cores, cpuModel, node, platform}, results: BenchResult[]}, and nothing else there.
 * Bad flags: one line on stderr starting `irqlab bench: `, exit 1. A benchmark that throws is
 * reported the same way (`irqlab bench: <scope> failed: …`), the others still run, and the exit
 * code is 2 (with --json the object then also has `failed: [{name, error}]`). Main thread only.
 * Every benchmark also runs alone: `node dist/perf/<scope>.js [--json]` (perf/README.md).
 */

import { parseArgs } from 'node:util';
import type { BenchResult } from './bench-result.js';
import { runBootBench } from './boot.js';
import { hostInfo } from './common.js';
import { runInterruptsBench } from './interrupts.js';
import { runInProcessBench } from './in-process.js';
import { runIpiBench } from './ipi.js';
import { runLoadBench } from './load.js';
import { runRingBench } from './ring.js';
import { runThreadsBench } from './threads.js';
import { runTimeBench } from './time.js';
import { runWorkerBackendBench } from './worker-backend.js';
import { runFidelityBench } from './fidelity.js';
import { runThroughputBench } from './throughput.js';
import { runSlackBench } from './slack.js';
import { runExploreBench } from './explore.js';

const SCOPES = [
  'ring',
  'ipi',
  'interrupts',
  'boot',
  'threads',
  'time',
  'load',
  'in-process',
  'worker-backend',
  'fidelity',
  'throughput',
  'slack',
  'explore',
] as const;
type Scope = (typeof SCOPES)[number];

const BENCHES: Record<Scope, (opts: { json: boolean }) => Promise<BenchResult>> = {
  ring: runRingBench,
  ipi: runIpiBench,
  interrupts: runInterruptsBench,
  boot: runBootBench,
  threads: runThreadsBench,
  time: runTimeBench,
  load: runLoadBench,
  'in-process': runInProcessBench,
  'worker-backend': runWorkerBackendBench,
  fidelity: runFidelityBench,
  throughput: runThroughputBench,
  slack: runSlackBench,
  explore: runExploreBench,
};

const HELP = `usage: npm run bench -- [--scope ring|ipi|interrupts|boot|threads|time|load|in-process|worker-backend|fidelity|throughput|slack|explore|all] [--json]

  --scope S   which benchmark to run (default all, in the order ring, ipi, interrupts, boot, threads, time, load, in-process, worker-backend, fidelity, throughput, slack, explore)
  --json      one JSON object on stdout: {host, results: [...]}
  -h, --help  this help

Each benchmark also runs alone: node dist/perf/<ring|ipi|interrupts|boot|threads|time|load|in-process|worker-backend|fidelity|throughput|slack|explore>.js [--json]
`;

class UsageError extends Error {}

function parse(argv: string[]): { scopes: Scope[]; json: boolean } | null {
  let values: { scope?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { scope: { type: 'string', short: 's' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n', 1)[0]!.trim());
  }
  if (values.help) return null;
  const scope = values.scope ?? 'all';
  if (scope === 'all') return { scopes: [...SCOPES], json: values.json ?? false };
  if (!(SCOPES as readonly string[]).includes(scope))
    throw new UsageError(
      `unknown scope '${scope}' (expected ring, ipi, interrupts, boot, threads, time, load, in-process, worker-backend, fidelity, throughput, slack, explore or all)`,
    );
  return { scopes: [scope as Scope], json: values.json ?? false };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`irqlab bench: ${(error as Error).message}\n`);
    return 1;
  }
  if (!parsed) {
    process.stdout.write(HELP);
    return 0;
  }
  const host = hostInfo();
  if (!parsed.json) console.log(`irqlab bench: ${host.cores} cores available (${host.cpuModel}), Node ${host.node}, ${host.platform}\n`);
  const results: BenchResult[] = [];
  const failed: Array<{ name: Scope; error: string }> = [];
  for (const scope of parsed.scopes) {
    try {
      results.push(await BENCHES[scope]({ json: parsed.json }));
    } catch (error) {
      // one broken benchmark must not cost the others' figures: report it and go on
      const message = ((error as Error).message ?? String(error)).split('\n', 1)[0]!;
      failed.push({ name: scope, error: message });
      process.stderr.write(`irqlab bench: ${scope} failed: ${message}\n`);
    }
    if (!parsed.json) console.log('');
  }
  if (parsed.json) process.stdout.write(`${JSON.stringify(failed.length ? { host, results, failed } : { host, results })}\n`);
  return failed.length ? 2 : 0;
}

process.exitCode = await main();
