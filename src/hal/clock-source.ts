/**
 * The clock source (the HAL's timer hardware, HalpTimerClockInterrupt's source): a periodic tick
 * every `intervalNs` of emulated time. Owned by the coordinator, which delivers each tick as the
 * clock interrupt to the clock owner (CPU 0) and as a clock IPI to the other CPUs that are not
 * idle (Windows 8+ skips the ticks of idle processors), and skips ticks altogether while every CPU
 * is idle and no timer is due.
 *
 * Its phase (the perturb strategy's, src/coordinator/perturbation.ts; 0 otherwise): tick k arrives
 * at k·interval + phase, and is still the tick of time k·interval for KeUpdateSystemTime and the
 * timer table: the clock interrupt lands later relative to what the CPUs run, not at another tick.
 */
export class ClockSource {
  readonly intervalNs: number;
  readonly phaseNs: number;
  /** ticks delivered so far */
  tick = 0;
  constructor(intervalNs: number, phaseNs = 0) {
    this.intervalNs = intervalNs;
    this.phaseNs = phaseNs;
  }
  nextEventNs(): number {
    return (this.tick + 1) * this.intervalNs + this.phaseNs;
  }
  /** When the latest tick at or before emulated time `timeNs` arrives. */
  arrivalAtOrBefore(timeNs: number): number {
    return Math.floor((timeNs - this.phaseNs) / this.intervalNs) * this.intervalNs + this.phaseNs;
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
    this.tick = Math.max(this.tick + 1, Math.floor((timeNs - this.phaseNs) / this.intervalNs));
    return this.tick;
  }
}
