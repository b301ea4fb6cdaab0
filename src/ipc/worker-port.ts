/**
 * The ActorPort of an actor that runs in a worker: its inbound rings (one per other actor, drained
 * in ascending actor order), its outbound rings with backlog and backpressure, its doorbell, and
 * the worker's message port for msgpackr reports. Also the worker-side helpers every worker entry
 * needs: waiting for the run to start, the host clock (parallel mode), loading native routines.
 */

import { availableParallelism } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { SpscRing } from '../shm/spsc-ring.js';
import { Doorbell } from '../shm/doorbell.js';
import { ControlField, DoorbellField, MachineState, TraceField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';
import { Inbox, Outbox } from './mailbox.js';
import { packReport } from './report-codec.js';
import type { ActorPort } from './actor-port.js';
import { timeHi, timeLo } from './messages.js';
import { importScenarioModule } from '../scenario/module-loader.js';

/** Trace ring full: wait this long (ms) for the main thread to drain it before trying again. */
const TRACE_FULL_WAIT_MS = 1;

export function createWorkerPort(
  sab: SharedArrayBuffer,
  layout: MachineLayout,
  self: number,
  parent: MessagePort,
  traceCpu: number,
  blocking: boolean,
  /** spin on the doorbell before sleeping (default true): only while the host has a core for every busy actor */
  spinBeforeSleep = true,
): ActorPort {
  const i32 = new Int32Array(sab);
  const doorbell = new Doorbell(i32, layout.doorbell(self), spinBeforeSleep ? {} : { spinPolls: 0 });
  const inbound: Array<{ from: number; ring: SpscRing }> = [];
  const outbound: Array<{ to: number; ring: SpscRing; doorbell: Doorbell }> = [];
  for (let other = 0; other < layout.actors; other++) {
    if (other === self) continue;
    inbound.push({ from: other, ring: new SpscRing(i32, layout.ring(other, self)) });
    outbound.push({ to: other, ring: new SpscRing(i32, layout.ring(self, other)), doorbell: new Doorbell(i32, layout.doorbell(other)) });
  }
  const doorbellOf: Array<Doorbell | undefined> = [];
  for (const route of outbound) doorbellOf[route.to] = route.doorbell;
  const inbox = new Inbox(doorbell, inbound);
  // parallel-mode actors may wait for ring space (draining their own inbox meanwhile); in
  // deterministic mode only one actor runs, so a full ring just backs up into the backlog
  const state = layout.control + ControlField.STATE;
  const outbox = new Outbox(outbound, { blocking, inbox, stopWaiting: () => Atomics.load(i32, state) === MachineState.BUGCHECKED });
  const traceRing = traceCpu >= 0 ? new SpscRing(i32, layout.trace(traceCpu)) : null;
  const sleepCell = new Int32Array(new SharedArrayBuffer(4));
  let seen = doorbell.seen();
  const port: ActorPort = {
    send: (to, kind, length, w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0) => {
      const spilled = inbox.spilledWords();
      outbox.send(to, kind, length, w0, w1, w2, w3, w4, w5, w6);
      // a blocked send spilled our own inbox: make the doorbell check see it
      if (blocking && inbox.spilledWords() > spilled) doorbell.ring();
    },
    sendWords: (to, kind, words, start, length) => {
      const spilled = inbox.spilledWords();
      outbox.sendWords(to, kind, words, start, length);
      if (blocking && inbox.spilledWords() > spilled) doorbell.ring();
    },
    // an IPI target nudges its sender on every acknowledgement: by index, not a search
    wake: (to) => doorbellOf[to]?.ring(),
    doorbell: { i32, index: layout.doorbell(self) + DoorbellField.COUNT },
    sendReport: (_to, report) => {
      const bytes = packReport(report);
      parent.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
    },
    poll: (visitor) => {
      seen = doorbell.seen();
      return inbox.poll(visitor);
    },
    hasWork: () => inbox.hasWork(),
    sleep: (timeoutMs) => {
      outbox.flush();
      doorbell.sleep(seen, timeoutMs);
    },
    flush: () => outbox.flush(),
    drain: (timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      outbox.flush();
      while (outbox.backlogWords() > 0 && performance.now() < deadline) {
        Atomics.wait(sleepCell, 0, 0, 1);
        outbox.flush();
      }
      return outbox.backlogWords();
    },
    doorbellSeen: () => seen,
    backlogWords: () => outbox.backlogWords(),
    forEachBacklogged: (visitor) => outbox.forEachBacklogged(visitor),
  };
  if (traceRing) {
    port.trace = (time, event, a, b, c) => {
      const t = Math.round(time);
      while (!traceRing.tryWrite(1, TraceField.WORDS, timeLo(t), timeHi(t), event, a, b, c)) {
        // lossless: the main thread drains trace rings every few ms
        Atomics.wait(sleepCell, 0, 0, TRACE_FULL_WAIT_MS);
      }
    };
  }
  return port;
}

/** Block until the main thread sets the machine RUNNING (workers may block; main only notifies). */
export function waitForRunStart(sab: SharedArrayBuffer, layout: MachineLayout): void {
  const i32 = new Int32Array(sab);
  const at = layout.control + ControlField.STATE;
  while (Atomics.load(i32, at) === MachineState.BOOTING) Atomics.wait(i32, at, MachineState.BOOTING, 1000);
}

/**
 * Whether an actor should spin on its doorbell before it sleeps: a spin catches an answer in flight
 * for the price of a host core, which is a good trade only while the host has a core for every
 * actor that may be busy (the CPUs and the coordinator). On an oversubscribed host it would take
 * the core a laggard needs.
 */
export function spinIsAffordable(cpus: number, hostCores: number): boolean {
  return cpus + 1 <= hostCores;
}

/**
 * An actor's spin policy for its machine: deterministic mode runs one CPU at a time beside the
 * coordinator, and host-paced parallel mode naps its spinners anyway, so both spin; on virtual time
 * only when spinIsAffordable on this host.
 */
export function spinBeforeSleepFor(config: { mode: string; pace: string; cpus: number }): boolean {
  return config.mode === 'deterministic' || config.pace === 'host' || spinIsAffordable(config.cpus, availableParallelism());
}

/**
 * Parallel mode's emulated clock: ns since the run's epoch (process.hrtime, shared by all threads,
 * stored in ControlField.EPOCH) times the time scale, read through performance.now() (~50 ns) after
 * a one-time calibration against hrtime.
 */
export function workerHostClock(sab: SharedArrayBuffer, layout: MachineLayout, timeScale: number): { now: () => number; calibrate: () => void } {
  let offsetNs = 0;
  return {
    calibrate: () => {
      const epoch = new BigInt64Array(sab, (layout.control + ControlField.EPOCH) * 4, 1)[0]!;
      const before = performance.now();
      const hr = process.hrtime.bigint();
      offsetNs = Number(hr - epoch) - before * 1e6;
    },
    now: () => (performance.now() * 1e6 + offsetNs) * timeScale,
  };
}

type Native = (
  args: readonly number[],
  machine: { cpu: number; irql: number; read(a: number): number; write(a: number, v: number): void },
) => number | undefined;

/**
 * Import the scenario module in this worker to get its native (TypeScript) routines, by index: the
 * same loader as the main thread's (module-loader.ts), so a .ts file and the bare 'irqlab' resolve
 * here as they did there.
 */
export async function loadNatives(modulePath: string | null, names: string[]): Promise<Array<Native | undefined> | null> {
  if (!modulePath || names.length === 0) return null;
  const module = (await importScenarioModule(modulePath)) as { default?: { natives?: Record<string, Native> } } | null;
  return names.map((name) => module?.default?.natives?.[name]);
}
