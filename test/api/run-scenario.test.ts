// The programmatic API: runScenario's defaults, its option checks (a bad option throws at once,
// it never starts a run that cannot end), the machine's events, the replay command, and the
// README's example run as it is written, from plain JavaScript through the built package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';
import type { RunScenarioOptions } from '../../src/machine/run.js';
import type { BugcheckReport } from '../../src/ipc/messages.js';
import { TraceEvent } from '../../src/kernel/trace-events.js';
import { formatBugcheck } from '../../src/cli/format.js';
import { DEFAULT_SLACK_NS } from '../../src/contract/config.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'scenarios');

describe('runScenario: defaults', () => {
  it('runs with no options but the mode: the scenario machine, seed 1, a command and a replay command made for it', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const result = await runScenario(loaded, { mode: 'deterministic' });
    expect(result.cpus).toBe(1); // machine.cpus
    expect(result.emulatedTimeNs).toBe(1_000_000); // machine.durationMs
    expect(result.seed).toBe(1);
    expect(result.checks).toEqual([{ name: 'the thread finished', passed: true, detail: '' }]);
    expect(result.command).toBe(`irqlab run ${join(fixtures, 'minimal.mjs')} --cpus 1 --mode deterministic --seed 1 --duration 1ms`);
    expect(result.replayCommand).toBe(`irqlab run ${join(fixtures, 'minimal.mjs')} --cpus 1 --duration 1ms --mode deterministic --seed 1`);
  });

  it('a parallel run: virtual pace and the default slack, a drawn seed (in result.seed, not in its command), no replay command', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const result = await runScenario(loaded, { cpus: 1 });
    expect(result.mode).toBe('parallel');
    expect(Number.isInteger(result.seed)).toBe(true);
    expect(result).toMatchObject({ pace: 'virtual', slackNs: DEFAULT_SLACK_NS, timeScale: null });
    expect(result.command).toBe(`irqlab run ${join(fixtures, 'minimal.mjs')} --cpus 1 --mode parallel --duration 1ms`);
    expect(result.replayCommand, 'a parallel run races for real: it cannot be replayed').toBeNull();
  });

  it('a parallel run with a chosen seed, slack or pace: each reaches the machine and its command', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const minimal = join(fixtures, 'minimal.mjs');
    const slack = await runScenario(loaded, { cpus: 1, seed: 5, slackNs: 25_000 });
    expect(slack).toMatchObject({ pace: 'virtual', slackNs: 25_000, timeScale: null, replayCommand: null });
    expect(slack.command).toBe(`irqlab run ${minimal} --cpus 1 --mode parallel --seed 5 --duration 1ms --slack 25us`);
    const host = await runScenario(loaded, { cpus: 1, pace: 'host', timeScale: 2 });
    expect(host).toMatchObject({ pace: 'host', slackNs: null, timeScale: 2, replayCommand: null });
    expect(host.command).toBe(`irqlab run ${minimal} --cpus 1 --mode parallel --duration 1ms --pace host --time-scale 2`);
  });

  it('a deterministic run reports no pace, slack or time scale', async () => {
    const result = await runScenario(await loadScenario(join(fixtures, 'minimal.mjs')), { mode: 'deterministic', backend: 'in-process' });
    expect(result).toMatchObject({ pace: null, slackNs: null, timeScale: null });
  });
});

describe('runScenario: bad options throw before anything runs', () => {
  const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
    ['NaN duration', { durationNs: NaN }, RangeError, /^runScenario: options\.durationNs must be a positive number of nanoseconds \(got NaN\)$/],
    ['zero duration', { durationNs: 0 }, RangeError, /durationNs/],
    ['a duration as a string', { durationNs: '5ms' }, TypeError, /durationNs .*\(got "5ms"\)/],
    ['cpus as a string', { cpus: '2' }, TypeError, /^runScenario: options\.cpus must be an integer from 1 to 64 \(got "2"\)$/],
    ['0 cpus', { cpus: 0 }, RangeError, /cpus must be an integer from 1 to 64 \(got 0\)/],
    ['a fractional CPU count', { cpus: 1.5 }, RangeError, /cpus/],
    ['an unknown mode', { mode: 'fast' }, TypeError, /mode must be 'parallel' or 'deterministic'/],
    ['a negative seed', { seed: -1 }, RangeError, /seed must be an integer from 0 to 4294967295/],
    ['an infinite time scale', { timeScale: Infinity }, RangeError, /timeScale/],
    ['an unknown pace', { pace: 'real' }, TypeError, /^runScenario: options\.pace must be 'virtual' or 'host' \(got "real"\)$/],
    ['a zero slack', { slackNs: 0 }, RangeError, /^runScenario: options\.slackNs must be a number of emulated nanoseconds from 1 to 1000000000 \(got 0\)$/],
    ['a NaN slack', { slackNs: NaN }, RangeError, /slackNs .*\(got NaN\)/],
    ['a slack over a second', { slackNs: 2e9 }, RangeError, /slackNs .*\(got 2000000000\)/],
    ['a slack as a string', { slackNs: '10us' }, TypeError, /slackNs .*\(got "10us"\)/],
    ['a pace in deterministic mode', { mode: 'deterministic', pace: 'virtual' }, TypeError, /^runScenario: options\.pace applies to mode 'parallel' only/],
    ['a slack in deterministic mode', { mode: 'deterministic', slackNs: 1000 }, TypeError, /^runScenario: options\.slackNs applies to mode 'parallel' only/],
    [
      'a time scale in deterministic mode',
      { mode: 'deterministic', timeScale: 2 },
      TypeError,
      /^runScenario: options\.timeScale applies to mode 'parallel' only/,
    ],
    ['a time scale without pace host', { timeScale: 2 }, TypeError, /^runScenario: options\.timeScale applies to pace 'host' only/],
    ['a time scale with pace virtual', { pace: 'virtual', timeScale: 1 }, TypeError, /options\.timeScale applies to pace 'host' only/],
    ['a slack with pace host', { pace: 'host', slackNs: 1000 }, TypeError, /^runScenario: options\.slackNs applies to pace 'virtual' only/],
    ['a clock out of range', { clockIntervalMs: 100 }, RangeError, /clockIntervalMs must be a clock interval from 0\.5 to 15\.625/],
    ['verbose as a string', { verbose: 'yes' }, TypeError, /verbose must be true or false/],
    ['a misspelt option', { cpu: 2 }, TypeError, /^runScenario: unknown option 'cpu' \(options: cpus, /],
    ['an unknown event', { on: { progres: () => {} } }, TypeError, /unknown event 'progres' \(events: progress, trace, bugcheck\)/],
    ['a handler that is not a function', { on: { trace: 1 } }, TypeError, /on\.trace must be a function/],
    ['options that are not an object', 5, TypeError, /^runScenario options must be an object \(got 5\)$/],
    ['null options', null, TypeError, /got null/],
  ];

  it.each(cases)('%s', async (_what, options, kind, message) => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const attempt = runScenario(loaded, options as RunScenarioOptions);
    await expect(attempt).rejects.toThrow(kind);
    await expect(attempt).rejects.toThrow(message);
  });

  it('a definition instead of what loadScenario returns', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    await expect(runScenario(loaded.definition as never)).rejects.toThrow(/^runScenario expects what loadScenario\(\) returns/);
  });

  it('an explicit undefined is the default', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const result = await runScenario(loaded, { mode: 'deterministic', cpus: undefined, durationNs: undefined });
    expect(result.cpus).toBe(1);
  });
});

describe('runScenario: events', () => {
  it('delivers progress, every trace record and the bugcheck to the caller', async () => {
    const loaded = await loadScenario(join(fixtures, 'bugcheck.mjs'));
    const progress: number[] = [];
    const traceEvents: number[] = [];
    const bugchecks: BugcheckReport[] = [];
    const result = await runScenario(loaded, {
      mode: 'deterministic',
      on: {
        progress: (ns) => progress.push(ns),
        trace: (_cpu, _timeNs, event) => traceEvents.push(event),
        bugcheck: (report) => bugchecks.push(report),
      },
    });
    expect(result.bugcheck?.code).toBe(0xe2);
    expect(bugchecks.map((b) => [b.code, b.cpu])).toEqual([[0xe2, 1]]);
    expect(traceEvents).toContain(TraceEvent.BUGCHECK);
    expect(progress.length).toBeGreaterThan(0);
    expect(result.replayCommand).toBe(result.bugcheck?.replayCommand);
  });

  it('a parallel run that bugchecks: no replay command in the result or its bugcheck, and the analysis says it is not replayable', async () => {
    const loaded = await loadScenario(join(fixtures, 'bugcheck.mjs'));
    const result = await runScenario(loaded, { mode: 'parallel', seed: 5 });
    expect(result.bugcheck?.code).toBe(0xe2);
    expect(result.replayCommand).toBeNull();
    expect(result.bugcheck?.replayCommand).toBeNull();
    const analysis = formatBugcheck(result).trimEnd().split('\n');
    expect(analysis.slice(-3)).toEqual([
      'The run (not replayable: parallel runs race for real):',
      `irqlab run ${join(fixtures, 'bugcheck.mjs')} --cpus 2 --mode parallel --seed 5 --duration 5ms`,
      `For a run that replays exactly: irqlab run ${join(fixtures, 'bugcheck.mjs')} --cpus 2 --duration 5ms --mode deterministic (a seeded schedule of its own, not this run's: it may or may not reach this crash)`,
    ]);
    const deterministic = await runScenario(loaded, { mode: 'deterministic', seed: 5, backend: 'in-process' });
    expect(formatBugcheck(deterministic).trimEnd().split('\n').slice(-2)).toEqual([
      'To replay this run:',
      `irqlab run ${join(fixtures, 'bugcheck.mjs')} --cpus 2 --duration 5ms --mode deterministic --seed 5`,
    ]);
  });

  it('a handler that throws: the run ends as usual, then runScenario rejects with that error', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    let calls = 0;
    const thrown = new Error('handler failed');
    const attempt = runScenario(loaded, {
      mode: 'deterministic',
      on: {
        trace: () => {
          calls++;
          throw thrown;
        },
      },
    });
    await expect(attempt).rejects.toBe(thrown);
    expect(calls).toBe(1);
  });
});

describe("the README's example", () => {
  let project: string;
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'irqlab-readme-'));
    // 'irqlab' resolves to this checkout as an installed package would: its exports, its dist
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(root, join(project, 'node_modules', 'irqlab'), 'dir');
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("says that a scenario file is code, run with the user's rights, like a test file", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const writing = readme.slice(readme.indexOf('\n## Writing a scenario\n'), readme.indexOf('\n### The instruction set\n'));
    expect(writing.replace(/\s+/g, ' ')).toMatch(/A scenario file is code, run with your rights\*\*, like a test file/);
  });

  it('runs as written, from plain JavaScript through the built package', () => {
    expect(existsSync(join(root, 'dist', 'src', 'index.js')), "run 'npm run build' first").toBe(true);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Programmatic API\n'));
    const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example, 'the README has a ```js example under "Programmatic API"').toBeDefined();
    writeFileSync(join(project, 'example.mjs'), example!);
    const run = spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^[1-9]\d* interrupts, [1-9]\d* DPCs started$/);
    expect(lines[1]).toBe('every check passed');
    expect(lines[2]).toBe('replay: irqlab run interrupt-storm --cpus 2 --duration 20ms --mode deterministic --seed 7');
  });
});
