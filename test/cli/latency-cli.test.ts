// `irqlab run --latency` and `--breaktrace`: the report printed after the summary, the flags' usage
// errors, and the breaktrace line and exit code. In this process (runCli), deterministic runs on the
// in-process backend.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';

vi.mock('../../src/machine/run.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/machine/run.js')>();
  const runScenario: typeof real.runScenario = (loaded, options = {}) =>
    real.runScenario(loaded, options.mode === 'deterministic' ? { ...options, backend: 'in-process' } : options);
  return { ...real, runScenario };
});

async function irqlab(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    args,
    {
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { isTTY: false, write: (chunk: string) => (stderr += chunk) },
      env: { ...process.env, IRQLAB_SEED: '' },
    },
    { handleSignals: false },
  );
  return { status, stdout, stderr };
}

describe('irqlab run --latency', () => {
  it('prints the latency report after the summary: the slowest DPC routine, the routines, the distributions, the verdict', async () => {
    const run = await irqlab(['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--duration', '20ms', '--latency']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Latency report \(emulated time/);
    // interrupt-storm names its objects' drivers: the report groups by them, as LatencyMon's Drivers tab
    expect(run.stdout).toMatch(/Highest DPC routine execution time\s+20\.\d\d µs\s+DiskDpcRoutine in disk\.sys \(CPU \d\)/);
    expect(run.stdout).toMatch(
      /\nDrivers \(.*\)\n {2}driver\s+ISR count\s+highest ISR\s+total ISR\s+DPC count\s+highest DPC\s+total DPC\n {2}disk\.sys\s+[\d,]+\s+4\.17\s/,
    );
    expect(run.stdout).toMatch(/\n {2}routine\s+driver\s+kind\s+runs\s+total\s+mean\s+max\s+CPU 0 %\s+CPU 1 %\n {2}DiskDpcRoutine\s+disk\.sys\s+DPC /);
    expect(run.stdout).toMatch(/device assert → ISR start\s+all\s+[\d,]+/);
    expect(run.stdout).toMatch(/p99\.9\s+max\s+<1\s+1-10\s+10-100\s+100-250\s+250-1000\s+>=1000/);
    expect(run.stdout).toMatch(/Verdict: no latency budget declared/);
  });

  it('is not printed without the flag, while --json always carries it', async () => {
    const plain = await irqlab(['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--duration', '5ms']);
    expect(plain.stdout).not.toMatch(/Latency report/);
    const json = await irqlab(['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--duration', '5ms', '--json']);
    const result = JSON.parse(json.stdout) as {
      latency: { routines: Array<{ routine: string; driver: string }>; drivers: Array<{ driver: string }>; series: { isrToDpc: { perCpu: unknown[] } } };
    };
    expect(result.latency.routines.find((r) => r.routine === 'DiskDpcRoutine')?.driver).toBe('disk.sys');
    expect(result.latency.drivers.map((d) => d.driver).sort()).toEqual(['disk.sys', 'ndis.sys', 'sensor.sys']);
    expect(result.latency.series.isrToDpc.perCpu).toHaveLength(2);
  });
});

describe('irqlab run --breaktrace', () => {
  it('stops at the first routine over the bound, says where the window is, and exits 2', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'irqlab-bt-')), 'window.json');
    const run = await irqlab(['run', 'interrupt-storm', '--cpus', '2', '--mode', 'deterministic', '--breaktrace', '15', '--breaktrace-out', file]);
    expect(run.status).toBe(2);
    expect(run.stdout).toMatch(
      /^breaktrace: DPC routine \w+ executed 1\d\.\d{3} µs on CPU \d \(over 15 µs\); the run stopped, the window before it is in .*window\.json/,
    );
    expect(existsSync(file)).toBe(true);
  });

  it('is a usage error with a bad bound, or as --breaktrace-out alone', async () => {
    for (const [args, message] of [
      [['--breaktrace', '0'], /--breaktrace takes µs of execution/],
      [['--mode', 'deterministic', '--breaktrace', '0'], /--breaktrace takes µs of execution/],
      [['--mode', 'deterministic', '--breaktrace-out', 'x.json'], /--breaktrace-out applies to --breaktrace only/],
      [['--mode', 'deterministic', '--breaktrace', '5', '--breaktrace-out', '/nonexistent-dir/x.json'], /--breaktrace-out: directory/],
    ] as const) {
      const run = await irqlab(['run', 'interrupt-storm', ...args]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
    }
  });
});
