// The run summary's small print, on the result of a real (deterministic) run: the note when
// parallel-mode CPUs outnumber host cores, named kernel vectors, no empty latency table, and
// `irqlab list --json`.
import { beforeAll, describe, expect, it } from 'vitest';
import { formatScenarioListJson, formatSummary, vectorLabel } from '../../src/cli/format.js';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { defineScenario } from '../../src/scenario/define.js';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import type { RunResult } from '../../src/machine/result.js';
import { runOnWorkers } from '../smp/harness.js';

/** no devices; CPU 0 works and calls every CPU (an IPI), CPU 1 has nothing else to do */
const quiet = defineScenario({
  name: 'quiet',
  description: 'no devices: a clock tick and one IPI',
  machine: { cpus: 2, durationMs: 40 },
  threads: { Worker: { routine: 'Worker', cpu: 0 } },
  routines: {
    Worker: (a) => {
      a.work(20_000);
      a.kcall('KeIpiGenericCall', a.routine('Nothing'), 0);
      a.work(40_000_000);
      a.ret(0);
    },
    Nothing: (a) => {
      a.ret(0);
    },
  },
});

let quietRun: RunResult;

beforeAll(async () => {
  quietRun = (await runOnWorkers(quiet, { cpus: 2 })).result;
});

describe('the run summary', () => {
  it('notes that parallel-mode CPUs outnumbered the host cores, and only then; latencies include the host only with --pace host', () => {
    const parallel: RunResult = { ...quietRun, mode: 'parallel', pace: 'host', slackNs: null, timeScale: 1, cpus: 4 };
    const note = (run: RunResult): string | undefined =>
      formatSummary(run, { cores: 2 })
        .split('\n')
        .find((line) => line.startsWith('note:'));
    expect(note(parallel)).toBe(
      'note: 4 emulated CPUs shared 2 host cores, so they did not all run at the same time: races are rarer and interrupt and IPI latencies longer than on real hardware (deterministic mode does not depend on host cores)',
    );
    expect(note({ ...parallel, pace: 'virtual', slackNs: 10_000, timeScale: null })).toBe(
      'note: 4 emulated CPUs shared 2 host cores, so they did not all run at the same time: races are rarer than on real hardware (emulated time is the cycles each CPU executed, not host time)',
    );
    expect(formatSummary(parallel, { cores: 4 })).not.toContain('host core');
    expect(formatSummary({ ...quietRun, cpus: 4 }, { cores: 2 }), 'deterministic mode').not.toContain('host core');
  });

  it('names the clock, clock IPI and IPI vectors', () => {
    const text = formatSummary(quietRun, { cores: 2 });
    expect(text).toMatch(/^\s+0xd1 CLOCK\s+\d+\s+\d+\s+\d+$/m);
    expect(text).toMatch(/^\s+0xe1 IPI\s+0\s+1\s+1$/m);
    expect(vectorLabel('x64', '0xd2')).toBe('0xd2 CLOCK IPI');
    expect(vectorLabel('x86', '0xe1')).toBe('0xe1 IPI');
    expect(vectorLabel('x64', '0x50'), 'a device vector stays a number').toBe('0x50');
  });

  it('prints no latency table when nothing was timed (no devices)', () => {
    expect(quietRun.latency.assertToIsr.count).toBe(0);
    expect(formatSummary(quietRun, { cores: 2 })).not.toContain('Latency');
    const timed: RunResult = { ...quietRun, latency: { ...quietRun.latency, assertToIsr: { count: 3, p50Ns: 1000, p99Ns: 2000, maxNs: 3000 } } };
    expect(formatSummary(timed, { cores: 2 })).toMatch(/Latency \(µs\)\n.*\n\s+device assert → ISR start\s+3\s+1\.00\s+2\.00\s+3\.00/);
  });
});

describe('irqlab list --json', () => {
  it('prints every built-in as {name, description} in one JSON array', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { isTTY: false, write: (s: string) => err.push(s) }, env: {} };
    expect(await runCli(['list', '--json'], io)).toBe(0);
    expect(err).toEqual([]);
    const listed = JSON.parse(out.join('')) as unknown;
    expect(listed).toEqual(BUILTIN_SCENARIOS.map(({ name, description }) => ({ name, description })));
    expect(formatScenarioListJson([{ name: 'a', description: 'b' }])).toBe('[\n  {\n    "name": "a",\n    "description": "b"\n  }\n]\n');
  });
});
