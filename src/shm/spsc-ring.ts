/**
 * SpscRing: a single-producer single-consumer ring of variable-length Int32 records living in the
 * machine's SharedArrayBuffer (header layout: RingHeader in layout.ts).
 *
 * Roles: exactly ONE thread produces (tryWrite*, stage*, publish, freeWords) and exactly ONE thread
 * consumes (read, readInto). The main thread runs init() once, before any worker starts; each side
 * then builds ONE view with `new SpscRing(i32, baseWord)` (a view caches its own side's counter, so
 * a second producer or consumer view of the same ring would go wrong). Any thread may ask isEmpty() /
 * availableWords(): they are snapshots that may be stale the moment they return (a producer may
 * publish right after; a consumer may release right after).
 *
 * Record format: one header word `(payloadLength << 16) | kind` then payloadLength words. Kind 0 is
 * PAD: a record never wraps, so when one does not fit before the end of the data area the producer
 * fills the tail with a PAD record and starts at index 0. WRITE and READ are word counters that only
 * grow, kept in 31 bits (`& 0x7fffffff`); the data index is `counter & (capacity - 1)`, which stays
 * continuous across the 2^31 wrap because 2^31 is a multiple of the capacity.
 *
 * Memory ordering: payload words are written with plain stores, then WRITE is published with
 * Atomics.store. JS Atomics operations are sequentially consistent and the memory model orders every
 * plain access that precedes an atomic one in program order before it (the atomic store acts as a
 * release, the consumer's Atomics.load of WRITE as the matching acquire), so a consumer that sees the
 * new WRITE also sees the payload. Symmetrically the consumer releases space with Atomics.store of
 * READ only after it has finished reading the payload, so the producer cannot overwrite words still
 * being read.
 *
 * Waking the consumer is the caller's business (Doorbell), but publish() tells it when a wake-up is
 * needed at all: only when the consumer had drained the ring, see publish().
 */

import { RingHeader } from './layout.js';

/** counters live in 31 bits so they never turn negative */
const COUNTER_MASK = 0x7fffffff;
/** kind 0 marks padding at the end of the data area; never delivered */
export const PAD_KIND = 0;
/** the header keeps the payload length in 16 bits, whatever the capacity */
export const MAX_RECORD_PAYLOAD = 0xffff;
/** tryWrite() takes at most this many payload words as arguments */
export const MAX_INLINE_PAYLOAD = 7;

export type RingVisitor = (kind: number, i32: Int32Array, offset: number, length: number) => void;

export class SpscRing {
  /** words of header + data for a ring of `capacity` data words */
  static wordsFor(capacity: number): number {
    checkCapacity(capacity);
    return RingHeader.WORDS + capacity;
  }

  /** Writes the header. Main thread, once, before any producer or consumer view is used. */
  static init(i32: Int32Array, baseWord: number, capacity: number): void {
    checkCapacity(capacity);
    checkBounds(i32, baseWord, capacity);
    Atomics.store(i32, baseWord + RingHeader.WRITE, 0);
    Atomics.store(i32, baseWord + RingHeader.READ, 0);
    Atomics.store(i32, baseWord + RingHeader.CAPACITY, capacity);
    Atomics.store(i32, baseWord + RingHeader.RESERVED, 0);
  }

  readonly i32: Int32Array;
  readonly baseWord: number;
  /** data words (a power of two) */
  readonly capacity: number;
  /** largest payload a record may carry: it must fit an empty ring even after a PAD */
  readonly maxPayload: number;
  private readonly inlineMax: number;

  private readonly writeIdx: number;
  private readonly readIdx: number;
  private readonly data: number;
  private readonly mask: number;
  /** producer side: words written by stage*() but not yet published */
  private pending = 0;
  /** producer side: WRITE as we last published it (we are its only writer) */
  private writePos: number;
  /** producer side: last READ seen; stale values only under-report free space */
  private cachedRead: number;
  /** consumer side: last WRITE seen; stale values only under-report what is readable */
  private cachedWrite: number;
  /** consumer side: READ as we last released it (we are its only writer) */
  private readPos: number;
  /** consumer side: guards against a visitor re-entering read() on this view */
  private reading = false;

  constructor(i32: Int32Array, baseWord: number) {
    const capacity = Atomics.load(i32, baseWord + RingHeader.CAPACITY);
    if (capacity === 0) throw new Error(`no ring at word ${baseWord}: SpscRing.init() was not called`);
    checkCapacity(capacity);
    checkBounds(i32, baseWord, capacity);
    this.i32 = i32;
    this.baseWord = baseWord;
    this.capacity = capacity;
    this.maxPayload = Math.min(capacity / 2 - 1, MAX_RECORD_PAYLOAD);
    this.inlineMax = Math.min(MAX_INLINE_PAYLOAD, this.maxPayload);
    this.writeIdx = baseWord + RingHeader.WRITE;
    this.readIdx = baseWord + RingHeader.READ;
    this.data = baseWord + RingHeader.WORDS;
    this.mask = capacity - 1;
    this.cachedRead = this.readPos = Atomics.load(i32, this.readIdx);
    this.cachedWrite = this.writePos = Atomics.load(i32, this.writeIdx);
  }

  /** Throws RangeError for a kind or length this ring can never carry (a programming error). */
  checkRecord(kind: number, length: number): void {
    if (kind !== (kind & 0xffff) || kind === PAD_KIND) {
      throw new RangeError(`record kind ${kind} out of range 1..0xffff`);
    }
    if (length !== (length | 0) || length < 0 || length > this.maxPayload) {
      throw new RangeError(`record payload of ${length} words; this ring (capacity ${this.capacity}) takes at most ${this.maxPayload}`);
    }
  }

  // ---- producer -------------------------------------------------------------------------------

  /**
   * Writes and publishes one record of `length` (0..7) payload words given as arguments
   * (allocation-free hot path). Returns false, writing nothing, when the ring lacks room. To learn
   * whether the consumer needs a doorbell ring, use stage() + publish() instead.
   */
  tryWrite(kind: number, length: number, w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0): boolean {
    if (!this.stage(kind, length, w0, w1, w2, w3, w4, w5, w6)) return false;
    this.publish();
    return true;
  }

  /** Writes and publishes one record whose payload is words[start .. start+length). */
  tryWriteWords(kind: number, words: Int32Array, start: number, length: number): boolean {
    if (!this.stageWords(kind, words, start, length)) return false;
    this.publish();
    return true;
  }

  /** Like tryWrite() but invisible to the consumer until publish(): batches share one publish. */
  stage(kind: number, length: number, w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0): boolean {
    // one branch on the hot path; the slow path works out which rule was broken
    if (kind !== (kind & 0xffff) || kind === PAD_KIND || length >>> 0 !== length || length > this.inlineMax) {
      if (length > MAX_INLINE_PAYLOAD) {
        throw new RangeError(`tryWrite/stage carry at most ${MAX_INLINE_PAYLOAD} payload words, got ${length}; use tryWriteWords`);
      }
      this.checkRecord(kind, length);
    }
    const p = this.reserve(length);
    if (p < 0) return false;
    const i32 = this.i32;
    i32[p] = (length << 16) | kind;
    if (length > 0) i32[p + 1] = w0;
    if (length > 1) i32[p + 2] = w1;
    if (length > 2) i32[p + 3] = w2;
    if (length > 3) i32[p + 4] = w3;
    if (length > 4) i32[p + 5] = w4;
    if (length > 5) i32[p + 6] = w5;
    if (length > 6) i32[p + 7] = w6;
    return true;
  }

  /** Like tryWriteWords() but invisible to the consumer until publish(). */
  stageWords(kind: number, words: Int32Array, start: number, length: number): boolean {
    this.checkRecord(kind, length);
    if (start < 0 || start + length > words.length) {
      throw new RangeError(`payload words [${start}, ${start + length}) outside a source of ${words.length}`);
    }
    const p = this.reserve(length);
    if (p < 0) return false;
    const i32 = this.i32;
    i32[p] = (length << 16) | kind;
    if (length <= 8) {
      // short copies: a loop beats creating the subarray that set() needs
      for (let i = 0; i < length; i++) i32[p + 1 + i] = words[start + i]!;
    } else {
      i32.set(words.subarray(start, start + length), p + 1);
    }
    return true;
  }

  /**
   * Makes every staged record visible to the consumer (one release store). Returns true when the
   * consumer had released everything before this publish, so it may be idle or asleep: ring its
   * doorbell. False when it still had unread records: every consumer path re-loads WRITE after its
   * last release before it concludes the ring is empty (read(), readInto()), and that load comes
   * after our store in the sequentially consistent order, so it finds these records and a doorbell
   * ring would be wasted (an Atomics.add on a line the consumer is polling).
   */
  publish(): boolean {
    if (this.pending === 0) return false;
    const before = this.writePos;
    this.writePos = (before + this.pending) & COUNTER_MASK;
    Atomics.store(this.i32, this.writeIdx, this.writePos);
    this.pending = 0;
    // READ never passes `before`; if our cached copy already equals it the ring was empty
    if (this.cachedRead === before) return true;
    this.cachedRead = Atomics.load(this.i32, this.readIdx);
    return this.cachedRead === before;
  }

  /** Producer side: data words free for writing now (staged records count as used). */
  freeWords(): number {
    const w = (this.writePos + this.pending) & COUNTER_MASK;
    return this.capacity - ((w - Atomics.load(this.i32, this.readIdx)) & COUNTER_MASK);
  }

  /**
   * Finds room for a header + `length` words, writing a PAD over the tail first if the record would
   * cross the end. Returns the absolute word index for the header, or -1 when full.
   */
  private reserve(length: number): number {
    const need = length + 1;
    const w = (this.writePos + this.pending) & COUNTER_MASK;
    const at = w & this.mask;
    const tail = this.capacity - at;
    const total = need <= tail ? need : need + tail;
    if (this.capacity - ((w - this.cachedRead) & COUNTER_MASK) < total) {
      this.cachedRead = Atomics.load(this.i32, this.readIdx);
      if (this.capacity - ((w - this.cachedRead) & COUNTER_MASK) < total) return -1;
    }
    this.pending += total;
    if (need <= tail) return this.data + at;
    this.i32[this.data + at] = ((tail - 1) << 16) | PAD_KIND;
    return this.data;
  }

  // ---- consumer -------------------------------------------------------------------------------

  /**
   * Delivers up to maxRecords records in order, zero-copy: the visitor reads the payload at
   * i32[offset .. offset+length) and must not keep the view or re-enter read() on this ring (the
   * words are handed back to the producer once it returns). Space is released at least once per
   * snapshot of WRITE. A record whose visitor throws counts as consumed. Returns records delivered.
   */
  read(visitor: RingVisitor, maxRecords = Infinity): number {
    if (this.reading) throw new Error('SpscRing.read() re-entered from its own visitor');
    this.reading = true;
    const i32 = this.i32;
    const data = this.data;
    const mask = this.mask;
    let r = this.readPos;
    let released = r;
    let w = this.cachedWrite;
    let n = 0;
    try {
      while (n < maxRecords) {
        const avail = (w - r) & COUNTER_MASK;
        if (avail === 0 || avail > this.capacity) {
          // out of known records: hand back what we read, then look for more
          if (r !== released) Atomics.store(i32, this.readIdx, (this.readPos = released = r));
          w = this.cachedWrite = Atomics.load(i32, this.writeIdx);
          if (w === r) break;
        }
        const p = data + (r & mask);
        const h = i32[p]!;
        const length = h >>> 16;
        r = (r + 1 + length) & COUNTER_MASK;
        const kind = h & 0xffff;
        if (kind !== PAD_KIND) {
          n++;
          visitor(kind, i32, p + 1, length);
        }
      }
    } finally {
      if (r !== released) Atomics.store(i32, this.readIdx, (this.readPos = r));
      this.reading = false;
    }
    return n;
  }

  /**
   * Copies the next record's payload to dst[dstStart..] and releases its space at once. Returns the
   * record's header word (kind = h & 0xffff, length = h >>> 16), or 0 when the ring is empty.
   * dst must have room for maxPayload words. Safe to call from inside a read() visitor of ANOTHER
   * ring, and the basis of Inbox, whose visitors may block and spill.
   */
  readInto(dst: Int32Array, dstStart: number): number {
    if (this.reading) throw new Error('SpscRing.readInto() called from a read() visitor of the same ring');
    const i32 = this.i32;
    let r = this.readPos;
    for (;;) {
      const avail = (this.cachedWrite - r) & COUNTER_MASK;
      if (avail === 0 || avail > this.capacity) {
        this.cachedWrite = Atomics.load(i32, this.writeIdx);
        if (this.cachedWrite === r) return 0;
      }
      const p = this.data + (r & this.mask);
      const h = i32[p]!;
      const length = h >>> 16;
      r = (r + 1 + length) & COUNTER_MASK;
      if ((h & 0xffff) === PAD_KIND) {
        Atomics.store(i32, this.readIdx, (this.readPos = r));
        continue;
      }
      if (length <= 8) {
        for (let i = 0; i < length; i++) dst[dstStart + i] = i32[p + 1 + i]!;
      } else {
        dst.set(i32.subarray(p + 1, p + 1 + length), dstStart);
      }
      Atomics.store(i32, this.readIdx, (this.readPos = r));
      return h;
    }
  }

  /** True when nothing is published and unread. Stale by the time it returns, on either side. */
  isEmpty(): boolean {
    return Atomics.load(this.i32, this.writeIdx) === Atomics.load(this.i32, this.readIdx);
  }

  /** Published words not yet released by the consumer (headers and PAD included). A snapshot. */
  availableWords(): number {
    return (Atomics.load(this.i32, this.writeIdx) - Atomics.load(this.i32, this.readIdx)) & COUNTER_MASK;
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 4 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity ${capacity} must be a power of two in 4..2^30`);
  }
}

function checkBounds(i32: Int32Array, baseWord: number, capacity: number): void {
  if (!Number.isInteger(baseWord) || baseWord < 0 || baseWord + RingHeader.WORDS + capacity > i32.length) {
    throw new RangeError(`ring at word ${baseWord} with capacity ${capacity} does not fit ${i32.length} words`);
  }
}
