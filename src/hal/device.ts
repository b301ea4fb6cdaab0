/**
 * A device interrupt source: asserts its IOAPIC line at a mean rate, in bursts, with seeded jitter
 * on every gap, from a start time, optionally a fixed number of times. Owned by the coordinator,
 * which asks it when it next fires (v86's `timer(now)` shape) and delivers what is due. The perturb
 * strategy (src/coordinator/perturbation.ts) gives it a delay for each assertion: the assertion
 * lands that much after its place in the schedule, which itself does not move.
 */

import { Prng } from '../util/prng.js';

export interface DeviceConfig {
  name: string;
  line: number;
  vector: number;
  ratePerSec: number;
  burst: number;
  jitter: number;
  delivery: 'fixed' | 'lowest-priority';
  cpus: number[];
  startNs: number;
  /** assertions before the device goes quiet (Infinity: never) */
  count: number;
  seed: number;
}

export class InterruptSource {
  readonly config: DeviceConfig;
  private readonly prng: Prng;
  private nextNs: number;
  /** assertions made so far */
  asserted = 0;
  /** the perturb strategy's delays (null: none; given the assertion's undelayed time), the next event's delay, and when the last event fired */
  private readonly delay: ((nominalNs: number) => number) | null;
  private delayNs = 0;
  private lastFiredNs = 0;

  constructor(config: DeviceConfig, delay: ((nominalNs: number) => number) | null = null) {
    this.config = config;
    this.prng = new Prng(config.seed);
    this.nextNs = config.ratePerSec > 0 ? config.startNs : Infinity;
    this.delay = delay;
    if (delay !== null && this.nextEventNs() !== Infinity) this.delayNs = delay(this.nextNs);
  }

  /** Emulated time of the next event, or Infinity when the device is done. */
  nextEventNs(): number {
    if (this.asserted >= this.config.count) return Infinity;
    // a delayed assertion never lands before the one this device made last
    return this.delay === null ? this.nextNs : Math.max(this.nextNs + this.delayNs, this.lastFiredNs);
  }

  /** Consume the event due at nextEventNs(); returns how many assertions it makes (the burst). */
  fire(): number {
    const { burst, count, ratePerSec, jitter } = this.config;
    if (this.delay !== null) this.lastFiredNs = this.nextEventNs();
    const n = Math.min(burst, count - this.asserted);
    this.asserted += n;
    const meanGapNs = (1e9 / ratePerSec) * burst;
    const factor = jitter > 0 ? 1 + jitter * (2 * this.prng.next() - 1) : 1;
    this.nextNs += Math.max(1, meanGapNs * factor);
    if (this.delay !== null) this.delayNs = this.asserted < count ? this.delay(this.nextNs) : 0;
    return n;
  }
}
