/**
 * Boot benchmark: time to a ready 16-CPU machine (Machine.boot(): spawn the coordinator and the CPU
 * workers until every one has reported ready), RSS per CPU worker, and the host CPU an idle 16-CPU
 * machine uses (no threads, no devices: every CPU halted, only the clock ticks).
 *
 * Idle, on virtual time (parallel mode's default, what users get): an idle machine jumps from one
 * event to the next, so it does not sit idle in host time; the figure is host CPU ms per emulated
 * second over a long idle run (IDLE_VIRTUAL_MS), which, read as "% of a core if the machine ran in
 * real time" (÷ 10), is the target's < 1%. Idle, host-paced (pace 'host', time scale 1, the old
 * meaning: the machine sits idle in real time): % of one core over the middle half of an IDLE_MS run.
 *
 * Every sample runs in a fresh child process (`node dist/perf/boot.js --child CPUS IDLE_MS`), so
 * that RSS is not inflated by earlier machines whose memory the allocator kept, and every boot pays
 * the same module loading a real `irqlab run` pays. RSS per CPU worker is reported two ways:
 * (RSS after boot - RSS before boot) / 16, which also carries the coordinator worker, and the
 * slope between a 1-CPU and a 16-CPU machine, (RSS16 - RSS1) / 15, the cost of one more CPU.
 * Host CPU use is process.cpuUsage() (user + system, every thread of the process) over the run's
 * host wall time, as a percentage of one core. Main thread only: `node dist/perf/boot.js [--json]`,
 * or runBootBench() from the runner.
 */

import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { compileScenario } from '../src/scenario/compile.js';
import { validateScenario } from '../src/scenario/validate.js';
import { Machine } from '../src/machine/machine.js';
import type { BenchResult } from './bench-result.js';
import type { Pace } from '../src/contract/config.js';
import { holdingEventLoop, idleScenario, loadSummary, median, metOrNot, printResult, round1, round2, standalone, withHostPacedWatchdogs } from './common.js';

export interface BootBenchOptions {
  json: boolean;
  /** samples per configuration (default 5) */
  repetitions?: number;
}

const CPUS = 16;
/** host-paced idle run (host ms) */
const IDLE_MS = 4000;
/** virtual-time idle run (emulated ms) */
const IDLE_VIRTUAL_MS = 60_000;
const TARGET_BOOT_MS = 1000;
const TARGET_RSS_MB = 15;
const TARGET_IDLE_PCT = 1;
const MB = 1024 * 1024;

interface ChildSample {
  cpus: number;
  bootMs: number;
  rssBefore: number;
  rssAfterBoot: number;
  /** % of one host core, over the run (0 when no idle run was asked for) */
  idleCpuPct: number;
  /** % of one host core over the middle half of the run */
  steadyCpuPct: number;
  idleHostMs: number;
}

/** In the child: boot one machine, sample RSS, optionally run it idle for idleMs and sample CPU use. */
async function childMain(cpus: number, idleMs: number, clockIntervalMs: number, pace: Pace): Promise<void> {
  const idle = idleScenario(false, clockIntervalMs);
  const definition = validateScenario(pace === 'host' ? withHostPacedWatchdogs(idle) : idle, { cpus, arch: 'x64' });
  const compiled = compileScenario(definition, {
    cpus,
    mode: 'parallel',
    pace,
    seed: 1,
    durationNs: Math.max(1, idleMs) * 1e6,
    timeScale: 1,
    traceToMain: false,
    nativeModule: null,
  });
  const machine = new Machine(compiled);
  const rssBefore = process.memoryUsage().rss;
  let sample: ChildSample;
  try {
    const bootMs = await machine.boot();
    const rssAfterBoot = process.memoryUsage().rss;
    let idleCpuPct = 0;
    let idleHostMs = 0;
    let steadyCpuPct = 0;
    if (idleMs > 0) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      // the middle half of the run, away from its start (every CPU's first slice) and its end (the reports)
      let steadyFrom: { cpu: NodeJS.CpuUsage; at: number } | null = null;
      const from = setTimeout(() => (steadyFrom = { cpu: process.cpuUsage(), at: performance.now() }), idleMs / 4);
      const to = setTimeout(
        () => {
          if (!steadyFrom) return;
          const used = process.cpuUsage(steadyFrom.cpu);
          steadyCpuPct = ((used.user + used.system) / 1000 / (performance.now() - steadyFrom.at)) * 100;
        },
        (idleMs * 3) / 4,
      );
      await machine.run(bootMs);
      clearTimeout(from);
      clearTimeout(to);
      idleHostMs = performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      idleCpuPct = ((used.user + used.system) / 1000 / idleHostMs) * 100;
    }
    sample = { cpus, bootMs, rssBefore, rssAfterBoot, idleCpuPct, steadyCpuPct, idleHostMs };
  } finally {
    await machine.shutdown();
  }
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

const run = promisify(execFile);

async function sampleInChild(cpus: number, idleMs: number, pace: Pace, clockIntervalMs = 15.625): Promise<ChildSample> {
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--child', String(cpus), String(idleMs), String(clockIntervalMs), pace];
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, args, { timeout: 60_000 }));
  } catch (error) {
    const e = error as Error & { code?: number | string; signal?: string; stderr?: string };
    const why = e.stderr?.trim().split('\n').pop() || `exit code ${e.code ?? '?'}${e.signal ? `, signal ${e.signal}` : ''}`;
    throw new Error(`boot sample child (${cpus} CPUs) failed: ${why}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ChildSample;
}

export async function runBootBench(opts: BootBenchOptions): Promise<BenchResult> {
  const reps = opts.repetitions ?? 5;
  const before = loadSummary();
  const big: ChildSample[] = [];
  const small: ChildSample[] = [];
  const bigHostPaced: ChildSample[] = [];
  for (let rep = 0; rep < reps; rep++) {
    big.push(await sampleInChild(CPUS, IDLE_VIRTUAL_MS, 'virtual'));
    small.push(await sampleInChild(1, 0, 'virtual'));
    bigHostPaced.push(await sampleInChild(CPUS, IDLE_MS, 'host'));
  }
  const after = loadSummary();
  const bootMs = median(big.map((s) => s.bootMs));
  const rssGrowthPerCpu = median(big.map((s) => (s.rssAfterBoot - s.rssBefore) / CPUS)) / MB;
  const rssSlopePerCpu = (median(big.map((s) => s.rssAfterBoot)) - median(small.map((s) => s.rssAfterBoot))) / (CPUS - 1) / MB;
  // host CPU ms per emulated second = % of one core at real-time pace x 10
  const cpuMsPerEmulatedS = big.map((s) => ((s.idleCpuPct / 100) * s.idleHostMs) / (IDLE_VIRTUAL_MS / 1000));
  const idlePct = median(cpuMsPerEmulatedS) / 10;
  const hostPacedPct = median(bigHostPaced.map((s) => s.steadyCpuPct));
  const metrics: Record<string, number> = {
    boot16CpusMs: round1(bootMs),
    boot16CpusMinMs: round1(Math.min(...big.map((s) => s.bootMs))),
    boot16CpusMaxMs: round1(Math.max(...big.map((s) => s.bootMs))),
    boot1CpuMs: round1(median(small.map((s) => s.bootMs))),
    rssPerCpuWorkerMB: round2(rssGrowthPerCpu),
    rssPerAddedCpuMB: round2(rssSlopePerCpu),
    rssBeforeBootMB: round1(median(big.map((s) => s.rssBefore)) / MB),
    rssAfterBoot16MB: round1(median(big.map((s) => s.rssAfterBoot)) / MB),
    rssAfterBoot1MB: round1(median(small.map((s) => s.rssAfterBoot)) / MB),
    idle16CpusVirtualHostCpuMsPerEmulatedSec: round2(median(cpuMsPerEmulatedS)),
    idle16CpusVirtualRealTimeCorePct: round2(idlePct),
    idle16CpusVirtualRealTimeCorePctMax: round2(Math.max(...cpuMsPerEmulatedS) / 10),
    idle16CpusVirtualHostMsPerEmulatedSec: round2(median(big.map((s) => s.idleHostMs / (IDLE_VIRTUAL_MS / 1000)))),
    idle16CpusHostPacedCorePct: round2(hostPacedPct),
    idle16CpusHostPacedCorePctMax: round2(Math.max(...bigHostPaced.map((s) => s.steadyCpuPct))),
    idle16CpusHostPacedWholeRunCorePct: round2(median(bigHostPaced.map((s) => s.idleCpuPct))),
    idleVirtualRunEmulatedMs: IDLE_VIRTUAL_MS,
    idleHostPacedRunMs: IDLE_MS,
    repetitions: reps,
    loadAverageBefore: before,
    loadAverageAfter: after,
  };
  const notes = [
    `medians of ${reps} samples, each in a fresh child process; parallel mode on virtual time (the default) unless said; host load average (1 min) before ${before}, after ${after}`,
    `16-CPU boot (spawn the coordinator + 16 CPU workers until all are ready): ${metrics.boot16CpusMs} ms (target < ${TARGET_BOOT_MS} ms): ${metOrNot(bootMs < TARGET_BOOT_MS)}`,
    `RSS per CPU worker: (RSS after boot - before) / 16 = ${metrics.rssPerCpuWorkerMB} MB (coordinator included); one more CPU (16-CPU vs 1-CPU machine, / 15) = ${metrics.rssPerAddedCpuMB} MB (target < ${TARGET_RSS_MB} MB): ${metOrNot(rssGrowthPerCpu < TARGET_RSS_MB && rssSlopePerCpu < TARGET_RSS_MB)}`,
    `idle 16-CPU machine on virtual time, ${IDLE_VIRTUAL_MS / 1000} emulated s (the machine jumps from event to event; the run takes ${metrics.idle16CpusVirtualHostMsPerEmulatedSec} host ms per emulated s): ${metrics.idle16CpusVirtualHostCpuMsPerEmulatedSec} host CPU ms per emulated second (process.cpuUsage user+system, all threads: main, coordinator, CPUs; the whole run, its start and its 16 reports included) = ${metrics.idle16CpusVirtualRealTimeCorePct}% of one core if it ran in real time (max ${metrics.idle16CpusVirtualRealTimeCorePctMax}%; target < ${TARGET_IDLE_PCT}%): ${metOrNot(idlePct < TARGET_IDLE_PCT)}`,
    `idle 16-CPU machine host-paced (pace 'host', time scale 1: idle in real time), middle half of a ${IDLE_MS} ms run: ${metrics.idle16CpusHostPacedCorePct}% of one host core (max ${metrics.idle16CpusHostPacedCorePctMax}%), whole run ${metrics.idle16CpusHostPacedWholeRunCorePct}%: ${metOrNot(hostPacedPct < TARGET_IDLE_PCT)} (the host-paced meaning, for comparison). A halted CPU sleeps on its doorbell and gets no clock ticks (tick skipping)`,
  ];
  const result: BenchResult = { name: 'boot', metrics, notes };
  if (!opts.json) printResult(result, `boot benchmark (${CPUS}-CPU machine)`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') {
    await holdingEventLoop(() =>
      childMain(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 15.625), process.argv[6] === 'host' ? 'host' : 'virtual'),
    );
  } else {
    await standalone('boot', runBootBench);
  }
}
