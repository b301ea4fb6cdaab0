/**
 * Doorbell: one per actor (DoorbellField in layout.ts), shared by every ring that actor consumes.
 *
 * Roles: any number of producers call ring() after a publish into one of the owner's rings that
 * found the ring drained (SpscRing.publish() returns true; if the consumer still had unread records
 * it re-reads the ring before concluding it is empty, so a ring would be wasted). Only
 * the owning actor calls seen() / changedSince() / sleep() / sleepAsync(). seen() is a snapshot: a ring may land
 * right after it returns, which is why callers take it BEFORE draining their rings and then sleep
 * on that value (a ring that lands during the drain makes sleep() return at once).
 *
 * The main thread must never call sleep(): Atomics.wait would freeze its event loop (worker
 * 'message'/'exit' events, timers). It calls sleepAsync() (Atomics.waitAsync, same SLEEPING
 * protocol), so a message to it wakes it at once instead of at its next poll.
 *
 * Cost model (reference/node-stack.md): notify costs the producer ~15 µs when someone is asleep and
 * is wasted work otherwise, so producers notify only while the owner has raised SLEEPING. The owner
 * spins ~16 µs before sleeping: long enough to catch a reply in flight, short enough not to steal a
 * core on an oversubscribed host (spinning ~160 µs measured 4-11x worse than blocking at once).
 */

import { isMainThread } from 'node:worker_threads';
import { DoorbellField } from './layout.js';

/** ~16 µs of Atomics.load polls at ~8 ns each */
export const DEFAULT_SPIN_POLLS = 2048;

export interface DoorbellOptions {
  /** polls of COUNT before sleep() goes to Atomics.wait; 0 sleeps at once */
  spinPolls?: number;
}

export class Doorbell {
  readonly i32: Int32Array;
  readonly baseWord: number;
  readonly spinPolls: number;
  private readonly countIdx: number;
  private readonly sleepingIdx: number;

  constructor(i32: Int32Array, baseWord: number, options: DoorbellOptions = {}) {
    if (!Number.isInteger(baseWord) || baseWord < 0 || baseWord + DoorbellField.WORDS > i32.length) {
      throw new RangeError(`doorbell at word ${baseWord} does not fit ${i32.length} words`);
    }
    this.i32 = i32;
    this.baseWord = baseWord;
    this.spinPolls = options.spinPolls ?? DEFAULT_SPIN_POLLS;
    this.countIdx = baseWord + DoorbellField.COUNT;
    this.sleepingIdx = baseWord + DoorbellField.SLEEPING;
  }

  /** Producer side, after publishing: bump COUNT, wake the owner only if it flagged it sleeps. */
  ring(): void {
    Atomics.add(this.i32, this.countIdx, 1);
    // Sequentially consistent: either the owner's re-check after raising SLEEPING sees our add, or
    // we see SLEEPING = 1 here and notify; Atomics.wait re-checks COUNT atomically with enqueueing.
    if (Atomics.load(this.i32, this.sleepingIdx) === 1) Atomics.notify(this.i32, this.countIdx);
  }

  /** Owner side: the current COUNT (wraps at 2^32; only compared for equality). */
  seen(): number {
    return Atomics.load(this.i32, this.countIdx);
  }

  /** Owner side: has anyone rung since `last` was seen? */
  changedSince(last: number): boolean {
    return Atomics.load(this.i32, this.countIdx) !== last;
  }

  /**
   * Owner side, for the main thread (which may not block): the same protocol as sleep(), with
   * Atomics.waitAsync. Resolves true if it was rung, false on timeout; always after at least one
   * turn of the event loop, so a doorbell that keeps ringing cannot starve the owner's other events.
   * A pending waitAsync does not keep the event loop alive: the caller holds it open.
   */
  async sleepAsync(lastSeen: number, timeoutMs: number): Promise<boolean> {
    const i32 = this.i32;
    const countIdx = this.countIdx;
    Atomics.store(i32, this.sleepingIdx, 1);
    try {
      const result = Atomics.load(i32, countIdx) !== lastSeen ? null : Atomics.waitAsync(i32, countIdx, lastSeen, timeoutMs);
      if (result?.async) await result.value;
      else await new Promise<void>((resolve) => setImmediate(resolve));
      return Atomics.load(i32, countIdx) !== lastSeen;
    } finally {
      Atomics.store(i32, this.sleepingIdx, 0);
    }
  }

  /**
   * Owner side, worker threads only: waits until COUNT differs from lastSeen or timeoutMs passes
   * (default: forever). Returns true if it was rung, false on timeout.
   */
  sleep(lastSeen: number, timeoutMs?: number): boolean {
    if (isMainThread) throw new Error('Doorbell.sleep() on the main thread: use sleepAsync()');
    const i32 = this.i32;
    const countIdx = this.countIdx;
    for (let i = 0; i < this.spinPolls; i++) {
      if (Atomics.load(i32, countIdx) !== lastSeen) return true;
    }
    Atomics.store(i32, this.sleepingIdx, 1);
    // re-check after raising the flag: a producer that rang between our last poll and the store
    // did not notify (it saw SLEEPING = 0), and waiting now would miss that ring
    if (Atomics.load(i32, countIdx) !== lastSeen) {
      Atomics.store(i32, this.sleepingIdx, 0);
      return true;
    }
    Atomics.wait(i32, countIdx, lastSeen, timeoutMs ?? Infinity);
    Atomics.store(i32, this.sleepingIdx, 0);
    return Atomics.load(i32, countIdx) !== lastSeen;
  }
}
