/**
 * The perturb strategy's coordinator half: interrupt arrivals as scheduling points. Within the
 * scenario's declared jitter (`explore.jitter`, resolved by the compiler into the schedule's bounds):
 *
 *   - every device assertion lands 0..deviceNs later than its device's own (seeded) schedule would
 *     have it (decision 'device-delay', one per assertion event in the order the devices draw
 *     them, neutral 0). The device's schedule itself does not shift: delays do not add up. An
 *     assertion is never moved before the one its device made last.
 *   - the clock's phase: every tick lands 0..tickPhaseNs (at most one interval less 1 ns) after
 *     its boundary (decision 'tick-phase', one per run, neutral 0). The tick still counts as its
 *     boundary's tick for the timers (KeUpdateSystemTime's time), it arrives later.
 *
 * The third arrival, the IPI (and with it a DPC request sent to another CPU), is delayed by the
 * receiving CPU (src/cpu/held-ipis.ts): only it knows when it takes one. Slices are random's.
 * Delays are whole ns drawn uniformly from a stream of the seed of their own, so the slices of a
 * perturb run are those of a random run with the same seed until a moved arrival changes what runs.
 */

import type { DecisionSource } from '../contract/decision-source.js';
import type { PerturbationBounds } from '../contract/schedule.js';
import type { Prng } from '../util/prng.js';

/** A delay from an explicit decision: within 0..bound (whole ns); anything else is the neutral 0. */
export function boundedDelay(value: number, bound: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.round(value), bound);
}

export class Perturbation {
  /** the clock's phase for this run (ns after each tick boundary) */
  readonly tickPhaseNs: number;
  /** the delay of a device assertion due at `nominalNs` (null: the bounds leave devices alone) */
  readonly deviceDelay: ((nominalNs: number) => number) | null;

  constructor(bounds: PerturbationBounds, clockIntervalNs: number, prng: Prng, decisions: DecisionSource) {
    const phaseBound = Math.min(Math.floor(bounds.tickPhaseNs), Math.ceil(clockIntervalNs) - 1);
    this.tickPhaseNs = phaseBound > 0 ? boundedDelay(decisions.decide('tick-phase', prng.int(0, phaseBound), 0), phaseBound) : 0;
    const deviceBound = Math.floor(bounds.deviceNs);
    this.deviceDelay =
      deviceBound > 0
        ? (nominalNs: number): number => {
            // a recording run notes where the assertion was due (no CPU: the IOAPIC picks it later)
            const position = decisions.position;
            if (position !== null) {
              position.timeNs = nominalNs;
              position.cpu = -1;
            }
            const value = decisions.decide('device-delay', prng.int(0, deviceBound), 0);
            if (position !== null) position.timeNs = -1;
            return boundedDelay(value, deviceBound);
          }
        : null;
  }
}
