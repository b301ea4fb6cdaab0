/**
 * ipi-pingpong: a thread on CPU 0 sends IPI packets (KiIpiSendPacket) to CPU 1, which runs a busy
 * thread; each packet runs the Pong worker at IPI_LEVEL on CPU 1 and the sender returns once CPU 1
 * has acknowledged. Every round trip is timed with KeQueryPerformanceCounter and reported
 * (TRACE tag 1), so the results show the IPI round trip between two busy CPUs, in µs like the rest
 * of the summary (the traced values are ns).
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R2, R5, R6, R7 } from '../isa/registers.js';
import type { RunView } from '../scenario/define.js';
import { percentile } from '../util/stats.js';

const ROUNDS = 2000;

function roundTrips(run: RunView): number[] {
  return run.userEvents
    .filter((e) => e.tag === 1)
    .map((e) => e.value)
    .sort((a, b) => a - b);
}

export default defineScenario({
  name: 'ipi-pingpong',
  description: 'two CPUs bounce an IPI packet back and forth; measures the IPI round trip',
  machine: { cpus: 2, durationMs: 100 },
  memory: { PongCount: {}, Done: {}, Rounds: {} },
  threads: {
    Pinger: { routine: 'Pinger', cpu: 0, args: [ROUNDS] },
    Busy: { routine: 'BusyLoop', cpu: 1 },
  },
  routines: {
    // r1 = rounds
    Pinger: (a) => {
      a.movi(R5, 0);
      a.label('loop');
      a.kcall('KeQueryPerformanceCounter');
      a.mov(R6, R0);
      a.kcall('KiIpiSendPacket', 1 << 1, a.routine('Pong'), R5);
      a.kcall('KeQueryPerformanceCounter');
      a.sub(R7, R0, R6);
      a.trace(1, R7);
      a.add(R5, R5, 1);
      a.store(a.var('Rounds'), 0, R5);
      a.blt(R5, R1, 'loop');
      a.store(a.var('Done'), 0, 1);
      a.ret(0);
    },
    // the packet worker, at IPI_LEVEL on the target: r1 = the round number
    Pong: (a) => {
      a.movi(R2, 1);
      a.xadd(R1, a.var('PongCount'), 0, R2);
      a.ret(0);
    },
    // keeps CPU 1 busy (not halted) until the pinger is done
    BusyLoop: (a) => {
      a.label('loop');
      a.work(200);
      a.load(R1, a.var('Done'));
      a.beqz(R1, 'loop');
      a.ret(0);
    },
  },
  results: (run) => {
    const trips = roundTrips(run);
    const micros = (ns: number): number => ns / 1000;
    return {
      roundTrips: trips.length,
      roundTripP50Us: micros(percentile(trips, 50)),
      roundTripP99Us: micros(percentile(trips, 99)),
      roundTripMaxUs: micros(trips.length ? trips[trips.length - 1]! : 0),
      pongs: run.read('PongCount'),
    };
  },
  checks: (run) => [
    {
      // a packet still in flight when the run ends has run Pong but not been counted by the sender
      name: 'every packet ran Pong exactly once on CPU 1',
      passed: run.read('PongCount') - run.read('Rounds') === 0 || run.read('PongCount') - run.read('Rounds') === 1,
      detail: `${run.read('Rounds')} packets sent, ${run.read('PongCount')} Pong runs on CPU 1`,
    },
  ],
});
