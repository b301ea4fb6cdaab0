/**
 * Worker-backend benchmark: how fast deterministic mode on the worker backend (one CPU worker and
 * the coordinator worker, slices granted over the rings) runs a compute-bound 1-CPU machine,
 * against the floor measured in the same run: the raw interpreter (Interpreter.step in a bare loop,
 * no Processor) running the same compiled routine. Both count executed instructions per host
 * second; every sample runs in a fresh child process after a warm-up there, raw and machine
 * samples interleaved. Target (issue 8): ≥ 0.85× the raw interpreter.
 * `node dist/perf/worker-backend.js [--json]` or `npm run bench -- --scope worker-backend`.
 */

import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { executeScenario } from '../src/machine/execute.js';
import { validateScenario } from '../src/scenario/validate.js';
import type { BenchResult } from './bench-result.js';
import { computeScenario, rawInterpreterRate } from './compute-machine.js';
import { median, metOrNot, printResult, round2, standalone } from './common.js';

const TARGET_RATIO = 0.85;
/** emulated cycles of the timed machine run (~1 s of host time) and of its warm-up */
const MACHINE_CYCLES = 60_000_000;
const WARMUP_CYCLES = 20_000_000;
const RAW_INSTRUCTIONS = 40_000_000;

/** Instructions per host second of the worker backend running the machine (the run alone, not its boot). */
async function workerRate(cycles: number): Promise<number> {
  const result = await executeScenario(validateScenario(computeScenario(1), { cpus: 1, arch: 'x64' }), null, {
    cpus: 1,
    mode: 'deterministic',
    seed: 1,
    durationNs: cycles,
    verbose: false,
    command: 'irqlab run perf-compute --cpus 1 --mode deterministic',
  });
  if (result.bugcheck) throw new Error(`perf-compute bugchecked: ${result.bugcheck.name}`);
  return result.perCpu[0]!.instructions / (result.hostTimeMs / 1000);
}

async function childMain(kind: string): Promise<void> {
  let rate: number;
  if (kind === 'raw') {
    rawInterpreterRate(computeScenario(1), RAW_INSTRUCTIONS / 4);
    rate = rawInterpreterRate(computeScenario(1), RAW_INSTRUCTIONS);
  } else {
    await workerRate(WARMUP_CYCLES);
    rate = await workerRate(MACHINE_CYCLES);
  }
  process.stdout.write(`${JSON.stringify({ rate })}\n`);
}

const exec = promisify(execFile);

async function sampleInChild(kind: 'raw' | 'workers'): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  let stdout: string;
  try {
    ({ stdout } = await exec(process.execPath, [self, '--child', kind], { timeout: 120_000 }));
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`worker-backend sample child (${kind}) failed: ${e.stderr?.trim().split('\n').pop() ?? e.message}`);
  }
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '') as { rate: number }).rate;
}

export async function runWorkerBackendBench(opts: { json: boolean; repetitions?: number }): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const loadBefore = loadavg()[0]!;
  const ratios: number[] = [];
  const raws: number[] = [];
  const machine: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const raw = await sampleInChild('raw');
    const rate = await sampleInChild('workers');
    raws.push(raw);
    machine.push(rate);
    ratios.push(rate / raw);
  }
  const ratio = median(ratios);
  const metrics: Record<string, number> = {
    rawMips: round2(median(raws) / 1e6),
    workersMips: round2(median(machine) / 1e6),
    ratio: round2(ratio),
    ratioMin: round2(Math.min(...ratios)),
    ratioMax: round2(Math.max(...ratios)),
    repetitions: reps,
    hostLoadAverage1mBefore: round2(loadBefore),
    hostLoadAverage1mAfter: round2(loadavg()[0]!),
  };
  const notes = [
    `1 CPU, deterministic mode, worker backend: ${metrics.workersMips} M instructions/s vs raw interpreter ${metrics.rawMips}: ${ratio.toFixed(2)}× (range ${metrics.ratioMin}–${metrics.ratioMax}; target ≥ ${TARGET_RATIO}×: ${metOrNot(ratio >= TARGET_RATIO)})`,
    `medians of ${reps} interleaved pairs, every sample in a fresh child process after a warm-up there; host 1-minute load average ${metrics.hostLoadAverage1mBefore} before, ${metrics.hostLoadAverage1mAfter} after (figures from a busy host are lower and noisier)`,
  ];
  const result: BenchResult = { name: 'worker-backend', metrics, notes };
  if (!opts.json) printResult(result, 'worker-backend benchmark (deterministic mode, 1 CPU, compute-bound, against the raw interpreter)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') await childMain(process.argv[3]!);
  else await standalone('worker-backend', runWorkerBackendBench);
}
