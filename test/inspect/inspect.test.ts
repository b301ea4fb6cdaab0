// The time-travel inspector (src/inspect/, `irqlab inspect`): every view's content on a small
// machine stopped at a known moment, stepping back giving the same state as stepping forward to
// the same event, `g` stopping at a bugcheck with `!analyze -v`, the walkthrough through
// the CLI, a replay file as input, and bad commands (one line; with --eval, exit 1 naming it).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { validateScenario } from '../../src/scenario/validate.js';
import { InspectSession } from '../../src/inspect/session.js';
import { InspectCommandError, Inspector } from '../../src/inspect/commands.js';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';
import { inspectCommand } from '../../src/cli/inspect-command.js';
import { recordRun } from '../explore/replay-helpers.js';
import { KApc, NO_ROUTINE } from '../../src/kernel/apc-state.js';

const fixture = 'test/fixtures/scenarios/inspect-views.mjs';

async function open(scenario: string, cpus: number, durationNs?: number): Promise<Inspector> {
  const loaded = await loadScenario(scenario);
  const definition = validateScenario(loaded.definition, { cpus, arch: 'x64' });
  const machine = loaded.definition.machine as { durationMs?: number } | undefined;
  const session = await InspectSession.open({
    definition,
    modulePath: loaded.modulePath,
    options: { cpus, mode: 'deterministic', seed: 1, durationNs: durationNs ?? (machine?.durationMs ?? 100) * 1e6, verbose: false, command: 'test' },
  });
  return new Inspector(session);
}

async function run(inspector: Inspector, command: string): Promise<string> {
  return (await inspector.execute(command)).output;
}

function captured(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (chunk: string) => (out += chunk) },
      stderr: { write: (chunk: string) => (err += chunk), isTTY: false } as unknown as CliIo['stderr'],
      env: {},
    },
    out: () => out,
    err: () => err,
  };
}

describe('the views, with Holder on CPU 0 holding Lock and Spinner on CPU 1 starting to spin on it', () => {
  let inspector: Inspector;
  beforeAll(async () => {
    inspector = await open(fixture, 2);
    expect(await run(inspector, 'g spinning')).toMatch(/^\[event \d+ of \d+, CPU 1, [\d.]+ µs: spin-lock Lock \(0x1000\) held by another: spinning\]$/);
  });

  it('every view opens with where the session stands', async () => {
    for (const view of ['!irql', '!prcb', '!dpcs', '!timer', '!ready', '!thread', '!locks', 'k', 'u Work', 'dd Counter', '.events']) {
      expect((await run(inspector, view)).split('\n')[0]).toMatch(/^\[event \d+ of \d+, CPU 1, .*spinning\]$/);
    }
  });

  it('!locks names the holder (CPU, thread) and the spinner (CPU, what spins, in which call)', async () => {
    const text = await run(inspector, '!locks');
    expect(text).toContain('SpinLock @ Lock (0x1000)');
    expect(text).toMatch(/Held by CPU 0, thread Holder \(00000000fb000c00\)/);
    expect(text).toContain('Spinning: CPU 1 (thread Spinner (Spinner) in KeAcquireSpinLock)');
    expect(text).toContain('1 spin lock held, 1 CPU spinning');
  });

  it('!dpcs shows WorkDpc queued on CPU 0 (Holder is at DISPATCH_LEVEL, so it waits) and nothing on CPU 1', async () => {
    const text = await run(inspector, '!dpcs');
    expect(text).toMatch(/^ 0: Normal {2}: 0x00000000fd000000 0x[0-9a-f]{16} Work {2}\(WorkDpc, Medium, queued at /m);
    expect(text).not.toMatch(/^ 1:/m);
    expect(await run(inspector, '!dpcs 1')).toContain('No DPCs queued on processor 1');
  });

  it('!timer lists the Tick timer due at 50 ms with its DPC routine, and the totals', async () => {
    const text = await run(inspector, '!timer');
    expect(text).toContain('Dump system timers');
    expect(text).toMatch(/Interrupt time: 00000000 00000000 \[ 1\/ 1\/2025 00:00:00\.000 \(UTC\)\]/);
    expect(text).toMatch(
      /^ {2}3 00000000fe0001c0 {3}0007a120 00000000 \[ 1\/ 1\/2025 00:00:00\.050\] {2}Work \(DPC @ 00000000fd000040\) {2}Tick {2}\(due in 50\.000 ms\)$/m,
    );
    expect(text).toContain('Total Timers: 1, Maximum List: 1');
  });

  it('!thread Waiter: WAIT on the notification event Go, its stack from its saved context', async () => {
    const text = await run(inspector, '!thread Waiter');
    expect(text).toMatch(/^THREAD 00000000fb001000 {2}Cid 0004\.0004 .* WAIT: \(Executive\) KernelMode Non-Alertable$/m);
    expect(text).toMatch(/^ {4}00000000fe000180 {2}NotificationEvent {2}Go \(signal state 0\)$/m);
    expect(text).toContain('Priority 9 BasePriority 9');
    expect(text).toMatch(/Waiter\+0x[0-9a-f]+ \(its saved context\)/);
    // the default is the thread the current CPU runs; a thread may be named by id or address too
    expect(await run(inspector, '!thread')).toMatch(/^THREAD 00000000fb001400 .* RUNNING on processor 1$/m);
    expect(await run(inspector, '!thread 4')).toContain('Thread Name               Waiter');
    expect(await run(inspector, '!thread fb001000')).toContain('Thread Name               Waiter');
  });

  it('!irql, !prcb and k show both CPUs at DISPATCH_LEVEL, CPU 1 spinning in KeAcquireSpinLock', async () => {
    expect(await run(inspector, '!irql 0')).toContain('Debugger saved IRQL for processor 0x0 -- 2 (DISPATCH_LEVEL)');
    expect(await run(inspector, '!irql')).toContain('Debugger saved IRQL for processor 0x1 -- 2 (DISPATCH_LEVEL)');
    expect(await run(inspector, '!irql 7')).toContain('Cannot get PRCB address');
    const prcb = await run(inspector, '!prcb 0');
    expect(prcb).toContain('PRCB for Processor 0 at 00000000f8000000:');
    expect(prcb).toContain('Current IRQL -- 2');
    expect(prcb).toMatch(/^Threads-- {2}Current 00000000fb000c00 Next 0000000000000000 Idle 00000000fb000400$/m);
    expect(prcb).toContain('DpcQueueDepth 1');
    const stack = await run(inspector, 'k 1');
    expect(stack).toMatch(/^00 -+ -+ KeAcquireSpinLock {2}\[kernel, IRQL 2 DISPATCH_LEVEL\]$/m);
    expect(stack).toMatch(/^01 [0-9a-f]{16} -+ Spinner\+0x[0-9a-f]+ \(thread Spinner\)/m);
  });

  it('dt _KDPC dumps a KDPC: WorkDpc queued on CPU 0, TickDpc (the timer has not expired) not queued', async () => {
    const work = await run(inspector, 'dt _KDPC WorkDpc');
    expect(work).toContain('nt!_KDPC at 00000000fd000000  (WorkDpc)');
    expect(work).toMatch(/^ {3}\+0x008 DpcListEntry {5}: queued on CPU 0$/m);
    expect(work).toMatch(/^ {3}\+0x018 DeferredRoutine {2}: 0x[0-9a-f]{16} Work$/m);
    expect(await run(inspector, 'dt _KDPC TickDpc')).toMatch(/^ {3}\+0x008 DpcListEntry {5}: not queued$/m);
    await expect(inspector.execute('dt _KDPC Nope')).rejects.toThrow("dt: no KDPC 'Nope' (DPCs: WorkDpc, TickDpc)");
  });

  it('dd reads variables by name, u disassembles a routine, .events lists the last events', async () => {
    expect(await run(inspector, 'dd Counter')).toMatch(/^00001020 {2}00000007 00000008 00000009$/m);
    expect(await run(inspector, 'dd Counter+4 L1')).toMatch(/^00001024 {2}00000008$/m);
    expect(await run(inspector, 'u Work')).toMatch(/^Work:\n {2}\s+\d+ {2}load r0, \[0x1020\]\n {2}\s+\d+ {2}ret$/m);
    const events = (await run(inspector, '.events 3')).split('\n').slice(1);
    expect(events).toHaveLength(3);
    expect(events[2]).toMatch(/^=> +#\d+ .* CPU 1 {2}spin-lock {2}Lock \(0x1000\) held by another: spinning$/);
  });

  it('!apc lists the queued APCs of each thread with their routines, arguments and mode (none queued here)', async () => {
    expect(await run(inspector, '!apc')).toMatch(
      /\*\*\* Enumerating APCs in all processes\nProcess 00000000fa000000 System\n {4}No APCs queued to any thread$/,
    );
    expect(await run(inspector, '!apc thre Waiter')).toMatch(/Thread 00000000fb001000 Waiter: no APCs queued$/);
    // one queued by hand into the dispatcher's list of the snapshot, to see its layout
    const snapshot = inspector.session.snapshot!;
    const waiter = snapshot.actors.coordinator.dispatcher.threads.find((t) => t.name === 'Waiter')!;
    const apc = new KApc(0, 'Completion', 3, NO_ROUTINE);
    apc.inserted = true;
    apc.systemArgument1 = 0x1234;
    waiter.apcState.kernelList.push(apc);
    try {
      const text = await run(inspector, '!apc');
      expect(text).toContain(
        '    Thread 00000000fb001000 Waiter  ApcStateIndex 0\n      KernelMode APCs\n      KAPC @ 00000000fc000000  (Completion, special kernel)',
      );
      expect(text).toMatch(/^ {8}KernelRoutine {2}[0-9a-f]{16} Work$/m);
      expect(text).toMatch(/^ {8}NormalRoutine {2}0{16}$/m);
      expect(text).toMatch(/^ {8}SystemArgument1 00001234$/m);
      expect(text).toMatch(/^ {8}ApcMode {8}KernelMode\n {8}Inserted {7}1$/m);
    } finally {
      waiter.apcState.kernelList.length = 0;
    }
  });

  it('!ready shows Spinner ready on CPU 1 while Waiter, of higher priority, runs there', async () => {
    const fresh = await open(fixture, 2);
    await run(fresh, 'g → Waiter');
    const text = await run(fresh, '!ready');
    expect(text).toMatch(/^Processor 1: Ready Threads at priority 8\n {4}THREAD 00000000fb001400 {2}Cid 0004\.0005 .* READY on processor 1 {2}Spinner$/m);
  });
});

describe('time travel', () => {
  const views = [
    '!irql 0',
    '!irql 1',
    '!prcb 0',
    '!prcb 1',
    '!dpcs',
    '!timer',
    '!ready',
    '!thread Waiter',
    '!thread Holder',
    '!locks',
    'k 0',
    'k 1',
    'dd Counter',
    '.events 5',
  ];
  const all = async (inspector: Inspector): Promise<string[]> => Promise.all(views.map((view) => run(inspector, view)));

  it('stepping back to an event gives the same state (the same view text) as stepping forward to it', async () => {
    const inspector = await open(fixture, 2);
    await run(inspector, 't 22');
    const forward = await all(inspector);
    await run(inspector, 'g');
    const total = inspector.session.total;
    await run(inspector, `bt ${total - 22}`);
    expect(inspector.session.snapshot?.position).toBe(22);
    expect(await all(inspector)).toEqual(forward);
    // and by !tt from elsewhere, and t- from one further on
    await run(inspector, '!tt 3');
    await run(inspector, '!tt 22');
    expect(await all(inspector)).toEqual(forward);
    await run(inspector, 't 5');
    await run(inspector, 't- 5');
    expect(await all(inspector)).toEqual(forward);
  });

  it('g @T goes to the first event at or after emulated time T; g- TEXT back to the last earlier match', async () => {
    const inspector = await open(fixture, 2);
    const text = await run(inspector, 'g @1ms');
    const position = inspector.session.snapshot!.position;
    expect(inspector.session.log.timeNs(position - 1)).toBeGreaterThanOrEqual(1e6);
    expect(inspector.session.log.timeNs(position - 2)).toBeLessThan(1e6);
    expect(text).toMatch(/^\[event \d+ of \d+, CPU \d, [\d.]+ ms: /);
    expect(await run(inspector, 'g- KeSetTimer')).toMatch(/dispatcher KeSetTimer → 0x0\]$/);
    expect(await run(inspector, '!timer')).toContain('Total Timers: 1');
    expect(await run(inspector, 'bt')).toMatch(/^\[event \d+ of/);
    expect(await run(inspector, '!timer')).toContain('Total Timers: 0');
    expect(await run(inspector, 'g-')).toBe(`[start: before event 1 of ${inspector.session.total}, 0 ns]`);
  });

  it('g runs to the bugcheck and stops there; !analyze -v gives the bugcheck analysis only there', async () => {
    const inspector = await open('irql-test', 2);
    expect(await run(inspector, '!analyze -v')).toMatch(/No bugcheck yet at this point: the machine bugchecks at event (\d+) of \1/);
    const stopped = await run(inspector, 'g');
    expect(stopped).toMatch(/^\[event (\d+) of \1, CPU 0, 10\.000 s: bugcheck ATTEMPTED_SWITCH_FROM_DPC \(0xb8\); the machine stopped here\]$/m);
    expect(stopped).toContain('*** Fatal System Error: 0x000000b8 (ATTEMPTED_SWITCH_FROM_DPC) on processor 0 at IRQL 2 (DISPATCH_LEVEL)');
    const analysis = await run(inspector, '!analyze -v');
    expect(analysis).toContain('Bugcheck Analysis');
    expect(analysis).toContain('ATTEMPTED_SWITCH_FROM_DPC (b8)');
    expect(analysis).toContain('01 dpc DpcRoutine @ IRQL 2');
    expect(await run(inspector, 'k')).toMatch(/DpcRoutine\+0x[0-9a-f]+ {2}\[dpc, IRQL 2 DISPATCH_LEVEL\]/);
  });

  it('a bad command or argument is an InspectCommandError naming it, and the session stays where it was', async () => {
    const inspector = await open(fixture, 2);
    await run(inspector, 't 4');
    await expect(inspector.execute('!bogus')).rejects.toThrow(new InspectCommandError("unknown command '!bogus' (? lists the commands)"));
    await expect(inspector.execute('t x')).rejects.toThrow(/^t takes a positive number of events \(got 'x'\)$/);
    await expect(inspector.execute('!thread Nobody')).rejects.toThrow(/^!thread: no thread 'Nobody' \(threads: Idle#0, Idle#1, Holder, Waiter, Spinner\)$/);
    await expect(inspector.execute('dd Nowhere')).rejects.toThrow(/^dd: no variable 'Nowhere'/);
    await expect(inspector.execute('g @soon')).rejects.toThrow(/^g @T needs an emulated time/);
    await expect(inspector.execute('!prcb 9')).rejects.toThrow(/^!prcb: Cannot get PRCB address/);
    expect(inspector.session.snapshot?.position).toBe(4);
  });
});

describe('irqlab inspect', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'irqlab-inspect-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the issue's walkthrough: irql-test, go to the bugcheck, step back to the moment the timer was set, read !timer and !thread there", async () => {
    const { io, out, err } = captured();
    const code = await runCli(['inspect', 'irql-test', '--eval', 'g; g- dispatcher KeSetTimer; !timer; !thread ConsoleApplication1; bt; !timer'], io);
    expect(err()).toBe('');
    expect(code).toBe(0);
    const text = out();
    expect(text).toMatch(/^Inspecting irql-test, 2 CPUs, seed 1: \d+ events, bugcheck 0xb8 ATTEMPTED_SWITCH_FROM_DPC at the last one\./);
    expect(text).toContain('\n0: kd> g\n');
    expect(text).toContain('*** Fatal System Error: 0x000000b8');
    expect(text).toContain('\n0: kd> g- dispatcher KeSetTimer\n[event 8 of 28, CPU 0, 667 ns: dispatcher KeSetTimer → 0x0]\n');
    // the timer as KeSetTimer left it: 10 s from the start, its DPC routine DpcRoutine
    expect(text).toMatch(
      /^128 00000000fe000140 {3}05f5e100 00000000 \[ 1\/ 1\/2025 00:00:10\.000\] {2}DpcRoutine \(DPC @ 00000000fd000000\) {2}Timer {2}\(due in 10\.000 s\)$/m,
    );
    // the thread that set it is still inside KeSetTimer, called from ReadDispatch
    expect(text).toMatch(/^THREAD 00000000fb000c00 .* RUNNING on processor 0$/m);
    expect(text).toMatch(/^00 -+ -+ KeSetTimer {2}\[kernel, IRQL 12 SYNCH_LEVEL\]\n01 [0-9a-f]{16} -+ ReadDispatch\+0x8 \(thread ConsoleApplication1\)/m);
    // one event earlier the timer table is empty
    expect(text.slice(text.lastIndexOf('0: kd> bt'))).toContain('Total Timers: 0, Maximum List: 0');
  });

  it("the README's 'Inspecting a run' examples are the command's real output", async () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const examples = [...readme.matchAll(/^\$ irqlab inspect (\S+) --eval '([^']+)'\n([\s\S]*?)^```$/gm)];
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const [, scenario, script, shown] of examples) {
      const { io, out } = captured();
      expect(await runCli(['inspect', scenario!, '--eval', script!], io)).toBe(0);
      expect(shown, `${scenario} --eval '${script}'`).toBe(out());
    }
  });

  it('--eval: a bad command ends the run with exit 1 and one line naming it', async () => {
    const { io, out, err } = captured();
    const code = await runCli(['inspect', 'irql-test', '--eval', '!irql; frobnicate; g'], io);
    expect(code).toBe(1);
    expect(err()).toBe("irqlab: inspect: unknown command 'frobnicate' (? lists the commands)\n");
    expect(out()).toContain('Debugger saved IRQL for processor 0x0 -- 0 (PASSIVE_LEVEL)');
    expect(out()).not.toContain('0: kd> g\n');
  });

  it('at the prompt a bad command costs one line and the next command runs', async () => {
    const { io, out, err } = captured();
    const input = new PassThrough();
    input.end('frobnicate\n!irql\nq\n!prcb\n');
    const code = await inspectCommand({ target: 'irql-test', verbose: false }, io, input);
    expect(code).toBe(0);
    expect(err()).toBe("irqlab: inspect: unknown command 'frobnicate' (? lists the commands)\n");
    expect(out()).toContain('Debugger saved IRQL for processor 0x0 -- 0 (PASSIVE_LEVEL)');
    expect(out()).not.toContain('PRCB for Processor');
  });

  it('inspects the run a replay file records', async () => {
    const { path } = await recordRun(fixture, dir, { seed: 3, schedule: { strategy: 'random' }, durationNs: 5_000_000 });
    const { io, out, err } = captured();
    const code = await runCli(['inspect', path, '--eval', 'g spinning; !locks'], io);
    expect(err()).toBe('');
    expect(code).toBe(0);
    expect(out()).toMatch(/^Inspecting the run .*inspect-views.* records \(fixture-inspect-views, seed 3\)/);
    expect(out()).toContain('1 spin lock held, 1 CPU spinning');
    const refused = captured();
    expect(await runCli(['inspect', path, '--seed', '4'], refused.io)).toBe(1);
    expect(refused.err()).toMatch(/^irqlab: a replay file fixes its run/);
  });

  it('usage errors are one line, exit 1', async () => {
    const { io, err } = captured();
    expect(await runCli(['inspect'], io)).toBe(1);
    expect(err()).toBe('irqlab: inspect needs a scenario (a built-in name or a file) or a replay file\n');
    const depth = captured();
    expect(await runCli(['inspect', 'irql-test', '--depth', '2'], depth.io)).toBe(1);
    expect(depth.err()).toBe('irqlab: --depth applies to --strategy pct only\n');
  });
});
