/**
 * The ActorPort of actors that share one thread (the in-process backend, src/machine/in-process.ts):
 * one in-memory queue per ordered pair of actors instead of a SharedArrayBuffer ring, delivered as
 * the worker transport delivers (each inbox drained in ascending sender order, each sender's
 * records in the order sent), so the same actors compute the same run. Each send rings the
 * receiver's doorbell word in the machine's shared memory (DoorbellField.COUNT), which is what the
 * CPU's run loop and the deterministic scheduler's wake-up test read.
 *
 * Nothing blocks: an actor that would sleep waiting for a message (a CPU waiting for its dispatcher
 * reply) calls the hub's `stalled` hook instead, which lets the actor it waits for act; a sleep
 * that finds nothing to do is an internal error, never a hang.
 */

import type { ActorPort } from './actor-port.js';
import type { Report } from './messages.js';
import { packReport, unpackReport } from './report-codec.js';
import { DoorbellField } from '../shm/layout.js';
import type { MachineLayout } from '../shm/layout.js';

/** One sender → receiver queue: records [kind, length, ...payload] in a growable word buffer. */
class WordQueue {
  words = new Int32Array(256);
  read = 0;
  write = 0;

  get empty(): boolean {
    return this.read === this.write;
  }

  reserve(length: number): number {
    if (this.read === this.write) this.read = this.write = 0;
    const need = this.write + 2 + length;
    if (need > this.words.length) {
      const grown = new Int32Array(Math.max(need, this.words.length * 2));
      grown.set(this.words.subarray(0, this.write));
      this.words = grown;
    }
    const at = this.write;
    this.write = need;
    return at;
  }
}

export interface MemoryHubOptions {
  /** reports for the main thread (the worker transport's msgpackr message port) */
  onReport: (from: number, report: Report) => void;
  /** trace records of CPU `cpu` (only when the run traces to the main thread) */
  onTrace?: (actor: number, time: number, event: number, a: number, b: number, c: number) => void;
}

export class MemoryHub {
  /** queues[to][from] */
  private readonly queues: WordQueue[][];
  private readonly i32: Int32Array;
  /**
   * An actor would sleep for a message: let the others act (the in-process runner sets this to
   * the coordinator's inbox poll). Returns whether anything happened.
   */
  stalled: (() => boolean) | null = null;

  private readonly layout: MachineLayout;
  private readonly options: MemoryHubOptions;
  constructor(sab: SharedArrayBuffer, layout: MachineLayout, options: MemoryHubOptions) {
    this.layout = layout;
    this.options = options;
    this.i32 = new Int32Array(sab);
    this.queues = Array.from({ length: layout.actors }, () => Array.from({ length: layout.actors }, () => new WordQueue()));
  }

  private doorbellIndex(actor: number): number {
    return this.layout.doorbell(actor) + DoorbellField.COUNT;
  }

  private push(from: number, to: number, kind: number, words: ArrayLike<number>, start: number, length: number): void {
    const queue = this.queues[to]![from]!;
    const at = queue.reserve(length);
    const buffer = queue.words;
    buffer[at] = kind;
    buffer[at + 1] = length;
    for (let i = 0; i < length; i++) buffer[at + 2 + i] = words[start + i]!;
    Atomics.add(this.i32, this.doorbellIndex(to), 1);
  }

  /** Records queued for `to` (from everyone). */
  pendingFor(to: number): boolean {
    for (const queue of this.queues[to]!) if (!queue.empty) return true;
    return false;
  }

  /** Deliver `to`'s records, senders in ascending order, each sender's in order; returns how many. */
  poll(to: number, visitor: (kind: number, i32: Int32Array, offset: number, length: number, from: number) => void): number {
    let count = 0;
    const inbox = this.queues[to]!;
    for (let from = 0; from < inbox.length; from++) {
      const queue = inbox[from]!;
      // what was queued when this sender's turn came, as a ring read sees its write index
      const end = queue.write;
      while (queue.read < end) {
        const at = queue.read;
        const kind = queue.words[at]!;
        const length = queue.words[at + 1]!;
        queue.read = at + 2 + length;
        visitor(kind, queue.words, at + 2, length, from);
        count++;
      }
    }
    return count;
  }

  /** The port of actor `self`. */
  port(self: number): ActorPort {
    const scratch = new Int32Array(7);
    let seen = Atomics.load(this.i32, this.doorbellIndex(self));
    const port: ActorPort = {
      send: (to, kind, length, w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0) => {
        scratch[0] = w0;
        scratch[1] = w1;
        scratch[2] = w2;
        scratch[3] = w3;
        scratch[4] = w4;
        scratch[5] = w5;
        scratch[6] = w6;
        this.push(self, to, kind, scratch, 0, length);
      },
      sendWords: (to, kind, words, start, length) => this.push(self, to, kind, words, start, length),
      // through the same codec as the worker transport: the main thread gets the same values
      sendReport: (_to, report) => this.options.onReport(self, unpackReport(packReport(report))),
      poll: (visitor) => {
        seen = Atomics.load(this.i32, this.doorbellIndex(self));
        return this.poll(self, visitor);
      },
      hasWork: () => this.pendingFor(self),
      doorbell: { i32: this.i32, index: this.doorbellIndex(self) },
      sleep: () => {
        if (this.pendingFor(self)) return;
        if (!this.stalled?.() && !this.pendingFor(self)) {
          throw new Error(`in-process backend: actor ${self} waits for a message that nobody is left to send`);
        }
      },
      wake: () => {},
      flush: () => {},
      drain: () => 0,
      backlogWords: () => 0,
      forEachBacklogged: () => {},
      doorbellSeen: () => seen,
    };
    const onTrace = this.options.onTrace;
    if (onTrace) port.trace = (time, event, a, b, c) => onTrace(self, time, event, a, b, c);
    return port;
  }
}
