/**
 * ActorPort: what an actor (a CPU or the coordinator) needs from the transport, so that actors stay
 * transport-free: the same Processor runs over SharedArrayBuffer rings in a worker
 * (src/ipc/worker-port.ts) or over in-memory queues in a test.
 */

import type { Report } from './messages.js';

/** Emulated ns now by the host clock, which an actor paces parallel mode by (host monotonic clock × time scale, from the machine epoch; constant in an in-process deterministic run). */
export type HostClock = () => number;

export interface ActorPort {
  /** queue a fixed binary message for actor `to` (never dropped: a full ring backs up, see Outbox) */
  send(to: number, kind: number, length: number, w0?: number, w1?: number, w2?: number, w3?: number, w4?: number, w5?: number, w6?: number): void;
  /** queue a message whose payload is words[start .. start + length) (copied); for records longer than send() carries */
  sendWords(to: number, kind: number, words: Int32Array, start: number, length: number): void;
  /** a variable-shaped report for the main thread (msgpackr on the worker's message port) */
  sendReport(to: number, report: Report): void;
  /** deliver queued records to the visitor, in a fixed source order (`from`: the sending actor); returns how many */
  poll(visitor: (kind: number, i32: Int32Array, offset: number, length: number, from: number) => void): number;
  /** cheap: true when poll() would deliver something */
  hasWork(): boolean;
  /**
   * This actor's doorbell word, for the cheapest possible "anything new?" check between
   * instructions: Atomics.load(i32, index) differs from its value before the last poll(). The port
   * rings it itself when records land in its spill queue, so the check never misses them.
   */
  readonly doorbell: { readonly i32: Int32Array; readonly index: number };
  /** sleep until a message arrives or timeoutMs passes (never on the main thread) */
  sleep(timeoutMs?: number): void;
  /**
   * Ring actor `to`'s doorbell without a message: it has something to look at in shared memory
   * (an IPI acknowledgement it spins on). Wakes it only if it sleeps.
   */
  wake(to: number): void;
  /** publish what send() backed up, ring doorbells */
  flush(): void;
  /**
   * Before the actor stops: flush until every backlog is in its ring, waiting for consumers for at
   * most timeoutMs of host time. Returns the words still undelivered (0: nothing was left behind).
   */
  drain(timeoutMs: number): number;
  /** words queued for other actors that did not fit their rings yet (flush() moves them on): in flight, unseen by their receivers */
  backlogWords(): number;
  /** visit the records still backlogged for their destinations' rings (what drain() could not deliver) */
  forEachBacklogged?(visitor: (to: number, kind: number, words: Int32Array, offset: number, length: number) => void): void;
  /** the doorbell count this actor has seen (deterministic mode reports it at a halt) */
  doorbellSeen(): number;
  /** trace record out to the main thread (only when a trace file was asked for) */
  trace?(time: number, event: number, a: number, b: number, c: number): void;
}
