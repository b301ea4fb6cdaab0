// The run's own accounting on real workers, in both modes: every device assertion accounted for
// (asserted + re-asserted = taken + pending + undelivered), time counters that stop at the run's
// end, and TRACE events past the per-CPU limit counted instead of dropped without a word.
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/scenario/define.js';
import type { RunResult, RunMode } from '../../src/machine/result.js';
import { R0, R1, R2 } from '../../src/isa/registers.js';
import { formatSummary } from '../../src/cli/format.js';
import { runOnWorkers } from './harness.js';

/**
 * Three devices on two vectors, one of them shared; an ISR on the shared vector claims every other
 * interrupt (the unclaimed level-triggered ones are posted again); CPU 1 masks both vectors for
 * the whole run, so assertions routed to it are still pending in its local APIC at the end.
 * With `bugcheckAfter`, the disk ISR stops the machine after that many interrupts.
 */
function interruptTraffic(bugcheckAfter?: number) {
  return defineScenario({
    name: 'interrupt-accounting',
    description: 'device assertions that are taken, re-asserted, masked and in flight',
    memory: { Toggle: {}, DiskInterrupts: {} },
    interrupts: {
      Disk: { vector: 0x50, routine: 'ClaimIsr' },
      NicA: { vector: 0x60, routine: 'AlternateIsr', shareVector: true },
      NicB: { vector: 0x60, routine: 'NeverIsr', shareVector: true },
    },
    devices: {
      disk: { vector: 0x50, ratePerSec: 200_000, burst: 3, cpus: [0, 1] },
      nicA: { vector: 0x60, ratePerSec: 60_000, cpus: [0, 1] },
      nicB: { vector: 0x60, line: 7, ratePerSec: 60_000, cpus: [0] },
    },
    threads: { Masker: { routine: 'Masker', cpu: 1 }, Worker: { routine: 'Worker', cpu: 0 } },
    routines: {
      ClaimIsr: (a) => {
        a.work(300);
        if (bugcheckAfter !== undefined) {
          a.movi(R2, 1);
          a.xadd(R0, a.var('DiskInterrupts'), 0, R2);
          a.blt(R0, bugcheckAfter, 'claim');
          a.kcall('KeBugCheckEx', 0xe2, 1, 2, 3, 4);
          a.label('claim');
        }
        a.ret(1);
      },
      // TRUE every other call: the other half are unclaimed by the whole chain
      AlternateIsr: (a) => {
        a.movi(R2, 1);
        a.xadd(R0, a.var('Toggle'), 0, R2);
        a.and(R0, R0, 1);
        a.ret(R0);
      },
      NeverIsr: (a) => a.ret(0),
      Masker: (a) => {
        a.kcall('KeRaiseIrql', 7);
        a.label('loop');
        a.work(500);
        a.jmp('loop');
      },
      Worker: (a) => {
        a.label('loop');
        a.work(500);
        a.jmp('loop');
      },
    },
  });
}

function expectEveryAssertionAccounted(result: RunResult): void {
  const a = result.interruptAccounting;
  expect(a.exact).toBe(true);
  expect(a.asserted).toBeGreaterThan(0);
  expect(a.asserted + a.reasserted).toBe(a.taken + a.pendingInLocalApics + a.undelivered);
  expect(a.unaccounted).toBe(0);
  expect(a.asserted).toBe(result.deviceAssertions.reduce((sum, d) => sum + d.asserted, 0));
  // `taken` is what the CPUs counted as device interrupts, per CPU and per device
  expect(a.taken).toBe(result.perCpu.reduce((sum, c) => sum + c.interrupts, 0));
  expect(a.pendingInLocalApics).toBe(result.perCpu.reduce((sum, c) => sum + c.pendingInterrupts, 0));
  expect(a.undelivered).toBe(result.perCpu.reduce((sum, c) => sum + c.undeliveredInterrupts, 0));
  for (const device of result.deviceAssertions) {
    expect(device.asserted + device.reasserted, device.name).toBe(device.taken + device.pendingInLocalApics + device.undelivered);
  }
}

describe('device interrupt accounting', () => {
  for (const mode of ['deterministic', 'parallel'] as RunMode[]) {
    it(`accounts for every device assertion at the end of a run (${mode})`, async () => {
      const { result } = await runOnWorkers(interruptTraffic(), { cpus: 2, mode, durationMs: mode === 'parallel' ? 20 : 4 });
      expectEveryAssertionAccounted(result);
      if (mode === 'deterministic') {
        expect(result.interruptAccounting.reasserted).toBeGreaterThan(0);
        // CPU 1 ran at IRQL 7 from its thread's start: what was routed to it since is still in its local APIC
        expect(result.perCpu[1]!.pendingInterrupts).toBeGreaterThan(0);
      }
      expect(formatSummary(result)).toMatch(
        /device interrupts: [\d,]+ asserted \+ [\d,]+ re-asserted \(unclaimed, level-triggered\) = [\d,]+ taken \+ [\d,]+ pending in local APICs \+ [\d,]+ undelivered\n/,
      );
    });

    it(`accounts for every device assertion when a bugcheck stops the run (${mode})`, async () => {
      // parallel mode: a long run that the bugcheck ends early, however slow the host is
      const { result } = await runOnWorkers(interruptTraffic(200), { cpus: 2, mode, durationMs: mode === 'parallel' ? 2000 : 4 });
      expect(result.bugcheck?.code).toBe(0xe2);
      expectEveryAssertionAccounted(result);
    });
  }
});

/** Every CPU busy for the whole run: in parallel mode 6 of them on this host's cores, so CPUs take their RUN_STOP late. */
const overloaded = defineScenario({
  name: 'overloaded',
  description: 'a busy thread on every CPU, some of them at raised IRQL',
  threads: Object.fromEntries(Array.from({ length: 6 }, (_, cpu) => [`Busy${cpu}`, { routine: cpu % 2 === 0 ? 'Spin' : 'SpinRaised', cpu }])),
  routines: {
    Spin: (a) => {
      a.label('loop');
      a.work(1000);
      a.jmp('loop');
    },
    SpinRaised: (a) => {
      a.kcall('KeRaiseIrqlToSynchLevel');
      a.label('loop');
      a.work(1000);
      a.jmp('loop');
    },
  },
});

describe('time counters stop at the end of the run', () => {
  for (const mode of ['deterministic', 'parallel'] as RunMode[]) {
    it(`no CPU counts more time at IRQLs and idle than the run had (${mode})`, async () => {
      const { result } = await runOnWorkers(overloaded, { cpus: 6, mode, durationMs: 5 });
      expect(result.emulatedTimeNs).toBe(5e6);
      for (const cpu of result.perCpu) {
        const atIrql = Object.values(cpu.timeAtIrqlNs).reduce((sum, ns) => sum + ns, 0);
        expect(atIrql + cpu.idleNs, `CPU ${cpu.cpu}`).toBeLessThanOrEqual(result.emulatedTimeNs);
      }
      for (const thread of result.threads) expect(thread.cpuTimeNs, thread.name).toBeLessThanOrEqual(result.emulatedTimeNs);
    });
  }
});

describe('run.userEvents limit', () => {
  it('counts the TRACE events past the per-CPU limit and says so in the results and the summary', async () => {
    let droppedSeen = -1;
    const run = await runOnWorkers(
      defineScenario({
        name: 'many-traces',
        description: 'one thread traces 150,000 times',
        threads: { Tracer: { routine: 'Tracer', cpu: 0 } },
        routines: {
          Tracer: (a) => {
            a.movi(R1, 0);
            a.label('loop');
            a.trace(1, R1);
            a.add(R1, R1, 1);
            a.blt(R1, 150_000, 'loop');
            a.ret(0);
          },
        },
        results: (view) => {
          droppedSeen = view.userEventsDropped;
          return {};
        },
      }),
      { cpus: 1, durationMs: 100 },
    );
    expect(run.events).toHaveLength(100_000);
    expect(run.events[99_999]!.value).toBe(99_999);
    expect(droppedSeen).toBe(50_000);
    expect(run.result.perCpu[0]!.userEventsDropped).toBe(50_000);
    expect(run.result.userEventLimit).toEqual({ limitPerCpu: 100_000, kept: 100_000, dropped: 50_000, limitReached: true });
    expect(formatSummary(run.result)).toContain(
      'run.userEvents kept the first 100,000 TRACE events of each CPU: 50,000 later ones are in the trace but not in run.userEvents',
    );
  });

  it('says nothing when no CPU reached the limit', async () => {
    const run = await runOnWorkers(
      defineScenario({
        name: 'few-traces',
        description: 'one thread traces 10 times',
        threads: { Tracer: { routine: 'Tracer', cpu: 0 } },
        routines: {
          Tracer: (a) => {
            for (let i = 0; i < 10; i++) a.trace(1, i);
            a.ret(0);
          },
        },
      }),
      { cpus: 1, durationMs: 1 },
    );
    expect(run.result.userEventLimit).toEqual({ limitPerCpu: 100_000, kept: 10, dropped: 0, limitReached: false });
    expect(formatSummary(run.result)).not.toContain('run.userEvents kept');
  });
});
