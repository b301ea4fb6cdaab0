/**
 * Device and clock delivery: the machine's interrupt sources as the coordinator drives them. The
 * IOAPIC (device line → vector → CPU, lowest-priority delivery by the CPUs' published IRQL), the
 * device interrupt sources (src/hal/device.ts), and the clock source (HAL's clock interrupt, the
 * tick KeUpdateSystemTime runs on; the clock owner, CPU 0, gets TimerRequest when a KTIMER is due).
 *
 * Owned by the coordinator actor; both run modes ask it for the next event and have it delivered
 * (parallel mode at host time, deterministic mode between slices). In deterministic mode each
 * device assertion goes into the coordinator's share of the trace hash.
 */

import { InterruptSource } from '../hal/device.js';
import type { DeviceConfig } from '../hal/device.js';
import { IoApic } from '../hal/ioapic.js';
import { ClockSource } from '../hal/clock-source.js';
import type { DispatcherDatabase } from '../kernel/dispatcher.js';
import { Kind, actorOfCpu, timeHi, timeLo } from '../ipc/messages.js';
import type { ActorPort } from '../ipc/actor-port.js';
import { PrcbField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { TraceHash } from '../util/hash.js';
import { ClockWatchdog } from './clock-watchdog.js';

export interface PendingEvent {
  timeNs: number;
  source: 'device' | 'clock';
  index: number;
}

export interface EventDeliveryOptions {
  cpus: number;
  deterministic: boolean;
  clockIntervalNs: number;
  clockWatchdogTicks: number;
  /** the perturb strategy's clock phase (default 0) and device assertion delays (default none): perturbation.ts */
  tickPhaseNs?: number;
  deviceDelay?: ((nominalNs: number) => number) | null;
}

export class EventDelivery {
  private readonly devices: InterruptSource[];
  private readonly ioapic = new IoApic();
  readonly clock: ClockSource;
  readonly watchdog: ClockWatchdog;
  /** the coordinator's share of the deterministic trace hash: every device assertion, when and where */
  readonly hash = new TraceHash();
  traceCount = 0;
  /** TimerRequest is set on the clock owner and its expiration pass has not finished yet */
  timerRequestPending = false;

  private readonly options: EventDeliveryOptions;
  private readonly dispatcher: DispatcherDatabase;
  private readonly i32: Int32Array;
  private readonly layout: MachineLayout;
  private readonly port: ActorPort;
  /** whether CPU `cpu` is halted in its idle loop (ticks skip idle CPUs) */
  private readonly cpuIdle: (cpu: number) => boolean;
  /** the machine is going down: the watchdog raises nothing more */
  private readonly machineBugchecked: () => boolean;
  constructor(
    options: EventDeliveryOptions,
    devices: DeviceConfig[],
    dispatcher: DispatcherDatabase,
    i32: Int32Array,
    layout: MachineLayout,
    port: ActorPort,
    cpuIdle: (cpu: number) => boolean,
    machineBugchecked: () => boolean,
  ) {
    this.options = options;
    this.dispatcher = dispatcher;
    this.i32 = i32;
    this.layout = layout;
    this.port = port;
    this.cpuIdle = cpuIdle;
    this.machineBugchecked = machineBugchecked;
    this.devices = devices.map((device) => new InterruptSource(device, options.deviceDelay ?? null));
    for (const device of devices) {
      this.ioapic.program({ line: device.line, vector: device.vector, delivery: device.delivery, destinations: device.cpus });
    }
    this.clock = new ClockSource(options.clockIntervalNs, options.tickPhaseNs ?? 0);
    this.watchdog = new ClockWatchdog(options.cpus, options.clockWatchdogTicks, i32, layout, port);
  }

  /** Device assertions so far, by device (for the coordinator's report). */
  deviceAssertions(): Array<{ name: string; asserted: number }> {
    return this.devices.map((d) => ({ name: d.config.name, asserted: d.asserted }));
  }

  private anyCpuBusy(): boolean {
    for (let cpu = 0; cpu < this.options.cpus; cpu++) if (!this.cpuIdle(cpu)) return true;
    return false;
  }

  /**
   * The next event: a device line, or the next clock tick anyone needs. Ticks go only to CPUs that
   * are not idle, so while every CPU is idle the clock skips ahead to the tick a timer is due at
   * (or stays quiet): an idle machine costs no host time. `floorNs`: the time the machine has
   * reached; ticks skipped before it are not replayed one by one.
   */
  nextEvent(floorNs = 0): PendingEvent {
    // after a stretch of skipped ticks, the next one is the latest boundary at or before floorNs
    let clockNs = Math.max(this.clock.nextEventNs(), this.clock.arrivalAtOrBefore(floorNs));
    if (!this.anyCpuBusy()) clockNs = Math.max(clockNs, this.dispatcher.nextTimerTickNs() + this.clock.phaseNs);
    let best: PendingEvent = { timeNs: clockNs, source: 'clock', index: 0 };
    for (let i = 0; i < this.devices.length; i++) {
      const t = this.devices[i]!.nextEventNs();
      if (t < best.timeNs) best = { timeNs: t, source: 'device', index: i };
    }
    return best;
  }

  /**
   * Whether `event` may be sent before the machine reaches its time (parallel mode on virtual
   * time: the CPU holds it until then): a device line with fixed delivery, whose destination does
   * not depend on the moment (lowest-priority delivery reads the CPUs' IRQLs; the clock reads the
   * timer table).
   */
  mayBeSentAhead(event: PendingEvent): boolean {
    return event.source === 'device' && this.devices[event.index]!.config.delivery === 'fixed';
  }

  /** Deliver one due event at emulated time `stampNs`; `woken` is called with each CPU it sent to. */
  deliver(event: PendingEvent, stampNs: number, woken: (cpu: number) => void): void {
    if (event.source === 'clock') {
      const tick = this.clock.fireAt(stampNs);
      const tickNs = tick * this.clock.intervalNs;
      // the tick's own time is its boundary's (the timers'); it arrives at the boundary plus the phase
      const arrivalNs = tickNs + this.clock.phaseNs;
      // KeUpdateSystemTime's TimerRequest test: the clock owner (CPU 0) runs the expiration
      const timerRequest = !this.timerRequestPending && this.dispatcher.timerDue(tickNs);
      if (timerRequest) this.timerRequestPending = true;
      for (let cpu = 0; cpu < this.options.cpus; cpu++) {
        const request = cpu === 0 && timerRequest;
        if (this.cpuIdle(cpu) && !request) continue;
        this.watchdog.tickSent(cpu, stampNs);
        this.port.send(actorOfCpu(cpu), Kind.CLOCK_TICK, 4, tick, timeLo(arrivalNs), timeHi(arrivalNs), request ? 1 : 0);
        woken(cpu);
      }
      this.watchdog.check(stampNs, this.clock.intervalNs, this.machineBugchecked());
      return;
    }
    const device = this.devices[event.index]!;
    const n = device.fire();
    for (let k = 0; k < n; k++) {
      const cpu = this.ioapic.route(device.config.line, (c) => this.i32[this.layout.prcb(c) + PrcbField.IRQL]!);
      this.port.send(actorOfCpu(cpu), Kind.IRQ_ASSERT, 5, device.config.vector, device.config.line, timeLo(stampNs), timeHi(stampNs), event.index);
      if (this.options.deterministic) {
        this.hash.word(timeLo(Math.round(stampNs)));
        this.hash.word(event.index);
        this.hash.word(cpu);
        this.traceCount++;
      }
      woken(cpu);
    }
  }
}
