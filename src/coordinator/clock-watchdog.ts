/**
 * The clock watchdog (CLOCK_WATCHDOG_TIMEOUT, 0x101; nt-semantics §7.5): NT's clock path notices a
 * processor that has not taken a clock interrupt for too long (it is stuck with interrupts masked)
 * and bugchecks. Here the coordinator, which sends every clock tick, remembers when it sent each
 * one to each CPU and compares that with the ticks the CPU has taken (its published PRCB word
 * TICKS_TAKEN).
 *
 * Owned by the coordinator actor (src/coordinator/coordinator.ts); only the event delivery
 * (event-delivery.ts) records ticks and asks for a check, after each clock event.
 */

import { BUGCHECK } from '../kernel/bugcheck.js';
import { Kind, actorOfCpu } from '../ipc/messages.js';
import type { ActorPort } from '../ipc/actor-port.js';
import { PrcbField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { prcbAddress } from '../kernel/prcb.js';

/**
 * send times kept per CPU for the clock watchdog (more than validate.ts's MAX_CLOCK_WATCHDOG_TICKS);
 * a CPU this many ticks behind is overdue whatever its times
 */
const TICK_SEND_HISTORY = 4096;

export class ClockWatchdog {
  /** clock interrupts sent to each CPU (compared with the ticks it took) */
  private readonly ticksSent: number[];
  /**
   * when each of the last TICK_SEND_HISTORY ticks sent to a CPU was sent (emulated ns), by ordinal:
   * the watchdog measures how long the oldest tick the CPU has not taken has waited
   */
  private readonly tickSentAt: Float64Array[];
  private fired = false;

  private readonly cpus: number;
  /** clockWatchdogTicks: how many clock intervals the oldest untaken tick may wait */
  private readonly limitTicks: number;
  private readonly i32: Int32Array;
  private readonly layout: MachineLayout;
  private readonly port: ActorPort;
  constructor(cpus: number, limitTicks: number, i32: Int32Array, layout: MachineLayout, port: ActorPort) {
    this.cpus = cpus;
    this.limitTicks = limitTicks;
    this.i32 = i32;
    this.layout = layout;
    this.port = port;
    this.ticksSent = new Array<number>(cpus).fill(0);
    this.tickSentAt = Array.from({ length: cpus }, () => new Float64Array(TICK_SEND_HISTORY));
  }

  /** A clock tick was sent to `cpu` at emulated time `stampNs`. */
  tickSent(cpu: number, stampNs: number): void {
    this.tickSentAt[cpu]![this.ticksSent[cpu]! % TICK_SEND_HISTORY] = stampNs;
    this.ticksSent[cpu]! += 1;
  }

  /**
   * CLOCK_WATCHDOG_TIMEOUT (§7.5): a CPU that has not taken a clock interrupt for too many ticks is
   * stuck with interrupts masked. The bugcheck is raised on a CPU that is still taking ticks (as NT
   * raises it from the clock path of the CPU that notices), or on the hung one if it is alone.
   *
   * "Too many ticks" is measured as time: the oldest tick the CPU has not taken has waited longer
   * than clockWatchdogTicks clock intervals. Under a steady clock that is the same as counting
   * ticks, but in parallel mode a coordinator that the host held up delivers the ticks it owes in
   * one burst, and counting them would bugcheck a CPU that never had the chance to take them.
   * `machineBugchecked`: the machine is already going down; nothing more to raise.
   */
  check(nowNs: number, intervalNs: number, machineBugchecked: boolean): void {
    if (this.fired || machineBugchecked) return;
    const limitNs = this.limitTicks * intervalNs;
    /** how long the oldest tick this CPU has not taken has waited (0 when it has taken them all) */
    const overdueNs = (cpu: number): number => {
      const taken = Atomics.load(this.i32, this.layout.prcb(cpu) + PrcbField.TICKS_TAKEN);
      const missed = this.ticksSent[cpu]! - taken;
      if (missed <= 0) return 0;
      if (missed >= TICK_SEND_HISTORY) return Infinity;
      return nowNs - this.tickSentAt[cpu]![taken % TICK_SEND_HISTORY]!;
    };
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (overdueNs(cpu) >= limitNs) {
        let reporter = cpu;
        for (let other = 0; other < this.cpus; other++) {
          if (other !== cpu && this.ticksSent[other]! > 0 && overdueNs(other) <= 2 * intervalNs) {
            reporter = other;
            break;
          }
        }
        this.fired = true;
        this.port.send(actorOfCpu(reporter), Kind.RAISE_BUGCHECK, 5, BUGCHECK.CLOCK_WATCHDOG_TIMEOUT, this.limitTicks, 0, prcbAddress(cpu), cpu);
        return;
      }
    }
  }
}
