/**
 * The clock source (the HAL's timer hardware, HalpTimerClockInterrupt's source): a periodic tick
 * every `intervalNs` of emulated time. Owned by the coordinator, which delivers each tick as the
 * clock interrupt to the clock owner (CPU 0) and as a clock IPI to the other CPUs that are not
 * idle (Windows 8+ skips the ticks of idle processors), and skips ticks altogether while every CPU
 * is idle and no timer is due.
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
  /**
   * Fire the tick of emulated time `timeNs` (the latest tick boundary at or before it): ticks nobody
   * needed in between were skipped (every CPU was idle and no timer was due), as a tickless kernel
   * programs its timer for the next event instead of every interval.
   */
  fireAt(timeNs: number): number {
    this.tick = Math.max(this.tick + 1, Math.floor(timeNs / this.intervalNs));
    return this.tick;
  }
}
