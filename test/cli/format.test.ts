import { describe, expect, it } from 'vitest';
import { deterministicCommand, formatBugcheck, formatJson, formatScenarioList, formatSummary, hex64, renderTable } from '../../src/cli/format.js';
import { replayCommandFor } from '../../src/machine/execute.js';
import { createProgress, progressLine } from '../../src/cli/progress.js';
import type { CpuSummary, RunResult } from '../../src/machine/result.js';

function cpu(n: number, extra: Partial<CpuSummary> = {}): CpuSummary {
  return {
    cpu: n,
    interrupts: 1000 + n,
    interruptsByVector: { '0x50': 600 + n, '0xa0': 400 },
    dpcs: 900 + n,
    ipisSent: n,
    ipisReceived: 2 * n,
    maxNesting: 2,
    maxDpcQueueDepth: 3,
    timeAtIrqlNs: { '0': 6_000_000, '1': 0, '2': 2_000_000, '5': 1_000_000, '10': 500_000, '13': 500_000 },
    cycles: 10_000_000,
    instructions: 2_000_000,
    clockTicks: 1,
    idleNs: 0,
    unclaimedInterrupts: 0,
    contextSwitches: 10 * n,
    maxReadyDepth: n,
    ...extra,
  };
}

function result(cpus = 4, extra: Partial<RunResult> = {}): RunResult {
  return {
    scenario: 'interrupt-storm',
    mode: 'deterministic',
    pace: null,
    slackNs: null,
    timeScale: null,
    seed: 7,
    cpus,
    arch: 'x64',
    emulatedTimeNs: 10_000_000,
    hostTimeMs: 812.3,
    traceHash: '0123456789abcdef',
    traceEvents: 12345,
    perCpu: Array.from({ length: cpus }, (_, i) => cpu(i)),
    latency: {
      assertToIsr: { count: 4004, p50Ns: 1234, p99Ns: 5678, maxNs: 91011 },
      isrToDpc: { count: 3606, p50Ns: 50, p99Ns: 2500, maxNs: 14430 },
    },
    results: { diskIsrCalls: 2400, ratio: 0.12345, label: 'ok', trips: [1, 2, 3] },
    checks: [
      { name: 'every ISR ran at its DIRQL', passed: true, detail: '0 wrong' },
      { name: 'no DPC lost', passed: false, detail: '3 lost' },
    ],
    bugcheck: null,
    command: 'irqlab run interrupt-storm --cpus 4 --mode deterministic --seed 7 --duration 10ms',
    replayCommand: 'irqlab run interrupt-storm --cpus 4 --duration 10ms --mode deterministic --seed 7',
    bootMs: 40.1,
    unresponsiveCpus: [],
    deviceAssertions: [{ name: 'disk', asserted: 2400 }],
    slices: 100,
    timers: { expired: 0, armedAtEnd: 0 },
    threads: [],
    ...extra,
  };
}

function withBugcheck(): RunResult {
  const base = result(2);
  base.bugcheck = {
    code: 0xa,
    name: 'IRQL_NOT_LESS_OR_EQUAL',
    params: [0x1000, 2, 1, -8],
    paramMeanings: ['memory referenced', 'IRQL at the time', 'bit 0: write, bit 3: execute', 'the address of the instruction'],
    description: 'An attempt was made to access pageable memory at an IRQL that is too high.',
    cpu: 1,
    irql: 2,
    irqlName: 'DISPATCH_LEVEL',
    frames: [
      { kind: 'thread', routine: 'Main', irql: 0 },
      { kind: 'dpc', routine: 'DiskDpcRoutine', irql: 2 },
    ],
    routine: 'DiskDpcRoutine',
    emulatedTimeNs: 1_234_567,
    cpus: [
      {
        cpu: 0,
        irql: 5,
        irqlName: 'DIRQL 5',
        frames: [{ kind: 'isr', routine: 'DiskIsr', irql: 5 }],
        responded: true,
        lastEvents: [{ timeNs: 1_200_000, cpu: 0, event: 'isr-enter', detail: 'vector 0x50' }],
        dpcQueue: [{ dpc: 'DiskDpc', routine: 'DiskDpcRoutine', queuedNs: 1_100_000, fromIsr: true }],
        heldLocks: [],
        readyThreads: [],
      },
      { cpu: 1, irql: 2, irqlName: 'DISPATCH_LEVEL', frames: [], responded: false, lastEvents: [], dpcQueue: [], heldLocks: [], readyThreads: [] },
    ],
    replayCommand: 'irqlab run interrupt-storm --cpus 2 --duration 10ms --mode deterministic --seed 7',
    faultingInstruction: 'DiskDpcRoutine+0x1c: store [r1+0], r2',
    detail: 'DPC DiskDpc touched address 0x1000 at DISPATCH_LEVEL',
  };
  return base;
}

describe('formatSummary', () => {
  it('has the header, the per-CPU columns and every section', () => {
    const text = formatSummary(result());
    const lines = text.split('\n');
    expect(lines[0]).toContain('interrupt-storm');
    for (const part of ['deterministic', 'seed 7', '4 CPUs', '10.000 ms emulated', '812.3 ms host', '0123456789abcdef']) expect(lines[0]).toContain(part);
    const header = lines.find((l) => l.includes('Interrupts') && l.includes('DPCs'))!;
    for (const column of [
      'CPU',
      'Interrupts',
      'Deepest nesting',
      'DPCs',
      'Deepest DPC queue',
      'IPIs sent',
      'IPIs received',
      'Context switches',
      'Deepest ready queue',
      'Idle',
    ]) {
      expect(header).toContain(column);
    }
    for (const section of ['Interrupts by vector', 'Time at IRQL', 'Latency (µs)', 'Results', 'Checks']) expect(text).toContain(section);
    expect(text).toMatch(/^\s+0x50\s+600\s+601\s+602\s+603\s+2,406$/m);
    expect(text).toMatch(/^\s+3\s+1,003\s+2\s+903\s+3\s+3\s+6\s+30\s+3\s+-$/m);
    expect(text, 'no thread table without threads').not.toContain('Threads');
  });

  it('a thread table: state (with the wait reason while waiting or ready), priorities, CPU time, switches, waits, CPUs', () => {
    const text = formatSummary(
      result(2, {
        threads: [
          {
            name: 'Producer',
            id: 3,
            state: 'Terminated',
            priority: 9,
            basePriority: 8,
            cpuTimeNs: 12_345,
            contextSwitches: 4,
            waits: 2,
            ranOn: [0, 1],
            waitReason: 'Executive',
          },
          {
            name: 'Consumer',
            id: 4,
            state: 'Waiting',
            priority: 8,
            basePriority: 8,
            cpuTimeNs: 0,
            contextSwitches: 1,
            waits: 1,
            ranOn: [],
            waitReason: 'Executive',
          },
        ],
      }),
    );
    expect(text).toContain('Threads\n  Thread    State                Priority  Base  CPU time (µs)  Switches  Waits  Ran on');
    expect(text).toMatch(/^\s+Producer\s+Terminated\s+9\s+8\s+12\.35\s+4\s+2\s+0,1$/m);
    expect(text).toMatch(/^\s+Consumer\s+Waiting \(Executive\)\s+8\s+8\s+0\.00\s+1\s+1\s+-$/m);
  });

  it('time at IRQL: named levels, percent of each CPU, all-zero rows skipped', () => {
    const text = formatSummary(result());
    expect(text).toMatch(/^\s+0 PASSIVE_LEVEL\s+60\.0%/m);
    expect(text).toMatch(/^\s+2 DISPATCH_LEVEL\s+20\.0%/m);
    expect(text).toMatch(/^\s+5 DIRQL 5\s+10\.0%/m);
    expect(text).toMatch(/^\s+13 CLOCK_LEVEL\s+5\.0%/m);
    expect(text).not.toContain('APC_LEVEL');
  });

  it('x86 level names', () => {
    const r = result(1, { arch: 'x86' });
    r.perCpu[0]!.timeAtIrqlNs = { '0': 1, '28': 1, '29': 1, '30': 1, '31': 1 };
    const text = formatSummary(r);
    for (const name of ['CLOCK2_LEVEL', 'IPI_LEVEL', 'POWER_LEVEL', 'HIGH_LEVEL']) expect(text).toContain(name);
  });

  it('latency in µs with two decimals; results; PASS/FAIL checks', () => {
    const text = formatSummary(result());
    expect(text).toMatch(/device assert → ISR start\s+4,004\s+1\.23\s+5\.68\s+91\.01/);
    expect(text).toMatch(/ISR → DPC start\s+3,606\s+0\.05\s+2\.50\s+14\.43/);
    expect(text).toMatch(/diskIsrCalls\s+= 2400/);
    expect(text).toMatch(/trips\s+= \[1, 2, 3\]/);
    expect(text).toContain('PASS every ISR ran at its DIRQL — 0 wrong');
    expect(text).toContain('FAIL no DPC lost — 3 lost');
    expect(text).toContain('1 of 2 checks failed');
  });

  it('wraps per-CPU columns in blocks of 16 on big machines', () => {
    const text = formatSummary(result(20));
    const vectorHeaders = text.split('\n').filter((l) => /^\s+Vector\s/.test(l));
    expect(vectorHeaders).toHaveLength(2);
    expect(vectorHeaders[0]).toContain('CPU15');
    expect(vectorHeaders[0]).not.toContain('CPU16');
    expect(vectorHeaders[1]).toMatch(/CPU16\s+CPU17\s+CPU18\s+CPU19\s+all$/);
    for (const line of text
      .split('\n')
      .filter(
        (l) => !l.startsWith('  PASS') && !l.startsWith('  FAIL') && !l.startsWith('OK') && !/checks failed/.test(l) && !l.startsWith('interrupt-storm'),
      )) {
      expect(line.length, line).toBeLessThanOrEqual(160);
    }
  });

  it('names the bugcheck when there is one', () => {
    expect(formatSummary(withBugcheck())).toContain('BUGCHECK IRQL_NOT_LESS_OR_EQUAL (0xa) on CPU 1');
  });
});

describe('formatBugcheck', () => {
  it('reads like !analyze -v', () => {
    const text = formatBugcheck(withBugcheck());
    const lines = text.split('\n');
    expect(lines[0]).toBe('*'.repeat(79));
    expect(lines.some((l) => /^\*\s+Bugcheck Analysis\s+\*$/.test(l) && l.length === 79)).toBe(true);
    expect(text).toContain('IRQL_NOT_LESS_OR_EQUAL (a)\n');
    expect(text).toContain('In this run: DPC DiskDpc touched address 0x1000 at DISPATCH_LEVEL\nArguments:\n');
    expect(text).toContain('Arg1: 0000000000001000, memory referenced\n');
    expect(text).toContain('Arg2: 0000000000000002, IRQL at the time\n');
    expect(text).toContain('Arg3: 0000000000000001, bit 0: write, bit 3: execute\n');
    expect(text).toContain('Arg4: fffffffffffffff8, the address of the instruction\n');
    expect(text).toContain('Debugging Details:');
    expect(text).toContain('BUGCHECK_CODE:  a');
    expect(text).toContain('BUGCHECK_P1: 1000');
    expect(text).toContain('BUGCHECK_P4: fffffffffffffff8');
    expect(text).toContain('CURRENT_IRQL:  2 (DISPATCH_LEVEL)');
    expect(text).toContain('PROCESSOR:  1');
    expect(text).toContain('FAULTING_INSTRUCTION:  DiskDpcRoutine+0x1c: store [r1+0], r2');
  });

  it('the stack innermost first, the last events per CPU, the freeze, the replay command last', () => {
    const text = formatBugcheck(withBugcheck());
    const stack = text.indexOf('STACK_TEXT:');
    const dpc = text.indexOf('dpc DiskDpcRoutine @ IRQL 2');
    const thread = text.indexOf('thread Main @ IRQL 0');
    expect(stack).toBeGreaterThan(0);
    expect(dpc).toBeGreaterThan(stack);
    expect(thread).toBeGreaterThan(dpc);
    expect(text).toContain('LAST EVENTS');
    expect(text).toContain('CPU 0: frozen at IRQL 5 (DIRQL 5), responded to the freeze');
    expect(text).toContain('CPU 1: frozen at IRQL 2 (DISPATCH_LEVEL), did NOT respond to the freeze');
    expect(text).toMatch(/1200\.00 µs\s+isr-enter\s+vector 0x50/);
    const lines = text.trimEnd().split('\n');
    expect(lines[lines.length - 2]).toBe('To replay this run:');
    expect(lines[lines.length - 1]).toBe('irqlab run interrupt-storm --cpus 2 --duration 10ms --mode deterministic --seed 7');
  });

  it('is empty without a bugcheck', () => {
    expect(formatBugcheck(result())).toBe('');
  });
});

/** A parallel run (virtual pace, default slack, seed drawn at random): the same fixture, as a parallel run reports it. */
function parallel(run: RunResult): RunResult {
  const command = `irqlab run interrupt-storm --cpus ${run.cpus} --mode parallel --duration 10ms --slack 20us`;
  return {
    ...run,
    mode: 'parallel',
    pace: 'virtual',
    slackNs: 20_000,
    timeScale: null,
    command,
    replayCommand: null,
    bugcheck: run.bugcheck ? { ...run.bugcheck, replayCommand: null } : null,
  };
}

describe('replay wording: a deterministic run replays, a parallel run does not', () => {
  it('a deterministic run: its command, which replays it', () => {
    const text = formatSummary(result(), { cores: 8 });
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      '1 of 2 checks failed. The run: irqlab run interrupt-storm --cpus 4 --mode deterministic --seed 7 --duration 10ms',
    );
    expect(text).not.toContain('not replayable');
  });

  it("a parallel run: its parameters, 'not replayable: parallel runs race for real', and how to get a run that is", () => {
    const text = formatSummary(parallel(result()), { cores: 8 });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toContain('interrupt-storm: parallel mode (virtual time, slack 20.000 µs), seed 7, 4 CPUs');
    expect(lines.at(-2)).toBe(
      '1 of 2 checks failed. The run (not replayable: parallel runs race for real): irqlab run interrupt-storm --cpus 4 --mode parallel --duration 10ms --slack 20us',
    );
    expect(lines.at(-1)).toBe(
      "For a run that replays exactly: irqlab run interrupt-storm --cpus 4 --duration 10ms --mode deterministic (a seeded schedule of its own, not this run's)",
    );
    expect(text).not.toMatch(/replay this run/i);
    const passed = formatSummary(parallel(result(4, { checks: [] })), { cores: 8 });
    expect(passed).toContain('\nOK. The run (not replayable: parallel runs race for real): irqlab run interrupt-storm --cpus 4 --mode parallel');
  });

  it('a host-paced parallel run says its latencies include the host', () => {
    const hostPaced: RunResult = { ...parallel(result()), pace: 'host', slackNs: null, timeScale: 2 };
    expect(formatSummary(hostPaced, { cores: 8 }).split('\n')[0]).toContain('parallel mode (host time × 2: latencies include the host)');
  });

  it('a deterministic bugcheck ends with the command that replays it', () => {
    const lines = formatBugcheck(withBugcheck()).trimEnd().split('\n');
    expect(lines.slice(-2)).toEqual(['To replay this run:', 'irqlab run interrupt-storm --cpus 2 --duration 10ms --mode deterministic --seed 7']);
  });

  it("a parallel bugcheck: not replayable, the run's parameters, and a deterministic run that may or may not reach the crash", () => {
    const text = formatBugcheck(parallel(withBugcheck()));
    const lines = text.trimEnd().split('\n');
    expect(lines.slice(-3)).toEqual([
      'The run (not replayable: parallel runs race for real):',
      'irqlab run interrupt-storm --cpus 2 --mode parallel --duration 10ms --slack 20us',
      "For a run that replays exactly: irqlab run interrupt-storm --cpus 2 --duration 10ms --mode deterministic (a seeded schedule of its own, not this run's: it may or may not reach this crash)",
    ]);
    expect(text).not.toMatch(/To replay this run/);
    expect(text).not.toContain('--seed 7');
  });

  it('deterministicCommand drops the seed and the parallel-only options', () => {
    expect(deterministicCommand('irqlab run s --cpus 2 --mode parallel --seed 9 --duration 5ms --pace host --time-scale 2')).toBe(
      'irqlab run s --cpus 2 --duration 5ms --mode deterministic',
    );
    expect(deterministicCommand("irqlab run './my scenario.ts' --cpus 2 --mode parallel --duration 5ms --slack 1us")).toBe(
      "irqlab run './my scenario.ts' --cpus 2 --duration 5ms --mode deterministic",
    );
  });

  it('replayCommandFor: the replay line of a deterministic run; null for a parallel run', () => {
    expect(replayCommandFor({ mode: 'deterministic', seed: 4, command: 'irqlab run s --cpus 2 --mode deterministic --seed 4 --duration 5ms' })).toBe(
      'irqlab run s --cpus 2 --duration 5ms --mode deterministic --seed 4',
    );
    expect(replayCommandFor({ mode: 'parallel', seed: 4, command: 'irqlab run s --cpus 2 --mode parallel --seed 4 --duration 5ms' })).toBeNull();
  });
});

describe('formatJson, lists, tables', () => {
  it('formatJson is the object, 2-space indented', () => {
    const r = result();
    const text = formatJson(r);
    expect(JSON.parse(text)).toEqual(r);
    expect(text.startsWith('{\n  "scenario": "interrupt-storm"')).toBe(true);
  });

  it('formatScenarioList aligns descriptions', () => {
    expect(
      formatScenarioList([
        { name: 'a', description: 'first' },
        { name: 'longer', description: 'second' },
      ]),
    ).toBe('a       first\nlonger  second\n');
  });

  it('renderTable and hex64', () => {
    expect(
      renderTable(
        ['k', 'value'],
        [
          ['a', '1'],
          ['bb', '22'],
        ],
        undefined,
        '',
      ),
    ).toBe('k   value\na       1\nbb     22');
    expect(hex64(-1)).toBe('ffffffffffffffff');
    expect(hex64(0xe2)).toBe('00000000000000e2');
  });
});

describe('progress', () => {
  it('draws nothing when stderr is not a terminal', () => {
    const writes: string[] = [];
    const progress = createProgress('x', { isTTY: false, write: (s: string) => writes.push(s) });
    progress.update(1, 2);
    progress.clear();
    expect(writes).toEqual([]);
  });

  it('draws at most 10 times a second and clears the line at the end', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = createProgress('storm', { isTTY: true, columns: 100, write: (s: string) => writes.push(s) }, () => now);
    progress.update(1e6, 10e6);
    now = 50;
    progress.update(2e6, 10e6); // too soon
    now = 120;
    progress.update(5e6, 10e6);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain(' 50%');
    expect(writes[1]).toContain('5.0 / 10.0 ms emulated');
    progress.clear();
    progress.clear();
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe('\r\x1b[K');
  });

  it('fits the terminal', () => {
    expect(progressLine('interrupt-storm', 3e6, 4e6, 60).length).toBeLessThanOrEqual(59);
    expect(progressLine('x', 5e6, 4e6, 80)).toContain('100%');
  });
});
