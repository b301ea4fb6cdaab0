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

  it('a parallel run draws its seed and reports it in the replay command', async () => {
    const loaded = await loadScenario(join(fixtures, 'minimal.mjs'));
    const result = await runScenario(loaded, { cpus: 1 });
    expect(result.mode).toBe('parallel');
    expect(Number.isInteger(result.seed)).toBe(true);
    expect(result.replayCommand).toMatch(new RegExp(`--mode deterministic --seed ${result.seed}$`));
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
