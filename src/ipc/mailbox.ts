/**
 * Mailbox: an actor's transport endpoint over SpscRings and Doorbells. Actors are plain numbers
 * here (the machine numbers them 0 = main thread, 1 = coordinator, 2+i = CPU i).
 *
 * Roles: an actor owns one Inbox (it is the sole consumer of every ring in it and the owner of its
 * doorbell) and one Outbox (it is the sole producer of every ring in it). Neither class is
 * thread-safe; each lives on its actor's thread. Inbox.hasWork() is a snapshot that may be late by
 * whatever lands after it returns; Outbox counters are exact for this actor.
 *
 * Delivery guarantees: nothing is dropped or overwritten; records from one source arrive in the
 * order that source sent them. Records from different sources are interleaved in a fixed order
 * (spill queue, then rings by ascending source), so a deterministic schedule replays exactly.
 *
 * Doorbells: a sender rings the destination's doorbell only when its publish found that ring fully
 * drained (SpscRing.publish() returns true). Otherwise the consumer has not finished that ring yet
 * and re-reads WRITE before concluding it is empty, so it finds the new records without a ring.
 * Hence "doorbell moved since the last poll" (hasWork) misses nothing as long as every poll drains
 * every ring to empty; a poll cut short (maxRecords, a throwing visitor) keeps hasWork() true.
 */

import { isMainThread } from 'node:worker_threads';
import type { Doorbell } from '../shm/doorbell.js';
import { MAX_INLINE_PAYLOAD } from '../shm/spsc-ring.js';
import type { SpscRing } from '../shm/spsc-ring.js';

/** Like RingVisitor plus the sending actor. The payload view is valid only during the call. */
export type InboxVisitor = (kind: number, i32: Int32Array, offset: number, length: number, from: number) => void;

export interface InboundRing {
  from: number;
  ring: SpscRing;
}

export interface OutboundRoute {
  to: number;
  ring: SpscRing;
  /** the destination actor's doorbell */
  doorbell: Doorbell;
}

/**
 * A growable FIFO of Int32 words (head/tail over one array). Records are stored inline, so queuing
 * a record allocates nothing unless the array must grow.
 */
class WordQueue {
  buf: Int32Array;
  head = 0;
  tail = 0;

  constructor(initialWords: number) {
    this.buf = new Int32Array(Math.max(16, initialWords));
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Makes room for n more words at tail (may move or replace buf). */
  reserve(n: number): void {
    if (this.tail + n <= this.buf.length) return;
    const used = this.tail - this.head;
    if (used + n <= this.buf.length >>> 1) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      let len = this.buf.length * 2;
      while (len < (used + n) * 2) len *= 2;
      const next = new Int32Array(len);
      next.set(this.buf.subarray(this.head, this.tail));
      this.buf = next;
    }
    this.head = 0;
    this.tail = used;
  }

  /** Drops consumed words; resets to the start when empty so the array stays small. */
  advance(n: number): void {
    this.head += n;
    if (this.head === this.tail) this.head = this.tail = 0;
  }
}

/**
 * Inbox: the receiving side of one actor. Drains its inbound rings in a fixed order (ascending
 * source) and keeps a spill queue for records drained while its actor was blocked in a send.
 */
export class Inbox {
  readonly doorbell: Doorbell;
  private readonly rings: SpscRing[];
  private readonly froms: number[];
  /** spilled records: [from, header, payload...]; delivered before the rings */
  private readonly spillQ: WordQueue;
  /** every delivered record is copied here first, so the visitor may block (and spill) freely */
  private readonly scratch: Int32Array;
  private readonly maxPayload: number;
  private lastSeen: number;
  /** poll() stopped at maxRecords with records possibly left */
  private leftover = false;
  private polling = false;
  /** records that went through the spill queue */
  recordsSpilled = 0;

  /** `inbound` must be in ascending `from` order: that order is the drain order. */
  constructor(doorbell: Doorbell, inbound: readonly InboundRing[]) {
    for (let i = 1; i < inbound.length; i++) {
      if (!(inbound[i]!.from > inbound[i - 1]!.from)) {
        throw new Error(`Inbox rings must be in strictly ascending 'from' order; got ${inbound.map((r) => r.from).join(', ')}`);
      }
    }
    this.doorbell = doorbell;
    this.rings = inbound.map((r) => r.ring);
    this.froms = inbound.map((r) => r.from);
    this.maxPayload = Math.max(0, ...this.rings.map((r) => r.maxPayload));
    this.scratch = new Int32Array(Math.max(8, this.maxPayload));
    this.spillQ = new WordQueue(64);
    this.lastSeen = doorbell.seen();
  }

  /** Cheap: someone rang since the last poll, or records wait in the spill queue. */
  hasWork(): boolean {
    return this.leftover || this.spillQ.size > 0 || this.doorbell.changedSince(this.lastSeen);
  }

  /** Words waiting in the spill queue (headers and source words included). */
  spilledWords(): number {
    return this.spillQ.size;
  }

  /**
   * Delivers spilled records first, then drains each ring in the fixed order (records a visitor
   * spills mid-poll are delivered before the next ring read). The visitor gets a
   * private copy of the payload, valid until it returns; it may send (even through a blocking
   * Outbox, which spills this inbox) but must not call poll() itself. Returns records delivered.
   */
  poll(visitor: InboxVisitor, maxRecords = Infinity): number {
    if (this.polling) throw new Error('Inbox.poll() re-entered from its own visitor');
    this.polling = true;
    // snapshot before draining: a ring that lands during the drain keeps hasWork() true
    this.lastSeen = this.doorbell.seen();
    const scratch = this.scratch;
    let n = 0;
    let finished = false;
    try {
      const q = this.spillQ;
      // A visitor that blocks in a send spills the rings mid-poll; those spilled records are older
      // than whatever is still in the rings, so the spill queue is checked again before every ring
      // read, not just once at the start (per-source FIFO).
      let i = 0;
      while (n < maxRecords) {
        if (q.size > 0) {
          const src = q.buf;
          const from = src[q.head]!;
          const h = src[q.head + 1]!;
          const length = h >>> 16;
          const at = q.head + 2;
          for (let k = 0; k < length; k++) scratch[k] = src[at + k]!;
          q.advance(2 + length);
          n++;
          visitor(h & 0xffff, scratch, 0, length, from);
          continue;
        }
        if (i === this.rings.length) break;
        const h = this.rings[i]!.readInto(scratch, 0);
        if (h === 0) {
          i++;
          continue;
        }
        n++;
        visitor(h & 0xffff, scratch, 0, h >>> 16, this.froms[i]!);
      }
      finished = n < maxRecords;
    } finally {
      this.leftover = !finished;
      this.polling = false;
    }
    return n;
  }

  /**
   * Drains every inbound ring into the local spill queue (copying), without delivering. A blocked
   * Outbox calls this so that peers blocked on our rings make progress. Returns records spilled.
   */
  spill(): number {
    const q = this.spillQ;
    let n = 0;
    for (let i = 0; i < this.rings.length; i++) {
      const ring = this.rings[i]!;
      const from = this.froms[i]!;
      for (;;) {
        q.reserve(2 + this.maxPayload);
        const h = ring.readInto(q.buf, q.tail + 2);
        if (h === 0) break;
        q.buf[q.tail] = from;
        q.buf[q.tail + 1] = h;
        q.tail += 2 + (h >>> 16);
        n++;
      }
    }
    this.recordsSpilled += n;
    return n;
  }

  /**
   * Worker threads only: returns at once if hasWork(), else sleeps on the doorbell until rung or
   * timeoutMs passes. Returns hasWork() afterwards.
   */
  waitForWork(timeoutMs?: number): boolean {
    if (this.hasWork()) return true;
    this.doorbell.sleep(this.lastSeen, timeoutMs);
    return this.hasWork();
  }
}

export interface OutboxOptions {
  /**
   * true (parallel mode): a send that finds a destination's backlog over the limit waits, draining
   * its own inbox meanwhile. false (deterministic mode: one actor runs at a time, so waiting would
   * deadlock): the backlog grows and flush() moves it later. Default false.
   */
  blocking?: boolean;
  /** per-destination backlog that makes a blocking send wait; default 4 x that ring's capacity */
  backlogLimitWords?: number;
  /** this actor's own inbox, spilled while blocked; required when blocking */
  inbox?: Inbox;
  /**
   * checked while a blocking send waits: true ends the wait and leaves the record backlogged (the
   * machine bugchecked: a frozen consumer will never make room, and the sender must get back to
   * its own inbox to freeze or to finish)
   */
  stopWaiting?: () => boolean;
}

export interface OutboxStats {
  recordsSent: number;
  /** records that could not go straight into the ring and were queued in a backlog */
  recordsBacklogged: number;
  /** largest backlog of any one destination, in words (headers included) */
  maxBacklogWords: number;
  timesBlocked: number;
  /** words in all backlogs right now */
  backlogWords: number;
}

interface Route {
  to: number;
  ring: SpscRing;
  doorbell: Doorbell;
  limit: number;
  /** records that did not fit: [header, payload...] */
  backlog: WordQueue;
}

/** first nap of a blocked send, doubled up to MAX_NAP_MS; the peer frees space without ringing us */
const FIRST_NAP_MS = 0.02;
const MAX_NAP_MS = 1;
/** flush/spill rounds before a blocked send starts to nap */
const BLOCKED_SPIN_ROUNDS = 64;

/**
 * Outbox: sends records to other actors' rings, queuing in a per-destination backlog when a ring is
 * full (a destination with a backlog takes every later record through it, keeping FIFO order).
 *
 * Why blocking mode cannot deadlock: an actor blocked on a full destination keeps flushing AND keeps
 * emptying all of its own inbound rings into its spill queue. Take two actors filling each other's
 * rings: each, while it waits, drains the ring the other is waiting on, so the other's flush
 * succeeds and it leaves its wait; more generally, any cycle of blocked actors has every ring in
 * the cycle being drained by its (blocked) consumer, so every wait ends. The cost is memory: the
 * spill queue grows while an actor is blocked; nothing is ever dropped.
 */
export class Outbox {
  readonly blocking: boolean;
  private readonly routes: (Route | undefined)[] = [];
  /** destinations in ascending order: flush order is fixed for deterministic replay */
  private readonly order: Route[];
  private readonly inbox: Inbox | undefined;
  private readonly stopWaiting: (() => boolean) | undefined;
  private recordsSent = 0;
  private recordsBacklogged = 0;
  private maxBacklogWords = 0;
  private timesBlocked = 0;
  private backlogTotal = 0;

  constructor(routes: readonly OutboundRoute[], options: OutboxOptions = {}) {
    this.blocking = options.blocking ?? false;
    this.inbox = options.inbox;
    this.stopWaiting = options.stopWaiting;
    if (this.blocking && !this.inbox) throw new Error("a blocking Outbox needs its actor's inbox to spill while it waits");
    for (const r of routes) {
      if (!Number.isInteger(r.to) || r.to < 0) throw new RangeError(`bad destination actor ${r.to}`);
      if (this.routes[r.to]) throw new Error(`two routes to actor ${r.to}`);
      this.routes[r.to] = {
        to: r.to,
        ring: r.ring,
        doorbell: r.doorbell,
        limit: options.backlogLimitWords ?? 4 * r.ring.capacity,
        backlog: new WordQueue(r.ring.capacity),
      };
    }
    this.order = this.routes.filter((r): r is Route => r !== undefined);
  }

  /** Sends one record with `length` (0..7) payload words given as arguments. */
  send(to: number, kind: number, length: number, w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0): void {
    const route = this.route(to);
    if (route.backlog.size > 0) this.flushRoute(route);
    if (route.backlog.size === 0 && route.ring.stage(kind, length, w0, w1, w2, w3, w4, w5, w6)) {
      if (route.ring.publish()) route.doorbell.ring();
      this.recordsSent++;
      return;
    }
    if (length > MAX_INLINE_PAYLOAD) throw new RangeError(`send() carries at most ${MAX_INLINE_PAYLOAD} payload words, got ${length}; use sendWords`);
    route.ring.checkRecord(kind, length);
    const q = route.backlog;
    q.reserve(1 + length);
    const b = q.buf;
    const t = q.tail;
    b[t] = (length << 16) | kind;
    if (length > 0) b[t + 1] = w0;
    if (length > 1) b[t + 2] = w1;
    if (length > 2) b[t + 3] = w2;
    if (length > 3) b[t + 4] = w3;
    if (length > 4) b[t + 5] = w4;
    if (length > 5) b[t + 6] = w5;
    if (length > 6) b[t + 7] = w6;
    q.tail = t + 1 + length;
    this.queued(route, 1 + length);
  }

  /** Sends one record whose payload is words[start .. start+length) (copied). */
  sendWords(to: number, kind: number, words: Int32Array, start: number, length: number): void {
    const route = this.route(to);
    if (route.backlog.size > 0) this.flushRoute(route);
    if (route.backlog.size === 0 && route.ring.stageWords(kind, words, start, length)) {
      if (route.ring.publish()) route.doorbell.ring();
      this.recordsSent++;
      return;
    }
    route.ring.checkRecord(kind, length);
    if (start < 0 || start + length > words.length) {
      throw new RangeError(`payload words [${start}, ${start + length}) outside a source of ${words.length}`);
    }
    const q = route.backlog;
    q.reserve(1 + length);
    q.buf[q.tail] = (length << 16) | kind;
    q.buf.set(words.subarray(start, start + length), q.tail + 1);
    q.tail += 1 + length;
    this.queued(route, 1 + length);
  }

  /**
   * Moves backlogged records into their rings as far as space allows: one publish per destination,
   * and a doorbell ring if that publish found the ring drained. Returns the words still backlogged.
   */
  flush(): number {
    if (this.backlogTotal === 0) return 0;
    for (let i = 0; i < this.order.length; i++) {
      const route = this.order[i]!;
      if (route.backlog.size > 0) this.flushRoute(route);
    }
    return this.backlogTotal;
  }

  /** Visits every record still backlogged (not yet in its ring), destination by destination, oldest first. */
  forEachBacklogged(visitor: (to: number, kind: number, words: Int32Array, offset: number, length: number) => void): void {
    for (const route of this.order) {
      const q = route.backlog;
      for (let at = q.head; at < q.tail; ) {
        const h = q.buf[at]!;
        const length = h >>> 16;
        visitor(route.to, h & 0xffff, q.buf, at + 1, length);
        at += 1 + length;
      }
    }
  }

  /** Words backlogged for one destination, or for all when `to` is omitted. */
  backlogWords(to?: number): number {
    return to === undefined ? this.backlogTotal : this.route(to).backlog.size;
  }

  stats(): OutboxStats {
    return {
      recordsSent: this.recordsSent,
      recordsBacklogged: this.recordsBacklogged,
      maxBacklogWords: this.maxBacklogWords,
      timesBlocked: this.timesBlocked,
      backlogWords: this.backlogTotal,
    };
  }

  private route(to: number): Route {
    const route = this.routes[to];
    if (!route) throw new RangeError(`no route to actor ${to}`);
    return route;
  }

  private queued(route: Route, words: number): void {
    this.recordsSent++;
    this.recordsBacklogged++;
    this.backlogTotal += words;
    if (route.backlog.size > this.maxBacklogWords) this.maxBacklogWords = route.backlog.size;
    if (this.blocking && route.backlog.size > route.limit) this.waitForRoom(route);
  }

  private flushRoute(route: Route): void {
    const q = route.backlog;
    const ring = route.ring;
    const before = q.size;
    while (q.size > 0) {
      const h = q.buf[q.head]!;
      const length = h >>> 16;
      if (!ring.stageWords(h & 0xffff, q.buf, q.head + 1, length)) break;
      q.advance(1 + length);
    }
    const moved = before - q.size;
    if (moved > 0) {
      if (ring.publish()) route.doorbell.ring();
      this.backlogTotal -= moved;
    }
  }

  /** Parallel mode: wait until `route`'s backlog is back under its limit, spilling our inbox. */
  private waitForRoom(route: Route): void {
    this.timesBlocked++;
    const inbox = this.inbox!;
    let rounds = 0;
    let napMs = FIRST_NAP_MS;
    for (;;) {
      const seen = inbox.doorbell.seen();
      this.flush();
      if (route.backlog.size <= route.limit) return;
      if (this.stopWaiting?.()) return;
      inbox.spill();
      if (++rounds < BLOCKED_SPIN_ROUNDS || isMainThread) continue;
      // The peer frees ring space without ringing us, hence a timeout; a peer that sends to us
      // (and may itself be blocked on us) does ring, and we go back to spilling at once.
      inbox.doorbell.sleep(seen, napMs);
      napMs = Math.min(napMs * 2, MAX_NAP_MS);
    }
  }
}
