/**
 * isr-torn-read: an ISR updates a two-word value that PASSIVE code reads with two plain loads.
 *
 * The device interrupts CPU 0 every 50 µs; its ISR writes the n-th status snapshot as two words,
 * both n (a 64-bit value on a machine that stores 32 bits at a time), then publishes n as the
 * sequence number. Two PASSIVE threads, one on each CPU, wait for each new sequence number and then
 * read the value for about 30 µs: load the low word, load the high word, compare. A reader that
 * sees two different halves has read a torn value. The driver's assumption: the next interrupt is
 * 50 µs away, so reading for 30 µs right after one is safe.
 *
 *   - With the device's interrupts evenly spaced, that holds on every seed of `--strategy random`:
 *     the reads are done 20 µs before the next interrupt, more than the one slice (at most 16 µs)
 *     by which the CPUs' clocks can differ, so no order of slices puts an interrupt among them.
 *     Random slices never move an interrupt.
 *   - An interrupt that comes early after a late one (two of them bunched together, as real devices
 *     do) lands in the middle of the reads. On CPU 0 it tears a read when it arrives between the two
 *     loads (one instruction boundary in a 90-cycle loop); on CPU 1 when CPU 1 is between them.
 *     `--strategy perturb` delays each assertion by up to `explore.jitter.deviceNs` (a whole
 *     period) and finds the torn read on about half the seeds. The README's "Exploring a race"
 *     compares the two hit rates.
 *
 * The fix, isr-torn-read-fixed, reads through KeSynchronizeExecution: the copy runs at the
 * interrupt's SynchronizeIrql (the ISR cannot land between the loads on the reader's CPU) holding
 * the interrupt's spin lock (nor run on another CPU meanwhile); nt-semantics.md §6.3.
 */

import { defineScenario } from '../scenario/define.js';
import type { OutcomeGrade, RunView, ScenarioDefinition } from '../scenario/define.js';
import { R0, R1, R2, R3, R5, R6, R7, R8 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

/** device interrupts in the run (one every 50 µs) */
const INTERRUPTS = 40;
const INTERRUPT_PERIOD_NS = 50_000;
/** cycles a reader spends using each value it read */
const USE_CYCLES = 60;
/** reads after each interrupt: about 30 µs of the 50 µs until the next one */
const BURST_READS = 320;

/** The reader's copy of the value into its snapshot (two words at `snapshot`), plain or synchronized. */
function readSample(a: RoutineBuilder, synchronized: boolean, snapshot: string): void {
  if (synchronized) {
    a.kcall('KeSynchronizeExecution', a.interrupt('Device'), a.routine('CopySample'), a.var(snapshot));
  } else {
    a.movi(R1, a.var(snapshot));
    a.call('CopySample');
  }
}

const tornReads = (run: RunView): number => run.read('TornReadsA') + run.read('TornReadsB');

function readsOutcome(run: RunView): string {
  if (run.read('ReadersDone') !== 2) return 'unfinished';
  if (tornReads(run) > 0) return 'torn read';
  return run.read('EarlyInterrupts') > 0 ? 'every read consistent, an interrupt came during the reads' : 'every read consistent';
}

function grades(synchronized: boolean): readonly OutcomeGrade[] {
  return [
    { match: 'every read consistent', expect: 'acceptable', description: 'every read saw both halves of the same snapshot' },
    {
      match: 'every read consistent, an interrupt came during the reads',
      expect: synchronized ? 'acceptable' : 'interesting',
      description: synchronized
        ? 'an interrupt came while a reader was still reading; KeSynchronizeExecution kept it out of every copy'
        : 'an interrupt came while a reader was still reading, yet it missed the two-load window every time',
    },
    {
      match: 'torn read',
      expect: 'forbidden',
      description: 'a reader saw the halves of two different snapshots: the ISR ran between its two loads, on its CPU or on the other',
    },
  ];
}

/** The scenario, reading plainly or through KeSynchronizeExecution (isr-torn-read-fixed). */
export function tornRead(synchronized: boolean): ScenarioDefinition {
  // after each interrupt: wait for its sequence number, then read the value BURST_READS times
  const reader = (snapshot: string, torn: string) => (a: RoutineBuilder) => {
    a.movi(R8, 0);
    a.label('wait-update');
    a.load(R2, a.var('Sequence'));
    a.bne(R2, R8, 'updated');
    a.pause();
    a.jmp('wait-update');
    a.label('updated');
    a.mov(R8, R2);
    a.movi(R5, 0);
    a.label('read');
    readSample(a, synchronized, snapshot);
    a.load(R6, a.var(snapshot));
    a.load(R7, a.var(snapshot, 4));
    a.beq(R6, R7, 'consistent');
    a.movi(R2, 1);
    a.xadd(R0, a.var(torn), 0, R2);
    a.label('consistent');
    a.work(USE_CYCLES);
    a.add(R5, R5, 1);
    a.blt(R5, BURST_READS, 'read');
    // the next interrupt came before the reads were done: the driver's assumption failed
    a.load(R2, a.var('Sequence'));
    a.beq(R2, R8, 'on-time');
    a.movi(R2, 1);
    a.xadd(R0, a.var('EarlyInterrupts'), 0, R2);
    a.label('on-time');
    a.blt(R8, INTERRUPTS, 'wait-update');
    a.movi(R2, 1);
    a.xadd(R0, a.var('ReadersDone'), 0, R2);
    a.ret(0);
  };
  return defineScenario({
    name: synchronized ? 'isr-torn-read-fixed' : 'isr-torn-read',
    description: synchronized
      ? 'isr-torn-read with the reads under KeSynchronizeExecution: the ISR cannot run between the two loads, no read is torn'
      : 'an ISR writes a two-word value that PASSIVE readers load word by word: a torn read when the interrupt lands between the loads',
    machine: { cpus: 2, durationMs: 3 },
    memory: {
      Sample: { words: 2 },
      SnapshotA: { words: 2 },
      SnapshotB: { words: 2 },
      Sequence: {},
      TornReadsA: {},
      TornReadsB: {},
      EarlyInterrupts: {},
      ReadersDone: {},
    },
    interrupts: { Device: { vector: 0x60, routine: 'DeviceIsr' } },
    devices: { device: { vector: 0x60, ratePerSec: 1e9 / INTERRUPT_PERIOD_NS, cpus: [0], startMs: 0.02, count: INTERRUPTS } },
    threads: {
      ReaderA: { routine: 'ReaderA', cpu: 0 },
      ReaderB: { routine: 'ReaderB', cpu: 1 },
    },
    routines: {
      ReaderA: reader('SnapshotA', 'TornReadsA'),
      ReaderB: reader('SnapshotB', 'TornReadsB'),
      // r1 = the snapshot: copy the value's two words into it (the caller compares them)
      CopySample: (a) => {
        a.load(R2, a.var('Sample'));
        a.load(R3, a.var('Sample', 4));
        a.store(R1, 0, R2);
        a.store(R1, 4, R3);
        a.ret(1);
      },
      DeviceIsr: (a) => {
        a.load(R2, a.var('Sequence'));
        a.add(R2, R2, 1);
        a.store(a.var('Sample'), 0, R2);
        a.store(a.var('Sample', 4), 0, R2);
        // published last: a reader that sees the new number finds both words written
        a.store(a.var('Sequence'), 0, R2);
        a.ret(1);
      },
    },
    results: (run) => ({
      interrupts: run.read('Sequence'),
      tornReadsCpu0: run.read('TornReadsA'),
      tornReadsCpu1: run.read('TornReadsB'),
      earlyInterrupts: run.read('EarlyInterrupts'),
    }),
    checks: (run) => [
      { name: 'both readers finished', passed: run.read('ReadersDone') === 2, detail: `${run.read('ReadersDone')} of 2` },
      { name: 'every interrupt was taken', passed: run.read('Sequence') === INTERRUPTS, detail: `${run.read('Sequence')} of ${INTERRUPTS}` },
      ...(synchronized ? [{ name: 'no read was torn', passed: tornReads(run) === 0, detail: `${tornReads(run)} torn reads` }] : []),
    ],
    outcome: readsOutcome,
    outcomes: grades(synchronized),
    // perturb: each assertion up to a whole period late, so two of them can come closer together than a burst
    explore: { jitter: { deviceNs: INTERRUPT_PERIOD_NS } },
  });
}

export default tornRead(false);
