/**
 * IPIs held until their time, for the pct and perturb strategies (deterministic mode).
 *
 * In deterministic mode one CPU runs at a time and a slice may run up to 16384 cycles past the
 * other CPUs' clocks, so an IPI can be stamped later than the receiver's clock when the receiver
 * takes it at its next slice's start: under `random` (kept as it was: its trace hashes are pinned)
 * a CPU may take an IPI before it was sent, in emulated time. Under pct and perturb the receiver
 * holds every IPI (freezes excepted: they act at once, like an NMI) until its own clock reaches the
 * send time, plus, under perturb, a delay of 0..ipiDelayNs (decision 'ipi-delay', numbered per
 * receiving CPU in the order it takes them in, neutral 0). A DPC request sent to another CPU is such
 * an IPI, so it is delayed with it (the DPC's link message is not held: it only puts the DPC on the
 * target's queue, where it waits for a drain point anyway).
 *
 * The slice driver (driver.ts, runHoldingIpis) stops the CPU at the next held IPI's time to take
 * it, and a CPU that halts with one held idles until then. Held IPIs are kept in time order (ties
 * in the order taken in), whatever order their delays give them.
 */

import type { ProcessorConfig } from '../contract/config.js';
import { DecisionSource } from '../contract/decision-source.js';
import type { Cpu } from '../kernel/cpu.js';
import { ipiArrived } from '../kernel/ipi.js';
import { IpiRequest } from '../ipc/messages.js';
import { Prng, deriveSeed } from '../util/prng.js';

/** the per-CPU stream of IPI delays: deriveSeed(seed, IPI_DELAY_STREAM + cpu) */
const IPI_DELAY_STREAM = 2000;

interface HeldIpi {
  from: number;
  bits: number;
  dueNs: number;
}

export class HeldIpis {
  /** this CPU's decision stream ('ipi-delay') */
  readonly decisions: DecisionSource;
  private readonly prng: Prng;
  /** perturb's bound on the delay (0: the IPI is only held until its send time) */
  private readonly delayBoundNs: number;
  /** held IPIs, due time ascending */
  private readonly held: HeldIpi[] = [];

  /** The CPU's held IPIs when its run asks for them (deterministic mode under pct or perturb), else null. */
  static forConfig(config: ProcessorConfig): HeldIpis | null {
    const schedule = config.schedule;
    if (config.mode !== 'deterministic' || schedule === undefined || schedule.strategy === 'random') return null;
    return new HeldIpis(config);
  }

  private constructor(config: ProcessorConfig) {
    const schedule = config.schedule!;
    this.decisions = new DecisionSource(schedule.decisions, schedule.recordDecisions, config.cpu);
    this.prng = new Prng(deriveSeed(config.seed, IPI_DELAY_STREAM + config.cpu));
    this.delayBoundNs = schedule.strategy === 'perturb' ? Math.max(0, Math.floor(schedule.bounds.ipiDelayNs)) : 0;
  }

  /**
   * An IPI sent at `sentNs` from CPU `from`: keep it until its time (the send time plus its delay)
   * and return true; a freeze is not held (false: the caller takes it now).
   */
  hold(from: number, bits: number, sentNs: number): boolean {
    if ((bits & IpiRequest.FREEZE) !== 0) return false;
    let delay = 0;
    if (this.delayBoundNs > 0) {
      const position = this.decisions.position;
      if (position !== null) {
        position.timeNs = sentNs;
        position.cpu = from;
      }
      const value = this.decisions.decide('ipi-delay', this.prng.int(0, this.delayBoundNs), 0);
      delay = Number.isFinite(value) && value > 0 ? Math.min(Math.round(value), this.delayBoundNs) : 0;
    }
    const ipi: HeldIpi = { from, bits, dueNs: sentNs + delay };
    let at = this.held.length;
    while (at > 0 && this.held[at - 1]!.dueNs > ipi.dueNs) at--;
    this.held.splice(at, 0, ipi);
    return true;
  }

  /** When the next held IPI is due (Infinity: none held). */
  nextDueNs(): number {
    return this.held.length > 0 ? this.held[0]!.dueNs : Infinity;
  }

  /** Take every held IPI due by `nowNs` (this CPU's clock) into the CPU, as it arrives now; returns how many. */
  release(cpu: Cpu, nowNs: number): number {
    let taken = 0;
    while (this.held.length > 0 && this.held[0]!.dueNs <= nowNs) {
      const ipi = this.held.shift()!;
      // never a freeze (those are not held), so ipiArrived always posts the IPI vector
      ipiArrived(cpu, ipi.from, ipi.bits, ipi.dueNs);
      cpu.workPending = true;
      taken++;
    }
    return taken;
  }
}
