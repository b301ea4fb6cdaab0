/**
 * The clock source (the HAL's timer hardware, HalpTimerClockInterrupt's source): a periodic tick
 * every `intervalNs` of emulated time. Owned by the coordinator, which delivers each tick as the
 * clock interrupt to the clock owner (CPU 0) and as a clock IPI to the other CPUs.
 */
export class ClockSource {
  readonly intervalNs: number;
  /** ticks delivered so far */
  tick = 0;
  constructor(intervalNs: number) {
    this.intervalNs = intervalNs;
  }
  nextEventNs(): number {
    return (this.tick + 1) * this.intervalNs;
  }
  fire(): number {
    this.tick += 1;
    return this.tick;
  }
}
