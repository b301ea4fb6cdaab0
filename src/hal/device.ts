/**
 * A device interrupt source: asserts its IOAPIC line at a mean rate, in bursts, with seeded jitter
 * on every gap, from a start time, optionally a fixed number of times. Owned by the coordinator,
 * which asks it when it next fires (v86's `timer(now)` shape) and delivers what is due.
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

  constructor(config: DeviceConfig) {
    this.config = config;
    this.prng = new Prng(config.seed);
    this.nextNs = config.ratePerSec > 0 ? config.startNs : Infinity;
  }

  /** Emulated time of the next event, or Infinity when the device is done. */
  nextEventNs(): number {
    return this.asserted >= this.config.count ? Infinity : this.nextNs;
  }

  /** Consume the event due at nextEventNs(); returns how many assertions it makes (the burst). */
  fire(): number {
    const { burst, count, ratePerSec, jitter } = this.config;
    const n = Math.min(burst, count - this.asserted);
    this.asserted += n;
    const meanGapNs = (1e9 / ratePerSec) * burst;
    const factor = jitter > 0 ? 1 + jitter * (2 * this.prng.next() - 1) : 1;
    this.nextNs += Math.max(1, meanGapNs * factor);
    return n;
  }
}
